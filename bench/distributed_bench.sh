#!/usr/bin/env bash
# Data-parallel training cost per step: mnist_train on 1, 2 and 4 processes (mpirun --oversubscribe),
# one thread each, printing per process count the training seconds, samples per second and, from rank
# 0's DataParallel statistics, the bytes it handed to all_reduce/all_gather per step and the time per
# step inside synchronize() — which includes waiting for the slowest rank, so on oversubscribed
# cores it is mostly that wait, not the transfer.
#
# Where python3-torch is installed, PyTorch's gloo all_reduce of the same number of fp32 elements
# (bench/distributed_allreduce_torch.py) runs beside it, on 2 and 4 processes.
#
#   bash bench/distributed_bench.sh [BUILD_DIR] [MODEL] [LIMIT]
#     BUILD_DIR  a build with MPI (default build/release); MODEL (default sparse; the wide model: wide);
#     LIMIT      training images (default 6400: 100 steps of 64)
set -euo pipefail
build="${1:-build/release}"
model="${2:-sparse}"
limit="${3:-6400}"
data="${MNIST_DIR:-datasets/mnist}"
root_flag=(); [[ $(id -u) -eq 0 ]] && root_flag=(--allow-run-as-root)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no)"
# "1x2" is one process with a thread per core: what data parallelism on one machine competes with.
for run in 1 "1x$(nproc)" 2 4; do
  ranks=${run%x*}; threads=1; [[ $run == *x* ]] && threads=${run#*x}
  launcher=(); [[ $ranks -gt 1 ]] && launcher=(mpirun --oversubscribe "${root_flag[@]}" -np "$ranks")
  output=$(OMP_NUM_THREADS=$threads "${launcher[@]}" "$build/apps/mnist_train" --model "$model" --epochs 1 \
    --limit "$limit" --threads "$threads" --data "$data" 2>&1 | tr '\r' '\n')
  seconds=$(sed -n 's/^Training Loss.*(\([0-9.]*\) s)$/\1/p' <<< "$output")
  sync=$(grep -o 'data-parallel: [0-9]* steps.*' <<< "$output" || echo "data-parallel: none (one process)")
  printf '%d process(es) x %d thread(s): %s s training, %.0f samples/s; %s\n' "$ranks" "$threads" "$seconds" \
    "$(awk -v n="$limit" -v s="$seconds" 'BEGIN { print n / s }')" "$sync"
  [[ $ranks -eq 2 ]] && sent_mb=$(sed -n 's/.* steps, \([0-9.]*\) MB sent per step.*/\1/p' <<< "$output")
done
# The gradients alone (the census all_reduce adds a few hundred bytes): MB / 4 bytes per element.
if [[ -n "${sent_mb:-}" ]] && /usr/bin/python3 -c 'import torch.distributed' 2> /dev/null; then
  elements=$(awk -v mb="$sent_mb" 'BEGIN { printf "%d", mb * 1e6 / 4 }')
  OMP_NUM_THREADS=1 /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/distributed_allreduce_torch.py" "$elements" 2 4
fi
