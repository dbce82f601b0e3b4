#!/usr/bin/env python3
"""Dense MNIST model: wisp's mnist_train against PyTorch, side by side on this machine.

Runs the notebook's dense model (Flatten, Linear(784, 2000), LayerNorm(2000), ReLU,
Linear(2000, 10); SGD lr 0.01 momentum 0.9; batch 64; drop_last) for the same epochs and threads
in both, and prints seconds per training epoch, test accuracy, and the ratio.

PyTorch gets its best case: the whole dataset pre-loaded as one normalised tensor and batches
sliced from it (no DataLoader overhead). Uses Debian's python3-torch:

    /usr/bin/python3 bench/mnist_dense.py --data datasets/mnist --epochs 1 --threads 2 \
        --mnist-train build/release/apps/mnist_train
"""
import argparse
import csv
import gzip
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# Debian's torch uses the system BLAS (libblas.so.3). With OpenBLAS (libopenblas0-pthread, installed by
# scripts/setup_dependencies.sh --with-torch) a step is ~6x faster than with the reference BLAS, and
# OpenBLAS's own thread pool must be 1 thread: at 2 torch threads, OPENBLAS_NUM_THREADS=2 measured
# 17 ms/step against 7 ms/step with 1 (the pools oversubscribe the cores). PyTorch gets its faster setting.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import torch  # noqa: E402  (after the environment is set)


def blas_in_use():
    target = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    return "OpenBLAS" if "openblas" in target else f"{target} (not OpenBLAS: PyTorch will be slow)"


def read_idx(folder, stem):
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in ("", ".gz"):
            path = os.path.join(folder, name + suffix)
            if os.path.exists(path):
                opener = gzip.open if suffix else open
                with opener(path, "rb") as f:
                    raw = f.read()
                rank = raw[3]
                dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
                return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)
    sys.exit(f"bench: no {stem} in {folder}; run scripts/fetch_mnist.sh")


def torch_run(folder, epochs, threads, seed):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)

    def load(split):
        images = read_idx(folder, f"{split}-images-idx3-ubyte").astype(np.float32) / 255.0
        labels = read_idx(folder, f"{split}-labels-idx1-ubyte").astype(np.int64)
        images = (torch.from_numpy(images).unsqueeze(1) - 0.1307) / 0.3081
        return images, torch.from_numpy(labels)

    train_x, train_y = load("train")
    test_x, test_y = load("t10k")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 2000), torch.nn.LayerNorm(2000),
                                torch.nn.ReLU(), torch.nn.Linear(2000, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    criterion = torch.nn.CrossEntropyLoss()
    batch = 64
    results = []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(train_x.shape[0])
        for i in range(0, train_x.shape[0] - batch + 1, batch):
            index = order[i:i + batch]
            loss = criterion(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        train_seconds = time.perf_counter() - start
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for i in range(0, test_x.shape[0] - batch + 1, batch):
                out = model(test_x[i:i + batch])
                correct += (out.argmax(1) == test_y[i:i + batch]).sum().item()
                total += batch
        results.append((train_seconds, 100.0 * correct / total))
    return results


def wisp_run(binary, folder, epochs, threads, seed):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "metrics.csv")
        subprocess.run([binary, "--data", folder, "--model", "dense", "--epochs", str(epochs), "--threads",
                        str(threads), "--seed", str(seed), "--metrics", metrics], check=True,
                       stdout=subprocess.DEVNULL)
        with open(metrics) as f:
            return [(float(row["train_seconds"]), float(row["test_accuracy"])) for row in csv.DictReader(f)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="datasets/mnist")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist-train", default="build/release/apps/mnist_train")
    args = parser.parse_args()

    wisp = wisp_run(args.mnist_train, args.data, args.epochs, args.threads, args.seed)
    reference = torch_run(args.data, args.epochs, args.threads, args.seed)
    print(f"Dense MNIST model, {args.epochs} epoch(s), {args.threads} thread(s), batch 64 "
          f"(PyTorch {torch.__version__} with {blas_in_use()}, pre-batched tensors)")
    print(f"{'epoch':>5} | {'wisp s':>8} | {'torch s':>8} | {'torch/wisp':>10} | {'wisp acc %':>10} | {'torch acc %':>11}")
    for epoch, ((ws, wa), (ts, ta)) in enumerate(zip(wisp, reference), start=1):
        print(f"{epoch:>5} | {ws:>8.2f} | {ts:>8.2f} | {ts / ws:>9.2f}x | {wa:>10.2f} | {ta:>11.2f}")
    wisp_mean = sum(s for s, _ in wisp) / len(wisp)
    torch_mean = sum(s for s, _ in reference) / len(reference)
    print(f" mean | {wisp_mean:>8.2f} | {torch_mean:>8.2f} | {torch_mean / wisp_mean:>9.2f}x |")


if __name__ == "__main__":
    main()
