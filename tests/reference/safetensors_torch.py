#!/usr/bin/python3
"""PyTorch interop of wisp model files, both directions (ctest label `torch`).

  /usr/bin/python3 safetensors_torch.py MODEL_INTEROP FOLDER

1. Runs `MODEL_INTEROP save FOLDER`, reads wisp_model.safetensors into the PyTorch equivalent of the
   seed notebook's sparse model (SparseLinear re-created with torch.sparse) with a strict
   load_state_dict, and checks its outputs against those wisp wrote beside it (to 1e-5).
2. Writes a PyTorch model's state_dict as safetensors, runs `MODEL_INTEROP load FOLDER`, and checks
   wisp's outputs against PyTorch's (to 1e-5).

Needs only json, numpy and torch (no safetensors package). Exits 77 (skipped) without torch.
"""
import json
import math
import struct
import subprocess
import sys

try:
    import numpy as np
    import torch
except ImportError:
    sys.exit(77)

DTYPES = {"F64": "<f8", "F32": "<f4", "I64": "<i8", "I32": "<i4", "U8": "u1"}
NAMES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}


def _no_duplicates(pairs):
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key in header")
    return dict(pairs)


def load_safetensors(path):
    """Tensors and metadata of a safetensors file, checked as the reference reader does."""
    data = open(path, "rb").read()
    length = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else -1
    if not 2 <= length <= min(100_000_000, len(data) - 8):
        raise ValueError(f"bad header length {length}")
    header = json.loads(data[8:8 + length].decode("utf-8"), object_pairs_hook=_no_duplicates)
    metadata = header.pop("__metadata__", {})
    body, tensors, end = memoryview(data)[8 + length:], {}, 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        (begin, stop), dtype, shape = entry["data_offsets"], np.dtype(DTYPES[entry["dtype"]]), entry["shape"]
        if begin != end or stop > len(body) or stop - begin != dtype.itemsize * math.prod(shape):
            raise ValueError(f"tensor {name!r}: bad offsets or shape")
        array = np.frombuffer(body[begin:stop], dtype=dtype).astype(dtype.newbyteorder("=")).reshape(shape)
        tensors[name], end = torch.from_numpy(array.copy()), stop
    if end != len(body):
        raise ValueError("trailing bytes after the last tensor")
    return tensors, metadata


def save_safetensors(path, tensors, metadata):
    """Writes tensors as the reference writer does: by decreasing element size then name, aligned."""
    order = sorted(tensors, key=lambda name: (-tensors[name].element_size(), name))
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in order:
        tensor = tensors[name].detach().contiguous().cpu()
        blob = tensor.numpy().astype(DTYPES[NAMES[tensor.dtype]]).tobytes()
        header[name] = {"dtype": NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as stream:
        stream.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class SparseLinear(torch.nn.Module):
    """The seed package's SparseLinear: weights [nnz], indices int64 [2, nnz] (row = output), bias."""

    def __init__(self, in_features, out_features, nnz):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weights = torch.nn.Parameter(torch.zeros(nnz))
        self.register_buffer("indices", torch.zeros(2, nnz, dtype=torch.int64))
        self.bias = torch.nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        weight = torch.sparse_coo_tensor(self.indices, self.weights, (self.out_features, self.in_features))
        return torch.sparse.mm(weight, x.t()).t() + self.bias

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # The file's connectivity replaces the layer's (nnz may differ), as wisp's load does.
        nnz = state_dict[prefix + "indices"].shape[1]
        self.weights = torch.nn.Parameter(torch.zeros(nnz))
        self.indices = torch.zeros(2, nnz, dtype=torch.int64)
        super()._load_from_state_dict(state_dict, prefix, *args)


class ActivationSparsity(torch.nn.Module):
    """k-winners with boosting, evaluation mode (duty cycles fixed), as wisp's ActivationSparsity."""

    def __init__(self, units, act_sparsity=0.65, beta=1.5):
        super().__init__()
        self.k = math.floor((1.0 - act_sparsity) * units + 0.5)  # llround
        self.beta = beta
        self.register_buffer("duty_cycle", torch.full((units,), self.k / units))

    def forward(self, x):
        units = x.shape[-1]
        boost = torch.exp(self.beta * (self.k / units - self.duty_cycle.double()))
        winners = torch.topk(x.double() * boost, self.k, dim=-1).indices
        mask = torch.zeros_like(x, dtype=torch.bool).scatter_(-1, winners, True)
        return torch.where(mask, x, torch.zeros_like(x))


def make_model(nnz):
    return torch.nn.Sequential(torch.nn.Flatten(), SparseLinear(20, 30, nnz), torch.nn.LayerNorm(30),
                               torch.nn.ReLU(), ActivationSparsity(30), torch.nn.Linear(30, 10))


def require_close(actual, expected, what):
    error = (actual - expected).abs().max().item()
    print(f"{what}: max |difference| {error:.3g} over {expected.numel()} outputs")
    if actual.shape != expected.shape or not torch.allclose(actual, expected, rtol=1e-5, atol=1e-5):
        sys.exit(f"{what}: outputs differ (max |difference| {error})")


def main():
    helper, folder = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)

    # 1. wisp → PyTorch.
    subprocess.run([helper, "save", folder], check=True)
    state, metadata = load_safetensors(f"{folder}/wisp_model.safetensors")
    if metadata != {"format": "pt", "wisp.format_version": "1"}:
        sys.exit(f"unexpected metadata {metadata}")
    model = make_model(1)
    model.load_state_dict(state, strict=True)
    model.eval()
    io, _ = load_safetensors(f"{folder}/wisp_io.safetensors")
    with torch.no_grad():
        require_close(model(io["inputs"]), io["outputs"], "wisp file in PyTorch")

    # 2. PyTorch → wisp: a model with its own connections (sorted by row, then column), trained
    # duty cycles and nonzero LayerNorm affine parameters.
    torch_model = make_model(1)
    nnz = 150
    cells = torch.randperm(20 * 30)[:nnz].sort().values
    state = {name: tensor.clone() for name, tensor in torch_model.state_dict().items()}
    state["1.indices"] = torch.stack([cells // 20, cells % 20])
    state["1.weights"] = torch.randn(nnz) * 0.3
    state["1.bias"] = torch.randn(30) * 0.1
    state["2.weight"] = 1 + 0.1 * torch.randn(30)
    state["2.bias"] = 0.1 * torch.randn(30)
    state["4.duty_cycle"] = torch.rand(30) * 0.6
    torch_model.load_state_dict(state, strict=True)
    torch_model.eval()
    save_safetensors(f"{folder}/torch_model.safetensors", torch_model.state_dict(), {"format": "pt"})
    inputs = torch.randn(12, 1, 4, 5)
    save_safetensors(f"{folder}/torch_io.safetensors", {"inputs": inputs}, {})
    subprocess.run([helper, "load", folder], check=True)
    outputs, _ = load_safetensors(f"{folder}/wisp_outputs.safetensors")
    with torch.no_grad():
        require_close(outputs["outputs"], torch_model(inputs), "PyTorch file in wisp")


if __name__ == "__main__":
    main()
