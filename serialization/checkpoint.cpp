#include "wisp/serialization/checkpoint.h"

#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "wisp/core/factories.h"
#include "wisp/core/random.h"
#include "wisp/serialization/model.h"
#include "wisp/serialization/safetensors.h"
#include "wisp/serialization/state_dict_writer.h"

namespace wisp {
namespace {

// Names of the file: model tensors keep their state_dict names; everything else lives under these
// prefixes, which no model name may start with.
const std::string kOptimizerPrefix = "optimizer.";
const std::string kOptimizerStatePrefix = "optimizer.state.";
const std::string kOptimizerOptionPrefix = "optimizer.options.";
const std::string kModelCounterPrefix = "model.";

std::string major_version(const std::string& version) { return version.substr(0, version.find('.')); }

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The name of each of the optimizer's parameters in the model (named_parameters).
std::vector<std::string> parameter_names(const nn::Module& model, const optim::Optimizer& optimizer) {
  std::map<const void*, std::string> names;
  for (const auto& [name, tensor] : model.named_parameters()) names.emplace(tensor.impl().get(), name);
  std::vector<std::string> result;
  const std::vector<Tensor>& parameters = optimizer.parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto found = names.find(parameters[i].impl().get());
    WISP_CHECK(found != names.end(), "the optimizer's parameter ", i, " (shape ", parameters[i].shape(),
               ") is not a parameter of the model");
    result.push_back(found->second);
  }
  return result;
}

// A decimal string of digits only, as save_checkpoint writes counters: no sign, no spaces, no
// overflow.
uint64_t parse_unsigned(const std::string& key, const std::string& text) {
  WISP_CHECK(!text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos,
             "metadata ", key, ": expected a decimal count but got \"", text, "\"");
  uint64_t value = 0;
  for (const char digit : text) {
    const auto d = static_cast<uint64_t>(digit - '0');
    WISP_CHECK(value <= (std::numeric_limits<uint64_t>::max() - d) / 10, "metadata ", key, ": the count ", text,
               " does not fit 64 bits");
    value = value * 10 + d;
  }
  return value;
}

int64_t parse_count(const std::string& key, const std::string& text) {
  const uint64_t value = parse_unsigned(key, text);
  WISP_CHECK(value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "metadata ", key, ": the count ",
             text, " is above the largest int64");
  return static_cast<int64_t>(value);
}

// The metadata of a checkpoint, each key taken once; what no one takes under a checkpoint prefix is
// unexpected.
class Metadata {
 public:
  explicit Metadata(const std::map<std::string, std::string>& entries) : entries_(entries) {}

  const std::string& take(const std::string& key) {
    const auto found = entries_.find(key);
    WISP_CHECK(found != entries_.end(), "expected the metadata ", key, " but the file has none");
    used_.insert(key);
    return found->second;
  }
  // The keys that start with `prefix`, not yet taken.
  std::vector<std::string> keys_with(const std::string& prefix) const {
    std::vector<std::string> keys;
    for (auto it = entries_.lower_bound(prefix); it != entries_.end() && starts_with(it->first, prefix); ++it)
      if (used_.count(it->first) == 0) keys.push_back(it->first);
    return keys;
  }

 private:
  const std::map<std::string, std::string>& entries_;
  std::set<std::string> used_;
};

std::string listed(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "\"" : ", \"") + name + "\"";
  return text;
}

// Everything a checkpoint holds, as a writer (the tensors are handles, read when it writes).
void fill_checkpoint_writer(serialization::SafetensorsWriter& writer, const nn::Module& model,
                            const optim::Optimizer& optimizer, const TrainingState& state) {
  {
    WISP_CHECK(state.epoch >= 0 && state.step >= 0, "expected an epoch and a step >= 0 but got epoch ", state.epoch,
               " and step ", state.step);
    writer.add_metadata("format", "pt");
    writer.add_metadata("wisp.format_version", kModelFormatVersion);
    writer.add_metadata("wisp.checkpoint_version", kCheckpointFormatVersion);
    writer.add_metadata("training.epoch", std::to_string(state.epoch));
    writer.add_metadata("training.step", std::to_string(state.step));
    const Generator& generator = default_generator();
    writer.add_metadata("generator.seed", std::to_string(generator.seed()));
    writer.add_metadata("generator.offset", std::to_string(generator.offset()));

    serialization::add_state_dict(writer, model, [](const std::string& name) {
      WISP_CHECK(!starts_with(name, kOptimizerPrefix), "the model's tensor ", name, " starts with \"", kOptimizerPrefix,
                 "\", which checkpoints keep for the optimizer's state");
    });
    for (const auto& [name, value] : model.counter_dict())
      writer.add_metadata(kModelCounterPrefix + name, std::to_string(value));

    const std::vector<std::string> names = parameter_names(model, optimizer);
    const optim::OptimizerState optimizer_state = optimizer.state();
    writer.add_metadata("optimizer.kind", optimizer_state.kind);
    writer.add_metadata("optimizer.steps", std::to_string(optimizer_state.steps));
    for (const auto& [key, value] : optimizer_state.options) writer.add_metadata(kOptimizerOptionPrefix + key, value);
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string prefix = kOptimizerStatePrefix + names[i] + ".";
      for (const auto& [name, tensor] : optimizer_state.parameters[i].tensors)
        writer.add(prefix + name, tensor.detach());
      for (const auto& [name, count] : optimizer_state.parameters[i].counters)
        writer.add_metadata(prefix + name, std::to_string(count));
    }
  }
}

// Loads a checkpoint given its validated header and a reader of its tensors.
TrainingState load_checkpoint_from(const serialization::SafetensorsHeader& header,
                                   const std::function<Tensor(const std::string&)>& read, nn::Module& model,
                                   optim::Optimizer& optimizer) {
  {
    Metadata metadata(header.metadata);
    WISP_CHECK(header.metadata.count("wisp.checkpoint_version") != 0,
               "expected a training checkpoint (metadata wisp.checkpoint_version) but the file has no "
               "wisp.checkpoint_version (a model file? wisp::load reads those)");
    const std::string& checkpoint_version = metadata.take("wisp.checkpoint_version");
    WISP_CHECK(major_version(checkpoint_version) == major_version(kCheckpointFormatVersion),
               "expected wisp.checkpoint_version ", kCheckpointFormatVersion, " (major ",
               major_version(kCheckpointFormatVersion), ") but the file has ", checkpoint_version);
    const std::string& model_version = metadata.take("wisp.format_version");
    WISP_CHECK(major_version(model_version) == major_version(kModelFormatVersion), "expected wisp.format_version ",
               kModelFormatVersion, " (major ", major_version(kModelFormatVersion), ") but the file has ",
               model_version);

    TrainingState state;
    state.epoch = parse_count("training.epoch", metadata.take("training.epoch"));
    state.step = parse_count("training.step", metadata.take("training.step"));
    const uint64_t generator_seed = parse_unsigned("generator.seed", metadata.take("generator.seed"));
    const uint64_t generator_offset = parse_unsigned("generator.offset", metadata.take("generator.offset"));

    // The optimizer's tensors, read; the model's, named (each is read when its module takes it).
    std::map<std::string, Tensor> model_tensors, optimizer_tensors;
    for (const serialization::SafetensorsEntry& entry : header.entries) {
      DType dtype;
      WISP_CHECK(serialization::dtype_from_safetensors(entry.dtype, &dtype), "tensor ", entry.name, " has dtype ",
                 entry.dtype, ", which no wisp model or optimizer holds (expected F32, I64, I32 or U8)");
      if (starts_with(entry.name, kOptimizerPrefix)) optimizer_tensors.emplace(entry.name, read(entry.name));
      else model_tensors.emplace(entry.name, Tensor());
    }
    std::map<std::string, uint64_t> model_counters;
    for (const std::string& key : metadata.keys_with(kModelCounterPrefix))
      model_counters.emplace(key.substr(kModelCounterPrefix.size()), parse_unsigned(key, metadata.take(key)));

    // The optimizer's state by parameter name.
    const std::vector<std::string> names = parameter_names(model, optimizer);
    optim::OptimizerState optimizer_state;
    optimizer_state.kind = metadata.take("optimizer.kind");
    optimizer_state.steps = parse_count("optimizer.steps", metadata.take("optimizer.steps"));
    for (const std::string& key : metadata.keys_with(kOptimizerOptionPrefix))
      optimizer_state.options.emplace(key.substr(kOptimizerOptionPrefix.size()), metadata.take(key));
    std::vector<Shape> shapes;  // the shapes the parameters will have once the model is loaded
    const std::vector<Tensor>& parameters = optimizer.parameters();
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string prefix = kOptimizerStatePrefix + names[i] + ".";
      optim::ParameterState parameter_state;
      for (auto it = optimizer_tensors.lower_bound(prefix);
           it != optimizer_tensors.end() && starts_with(it->first, prefix);) {
        const std::string name = it->first.substr(prefix.size());
        if (name.find('.') != std::string::npos) {  // a parameter whose name extends this one's
          ++it;
          continue;
        }
        parameter_state.tensors.emplace(name, it->second);
        it = optimizer_tensors.erase(it);
      }
      for (const std::string& key : metadata.keys_with(prefix)) {
        const std::string name = key.substr(prefix.size());
        if (name.find('.') == std::string::npos)
          parameter_state.counters.emplace(name, parse_count(key, metadata.take(key)));
      }
      optimizer_state.parameters.push_back(std::move(parameter_state));
      const serialization::SafetensorsEntry* model_tensor = header.find(names[i]);
      shapes.push_back(model_tensor != nullptr ? Shape(model_tensor->shape) : parameters[i].shape());
    }
    // Everything is checked before anything changes.
    // Modules adopt the tensors read (no copies); a SparseLinear's indices live only while it checks them.
    nn::StateLoad load(model_tensors, read, &model_counters);
    model.check_state_dict(load);
    load.check(model.name());
    // After the model's check, so that a checkpoint of another model is refused for its tensors'
    // names rather than for its optimizer state's, which follow them.
    std::vector<std::string> unexpected;
    for (const auto& entry : optimizer_tensors) unexpected.push_back(entry.first);
    for (const std::string& key : metadata.keys_with(kOptimizerPrefix)) unexpected.push_back(key);
    for (const std::string& key : metadata.keys_with("training.")) unexpected.push_back(key);
    for (const std::string& key : metadata.keys_with("generator.")) unexpected.push_back(key);
    WISP_CHECK(unexpected.empty(), "unexpected optimizer or training state (no parameter of this optimizer has ",
               "that name, or no such state exists): ", listed(unexpected));

    const std::function<void()> install_optimizer_state = optimizer.prepare_load_state(optimizer_state, shapes, names);
    load.apply();
    install_optimizer_state();
    default_generator().set_state(generator_seed, generator_offset);
    return state;
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& optimizer,
                     const TrainingState& state) {
  try {
    serialization::SafetensorsWriter writer;
    fill_checkpoint_writer(writer, model, optimizer, state);
    writer.write(path);
  } catch (const Error& error) {
    WISP_FAIL("wisp::save_checkpoint: cannot save a checkpoint to ", path, ": ", error.what());
  }
}

std::string checkpoint_bytes(const nn::Module& model, const optim::Optimizer& optimizer, const TrainingState& state) {
  try {
    serialization::SafetensorsWriter writer;
    fill_checkpoint_writer(writer, model, optimizer, state);
    return writer.to_bytes();
  } catch (const Error& error) {
    WISP_FAIL("wisp::checkpoint_bytes: cannot make a checkpoint: ", error.what());
  }
}

TrainingState load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer) {
  try {
    const serialization::SafetensorsReader reader(path);
    return load_checkpoint_from(
        reader.header(), [&reader](const std::string& name) { return reader.read(name); }, model, optimizer);
  } catch (const Error& error) {
    WISP_FAIL("wisp::load_checkpoint: cannot load ", path, ": ", error.what());
  }
}

TrainingState load_checkpoint_bytes(const std::string& bytes, nn::Module& model, optim::Optimizer& optimizer,
                                    const std::string& source) {
  try {
    const serialization::SafetensorsHeader header = serialization::parse_file_bytes(bytes, source);
    const auto read = [&](const std::string& name) {
      const serialization::SafetensorsEntry* entry = header.find(name);
      WISP_CHECK(entry != nullptr, source, ": no tensor named \"", name, "\"");
      DType dtype;
      WISP_CHECK(serialization::dtype_from_safetensors(entry->dtype, &dtype), source, ": tensor \"", name,
                 "\" has dtype ", entry->dtype, ", which wisp does not hold (it reads F32, I64, I32 and U8)");
      Tensor tensor = empty(Shape(entry->shape), TensorOptions(dtype));
      if (entry->nbytes() > 0)
        std::memcpy(tensor.raw_data(), bytes.data() + header.data_offset() + entry->begin, entry->nbytes());
      return tensor;
    };
    return load_checkpoint_from(header, read, model, optimizer);
  } catch (const Error& error) {
    WISP_FAIL("wisp::load_checkpoint_bytes: cannot load ", source, ": ", error.what());
  }
}

}  // namespace wisp
