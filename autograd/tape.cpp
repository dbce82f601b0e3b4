#include "wisp/autograd/tape.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "wisp/core/factories.h"
#include "wisp/kernels/elementwise.h"

namespace wisp {

namespace {
thread_local bool grad_mode_enabled = true;
// One counter for all threads: backward runs entries newest first, which is a topological order
// only if every entry is numbered after the entries of its inputs, also when a graph is built on
// several threads.
std::atomic<uint64_t> next_sequence{0};
}  // namespace

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

void Tensor::backward(const Tensor& gradient) const { autograd::run_backward(*this, gradient); }

namespace autograd {

bool needs_recording(std::initializer_list<Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_recording(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, const Tensor& output, const std::vector<Tensor>& inputs, BackwardFunction backward,
              const std::vector<Tensor>& saved) {
  if (!GradMode::is_enabled()) {
    for (size_t i = 0; i < inputs.size(); ++i)
      WISP_CHECK(!inputs[i].defined() || !inputs[i].requires_grad(), "record(", name,
                 "): gradient recording is off (NoGradGuard) but input ", i,
                 " requires grad, so the gradients of everything before this op would be lost; call record only "
                 "when autograd::needs_recording(inputs) is true, with the NoGradGuard ended (or write the op "
                 "with autograd::custom_op, which turns recording off around the forward only)");
    return output;
  }
  if (!needs_recording(inputs)) return output;  // no input requires grad: nothing to send gradients to
  // The output must be a fresh tensor: recording onto an input (an identity forward) or onto a
  // tensor already on the tape would rewrite that tensor's history (a leaf would stop being one,
  // and its gradient would go around a cycle).
  WISP_CHECK(output.defined(), "record(", name, "): the output is undefined");
  for (const Tensor& input : inputs)
    WISP_CHECK(!input.defined() || input.impl() != output.impl(), "record(", name,
               "): the output is one of the inputs; for an op whose forward returns its input, record "
               "input.detach() (a new tensor sharing its storage)");
  WISP_CHECK(output.is_leaf() && !output.requires_grad(), "record(", name, "): the output already ",
             output.is_leaf() ? "requires grad" : "has a grad_fn (" + output.grad_fn_name() + ")",
             "; record a fresh tensor, e.g. output.detach()");
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const Tensor& tensor : saved)
    if (tensor.defined()) node->saved.push_back({tensor.impl()->storage, tensor.version(), tensor.shape()});
  node->sequence = next_sequence.fetch_add(1, std::memory_order_relaxed);
  node->backward = std::move(backward);
  node->inputs.reserve(inputs.size());
  node->input_shapes.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      if (input.is_leaf()) {
        edge.leaf = input.impl();
      } else {
        edge.node = input.impl()->grad_fn;
      }
    }
    node->inputs.push_back(std::move(edge));
    node->input_shapes.push_back(input.defined() ? input.shape() : Shape{});
    node->input_devices.push_back(input.defined() ? input.device() : Device::cpu());
  }
  output.impl()->requires_grad = true;
  output.impl()->grad_fn = std::move(node);
  return output;
}

void CustomOpContext::save_for_backward(const std::vector<Tensor>& tensors) {
  saved_.clear();
  saved_.reserve(tensors.size());
  for (const Tensor& tensor : tensors) saved_.push_back(tensor.defined() ? tensor.detach() : Tensor());
}

bool CustomOpContext::needs_input_grad(size_t index) const {
  WISP_CHECK(index < needs_input_grad_.size(), "CustomOpContext::needs_input_grad: input ", index, " out of range [0, ",
             needs_input_grad_.size(), ")");
  return needs_input_grad_[index];
}

Tensor custom_op(const char* name, const std::vector<Tensor>& inputs, const CustomForwardFunction& forward,
                 CustomBackwardFunction backward) {
  WISP_CHECK(forward && backward, "custom_op(", name, "): expected a forward and a backward function");
  const bool recording = needs_recording(inputs);
  auto context = std::make_shared<CustomOpContext>();
  std::vector<Tensor> detached;
  detached.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    detached.push_back(input.defined() ? input.detach() : Tensor());
    context->needs_input_grad_.push_back(input.defined() && input.requires_grad());
  }
  Tensor output;
  {
    NoGradGuard no_grad;
    output = forward(*context, detached);
  }
  WISP_CHECK(output.defined(), "custom_op(", name, "): the forward returned an undefined tensor");
  // Checked with recording on or off alike, so that a forward that works in evaluation works in training.
  WISP_CHECK(!output.requires_grad(), "custom_op(", name,
             "): the forward returned a tensor that requires grad (an original input or a captured parameter, not "
             "the detached inputs it is given); return a tensor computed from its inputs argument");
  if (!recording) return output;
  const std::vector<Tensor> saved = context->saved();
  return record(
      name, output, inputs,
      [context, backward = std::move(backward)](const Tensor& grad_output) { return backward(*context, grad_output); },
      saved);
}

namespace {

// Adds `gradient` into `slot` without aliasing: the first gradient is stored as is, later ones
// are summed out of place (the first may be shared with another input's gradient, e.g. for a + b).
void accumulate(Tensor& slot, const Tensor& gradient) {
  slot = slot.defined() ? kernels::binary(kernels::BinaryOp::Add, slot, gradient) : gradient;
}

// Backward passes on several threads may reach one leaf (graphs sharing a weight): its gradient is
// read, replaced or added to under one lock.
std::mutex leaf_gradient_mutex;

void accumulate_into_leaf(TensorImpl& leaf, Tensor gradient) {
  const std::lock_guard<std::mutex> lock(leaf_gradient_mutex);
  Tensor current(leaf.grad);
  if (!current.defined()) {
    // The gradient may be shared with other tensors (an op can return grad_output itself), so the
    // leaf gets its own copy — later in-place accumulation must not change anything else — unless
    // nothing else refers to it or its storage, as for a freshly computed weight gradient.
    const bool exclusive = gradient.impl().use_count() == 1 && gradient.impl()->storage.use_count() == 1;
    leaf.grad = exclusive ? gradient.impl() : copy_to_device(gradient, gradient.device()).impl();
  } else {
    kernels::binary_(kernels::BinaryOp::Add, current, gradient);
    current.bump_version();  // a graph that saved the old .grad must not back-propagate through the new one
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& gradient) {
  WISP_CHECK(root.defined(), "backward: called on an undefined tensor");
  WISP_CHECK(root.requires_grad(),
             "backward: this tensor does not require grad and has no grad_fn; nothing it depends on needs "
             "gradients (call set_requires_grad(true) on the inputs, and do not compute it under NoGradGuard)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    WISP_CHECK(root.numel() == 1,
               "backward: a gradient can be created implicitly only for one-element outputs, but "
               "this tensor has shape ",
               root.shape(), "; pass a gradient of that shape");
    seed = ones(root.shape(), TensorOptions(root.dtype()).device(root.device()));
  } else {
    WISP_CHECK(seed.shape() == root.shape(), "backward: expected a gradient of shape ", root.shape(), " but got ",
               seed.shape());
    WISP_CHECK(seed.dtype() == root.dtype(), "backward: expected a gradient of dtype ", root.dtype(), " but got ",
               seed.dtype());
    check_same_device("backward", root, seed);
  }

  NoGradGuard no_grad;  // gradients themselves are not recorded
  if (root.is_leaf()) {
    accumulate_into_leaf(*root.impl(), seed);
    return;
  }

  // Collect the entries the root depends on.
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack{root.impl()->grad_fn.get()};
  seen.insert(stack.back());
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    WISP_CHECK(!node->released, "backward: trying to backward through ", node->name,
               ", which an earlier backward() already used and freed (with its saved values, if any; a graph "
               "is back-propagated once: run the forward again)");
    order.push_back(node);
    for (const Edge& edge : node->inputs)
      if (edge.node && seen.insert(edge.node.get()).second) stack.push_back(edge.node.get());
  }
  std::sort(order.begin(), order.end(), [](const Node* a, const Node* b) { return a->sequence > b->sequence; });

  std::unordered_map<Node*, Tensor> pending;
  pending[root.impl()->grad_fn.get()] = seed;
  // Keeps the collected entries alive while they run, even if releasing one drops the last
  // reference to an earlier one.
  std::vector<std::shared_ptr<Node>> keep_alive{root.impl()->grad_fn};
  for (Node* node : order) {
    for (const Edge& edge : node->inputs)
      if (edge.node) keep_alive.push_back(edge.node);
  }

  for (Node* node : order) {
    auto found = pending.find(node);
    if (found == pending.end()) continue;
    Tensor grad_output = std::move(found->second);
    pending.erase(found);
    for (const SavedVersion& saved : node->saved)
      WISP_CHECK(saved.storage->version() == saved.version, "backward: a tensor of shape ", saved.shape, " that ",
                 node->name, " saved for its gradient was updated in place after the forward (version ",
                 saved.storage->version(), ", saved at version ", saved.version,
                 "), so the gradient would be wrong; run the forward again after the update, or update a clone()");
    std::vector<Tensor> grad_inputs = node->backward(grad_output);
    WISP_CHECK(grad_inputs.size() == node->inputs.size(), node->name, " returned ", grad_inputs.size(),
               " gradients but the op has ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < grad_inputs.size(); ++i) {
      const Edge& edge = node->inputs[i];
      Tensor grad = std::move(grad_inputs[i]);  // moved: a leaf may keep it without copying
      if (!grad.defined() || (!edge.node && !edge.leaf)) continue;
      WISP_CHECK(grad.shape() == node->input_shapes[i], node->name, " returned a gradient of shape ", grad.shape(),
                 " for input ", i, ", expected ", node->input_shapes[i]);
      // Inputs that need gradients are float32 (set_requires_grad allows no other dtype).
      WISP_CHECK(grad.dtype() == DType::Float32, node->name, " returned a gradient of dtype ", grad.dtype(),
                 " for input ", i, ", expected float32");
      WISP_CHECK(grad.device() == node->input_devices[i], node->name, " returned a gradient on ", grad.device(),
                 " for input ", i, ", expected ", node->input_devices[i], " (the input's device)");
      if (edge.node) {
        accumulate(pending[edge.node.get()], grad);
      } else {
        accumulate_into_leaf(*edge.leaf, std::move(grad));
      }
    }
    // Free what the entry saved; the entry itself stays (owned by its output) to report reuse.
    node->backward = nullptr;
    node->inputs.clear();
    node->saved.clear();
    node->released = true;
  }
}

}  // namespace autograd
}  // namespace wisp
