// Recording ops on the autograd tape, and running it backwards.
//
// How it works (docs/autograd.md has the long version): while GradMode is on, every differentiable
// op whose inputs need gradients appends one entry (autograd::Node) to the tape: its name, its
// input edges, the input shapes and a backward function. The entry's position on the tape is its
// sequence number. Entries are owned by the tensors they produced (and by later entries that
// consumed those tensors), so an entry whose outputs no longer exist is freed at once — a forgotten
// NoGradGuard cannot grow memory without bound. backward() collects the entries the loss depends
// on, runs them from the newest to the oldest (reverse tape order is a topological order), sums
// gradients per tensor, checks each gradient's shape, accumulates into the .grad of leaves and
// frees what it ran: backward through a freed entry is an error.
#pragma once

#include <functional>
#include <initializer_list>
#include <vector>

#include "wisp/autograd/grad_mode.h"
#include "wisp/core/node.h"
#include "wisp/core/tensor.h"

namespace wisp::autograd {

// True when an op on these inputs must be recorded (grad mode on and some input requires grad).
// Ops check it before saving anything for backward.
bool needs_recording(std::initializer_list<Tensor> inputs);
bool needs_recording(const std::vector<Tensor>& inputs);

// Records `output` as produced by an op named `name` from `inputs`, with `backward` returning one
// gradient per input (an undefined Tensor where an input needs none). Marks output as requiring
// grad and points it at the new entry. Call it only when needs_recording(inputs) is true, after a
// forward that recorded nothing (ops return their output unrecorded otherwise):
//   - no input requires grad: nothing to record; returns `output` unchanged;
//   - recording is off (NoGradGuard) but an input requires grad: throws wisp::Error. The entry
//     would be missing and the gradients of whatever produced those inputs silently lost; this is
//     what happens when a custom forward turns recording off around its record() call too. Check
//     needs_recording(inputs) first, or use custom_op below, which turns recording off around the
//     forward only.
//
// `saved` lists the tensors whose values `backward` reads (undefined ones are skipped): their
// storage versions are noted now, and backward throws if one was updated in place since
// (x.mul_(10) between the forward and backward() would otherwise give a silently wrong gradient).
Tensor record(const char* name, const Tensor& output, const std::vector<Tensor>& inputs, BackwardFunction backward,
              const std::vector<Tensor>& saved = {});

// A custom op: a forward computed by any means (existing ops, a loop over data<float>(), a library
// call) and the backward that goes with it, like PyTorch's torch.autograd.Function.
//
//   Tensor cube(const Tensor& x) {
//     return autograd::custom_op(
//         "CubeBackward", {x},
//         [](autograd::CustomOpContext& context, const std::vector<Tensor>& in) {
//           context.save_for_backward({in[0]});
//           return in[0] * in[0] * in[0];
//         },
//         [](const autograd::CustomOpContext& context, const Tensor& grad_output) -> std::vector<Tensor> {
//           const Tensor& x = context.saved()[0];
//           return {grad_output * x * x * 3.0};
//         });
//   }
//
// custom_op runs `forward` with recording off, on detached copies of `inputs` (same storage; an
// identity forward may return one of them), so nothing inside it is recorded; its result must be
// computed from those copies (a returned tensor that requires grad, such as a captured parameter,
// is an error). If
// needs_recording(inputs), it then records one entry named `name` on the tape whose backward calls
// `backward` with the context and the output's gradient; `backward` returns one gradient per
// input, shaped like it (an undefined Tensor where none is needed: see needs_input_grad), and runs
// with recording off. Otherwise (no input requires grad, or recording is off) the output is
// returned unrecorded, so the op works in evaluation loops under NoGradGuard as built-in ops do.
//
// Every tensor the op depends on that may need a gradient (a module's weights, too) must be in
// `inputs`: a tensor only captured by `forward` gets no gradient. Tensors `backward` reads are
// passed through context.save_for_backward in `forward`, not captured by the lambda: they are
// kept as detached handles (no reference cycle through the output) and their versions are noted,
// so an in-place update of one of them between the forward and backward() is an error instead of
// a wrong gradient. Check the pair with check_gradients (autograd/check_gradients.h).
class CustomOpContext;
using CustomForwardFunction = std::function<Tensor(CustomOpContext& context, const std::vector<Tensor>& inputs)>;
using CustomBackwardFunction =
    std::function<std::vector<Tensor>(const CustomOpContext& context, const Tensor& grad_output)>;

// `name` is shown as the output's grad_fn ("CubeBackward") and in errors; it must outlive the
// graph (a string literal).
Tensor custom_op(const char* name, const std::vector<Tensor>& inputs, const CustomForwardFunction& forward,
                 CustomBackwardFunction backward);

// What a custom op's forward hands to its backward.
class CustomOpContext {
 public:
  // Keeps `tensors` (detached; undefined ones as they are) for the backward, replacing what an
  // earlier call saved.
  void save_for_backward(const std::vector<Tensor>& tensors);
  // What save_for_backward kept, in its order.
  const std::vector<Tensor>& saved() const { return saved_; }
  // Whether input `index` requires grad, so the backward may skip (return an undefined Tensor
  // for) gradients nobody needs.
  bool needs_input_grad(size_t index) const;

 private:
  friend Tensor custom_op(const char*, const std::vector<Tensor>&, const CustomForwardFunction&,
                          CustomBackwardFunction);
  std::vector<Tensor> saved_;
  std::vector<bool> needs_input_grad_;
};

// Runs the tape backwards from `root` (see above). `gradient` defaults to 1 for one-element roots.
void run_backward(const Tensor& root, const Tensor& gradient);

}  // namespace wisp::autograd
