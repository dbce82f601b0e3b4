// Model files: wisp::save and wisp::load write and read a module's tensors as one safetensors file
// (serialization/safetensors.h) named as the equivalent PyTorch model's state_dict, so that
// PyTorch reads wisp's files and wisp reads PyTorch's (docs/serialization.md has both recipes).
//
//   wisp::save(model, "model.safetensors");
//   nn::Sequential copy = make_model();      // the same architecture, any initialisation
//   wisp::load(copy, "model.safetensors");   // now computes what `model` computes
//
// Names: Module::state_dict() — dotted module paths, Sequential children by index ("1.weight"),
// Linear and LayerNorm as weight/bias, SparseLinear as the seed package stores itself (weights
// [nnz], indices Int64 [2, nnz], bias), buffers such as k-winners' duty_cycle too. Metadata:
// {"format": "pt", "wisp.format_version": "1"}. The same state always gives the same bytes.
#pragma once

#include <string>

#include "wisp/layers/module.h"

namespace wisp {

// The version of the model file layout; load() refuses files of another major version.
constexpr const char* kModelFormatVersion = "1";

// Writes the module's state_dict() to `path`, crash-safely (the file holds either its old contents
// or the complete new file). Tensors on any device are read back as they are written.
void save(const nn::Module& module, const std::string& path);

// Loads `path` into the module (Module::load_state_dict): all or nothing. A missing, unexpected or
// mismatched tensor, an invalid SparseLinear connectivity, a malformed file or an unknown major
// wisp.format_version throws wisp::Error naming the file, and the module is left unchanged.
// SparseLinear layers take the file's connections (their nnz may change). A training checkpoint
// (serialization/checkpoint.h) loads too: its model part, leaving out the optimizer's state.
void load(nn::Module& module, const std::string& path);

}  // namespace wisp
