#!/usr/bin/env bash
# Checks wisp's CUDA backend on a machine with an NVIDIA GPU, nvcc and the build dependencies
# (scripts/setup_dependencies.sh), then prints a report.
#
#   bash scripts/gpu_check.sh [--prefix DIR] [--data DIR]
#
# Steps, each under `timeout`; a step that fails is reported and the check goes on with the next:
#   configure   build/gpu with the CUDA backend, for the GPU's architecture (nvidia-smi's compute
#               capability, 90 when it cannot tell; CMAKE_CUDA_ARCHITECTURES in the environment wins)
#   build       the [cuda] tests, mnist_train and sparse_bench
#   ctest -L cuda                        every CUDA twin against its CPU twin
#   sparse_bench --device cuda           wisp's SparseLinear beside cuSPARSE and cuBLAS
#   mnist_train --device cuda            one epoch of `dense` on the GPU and the same epoch on the CPU
#                                        (same seed: the training losses must agree within 1e-3),
#                                        one of `sparse`, and `wide` on the first 6400 images
#   bench/sparse_bench.py --device cuda  PyTorch on the same GPU; only when python3 (or
#                                        /usr/bin/python3) has a PyTorch that sees the GPU
# Without a GPU (no nvidia-smi, or it lists none) the build still runs and every step that needs a
# GPU is reported as skipped. The exit status is 1 when a step failed, timed out or was cut by the
# deadline, or the parity goal was missed; 2 for a bad argument.
#
# The report (GPU, driver, nvcc, the commit, what CMake found, each step's status and time, the test
# counts, the benchmark tables, the epoch lines and the parity numbers) goes to stdout and to
# $OUT/report.txt, beside each step's full log: build.log, ctest.log, sparse_bench.txt, mnist.txt and
# bench_sparse.txt.
#
# Options:
#   --prefix DIR  also look for the dependencies in DIR (CMAKE_PREFIX_PATH), and for MNIST in
#                 DIR/mnist when the MNIST folder is absent: a folder made by
#                 scripts/vendor_dependencies.sh, for a machine without internet access
#   --data DIR    the MNIST folder (default: datasets/mnist; fetch with scripts/fetch_mnist.sh)
#   -h, --help    this text
#
# Environment: OUT (default build/gpu-check), BUILD_DIR (default build/gpu), JOBS (build jobs;
# default all cores), DEADLINE_SECONDS (default 3600: a step that would start with under 30 s left is
# skipped, and the build gets at most 70% of it so that the GPU steps keep their time),
# CMAKE_CUDA_ARCHITECTURES, CMAKE_PREFIX_PATH (read by CMake itself), GPU_CHECK_TARGETS (build only
# these targets, e.g. "mnist_train"; by default the [cuda] tests, mnist_train and sparse_bench).
set -uo pipefail  # no -e: every step reports its own status and the check goes on to the next

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"

prefix=""
mnist=""
while (($#)); do
  case "$1" in
    -h | --help)
      opening_comment
      exit 0
      ;;
    --prefix | --data)
      if (($# < 2)); then
        echo "gpu_check: $1 expects a folder (see --help)" >&2
        exit 2
      fi
      if [[ ! -d "$2" ]]; then
        echo "gpu_check: $1 expects an existing folder but '$2' is not one" >&2
        exit 2
      fi
      if [[ "$1" == --prefix ]]; then prefix="$(cd "$2" && pwd)"; else mnist="$(cd "$2" && pwd)"; fi
      shift 2
      ;;
    *)
      echo "gpu_check: unknown argument '$1' (expected --prefix DIR, --data DIR or --help)" >&2
      exit 2
      ;;
  esac
done
if [[ -z "$mnist" ]]; then
  mnist="$ROOT/datasets/mnist"
  if [[ ! -d "$mnist" && -n "$prefix" && -d "$prefix/mnist" ]]; then mnist="$prefix/mnist"; fi
fi

OUT="${OUT:-$ROOT/build/gpu-check}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/gpu}"
JOBS="${JOBS:-$(nproc)}"
DEADLINE_SECONDS="${DEADLINE_SECONDS:-3600}"
for setting in JOBS DEADLINE_SECONDS; do
  if [[ ! "${!setting}" =~ ^[1-9][0-9]*$ ]]; then
    echo "gpu_check: $setting expects a positive whole number but got '${!setting}'" >&2
    exit 2
  fi
done
REPORT="$OUT/report.txt"
start_seconds=$SECONDS
failures=0

note() {
  printf '%s\n' "$*" | tee -a "$REPORT"
}

# quote FILE PREFIX: appends FILE's non-empty lines to the report, each after PREFIX.
quote() {
  [[ -f "$1" ]] && sed -e '/^$/d' -e "s/^/$2/" "$1" | tee -a "$REPORT"
}

# step NAME TIMEOUT LOG COMMAND...: runs COMMAND under `timeout TIMEOUT` (cut to the time left before
# the deadline), appends its output to $OUT/LOG and one status line to the report. Skipped when less
# than 30 s would be left for it. Returns the command's status.
step() {
  local name="$1" limit="$2" log_name="$3"
  local log="$OUT/$log_name"
  shift 3
  local left=$((DEADLINE_SECONDS - (SECONDS - start_seconds)))
  if ((left < 30)); then
    note "SKIPPED         $name: ${left}s left before the ${DEADLINE_SECONDS}s deadline"
    failures=$((failures + 1))
    return 125
  fi
  ((limit > left)) && limit=$left
  printf '\n===== %s (limit %ss): %s\n' "$name" "$limit" "$*" >> "$log"
  local begin=$SECONDS status
  timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
  status=$?
  local verdict="ok"
  if ((status == 124 || status == 137)); then
    verdict="TIMED OUT"
  elif ((status != 0)); then
    verdict="FAILED (exit $status)"
  fi
  ((status != 0)) && failures=$((failures + 1))
  note "$(printf '%-15s %-36s %5ss  -> %s' "$verdict" "$name" $((SECONDS - begin)) "$log_name")"
  return "$status"
}

# A python3 whose PyTorch sees a GPU: the first on PATH, else Debian's.
python_with_cuda_torch() {
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" > /dev/null 2>&1 &&
      "$candidate" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' > /dev/null 2>&1; then
      command -v "$candidate"
      return
    fi
  done
}

# The last "Training Loss: X" in FILE after its first LINES lines (what one step appended).
training_loss_after() {
  tail -n +$(($2 + 1)) "$1" | grep -o 'Training Loss: [0-9.]*' | tail -n 1 | awk '{print $3}'
}

# lines FILE: how many lines FILE has (0 when it does not exist yet).
lines() {
  if [[ -f "$1" ]]; then wc -l < "$1"; else echo 0; fi
}

# sm of GPU 0 as CMake spells it ("9.0" -> 90); empty when nvidia-smi cannot tell (old drivers lack
# the compute_cap field).
gpu_architecture() {
  nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -n 1 | tr -d ' .' |
    grep -E '^[0-9]+$'
}

# Only this script's own files are replaced: OUT may be a folder that holds other things.
mkdir -p "$OUT"
rm -f "$OUT"/{report.txt,build.log,ctest.log,sparse_bench.txt,mnist.txt,bench_sparse.txt}
: > "$REPORT"

has_gpu=0
if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L 2> /dev/null | grep -q '^GPU'; then
  has_gpu=1
fi

# ---- the machine and the code -----------------------------------------------------------------------
note "gpu_check: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), $(uname -m), $(nproc) cores, jobs $JOBS, deadline ${DEADLINE_SECONDS}s"
if git -C "$ROOT" rev-parse HEAD > /dev/null 2>&1; then
  note "source: commit $(git -C "$ROOT" rev-parse --short HEAD), $(git -C "$ROOT" status --short | wc -l) changed or untracked files"
fi
if ((has_gpu)); then
  nvidia-smi -L 2>&1 | sed 's/^/gpu: /' | tee -a "$REPORT"
  nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 |
    sed 's/^/gpu: /' | tee -a "$REPORT"
else
  note "gpu: none (nvidia-smi absent or lists no GPU): the steps that need one are skipped"
fi
nvcc="$(nvcc_path)"
python="$(python_with_cuda_torch)"
note "nvcc: ${nvcc:-not found}${nvcc:+, $("$nvcc" --version | tail -n 2 | head -n 1)}"
note "cmake: $(cmake --version 2> /dev/null | head -n 1)"
note "ninja: $(ninja --version 2> /dev/null || echo 'not found (Unix Makefiles)')"
note "c++: $(c++ --version 2> /dev/null | head -n 1)"
if [[ -n "$python" ]]; then
  note "python: $python, $("$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1)"
else
  note "python: no python3 with a PyTorch that sees a GPU (bench/sparse_bench.py is skipped)"
fi
note "mnist: $mnist$([[ -d "$mnist" ]] || echo ' (absent: the mnist_train steps are skipped; scripts/fetch_mnist.sh)')"
if [[ -z "$nvcc" ]]; then
  note "FAILED          no nvcc (on PATH or /usr/local/cuda/bin): nothing to build"
  exit 1
fi

# ---- configure and build ----------------------------------------------------------------------------
generator=()
command -v ninja > /dev/null 2>&1 && generator=(-G Ninja)
# A build folder made by another generator cannot be reused.
if [[ -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cached="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt")"
  [[ "$cached" != "${generator[1]:-Unix Makefiles}" ]] && rm -rf "$BUILD_DIR"
fi
architecture="${CMAKE_CUDA_ARCHITECTURES:-}"
if [[ -z "$architecture" ]]; then
  ((has_gpu)) && architecture="$(gpu_architecture)"
  architecture="${architecture:-90}"
fi
configure_arguments=(-S "$ROOT" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DWISP_CUDA=ON
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$architecture" -DWISP_BUILD_TESTS=ON)
# Searched before the system folders, so the packages in DIR are the ones used.
[[ -n "$prefix" ]] && configure_arguments+=(-DCMAKE_PREFIX_PATH="$prefix")
if ! step configure 300 build.log cmake "${configure_arguments[@]}"; then
  [[ -f "$OUT/build.log" ]] && tail -n 40 "$OUT/build.log" | tee -a "$REPORT"
  note "gpu_check: configure failed; done in $((SECONDS - start_seconds))s"
  exit 1
fi
grep -E '^(Eigen3_DIR|Catch2_DIR|CLI11_DIR|ZLIB_INCLUDE_DIR|ZLIB_LIBRARY_RELEASE|CMAKE_CUDA_ARCHITECTURES|CMAKE_CUDA_COMPILER):' \
  "$BUILD_DIR/CMakeCache.txt" | sed 's/^/found: /' | tee -a "$REPORT"

targets=()
if [[ -n "${GPU_CHECK_TARGETS:-}" ]]; then
  read -r -a targets <<< "$GPU_CHECK_TARGETS"
else
  # The [cuda] test executables, as the build declares them (tests/CMakeLists.txt names them
  # cuda_test...): Ninja's help lists "name: phony", Make's "... name".
  read -r -a targets <<< "$(cmake --build "$BUILD_DIR" --target help 2> /dev/null |
    sed -E 's/^\.\.\. //; s/:.*//' | grep -E '^cuda_test' | sort -u | tr '\n' ' ')"
  if ((${#targets[@]} == 0)); then
    note "FAILED          build: $BUILD_DIR declares no [cuda] test target (cuda_test...); building the programs only"
    failures=$((failures + 1))
  fi
  targets+=(mnist_train sparse_bench)
fi
note "targets: ${targets[*]}"
# Keep going past a target that fails: one broken test file must not cost the benchmarks.
keep_going=(-k)
((${#generator[@]})) && keep_going=(-k 0)
if ! step build $((DEADLINE_SECONDS * 7 / 10)) build.log \
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}" -- "${keep_going[@]}"; then
  grep -E 'error|Error' "$OUT/build.log" | head -n 20 | sed 's/^/build: /' | tee -a "$REPORT"
fi

mnist_train="$BUILD_DIR/apps/mnist_train"
sparse_bench="$BUILD_DIR/bench/sparse_bench"
if ((!has_gpu)); then
  note "SKIPPED         ctest -L cuda, sparse_bench, mnist_train and bench/sparse_bench.py --device cuda: no GPU here"
  note "gpu_check: done in $((SECONDS - start_seconds))s, $failures failed; report and logs in $OUT"
  ((failures == 0))
  exit
fi

# ---- [cuda] tests -----------------------------------------------------------------------------------
step "ctest -L cuda" 600 ctest.log ctest --test-dir "$BUILD_DIR" -L cuda --no-tests=error --output-on-failure -j 4 \
  --timeout 300
# The totals and ctest's closing list of the tests that did not pass (failed, skipped, not run).
grep -E 'tests passed|^[[:space:]]+[0-9]+ - ' "$OUT/ctest.log" | sed 's/^/ctest: /' | tee -a "$REPORT"

# ---- benchmarks and training ------------------------------------------------------------------------
if [[ -x "$sparse_bench" ]]; then
  step "sparse_bench --device cuda" 300 sparse_bench.txt "$sparse_bench" --device cuda --reps 50 --dense-reps 10
else
  note "SKIPPED         sparse_bench --device cuda: $sparse_bench not built"
fi

if [[ -x "$mnist_train" && -d "$mnist" ]]; then
  train=("$mnist_train" --data "$mnist" --epochs 1 --seed 0)
  before=$(lines "$OUT/mnist.txt")
  step "mnist dense cuda, 1 epoch" 300 mnist.txt "${train[@]}" --model dense --device cuda
  gpu_loss="$(training_loss_after "$OUT/mnist.txt" "$before")"
  # The same epoch on the CPU: same seed and data, so the training losses must agree.
  before=$(lines "$OUT/mnist.txt")
  step "mnist dense cpu, 1 epoch (parity)" 600 mnist.txt "${train[@]}" --model dense --device cpu
  cpu_loss="$(training_loss_after "$OUT/mnist.txt" "$before")"
  if [[ -n "$gpu_loss" && -n "$cpu_loss" ]]; then
    # The losses are printed with 4 decimals: 1e-9 keeps a difference of exactly 1e-3 from failing on
    # binary rounding.
    parity="$(awk -v g="$gpu_loss" -v c="$cpu_loss" 'BEGIN { d = g - c; if (d < 0) d = -d;
      printf "parity: dense training loss after 1 epoch: cuda %s, cpu %s, |difference| %.2g (goal <= 1e-3) %s",
             g, c, d, (d <= 1e-3 + 1e-9 ? "met" : "MISSED") }')"
    note "$parity"
    [[ "$parity" == *MISSED ]] && failures=$((failures + 1))
  else
    note "parity: not measured (cuda loss '${gpu_loss}', cpu loss '${cpu_loss}')"
  fi
  step "mnist sparse cuda, 1 epoch" 300 mnist.txt "${train[@]}" --model sparse --device cuda
  # The wide model (five 50000-wide SparseLinear layers) on 100 batches: enough for a time per step.
  step "mnist wide cuda, --limit 6400" 300 mnist.txt "${train[@]}" --model wide --device cuda --limit 6400
elif [[ ! -x "$mnist_train" ]]; then
  note "SKIPPED         mnist_train --device cuda: $mnist_train not built"
else
  note "SKIPPED         mnist_train --device cuda: no MNIST in $mnist (scripts/fetch_mnist.sh, or --data DIR)"
fi

if [[ -n "$python" && -x "$sparse_bench" ]]; then
  step "bench/sparse_bench.py --device cuda" 600 bench_sparse.txt env PYTHONUNBUFFERED=1 "$python" \
    "$ROOT/bench/sparse_bench.py" --device cuda --sparse-bench "$sparse_bench" --threads "$(nproc)" \
    --reps 50 --dense-reps 10 --budget 5
elif [[ -z "$python" ]]; then
  note "SKIPPED         bench/sparse_bench.py --device cuda: no python3 with a PyTorch that sees the GPU"
else
  note "SKIPPED         bench/sparse_bench.py --device cuda: $sparse_bench not built"
fi

# ---- results ----------------------------------------------------------------------------------------
quote "$OUT/sparse_bench.txt" 'sparse_bench: '
grep -E '^(=====|Epoch|Training|Test|mnist_train:)' "$OUT/mnist.txt" 2> /dev/null | sed 's/^/mnist: /' | tee -a "$REPORT"
quote "$OUT/bench_sparse.txt" 'sparse_bench.py: '
note "gpu_check: done in $((SECONDS - start_seconds))s, $failures failed; report and logs in $OUT"
((failures == 0))
