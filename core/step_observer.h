// ParameterStepObserver: how a layer learns that an optimizer has updated one of its parameters.
//
// Optimizers only see tensors (Module::parameters()), and layers only see their own forward; a
// layer whose structure changes during training — nn::SparseLinear with RigL, which must count
// optimizer steps and rearrange the optimizer's momentum together with its weights — attaches an
// observer to its parameter with Tensor::set_step_observer. optim::Optimizer::step() calls it after
// updating every parameter. The tensor holds the observer weakly: a destroyed layer is never called,
// and an observer that holds its parameter makes no reference cycle.
#pragma once

#include <vector>

namespace wisp {

class Tensor;

class ParameterStepObserver {
 public:
  virtual ~ParameterStepObserver() = default;
  // Called once per optimizer step for each of the optimizer's parameters that had a gradient,
  // after the optimizer has updated them all (so `parameter` holds its new values and still has its
  // gradient). `optimizer_state` are the optimizer's per-element state tensors for it (same shape
  // as the parameter, e.g. SGD's momentum buffer; empty before the optimizer has any), which the
  // observer may rearrange in place.
  virtual void after_optimizer_step(const Tensor& parameter, const std::vector<Tensor>& optimizer_state) = 0;
};

}  // namespace wisp
