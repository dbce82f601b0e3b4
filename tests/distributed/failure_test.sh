#!/bin/sh
# failure_test.sh MODE EXPECTED_REGEX MAX_SECONDS MPIRUN... PROGRAM
# Runs `MPIRUN... PROGRAM MODE` (MPIRUN with its rank count, e.g. mpirun -np 2) with a 5 s collective
# timeout and passes when the job failed (non-zero exit status) within MAX_SECONDS of wall time and
# its output matches EXPECTED_REGEX (grep -E): a failing rank must end the whole job, quickly, saying why.
set -u
if [ "$#" -lt 5 ]; then
  echo "usage: $0 MODE EXPECTED_REGEX MAX_SECONDS MPIRUN... PROGRAM" >&2
  exit 2
fi
mode=$1
expected=$2
max_seconds=$3
shift 3

output=$(mktemp)
trap 'rm -f "$output"' EXIT
start=$(date +%s%N)
WISP_DISTRIBUTED_TIMEOUT=5 OMP_NUM_THREADS=1 "$@" "$mode" >"$output" 2>&1
status=$?
end=$(date +%s%N)
elapsed_ms=$(((end - start) / 1000000))
elapsed=$(printf '%d.%03d' $((elapsed_ms / 1000)) $((elapsed_ms % 1000)))

echo "----- output of: $* $mode"
cat "$output"
echo "-----"
failed=0
if [ "$status" -ne 0 ]; then
  echo "ok: exit status $status (non-zero)"
else
  echo "FAIL: exit status 0, expected the job to fail"
  failed=1
fi
if [ "$elapsed_ms" -le $((max_seconds * 1000)) ]; then
  echo "ok: ended after $elapsed s (at most $max_seconds s)"
else
  echo "FAIL: ended after $elapsed s, expected at most $max_seconds s"
  failed=1
fi
if grep -Eq -- "$expected" "$output"; then
  echo "ok: output matches '$expected'"
else
  echo "FAIL: output does not match '$expected'"
  failed=1
fi
exit "$failed"
