// Training that resumes bit for bit in a new process (run by resume_test.cmake):
//
//   resume_program uninterrupted DIR   2 epochs, then DIR/uninterrupted.safetensors
//   resume_program first-half DIR      epoch 1, then DIR/half.safetensors
//   resume_program second-half DIR     a new model (other seed) loads DIR/half.safetensors, epoch 2,
//                                      then DIR/resumed.safetensors
//
// Each prints one line per step (the loss's bits) and one per epoch (a hash of every tensor of the
// model and the optimizer, and the RigL counters), so that the uninterrupted run's output equals
// the first half's followed by the second half's, and the two final checkpoints are equal bytes.
// The model has a RigL SparseLinear (updates at steps 5, 10, ..., 30), ActivationSparsity and a SET
// SparseLinear (updates at steps 4, 8, ..., 32, one of them the save point's step 16); the data
// loader shuffles from the default generator, which the checkpoint restores. Exits 1 when a half did
// not cross a RigL and a SET update.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <wisp/wisp.h>

#include "wisp/serialization/safetensors.h"

using namespace wisp;

namespace {

constexpr int64_t kSamples = 256, kBatch = 16, kFeatures = 32, kClasses = 10;

nn::Sequential make_model() {
  return nn::Sequential(
      nn::SparseLinear(kFeatures, 64, nn::SparseLinearOptions().sparsity(0.8).dynamic(true).delta_t(5).t_end(1000)),
      nn::LayerNorm(64), nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.6)),
      nn::SparseLinear(64, kClasses,
                       nn::SparseLinearOptions().sparsity(0.7).dynamic(true).delta_t(4).t_end(1000).alpha(0.4).growth(
                           nn::Growth::Random)));
}

optim::AdamW make_optimizer(nn::Module& model) {
  return optim::AdamW(model.parameters(),
                      optim::AdamWOptions(3e-3).weight_decay(1e-3).schedule(optim::warmup_cosine(6, 32)));
}

// Inputs from a fixed seed, labels from a random linear teacher: learnable, the same in every process.
data::TensorDataset make_dataset() {
  manual_seed(100);
  const Tensor inputs = randn({kSamples, kFeatures});
  const Tensor teacher = randn({kFeatures, kClasses});
  return data::TensorDataset(inputs, inputs.matmul(teacher).argmax(1));
}

uint64_t fnv1a(const std::string& bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (const char c : bytes) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

// A hash of every tensor of the model (parameters, buffers, state_dict) and the optimizer's state.
uint64_t state_hash(const nn::Module& model, const optim::Optimizer& optimizer) {
  serialization::SafetensorsWriter writer;
  for (const auto& [name, tensor] : model.named_parameters()) writer.add("parameter." + name, tensor.detach());
  for (const auto& [name, tensor] : model.named_buffers()) writer.add("buffer." + name, tensor);
  for (const auto& [name, tensor] : model.state_dict()) writer.add("state." + name, tensor.detach());
  const optim::OptimizerState state = optimizer.state();
  for (size_t i = 0; i < state.parameters.size(); ++i)
    for (const auto& [name, tensor] : state.parameters[i].tensors)
      writer.add("optimizer." + std::to_string(i) + "." + name, tensor);
  return fnv1a(writer.to_bytes());
}

uint32_t bits(float value) {
  uint32_t result;
  std::memcpy(&result, &value, sizeof result);
  return result;
}

void train_epoch(int64_t epoch, nn::Sequential& model, optim::Optimizer& optimizer, const data::Dataset& dataset) {
  data::DataLoader loader(dataset, data::DataLoaderOptions().batch_size(kBatch).shuffle(true));
  model.train();
  for (const data::Batch& batch : loader) {
    Tensor loss = cross_entropy(model(batch.data), batch.target);
    loss.backward();
    optimizer.step();
    optimizer.zero_grad();
    std::printf("step %lld loss %08x (%.6f)\n", static_cast<long long>(optimizer.steps()), bits(loss.item<float>()),
                loss.item<float>());
  }
  const nn::RiglStatistics rigl = model.at<nn::SparseLinear>(0).rigl_statistics();
  const nn::RiglStatistics set = model.at<nn::SparseLinear>(3).rigl_statistics();
  std::printf("epoch %lld state %016llx rigl %lld updates %lld moved, set %lld updates %lld moved\n",
              static_cast<long long>(epoch), static_cast<unsigned long long>(state_hash(model, optimizer)),
              static_cast<long long>(rigl.updates), static_cast<long long>(rigl.moved),
              static_cast<long long>(set.updates), static_cast<long long>(set.moved));
}

int64_t updates(const nn::Sequential& model, int64_t layer) {
  return model.at<nn::SparseLinear>(layer).rigl_statistics().updates;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: resume_program uninterrupted|first-half|second-half DIR\n";
    return 2;
  }
  const std::string mode = argv[1], folder = argv[2];
  try {
    const data::TensorDataset dataset = make_dataset();
    const int64_t steps_per_epoch = kSamples / kBatch;
    if (mode == "uninterrupted" || mode == "first-half") {
      manual_seed(0);
      nn::Sequential model = make_model();
      optim::AdamW optimizer = make_optimizer(model);
      train_epoch(1, model, optimizer, dataset);
      if (updates(model, 0) == 0 || updates(model, 3) == 0) {
        std::cerr << "resume_program: the first epoch ran no RigL or no SET update\n";
        return 1;
      }
      TrainingState state;
      state.epoch = 1;
      state.step = optimizer.steps();
      if (mode == "first-half") {
        save_checkpoint(folder + "/half.safetensors", model, optimizer, state);
        return 0;
      }
      train_epoch(2, model, optimizer, dataset);
      state.epoch = 2;
      state.step = optimizer.steps();
      save_checkpoint(folder + "/uninterrupted.safetensors", model, optimizer, state);
      return 0;
    }
    if (mode == "second-half") {
      manual_seed(1);  // other connections, values and generator state: the checkpoint replaces them
      nn::Sequential model = make_model();
      optim::AdamW optimizer = make_optimizer(model);
      TrainingState state = load_checkpoint(folder + "/half.safetensors", model, optimizer);
      if (state.epoch != 1 || state.step != steps_per_epoch || optimizer.steps() != steps_per_epoch) {
        std::cerr << "resume_program: the checkpoint gave epoch " << state.epoch << ", step " << state.step << " and "
                  << optimizer.steps() << " optimizer steps\n";
        return 1;
      }
      const int64_t rigl_before = updates(model, 0), set_before = updates(model, 3);
      train_epoch(2, model, optimizer, dataset);
      if (rigl_before == 0 || updates(model, 0) == rigl_before || set_before == 0 || updates(model, 3) == set_before) {
        std::cerr << "resume_program: the save point is not between RigL and SET updates on both sides\n";
        return 1;
      }
      state.epoch = 2;
      state.step = optimizer.steps();
      save_checkpoint(folder + "/resumed.safetensors", model, optimizer, state);
      return 0;
    }
    std::cerr << "resume_program: unknown mode " << mode << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "resume_program: " << error.what() << "\n";
    return 1;
  }
}
