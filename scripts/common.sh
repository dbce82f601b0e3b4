# Shell functions shared by the scripts (sourced, not run).

# The nvcc to build with: the one on PATH, else /usr/local/cuda/bin/nvcc (where the CUDA toolkit
# installs it without putting it on PATH); prints nothing when neither exists.
nvcc_path() {
  if command -v nvcc > /dev/null 2>&1; then
    command -v nvcc
  elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
    echo /usr/local/cuda/bin/nvcc
  fi
}

# CMake arguments that pick the CUDA backend: ON when nvcc_path finds nvcc (CMake does not look in
# /usr/local/cuda/bin by itself unless told), OFF otherwise; WISP_CUDA in the environment overrides.
cuda_arguments() {
  local nvcc
  nvcc="$(nvcc_path)"
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

# Prints the running script's opening comment (after the #! line, up to the first line that is not
# a comment) without its '# ' marks: the scripts' --help text.
opening_comment() {
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"
}

# For a script whose only argument is an optional folder (`script [DIR]`), called with "$@": -h/--help
# prints the script's opening comment and exits 0; any other argument starting with '-' exits 2
# instead of being taken for a folder.
folder_script_arguments() {
  case "${1:-}" in
    -h | --help)
      opening_comment
      exit 0
      ;;
    -*)
      echo "$(basename "$0"): unknown option '$1' (usage: $(basename "$0") [DIR]; see --help)" >&2
      exit 2
      ;;
  esac
}
