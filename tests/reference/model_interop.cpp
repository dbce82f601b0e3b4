// The wisp side of the PyTorch interop test (safetensors_torch.py runs it):
//   model_interop save FOLDER  writes wisp_model.safetensors (the seed notebook's sparse model, small,
//                              after a few training-mode forwards) and wisp_io.safetensors (inputs and
//                              the model's outputs in evaluation mode);
//   model_interop load FOLDER  loads torch_model.safetensors into a model built with another seed and
//                              another sparsity, and writes its outputs for torch_io.safetensors'
//                              inputs to wisp_outputs.safetensors.
// Exit status 0 on success, 1 with the error on stderr otherwise.
#include <iostream>
#include <string>

#include "wisp/serialization/safetensors.h"
#include "wisp/wisp.h"

using namespace wisp;

namespace {

constexpr int64_t kInFeatures = 20, kHidden = 30, kClasses = 10;

nn::Sequential make_model(uint64_t seed, double sparsity) {
  manual_seed(seed);
  return nn::Sequential(
      nn::Flatten(), nn::SparseLinear(kInFeatures, kHidden, nn::SparseLinearOptions().sparsity(sparsity)),
      nn::LayerNorm(kHidden), nn::ReLU(), nn::ActivationSparsity(nn::ActivationSparsityOptions().units(kHidden)),
      nn::Linear(kHidden, kClasses));
}

void write_tensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  serialization::SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor.detach());
  writer.write(path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "save" && std::string(argv[1]) != "load")) {
    std::cerr << "usage: model_interop save|load FOLDER\n";
    return 1;
  }
  const std::string folder = argv[2];
  try {
    NoGradGuard no_grad;
    if (std::string(argv[1]) == "save") {
      nn::Sequential model = make_model(11, 0.8);
      model.train();
      for (int i = 0; i < 4; ++i) model(randn({16, 1, 4, 5}));  // moves the duty cycles
      model.eval();
      const Tensor inputs = randn({12, 1, 4, 5});
      save(model, folder + "/wisp_model.safetensors");
      write_tensors(folder + "/wisp_io.safetensors", {{"inputs", inputs}, {"outputs", model(inputs)}});
    } else {
      nn::Sequential model = make_model(12, 0.5);
      load(model, folder + "/torch_model.safetensors");
      model.eval();
      const serialization::SafetensorsReader io(folder + "/torch_io.safetensors");
      write_tensors(folder + "/wisp_outputs.safetensors", {{"outputs", model(io.read("inputs"))}});
    }
  } catch (const std::exception& error) {
    std::cerr << "model_interop: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
