#!/usr/bin/env bash
# Checks that every C++ and CUDA file (*.h, *.cpp, *.cu) is formatted as .clang-format says; prints
# the files that differ and the command that formats them, and exits 1 if any.
#
#   bash scripts/check_format.sh [DIR]     the repository at DIR (default: this script's)
#
# Files: those git tracks plus new ones it does not ignore. Needs clang-format 14 (Debian 12's
# clang-format package, which scripts/setup_dependencies.sh installs): other versions format some
# constructs differently. CLANG_FORMAT=PATH picks another binary.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
folder_script_arguments "$@"
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"

clang_format="${CLANG_FORMAT:-}"
if [[ -z "$clang_format" ]]; then
  clang_format="$(command -v clang-format-14 || command -v clang-format || true)"
fi
if [[ -z "$clang_format" ]]; then
  echo "check_format.sh: clang-format not found; install it with: bash scripts/setup_dependencies.sh" >&2
  exit 1
fi
version="$("$clang_format" --version)"
if [[ ! "$version" =~ version\ 14\. ]]; then
  echo "check_format.sh: expected clang-format 14 but $clang_format is: $version" >&2
  echo "check_format.sh: other versions format some code differently; set CLANG_FORMAT=/path/to/clang-format-14" >&2
  exit 1
fi

source_files() {
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard -- '*.h' '*.cpp' '*.cu'
  else
    find . -path ./build -prune -o -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' \) -printf '%P\0'
  fi
}

files=()
while IFS= read -r -d '' file; do
  [[ -f "$file" ]] && files+=("$file")  # a tracked file deleted in the working tree is skipped
done < <(source_files)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "check_format.sh: found no C++ or CUDA file under $(pwd)" >&2
  exit 1
fi

# --dry-run --Werror reports every line that would change as FILE:LINE:COLUMN: error: ...
# [-Wclang-format-violations] and exits non-zero; only the files are shown. Any other failure is
# shown as it is.
status=0
output="$("$clang_format" --dry-run --Werror -- "${files[@]}" 2>&1)" || status=$?
mapfile -t unformatted < <(sed -nE 's/^(.+):[0-9]+:[0-9]+: error: .*\[-Wclang-format-violations\]$/\1/p' <<< "$output" |
  sort -u)
if [[ $status -ne 0 && ${#unformatted[@]} -eq 0 ]]; then
  printf '%s\n' "$output" >&2
  echo "check_format.sh: $clang_format --dry-run failed (exit status $status)" >&2
  exit 1
fi

if [[ ${#unformatted[@]} -gt 0 ]]; then
  echo "check_format.sh: ${#unformatted[@]} of ${#files[@]} files are not formatted as .clang-format says:" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  echo "check_format.sh: format them with: $(basename "$clang_format") -i ${unformatted[*]}" >&2
  exit 1
fi
echo "check_format.sh: all ${#files[@]} files are formatted ($version)"
