#!/usr/bin/env bash
# Puts Fashion-MNIST into DIR (default: datasets/fashion-mnist under the repository root).
#
#   scripts/fetch_fashion_mnist.sh [DIR]
#
# Source: Debian's package dataset-fashion-mnist, installed with apt-get when missing (through
# sudo unless run as root), which holds the four gzip-compressed IDX files in
# /usr/share/datasets/fashion-mnist/ under the standard names (train-images-idx3-ubyte.gz, ...).
# They are symlinked into DIR (no copy of 31 MB); MnistDataset(DIR, ...) reads them as they are.
# Idempotent: existing correct links (or identical copies) are left alone.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
folder_script_arguments "$@"

readonly PACKAGE="dataset-fashion-mnist"
readonly SOURCE_DIR="/usr/share/datasets/fashion-mnist"
readonly REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly DIR="${1:-$REPO/datasets/fashion-mnist}"
readonly FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz
                t10k-labels-idx1-ubyte.gz)

die() {
  echo "fetch_fashion_mnist: error: $*" >&2
  exit 1
}

all_present() {
  local name
  for name in "${FILES[@]}"; do [[ -f "$SOURCE_DIR/$name" ]] || return 1; done
}

if ! all_present; then
  command -v apt-get >/dev/null || die "$SOURCE_DIR is incomplete and apt-get is unavailable (not Debian?)"
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "installing $PACKAGE needs root, and sudo is not installed"
    sudo=(sudo)
  fi
  echo "fetch_fashion_mnist: installing Debian's $PACKAGE (31 MB) ..."
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$PACKAGE"; then
    # A fresh machine may have empty package lists.
    "${sudo[@]}" apt-get update || die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$PACKAGE" ||
      die "apt-get install $PACKAGE failed"
  fi
  all_present || die "$PACKAGE is installed but $SOURCE_DIR lacks some of: ${FILES[*]}"
fi

mkdir -p "$DIR"
for name in "${FILES[@]}"; do
  target="$DIR/$name"
  if [[ -L "$target" && "$(readlink "$target")" == "$SOURCE_DIR/$name" ]]; then
    continue
  fi
  if [[ -f "$target" && ! -L "$target" ]]; then
    cmp -s "$target" "$SOURCE_DIR/$name" && continue  # a copy of the same file is as good as a link
    die "$target exists and differs from $SOURCE_DIR/$name; remove it first"
  fi
  ln -sfn "$SOURCE_DIR/$name" "$target"
  echo "fetch_fashion_mnist: $target -> $SOURCE_DIR/$name"
done
echo "fetch_fashion_mnist: Fashion-MNIST is in $DIR"
