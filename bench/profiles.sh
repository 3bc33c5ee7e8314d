#!/usr/bin/env bash
# Release-profile experiments behind the [profile.release] in Cargo.toml (not part of
# `make bench`; each variant is a full release build, several minutes on 2 cores).
#
#   bench/profiles.sh [NAME ...]      (default: every variant below)
#
# Builds each variant with `cargo build --release --config profile.release.*=...` into
# target/profiles (so it never disturbs target/release), copies the binary to
# target/profiles/bins/NAME, then measures them all, interleaved, with
# `bench/bench.py --profile` against a fresh local moto: size, stripped size, CPU, peak
# RSS and wall for 1 connection and 50 connections over 3 regions, and the time to the
# first Runtime API request. Results: bench/results/profiles-latest.{md,json}.
# The overrides are spelled out in full, so Cargo.toml's own [profile.release] does not
# leak into a variant.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Cargo's release defaults, stated explicitly (strip "debuginfo" is what it picks when
# no debug info is asked for).
base=(opt-level=3 lto=false codegen-units=16 panic='"unwind"' strip='"debuginfo"' debug=false)
declare -A variants=(
  [default]=""
  [strip]="strip=true"
  [thin-cgu1]="lto='\"thin\"' codegen-units=1 strip=true"
  [fat-cgu1]="lto='\"fat\"' codegen-units=1 strip=true"
  [fat-cgu1-abort]="lto='\"fat\"' codegen-units=1 strip=true panic='\"abort\"'"
  [s-fat-cgu1]="opt-level='\"s\"' lto='\"fat\"' codegen-units=1 strip=true"
)
order=(default strip thin-cgu1 fat-cgu1 fat-cgu1-abort s-fat-cgu1)
[ $# -eq 0 ] || order=("$@")

export CARGO_TARGET_DIR=$root/target/profiles
mkdir -p "$CARGO_TARGET_DIR/bins"
args=()
for name in "${order[@]}"; do
  [ -n "${variants[$name]+x}" ] || { echo "profiles: unknown variant $name" >&2; exit 2; }
  bin=$CARGO_TARGET_DIR/bins/$name
  if [ -z "${PROFILES_SKIP_BUILD:-}" ] || [ ! -x "$bin" ]; then
    config=()
    unset settings
    declare -A settings=()
    for kv in "${base[@]}"; do settings[${kv%%=*}]=${kv#*=}; done
    eval "for kv in ${variants[$name]}; do settings[\${kv%%=*}]=\${kv#*=}; done"
    for key in "${!settings[@]}"; do config+=(--config "profile.release.$key=${settings[$key]}"); done
    echo "profiles: building $name: ${config[*]}" >&2
    start=$SECONDS
    cargo build --release --locked "${config[@]}"
    echo "profiles: $name built in $((SECONDS - start))s" >&2
    cp "$CARGO_TARGET_DIR/release/airflow-ecr-refresher" "$bin"
  fi
  args+=(--profile "$name=$bin")
done
# Plain HTTP on a whole core, as these variants were first compared (bench/bench.py
# --profile also takes TLS and --memory-mb, for other experiments).
exec scripts/with-moto.sh python bench/bench.py "${args[@]}" --plain --memory-mb '' \
  --runs "${PROFILES_RUNS:-7}"
