"""PyTorch's side of bench/distributed_bench.sh: torch.distributed's all_reduce (the gloo backend, as
DDP uses on CPUs) of the same number of fp32 elements that wisp's data-parallel step sends, on 2 and 4
processes with one thread each, on this machine.

    /usr/bin/python3 bench/distributed_allreduce_torch.py ELEMENTS [RANKS ...]

Prints one line per rank count: the median time of one all_reduce (after warm-up). It is the bare
collective; wisp's "exchanging" time also packs the gradients into buckets and back."""
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def run(rank, world, elements, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    tensor = torch.ones(elements)
    for _ in range(3):
        dist.all_reduce(tensor)
    repetitions = 50 if elements < 1_000_000 else 10
    times = []
    for _ in range(repetitions):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(tensor)
        times.append(time.perf_counter() - start)
    if rank == 0:
        print(f"PyTorch {torch.__version__} gloo, {world} processes: all_reduce of {elements * 4 / 1e6:.3f} MB "
              f"takes {statistics.median(times) * 1e3:.3f} ms (median of {repetitions})", flush=True)
    dist.destroy_process_group()


def main():
    elements = int(sys.argv[1])
    for index, world in enumerate(int(r) for r in (sys.argv[2:] or ["2", "4"])):
        mp.spawn(run, args=(world, elements, 29500 + os.getpid() % 400 + index), nprocs=world)


if __name__ == "__main__":
    main()
