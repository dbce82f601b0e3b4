// [mpi] tests: run by ctest under `mpirun -np N` (N = 2, 3, 4; tests/distributed/mpi_tests.cmake).
// Every rank runs every test case in the same order, so their collectives match. Each rank also
// trains the same model alone on the whole global batch, as a one-process run would, and the
// data-parallel result must agree with it.
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "test_helpers.h"
#include "wisp/distributed/data_parallel.h"
#include "wisp/distributed/process_group.h"

using namespace wisp;
using distributed::ReduceOp;

namespace {

distributed::ProcessGroup& group() { return distributed::default_group(); }

// A deterministic image-like dataset: the same on every rank, no file needed.
struct Data {
  Tensor images;  // [samples, 784] in [0, 1)
  Tensor labels;  // [samples] Int64
};

Data make_data(int64_t samples) {
  std::vector<float> pixels(static_cast<size_t>(samples * 784));
  std::vector<int64_t> labels(static_cast<size_t>(samples));
  uint64_t state = 12345;
  for (auto& pixel : pixels) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    pixel = static_cast<float>((state >> 40) & 0xffff) / 65536.0f;
  }
  for (int64_t i = 0; i < samples; ++i) labels[static_cast<size_t>(i)] = (i * 7 + i / 3) % 10;
  return {from_vector(pixels, {samples, 784}), from_vector(labels, {samples})};
}

// The rows of `tensor` at `rows`.
Tensor rows_of(const Tensor& tensor, const std::vector<int64_t>& rows) {
  std::vector<int64_t> dims = tensor.shape().dims();
  const int64_t row_bytes = static_cast<int64_t>(tensor.nbytes()) / dims[0];
  dims[0] = static_cast<int64_t>(rows.size());
  Tensor result = zeros(Shape(dims), tensor.dtype());
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(static_cast<char*>(result.raw_data()) + static_cast<int64_t>(i) * row_bytes,
                static_cast<const char*>(tensor.raw_data()) + rows[i] * row_bytes, static_cast<size_t>(row_bytes));
  return result;
}

std::vector<int64_t> global_batch(int64_t step, int64_t batch_size, int64_t samples) {
  std::vector<int64_t> rows;
  for (int64_t i = step * batch_size; i < std::min(samples, (step + 1) * batch_size); ++i) rows.push_back(i);
  return rows;
}

std::vector<int64_t> shard_of(const std::vector<int64_t>& rows, int rank, int ranks) {
  std::vector<int64_t> shard;
  for (size_t i = static_cast<size_t>(rank); i < rows.size(); i += static_cast<size_t>(ranks)) shard.push_back(rows[i]);
  return shard;
}

struct Recipe {
  std::string name;
  std::function<std::shared_ptr<nn::Module>()> build;
  std::function<std::unique_ptr<optim::Optimizer>(nn::Module&)> optimizer;
};

std::unique_ptr<optim::Optimizer> sgd(nn::Module& model) {
  return std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions(0.05).momentum(0.9));
}

std::unique_ptr<optim::Optimizer> adam(nn::Module& model) {
  return std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions(1e-3));
}

std::vector<Recipe> recipes() {
  using nn::SparseLinearOptions;
  return {
      {"dense",
       [] {
         auto model = std::make_shared<nn::Sequential>();
         model->push_back(nn::Linear(784, 128)).push_back(nn::ReLU()).push_back(nn::Linear(128, 10));
         return model;
       },
       sgd},
      {"sparse",
       [] {
         auto model = std::make_shared<nn::Sequential>();
         model->push_back(nn::SparseLinear(784, 300)).push_back(nn::ReLU()).push_back(nn::SparseLinear(300, 10));
         return model;
       },
       sgd},
      {"RigL",
       [] {
         auto model = std::make_shared<nn::Sequential>();
         model->push_back(nn::SparseLinear(784, 200, SparseLinearOptions().dynamic(true).delta_t(10).t_end(15)))
             .push_back(nn::ReLU())
             .push_back(nn::Linear(200, 10));
         return model;
       },
       sgd},
      {"SET",
       [] {
         auto model = std::make_shared<nn::Sequential>();
         model
             ->push_back(nn::SparseLinear(
                 784, 200, SparseLinearOptions().dynamic(true).delta_t(5).t_end(15).growth(nn::Growth::Random)))
             .push_back(nn::ReLU())
             .push_back(nn::Linear(200, 10));
         return model;
       },
       sgd},
      {"k-winners",
       [] {
         auto model = std::make_shared<nn::Sequential>();
         model->push_back(nn::Linear(784, 200))
             .push_back(nn::LayerNorm(200))
             .push_back(nn::ActivationSparsity(nn::ActivationSparsityOptions().units(200)))
             .push_back(nn::Linear(200, 10));
         return model;
       },
       adam},
  };
}

// Parameters and buffers as dense tensors (a SparseLinear's weight through its COO view), so that
// models whose connections moved compare by position in the matrix.
std::vector<std::pair<std::string, Tensor>> comparable_state(nn::Module& model) {
  std::vector<std::pair<std::string, Tensor>> state;
  for (const auto& [name, module] : model.named_modules())
    if (auto* layer = dynamic_cast<nn::SparseLinear*>(module))
      state.emplace_back(name + ".dense", layer->weight().to_dense());
  for (const auto& [name, tensor] : model.state_dict())
    if (tensor.dtype() == DType::Float32) state.emplace_back(name, tensor);
  return state;
}

double relative_difference(const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  double difference = 0, norm = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    difference += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    norm += double(y[i]) * y[i];
  }
  return norm == 0 ? std::sqrt(difference) : std::sqrt(difference / norm);
}

constexpr int64_t kBatch = 64;
constexpr int64_t kSteps = 20;

// Trains `model` with `optimizer` on steps [first, last) of the data: alone on the whole batch
// (parallel null) or data-parallel on this rank's shard.
void train_steps(nn::Module& model, optim::Optimizer& optimizer, distributed::DataParallel* parallel, const Data& data,
                 int64_t first, int64_t last) {
  const int rank = parallel ? parallel->group().rank() : 0;
  const int ranks = parallel ? parallel->group().size() : 1;
  for (int64_t step = first; step < last; ++step) {
    const std::vector<int64_t> rows = shard_of(global_batch(step, kBatch, data.images.size(0)), rank, ranks);
    optimizer.zero_grad();
    if (!rows.empty()) cross_entropy(model(rows_of(data.images, rows)), rows_of(data.labels, rows)).backward();
    if (parallel) parallel->step(static_cast<int64_t>(rows.size()));
    else optimizer.step();
  }
}

// Trains `recipe` for kSteps steps of kBatch samples: alone on the whole batch (group null) or
// data-parallel on this rank's shard. The initial model is the one rank 0 builds from seed 100.
std::shared_ptr<nn::Module> train(const Recipe& recipe, const Data& data, distributed::ProcessGroup* parallel_group) {
  const int rank = parallel_group ? parallel_group->rank() : 0;
  const int ranks = parallel_group ? parallel_group->size() : 1;
  // Other ranks start from other weights: the broadcast must replace them.
  manual_seed(100 + static_cast<uint64_t>(rank) * 7);
  std::shared_ptr<nn::Module> model = recipe.build();
  std::unique_ptr<optim::Optimizer> optimizer = recipe.optimizer(*model);
  std::unique_ptr<distributed::DataParallel> data_parallel;
  if (parallel_group) data_parallel = std::make_unique<distributed::DataParallel>(*model, *optimizer, *parallel_group);
  const int64_t samples = data.images.size(0);
  for (int64_t step = 0; step < kSteps; ++step) {
    const std::vector<int64_t> rows = shard_of(global_batch(step, kBatch, samples), rank, ranks);
    optimizer->zero_grad();
    if (!rows.empty()) {
      Tensor loss = cross_entropy((*model)(rows_of(data.images, rows)), rows_of(data.labels, rows));
      loss.backward();
    }
    if (data_parallel) data_parallel->step(static_cast<int64_t>(rows.size()));
    else optimizer->step();
  }
  return model;
}

}  // namespace

TEST_CASE("[mpi] the default group is MPI's, with every rank", "[mpi]") {
  distributed::ProcessGroup& g = group();
  REQUIRE(g.backend() == "mpi");
  REQUIRE(g.size() >= 2);
  Tensor ranks = from_vector(std::vector<int64_t>{1});
  g.all_reduce(ranks);
  REQUIRE(ranks.item<int64_t>() == g.size());
}

TEST_CASE("[mpi] all_reduce sums, averages, and takes maxima and minima", "[mpi]") {
  distributed::ProcessGroup& g = group();
  const float r = static_cast<float>(g.rank()), n = static_cast<float>(g.size());
  Tensor sum = from_vector(std::vector<float>{r, 1.0f, -r}, {3});
  g.all_reduce(sum, ReduceOp::Sum);
  CHECK(sum.to_vector<float>() == std::vector<float>{n * (n - 1) / 2, n, -n * (n - 1) / 2});
  Tensor mean = from_vector(std::vector<float>{2 * r});
  g.all_reduce(mean, ReduceOp::Mean);
  CHECK(mean.item<float>() == Approx(n - 1));
  Tensor maximum = from_vector(std::vector<int32_t>{g.rank(), -g.rank()});
  g.all_reduce(maximum, ReduceOp::Max);
  CHECK(maximum.to_vector<int32_t>() == std::vector<int32_t>{g.size() - 1, 0});
  Tensor minimum = from_vector(std::vector<int64_t>{g.rank() + 5});
  g.all_reduce(minimum, ReduceOp::Min);
  CHECK(minimum.item<int64_t>() == 5);
}

TEST_CASE("[mpi] broadcast, all_gather of unequal rows, barrier and bytes", "[mpi]") {
  distributed::ProcessGroup& g = group();
  Tensor values = full({2, 3}, g.rank() == 1 ? 7.0 : -1.0);
  g.broadcast(values, 1);
  CHECK(values.to_vector<float>() == std::vector<float>(6, 7.0f));
  // Rank r contributes r + 1 rows of [r, r].
  Tensor rows = full({g.rank() + 1, 2}, static_cast<double>(g.rank()));
  const Tensor gathered = g.all_gather(rows);
  REQUIRE(gathered.shape() == Shape{g.size() * (g.size() + 1) / 2, 2});
  std::vector<float> expected;
  for (int r = 0; r < g.size(); ++r)
    for (int i = 0; i < 2 * (r + 1); ++i) expected.push_back(static_cast<float>(r));
  CHECK(gathered.to_vector<float>() == expected);
  g.barrier();
  const std::string text = g.broadcast_bytes(g.rank() == 0 ? std::string("from rank 0\0!", 13) : "ignored", 0);
  CHECK(text == std::string("from rank 0\0!", 13));
  const uint64_t before = g.collectives();
  g.barrier();
  CHECK(g.collectives() == before + 1);
}

TEST_CASE("[mpi] N-rank training equals one-process training on the same global batch", "[mpi]") {
  distributed::ProcessGroup& g = group();
  const Data data = make_data(kBatch * kSteps - 5);  // the last batch is partial: unequal shards
  for (const Recipe& recipe : recipes()) {
    INFO("model " << recipe.name << ", " << g.size() << " ranks");
    const std::shared_ptr<nn::Module> alone = train(recipe, data, nullptr);
    const std::shared_ptr<nn::Module> parallel = train(recipe, data, &g);
    for (const auto& [name, module] : parallel->named_modules())
      if (auto* layer = dynamic_cast<nn::SparseLinear*>(module); layer != nullptr && layer->dynamic()) {
        CHECK(layer->rigl_statistics().updates >= 1);  // the connections did move during the 20 steps
        CHECK(layer->rigl_statistics().moved > 0);
      }
    const auto expected = comparable_state(*alone), actual = comparable_state(*parallel);
    REQUIRE(expected.size() == actual.size());
    double worst = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO(expected[i].first);
      REQUIRE(actual[i].second.shape() == expected[i].second.shape());
      const double difference = relative_difference(actual[i].second, expected[i].second);
      worst = std::max(worst, difference);
      CHECK(difference <= 1e-5);
    }
    // Every rank holds exactly rank 0's parameters.
    for (const auto& [name, tensor] : actual) {
      Tensor copy = tensor.clone();
      g.broadcast(copy, 0);
      INFO(name << " equals rank 0's");
      CHECK(copy.to_vector<float>() == tensor.to_vector<float>());
    }
    // Two runs with the same ranks are bit-identical.
    const auto again = comparable_state(*train(recipe, data, &g));
    for (size_t i = 0; i < actual.size(); ++i)
      CHECK(again[i].second.to_vector<float>() == actual[i].second.to_vector<float>());
    if (g.rank() == 0)
      std::printf("%s on %d ranks: largest relative difference %.3g\n", recipe.name.c_str(), g.size(), worst);
  }
}

TEST_CASE("[mpi] a model that differs between ranks is refused on every rank", "[mpi]") {
  distributed::ProcessGroup& g = group();
  nn::Sequential model;
  model.push_back(nn::Linear(4, g.rank() == 1 ? 3 : 2));
  optim::SGD optimizer(model.parameters(), optim::SGDOptions(0.1));
  try {
    distributed::DataParallel parallel(model, optimizer, g);
    FAIL("no error");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK_THAT(message, Catch::Contains("differs between rank 0 and rank 1"));
    CHECK_THAT(message, Catch::Contains("0.weight float32 [2, 4]"));
    CHECK_THAT(message, Catch::Contains("0.weight float32 [3, 4]"));
  }
}

TEST_CASE("[mpi] a checkpoint of an N-rank run resumes bit-exactly on N ranks and to 1e-5 alone", "[mpi]") {
  distributed::ProcessGroup& g = group();
  const Data data = make_data(kBatch * kSteps);
  for (const Recipe& recipe : recipes()) {
    INFO("model " << recipe.name << ", " << g.size() << " ranks");
    // The uninterrupted run: 20 data-parallel steps, with a checkpoint (in memory) after 10.
    manual_seed(100 + static_cast<uint64_t>(g.rank()));
    std::shared_ptr<nn::Module> model = recipe.build();
    std::unique_ptr<optim::Optimizer> optimizer = recipe.optimizer(*model);
    distributed::DataParallel parallel(*model, *optimizer, g);
    train_steps(*model, *optimizer, &parallel, data, 0, 10);
    TrainingState state;
    state.step = 10;
    const std::string checkpoint = g.broadcast_bytes(g.rank() == 0 ? checkpoint_bytes(*model, *optimizer, state) : "");
    train_steps(*model, *optimizer, &parallel, data, 10, kSteps);
    const auto expected = comparable_state(*model);

    // Resumed on N ranks: rank 0 loads the checkpoint; the broadcast gives it to the others.
    manual_seed(200 + static_cast<uint64_t>(g.rank()));
    std::shared_ptr<nn::Module> resumed = recipe.build();
    std::unique_ptr<optim::Optimizer> resumed_optimizer = recipe.optimizer(*resumed);
    if (g.rank() == 0) CHECK(load_checkpoint_bytes(checkpoint, *resumed, *resumed_optimizer).step == 10);
    distributed::DataParallel resumed_parallel(*resumed, *resumed_optimizer, g);
    train_steps(*resumed, *resumed_optimizer, &resumed_parallel, data, 10, kSteps);
    const auto actual = comparable_state(*resumed);
    REQUIRE(actual.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO(expected[i].first << " after resuming on " << g.size() << " ranks");
      CHECK(actual[i].second.to_vector<float>() == expected[i].second.to_vector<float>());
    }

    // Resumed by one process alone, on the whole global batches.
    manual_seed(300);
    std::shared_ptr<nn::Module> alone = recipe.build();
    std::unique_ptr<optim::Optimizer> alone_optimizer = recipe.optimizer(*alone);
    load_checkpoint_bytes(checkpoint, *alone, *alone_optimizer);
    train_steps(*alone, *alone_optimizer, nullptr, data, 10, kSteps);
    const auto single = comparable_state(*alone);
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO(expected[i].first << " after resuming alone");
      REQUIRE(single[i].second.shape() == expected[i].second.shape());
      CHECK(relative_difference(single[i].second, expected[i].second) <= 1e-5);
    }
  }
}
