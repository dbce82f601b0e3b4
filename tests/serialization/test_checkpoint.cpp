// wisp::save_checkpoint / wisp::load_checkpoint: round trips of SGD, Adam and AdamW state (created or
// not yet), RigL counters and the generator; continuing after a load equals continuing without one;
// refusals that change nothing; loads that replace rather than merge. The two-process resume test is
// resume_program.cpp (tests/CMakeLists.txt).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>

#include "files.h"
#include "test_helpers.h"
#include "wisp/serialization/safetensors.h"

using namespace wisp;
using wisp::testing::file_bytes;
using wisp::testing::ScratchFolder;
using wisp::testing::values;

namespace {

// SparseLinear (RigL every 2 steps), LayerNorm, ReLU, ActivationSparsity (duty cycles created by
// the first forward), Linear; connections and values from `seed`.
nn::Sequential make_model(uint64_t seed, int64_t outputs = 10) {
  manual_seed(seed);
  return nn::Sequential(
      nn::SparseLinear(20, 30, nn::SparseLinearOptions().sparsity(0.7).dynamic(true).delta_t(2).t_end(1000)),
      nn::LayerNorm(30), nn::ReLU(), nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.5)),
      nn::Linear(30, outputs));
}

// `steps` training steps on batches drawn from the default generator. The bias of the last layer
// gets no gradient (it is cleared before each step), so its optimizer state is never created.
// Returns the losses.
std::vector<float> train(nn::Sequential& model, optim::Optimizer& optimizer, int steps) {
  std::vector<float> losses;
  model.train();
  for (int i = 0; i < steps; ++i) {
    const Tensor input = randn({8, 20});
    const Tensor target = randint(0, 10, {8});
    Tensor loss = cross_entropy(model(input), target);
    loss.backward();
    model.at<nn::Linear>(4).bias().set_grad(Tensor());
    optimizer.step();
    optimizer.zero_grad();
    losses.push_back(loss.item<float>());
  }
  return losses;
}

// Every tensor and counter of the model, the optimizer and the generator as one byte string: equal
// strings mean equal state.
std::string state_bytes(const nn::Module& model, const optim::Optimizer& optimizer) {
  serialization::SafetensorsWriter writer;
  for (const auto& [name, tensor] : model.named_parameters()) writer.add("parameter." + name, tensor.detach());
  for (const auto& [name, tensor] : model.named_buffers()) writer.add("buffer." + name, tensor);
  for (const auto& [name, value] : model.counter_dict()) writer.add_metadata("counter." + name, std::to_string(value));
  const optim::OptimizerState state = optimizer.state();
  writer.add_metadata("kind", state.kind);
  writer.add_metadata("steps", std::to_string(state.steps));
  for (size_t i = 0; i < state.parameters.size(); ++i) {
    for (const auto& [name, tensor] : state.parameters[i].tensors)
      writer.add("optimizer." + std::to_string(i) + "." + name, tensor);
    for (const auto& [name, count] : state.parameters[i].counters)
      writer.add_metadata("optimizer." + std::to_string(i) + "." + name, std::to_string(count));
  }
  writer.add_metadata("generator",
                      std::to_string(default_generator().seed()) + "/" + std::to_string(default_generator().offset()));
  return writer.to_bytes();
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(nn::Sequential&)>;

// Trains 5 steps, saves, trains 5 more; a fresh model and optimizer (other connections and values)
// load the checkpoint and train the same 5 steps: losses, weights, connections and state must be
// equal bit for bit.
void require_exact_resume(const MakeOptimizer& make_optimizer) {
  ScratchFolder folder("checkpoint");
  const std::string path = folder.file("checkpoint.safetensors");
  nn::Sequential model = make_model(1);
  std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(model);
  train(model, *optimizer, 5);
  TrainingState state;
  state.epoch = 3;
  state.step = optimizer->steps();
  save_checkpoint(path, model, *optimizer, state);
  const std::string saved = state_bytes(model, *optimizer);
  const std::vector<float> continued = train(model, *optimizer, 5);
  REQUIRE(model.at<nn::SparseLinear>(0).rigl_statistics().updates == 5);  // steps 2, 4, 6, 8, 10

  nn::Sequential resumed = make_model(2);
  std::unique_ptr<optim::Optimizer> resumed_optimizer = make_optimizer(resumed);
  manual_seed(12345);  // the checkpoint's generator replaces this
  const TrainingState restored = load_checkpoint(path, resumed, *resumed_optimizer);
  REQUIRE(restored.epoch == 3);
  REQUIRE(restored.step == 5);
  REQUIRE(state_bytes(resumed, *resumed_optimizer) == saved);
  REQUIRE(train(resumed, *resumed_optimizer, 5) == continued);
  REQUIRE(state_bytes(resumed, *resumed_optimizer) == state_bytes(model, *optimizer));
  REQUIRE(values(resumed.at<nn::SparseLinear>(0).indices().to(DType::Float32)) ==
          values(model.at<nn::SparseLinear>(0).indices().to(DType::Float32)));
}

}  // namespace

TEST_CASE("checkpoints: SGD with momentum resumes exactly, a state not created yet stays so") {
  require_exact_resume([](nn::Sequential& model) {
    return std::make_unique<optim::SGD>(model.parameters(),
                                        optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).weight_decay(1e-3));
  });
  // The never-stepped bias has no momentum buffer after a load either.
  ScratchFolder folder("checkpoint");
  nn::Sequential model = make_model(1);
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train(model, optimizer, 3);
  save_checkpoint(folder.file("c.safetensors"), model, optimizer, {});
  nn::Sequential other = make_model(3);
  optim::SGD other_optimizer(other.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train(other, other_optimizer, 1);
  other.at<nn::Linear>(4).bias().set_grad(ones({10}));  // gives the bias a momentum buffer...
  other_optimizer.step();
  other_optimizer.zero_grad();
  REQUIRE(other_optimizer.momentum_buffer(other.at<nn::Linear>(4).bias()).defined());
  load_checkpoint(folder.file("c.safetensors"), other, other_optimizer);
  REQUIRE_FALSE(other_optimizer.momentum_buffer(other.at<nn::Linear>(4).bias()).defined());  // ...which the load drops
  REQUIRE(other_optimizer.momentum_buffer(other.at<nn::Linear>(4).weight()).defined());
}

TEST_CASE("checkpoints: SGD without momentum and Nesterov SGD resume exactly") {
  require_exact_resume(
      [](nn::Sequential& model) { return std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions(0.05)); });
  require_exact_resume([](nn::Sequential& model) {
    return std::make_unique<optim::SGD>(
        model.parameters(), optim::SGDOptions(0.05).momentum(0.5).nesterov(true).schedule(optim::step_decay(3, 0.5)));
  });
}

TEST_CASE("checkpoints: Adam and AdamW resume exactly (moments, per-parameter steps, schedule)") {
  require_exact_resume([](nn::Sequential& model) {
    return std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions(1e-2).weight_decay(1e-3));
  });
  require_exact_resume([](nn::Sequential& model) {
    return std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions(1e-2).amsgrad(true));
  });
  require_exact_resume([](nn::Sequential& model) {
    return std::make_unique<optim::AdamW>(
        model.parameters(), optim::AdamWOptions(1e-2).betas(0.8, 0.99).schedule(optim::warmup_cosine(3, 20)));
  });
}

TEST_CASE("checkpoints: the file layout (names, metadata, byte-identical re-saves, the model part)") {
  ScratchFolder folder("checkpoint");
  nn::Sequential model = make_model(1);
  optim::AdamW optimizer(model.parameters(), optim::AdamWOptions(1e-3));
  train(model, optimizer, 4);
  TrainingState state;
  state.epoch = 2;
  state.step = 4;
  save_checkpoint(folder.file("a.safetensors"), model, optimizer, state);
  const serialization::SafetensorsReader reader(folder.file("a.safetensors"));
  const auto& metadata = reader.header().metadata;
  CHECK(metadata.at("format") == "pt");
  CHECK(metadata.at("wisp.checkpoint_version") == kCheckpointFormatVersion);
  CHECK(metadata.at("training.epoch") == "2");
  CHECK(metadata.at("training.step") == "4");
  CHECK(metadata.at("optimizer.kind") == "AdamW");
  CHECK(metadata.at("optimizer.steps") == "4");
  CHECK(metadata.at("optimizer.options.lr") == "0.001");
  CHECK(metadata.at("optimizer.options.weight_decay") == "0.01");
  CHECK(metadata.at("optimizer.state.0.weights.step") == "4");
  CHECK(metadata.at("optimizer.state.4.bias.step") == "0");  // never had a gradient
  CHECK(metadata.at("model.0.rigl.steps") == "4");
  CHECK(metadata.at("model.0.rigl.updates") == "2");
  CHECK(metadata.at("generator.seed") == "1");
  CHECK(reader.contains("0.weights"));
  CHECK(reader.contains("0.indices"));
  CHECK(reader.contains("3.duty_cycle"));
  CHECK(reader.contains("optimizer.state.0.weights.exp_avg"));
  CHECK(reader.contains("optimizer.state.4.weight.exp_avg_sq"));
  CHECK_FALSE(reader.contains("optimizer.state.4.bias.exp_avg"));

  // Load, save again: the same bytes.
  nn::Sequential copy = make_model(7);
  optim::AdamW copy_optimizer(copy.parameters(), optim::AdamWOptions(1e-3));
  load_checkpoint(folder.file("a.safetensors"), copy, copy_optimizer);
  save_checkpoint(folder.file("b.safetensors"), copy, copy_optimizer, state);
  REQUIRE(file_bytes(folder.file("a.safetensors")) == file_bytes(folder.file("b.safetensors")));

  // wisp::load reads the model part.
  nn::Sequential model_only = make_model(8);
  load(model_only, folder.file("a.safetensors"));
  const auto expected = model.state_dict(), loaded = model_only.state_dict();
  REQUIRE(loaded.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(expected[i].first);
    REQUIRE(loaded[i].first == expected[i].first);
    REQUIRE(loaded[i].second.to(DType::Float32).to_vector<float>() ==
            expected[i].second.to(DType::Float32).to_vector<float>());
  }
}

TEST_CASE("checkpoints: loading twice gives the same state, and a load replaces state") {
  ScratchFolder folder("checkpoint");
  const std::string path = folder.file("c.safetensors");
  nn::Sequential model = make_model(1);
  optim::Adam optimizer(model.parameters(), optim::AdamOptions(1e-2));
  {
    NoGradGuard no_grad;
    model(randn({8, 20}));  // creates the duty cycles (a checkpoint without them cannot remove them)
  }
  save_checkpoint(path, model, optimizer, {});  // before any step: no moments at all
  const std::string fresh = state_bytes(model, optimizer);

  train(model, optimizer, 3);  // moments, step counts, RigL counters and duty cycles now differ
  REQUIRE(state_bytes(model, optimizer) != fresh);
  load_checkpoint(path, model, optimizer);
  REQUIRE(state_bytes(model, optimizer) == fresh);
  REQUIRE_FALSE(optimizer.exp_avg(model.at<nn::SparseLinear>(0).weights()).defined());
  REQUIRE(optimizer.step_count(model.at<nn::SparseLinear>(0).weights()) == 0);
  load_checkpoint(path, model, optimizer);
  REQUIRE(state_bytes(model, optimizer) == fresh);
}

TEST_CASE("checkpoints: refusals name the file and the problem, and change nothing") {
  ScratchFolder folder("checkpoint");
  const std::string path = folder.file("c.safetensors");
  nn::Sequential source = make_model(1);
  optim::SGD source_optimizer(source.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train(source, source_optimizer, 3);
  save_checkpoint(path, source, source_optimizer, {});

  nn::Sequential model = make_model(2);
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train(model, optimizer, 1);
  manual_seed(77);
  const std::string before = state_bytes(model, optimizer);

  SECTION("an optimizer of another kind") {
    optim::Adam adam(model.parameters(), optim::AdamOptions(1e-2));
    WISP_REQUIRE_ERROR(load_checkpoint(path, model, adam), path,
                       "expected the state of an Adam optimizer but got the state of an SGD optimizer");
  }
  SECTION("an optimizer with other options, each named with both values") {
    optim::SGD other(model.parameters(), optim::SGDOptions(0.2).momentum(0.9).nesterov(true));
    WISP_REQUIRE_ERROR(load_checkpoint(path, model, other), path, "lr is 0.1 in the state but 0.2 in this optimizer",
                       "nesterov is false in the state but true");
  }
  SECTION("a model of other shapes") {
    nn::Sequential wider = make_model(2, 12);
    optim::SGD wider_optimizer(wider.parameters(), optim::SGDOptions(0.1).momentum(0.9));
    manual_seed(77);  // as before the other sections' loads
    const std::string wider_before = state_bytes(wider, wider_optimizer);
    WISP_REQUIRE_ERROR(load_checkpoint(path, wider, wider_optimizer), path,
                       "size mismatch for 4.weight: copying a param with shape [10, 30] from checkpoint, the shape "
                       "in current model is [12, 30]");
    REQUIRE(state_bytes(wider, wider_optimizer) == wider_before);
  }
  SECTION("a model without RigL: the counters are unexpected") {
    manual_seed(2);
    nn::Sequential static_model(nn::SparseLinear(20, 30, nn::SparseLinearOptions().sparsity(0.7)), nn::LayerNorm(30),
                                nn::ReLU(), nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.5)),
                                nn::Linear(30, 10));
    optim::SGD static_optimizer(static_model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
    manual_seed(77);
    WISP_REQUIRE_ERROR(load_checkpoint(path, static_model, static_optimizer), path,
                       "Unexpected counter(s): ", "\"0.rigl.steps\"");
  }
  SECTION("a model of other layers: named by its tensors, not by the optimizer state that follows them") {
    manual_seed(3);
    nn::Sequential dense(nn::Linear(20, 30), nn::LayerNorm(30), nn::ReLU(),
                         nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.5)), nn::Linear(30, 10));
    optim::SGD dense_optimizer(dense.parameters(), optim::SGDOptions(0.1).momentum(0.9));
    manual_seed(77);
    const std::string dense_before = state_bytes(dense, dense_optimizer);
    WISP_REQUIRE_ERROR(load_checkpoint(path, dense, dense_optimizer), path,
                       "Missing key(s) in state_dict: \"0.weight\"",
                       "Unexpected key(s) in state_dict: \"0.indices\", \"0.weights\"");
    REQUIRE(state_bytes(dense, dense_optimizer) == dense_before);
  }
  SECTION("a truncated file") {
    const std::string bytes = file_bytes(path);
    for (const size_t length : {size_t{0}, size_t{7}, bytes.size() / 2, bytes.size() - 1}) {
      const std::string truncated = folder.file("truncated.safetensors");
      std::ofstream(truncated, std::ios::binary) << bytes.substr(0, length);
      WISP_REQUIRE_ERROR(load_checkpoint(truncated, model, optimizer), truncated);
      REQUIRE(state_bytes(model, optimizer) == before);
    }
  }
  SECTION("a model file is not a checkpoint") {
    save(source, folder.file("model.safetensors"));
    WISP_REQUIRE_ERROR(load_checkpoint(folder.file("model.safetensors"), model, optimizer), "model.safetensors",
                       "expected a training checkpoint");
  }
  SECTION("a damaged counter") {
    serialization::SafetensorsReader reader(path);
    serialization::SafetensorsWriter writer;
    for (const auto& [key, value] : reader.header().metadata)
      writer.add_metadata(key, key == "optimizer.steps" ? "-3" : value);
    for (const auto& entry : reader.header().entries) writer.add(entry.name, reader.read(entry.name));
    writer.write(folder.file("damaged.safetensors"));
    WISP_REQUIRE_ERROR(load_checkpoint(folder.file("damaged.safetensors"), model, optimizer), "damaged.safetensors",
                       "metadata optimizer.steps: expected a decimal count but got \"-3\"");
  }
  SECTION("optimizer state of a parameter the optimizer does not have") {
    optim::SGD partial(std::vector<Tensor>{model.at<nn::Linear>(4).weight()}, optim::SGDOptions(0.1).momentum(0.9));
    WISP_REQUIRE_ERROR(load_checkpoint(path, model, partial), path, "unexpected optimizer or training state",
                       "optimizer.state.0.weights.momentum_buffer");
  }
  REQUIRE(state_bytes(model, optimizer) == before);
}

TEST_CASE("checkpoints: saving refuses an optimizer of other parameters and a pending RigL update") {
  ScratchFolder folder("checkpoint");
  nn::Sequential model = make_model(1);
  optim::SGD outside(std::vector<Tensor>{zeros({3}).set_requires_grad(true)}, optim::SGDOptions(0.1));
  WISP_REQUIRE_ERROR(save_checkpoint(folder.file("c.safetensors"), model, outside, {}), "c.safetensors",
                     "the optimizer's parameter 0 (shape [3]) is not a parameter of the model");

  optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.1));
  train(model, optimizer, 1);  // the next step updates the connections: its backward captures a batch
  model.train();
  cross_entropy(model(randn({4, 20})), randint(0, 10, {4})).backward();
  WISP_REQUIRE_ERROR(save_checkpoint(folder.file("c.safetensors"), model, optimizer, {}), "c.safetensors",
                     "a RigL update waits for the optimizer step");
  REQUIRE_FALSE(std::filesystem::exists(folder.file("c.safetensors")));
}
