#include "wisp/serialization/model.h"

#include <map>

#include "wisp/serialization/safetensors.h"

namespace wisp {
namespace {

// The major part of a version string ("1" of "1.2").
std::string major_version(const std::string& version) { return version.substr(0, version.find('.')); }

}  // namespace

void save(const nn::Module& module, const std::string& path) {
  serialization::SafetensorsWriter writer;
  writer.add_metadata("format", "pt");
  writer.add_metadata("wisp.format_version", kModelFormatVersion);
  for (const auto& [name, tensor] : module.state_dict()) writer.add(name, tensor.detach());
  try {
    writer.write(path);
  } catch (const Error& error) {
    WISP_FAIL("wisp::save: cannot write the model to ", path, ": ", error.what());
  }
}

void load(nn::Module& module, const std::string& path) {
  std::map<std::string, Tensor> tensors;
  try {
    const serialization::SafetensorsReader reader(path);
    const auto& metadata = reader.header().metadata;
    const auto version = metadata.find("wisp.format_version");
    // Files without the key come from other writers (PyTorch users): their names decide.
    WISP_CHECK(version == metadata.end() || major_version(version->second) == major_version(kModelFormatVersion),
               "expected wisp.format_version ", kModelFormatVersion, " (major ", major_version(kModelFormatVersion),
               ") but the file has ", version == metadata.end() ? std::string() : version->second);
    // A training checkpoint (serialization/checkpoint.h) holds the model under the same names, and
    // the optimizer's state under "optimizer.": its model part loads like a model file.
    const bool checkpoint = metadata.count("wisp.checkpoint_version") != 0;
    for (const serialization::SafetensorsEntry& entry : reader.header().entries) {
      if (checkpoint && entry.name.compare(0, 10, "optimizer.") == 0) continue;
      DType dtype;
      WISP_CHECK(serialization::dtype_from_safetensors(entry.dtype, &dtype), "tensor ", entry.name, " has dtype ",
                 entry.dtype, ", which no wisp model holds (expected F32, I64, I32 or U8)");
      tensors.emplace(entry.name, reader.read(entry.name));
    }
    module.load_state_dict(tensors);
  } catch (const Error& error) {
    WISP_FAIL("wisp::load: cannot load ", path, ": ", error.what());
  }
}

}  // namespace wisp
