#!/usr/bin/env bash
# The README's train command: sets up a fresh Debian machine, builds wisp (Release), fetches MNIST
# and trains a model with mnist_train.
#
#   bash scripts/train.sh                          the notebook's dense model, 20 epochs
#   bash scripts/train.sh --epochs 1               any mnist_train options (see mnist_train --help)
#   bash scripts/train.sh --data datasets/fashion-mnist   after scripts/fetch_fashion_mnist.sh
#
# The build lives in build/release (shared with scripts/test.sh, so the second command only rebuilds
# what changed); MNIST lands in datasets/mnist.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"

bash scripts/setup_dependencies.sh
# shellcheck disable=SC2046  # cuda_arguments prints a list of arguments
cmake --preset release $(cuda_arguments) > /dev/null
cmake --build --preset release -j "$(nproc)" --target mnist_train
# MNIST is fetched unless --data names another folder (Fashion-MNIST: scripts/fetch_fashion_mnist.sh).
data_folder=datasets/mnist
previous=""
for argument in "$@"; do
  case "$argument" in
    --data=*) data_folder="${argument#--data=}" ;;
    *) [[ "$previous" == "--data" ]] && data_folder="$argument" ;;
  esac
  previous="$argument"
done
if [[ "$data_folder" == datasets/mnist || "$data_folder" == datasets/mnist/ ]]; then
  bash scripts/fetch_mnist.sh datasets/mnist
fi

exec build/release/apps/mnist_train "$@"  # --data defaults to datasets/mnist
