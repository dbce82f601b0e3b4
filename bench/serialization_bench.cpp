// Saving and loading a large model: file sizes, times and the memory each operation adds beyond
// the model itself.
//
//   serialization_bench [--folder DIR] [--width 50000] [--sparsity 0.999] [--threads N]
//
// The model is mnist_train's `wide` (apps/models.cpp) in a Sequential: SparseLinear(7840, W),
// then four times LayerNorm(W), ReLU, SparseLinear(W, W), every SparseLinear at the given sparsity.
// One SGD step (Nesterov momentum 0.9, as `wide` trains) on a batch of one gives the optimizer its
// momentum buffers, so that the checkpoint is as large as a real one. Each operation is timed once
// (wall and process CPU time) and its extra memory is the peak resident set during it (VmHWM, reset
// through /proc/self/clear_refs before it) minus the resident set before it, with wisp's CPU
// allocator cache emptied before each, so that freed blocks it kept do not hide new allocations.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>

#include <wisp/wisp.h>
#include <CLI/CLI.hpp>

using namespace wisp;

namespace {

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1 when the kernel has none.
int64_t status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

// Resets VmHWM to the current resident set (Linux 4.0 and later); false when the kernel refuses.
bool reset_peak() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

double megabytes(double bytes) { return bytes / 1e6; }

uint64_t file_size(const std::string& path) {
  struct stat status {};
  WISP_CHECK(::stat(path.c_str(), &status) == 0, "cannot stat ", path);
  return static_cast<uint64_t>(status.st_size);
}

// Runs `operation` and prints its wall and CPU time, resident set before and peak above it.
void measure(const std::string& what, const std::function<void()>& operation) {
  empty_cpu_cache();
  const bool peak_reset = reset_peak();
  const int64_t before = status_kib("VmRSS");
  const double cpu_start = process_cpu_seconds();
  const auto wall_start = std::chrono::steady_clock::now();
  operation();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double cpu = process_cpu_seconds() - cpu_start;
  const int64_t peak = status_kib("VmHWM");
  std::printf("%-16s %8.2f s wall %8.2f s cpu   rss before %8.1f MB   peak %8.1f MB   peak - before %8.1f MB%s\n",
              what.c_str(), wall, cpu, megabytes(before * 1024.0), megabytes(peak * 1024.0),
              megabytes((peak - before) * 1024.0), peak_reset ? "" : "   (VmHWM not reset: peak since start)");
}

nn::Sequential make_model(int64_t width, double sparsity) {
  const nn::SparseLinearOptions options = nn::SparseLinearOptions().sparsity(sparsity);
  nn::Sequential model;
  model.push_back(nn::SparseLinear(10 * 28 * 28, width, options));
  for (int layer = 0; layer < 4; ++layer) {
    model.push_back(nn::LayerNorm(width));
    model.push_back(nn::ReLU());
    model.push_back(nn::SparseLinear(width, width, options));
  }
  return model;
}

optim::SGD make_optimizer(nn::Module& model) {
  return optim::SGD(model.parameters(), optim::SGDOptions(5e-5).momentum(0.9).nesterov(true));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times saving and loading the wide model (file sizes, seconds, peak memory)"};
  std::string folder = "/tmp";
  int64_t width = 50000;
  double sparsity = 0.999;
  int threads = 0;
  app.add_option("--folder", folder, "Folder for the files (removed afterwards)");
  app.add_option("--width", width, "Width of the SparseLinear layers")
      ->check(CLI::Range(int64_t{10}, int64_t{1} << 20));
  app.add_option("--sparsity", sparsity, "Sparsity of every SparseLinear layer")->check(CLI::Range(0.0, 0.9999999));
  app.add_option("--threads", threads, "Threads (0: the default)")->check(CLI::Range(0, 1024));
  CLI11_PARSE(app, argc, argv);
  try {
    if (threads > 0) set_num_threads(threads);
    const std::string model_path = folder + "/serialization_bench_model.safetensors";
    const std::string checkpoint_path = folder + "/serialization_bench_checkpoint.safetensors";
    manual_seed(0);

    std::printf("rss at start %.1f MB\n", megabytes(status_kib("VmRSS") * 1024.0));
    nn::Sequential model;
    measure("build model", [&] { model = make_model(width, sparsity); });
    optim::SGD optimizer = make_optimizer(model);
    measure("one SGD step", [&] {
      Tensor loss = model(randn({1, 10 * 28 * 28})).sum();
      loss.backward();
      optimizer.step();
      optimizer.zero_grad();
    });

    uint64_t parameter_bytes = 0, buffer_bytes = 0, state_bytes = 0, optimizer_bytes = 0;
    for (const Tensor& parameter : model.parameters()) parameter_bytes += parameter.nbytes();
    for (const auto& [name, buffer] : model.named_buffers()) buffer_bytes += buffer.nbytes();
    for (const auto& [name, tensor] : model.state_dict()) state_bytes += tensor.nbytes();
    for (const optim::ParameterState& state : optimizer.state().parameters)
      for (const auto& [name, tensor] : state.tensors) optimizer_bytes += tensor.nbytes();
    int64_t connections = 0;
    for (size_t i = 0; i < model.size(); i += 3) connections += model.at<nn::SparseLinear>(i).weights().numel();
    std::printf("connections %lld; parameters %.1f MB, buffers %.1f MB, state_dict %.1f MB, optimizer state %.1f MB\n",
                static_cast<long long>(connections), megabytes(parameter_bytes), megabytes(buffer_bytes),
                megabytes(state_bytes), megabytes(optimizer_bytes));

    measure("save", [&] { save(model, model_path); });
    measure("load", [&] { load(model, model_path); });
    TrainingState state;
    state.epoch = 1;
    state.step = optimizer.steps();
    measure("save_checkpoint", [&] { save_checkpoint(checkpoint_path, model, optimizer, state); });
    measure("load_checkpoint", [&] { load_checkpoint(checkpoint_path, model, optimizer); });
    std::printf("model file %.1f MB, checkpoint %.1f MB\n", megabytes(file_size(model_path)),
                megabytes(file_size(checkpoint_path)));
    ::unlink(model_path.c_str());
    ::unlink(checkpoint_path.c_str());
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "serialization_bench: " << error.what() << "\n";
    return 1;
  }
}
