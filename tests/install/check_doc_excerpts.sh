#!/usr/bin/env bash
# Usage: check_doc_excerpts.sh DOCUMENT FOLDER
# Checks that every ```cpp and ```cmake block of DOCUMENT appears verbatim (whole lines, indentation
# included) in one of the files directly in FOLDER: docs/extending.md shows code copied from the
# project in tests/install/extending, which the install step builds and runs, and the two must not
# drift apart. Prints each block that is missing, with its line in DOCUMENT, and exits 1 if any is.
set -euo pipefail
if [[ $# -ne 2 || ! -f "$1" || ! -d "$2" ]]; then
  echo "usage: $0 DOCUMENT FOLDER" >&2
  exit 2
fi
document="$1"
folder="$2"
shopt -s nullglob
sources=("$folder"/*)
awk -v document="$document" -v folder="$folder" '
  FNR == 1 { file_number++; if (file_number > 2) sources = sources "\f\n" }  # no match across two files
  file_number == 1 {
    if (!inside && $0 ~ /^```(cpp|cmake)[ \t]*$/) { inside = 1; block = ""; start = FNR + 1; next }
    if (inside && $0 ~ /^```[ \t]*$/) { inside = 0; blocks[++count] = block; starts[count] = start; next }
    if (inside) block = block $0 "\n"
    next
  }
  { sources = sources $0 "\n" }
  END {
    if (count == 0) { print document ": no cpp or cmake code block found" > "/dev/stderr"; exit 1 }
    missing = 0
    for (i = 1; i <= count; i++)
      if (index(sources, blocks[i]) == 0) {
        print document ":" starts[i] ": this code block is not a verbatim excerpt of a file in " folder "/" > "/dev/stderr"
        missing++
      }
    if (missing) exit 1
    print document ": " count " code blocks, each found in " folder "/"
  }
' "$document" "${sources[@]}"
