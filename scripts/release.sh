#!/usr/bin/env bash
# `make release`: the zips users deploy without Rust, reproducibly.
#
#   scripts/release.sh [--verify] [--no-smoke] [--out DIR]
#
# Builds `bootstrap` for arm64 and x86_64 (cargo lambda build --release --locked, the
# same command `sam build` runs), packs each as the zip Lambda expects and writes, into
# DIR (default target/dist):
#   airflow-ecr-refresher-<version>-arm64.zip     bootstrap at the root, mode 0755
#   airflow-ecr-refresher-<version>-x86_64.zip
#   airflow-ecr-refresher-<version>-template.yaml template-prebuilt.yaml (code from S3)
#   airflow-ecr-refresher-<version>-SHA256SUMS    `sha256sum -c` reads it
# <version> is Cargo.toml's; it must equal the template's SemanticVersion.
#
# Reproducible: the same commit gives byte-identical zips, wherever it is checked out.
#   - paths: RUSTFLAGS --remap-path-prefix and CFLAGS -ffile-prefix-map (aws-lc's C code
#     records __FILE__) map the checkout, CARGO_HOME and the Rust sysroot to fixed names,
#     so panic locations and the like do not depend on where the build ran;
#   - time: SOURCE_DATE_EPOCH is the commit's time; every zip entry carries it;
#   - the zip (scripts/lambda_zip.py): one entry, fixed name, mode, timestamp, creator and
#     deflate level 9, written by Python's zipfile (no extra fields, no local time zone);
#   - the rest is pinned: Cargo.lock (--locked), rustc, zig and cargo-lambda versions
#     (tests/requirements/lint.txt); the script prints them.
# RUSTFLAGS set here replace any build.rustflags from .cargo/config.toml for this build.
#
# The work tree must be clean (no changes to tracked files, no untracked files outside
# .gitignore): versioned zips are only ever built from the commit they name.
# --verify builds everything a second time from a fresh clone of HEAD at another path,
# with an empty target directory, and fails unless the SHA256SUMS files are identical
# (about twice the time; the release workflow runs it).
# AER_RELEASE_ARCHS="arm64" builds only those (default "arm64 x86_64"), for a quicker try.
# --no-smoke skips running the binaries (scripts/qemu-smoke.sh: the arm64 one under
# qemu user-mode emulation, the x86_64 one natively, against moto).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
verify=0 smoke=1 out=$root/target/dist
while [ $# -gt 0 ]; do
  case $1 in
    --verify) verify=1 ;;
    --no-smoke) smoke=0 ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--verify] [--no-smoke] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

# First, before any work: a zip named <version> that is not that commit's would pass for
# a release.
dirty=$(git status --porcelain)
if [ -n "$dirty" ]; then
  {
    echo "release: FAILED: the work tree has uncommitted changes, so the zips would not be"
    echo "$(git rev-parse --short HEAD)'s; commit or stash them first:"
    echo "$dirty" | head -20
  } >&2
  exit 1
fi

start=$SECONDS
name=airflow-ecr-refresher
version=$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')
sar_version=$(sed -n 's/^ *SemanticVersion: *"\{0,1\}\([^" ]*\)"\{0,1\} *$/\1/p' template.yaml)
if [ "$version" != "$sar_version" ]; then
  echo "release: FAILED: Cargo.toml says $version, template.yaml's SemanticVersion $sar_version" >&2
  exit 1
fi
commit=$(git rev-parse HEAD)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}

env_file=$(scripts/bootstrap.sh lint) ||
  { echo "release: FAILED: could not build the lint venv (cargo-lambda, zig)" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
export PATH="$AER_LINT_VENV/bin:$PATH"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu ||
    { echo "release: FAILED: no Rust std for aarch64-unknown-linux-gnu" >&2; exit 1; }
fi

# Its own target directory: the flags below differ from `cargo test`'s, and sharing one
# would rebuild both every time.
export CARGO_TARGET_DIR=${AER_RELEASE_TARGET_DIR:-$root/target/release-artifacts}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
sysroot=$(rustc --print sysroot)
remap=("$root=/build/$name" "$cargo_home=/cargo" "$sysroot=/rust")
# Generated sources live in the target directory: inside the checkout the first mapping
# covers it; elsewhere it needs its own (the last matching mapping applies).
case $CARGO_TARGET_DIR/ in "$root"/*) ;; *) remap+=("$CARGO_TARGET_DIR=/build/$name/target/release-artifacts") ;; esac
RUSTFLAGS="" CFLAGS=""
for m in "${remap[@]}"; do
  RUSTFLAGS+=" --remap-path-prefix=$m"
  CFLAGS+=" -ffile-prefix-map=$m"
done
export RUSTFLAGS CFLAGS CXXFLAGS=$CFLAGS
unset CARGO_ENCODED_RUSTFLAGS

echo "release: $name $version from $commit (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
echo "release: $(rustc --version), $(cargo lambda --version), zig $(python -m ziglang version)"
mkdir -p "$out"
rm -f "$out/$name-$version"-*

declare -A triple=([arm64]=aarch64-unknown-linux-gnu [x86_64]=x86_64-unknown-linux-gnu)
read -r -a archs <<<"${AER_RELEASE_ARCHS:-arm64 x86_64}"
zips=()
for arch in "${archs[@]}"; do
  [ -n "${triple[$arch]:-}" ] || { echo "release: unknown architecture $arch" >&2; exit 2; }
  t=$SECONDS
  echo "release: cargo lambda build --release --locked --target ${triple[$arch]}"
  cargo lambda build --release --locked --target "${triple[$arch]}"
  bin=$CARGO_TARGET_DIR/lambda/$name/bootstrap
  scripts/lambda_zip.py "$bin" "$arch" "$out/$name-$version-$arch.zip"
  zips+=("$name-$version-$arch.zip")
  echo "release: $arch: $(du -h "$out/$name-$version-$arch.zip" | cut -f1) zip ($((SECONDS - t))s)"
done
cp template-prebuilt.yaml "$out/$name-$version-template.yaml"
(cd "$out" && sha256sum "${zips[@]}" "$name-$version-template.yaml" >"$name-$version-SHA256SUMS")
cat "$out/$name-$version-SHA256SUMS"

if [ $smoke -eq 1 ]; then
  # The binaries as users get them: out of the zips, with the mode the zips give them.
  unpacked=$(mktemp -d "${TMPDIR:-/tmp}/aer-release.XXXXXX")
  for arch in "${archs[@]}"; do
    t=$SECONDS
    scripts/qemu-smoke.sh "$(scripts/lambda_zip.py --extract "$out/$name-$version-$arch.zip" "$unpacked/$arch")"
    echo "release: the $arch zip's bootstrap answered its invocations ($((SECONDS - t))s)"
  done
  rm -rf "$unpacked"
fi

if [ $verify -eq 1 ]; then
  t=$SECONDS
  again=$(mktemp -d "${TMPDIR:-/tmp}/aer-repro.XXXXXX")
  trap 'rm -rf "$again"' EXIT
  echo "release: verify: rebuilding $commit in $again/src with an empty target directory"
  git clone -q --no-hardlinks "$root" "$again/src"
  git -C "$again/src" checkout -q "$commit"
  env -u AER_RELEASE_TARGET_DIR "$again/src/scripts/release.sh" --no-smoke --out "$again/dist"
  if ! cmp "$out/$name-$version-SHA256SUMS" "$again/dist/$name-$version-SHA256SUMS"; then
    echo "release: FAILED: the rebuild differs:" >&2
    diff "$out/$name-$version-SHA256SUMS" "$again/dist/$name-$version-SHA256SUMS" >&2 || true
    exit 1
  fi
  echo "release: verify: a clean rebuild elsewhere gave byte-identical files ($((SECONDS - t))s)"
fi
echo "release: ok, $out ($((SECONDS - start))s)"
