#!/usr/bin/env bash
# `make bench`: this project's release binary side by side with a boto3 Lambda handler
# (bench/boto3_handler.py), against a fresh local moto. Not part of `make test`.
#
#   bench/run.sh [--runs N] [--latency-ms MS]      (defaults: 5 runs, 50 ms)
#
# Builds the release binary (cargo build --release --locked), then runs bench/bench.py
# under scripts/with-moto.sh. Prints a Markdown table and writes it, with every sample
# as JSON, to bench/results/ (gitignored; latest.md / latest.json are the last run).
# Takes about 2 to 3 minutes once the binary is built. Set BENCH_SKIP_BUILD=1 to use
# the binary as it is.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  echo "bench: cargo build --release --locked" >&2
  cargo build --release --locked
fi
exec scripts/with-moto.sh python bench/bench.py "$@"
