#!/usr/bin/env bash
# Checks the includes of every C++ and CUDA file against the folder chain (CONTRIBUTING.md, "The
# folders are the architecture"); prints each offending include as FILE:LINE and exits 1 if any.
#
#   bash scripts/check_layering.sh [DIR]     the repository at DIR (default: this script's)
#
# Rules:
#   - a file includes no header of a folder later in the chain
#       core kernels autograd ops layers optim serialization data distributed apps
#     (core/cuda/ counts as core, kernels/cpu/ and kernels/cuda/ as kernels); bench/ may include every
#     folder up to apps/ (apps' support headers), tests/ anything; the umbrella wisp/wisp.h is for
#     apps/, bench/ and tests/ only;
#   - includes of wisp headers spell the prefix: "wisp/core/tensor.h", never "core/tensor.h" (the user
#     projects in tests/install/ have headers of their own with such paths, on purpose);
#   - no nn:: header (layers/*.h) includes a kernels/ header;
#   - only kernels/cuda/, core/cuda/, distributed/cuda/, tests/cuda/, tests/kernels/test_cuda_*.cpp and
#     bench/ include a CUDA toolkit header (<cuda_runtime.h>, <cublas_v2.h>, <cusparse.h>, <nccl.h>, ...).
# Files: those git tracks plus new ones it does not ignore (every *.h, *.hpp, *.cpp, *.cu, *.cuh).
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
folder_script_arguments "$@"
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"

source_files() {
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard -- '*.h' '*.hpp' '*.cpp' '*.cu' '*.cuh'
  else
    find . -path ./build -prune -o -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.cu' \
      -o -name '*.cuh' \) -printf '%P\0'
  fi
}

files=()
while IFS= read -r -d '' file; do
  [[ -f "$file" ]] && files+=("$file")  # a tracked file deleted in the working tree is skipped
done < <(source_files)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "check_layering.sh: found no C++ or CUDA file under $(pwd)" >&2
  exit 1
fi

# grep prints FILE:LINE:TEXT for every #include; awk applies the rules and prints the violations.
violations="$(
  grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' -- "${files[@]}" | awk '
    BEGIN {
      split("core kernels autograd ops layers optim serialization data distributed apps bench", chain, " ")
      for (i = 1; i in chain; ++i) rank[chain[i]] = i
      cuda_header = "^(cuda|cuda_[A-Za-z0-9_]+|cublas[A-Za-z0-9_]*|cusparse[A-Za-z0-9_]*|curand[A-Za-z0-9_]*|cufft[A-Za-z0-9_]*|nccl|nvml|device_launch_parameters)\\.h$|^(cub|thrust)/"
    }
    {
      # FILE:LINE:TEXT (a file name has no colon in this repository)
      file = $0; sub(/:.*/, "", file)
      rest = substr($0, length(file) + 2)
      line = rest; sub(/:.*/, "", line)
      text = substr(rest, length(line) + 2)
      header = text; sub(/^[^<"]*[<"]/, "", header); sub(/[>"].*$/, "", header)
      folder = file; if (folder ~ /\//) sub(/\/.*/, "", folder); else folder = "."
      shown = text; sub(/^[[:space:]]+/, "", shown)
      where = file ":" line ": " shown

      if (header ~ cuda_header) {
        if (!(file ~ /^(kernels\/cuda|core\/cuda|distributed\/cuda|tests\/cuda|bench)\// || file ~ /^tests\/kernels\/test_cuda_[^\/]*\.cpp$/))
          print where "\n    a CUDA toolkit header: only kernels/cuda/, core/cuda/, distributed/cuda/, tests/cuda/, tests/kernels/test_cuda_*.cpp and bench/ include one"
        next
      }
      if (header ~ /^wisp\//) {
        target = substr(header, 6)
        if (target == "wisp.h") {
          if (!(folder == "apps" || folder == "bench" || folder == "tests"))
            print where "\n    the umbrella header: only apps/, bench/ and tests/ include it; include the headers you use"
          next
        }
        sub(/\/.*/, "", target)
        if (file ~ /^layers\/[^\/]*\.h$/ && target == "kernels")
          print where "\n    an nn:: header includes a kernels/ header: include it from the .cpp (or use ops/)"
        if (folder == "tests") next
        if (!(target in rank)) {
          print where "\n    wisp/" target "/ is not a folder of the chain (" chain_text() ")"
          next
        }
        # The umbrella wisp.h at the root may include every library folder, not apps/ or bench/.
        limit = (folder == ".") ? rank["distributed"] : ((folder in rank) ? rank[folder] : 0)
        if (folder == "bench") limit = rank["bench"]
        if (rank[target] > limit)
          print where "\n    " (folder == "." ? "the umbrella header" : folder "/") " includes from " target "/, which comes later in the chain (" chain_text() ")"
        next
      }
      # Not a wisp/ include: it must not name a header of a project folder without the prefix.
      first = header; sub(/^(\.\.\/)+/, "", first); sub(/\/.*/, "", first)
      if (header ~ /\// && (first in rank || first == "tests") && file !~ /^tests\/install\//)
        print where "\n    a wisp header without the wisp/ prefix: write \"wisp/" substr(header, index(header, first)) "\""
    }
    function chain_text() { return "core kernels autograd ops layers optim serialization data distributed apps" }
  '
)"

if [[ -n "$violations" ]]; then
  printf '%s\n' "$violations"
  count="$(grep -c '^    ' <<< "$violations")"
  echo "check_layering.sh: $count include(s) break the folder rules (see the comment at the top of scripts/check_layering.sh)" >&2
  exit 1
fi
echo "check_layering.sh: the includes of ${#files[@]} files follow the folder chain"
