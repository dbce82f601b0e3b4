// Writing a module's state_dict() without holding it whole: model files and checkpoints add each
// state tensor to a SafetensorsWriter as a tensor produced when it is written. A module's own
// tensors are handles on its parameters and buffers, except those it computes for the file (a
// SparseLinear's COO indices, [2, nnz] int64: 16 bytes per connection against the 4 of its weights);
// those exist one module at a time while the file is written, instead of all at once beside the
// model.
#pragma once

#include <functional>
#include <string>

#include "wisp/layers/module.h"
#include "wisp/serialization/safetensors.h"

namespace wisp::serialization {

// Adds every tensor of module.state_dict(), under its name, to `writer`. `check_name` (if set) is
// called with each name first and may throw to refuse it. The module must outlive the writer's
// writes and keep its state's dtypes and shapes until then.
void add_state_dict(SafetensorsWriter& writer, const nn::Module& module,
                    const std::function<void(const std::string&)>& check_name = {});

}  // namespace wisp::serialization
