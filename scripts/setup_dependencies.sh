#!/usr/bin/env bash
# Installs the Debian packages that building and testing wisp need, and only those that are missing.
#
#   bash scripts/setup_dependencies.sh               build + test dependencies
#   bash scripts/setup_dependencies.sh --with-torch  also python3-torch and OpenBLAS (benchmarks in bench/
#                                                    and the golden-value scripts in tests/reference/ only)
#   bash scripts/setup_dependencies.sh --with-npm    also Debian's npm, unless an npm command exists
#                                                    (scripts/fetch_mnist.sh downloads MNIST with it)
#   bash scripts/setup_dependencies.sh --with-fuzz   also clang 14 with libFuzzer and libomp
#                                                    (scripts/run_fuzzers.sh)
#
# Idempotent: when everything is installed it changes nothing and does not touch the network.
# Uses sudo only when not run as root. The CUDA toolkit (nvcc, cuBLAS, cuSPARSE) is not installed
# here: the build uses it when it is present (nvcc on PATH or /usr/local/cuda/bin/nvcc).
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
usage() { opening_comment; }

with_torch=0
with_npm=0
with_fuzz=0
for argument in "$@"; do
  case "$argument" in
    --with-torch) with_torch=1 ;;
    --with-npm) with_npm=1 ;;
    --with-fuzz) with_fuzz=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup_dependencies.sh: unknown argument '$argument' (expected --with-torch, --with-npm, --with-fuzz or --help)" >&2
       exit 2 ;;
  esac
done

# Build: compiler, CMake, make. Libraries: Eigen 3.4 (dense CPU math), zlib (.gz IDX files), Catch2 v2
# (tests), CLI11 (apps' command lines), Open MPI 4.1 (distributed/: data-parallel training across
# processes; the [mpi] tests run under its mpirun). OpenMP (libgomp) and the ASan/UBSan
# runtimes come with g++. Checks: clang-format (14 on Debian 12; scripts/check_format.sh).
packages=(g++ make cmake libeigen3-dev zlib1g-dev catch2 libcli11-dev clang-format openmpi-bin libopenmpi-dev)
if [[ $with_torch == 1 ]]; then
  # Debian's torch calls the system BLAS; without OpenBLAS it falls back to the reference BLAS, which
  # made a dense MNIST step ~6x slower here: benchmarks must compare against PyTorch at its best.
  packages+=(python3-torch libopenblas0-pthread)
fi
if [[ $with_npm == 1 ]] && ! command -v npm > /dev/null; then
  packages+=(npm)  # an npm installed some other way (nodesource, nvm) serves as well
fi
if [[ $with_fuzz == 1 ]]; then
  packages+=(clang-14 libclang-rt-14-dev libomp-14-dev)  # libFuzzer and the sanitizers' runtimes; clang's OpenMP
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

missing=()
for package in "${packages[@]}"; do
  if is_installed "$package"; then
    echo "setup: $package is installed"
  else
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed; nothing to do"
  exit 0
fi

if ! command -v apt-get > /dev/null; then
  echo "setup: missing packages (${missing[*]}) and no apt-get: this script supports Debian and Ubuntu;" \
       "install the equivalents by hand" >&2
  exit 1
fi

sudo_command=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo > /dev/null; then
    echo "setup: missing packages (${missing[*]}); run this script as root or install sudo" >&2
    exit 1
  fi
  sudo_command=(sudo)
fi

apt_options=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
echo "setup: installing ${missing[*]}"
echo "+ ${sudo_command[*]:+${sudo_command[*]} }apt-get update"
"${sudo_command[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=600
echo "+ ${sudo_command[*]:+${sudo_command[*]} }apt-get install ${apt_options[*]} ${missing[*]}"
"${sudo_command[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_options[@]}" "${missing[@]}"

for package in "${missing[@]}"; do
  if ! is_installed "$package"; then
    echo "setup: $package is still not installed after apt-get install" >&2
    exit 1
  fi
done
echo "setup: installed ${missing[*]}"
