// wisp::save / wisp::load: PyTorch state_dict names, round trips that change a SparseLinear's
// connections, byte-identical re-saves, and loads that fail without changing the model.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "files.h"
#include "test_helpers.h"
#include "wisp/serialization/safetensors.h"

using namespace wisp;
using wisp::testing::file_bytes;
using wisp::testing::printed;
using wisp::testing::ScratchFolder;
using wisp::testing::values;

namespace {

// Flatten, SparseLinear, LayerNorm, ReLU, ActivationSparsity, Linear: the seed notebook's sparse
// model, small. Connections and values come from `seed`.
nn::Sequential make_model(uint64_t seed, double sparsity = 0.7, bool duty_cycle_at_construction = true) {
  manual_seed(seed);
  nn::ActivationSparsityOptions k_winners;
  if (duty_cycle_at_construction) k_winners.units(30);
  return nn::Sequential(nn::Flatten(), nn::SparseLinear(20, 30, nn::SparseLinearOptions().sparsity(sparsity)),
                        nn::LayerNorm(30), nn::ReLU(), nn::ActivationSparsity(k_winners), nn::Linear(30, 10));
}

Tensor inputs() {
  manual_seed(99);
  return randn({8, 1, 4, 5});
}

// Trains nothing, but runs forwards in training mode so that the duty cycles move off their start.
void run_forwards(nn::Sequential& model) {
  NoGradGuard no_grad;
  model.train();
  for (int i = 0; i < 3; ++i) model(randn({16, 1, 4, 5}));
  model.eval();
}

// Every tensor of the model (parameters, buffers including the CSR structure, state_dict entries) as
// one byte string: equal strings mean equal state.
std::string state_bytes(const nn::Module& model) {
  serialization::SafetensorsWriter writer;
  for (const auto& [name, tensor] : model.named_parameters()) writer.add("parameter." + name, tensor.detach());
  for (const auto& [name, tensor] : model.named_buffers()) writer.add("buffer." + name, tensor);
  for (const auto& [name, tensor] : model.state_dict()) writer.add("state." + name, tensor.detach());
  return writer.to_bytes();
}

// Writes `tensors` as a model file with the given metadata.
void write_file(const std::string& path, const std::map<std::string, Tensor>& tensors,
                const std::string& version = kModelFormatVersion) {
  serialization::SafetensorsWriter writer;
  writer.add_metadata("format", "pt");
  writer.add_metadata("wisp.format_version", version);
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor.detach());
  writer.write(path);
}

std::map<std::string, Tensor> state_map(const nn::Module& model) {
  std::map<std::string, Tensor> result;
  for (const auto& [name, tensor] : model.state_dict()) result.emplace(name, tensor.detach().clone());
  return result;
}

}  // namespace

TEST_CASE("model files: PyTorch state_dict names and metadata") {
  ScratchFolder folder("model");
  nn::Sequential model = make_model(1);
  save(model, folder.file("model.safetensors"));
  const serialization::SafetensorsReader reader(folder.file("model.safetensors"));
  std::vector<std::string> names;
  for (const auto& entry : reader.header().entries) names.push_back(entry.name);
  std::sort(names.begin(), names.end());
  REQUIRE(names == std::vector<std::string>{"1.bias", "1.indices", "1.weights", "2.bias", "2.weight", "4.duty_cycle",
                                            "5.bias", "5.weight"});
  REQUIRE(reader.header().metadata ==
          std::map<std::string, std::string>{{"format", "pt"}, {"wisp.format_version", "1"}});
  const auto& sparse = model.at<nn::SparseLinear>(1);
  const Tensor indices = reader.read("1.indices");
  REQUIRE(indices.dtype() == DType::Int64);
  REQUIRE(indices.shape() == Shape{2, sparse.nnz()});
  REQUIRE(indices.to_vector<int64_t>() == sparse.indices().to_vector<int64_t>());
  REQUIRE(values(reader.read("1.weights")) == values(sparse.weights()));
}

TEST_CASE("model files: a load replaces connections, values and duty cycles") {
  ScratchFolder folder("model");
  nn::Sequential model = make_model(1, 0.7);
  run_forwards(model);
  save(model, folder.file("model.safetensors"));

  // Another seed (other connections), another sparsity (another nnz), duty cycles not created yet.
  nn::Sequential copy = make_model(2, 0.5, false);
  const auto& sparse = copy.at<nn::SparseLinear>(1);
  const int64_t saved_nnz = model.at<nn::SparseLinear>(1).nnz();
  REQUIRE(sparse.nnz() != saved_nnz);
  const Tensor weights_handle = sparse.weights();
  copy.eval();
  load(copy, folder.file("model.safetensors"));

  REQUIRE(sparse.nnz() == saved_nnz);
  REQUIRE(weights_handle.numel() == saved_nnz);  // the handle sees the loaded values
  REQUIRE(sparse.indices().to_vector<int64_t>() == model.at<nn::SparseLinear>(1).indices().to_vector<int64_t>());
  REQUIRE(copy.at<nn::ActivationSparsity>(4).duty_cycle().defined());
  REQUIRE(values(copy.at<nn::ActivationSparsity>(4).duty_cycle()) ==
          values(model.at<nn::ActivationSparsity>(4).duty_cycle()));
  REQUIRE(printed(sparse).find("connectivity=loaded") != std::string::npos);

  NoGradGuard no_grad;
  const Tensor x = inputs();
  REQUIRE(values(copy(x)) == values(model(x)));

  // The same state gives the same bytes.
  save(copy, folder.file("again.safetensors"));
  REQUIRE(file_bytes(folder.file("again.safetensors")) == file_bytes(folder.file("model.safetensors")));
}

TEST_CASE("model files: a loaded SparseLinear trains (gradients and optimizer on the new structure)") {
  ScratchFolder folder("model");
  nn::Sequential model = make_model(3, 0.7);
  save(model, folder.file("model.safetensors"));
  nn::Sequential copy = make_model(4, 0.4);
  load(copy, folder.file("model.safetensors"));
  optim::SGD optimizer(copy.parameters(), optim::SGDOptions(0.1));
  for (nn::Sequential* net : {&model, &copy}) {
    net->train();
    const Tensor output = (*net)(inputs());
    const Tensor loss = (output * output).mean();
    loss.backward();
  }
  optimizer.step();
  optim::SGD reference(model.parameters(), optim::SGDOptions(0.1));
  reference.step();
  REQUIRE(values(copy.at<nn::SparseLinear>(1).weights()) == values(model.at<nn::SparseLinear>(1).weights()));
}

TEST_CASE("model files: a failed load names the file and changes nothing") {
  ScratchFolder folder("model");
  nn::Sequential source = make_model(5);
  run_forwards(source);
  const std::map<std::string, Tensor> good = state_map(source);
  nn::Sequential model = make_model(6, 0.5);
  const std::string before = state_bytes(model);
  const int64_t nnz_before = model.at<nn::SparseLinear>(1).nnz();

  const auto expect_refused = [&](const std::map<std::string, Tensor>& tensors, const std::string& fragment,
                                  const std::string& version = kModelFormatVersion) {
    const std::string path = folder.file("bad.safetensors");
    write_file(path, tensors, version);
    WISP_REQUIRE_ERROR(load(model, path), path, fragment);
    REQUIRE(state_bytes(model) == before);
    REQUIRE(model.at<nn::SparseLinear>(1).nnz() == nnz_before);
  };
  const Tensor good_indices = good.at("1.indices");
  const int64_t nnz = good_indices.size(1);
  std::vector<int64_t> index = good_indices.to_vector<int64_t>();
  const auto with = [&](const std::string& name, const Tensor& tensor) {
    std::map<std::string, Tensor> changed = good;
    changed[name] = tensor;
    return changed;
  };

  SECTION("missing and unexpected tensors are listed") {
    std::map<std::string, Tensor> changed = good;
    changed.erase("2.weight");
    changed.erase("5.bias");
    changed["6.weight"] = zeros({3});
    expect_refused(changed, "Missing key(s) in state_dict: \"2.weight\", \"5.bias\".");
    expect_refused(changed, "Unexpected key(s) in state_dict: \"6.weight\".");
  }
  SECTION("a shape mismatch uses PyTorch's wording") {
    expect_refused(with("5.weight", zeros({10, 20})),
                   "size mismatch for 5.weight: copying a param with shape [10, 20] from checkpoint, the shape in "
                   "current model is [10, 30]");
  }
  SECTION("a dtype mismatch") {
    expect_refused(with("2.weight", zeros({30}, DType::Int32)), "dtype mismatch for 2.weight");
  }
  SECTION("SparseLinear indices out of range") {
    index[0] = 30;  // row 30 of a 30-row layer
    expect_refused(with("1.indices", from_vector(index, {2, nnz})), "1.indices");
  }
  SECTION("SparseLinear indices unsorted") {
    std::swap(index[nnz], index[nnz + 1]);  // the first row's first two columns
    REQUIRE(index[0] == index[1]);
    expect_refused(with("1.indices", from_vector(index, {2, nnz})), "1.indices");
  }
  SECTION("SparseLinear indices duplicated") {
    index[nnz + 1] = index[nnz];
    REQUIRE(index[0] == index[1]);
    expect_refused(with("1.indices", from_vector(index, {2, nnz})), "1.indices");
  }
  SECTION("SparseLinear weights and indices of different nnz") {
    expect_refused(with("1.weights", zeros({nnz - 1})), "nnz mismatch");
  }
  SECTION("SparseLinear indices of the wrong dtype") {
    expect_refused(with("1.indices", good_indices.to(DType::Int32)), "expected int64 [2, nnz]");
  }
  SECTION("an unknown major format version") { expect_refused(good, "wisp.format_version", "2"); }
  SECTION("a file that does not exist") {
    WISP_REQUIRE_ERROR(load(model, folder.file("absent.safetensors")), folder.file("absent.safetensors"));
    REQUIRE(state_bytes(model) == before);
  }
  // Every case above left the model able to load the good file.
  write_file(folder.file("good.safetensors"), good);
  load(model, folder.file("good.safetensors"));
  REQUIRE(state_bytes(model) != before);
}
