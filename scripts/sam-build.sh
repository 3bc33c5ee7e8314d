#!/usr/bin/env bash
# Builds the function the way `sam build` does for a deploy, without a container, and
# checks the artifact.
#
#   scripts/sam-build.sh [auto|arm64|x86_64]     (default: auto, or $AER_SAM_ARCH)
#
# auto builds arm64 (the template's default) when the Rust std for
# aarch64-unknown-linux-gnu is installed or `rustup target add` can install it, and
# x86_64 otherwise, saying so. cargo-lambda (and zig, which cross-links) come from the
# lint venv, put first on PATH. The artifact must be
# .aws-sam/build/RefresherFunction/bootstrap, an executable ELF for the chosen arch.
# Offline: sam build makes no AWS call (telemetry off, fake credentials, dead endpoint).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/offline-aws.sh
source "$root/scripts/offline-aws.sh"
arch=${1:-${AER_SAM_ARCH:-auto}}
function=RefresherFunction

start=$SECONDS
env_file=$("$root/scripts/bootstrap.sh" lint) ||
  { echo "sam-build: FAILED: could not build the lint venv" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
main=$AER_LINT_VENV
export PATH="$main/bin:$PATH"
offline_aws_env

if [ "$arch" = auto ]; then
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    arch=arm64
  elif rustup target add aarch64-unknown-linux-gnu >&2; then
    arch=arm64
  else
    echo "sam-build: NOTE: the Rust std for aarch64-unknown-linux-gnu is not installed and" \
      "rustup could not add it here; building x86_64 instead of the template's arm64 default." \
      "Deploy that with --parameter-overrides Architecture=x86_64." >&2
    arch=x86_64
  fi
fi
case $arch in
  arm64) elf_machine=183 ;;
  x86_64) elf_machine=62 ;;
  *) echo "sam-build: unknown architecture $arch (auto, arm64 or x86_64)" >&2; exit 2 ;;
esac

cd "$root"
# The release build reuses the cached target directory's compiled dependencies (the
# rust-cargolambda builder keeps a CARGO_TARGET_DIR it is given, and copies the bootstrap
# from there); under scripts/test.sh, the one it set up.
# shellcheck source=scripts/cargo-target.sh
source "$root/scripts/cargo-target.sh"
aer_cargo_target "$root"
echo "sam-build: sam build for $arch (cargo lambda $(cargo lambda --version 2>/dev/null | awk '{print $2}'), no container)"
t=$SECONDS
sam build --template-file template.yaml --parameter-overrides "Architecture=$arch"
echo "sam-build: sam build took $((SECONDS - t))s"

bootstrap=.aws-sam/build/$function/bootstrap
[ -f "$bootstrap" ] || { echo "sam-build: FAILED: $bootstrap was not produced" >&2; exit 1; }
[ -x "$bootstrap" ] || { echo "sam-build: FAILED: $bootstrap is not executable" >&2; exit 1; }
# The ELF header says the machine.
python3 - "$bootstrap" "$elf_machine" <<'EOF'
import struct, sys
path, want = sys.argv[1], int(sys.argv[2])
head = open(path, "rb").read(20)
if head[:4] != b"\x7fELF" or head[4] != 2:
    sys.exit(f"sam-build: FAILED: {path} is not a 64-bit ELF file")
machine = struct.unpack("<H", head[18:20])[0]
if machine != want:
    sys.exit(f"sam-build: FAILED: {path} is built for ELF machine {machine}, expected {want}")
EOF
if command -v file >/dev/null; then
  echo "sam-build: $bootstrap: $(file -b "$bootstrap")"
fi
echo "sam-build: ok, $arch bootstrap of $(du -h "$bootstrap" | cut -f1) ($((SECONDS - start))s)"
