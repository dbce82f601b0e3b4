# Shell functions shared by scripts/test.sh and scripts/train.sh (sourced, not run).

# CMake arguments that pick the CUDA backend: ON when nvcc is on PATH or in /usr/local/cuda/bin (CMake
# does not look there by itself unless told), OFF otherwise; WISP_CUDA in the environment overrides.
cuda_arguments() {
  local nvcc=""
  if command -v nvcc > /dev/null 2>&1; then
    nvcc="$(command -v nvcc)"
  elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
    nvcc=/usr/local/cuda/bin/nvcc
  fi
  local mode="${WISP_CUDA:-}"
  if [[ -z "$mode" ]]; then
    if [[ -n "$nvcc" ]]; then mode=ON; else mode=OFF; fi
  fi
  if [[ "$mode" == ON && -n "$nvcc" ]]; then
    echo "-DWISP_CUDA=ON -DCMAKE_CUDA_COMPILER=$nvcc"
  else
    echo "-DWISP_CUDA=$mode"
  fi
}
