#!/usr/bin/env bash
# Copies the build dependencies installed here (scripts/setup_dependencies.sh) and MNIST into one
# folder, for a machine without internet access that has a compiler, CMake and (for the GPU) the
# CUDA toolkit, but not these packages.
#
#   bash scripts/vendor_dependencies.sh [DIR]      (default: build/vendor, ignored by git)
#
# DIR becomes a CMake prefix: Eigen, Catch2 v2, CLI11 and zlib (headers, CMake files, the static
# libCatch2WithMain.a and libz.a) under DIR/include, DIR/lib and DIR/share, laid out as under /usr so
# that each package's CMake files find their headers; and MNIST, gzipped, in DIR/mnist when
# datasets/mnist holds it. About 10 MB, 21 MB with MNIST. Copy DIR to the other machine, then build there with
# -DCMAKE_PREFIX_PATH=DIR, or run `bash scripts/gpu_check.sh --prefix DIR`. DIR is emptied first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/common.sh
source "$ROOT/scripts/common.sh"
folder_script_arguments "$@"
PREFIX="${1:-$ROOT/build/vendor}"

# copy_from_usr PATH...: /usr/X -> PREFIX/X, so that each package's CMake files find their headers at
# the same place relative to themselves (they compute the prefix from their own location).
copy_from_usr() {
  local path
  for path in "$@"; do
    if [[ ! -e "$path" ]]; then
      echo "vendor_dependencies: $path is missing here; run scripts/setup_dependencies.sh first" >&2
      exit 1
    fi
    mkdir -p "$PREFIX/$(dirname "${path#/usr/}")"
    cp -a "$path" "$PREFIX/${path#/usr/}"
  done
}

rm -rf "$PREFIX"
mkdir -p "$PREFIX/lib"
PREFIX="$(cd "$PREFIX" && pwd)"
# Eigen (headers + CMake config; unsupported/ is not used), Catch2 v2 (its config also imports
# libCatch2WithMain.a, which must exist), CLI11, zlib (static: nothing to find at run time).
copy_from_usr /usr/include/eigen3/Eigen /usr/include/eigen3/signature_of_eigen3_matrix_library \
  /usr/share/eigen3/cmake \
  /usr/include/catch2 /usr/lib/cmake/Catch2 /usr/lib/libCatch2WithMain.a \
  /usr/include/CLI /usr/share/cmake/CLI11 \
  /usr/include/zlib.h /usr/include/zconf.h
zlib_archive="$(c++ -print-file-name=libz.a)"
if [[ ! -f "$zlib_archive" ]]; then
  echo "vendor_dependencies: the compiler finds no libz.a; run scripts/setup_dependencies.sh first" >&2
  exit 1
fi
cp "$zlib_archive" "$PREFIX/lib/libz.a"

mnist="$ROOT/datasets/mnist"
names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
mnist_found=1
for name in "${names[@]}"; do
  [[ -f "$mnist/$name.gz" || -f "$mnist/$name" ]] || mnist_found=0
done
if ((mnist_found)); then
  mkdir -p "$PREFIX/mnist"
  for name in "${names[@]}"; do
    if [[ -f "$mnist/$name.gz" ]]; then
      cp "$mnist/$name.gz" "$PREFIX/mnist/"
    else
      gzip -c "$mnist/$name" > "$PREFIX/mnist/$name.gz"
    fi
  done
else
  echo "vendor_dependencies: MNIST is not in $mnist (scripts/fetch_mnist.sh): DIR/mnist is left out" >&2
fi

echo "vendor_dependencies: $(du -sh "$PREFIX" | cut -f1) in $PREFIX:"
parts=("$PREFIX"/include/* "$PREFIX"/lib "$PREFIX"/share)
((mnist_found)) && parts+=("$PREFIX"/mnist)
du -sh "${parts[@]}" | sed 's/^/  /'
