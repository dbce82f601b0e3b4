#!/usr/bin/env bash
# The GPU check of the CUDA backend, prepared here and run on a borrowed GPU machine (an NVIDIA H200
# with nvcc, CMake, ninja and PyTorch, but no internet and none of our Debian packages).
#
#   bash scripts/device_check.sh prepare   HERE: copies what the GPU machine's build lacks into .device/
#                                          (ignored by git): Eigen, Catch2, CLI11 and zlib headers with
#                                          their CMake files, and MNIST gzipped. About 20 MB.
#   bash scripts/device_check.sh run       THERE: configures build/device (sm_90, the dependencies from
#                                          .device/prefix), builds the [cuda] tests and the apps, runs
#                                          `ctest -L cuda`, sparse_bench --device cuda, mnist_train
#                                          --device cuda (dense with a CPU run for parity, sparse, wide
#                                          with --limit) and bench/sparse_bench.py --device cuda, each
#                                          under `timeout`, logging into $OUT.
#
# With the session's device tool, from the repository root after `prepare`:
#   run(command="bash scripts/device_check.sh run", carry=[".device"], timeout_s=560)
# What comes back: $OUT/summary.txt (machine, versions, each step's status and time, the CPU/GPU loss
# parity), build.log, ctest.log, sparse_bench.txt, mnist.txt, bench_sparse.txt.
#
# Environment (run): OUT (logs; default build/device-check-out), BUILD_DIR (default build/device),
# JOBS (default: all cores), DEADLINE_SECONDS (default 480: steps that would end later are skipped, so
# that the whole check ends well inside one 10-minute call and leaves device time for a second try),
# DEVICE_CHECK_TARGETS (build only these targets; for trying the build part on a machine without a
# GPU, e.g. "mnist_train sparse_bench"). Without a GPU (no nvidia-smi, or it lists none) the steps
# that need one are reported as skipped.
set -uo pipefail  # no -e: every step reports its own status and the check goes on to the next

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
DEVICE_DIR="$ROOT/.device"
PREFIX="$DEVICE_DIR/prefix"

# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"
usage() { opening_comment; }

# ---- prepare (here) ---------------------------------------------------------------------------------

# copy_from_usr PATH...: /usr/X -> .device/prefix/X, so that each package's CMake files find their
# headers at the same place relative to themselves (they compute the prefix from their own location).
copy_from_usr() {
  local path
  for path in "$@"; do
    if [[ ! -e "$path" ]]; then
      echo "device_check: $path is missing here; run scripts/setup_dependencies.sh first" >&2
      return 1
    fi
    mkdir -p "$PREFIX/$(dirname "${path#/usr/}")"
    cp -a "$path" "$PREFIX/${path#/usr/}"
  done
}

prepare() {
  rm -rf "$DEVICE_DIR"
  mkdir -p "$PREFIX"
  # Eigen (headers + CMake config; unsupported/ is not used), Catch2 v2 (its config also imports
  # libCatch2WithMain.a, which must exist), CLI11, zlib (static: nothing to find at run time).
  copy_from_usr /usr/include/eigen3/Eigen /usr/include/eigen3/signature_of_eigen3_matrix_library \
                /usr/share/eigen3/cmake \
                /usr/include/catch2 /usr/lib/cmake/Catch2 /usr/lib/libCatch2WithMain.a \
                /usr/include/CLI /usr/share/cmake/CLI11 \
                /usr/include/zlib.h /usr/include/zconf.h || return 1
  mkdir -p "$PREFIX/lib"
  cp /usr/lib/x86_64-linux-gnu/libz.a "$PREFIX/lib/libz.a"

  local mnist="$ROOT/datasets/mnist" name
  if [[ -d "$mnist" ]]; then
    mkdir -p "$DEVICE_DIR/mnist"
    for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
      if [[ -f "$mnist/$name.gz" ]]; then
        cp "$mnist/$name.gz" "$DEVICE_DIR/mnist/"
      elif [[ -f "$mnist/$name" ]]; then
        gzip -c "$mnist/$name" > "$DEVICE_DIR/mnist/$name.gz"
      else
        echo "device_check: $mnist/${name}[.gz] not found: the mnist_train steps will be skipped there" >&2
        rm -rf "$DEVICE_DIR/mnist"
        break
      fi
    done
  else
    echo "device_check: no $mnist (bash scripts/fetch_mnist.sh): the mnist_train steps will be skipped there" >&2
  fi

  # Which code the logs belong to: the commit and the files that differ from it.
  {
    echo "prepared $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname)"
    echo "commit $(git -C "$ROOT" rev-parse HEAD 2> /dev/null || echo unknown)"
    echo "changed or untracked files (they travel too):"
    git -C "$ROOT" status --short 2> /dev/null | sed 's/^/  /'
  } > "$DEVICE_DIR/source.txt"

  if ! git -C "$ROOT" check-ignore -q "$DEVICE_DIR"; then
    echo "device_check: .device/ is not ignored by git (add /.device/ to .gitignore)" >&2
    return 1
  fi
  echo "device_check: prepared $(du -sh "$DEVICE_DIR" | cut -f1) in .device/:"
  du -sh "$PREFIX"/include/* "$PREFIX"/lib "$PREFIX"/share "$DEVICE_DIR"/mnist 2> /dev/null | sed 's/^/  /'
  echo "device_check: now, with the device tool: run(command=\"bash scripts/device_check.sh run\"," \
       "carry=[\".device\"], timeout_s=560)"
}

# ---- run (there) ------------------------------------------------------------------------------------

OUT="${OUT:-$ROOT/build/device-check-out}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/device}"
JOBS="${JOBS:-$(nproc)}"
DEADLINE_SECONDS="${DEADLINE_SECONDS:-480}"
SUMMARY="$OUT/summary.txt"
start_seconds=$SECONDS

note() {
  printf '%s\n' "$*" | tee -a "$SUMMARY"
}

# step NAME TIMEOUT LOG COMMAND...: runs COMMAND under `timeout TIMEOUT` (cut to the time left before
# the deadline), appends its output to $OUT/LOG and one status line to the summary. Skipped when less
# than 30 s would be left for it. Returns the command's status.
step() {
  local name="$1" limit="$2" log_name="$3"
  local log="$OUT/$log_name"
  shift 3
  local left=$((DEADLINE_SECONDS - (SECONDS - start_seconds)))
  if ((left < 30)); then
    note "SKIPPED  $name: ${left}s left before the ${DEADLINE_SECONDS}s deadline"
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
  note "$(printf '%-9s %-34s %4ss  -> %s' "$verdict" "$name" $((SECONDS - begin)) "$log_name")"
  return "$status"
}

nvcc_path() {
  if command -v nvcc > /dev/null 2>&1; then
    command -v nvcc
  elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
    echo /usr/local/cuda/bin/nvcc
  fi
}

python_with_torch() {
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" > /dev/null 2>&1 && "$candidate" -c 'import torch' > /dev/null 2>&1; then
      echo "$candidate"
      return
    fi
  done
}

# The last "Training Loss: X" of a mnist_train log section.
training_loss() {
  grep -o 'Training Loss: [0-9.]*' "$1" | tail -n 1 | awk '{print $3}'
}

run() {
  rm -rf "$OUT"
  mkdir -p "$OUT"
  : > "$SUMMARY"
  local has_gpu=0
  if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L 2> /dev/null | grep -q '^GPU'; then
    has_gpu=1
  fi

  note "device_check run: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -m), $(nproc) cores, jobs $JOBS, deadline ${DEADLINE_SECONDS}s"
  if [[ -f "$DEVICE_DIR/source.txt" ]]; then
    sed 's/^/source: /' "$DEVICE_DIR/source.txt" >> "$SUMMARY"
  else
    note "no .device/source.txt: run 'bash scripts/device_check.sh prepare' here and carry .device"
  fi
  if ((has_gpu)); then
    nvidia-smi -L >> "$SUMMARY" 2>&1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv >> "$SUMMARY" 2>&1
  else
    note "no GPU here (nvidia-smi absent or lists none): the steps that need one are skipped"
  fi
  local nvcc python
  nvcc="$(nvcc_path)"
  python="$(python_with_torch)"
  {
    echo "nvcc: ${nvcc:-not found} $([[ -n "$nvcc" ]] && "$nvcc" --version | tail -n 1)"
    echo "cmake: $(cmake --version 2> /dev/null | head -n 1)"
    echo "ninja: $(ninja --version 2> /dev/null || echo 'not found (Unix Makefiles)')"
    echo "c++: $(c++ --version 2> /dev/null | head -n 1)"
    if [[ -n "$python" ]]; then
      echo "python with torch: $python, $("$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1)"
    else
      echo "python with torch: not found (bench/sparse_bench.py is skipped)"
    fi
    local toolkit library
    toolkit="$(dirname "$(dirname "${nvcc:-/usr/local/cuda/bin/nvcc}")")"
    printf 'CUDA libraries in %s/lib64:' "$toolkit"
    for library in "$toolkit"/lib64/lib{cudart,cublas,cusparse}.so.*; do
      [[ -e "$library" ]] && printf ' %s' "$(basename "$library")"
    done
    echo
  } >> "$SUMMARY"
  if [[ -z "$nvcc" ]]; then
    note "FAILED   no nvcc: nothing to build"
    return 1
  fi
  if [[ ! -d "$PREFIX" ]]; then
    note "FAILED   no .device/prefix: run 'bash scripts/device_check.sh prepare' here first and carry .device"
    return 1
  fi

  # ---- configure and build ----
  local generator=()
  if command -v ninja > /dev/null 2>&1; then
    generator=(-G Ninja)
  fi
  # A build folder left by another generator cannot be reused.
  if [[ -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    local cached
    cached="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt")"
    if [[ "$cached" != "${generator[1]:-Unix Makefiles}" ]]; then rm -rf "$BUILD_DIR"; fi
  fi
  # CMAKE_PREFIX_PATH is searched before the system folders: the carried packages are the ones used
  # (the summary lists what CMake found).
  if ! step configure 180 build.log cmake -S "$ROOT" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
         -DWISP_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 -DWISP_BUILD_TESTS=ON \
         -DCMAKE_PREFIX_PATH="$PREFIX"; then
    tail -n 40 "$OUT/build.log" >> "$SUMMARY"
    return 1
  fi
  grep -E '^(Eigen3_DIR|Catch2_DIR|CLI11_DIR|ZLIB_INCLUDE_DIR|ZLIB_LIBRARY_RELEASE|ZLIB_LIBRARY|CMAKE_CUDA_ARCHITECTURES|CMAKE_CUDA_COMPILER):' \
    "$BUILD_DIR/CMakeCache.txt" | sed 's/^/found: /' >> "$SUMMARY"

  local targets=()
  if [[ -n "${DEVICE_CHECK_TARGETS:-}" ]]; then
    read -r -a targets <<< "$DEVICE_CHECK_TARGETS"
  else
    local source
    for source in "$ROOT"/tests/cuda/test_*.cpp; do
      targets+=("cuda_$(basename "$source" .cpp)")
    done
    targets+=(mnist_train sparse_bench)
  fi
  # Keep going past a target that fails (a test file still being written must not cost the benchmarks).
  local keep_going=(-k)
  ((${#generator[@]})) && keep_going=(-k 0)
  if ! step build 330 build.log cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}" -- "${keep_going[@]}"; then
    grep -E 'error|Error' "$OUT/build.log" | head -n 20 | sed 's/^/build: /' >> "$SUMMARY"
  fi

  local apps="$BUILD_DIR/apps"
  if ((!has_gpu)); then
    note "SKIPPED  ctest -L cuda, sparse_bench, mnist_train, bench/sparse_bench.py: no GPU"
    note "device_check: done in $((SECONDS - start_seconds))s"
    return 0
  fi

  # ---- [cuda] tests ----
  step "ctest -L cuda" 180 ctest.log ctest --test-dir "$BUILD_DIR" -L cuda --output-on-failure -j 4 --timeout 150
  # The totals and ctest's closing list of the tests that did not pass (failed, skipped, not run).
  grep -E 'tests passed|^[[:space:]]+[0-9]+ - ' "$OUT/ctest.log" | sed 's/^/ctest: /' >> "$SUMMARY"

  # ---- benchmarks and training ----
  if [[ -x "$apps/sparse_bench" ]]; then
    step "sparse_bench --device cuda" 120 sparse_bench.txt "$apps/sparse_bench" --device cuda --reps 50 --dense-reps 10
  else
    note "SKIPPED  sparse_bench: not built"
  fi

  local mnist="$DEVICE_DIR/mnist"
  if [[ -x "$apps/mnist_train" && -d "$mnist" ]]; then
    local train=("$apps/mnist_train" --data "$mnist" --epochs 1 --seed 0)
    step "mnist dense cuda 1 epoch" 120 mnist.txt "${train[@]}" --model dense --device cuda
    local gpu_loss
    gpu_loss="$(training_loss "$OUT/mnist.txt")"
    # The same run on the CPU: same seed and data, so the training losses must agree (issue #6: 1e-3).
    step "mnist dense cpu 1 epoch (parity)" 120 mnist_cpu.tmp "${train[@]}" --model dense --device cpu
    cat "$OUT/mnist_cpu.tmp" >> "$OUT/mnist.txt"
    local cpu_loss
    cpu_loss="$(training_loss "$OUT/mnist_cpu.tmp")"
    rm -f "$OUT/mnist_cpu.tmp"
    if [[ -n "$gpu_loss" && -n "$cpu_loss" ]]; then
      note "$(awk -v g="$gpu_loss" -v c="$cpu_loss" 'BEGIN { d = g - c; if (d < 0) d = -d;
        printf "parity: dense training loss after 1 epoch: cuda %s, cpu %s, |difference| %.2g (goal <= 1e-3) %s",
               g, c, d, (d <= 1e-3 ? "met" : "MISSED") }')"
    else
      note "parity: not measured (cuda loss '${gpu_loss}', cpu loss '${cpu_loss}')"
    fi
    step "mnist sparse cuda 1 epoch" 120 mnist.txt "${train[@]}" --model sparse --device cuda
  else
    note "SKIPPED  mnist_train: not built or no .device/mnist"
  fi

  if [[ -n "$python" && -x "$apps/sparse_bench" ]]; then
    step "bench/sparse_bench.py --device cuda" 180 bench_sparse.txt env PYTHONUNBUFFERED=1 "$python" \
      "$ROOT/bench/sparse_bench.py" --device cuda --sparse-bench "$apps/sparse_bench" --threads "$JOBS" \
      --reps 50 --dense-reps 10 --budget 5
  else
    note "SKIPPED  bench/sparse_bench.py: no python with torch, or sparse_bench not built"
  fi

  if [[ -x "$apps/mnist_train" && -d "$mnist" ]]; then
    # The wide model (five 50000-wide SparseLinear layers): 100 steps, enough for a time per step.
    step "mnist wide cuda --limit 6400" 150 mnist.txt "$apps/mnist_train" --data "$mnist" --epochs 1 --seed 0 \
      --model wide --device cuda --limit 6400
  fi
  grep -E '^(=====|Epoch|Training|Test|mnist_train:)' "$OUT/mnist.txt" 2> /dev/null \
    | sed 's/^/mnist: /' >> "$SUMMARY"
  note "device_check: done in $((SECONDS - start_seconds))s; logs: $(find "$OUT" -maxdepth 1 -type f -printf '%f ')"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  -h | --help | "") usage ;;
  *)
    echo "device_check: unknown mode '$1' (expected prepare or run)" >&2
    exit 2
    ;;
esac
