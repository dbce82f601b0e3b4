// Training checkpoints: one safetensors file holding everything a run needs to continue bit for
// bit — the model, the optimizer's options and state, RigL's counters, the default random
// generator and the caller's epoch and step (docs/serialization.md has the layout).
//
//   wisp::TrainingState state;
//   state.epoch = epoch;
//   state.step = optimizer.steps();
//   wisp::save_checkpoint("checkpoint.safetensors", model, optimizer, state);
//   ...                                   // a new process builds the same model and optimizer, then
//   wisp::TrainingState restored = wisp::load_checkpoint("checkpoint.safetensors", model, optimizer);
//
// The model's tensors keep their state_dict names (Module::state_dict), so wisp::load and PyTorch
// read the model part of a checkpoint as a model file. Optimizer state tensors are named
// "optimizer.state.<parameter name>.<state name>" ("optimizer.state.1.weights.exp_avg"); every
// scalar (options, counters, generator, epoch and step) is a decimal string in the metadata.
// What a checkpoint does not hold is the caller's: its data loader's position (wisp's loaders
// shuffle from their seed, so a loader built afresh per epoch needs only the epoch), logs, and
// the train()/eval() mode.
#pragma once

#include <cstdint>
#include <string>

#include "wisp/layers/module.h"
#include "wisp/optim/optimizer.h"

namespace wisp {

// The version of the checkpoint layout; load_checkpoint refuses files of another major version.
constexpr const char* kCheckpointFormatVersion = "1";

// The caller's counters, saved and given back as they are.
struct TrainingState {
  int64_t epoch = 0;  // e.g. the number of finished epochs
  int64_t step = 0;   // e.g. optimizer.steps()
};

// Writes a checkpoint of `model`, `optimizer` (whose parameters must be parameters of `model`),
// the default generator (core/random.h) and `state` to `path`, crash-safely (the file holds either
// its old contents or the complete new checkpoint). Call it between optimizer steps: a dynamic
// SparseLinear whose RigL update waits for the optimizer step refuses. The same state always gives
// the same bytes. Throws wisp::Error naming the file.
void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     const TrainingState& state);

// Loads `path` into `model`, `optimizer` and the default generator, replacing their state (never
// merging: loading the same file twice gives the same state), and returns the caller's counters.
// All or nothing: the whole file is validated first — the container (serialization/safetensors.h),
// the versions, the model's tensors and counters (missing and unexpected ones listed, PyTorch's
// "size mismatch" wording), the optimizer's kind, options and state — and on any problem a
// wisp::Error names the file and every problem found, and nothing has changed.
TrainingState load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer);

// The same checkpoint in memory: the bytes save_checkpoint would write, and their load (as
// load_checkpoint; `source` names them in errors). Data parallelism (distributed/data_parallel.h)
// broadcasts rank 0's training state this way.
std::string checkpoint_bytes(const nn::Module& model, const optim::Optimizer& optimizer, const TrainingState& state);
TrainingState load_checkpoint_bytes(const std::string& bytes, nn::Module& model, optim::Optimizer& optimizer,
                                    const std::string& source = "checkpoint bytes");

}  // namespace wisp
