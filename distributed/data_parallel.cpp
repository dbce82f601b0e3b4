#include "wisp/distributed/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>

#include "wisp/core/error.h"
#include "wisp/core/factories.h"
#include "wisp/core/storage.h"
#include "wisp/layers/activation_sparsity.h"
#include "wisp/layers/sparse_linear.h"
#include "wisp/serialization/checkpoint.h"

namespace wisp::distributed {
namespace {

// FNV-1a over bytes: a hash of a layer's connections, equal on every rank for equal connections.
uint64_t hash_bytes(const Tensor& tensor, uint64_t hash) {
  const Tensor host = tensor.cpu();
  const auto* bytes = static_cast<const unsigned char*>(host.raw_data());
  for (size_t i = 0; i < host.nbytes(); ++i) {
    hash ^= bytes[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

uint64_t connections_hash(const nn::SparseLinear& layer) {
  const SparseStructure& structure = layer.structure();
  return hash_bytes(structure.column_indices, hash_bytes(structure.row_pointers, 14695981039346656037ull));
}

std::string hexadecimal(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The SparseLinear layers of a model with their dotted names.
std::vector<std::pair<std::string, const nn::SparseLinear*>> sparse_layers(const nn::Module& model) {
  std::vector<std::pair<std::string, const nn::SparseLinear*>> layers;
  for (const auto& [name, module] : model.named_modules())
    if (const auto* layer = dynamic_cast<const nn::SparseLinear*>(module)) layers.emplace_back(name, layer);
  return layers;
}

std::string prefix_of(const std::string& module_name) { return module_name.empty() ? "" : module_name + "."; }

// The rows of every rank's captured batch, gathered in rank order ([rows, width] float32 on the
// CPU), put in the global batch's order: the data loader's shards are interleaved, so rank r's
// sample s was sample s · ranks + r of the global batch. Each sample has rows_per_sample rows.
Tensor in_global_order(const Tensor& gathered, const std::vector<int64_t>& rank_rows,
                       const std::vector<int64_t>& rank_samples, int64_t rows_per_sample) {
  const auto ranks = static_cast<int64_t>(rank_rows.size());
  std::vector<int64_t> rank_offsets(rank_rows.size(), 0);  // of each rank's rows in `gathered`
  for (size_t r = 1; r < rank_rows.size(); ++r) rank_offsets[r] = rank_offsets[r - 1] + rank_rows[r - 1];
  int64_t global_samples = 0;
  for (const int64_t samples : rank_samples) global_samples += samples;
  Tensor ordered = zeros(gathered.shape());
  const size_t sample_floats = static_cast<size_t>(rows_per_sample * gathered.size(1));
  std::vector<int64_t> taken(rank_rows.size(), 0);  // samples of each rank placed so far
  for (int64_t position = 0, placed = 0; placed < global_samples; ++position) {
    const auto r = static_cast<size_t>(position % ranks);
    if (taken[r] >= rank_samples[r]) continue;
    const int64_t source_row = rank_offsets[r] + taken[r] * rows_per_sample;
    std::memcpy(ordered.data<float>() + placed * static_cast<int64_t>(sample_floats),
                gathered.data<float>() + source_row * gathered.size(1), sizeof(float) * sample_floats);
    ++taken[r];
    ++placed;
  }
  return ordered;
}

}  // namespace

DataParallel::DataParallel(nn::Module& model, optim::Optimizer& optimizer, ProcessGroup& group,
                           DataParallelOptions options)
    : model_(model), optimizer_(optimizer), group_(group), options_(options) {
  WISP_CHECK(options.bucket_bytes() >= 4, "DataParallel: expected bucket_bytes >= 4 but got ", options.bucket_bytes());
  compare_across_ranks(structure_fingerprint(), "model structure");
  broadcast_state();
  compare_across_ranks(fingerprint(), "model after the broadcast of rank 0's state");
}

std::string DataParallel::structure_fingerprint() const {
  std::ostringstream text;
  std::vector<std::string> sparse_prefixes;
  for (const auto& [name, layer] : sparse_layers(model_)) {
    text << (name.empty() ? "(model)" : name) << " SparseLinear " << layer->in_features() << "x"
         << layer->out_features() << (layer->bias().defined() ? " bias" : " no-bias")
         << (layer->dynamic() ? " dynamic" : " static") << "\n";
    sparse_prefixes.push_back(prefix_of(name));
  }
  // A k-winners layer's duty cycles exist after its first forward (or a load): rank 0 may have them
  // (a resumed run) where the others do not yet; the broadcast creates them.
  std::vector<std::string> duty_cycle_names;
  for (const auto& [name, module] : model_.named_modules())
    if (dynamic_cast<const nn::ActivationSparsity*>(module) != nullptr) {
      text << (name.empty() ? "(model)" : name) << " ActivationSparsity\n";
      duty_cycle_names.push_back(prefix_of(name) + "duty_cycle");
    }
  for (const auto& [name, tensor] : model_.state_dict()) {
    const bool sparse_tensor = std::any_of(sparse_prefixes.begin(), sparse_prefixes.end(), [&](const std::string& p) {
      return starts_with(name, p) && (name == p + "weights" || name == p + "indices");
    });
    if (sparse_tensor) continue;  // the broadcast gives every rank rank 0's connections
    if (std::find(duty_cycle_names.begin(), duty_cycle_names.end(), name) != duty_cycle_names.end()) continue;
    text << name << " " << tensor.dtype() << " " << tensor.shape() << "\n";
  }
  text << "optimizer " << optimizer_.kind() << " with " << optimizer_.parameters().size() << " parameters\n";
  return text.str();
}

std::string DataParallel::fingerprint() const {
  std::ostringstream text;
  for (const auto& [name, layer] : sparse_layers(model_))
    text << (name.empty() ? "(model)" : name) << " SparseLinear " << layer->in_features() << "x"
         << layer->out_features() << " nnz=" << layer->nnz() << " connections=" << hexadecimal(connections_hash(*layer))
         << "\n";
  for (const auto& [name, tensor] : model_.state_dict())
    text << name << " " << tensor.dtype() << " " << tensor.shape() << "\n";
  return text.str();
}

void DataParallel::compare_across_ranks(const std::string& text, const char* what) {
  const auto start = std::chrono::steady_clock::now();
  Tensor bytes = zeros({static_cast<int64_t>(text.size())}, DType::UInt8);
  if (!text.empty()) std::memcpy(bytes.raw_data(), text.data(), text.size());
  Tensor length = from_vector(std::vector<int64_t>{static_cast<int64_t>(text.size())});
  const Tensor lengths = group_.all_gather(length);
  const Tensor all = group_.all_gather(bytes);
  statistics_.collectives += 2;
  statistics_.bytes_reduced += text.size() + sizeof(int64_t);
  statistics_.communication_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto* all_bytes = static_cast<const char*>(all.raw_data());
  const int64_t* all_lengths = lengths.data<int64_t>();
  std::vector<std::string> texts;
  int64_t offset = 0;
  for (int r = 0; r < group_.size(); ++r) {
    texts.emplace_back(all_bytes + offset, static_cast<size_t>(all_lengths[r]));
    offset += all_lengths[r];
  }
  for (size_t r = 1; r < texts.size(); ++r) {
    if (texts[r] == texts[0]) continue;
    const std::vector<std::string> reference = lines_of(texts[0]), other = lines_of(texts[r]);
    size_t line = 0;
    while (line < reference.size() && line < other.size() && reference[line] == other[line]) ++line;
    const std::string expected = line < reference.size() ? "\"" + reference[line] + "\"" : "nothing more";
    const std::string actual = line < other.size() ? "\"" + other[line] + "\"" : "nothing more";
    WISP_FAIL("DataParallel: the ", what, " differs between rank 0 and rank ", r, " (of ", group_.size(), "): at line ",
              line + 1, " rank 0 has ", expected, " but rank ", r, " has ", actual);
  }
}

void DataParallel::broadcast_state() {
  if (group_.size() == 1) return;
  const auto start = std::chrono::steady_clock::now();
  std::string bytes;
  if (group_.rank() == 0) {
    TrainingState state;
    state.step = optimizer_.steps();
    bytes = checkpoint_bytes(model_, optimizer_, state);
  }
  bytes = group_.broadcast_bytes(bytes, 0);
  // Every rank learns whether every other could load, so that all fail together.
  std::string problem;
  if (group_.rank() != 0) {
    try {
      load_checkpoint_bytes(bytes, model_, optimizer_, "rank 0's training state");
    } catch (const Error& error) {
      problem = error.what();
    }
  }
  Tensor failed = from_vector(std::vector<int32_t>{problem.empty() ? 0 : 1});
  group_.all_reduce(failed, ReduceOp::Max);
  statistics_.collectives += 3;
  statistics_.bytes_reduced += bytes.size();
  statistics_.communication_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WISP_CHECK(failed.item<int32_t>() == 0, "DataParallel: rank ", group_.rank(), " ",
             problem.empty() ? "could load rank 0's state, but another rank could not (its message names why)"
                             : "could not load rank 0's state: " + problem);
}

int64_t DataParallel::rigl_updates() const {
  int64_t updates = 0;
  for (const auto& entry : sparse_layers(model_)) updates += entry.second->rigl_statistics().updates;
  return updates;
}

void DataParallel::check_topology() {
  std::ostringstream text;
  for (const auto& [name, layer] : sparse_layers(model_))
    if (layer->dynamic())
      text << (name.empty() ? "(model)" : name) << " nnz=" << layer->nnz()
           << " connections=" << hexadecimal(connections_hash(*layer)) << "\n";
  compare_across_ranks(text.str(), "connectivity of the dynamic SparseLinear layers");
}

void DataParallel::step(int64_t local_samples) {
  synchronize(local_samples);
  optimizer_step();
}

void DataParallel::optimizer_step() {
  const int64_t updates_before = rigl_updates();
  optimizer_.step();
  if (rigl_updates() != updates_before) check_topology();
}

void DataParallel::synchronize(int64_t local_samples) {
  WISP_CHECK(local_samples >= 0, "DataParallel::synchronize: expected a local sample count >= 0 but got ",
             local_samples);
  if (group_.size() == 1) {  // one process: its gradient is the global batch's already
    ++statistics_.synchronizations;
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  const int64_t ranks = group_.size(), rank = group_.rank();
  const std::vector<Tensor>& parameters = optimizer_.parameters();

  std::vector<nn::ActivationSparsity*> winners;
  std::vector<std::pair<std::string, nn::SparseLinear*>> growing;  // grow by gradient at this step
  for (const auto& [name, module] : model_.named_modules()) {
    if (auto* layer = dynamic_cast<nn::ActivationSparsity*>(module)) winners.push_back(layer);
    if (auto* layer = dynamic_cast<nn::SparseLinear*>(module))
      if (layer->rigl_schedule() && layer->rigl_schedule()->next_step_grows_by_gradient())
        growing.emplace_back(name, layer);
  }
  std::vector<std::pair<Tensor, Tensor>> captured;
  for (const auto& entry : growing) captured.push_back(entry.second->rigl_schedule()->captured_batch());

  // 1. What each rank has: sample counts (one slot per rank), which parameters have a gradient,
  // which duty cycles exist, and the rows of each captured batch (one slot per rank).
  const int64_t parameter_count = static_cast<int64_t>(parameters.size());
  const int64_t winner_count = static_cast<int64_t>(winners.size());
  const int64_t counts_at = 0, gradients_at = ranks, duties_at = gradients_at + parameter_count,
                rows_at = duties_at + winner_count;
  Tensor census = zeros({rows_at + ranks * static_cast<int64_t>(growing.size())});
  float* slots = census.data<float>();
  slots[counts_at + rank] = static_cast<float>(local_samples);
  for (int64_t i = 0; i < parameter_count; ++i)
    slots[gradients_at + i] = parameters[static_cast<size_t>(i)].grad().defined() ? 1.0f : 0.0f;
  for (int64_t j = 0; j < winner_count; ++j)
    slots[duties_at + j] = winners[static_cast<size_t>(j)]->duty_cycle().defined() ? 1.0f : 0.0f;
  for (size_t k = 0; k < growing.size(); ++k)
    slots[rows_at + static_cast<int64_t>(k) * ranks + rank] = static_cast<float>(captured[k].first.size(0));
  const auto census_start = std::chrono::steady_clock::now();
  group_.all_reduce(census, ReduceOp::Sum);
  const auto census_end = std::chrono::steady_clock::now();
  statistics_.waiting_seconds += std::chrono::duration<double>(census_end - census_start).count();
  statistics_.collectives += 1;
  statistics_.bytes_reduced += census.nbytes();
  statistics_.bytes_synchronized += census.nbytes();
  slots = census.data<float>();

  std::vector<int64_t> rank_samples(static_cast<size_t>(ranks));
  int64_t global_samples = 0;
  for (int64_t r = 0; r < ranks; ++r) {
    rank_samples[static_cast<size_t>(r)] = static_cast<int64_t>(slots[counts_at + r]);
    global_samples += rank_samples[static_cast<size_t>(r)];
  }
  if (global_samples > 0) {
    const float weight = static_cast<float>(local_samples) / static_cast<float>(global_samples);

    // 2. The tensors to combine, in a fixed order: gradients, then duty cycles (float32, contiguous).
    std::vector<Tensor> entries;
    for (int64_t i = 0; i < parameter_count; ++i) {
      if (slots[gradients_at + i] == 0.0f) continue;  // no rank has a gradient
      const Tensor& parameter = parameters[static_cast<size_t>(i)];
      if (!parameter.grad().defined()) parameter.set_grad(zeros_like(parameter));
      entries.push_back(parameter.grad());
    }
    for (int64_t j = 0; j < winner_count; ++j) {
      const float present = slots[duties_at + j];
      if (present == 0.0f) continue;
      WISP_CHECK(present == static_cast<float>(ranks), "DataParallel: a k-winners layer has duty cycles on ", present,
                 " of ", ranks, " ranks (they are created by its first forward): give it ",
                 "ActivationSparsityOptions().units(n) so that every rank has them from the start");
      entries.push_back(winners[static_cast<size_t>(j)]->duty_cycle());
    }

    // 3. Buckets over the concatenation of the entries, on their device when they share one (a GPU
    // model's buckets stay on the GPU and go through NCCL): copied in, weighted (the weight already
    // divides by the global count), summed across the ranks, copied back.
    int64_t total = 0;
    bool one_device = true;
    for (const Tensor& entry : entries) {
      total += entry.numel();
      one_device = one_device && entry.device() == entries.front().device();
    }
    const Device bucket_device = !entries.empty() && one_device ? entries.front().device() : Device::cpu();
    const int64_t bucket_elements = std::max<int64_t>(1, options_.bucket_bytes() / 4);
    // Copies the part of the concatenation in [bucket_start, bucket_end) between the entries and
    // the bucket, in either direction.
    const auto transfer = [&](const Tensor& bucket, int64_t bucket_start, int64_t bucket_end, bool into_bucket) {
      int64_t offset = 0;  // of the current entry in the concatenation
      for (const Tensor& entry : entries) {
        const int64_t begin = std::max(offset, bucket_start), end = std::min(offset + entry.numel(), bucket_end);
        if (begin < end) {
          float* in_bucket = static_cast<float*>(bucket.raw_data()) + (begin - bucket_start);
          float* in_entry = static_cast<float*>(entry.raw_data()) + (begin - offset);
          const auto bytes = static_cast<size_t>(end - begin) * sizeof(float);
          if (into_bucket) copy_bytes(in_bucket, bucket.device(), in_entry, entry.device(), bytes);
          else copy_bytes(in_entry, entry.device(), in_bucket, bucket.device(), bytes);
        }
        offset += entry.numel();
      }
    };
    Tensor bucket;
    for (int64_t bucket_start = 0; bucket_start < total; bucket_start += bucket_elements) {
      const int64_t bucket_end = std::min(total, bucket_start + bucket_elements);
      if (!bucket.defined() || bucket.numel() != bucket_end - bucket_start)
        bucket = zeros({bucket_end - bucket_start}, TensorOptions(DType::Float32).device(bucket_device));
      transfer(bucket, bucket_start, bucket_end, true);
      bucket.mul_(static_cast<double>(weight));
      group_.all_reduce(bucket, ReduceOp::Sum);
      statistics_.collectives += 1;
      statistics_.bytes_reduced += bucket.nbytes();
      statistics_.bytes_synchronized += bucket.nbytes();
      transfer(bucket, bucket_start, bucket_end, false);
    }

    // 4. RigL: every rank grows from the global batch, its rows in the global batch's order.
    for (size_t k = 0; k < growing.size(); ++k) {
      const Tensor input = captured[k].first.cpu();
      Tensor gradient = captured[k].second.cpu().clone();
      gradient.mul_(static_cast<double>(weight));  // per sample 1 / the global count, as one process has
      const Tensor all_inputs = group_.all_gather(input);
      const Tensor all_gradients = group_.all_gather(gradient);
      statistics_.collectives += 2;
      statistics_.bytes_reduced += input.nbytes() + gradient.nbytes();
      statistics_.bytes_synchronized += input.nbytes() + gradient.nbytes();
      std::vector<int64_t> rank_rows(static_cast<size_t>(ranks));
      for (int64_t r = 0; r < ranks; ++r)
        rank_rows[static_cast<size_t>(r)] = static_cast<int64_t>(slots[rows_at + static_cast<int64_t>(k) * ranks + r]);
      // Rows per sample: the same k on every rank puts rank r's sample s at global position
      // s · ranks + r (the data loader's interleaved shards); otherwise the rank order stays.
      int64_t rows_per_sample = -1;
      bool interleave = true;
      for (int64_t r = 0; r < ranks && interleave; ++r) {
        const int64_t samples = rank_samples[static_cast<size_t>(r)], rows = rank_rows[static_cast<size_t>(r)];
        if (samples == 0) {
          interleave = rows == 0;
          continue;
        }
        if (rows % samples != 0) interleave = false;
        else if (rows_per_sample < 0) rows_per_sample = rows / samples;
        else if (rows / samples != rows_per_sample) interleave = false;
      }
      Tensor ordered_inputs = all_inputs, ordered_gradients = all_gradients;
      if (interleave && rows_per_sample > 0) {
        ordered_inputs = in_global_order(all_inputs, rank_rows, rank_samples, rows_per_sample);
        ordered_gradients = in_global_order(all_gradients, rank_rows, rank_samples, rows_per_sample);
      }
      const Device device = growing[k].second->weights().device();
      growing[k].second->rigl_schedule()->replace_captured_batch(ordered_inputs.to(device),
                                                                 ordered_gradients.to(device));
    }
  }
  ++statistics_.synchronizations;
  const auto end = std::chrono::steady_clock::now();
  statistics_.exchange_seconds += std::chrono::duration<double>(end - census_end).count();
  statistics_.communication_seconds += std::chrono::duration<double>(end - start).count();
}

}  // namespace wisp::distributed
