// nn::Module: the base class of layers and models.
//
// A module owns named parameters (trainable tensors), named buffers (state that moves with the module
// but is not trained, like running statistics; model files hold it too) and named child modules. Everything else —
// parameters(), named_parameters(), train()/eval(), to(Device), zero_grad(), printing — walks those
// three lists, so a user's model only registers its pieces:
//
//   struct Net : nn::Module {
//     std::shared_ptr<nn::Linear> fc;
//     Tensor scale;
//     Net() {
//       fc = register_module("fc", std::make_shared<nn::Linear>(784, 10));
//       scale = register_parameter("scale", ones({784}));
//     }
//     Tensor forward(const Tensor& x) override { return (*fc)(x * scale); }
//   };
//
// Registered tensors are handles shared with the module: to(Device) moves their storage in place,
// so member handles like `scale` above stay valid. Not thread-safe: use one module per thread, or
// guard it.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::nn {

// One load of a state dict into a module (Module::load_state_dict), in two phases so that a failed
// load changes nothing: modules check the tensors they need and queue what they will change
// (on_apply); only when every module has checked without a problem are the queued changes applied.
// A checkpoint's load also carries counters (Module::state_counters), which model files do not.
class StateLoad {
 public:
  explicit StateLoad(const std::map<std::string, Tensor>& tensors) : tensors_(tensors) {}
  StateLoad(const std::map<std::string, Tensor>& tensors, const std::map<std::string, uint64_t>& counters)
      : tensors_(tensors), counters_(&counters) {}
  // A load from a file: `names` are the tensors it holds (keys only; the values are not used), each
  // read by `read` only when a module takes it, and handed over: modules adopt it as their storage
  // without a copy (owns_tensors()), and one a module converts (a SparseLinear's indices) is freed
  // once that module has checked it, so that the load never holds the whole file beside the model.
  // Each name is taken once. `counters` may be null (a model file's load).
  StateLoad(const std::map<std::string, Tensor>& names, std::function<Tensor(const std::string&)> read,
            const std::map<std::string, uint64_t>* counters)
      : tensors_(names), read_(std::move(read)), counters_(counters) {}

  // The tensor `name`, or an undefined tensor (recorded as missing) when there is none; either way
  // the name counts as used.
  Tensor take(const std::string& name);
  // take(), then checks dtype and shape: a mismatch is recorded (PyTorch's wording: "size mismatch
  // for 2.weight: copying a param with shape [10, 200] from checkpoint, the shape in current model
  // is [10, 100]") and an undefined tensor returned.
  Tensor take(const std::string& name, DType dtype, const Shape& shape);
  // Whether the state dict has `name` (does not count as using it).
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Whether this load carries counters (a checkpoint's does, a model file's does not).
  bool has_counters() const { return counters_ != nullptr; }
  // Whether take() hands its tensors over: a module may keep them as its new storage instead of
  // copying them.
  bool owns_tensors() const { return static_cast<bool>(read_); }
  // The counter `name`, or nullopt (recorded as missing) when there is none; counts as used.
  std::optional<uint64_t> take_counter(const std::string& name);
  // Records a problem; the load then fails, listing every problem, and applies nothing.
  void fail(std::string problem) { problems_.push_back(std::move(problem)); }
  // Queues a change, run only when the whole load has checked without a problem. Changes must not
  // throw: everything that can fail belongs in the check.
  void on_apply(std::function<void()> change) { changes_.push_back(std::move(change)); }

  // Throws (naming `module_name`, missing, unexpected and mismatched tensors and counters) when
  // anything failed; otherwise applies the queued changes. check() and apply() are its halves, for
  // a caller that loads more than the module all or nothing (a checkpoint).
  void finish(const std::string& module_name) {
    check(module_name);
    apply();
  }
  void check(const std::string& module_name) const;
  void apply();

 private:
  const std::map<std::string, Tensor>& tensors_;
  std::function<Tensor(const std::string&)> read_;  // set for a load from a file
  const std::map<std::string, uint64_t>* counters_ = nullptr;
  std::vector<std::string> used_, missing_, problems_;
  std::vector<std::string> used_counters_, missing_counters_;
  std::vector<std::function<void()>> changes_;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = default;  // shallow: the copy shares parameter tensors (like PyTorch)
  Module(Module&&) = default;
  Module& operator=(const Module&) = default;
  Module& operator=(Module&&) = default;

  // The computation. The default throws: container-only modules need not define it.
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }

  // Parameters of this module and (recursively) its children, in registration order; names are
  // dotted paths ("1.weight", "sc1.weights"). Each tensor appears once, under its first name, also
  // when a module is reached twice (tied weights), as in PyTorch. Tensors are handles: updating them
  // updates the model.
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module (named "") and every module below it, depth first in registration order, with dotted
  // names ("1", "block.fc"), as PyTorch's named_modules(): each module once, under its first name,
  // also when it is reached twice. The pointers are valid while this module holds its children.
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  // Calls fn on every child's apply() first, then on this module (PyTorch's apply): e.g. a custom
  // initialisation, `model.apply([](nn::Module& m) { if (auto* l = dynamic_cast<nn::Linear*>(&m)) ... })`.
  // A module that is a child in two places is visited twice, as in PyTorch. Returns this module.
  Module& apply(const std::function<void(Module&)>& fn);
  // Total number of parameter elements (for SparseLinear: the stored connections, not in × out).
  int64_t num_parameters() const;

  // Training mode (the default) or evaluation mode, for this module and its children. Layers that
  // behave differently (k-winners' duty cycles, RigL) read is_training().
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter, buffer and gradient to `device`, in place (handles stay valid).
  virtual void to(Device device);
  // Clears the gradients of all parameters (sets them to undefined, like PyTorch's default).
  void zero_grad();

  // The tensors a model file holds, named as the equivalent PyTorch model's state_dict(): dotted
  // paths, children by name ("1.weight"), each module's own tensors from state_tensors(). Tensors
  // are handles on the module's tensors, not copies. A module reached twice lists its tensors under
  // both names, as PyTorch does.
  std::vector<std::pair<std::string, Tensor>> state_dict() const;
  // Loads tensors named as state_dict() names them (any device; dtypes and shapes must match those
  // of the model, except what a module's check_state accepts, e.g. a SparseLinear's connections).
  // All or nothing: every module checks first (check_state); a missing, unexpected or mismatched
  // tensor throws wisp::Error listing all of them and leaves the model unchanged. Loaded values
  // replace the storage of the existing tensors in place, so handles (and optimizers holding them)
  // stay valid; see docs/serialization.md for what that means for optimizer state.
  void load_state_dict(const std::map<std::string, Tensor>& tensors);
  // The checking half of load_state_dict(): every module of the tree checks `load` and queues its
  // changes; load.check() and load.apply() then finish it (serialization/checkpoint.h loads a
  // model and an optimizer all or nothing this way).
  void check_state_dict(StateLoad& load);
  // Counters a training checkpoint holds beyond state_dict(), named like it ("1.rigl.steps"):
  // state that model files leave out so that PyTorch reads them as its own state_dicts.
  std::vector<std::pair<std::string, uint64_t>> counter_dict() const;

  // This module's own tensors (not its children's), each name prefixed by `prefix` ("3."); the
  // default is the parameters, then the buffers, that are defined.
  virtual void state_tensors(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  // Checks this module's own tensors of a load (not its children's) and queues their replacement.
  // The default takes each of state_tensors()' names with its tensor's dtype and shape and replaces
  // the values in place (replace_tensor_).
  virtual void check_state(const std::string& prefix, StateLoad& load);
  // This module's own counters (not its children's), each name prefixed by `prefix`; the default
  // has none. A module with counters takes them in check_state when load.has_counters().
  virtual void state_counters(const std::string& prefix, std::vector<std::pair<std::string, uint64_t>>& out) const;

  // The class name used when printing ("Linear"); by default the demangled C++ class name
  // without namespaces.
  virtual std::string name() const;
  // The text inside the parentheses when printing ("in_features=784, out_features=10, bias=true").
  virtual std::string extra_repr() const { return ""; }
  // Prints like PyTorch: Name(extra) or, with children, one indented line per child.
  void pretty_print(std::ostream& stream, int indent = 0) const;

 protected:
  // Registers `tensor` as parameter `name` (marking it as requiring grad) and returns it.
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  // Registers `tensor` as buffer `name` and returns it.
  Tensor register_buffer(const std::string& name, Tensor tensor);
  // Registers `module` as child `name` and returns it, typed.
  template <class ModuleType>
  std::shared_ptr<ModuleType> register_module(const std::string& name, std::shared_ptr<ModuleType> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& stream, const Module& module);

// The readable name of a C++ type from typeid(...).name(), e.g. "wisp::nn::Linear".
std::string demangle(const char* mangled_name);

// Moves a tensor's storage (and gradient) to `device` in place: every handle sees the new device.
// Used by Module::to; not recorded on the tape, but counted as an in-place update (of the old
// storage, whose count the new one continues), so a graph recorded before the move refuses to
// back-propagate after it.
void move_tensor_to_(const Tensor& tensor, Device device);

// Gives `tensor` the storage, shape and dtype of `source` (whose storage it takes over: pass a
// tensor nothing else writes to), in place: every handle sees the new values. Counted as an
// in-place update, like move_tensor_to_. The gradient is kept when the shape stays, else cleared.
// Used by loads; does not throw.
void replace_tensor_(const Tensor& tensor, const Tensor& source) noexcept;

}  // namespace wisp::nn
