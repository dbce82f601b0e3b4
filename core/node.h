// One entry of the autograd tape: what a recorded op needs to send gradients back to its inputs.
//
// The data structure lives in core/ because every Tensor may point at the entry that produced it
// (TensorImpl::grad_fn); the engine that records and replays entries is autograd/.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "wisp/core/tensor.h"

namespace wisp::autograd {

struct Node;

// Where the gradient for one input of an entry goes: into the entry that produced that input, or
// into the .grad of a leaf that requires gradients; neither when the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
};

// Given the gradient of the entry's output, returns one gradient per input (an undefined Tensor
// where an input needs none). It captures only what it needs (e.g. the saved mean and inverse
// standard deviation of layer_norm), never the output tensor itself.
using BackwardFunction = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// A tensor an entry saved for its backward, and its storage's version (core/storage.h) then.
struct SavedVersion {
  std::shared_ptr<Storage> storage;
  uint64_t version = 0;
  Shape shape;  // for the error message
};

struct Node {
  const char* name = "";              // "MulBackward", shown when tensors print
  uint64_t sequence = 0;              // position on the tape: later entries have larger numbers
  std::vector<Edge> inputs;           // one per op input
  std::vector<Shape> input_shapes;    // to check the shape of each returned gradient
  std::vector<Device> input_devices;  // and its device
  std::vector<SavedVersion> saved;    // checked before backward runs
  BackwardFunction backward;
  bool released = false;  // set once a backward pass has used (and freed) this entry

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees the chain of entries behind this one iteratively (core/node.cpp), not recursively.
  ~Node();
};

}  // namespace wisp::autograd
