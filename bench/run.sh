#!/usr/bin/env bash
# `make bench`: this project's release binary side by side with a boto3 Lambda handler
# (bench/boto3_handler.py), against a fresh local moto, through TLS, on a whole core and
# at Lambda sizes (128 and 256 MB: cgroup CPU quota and memory limit; needs root). Not
# part of `make test`.
#
#   bench/run.sh [--runs N] [--latency-ms MS] [--memory-mb 128,256] [--plain] ...
#                                          (defaults: 5 runs, 50 ms; see bench/bench.py)
#
# Builds the release binary (cargo build --release --locked, with the repository's
# .cargo/config.toml like every other build path) and bench/tls-terminator, then runs
# bench/bench.py under scripts/with-moto.sh. Prints Markdown tables and writes them, with
# every sample as JSON, to bench/results/ (gitignored; latest.md / latest.json are the
# last run). Takes about 8 to 10 minutes once built (boto3 at 128 MB is slow). Set
# BENCH_SKIP_BUILD=1 to use the binaries as they are.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  echo "bench: cargo build --release --locked" >&2
  cargo build --release --locked
  echo "bench: building bench/tls-terminator" >&2
  CARGO_TARGET_DIR=$target/tls-terminator \
    cargo build --release --locked --manifest-path bench/tls-terminator/Cargo.toml
fi
export BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec scripts/with-moto.sh python bench/bench.py --bin "$target/release/airflow-ecr-refresher" \
  --terminator "$target/tls-terminator/release/tls-terminator" "$@"
