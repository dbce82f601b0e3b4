#!/usr/bin/env bash
# The README's test command: sets up a fresh Debian machine and runs every check. CI (.ci/run) calls it.
#
#   bash scripts/test.sh              every step, in order
#   bash scripts/test.sh STEP...      only those steps (e.g. `bash scripts/test.sh release install`)
#
# Steps:
#   setup     install missing Debian packages (scripts/setup_dependencies.sh)
#   format    every C++ and CUDA file is formatted as .clang-format says (scripts/check_format.sh)
#   layering  includes follow the folder chain core → kernels → ... → apps (scripts/check_layering.sh)
#   release   Release build (CUDA backend when nvcc exists) in build/release, then its ctest (with
#             python3-torch installed, MNIST is fetched into datasets/mnist first for the torch tests)
#   spec      runs the API contract's programs, built unchanged by the release step from
#             ../shared/spec: seed_notebook without MNIST (setup, efficiency and random-input sections),
#             then training_api on MNIST (fetched into datasets/mnist by scripts/fetch_mnist.sh when
#             missing). The contract's folder must be there (in CI it is): without it the test command
#             fails before the first step, unless WISP_SPEC=skip
#   sanitize  ASan + UBSan build of the tests in build/sanitize, then its ctest
#   fuzz      the libFuzzer targets of tests/fuzz/ (IDX reader, connectivity, safetensors reader), built
#             with clang 14 in build/fuzz and run side by side for FUZZ_SECONDS each (scripts/run_fuzzers.sh)
#   install   `cmake --install` of build/release into a scratch prefix, then builds and runs the user
#             project tests/install/consumer against it with find_package(wisp)
#
# Build folders persist under build/, so a second run only rebuilds what changed. Environment:
#   WISP_CUDA=ON|OFF   force the CUDA backend on or off (default: ON when nvcc is found, OFF otherwise)
#   WISP_SPEC_DIR=DIR  the API contract's folder (default: ../shared/spec beside the repository)
#   WISP_SPEC=skip     skip the spec step, and run without the contract's folder
#   JOBS=N             parallel build and test jobs (default: all cores)
#   FUZZ_SECONDS=N     how long the fuzz step runs each fuzzer (default 60)
#
# To add a step: write a function step_<name> below and add <name> to DEFAULT_STEPS.
set -Eeuo pipefail  # -E: the ERR trap (which names the failed step) also fires inside functions

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"
JOBS="${JOBS:-$(nproc)}"
DEFAULT_STEPS=(setup format layering release spec sanitize fuzz install)
LOG_DIR="$ROOT/build/test-logs"
SPEC_DIR="$(realpath -m "${WISP_SPEC_DIR:-$ROOT/../shared/spec}")"

# ---- helpers --------------------------------------------------------------------------------------

current_step=""
section() {
  printf '\n==================== %s ====================\n' "$*"
}
note() {
  printf -- '-- %s\n' "$*"
}
on_error() {
  local status=$?
  printf '\ntest.sh: FAILED in step "%s" (exit status %d)\n' "$current_step" "$status" >&2
  exit "$status"
}
trap on_error ERR

# Totals over every ctest run, for the closing summary line.
total_passed=0
total_failed=0
total_skipped=0

# run_ctest NAME CTEST_ARGS...: runs ctest, shows its output, and adds its counts to the totals.
# A run that finds no test is an error (a broken glob must not pass silently).
run_ctest() {
  local name="$1"
  shift
  mkdir -p "$LOG_DIR"
  local log="$LOG_DIR/ctest-$name.log"
  ctest "$@" 2>&1 | tee "$log"
  local counts total failed skipped
  counts="$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)"
  if [[ -z "$counts" ]]; then
    echo "test.sh: ctest ($name) ran no test" >&2
    return 1
  fi
  failed="$(awk '{print $1}' <<< "$counts")"
  total="$(awk '{print $NF}' <<< "$counts")"
  skipped="$(grep -c '(Skipped)$' "$log" || true)"
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  total_passed=$((total_passed + total - failed - skipped))
}

# ---- steps ----------------------------------------------------------------------------------------

step_setup() {
  bash "$ROOT/scripts/setup_dependencies.sh"
  note "cmake: $(cmake --version | head -n 1)"
  note "c++: $(c++ --version | head -n 1)"
  local nvcc
  nvcc="$(command -v nvcc 2> /dev/null || echo /usr/local/cuda/bin/nvcc)"
  if [[ -x "$nvcc" ]]; then
    note "nvcc: $nvcc, $("$nvcc" --version | tail -n 1)"
  else
    note "nvcc: not found (the CUDA backend and the [cuda] tests are not built)"
  fi
}

step_format() {
  bash "$ROOT/scripts/check_format.sh"
}

step_layering() {
  bash "$ROOT/scripts/check_layering.sh"
}

step_release() {
  local cuda
  cuda="$(cuda_arguments)"
  note "cmake --preset release $cuda -DWISP_SPEC_DIR=$SPEC_DIR"
  # shellcheck disable=SC2086  # $cuda is a list of arguments
  cmake --preset release $cuda -DWISP_SPEC_DIR="$SPEC_DIR"
  cmake --build --preset release -j "$JOBS"
  # The torch-labelled MNIST test (wisp and PyTorch classify the test set alike) needs MNIST, which the
  # spec step would only fetch after this ctest: fetch it now (seconds) where that test can run.
  if /usr/bin/python3 -c 'import torch' 2> /dev/null; then
    bash "$ROOT/scripts/fetch_mnist.sh" "$ROOT/datasets/mnist"
  fi
  run_ctest release --preset release --output-on-failure -j "$JOBS"
}

step_spec() {
  if [[ "${WISP_SPEC:-}" == skip ]]; then
    note "skipped (WISP_SPEC=skip): the API contract's programs were not run"
    return 0
  fi
  # The release step built both programs from $SPEC_DIR (apps/CMakeLists.txt), which the check
  # before the first step found.
  local program=build/release/apps/seed_notebook training_api=build/release/apps/training_api
  if [[ ! -x "$program" || ! -x "$training_api" ]]; then
    note "$program or $training_api is not built yet: running the release step first"
    step_release
  fi
  # Without MNIST_DIR the notebook runs its setup, efficiency and random-input sections; with MNIST
  # (`seed_notebook datasets/mnist --epochs 1 --limit 2000`) every section, which takes minutes.
  "$program"
  # training_api (Adam/AdamW, schedules, clipping, ERK, model files, checkpoints that resume bit for
  # bit) trains on MNIST with its default --limit 6400: about 40 s of CPU time. MNIST comes as
  # scripts/train.sh gets it (nothing is downloaded when datasets/mnist has the verified files).
  bash "$ROOT/scripts/fetch_mnist.sh" "$ROOT/datasets/mnist"
  local work status=0
  work="$(mktemp -d)"
  "$training_api" "$ROOT/datasets/mnist" "$work" || status=$?
  rm -rf "$work"
  return "$status"
}

step_sanitize() {
  # ASan + UBSan over the CPU code: Debug (-O0), WISP_CUDA=OFF and no apps (see the `sanitize` preset
  # in CMakePresets.json). The sanitizers do not see device code and the CUDA runtime does not run
  # under ASan without extra options, and leaving out nvcc and apps saves CI minutes.
  cmake --preset sanitize
  cmake --build --preset sanitize -j "$JOBS"
  run_ctest sanitize --preset sanitize --output-on-failure -j "$JOBS"
}

step_fuzz() {
  # A short run from the checked-in seeds: it catches what a change breaks near the seeds; long
  # searches are `bash scripts/run_fuzzers.sh 3600`.
  BUILD_DIR="$ROOT/build/fuzz" bash "$ROOT/scripts/run_fuzzers.sh" "${FUZZ_SECONDS:-60}"
}

step_install() {
  # The installed package as a user gets it: install build/release into a scratch prefix (wiped
  # first), then configure, build and run the user projects tests/install/consumer (which also has
  # headers of its own that must not shadow wisp's) and tests/install/extending (a custom op and
  # module, the code of docs/extending.md, whose code blocks are checked against it first) against
  # it, each from its own build folder.
  if [[ ! -f build/release/CMakeCache.txt ]]; then
    note "build/release does not exist yet: running the release step first"
    step_release
  else
    cmake --build --preset release -j "$JOBS"  # up to date after the release step: a no-op
  fi
  local scratch="$ROOT/build/install-test"
  rm -rf "$scratch"
  cmake --install build/release --prefix "$scratch/prefix"
  cmake -S tests/install/consumer -B "$scratch/consumer" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  cmake --build "$scratch/consumer" -j "$JOBS"
  run_ctest install --test-dir "$scratch/consumer" --output-on-failure
  bash tests/install/check_doc_excerpts.sh docs/extending.md tests/install/extending
  cmake -S tests/install/extending -B "$scratch/extending" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$scratch/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  cmake --build "$scratch/extending" -j "$JOBS"
  run_ctest install-extending --test-dir "$scratch/extending" --output-on-failure
}

# ---- main -----------------------------------------------------------------------------------------

steps=("$@")
if [[ ${#steps[@]} -eq 0 ]]; then
  steps=("${DEFAULT_STEPS[@]}")
fi
for step in "${steps[@]}"; do
  if ! declare -F "step_$step" > /dev/null; then
    echo "test.sh: unknown step '$step' (steps: ${DEFAULT_STEPS[*]})" >&2
    exit 2
  fi
done
case "${WISP_SPEC:-}" in
  "" | skip) ;;
  *) echo "test.sh: WISP_SPEC must be unset or 'skip' but is '$WISP_SPEC'" >&2
     exit 2 ;;
esac
# A missing API contract must not pass silently (nor after a long build): fail now, before any step.
if [[ " ${steps[*]} " == *" spec "* && "${WISP_SPEC:-}" != skip && ! -f "$SPEC_DIR/seed_notebook.cpp" ]]; then
  echo "test.sh: the API contract $SPEC_DIR/seed_notebook.cpp is missing. Put the shared folder beside" \
       "the repository (../shared/spec, as in CI) or point WISP_SPEC_DIR at its spec folder; to test" \
       "without it, run with WISP_SPEC=skip." >&2
  exit 1
fi

start_all=$SECONDS
timings=()
for step in "${steps[@]}"; do
  current_step="$step"
  section "$step"
  start=$SECONDS
  "step_$step"
  timings+=("$step $((SECONDS - start))s")
done

section "summary"
for timing in "${timings[@]}"; do
  note "$timing"
done
note "total $((SECONDS - start_all))s"
echo "test.sh: all steps passed (${steps[*]})"
if [[ " ${steps[*]} " == *" spec "* && "${WISP_SPEC:-}" == skip ]]; then
  echo "test.sh: the spec step was skipped (WISP_SPEC=skip)"
fi
echo "summary: $total_passed passed, $total_failed failed, $total_skipped skipped"
