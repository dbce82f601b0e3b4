#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (the IDX reader, connectivity validation, the
# safetensors reader) with clang 14, ASan and UBSan, and runs each for SECONDS (default 30). Fails
# when a fuzzer finds a crash, a sanitizer report, an exception other than wisp::Error or a wrong
# result; the input that did it is left in BUILD_DIR/findings/.
#
#   bash scripts/run_fuzzers.sh            30 s per fuzzer
#   bash scripts/run_fuzzers.sh 300        5 minutes per fuzzer
#
# Environment: BUILD_DIR (default build/fuzz), CXX (default clang++-14). Installs clang-14,
# libclang-rt-14-dev and libomp-14-dev first when they are missing (setup_dependencies.sh
# --with-fuzz). Each run starts from the checked-in seeds (tests/fuzz/corpus/<fuzzer>) plus what
# earlier runs in BUILD_DIR found; the checked-in seeds are never modified.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
case "${1:-}" in
  -h | --help) opening_comment; exit 0 ;;
esac
seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_fuzzers.sh: expected a positive number of seconds but got '$seconds' (see --help)" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build/fuzz}"
compiler="${CXX:-clang++-14}"

bash "$root/scripts/setup_dependencies.sh" --with-fuzz
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$compiler"
cmake --build "$build" -j "$(nproc)" --target fuzz_idx fuzz_connectivity fuzz_safetensors

status=0
for fuzzer in idx connectivity safetensors; do
  corpus="$build/corpus/$fuzzer"
  findings="$build/findings/$fuzzer"
  mkdir -p "$corpus" "$findings"
  echo "run_fuzzers: fuzz_$fuzzer for $seconds s"
  # The first folder collects new inputs; the checked-in seeds are read only. -rss_limit_mb: the
  # targets bound what they ask for, so a run near 2 GB is a finding, not a large legitimate input.
  if ! "$build/fuzz_$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$findings/" "$corpus" "$root/tests/fuzz/corpus/$fuzzer"; then
    echo "run_fuzzers: fuzz_$fuzzer found a failure; the input is in $findings" >&2
    status=1
  fi
done
exit "$status"
