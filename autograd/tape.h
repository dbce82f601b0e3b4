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
// gradient per input. Does nothing (and returns `output`) unless needs_recording(inputs).
// Marks output as requiring grad and points it at the new entry.
//
// `saved` lists the tensors whose values `backward` reads (undefined ones are skipped): their
// storage versions are noted now, and backward throws if one was updated in place since
// (x.mul_(10) between the forward and backward() would otherwise give a silently wrong gradient).
Tensor record(const char* name, const Tensor& output, const std::vector<Tensor>& inputs, BackwardFunction backward,
              const std::vector<Tensor>& saved = {});

// Runs the tape backwards from `root` (see above). `gradient` defaults to 1 for one-element roots.
void run_backward(const Tensor& root, const Tensor& gradient);

}  // namespace wisp::autograd
