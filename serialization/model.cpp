#include "wisp/serialization/model.h"

#include <map>

#include "wisp/serialization/safetensors.h"
#include "wisp/serialization/state_dict_writer.h"

namespace wisp {
namespace {

// The major part of a version string ("1" of "1.2").
std::string major_version(const std::string& version) { return version.substr(0, version.find('.')); }

}  // namespace

void save(const nn::Module& module, const std::string& path) {
  serialization::SafetensorsWriter writer;
  writer.add_metadata("format", "pt");
  writer.add_metadata("wisp.format_version", kModelFormatVersion);
  try {
    serialization::add_state_dict(writer, module);
    writer.write(path);
  } catch (const Error& error) {
    WISP_FAIL("wisp::save: cannot write the model to ", path, ": ", error.what());
  }
}

void load(nn::Module& module, const std::string& path) {
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
    std::map<std::string, Tensor> names;  // the header is checked; each tensor is read when taken
    for (const serialization::SafetensorsEntry& entry : reader.header().entries) {
      if (checkpoint && entry.name.compare(0, 10, "optimizer.") == 0) continue;
      DType dtype;
      WISP_CHECK(serialization::dtype_from_safetensors(entry.dtype, &dtype), "tensor ", entry.name, " has dtype ",
                 entry.dtype, ", which no wisp model holds (expected F32, I64, I32 or U8)");
      names.emplace(entry.name, Tensor());
    }
    // Modules adopt the tensors read (no copy), and a SparseLinear's indices are freed as soon as
    // its connections are built from them: the file is never held whole beside the model.
    nn::StateLoad load(
        names, [&reader](const std::string& name) { return reader.read(name); }, nullptr);
    module.check_state_dict(load);
    load.finish(module.name());
  } catch (const Error& error) {
    WISP_FAIL("wisp::load: cannot load ", path, ": ", error.what());
  }
}

}  // namespace wisp
