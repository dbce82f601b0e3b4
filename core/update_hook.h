// TensorUpdateHook: a callback a tensor carries for whoever updates it in place as a trained
// parameter (PyTorch's analogue: register_post_accumulate_grad_hook, a hook on a tensor that an
// engine above the tensor fires).
//
// core/ only stores the hook (Tensor::set_update_hook, held weakly: an owner that is destroyed is
// never called, and a hook that holds its tensor makes no reference cycle) and never calls it.
// The callers are optimizers: optim::Optimizer::step() calls the hook of each parameter that had a
// gradient, after updating them all. The owners are layers whose structure changes with training:
// nn::SparseLinear with RigL (layers/rigl.h) counts optimizer steps with it and, on update steps,
// rearranges its weights together with the optimizer's state for them.
#pragma once

#include <vector>

namespace wisp {

class Tensor;

class TensorUpdateHook {
 public:
  virtual ~TensorUpdateHook() = default;
  // Called once per update of `tensor`, after it has been updated (it holds its new values and
  // still has the gradient the update used). `per_element_state` are the updater's state tensors
  // for it, each shaped like the tensor (e.g. SGD's momentum buffer; empty while the updater has
  // none), in a fixed order; the hook may permute them in place, together with the tensor's values.
  virtual void after_update(const Tensor& tensor, const std::vector<Tensor>& per_element_state) = 0;

  // A bfloat16 copy of the tensor (same shape and device) that the updater may refresh in the same
  // pass as its update, or null (the default): what a reduced-precision nn::SparseLinear reads. An
  // updater that wrote it calls bfloat16_copy_refreshed(tensor) right after; one that did not leaves
  // the owner to notice the tensor's new version and refresh the copy itself.
  virtual const Tensor* bfloat16_copy() const { return nullptr; }
  virtual void bfloat16_copy_refreshed(const Tensor& /*tensor*/) {}
};

}  // namespace wisp
