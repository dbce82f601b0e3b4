#include "models.h"

namespace wisp::apps {
namespace {

// The notebook's dense model: Flatten, Linear(784, 2000), LayerNorm, ReLU, Linear(2000, 10).
std::shared_ptr<nn::Module> dense_model() {
  return std::make_shared<nn::Sequential>(nn::Flatten(), nn::Linear(784, 2000), nn::LayerNorm(2000), nn::ReLU(),
                                          nn::Linear(2000, 10));
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"dense", "Flatten, Linear(784, 2000), LayerNorm(2000), ReLU, Linear(2000, 10)", 1e-2, 0.9, false, dense_model},
  };
  return presets;
}

const ModelPreset& find_model_preset(const std::string& name) {
  std::string names;
  for (const ModelPreset& preset : model_presets()) {
    if (preset.name == name) return preset;
    names += (names.empty() ? "" : ", ") + preset.name;
  }
  WISP_FAIL("unknown model \"", name, "\"; expected one of: ", names);
}

}  // namespace wisp::apps
