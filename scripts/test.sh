#!/usr/bin/env bash
# `make test`: every test, on a fresh machine or a warm one.
#
# Installs (or reuses) the Python venvs: tools (moto, cargo-lambda, pytest), Airflow 3,
# Airflow 2.10, the oldest Airflow 2 line Amazon MWAA still offers (2.7.2), the template
# linters and lychee (links). Then: the links in README.md and docs/ (scripts/check-links.sh); lints;
# with one moto server on 127.0.0.1 the Rust unit, integration, fault
# and property tests and the Python suites (Airflow contract tests through cargo-lambda's
# emulator, request counts, the test proxy); the
# template checks (template.yaml and the generated template-prebuilt.yaml, the release
# metadata); the CI workflows' lint; `sam build` of the Lambda package; that build's
# bootstrap (arm64, under qemu user-mode emulation) through a new secret, an update and a
# fault against moto (scripts/qemu-smoke.sh); and, against moto's S3, `sam package` of
# the publishing template with that build zipped as a release is
# (scripts/sar-publish.sh --no-publish). Any piece that cannot be installed fails the
# run; nothing is skipped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

timings=()
stage() { # name cmd...
  local name=$1 start=$SECONDS
  shift
  echo "==> $name" >&2
  "$@"
  timings+=("$(printf '%-32s %5ds' "$name" $((SECONDS - start)))")
}

bootstrap() {
  local env_file
  env_file=$(scripts/bootstrap.sh)
  # shellcheck disable=SC1090
  . "$env_file"
}

stage "bootstrap venvs" bootstrap
stage "links in README and docs/" scripts/check-links.sh
# Every cargo command below (and in the scripts it runs: the contract tests' cargo lambda,
# sam build's arm64 release build) builds in one target directory outside the clone,
# cached between runs and clones (scripts/cargo-target.sh).
# shellcheck source=scripts/cargo-target.sh
source scripts/cargo-target.sh
aer_cargo_target "$root"
stage "cargo fmt --check" cargo fmt --all -- --check
unused_dependencies() {
  # Pinned, installed once per machine into ~/.cargo/bin.
  command -v cargo-machete >/dev/null || cargo install --locked cargo-machete@0.9.2
  cargo machete
}

stage "cargo clippy -D warnings" cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
stage "unused dependencies" unused_dependencies
# The Rust tests run under cargo-nextest: the same tests as `cargo test --all-targets`
# (every unit, integration, fault and property test; no doctests either way), but the
# test binaries' tests side by side (4 at a time) instead of one binary after another.
# Most of their time is waiting (the fault tests' retry back-off, about 20 s), which
# cargo test waited out binary by binary: 60 s, now the longest test's 20-odd.
rust_and_python_tests() {
  # Pinned, installed once per machine into ~/.cargo/bin (unless one is on PATH).
  command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest@0.9.143
  scripts/with-moto.sh bash -c \
    'cargo nextest run --locked --workspace --all-targets --features local-aws-tests --no-fail-fast --test-threads 4 &&
     pytest tests/support tests/contract tests/test_request_counts.py tests/test_pull_rights.py tests/test_backend_kwargs.py tests/test_references.py tests/test_links.py tests/test_release_scripts.py'
}
stage "rust + python tests (moto)" rust_and_python_tests
# The build that `sam build` made, zipped as scripts/release.sh zips, then sam package
# into a bucket of moto's S3 and the checks before sam publish.
sar_package() {
  local dir arch
  dir=$(mktemp -d)
  arch=$(python3 -c 'import sys; h=open(sys.argv[1],"rb").read(20); print({183:"arm64",62:"x86_64"}[h[18]|h[19]<<8])' \
    .aws-sam/build/RefresherFunction/bootstrap)
  scripts/lambda_zip.py .aws-sam/build/RefresherFunction/bootstrap "$arch" "$dir/bootstrap-$arch.zip"
  # shellcheck disable=SC2016
  scripts/with-moto.sh bash -c 'python -c "import boto3; boto3.client(\"s3\").create_bucket(Bucket=\"aer-sar\")" &&
    scripts/sar-publish.sh "$1" aer-sar --no-publish' _ "$dir/bootstrap-$arch.zip"
  rm -rf "$dir"
}

stage "template lints + IAM check" scripts/lint-template.sh
stage "workflow lint" scripts/lint-workflows.sh
stage "sam build" scripts/sam-build.sh
stage "sam build's bootstrap (qemu)" scripts/qemu-smoke.sh .aws-sam/build/RefresherFunction/bootstrap
stage "sam package (moto S3)" sar_package

echo
echo "Stage timings:"
printf '  %s\n' "${timings[@]}"
