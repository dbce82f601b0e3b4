// The models mnist_train can train, each with the notebook's hyperparameters as defaults.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <wisp/wisp.h>

namespace wisp::apps {

// What a preset's layers may depend on besides the preset itself.
struct ModelSettings {
  // RigL, for the presets with dynamic layers (layers/rigl.h): update every rigl_delta_t optimizer
  // steps until step rigl_t_end, initial drop fraction rigl_alpha.
  int64_t rigl_delta_t = nn::kRiglDefaultDeltaT;
  int64_t rigl_t_end = nn::kRiglDefaultTEnd;
  double rigl_alpha = nn::kRiglDefaultAlpha;
  // Where the dynamic presets' layers grow connections: Gradient is RigL, Random is SET.
  nn::Growth growth = nn::Growth::Gradient;
  // How the sparse presets' SparseLinear layers initialise their weights and bias.
  nn::SparseInit init = nn::SparseInit::Uniform;
  // What the sparse presets' SparseLinear layers read (nn::SparseLinearOptions::compute_dtype).
  DType compute_dtype = DType::Float32;
  // The presets with ModelPreset::erk: spread the preset's sparsity over its layers by an ERK budget
  // (layers/erk.h) instead of giving each layer that sparsity.
  bool erk = false;
};

struct ModelPreset {
  std::string name;         // the --model value
  std::string description;  // one line for --help
  double learning_rate;     // the notebook's value for this model
  double momentum;
  bool nesterov;
  std::shared_ptr<nn::Module> (*build)(const ModelSettings&);
  bool dynamic = false;  // has RigL layers (mnist_train then sets t_end from the run's length)
  bool sparse = false;   // has SparseLinear layers (ModelSettings::init applies)
  bool erk = false;      // every SparseLinear layer has a sparsity (not given connections): ERK applies
};

// All presets, in the order --help lists them.
const std::vector<ModelPreset>& model_presets();
// The preset called `name`; throws wisp::Error listing the valid names otherwise.
const ModelPreset& find_model_preset(const std::string& name);

}  // namespace wisp::apps
