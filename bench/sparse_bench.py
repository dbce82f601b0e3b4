#!/usr/bin/env python3
"""SparseLinear, wisp against PyTorch, side by side on this machine (the notebook's "Time and
memory efficiency" section).

One run times, for an N x N layer at the given sparsity (default 20000 x 20000 at 99%), forward
(no autograd) and forward+backward (`layer(x).sum().backward()`, as the notebook does; x does not
require grad), at each batch size, as the median of several runs after a warm-up:

  original    the SparseLinear package's algorithm (torch_sparse.spmm: index_select of the input
              rows, times the values, scatter_add into the output; autograd through those ops)
  torch CSR   torch.sparse CSR matmul (forward only: PyTorch 1.13 has no autograd for CSR values),
              with the transposed input made contiguous (x.t().contiguous(), inside the timing, as
              wisp's time includes its own transposition) and as the plain view x.t(); the table
              takes the faster (PyTorch 1.13's CSR product is ~3x slower on the strided view)
  torch COO   torch.sparse.mm with a COO weight built from a values leaf (forward+backward), likewise
  torch dense nn.Linear
It runs wisp's bench/sparse_bench and PyTorch's cases twice each, alternated (wisp, PyTorch, wisp,
PyTorch), and each side keeps the faster of its two medians per case, so that a burst of load from
other processes during one run does not decide a ratio, and both sides are treated alike. It prints
one table with ratios, the memory of each layer, the batch-1 forward against the
memory-bandwidth bound (time and bound from the same wisp run), and each larger batch's forward
against its read floor (sparse_bench's: the bytes of x's slices that every nonzero reads, read
sequentially from a cached buffer of x's size; again from the same wisp run), with the forward time
that the CSR target asks for beside it. OpenBLAS gets --threads threads
(OPENBLAS_NUM_THREADS, unless set), as torch.set_num_threads does not reach its pool. Uses Debian's
python3-torch:

    /usr/bin/python3 bench/sparse_bench.py --threads 2 --sparse-bench build/release/bench/sparse_bench

With --device cuda both run on the GPU: PyTorch's cases on torch.device("cuda"), each run started on
an idle GPU and timed by CUDA events around it (after 3 warm-ups), as `sparse_bench --device cuda`
times wisp's runs, beside `sparse_bench --device cuda --csv`,
whose rows add cuSPARSE's best SpMM/SpMV algorithm; the targets printed are issue #6's. Without a
CUDA-enabled PyTorch the PyTorch columns stay empty and only wisp's GPU numbers are shown:

    python3 bench/sparse_bench.py --device cuda --sparse-bench build/release/bench/sparse_bench
"""
import argparse
import csv
import glob
import io
import os
import statistics
import subprocess
import sys
import time


def _threads_argument():
    """--threads from the command line, needed before torch (and OpenBLAS) is imported."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_known_args()[0].threads


# torch.set_num_threads does not reach OpenBLAS's own thread pool: without this a --threads 1 run
# would give PyTorch's dense products two threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_threads_argument()))

import torch  # noqa: E402 (after OPENBLAS_NUM_THREADS)


def no_wait():
    pass


def timed(function, reps, budget_seconds, synchronize=no_wait, warmups=1, on_gpu=False):
    """Median seconds of `function` over up to `reps` runs after `warmups` warm-ups (at least 3 runs,
    fewer than `reps` once `budget_seconds` are spent). On the CPU each run is timed by the host's
    clock. On a GPU each run starts after `synchronize()` (the GPU is idle) and is timed by CUDA
    events recorded around it on the current stream, as sparse_bench --device cuda times wisp's runs,
    so that neither side counts the host's wait for the GPU."""
    for _ in range(warmups):
        function()
    times = []
    start = time.perf_counter()
    while len(times) < reps and (len(times) < 3 or time.perf_counter() - start < budget_seconds):
        synchronize()
        if on_gpu:
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            function()
            end.record()
            end.synchronize()
            times.append(begin.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            function()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def random_connectivity(n_in, n_out, nnz, generator):
    """Exactly nnz distinct (row, col) pairs, sorted, without an O(in*out) buffer."""
    cells = torch.empty(0, dtype=torch.int64)
    while cells.numel() < nnz:
        draw = torch.randint(0, n_in * n_out, (int(nnz * 1.02) + 16,), generator=generator)
        cells = torch.cat([cells, draw]).unique()
    keep = torch.randperm(cells.numel(), generator=generator)[:nnz]
    cells = cells[keep].sort().values
    return torch.stack([cells // n_in, cells % n_in])


class OriginalSparseLinear(torch.nn.Module):
    """The SparseLinear package's forward: torch_sparse.spmm(indices, weights, out, in, x.t()).t()
    + bias, with spmm = index_select + mul + scatter_add (torch_scatter's scatter_sum)."""

    def __init__(self, indices, n_in, n_out):
        super().__init__()
        self.in_features, self.out_features = n_in, n_out
        self.register_buffer("indices", indices)
        bound = 1 / n_in ** 0.5
        self.weights = torch.nn.Parameter(torch.empty(indices.shape[1]).uniform_(-bound, bound))
        self.bias = torch.nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, inputs):
        output_shape = list(inputs.shape)
        output_shape[-1] = self.out_features
        if len(output_shape) == 1:
            inputs = inputs.view(1, -1)
        inputs = inputs.flatten(end_dim=-2)
        row, col = self.indices
        matrix = inputs.t()
        out = matrix.index_select(-2, col) * self.weights.unsqueeze(-1)
        index = row.view(-1, 1).expand_as(out)
        output = torch.zeros(self.out_features, out.shape[1], dtype=out.dtype, device=out.device)
        output = output.scatter_add_(0, index, out).t()
        output = output + self.bias
        return output.view(output_shape)


def torch_cases(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    n = args.size
    nnz = round((1 - args.sparsity) * n * n)
    start = time.perf_counter()
    indices = random_connectivity(n, n, nnz, generator)
    results = {("torch_init", 0): time.perf_counter() - start}
    # Built on the CPU as on the CPU runs, then moved (Module.to keeps the parameters leaves).
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    synchronize = torch.cuda.synchronize if on_gpu else no_wait
    warmups = 3 if on_gpu else 1  # the first GPU calls create cuBLAS/cuSPARSE handles and grow the cache
    original = OriginalSparseLinear(indices, n, n).to(device)
    indices = indices.to(device)
    values = original.weights.detach()
    csr = torch.sparse_coo_tensor(indices, values, (n, n)).coalesce().to_sparse_csr()
    coo_values = values.clone().requires_grad_(True)
    bias = original.bias.detach().clone().requires_grad_(True)
    results[("original_memory", 0)] = (indices.numel() * 8 + values.numel() * 4 + n * 4)
    results[("csr_memory", 0)] = (csr.crow_indices().numel() * 8 + csr.col_indices().numel() * 8 + nnz * 4 + n * 4)

    def operand(x, contiguous):
        """x as the [n, rows] right-hand side: a contiguous copy of x.t() (PyTorch's faster CSR
        path) or the strided view x.t()."""
        if x.dim() == 1:
            return x.view(-1, 1)
        return x.t().contiguous() if contiguous else x.t()

    def csr_forward(x, contiguous):
        return (csr @ operand(x, contiguous)).t() + bias.detach()

    def coo_train(x, contiguous):
        coo_values.grad = None
        bias.grad = None
        weight = torch.sparse_coo_tensor(indices, coo_values, (n, n))
        (torch.sparse.mm(weight, operand(x, contiguous)).t() + bias).sum().backward()

    def train(layer, x):
        layer.zero_grad(set_to_none=True)
        layer(x).sum().backward()

    budget = args.budget

    def run(function, reps):
        return timed(function, reps, budget, synchronize, warmups, on_gpu)

    for batch in args.batch:
        x = (torch.rand(n) if batch == 1 else torch.rand(batch, n)).to(device)
        print(f"  torch: batch {batch} on {device} ...", file=sys.stderr, flush=True)
        with torch.no_grad():
            results[("original_forward", batch)] = run(lambda: original(x), args.reps)
            results[("csr_contiguous_forward", batch)] = run(lambda: csr_forward(x, True), args.reps)
            results[("csr_strided_forward", batch)] = run(lambda: csr_forward(x, False), args.reps)
        results[("original_train", batch)] = run(lambda: train(original, x), args.reps)
        results[("coo_contiguous_train", batch)] = run(lambda: coo_train(x, True), args.reps)
        results[("coo_strided_train", batch)] = run(lambda: coo_train(x, False), args.reps)
    for batch in args.batch:  # PyTorch's best of the two operand layouts
        for name, kind in (("csr", "forward"), ("coo", "train")):
            results[(f"{name}_{kind}", batch)] = min(results[(f"{name}_contiguous_{kind}", batch)],
                                                     results[(f"{name}_strided_{kind}", batch)])
    del original, csr
    if not args.skip_dense:
        dense = torch.nn.Linear(n, n).to(device)
        for batch in args.batch:
            x = (torch.rand(n) if batch == 1 else torch.rand(batch, n)).to(device)
            print(f"  torch: dense batch {batch} on {device} ...", file=sys.stderr, flush=True)
            with torch.no_grad():
                results[("dense_forward", batch)] = run(lambda: dense(x), args.dense_reps)
            results[("dense_train", batch)] = run(lambda: train(dense, x), args.dense_reps)
    return results


def wisp_cases(args):
    command = [args.sparse_bench, "--csv", "--size", str(args.size), "--sparsity", str(args.sparsity), "--reps",
               str(args.reps), "--dense-reps", str(args.dense_reps), "--threads", str(args.threads), "--device",
               args.device, "--batch"]
    command += [str(b) for b in args.batch]
    if args.skip_dense:
        command.append("--skip-dense")
    print("  wisp: " + " ".join(command), file=sys.stderr, flush=True)
    completed = subprocess.run(command, capture_output=True, text=True)
    sys.stderr.write(completed.stderr)  # sparse_bench's notes (cuSPARSE algorithms it could not run)
    if completed.returncode != 0:
        sys.exit(f"bench: sparse_bench exited with code {completed.returncode}")
    output = completed.stdout
    results = {}
    for row in csv.DictReader(io.StringIO(output)):
        value = float(row["value"])
        results[(row["name"], int(row["batch"]))] = value / 1e3 if row["unit"] == "ms" else value
    return results


def find_binary(path):
    if path and os.path.exists(path):
        return path
    candidates = sorted(glob.glob("build*/bench/sparse_bench") + glob.glob("build*/*/bench/sparse_bench"),
                        key=os.path.getmtime, reverse=True)
    if not candidates:
        sys.exit("bench: sparse_bench not found; build it (cmake --build <dir> --target sparse_bench) and pass "
                 "--sparse-bench")
    return candidates[0]


def fastest_of(runs, is_timed):
    """The first run's results, with each timed entry (is_timed(name)) the minimum over all runs."""
    results = dict(runs[0])
    for run in runs[1:]:
        for key, value in run.items():
            if is_timed(key[0]) and key in results:
                results[key] = min(results[key], value)
    return results


def is_torch_time(name):
    return name.endswith(("_forward", "_train"))


def alternated_runs(args, with_torch=True):
    """wisp, PyTorch, wisp, PyTorch: (wisp runs, PyTorch runs)."""
    wisp_runs, torch_runs = [], []
    for _ in range(2):
        wisp_runs.append(wisp_cases(args))
        if with_torch:
            torch_runs.append(torch_cases(args))
    return wisp_runs, torch_runs


def result(results, name, batch):
    return results.get((name, batch))


def quotient(numerator, denominator):
    return None if numerator is None or denominator is None else numerator / denominator


def milliseconds(seconds, decimals):
    return "-" if seconds is None else f"{seconds * 1e3:.{decimals}f}"


def ratio(numerator, denominator, decimals):
    value = quotient(numerator, denominator)
    return "-" if value is None else f"{value:.{decimals}f}x"


def gpu_report(args):
    """--device cuda: wisp (SparseLinear, cuSPARSE's best algorithm, dense Linear through cuBLAS) and
    PyTorch's GPU cases side by side, with issue #6's targets."""
    if not args.device.startswith("cuda"):
        sys.exit(f"bench: --device expects cpu, cuda or cuda:N but got {args.device!r}")
    torch_available = torch.cuda.is_available()
    if not torch_available:
        print(f"bench: PyTorch {torch.__version__} has no usable CUDA device: PyTorch columns left empty",
              file=sys.stderr)
    wisp_runs, torch_runs = alternated_runs(args, with_torch=torch_available)
    torch_results = fastest_of(torch_runs, is_torch_time) if torch_runs else {}
    wisp_results = fastest_of(wisp_runs, lambda name: name.endswith(("_forward", "_train", "_min")))

    def ms(seconds):
        return milliseconds(seconds, 3)

    def times(numerator, denominator):
        return ratio(numerator, denominator, 2)

    def best_cusparse(batch):
        """(label, seconds) of wisp's fastest cuSPARSE case at this batch, or (None, None)."""
        cases = [(name[len("cusparse_"):-len("_forward")], value) for (name, b), value in wisp_results.items()
                 if b == batch and name.startswith("cusparse_") and name.endswith("_forward")
                 and name != "cusparse_best_forward"]
        return min(cases, key=lambda case: case[1]) if cases else (None, None)

    nnz = int(wisp_results[("nnz", 0)])
    gpu = torch.cuda.get_device_name(0) if torch_available else "(PyTorch sees no GPU)"
    print(f"SparseLinear {args.size} x {args.size}, sparsity {args.sparsity} (nnz {nnz}) on {args.device}: {gpu}; "
          f"PyTorch {torch.__version__}")
    print("times in ms, median of runs each started on an idle GPU and timed by CUDA events around it; each side: "
          "the faster of its two alternated runs; ratios = other time / wisp sparse time")
    header = (f"{'case':<17}{'batch':>6}{'wisp':>9}{'cuSPARSE':>10}{'original':>10}{'torch CSR':>11}{'torch COO':>11}"
              f"{'torch dense':>12}{'wisp dense':>11} | {'cuSP/wisp':>9}{'orig/wisp':>10}{'CSR/wisp':>9}"
              f"{'dense/wisp':>11}")
    print(header)
    print("-" * len(header))
    for batch in args.batch:
        for kind, label in (("forward", "forward"), ("train", "forward+backward")):
            wisp = result(wisp_results, f"wisp_sparse_{kind}", batch)
            cusparse = best_cusparse(batch)[1] if kind == "forward" else None
            original = result(torch_results, f"original_{kind}", batch)
            csr = result(torch_results, "csr_forward", batch) if kind == "forward" else None
            coo = result(torch_results, "coo_train", batch) if kind == "train" else None
            dense = result(torch_results, f"dense_{kind}", batch)
            wisp_dense = result(wisp_results, f"wisp_dense_{kind}", batch)
            print(f"{label:<17}{batch:>6}{ms(wisp):>9}{ms(cusparse):>10}{ms(original):>10}{ms(csr):>11}{ms(coo):>11}"
                  f"{ms(dense):>12}{ms(wisp_dense):>11} | {times(cusparse, wisp):>9}{times(original, wisp):>10}"
                  f"{times(csr, wisp):>9}{times(dense, wisp):>11}")
    for batch in args.batch:
        label, seconds = best_cusparse(batch)
        if label is not None:
            print(f"cuSPARSE best at batch {batch}: {label} {ms(seconds)} ms (every algorithm: sparse_bench --device "
                  f"{args.device})")
    bound = wisp_results.get(("batch1_forward_bound", 1))
    measured = result(wisp_results, "wisp_sparse_forward", 1)
    if bound is not None:
        print(f"device copy {wisp_results[('copy_bandwidth', 0)]:.0f} GB/s; batch-1 forward moves "
              f"{wisp_results[('batch1_forward_bytes', 1)] / 1e6:.1f} MB: bound {bound * 1e3:.4f} ms"
              + ("" if measured is None else f", measured {measured * 1e3:.4f} ms = {measured / bound:.1f}x the bound"))

    print("targets (issue #6, set for an H100; the notebook's GPU: forward 0.583 ms, forward+backward 0.789 ms at "
          "batch 1):")

    def target(text, value, goal, unit):
        if value is None:
            print(f"  {text}: not measured")
            return
        ok = value <= goal
        print(f"  {text}: {value:.3f}{unit} (goal <= {goal}{unit}) {'met' if ok else 'MISSED'}")

    def scaled(value, factor):
        return None if value is None else value * factor

    target("batch 1 forward", scaled(measured, 1e3), 0.1, " ms")
    target("batch 1 forward+backward", scaled(result(wisp_results, "wisp_sparse_train", 1), 1e3), 0.2, " ms")
    wisp64, cusparse64 = result(wisp_results, "wisp_sparse_forward", 64), best_cusparse(64)[1]
    target("batch 64 forward / cuSPARSE's best", quotient(wisp64, cusparse64), 1.0, "x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--sparsity", type=float, default=0.99)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--reps", type=int, default=20, help="runs per case (after a warm-up)")
    parser.add_argument("--dense-reps", type=int, default=5, help="runs per dense case")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per PyTorch case before it stops at 3 runs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-dense", action="store_true")
    parser.add_argument("--sparse-bench", default="build/release/bench/sparse_bench")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda / cuda:N: both sides on that GPU")
    args = parser.parse_args()
    args.sparse_bench = find_binary(args.sparse_bench)
    if args.device != "cpu":
        gpu_report(args)
        return

    # Both sides run twice, alternated, and each case keeps the faster of its two medians: a burst
    # of load from other processes on this 2-core machine (one scheduler tick is 4 ms) can multiply
    # one run's times, and the same rule on both sides keeps the comparison even.
    load = os.getloadavg()[0]
    wisp_runs, torch_runs = alternated_runs(args)
    wisp_results = fastest_of(wisp_runs, lambda name: name.startswith("wisp_"))
    torch_results = fastest_of(torch_runs, is_torch_time)

    def ms(seconds):
        return milliseconds(seconds, 2)

    def times(numerator, denominator):
        return ratio(numerator, denominator, 1)

    nnz = int(wisp_results[("nnz", 0)])
    print(f"SparseLinear {args.size} x {args.size}, sparsity {args.sparsity} (nnz {nnz}); {args.threads} threads; "
          f"PyTorch {torch.__version__}; load average before the run {load:.2f}")
    print("times in ms (median); each side: the faster of its two alternated runs (wisp, PyTorch, wisp, PyTorch); "
          "ratios = PyTorch time / wisp sparse time")
    header = (f"{'case':<17}{'batch':>6}{'wisp':>10}{'original':>11}{'torch CSR':>11}{'torch COO':>11}"
              f"{'torch dense':>12}{'wisp dense':>11} | {'orig/wisp':>9}{'CSR/wisp':>9}{'dense/wisp':>11}")
    print(header)
    print("-" * len(header))
    # The exact layer, then the reduced-precision mode (compute_dtype bfloat16) of the same layer,
    # each against the same PyTorch times.
    for mode, suffix, with_dense in (("sparse", "", True), ("bf16", " bf16", False)):
        for batch in args.batch:
            for kind, label in (("forward", "forward"), ("train", "forward+backward" if with_dense else "fwd+bwd")):
                wisp = result(wisp_results, f"wisp_{mode}_{kind}", batch)
                original = result(torch_results, f"original_{kind}", batch)
                csr = result(torch_results, "csr_forward", batch) if kind == "forward" else None
                coo = result(torch_results, "coo_train", batch) if kind == "train" else None
                dense = result(torch_results, f"dense_{kind}", batch)
                wisp_dense = ms(result(wisp_results, f"wisp_dense_{kind}", batch)) if with_dense else ""
                print(f"{label + suffix:<17}{batch:>6}{ms(wisp):>10}{ms(original):>11}{ms(csr):>11}{ms(coo):>11}"
                      f"{ms(dense):>12}{wisp_dense:>11} | {times(original, wisp):>9}{times(csr, wisp):>9}"
                      f"{times(dense, wisp):>11}")
    for index, run in enumerate(wisp_runs):
        cases = ", ".join(f"{kind} b{batch} {run[(f'wisp_sparse_{kind}', batch)] * 1e3:.2f}"
                          for batch in args.batch for kind in ("forward", "train"))
        print(f"wisp sparse run {index + 1} (ms): {cases}")
    for index, run in enumerate(torch_runs):
        cases = ", ".join(f"{name} b{batch} {run[(name, batch)] * 1e3:.2f}" for batch in args.batch
                          for name in ("csr_contiguous_forward", "csr_strided_forward", "dense_train")
                          if (name, batch) in run)
        print(f"PyTorch run {index + 1} (ms): {cases}")
    mb = 1e6
    print(f"memory: wisp sparse {wisp_results[('sparse_memory', 0)] / mb:.1f} MB (values, bias, CSR + CSC int32); "
          f"original {torch_results[('original_memory', 0)] / mb:.1f} MB (int64 indices, values, bias); "
          f"torch CSR {torch_results[('csr_memory', 0)] / mb:.1f} MB; dense {wisp_results[('dense_memory', 0)] / mb:.1f} MB")
    # The batch-1 forward against the bound of the same run (the copy bandwidth is measured per run);
    # the run with the smaller ratio, as the faster run elsewhere.
    bound_run = min(wisp_runs, key=lambda run: run.get(("wisp_sparse_forward", 1), float("inf")) /
                    run[("batch1_forward_bound", 1)])
    bound = bound_run[("batch1_forward_bound", 1)]
    bandwidth = bound_run[("copy_bandwidth", 0)]
    measured = result(bound_run, "wisp_sparse_forward", 1)
    fastest = result(bound_run, "wisp_sparse_forward_min", 1)
    print(f"streaming copy {bandwidth:.1f} GB/s; batch-1 forward moves "
          f"{wisp_results[('batch1_forward_bytes', 1)] / mb:.1f} MB: bound {bound * 1e3:.3f} ms"
          + ("" if measured is None else f", measured {measured * 1e3:.3f} ms = {measured / bound:.2f}x the bound "
                                         f"(fastest run {fastest * 1e3:.3f} ms = {fastest / bound:.2f}x)"))
    for batch in args.batch:
        if batch <= 1:
            continue
        # The run with the smaller ratio to its own floor, as for the batch-1 bound.
        floor_run = min(wisp_runs, key=lambda run: run[("wisp_sparse_forward", batch)] /
                        run[("forward_read_floor", batch)])
        read_floor = floor_run[("forward_read_floor", batch)]
        floor_measured = floor_run[("wisp_sparse_forward", batch)]
        csr = result(torch_results, "csr_forward", batch)
        print(f"batch-{batch} forward reads {floor_run[('forward_read_bytes', batch)] / mb:.0f} MB of x's slices from "
              f"a {floor_run[('forward_read_operand', batch)] / mb:.1f} MB operand; read sequentially from a cached "
              f"buffer of that size at {floor_run[('cached_read_bandwidth', batch)]:.0f} GB/s: floor "
              f"{read_floor * 1e3:.2f} ms, measured {floor_measured * 1e3:.2f} ms = "
              f"{floor_measured / read_floor:.2f}x the floor"
              + ("" if csr is None else f"; 20x torch CSR would need {csr / 20 * 1e3:.2f} ms = "
                                        f"{csr / 20 / read_floor:.2f}x the floor"))
    print(f"initialisation: wisp {wisp_results[('sparse_init', 0)] * 1e3:.0f} ms, "
          f"PyTorch sampling {torch_results[('torch_init', 0)] * 1e3:.0f} ms")

    print("targets (issue #4):")

    def target(text, value, goal, higher_is_better=True):
        if value is None:
            print(f"  {text}: not measured")
            return
        ok = value >= goal if higher_is_better else value <= goal
        print(f"  {text}: {value:.1f}x (goal {'>=' if higher_is_better else '<='} {goal}x) {'met' if ok else 'MISSED'}")

    wisp64_fwd = result(wisp_results, "wisp_sparse_forward", 64)
    wisp64_train = result(wisp_results, "wisp_sparse_train", 64)
    target("batch 64 forward vs torch CSR", quotient(result(torch_results, "csr_forward", 64), wisp64_fwd), 20)
    target("batch 64 forward+backward vs dense nn.Linear",
           quotient(result(torch_results, "dense_train", 64), wisp64_train), 60)
    target("batch 64 forward+backward vs the original algorithm",
           quotient(result(torch_results, "original_train", 64), wisp64_train), 100)
    target("batch 1 forward (median) / bandwidth bound", quotient(measured, bound), 2, higher_is_better=False)

    # Fewer bytes per connection: against the fp32 format's batch-1 bound (8 bytes per connection) of
    # the same run, and the fastest mode that keeps accuracy (bf16) against PyTorch.
    def to_fp32_bound(name):
        """The smallest ratio over the runs of a batch-1 time to the same run's fp32-format bound."""
        ratios = [run[(name, 1)] / run[("batch1_forward_bound_fp32_format", 1)] for run in wisp_runs
                  if (name, 1) in run and ("batch1_forward_bound_fp32_format", 1) in run]
        return min(ratios) if ratios else None

    print("targets (fewer bytes per connection):")
    target("batch 1 forward, exact mode / fp32-format bound", to_fp32_bound("wisp_sparse_forward"), 1.2,
           higher_is_better=False)
    target("batch 1 forward, bf16 mode / fp32-format bound", to_fp32_bound("wisp_bf16_forward"), 0.8,
           higher_is_better=False)
    best64_train = min(t for t in (wisp64_train, result(wisp_results, "wisp_bf16_train", 64)) if t is not None)
    best64_fwd = min(t for t in (wisp64_fwd, result(wisp_results, "wisp_bf16_forward", 64)) if t is not None)
    target("batch 64 forward+backward vs dense nn.Linear (fastest mode)",
           quotient(result(torch_results, "dense_train", 64), best64_train), 100)
    target("batch 64 forward vs torch CSR (fastest mode)", quotient(result(torch_results, "csr_forward", 64), best64_fwd),
           20)
    print(f"load average after the run {os.getloadavg()[0]:.2f} (2-thread timings degrade sharply when other "
          f"processes compete for the 2 cores)")


if __name__ == "__main__":
    main()
