#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (the IDX reader, connectivity validation, the
# safetensors reader) with clang 14, ASan and UBSan, and runs them side by side for SECONDS each
# (default 60), one process per fuzzer. Fails when a fuzzer finds a crash, a sanitizer report, an
# exception other than wisp::Error or a wrong result; the input that did it is left in
# BUILD_DIR/findings/.
#
#   bash scripts/run_fuzzers.sh            60 s per fuzzer
#   bash scripts/run_fuzzers.sh 3600       an hour per fuzzer
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
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_fuzzers.sh: expected a positive number of seconds but got '$seconds' (see --help)" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build/fuzz}"
compiler="${CXX:-clang++-14}"
fuzzers=(idx connectivity safetensors)

bash "$root/scripts/setup_dependencies.sh" --with-fuzz
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$compiler"
cmake --build "$build" -j "$(nproc)" --target "${fuzzers[@]/#/fuzz_}"

# Side by side: each fuzzer is one process, so on two cores three runs of SECONDS take SECONDS of
# wall time instead of three times that, at two thirds of a core each.
declare -A pids
for fuzzer in "${fuzzers[@]}"; do
  corpus="$build/corpus/$fuzzer"
  findings="$build/findings/$fuzzer"
  mkdir -p "$corpus" "$findings"
  echo "run_fuzzers: fuzz_$fuzzer for $seconds s (log: $build/fuzz-$fuzzer.log)"
  # The first folder collects new inputs; the checked-in seeds are read only. -rss_limit_mb: the
  # targets bound what they ask for, so a run near 2 GB is a finding, not a large legitimate input.
  "$build/fuzz_$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "$root/tests/fuzz/corpus/$fuzzer" \
    > "$build/fuzz-$fuzzer.log" 2>&1 &
  pids[$fuzzer]=$!
done

status=0
for fuzzer in "${fuzzers[@]}"; do
  if wait "${pids[$fuzzer]}"; then
    echo "run_fuzzers: fuzz_$fuzzer: no finding ($(grep -Eo 'stat::number_of_executed_units: *[0-9]+' \
      "$build/fuzz-$fuzzer.log" | grep -Eo '[0-9]+$' || echo '?') inputs run)"
  else
    echo "run_fuzzers: fuzz_$fuzzer found a failure; the input is in $build/findings/$fuzzer; its log:" >&2
    tail -n 60 "$build/fuzz-$fuzzer.log" >&2
    status=1
  fi
done
exit "$status"
