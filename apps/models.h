// The models mnist_train can train, each with the notebook's hyperparameters as defaults.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <wisp/wisp.h>

namespace wisp::apps {

struct ModelPreset {
  std::string name;         // the --model value
  std::string description;  // one line for --help
  double learning_rate;     // the notebook's value for this model
  double momentum;
  bool nesterov;
  std::shared_ptr<nn::Module> (*build)();
};

// All presets, in the order --help lists them.
const std::vector<ModelPreset>& model_presets();
// The preset called `name`; throws wisp::Error listing the valid names otherwise.
const ModelPreset& find_model_preset(const std::string& name);

}  // namespace wisp::apps
