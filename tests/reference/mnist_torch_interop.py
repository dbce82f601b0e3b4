#!/usr/bin/python3
"""MNIST models move between wisp and PyTorch with the same test accuracy (ctest label `torch`).

  /usr/bin/python3 mnist_torch_interop.py MNIST_TRAIN MNIST_DIR FOLDER [--limit N] [--models sparse,dense]

For the seed notebook's `sparse` model (Flatten, SparseLinear(784, 2000), LayerNorm(2000), ReLU,
SparseLinear(2000, 10); SparseLinear re-created with torch.sparse) and its `dense` twin:

1. wisp → PyTorch: `mnist_train --model M --epochs 1 --limit N --save FILE`; FILE goes into the PyTorch
   model with a strict load_state_dict, which must classify the 10000 test images as wisp printed
   (at most one image apart: 0.01%).
2. PyTorch → wisp: PyTorch trains the same model one epoch on the first N training images (the
   notebook's SGD, lr and momentum) and writes its state_dict as safetensors;
   `mnist_train --eval-only --load FILE` must get PyTorch's test accuracy (same tolerance).

Both programs evaluate in batches of 100, so every one of the 10000 test images counts. Reads the IDX
files and model files with json and numpy only (no safetensors package). Exits 77 (skipped) without
torch or without MNIST in MNIST_DIR.
"""
import argparse
import gzip
import os
import re
import subprocess
import sys

try:
    import numpy as np
    import torch
except ImportError:
    sys.exit(77)

from safetensors_torch import SparseLinear, load_safetensors, save_safetensors

MEAN, STD = 0.1307, 0.3081  # the notebook's Normalize
BATCH = 100  # divides 10000: no test image is dropped with the loaders' drop_last
# The seed notebook's SGD settings per model (apps/models.cpp's presets).
LEARNING_RATES = {"sparse": 0.1, "dense": 0.01}
MOMENTUM = 0.9
# A floor that makes the agreement mean something: both sides must have learned MNIST.
MINIMUM_ACCURACY = 80.0


def read_idx(folder, stem):
    """An IDX file (raw or .gz) as a numpy array: magic 0, 0, type 0x08 (uint8), rank; big-endian sizes."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            data = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            break
    else:
        return None
    if data[:3] != b"\0\0\x08":
        raise ValueError(f"{path}: not a uint8 IDX file")
    rank = data[3]
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=rank, offset=4))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def pixels(images):
    """uint8 images as float32 in wisp's (and torchvision's ToTensor + Normalize) arithmetic."""
    x = images.astype(np.float32) / np.float32(255)
    return torch.from_numpy((x - np.float32(MEAN)) / np.float32(STD))


def sparse_layer(in_features, out_features, generator):
    """The seed package's default SparseLinear: 90% sparse with random connections, sorted by row
    then column, weights and bias uniform in ±1/sqrt(in_features)."""
    nnz = round(0.1 * in_features * out_features)
    cells = torch.randperm(in_features * out_features, generator=generator)[:nnz].sort().values
    layer = SparseLinear(in_features, out_features, nnz)
    bound = 1 / in_features**0.5
    with torch.no_grad():
        layer.indices.copy_(torch.stack([cells // in_features, cells % in_features]))
        layer.weights.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


def make_model(kind, generator):
    if kind == "sparse":
        first, last = sparse_layer(784, 2000, generator), sparse_layer(2000, 10, generator)
    else:
        first, last = torch.nn.Linear(784, 2000), torch.nn.Linear(2000, 10)
    return torch.nn.Sequential(torch.nn.Flatten(), first, torch.nn.LayerNorm(2000), torch.nn.ReLU(), last)


def correct_count(model, images, labels):
    model.eval()
    correct = 0
    with torch.no_grad():
        for begin in range(0, len(labels), BATCH):
            logits = model(images[begin:begin + BATCH])
            correct += (logits.argmax(1) == labels[begin:begin + BATCH]).sum().item()
    return correct


def train_one_epoch(model, kind, images, labels, generator):
    """The notebook's training loop: batches of 64, shuffled, last partial batch dropped."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATES[kind], momentum=MOMENTUM)
    order = torch.randperm(len(labels), generator=generator)
    model.train()
    for begin in range(0, len(labels) - 63, 64):
        batch = order[begin:begin + 64]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
        optimizer.step()


def wisp_test_result(command, expected_samples):
    """Runs mnist_train and returns how many test images it classified correctly, by what it printed."""
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    accuracies = re.findall(r"Test Acc: ([0-9.]+)", result.stdout)
    samples = re.findall(r"test samples (\d+) of \d+|\((\d+) test samples\)", result.stdout)
    if not accuracies or not samples:
        sys.exit(f"no test accuracy in the output of {' '.join(command)}:\n{result.stdout}")
    count = int(next(number for number in samples[-1] if number))
    if count != expected_samples:
        sys.exit(f"{' '.join(command)} tested {count} images, expected {expected_samples}")
    # Printed with 4 decimals: over 10000 images, each image is 0.01%, so this is exact.
    return round(float(accuracies[-1]) * count / 100)


def require_agreement(what, wisp_correct, torch_correct, total):
    wisp_accuracy, torch_accuracy = 100 * wisp_correct / total, 100 * torch_correct / total
    print(f"{what}: wisp {wisp_accuracy:.2f}%, PyTorch {torch_accuracy:.2f}% over {total} test images "
          f"({abs(wisp_correct - torch_correct)} apart)", flush=True)
    if abs(wisp_correct - torch_correct) > 1:
        sys.exit(f"{what}: the accuracies differ by more than 0.01% (one image)")
    if min(wisp_accuracy, torch_accuracy) < MINIMUM_ACCURACY:
        sys.exit(f"{what}: expected both accuracies >= {MINIMUM_ACCURACY}% (a trained model)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mnist_train")
    parser.add_argument("mnist_dir")
    parser.add_argument("folder")
    parser.add_argument("--limit", type=int, default=6400, help="training images for each run (default 6400)")
    parser.add_argument("--models", default="sparse,dense", help="comma-separated: sparse, dense")
    arguments = parser.parse_args()

    stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    arrays = [read_idx(arguments.mnist_dir, stem) for stem in stems]
    if any(array is None for array in arrays):
        print(f"skipped: no MNIST in {arguments.mnist_dir} (scripts/fetch_mnist.sh fetches it)")
        sys.exit(77)
    train_images, train_labels = pixels(arrays[0][:arguments.limit]), torch.tensor(arrays[1][:arguments.limit])
    test_images, test_labels = pixels(arrays[2]), torch.tensor(arrays[3])
    train_labels, test_labels = train_labels.long(), test_labels.long()
    total = len(test_labels)
    if total % BATCH:
        sys.exit(f"expected a test set that batches of {BATCH} cover but it has {total} images")
    os.makedirs(arguments.folder, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    for kind in arguments.models.split(","):
        if kind not in LEARNING_RATES:
            sys.exit(f"--models: expected sparse or dense but got {kind!r}")
        wisp_flags = ["--data", arguments.mnist_dir, "--model", kind, "--batch-size", str(BATCH)]

        # 1. wisp → PyTorch.
        wisp_file = os.path.join(arguments.folder, f"wisp_{kind}.safetensors")
        train_flags = ["--epochs", "1", "--limit", str(arguments.limit), "--save", wisp_file]
        wisp_correct = wisp_test_result([arguments.mnist_train, *wisp_flags, *train_flags], total)
        state, _ = load_safetensors(wisp_file)
        model = make_model(kind, generator)
        model.load_state_dict(state, strict=True)
        require_agreement(f"{kind}, trained by wisp", wisp_correct, correct_count(model, test_images, test_labels),
                          total)

        # 2. PyTorch → wisp.
        model = make_model(kind, generator)
        train_one_epoch(model, kind, train_images, train_labels, generator)
        torch_file = os.path.join(arguments.folder, f"torch_{kind}.safetensors")
        save_safetensors(torch_file, model.state_dict(), {"format": "pt"})
        eval_flags = ["--eval-only", "--load", torch_file]
        wisp_correct = wisp_test_result([arguments.mnist_train, *wisp_flags, *eval_flags], total)
        require_agreement(f"{kind}, trained by PyTorch", wisp_correct, correct_count(model, test_images, test_labels),
                          total)


if __name__ == "__main__":
    main()
