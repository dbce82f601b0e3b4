#include "models.h"

namespace wisp::apps {
namespace {

// Every Sequential is built from a braced list, which C++ evaluates left to right: the layers are
// constructed (and draw their initial values) first to last with every compiler, so one seed gives
// one model (layers/sequential.h).

// The options every SparseLinear layer of a preset starts from: the chosen initialisation.
nn::SparseLinearOptions sparse_options(const ModelSettings& settings) {
  return nn::SparseLinearOptions().init(settings.init).compute_dtype(settings.compute_dtype);
}

// The dynamic presets' options: RigL's schedule and the chosen growth.
nn::SparseLinearOptions dynamic_options(const ModelSettings& settings) {
  return sparse_options(settings)
      .dynamic(true)
      .delta_t(settings.rigl_delta_t)
      .t_end(settings.rigl_t_end)
      .alpha(settings.rigl_alpha)
      .growth(settings.growth);
}

// `options` with `sparsity`.
nn::SparseLinearOptions with_sparsity(nn::SparseLinearOptions options, double sparsity) {
  return options.sparsity(sparsity);
}

// The sparsity of each SparseLinear layer, given the weights' [out, in] shapes: `sparsity` for every
// layer or, with settings.erk, `sparsity` overall spread over them by ERK.
std::vector<double> layer_sparsities(const ModelSettings& settings, const std::vector<std::vector<int64_t>>& shapes,
                                     double sparsity) {
  if (settings.erk) return nn::erk_sparsities(shapes, sparsity);
  return std::vector<double>(shapes.size(), sparsity);
}

// The notebook's two sparse layers, 784 -> 2000 -> 10, 90% sparse.
std::vector<double> notebook_sparsities(const ModelSettings& settings) {
  return layer_sparsities(settings, {{2000, 784}, {10, 2000}}, 0.9);
}

// The notebook's dense model: Flatten, Linear(784, 2000), LayerNorm, ReLU, Linear(2000, 10).
std::shared_ptr<nn::Module> dense_model(const ModelSettings&) {
  return std::make_shared<nn::Sequential>(
      nn::Sequential{nn::Flatten(), nn::Linear(784, 2000), nn::LayerNorm(2000), nn::ReLU(), nn::Linear(2000, 10)});
}

// The same shape with sparse layers (90% sparse, random connections).
std::shared_ptr<nn::Module> sparse_model(const ModelSettings& settings) {
  const auto options = sparse_options(settings);
  const std::vector<double> sparsity = notebook_sparsities(settings);
  return std::make_shared<nn::Sequential>(
      nn::Sequential{nn::Flatten(), nn::SparseLinear(784, 2000, with_sparsity(options, sparsity[0])),
                     nn::LayerNorm(2000), nn::ReLU(), nn::SparseLinear(2000, 10, with_sparsity(options, sparsity[1]))});
}

// The notebook's user-defined connections: every input pixel feeds 200 random hidden units.
std::shared_ptr<nn::Module> user_model(const ModelSettings& settings) {
  const int64_t connections_per_input = 200;
  const Tensor column = arange(784, DType::Int64).repeat_interleave(connections_per_input).view({1, -1});
  const Tensor row = randint(0, 2000, {1, 784 * connections_per_input}, DType::Int64);
  const Tensor connections = cat({row, column}, 0);  // [2, nnz]: row = output unit, col = input pixel
  const auto options = sparse_options(settings);
  return std::make_shared<nn::Sequential>(nn::Sequential{
      nn::Flatten(), nn::SparseLinear(784, 2000, nn::SparseLinearOptions(options).connectivity(connections)),
      nn::LayerNorm(2000), nn::ReLU(), nn::SparseLinear(2000, 10, options)});
}

std::shared_ptr<nn::Module> small_world_model(const ModelSettings& settings) {
  const auto options = sparse_options(settings).small_world(true);
  const std::vector<double> sparsity = notebook_sparsities(settings);
  return std::make_shared<nn::Sequential>(
      nn::Sequential{nn::Flatten(), nn::SparseLinear(784, 2000, with_sparsity(options, sparsity[0])),
                     nn::LayerNorm(2000), nn::ReLU(), nn::SparseLinear(2000, 10, with_sparsity(options, sparsity[1]))});
}

// The sparse model with RigL in both layers (the notebook's dynamic connections).
std::shared_ptr<nn::Module> dynamic_model(const ModelSettings& settings) {
  const auto options = dynamic_options(settings);
  const std::vector<double> sparsity = notebook_sparsities(settings);
  return std::make_shared<nn::Sequential>(
      nn::Sequential{nn::Flatten(), nn::SparseLinear(784, 2000, with_sparsity(options, sparsity[0])),
                     nn::LayerNorm(2000), nn::ReLU(), nn::SparseLinear(2000, 10, with_sparsity(options, sparsity[1]))});
}

// The dense model with k-winners (65% of the hidden units set to 0 per sample) instead of ReLU.
std::shared_ptr<nn::Module> kwinners_model(const ModelSettings&) {
  return std::make_shared<nn::Sequential>(nn::Sequential{nn::Flatten(), nn::Linear(784, 2000), nn::LayerNorm(2000),
                                                         nn::ActivationSparsity(), nn::Linear(2000, 10)});
}

// k-winners with 90%-sparse layers.
std::shared_ptr<nn::Module> kwinners_sparse_model(const ModelSettings& settings) {
  const auto options = sparse_options(settings);
  const std::vector<double> sparsity = notebook_sparsities(settings);
  return std::make_shared<nn::Sequential>(
      nn::Sequential{nn::Flatten(), nn::SparseLinear(784, 2000, with_sparsity(options, sparsity[0])),
                     nn::LayerNorm(2000), nn::ActivationSparsity(nn::ActivationSparsityOptions().act_sparsity(0.65)),
                     nn::SparseLinear(2000, 10, with_sparsity(options, sparsity[1]))});
}

// The notebook's very wide model: the 784 pixels repeated 10 times with a learnable scale and shift,
// five 50000-wide SparseLinear layers at 99.9% sparsity with LayerNorm and ReLU between them, and the
// 50000 outputs summed in 10 groups of 5000 (one per class).
struct WideNet : nn::Module {
  std::shared_ptr<nn::SparseLinear> sc1, sc2, sc3, sc4, sc5;
  std::shared_ptr<nn::LayerNorm> ln1, ln2, ln3, ln4;
  Tensor input_scaling, input_shifting;

  // The five layers' weight shapes, [out, in].
  static std::vector<std::vector<int64_t>> shapes() {
    return {{50000, 10 * 28 * 28}, {50000, 50000}, {50000, 50000}, {50000, 50000}, {50000, 50000}};
  }

  // `sparsity`: one per SparseLinear layer.
  WideNet(const nn::SparseLinearOptions& options, const std::vector<double>& sparsity) {
    sc1 = register_module("sc1",
                          std::make_shared<nn::SparseLinear>(10 * 28 * 28, 50000, with_sparsity(options, sparsity[0])));
    sc2 = register_module("sc2", std::make_shared<nn::SparseLinear>(50000, 50000, with_sparsity(options, sparsity[1])));
    sc3 = register_module("sc3", std::make_shared<nn::SparseLinear>(50000, 50000, with_sparsity(options, sparsity[2])));
    sc4 = register_module("sc4", std::make_shared<nn::SparseLinear>(50000, 50000, with_sparsity(options, sparsity[3])));
    sc5 = register_module("sc5", std::make_shared<nn::SparseLinear>(50000, 50000, with_sparsity(options, sparsity[4])));
    input_scaling = register_parameter("input_scaling", ones({10 * 28 * 28}));
    input_shifting = register_parameter("input_shifting", zeros({10 * 28 * 28}));
    ln1 = register_module("ln1", std::make_shared<nn::LayerNorm>(50000));
    ln2 = register_module("ln2", std::make_shared<nn::LayerNorm>(50000));
    ln3 = register_module("ln3", std::make_shared<nn::LayerNorm>(50000));
    ln4 = register_module("ln4", std::make_shared<nn::LayerNorm>(50000));
  }

  std::string name() const override { return "WideNet"; }

  Tensor forward(const Tensor& input) override {
    Tensor x = input.view({-1, 28 * 28}).repeat_interleave(10, 1);
    x = input_scaling * x + input_shifting;
    x = relu((*ln1)((*sc1)(x)));
    x = relu((*ln2)((*sc2)(x)));
    x = relu((*ln3)((*sc3)(x)));
    x = relu((*ln4)((*sc4)(x)));
    x = (*sc5)(x);
    return x.view({x.size(0), -1, 10}).sum(1);
  }
};

std::shared_ptr<nn::Module> wide_model(const ModelSettings& settings) {
  return std::make_shared<WideNet>(sparse_options(settings), layer_sparsities(settings, WideNet::shapes(), 0.999));
}

// The wide model with RigL in all five layers.
std::shared_ptr<nn::Module> wide_dynamic_model(const ModelSettings& settings) {
  return std::make_shared<WideNet>(dynamic_options(settings), layer_sparsities(settings, WideNet::shapes(), 0.999));
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  // name, description, lr, momentum, Nesterov, build, dynamic, sparse, erk
  static const std::vector<ModelPreset> presets = {
      {"dense", "Flatten, Linear(784, 2000), LayerNorm(2000), ReLU, Linear(2000, 10)", 1e-2, 0.9, false, dense_model},
      {"sparse", "the dense model with SparseLinear layers, 90% sparse (random connections)", 1e-1, 0.9, false,
       sparse_model, false, true, true},
      {"user", "sparse, first layer connecting every pixel to 200 random hidden units", 1e-1, 0.9, false, user_model,
       false, true, false},
      {"small-world", "sparse with small-world connectivity in both layers", 1e-1, 0.9, false, small_world_model, false,
       true, true},
      {"dynamic", "sparse with RigL dynamic connectivity in both layers (t_end: 75% of the run's steps)", 5e-3, 0.9,
       false, dynamic_model, true, true, true},
      {"kwinners", "dense with k-winners (ActivationSparsity, 35% of hidden units on) instead of ReLU", 5e-3, 0.9,
       false, kwinners_model},
      {"kwinners-sparse", "sparse (90%) with k-winners instead of ReLU", 5e-2, 0.9, false, kwinners_sparse_model, false,
       true, true},
      {"wide",
       "pixels x10, five SparseLinear layers 50000 wide at 99.9% with LayerNorm, classes summed over 5000 "
       "outputs each",
       5e-5, 0.9, true, wide_model, false, true, true},
      {"wide-dynamic", "wide with RigL dynamic connectivity in all five layers", 5e-5, 0.9, true, wide_dynamic_model,
       true, true, true},
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
