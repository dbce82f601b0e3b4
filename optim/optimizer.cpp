#include "wisp/optim/optimizer.h"

#include <memory>

namespace wisp::optim {

Optimizer::Optimizer(std::vector<Tensor> parameters) : parameters_(std::move(parameters)) {
  WISP_CHECK(!parameters_.empty(), "optimizer: expected at least one parameter but got an empty list");
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    WISP_CHECK(p.defined(), "optimizer: parameter ", i, " is undefined");
    WISP_CHECK(p.dtype() == DType::Float32, "optimizer: expected float32 parameters but parameter ", i, " is ",
               p.dtype());
    // A parameter that does not require grad (a frozen one) is accepted and never gets a gradient,
    // so step() skips it, as in PyTorch.
    WISP_CHECK(p.is_leaf(), "optimizer: parameter ", i, " must be a leaf tensor (it is the output of ",
               p.grad_fn_name(), "; pass the tensor the module registered, or a detach()ed copy)");
    for (size_t j = 0; j < i; ++j)
      WISP_CHECK(parameters_[j].impl() != p.impl(), "optimizer: parameter ", i, " appears twice (also at ", j, ")");
  }
}

void Optimizer::step() {
  std::vector<size_t> updated;  // parameters with a gradient: those update() changes
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (parameters_[i].grad().defined()) updated.push_back(i);
  update();
  ++steps_;
  for (size_t i : updated) {
    const Tensor& parameter = parameters_[i];
    if (const std::shared_ptr<TensorUpdateHook> hook = parameter.update_hook())
      hook->after_update(parameter, state_of(parameter));
  }
}

void Optimizer::zero_grad() {
  for (const Tensor& p : parameters_) p.set_grad(Tensor());
}

size_t Optimizer::index_of(const Tensor& parameter) const {
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (parameters_[i].impl() == parameter.impl()) return i;
  WISP_FAIL("optimizer: the tensor of shape ", parameter.shape(), " is not one of this optimizer's parameters");
}

}  // namespace wisp::optim
