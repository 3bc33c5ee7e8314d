# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/sam-build.sh: points cargo at a target directory
# outside the clone, so a fresh clone (CI's, or a second work tree) reuses the compiled
# dependencies (debug, clippy's and the arm64 release build) instead of rebuilding them:
# with it `make test` in a fresh clone compiles only the workspace's own crates.
#
#   source scripts/cargo-target.sh; aer_cargo_target ROOT
#
# The directory is $AER_CACHE/cargo-target/<rustc version and commit>, one per toolchain;
# the first run with a new toolchain removes the others (unless a run holds them). Every
# clone on the machine shares it. That is correct only with two precautions, because the
# workspace's own artifacts have the same names whatever the clone's path and cargo
# judges them fresh by the sources' mtimes alone (a clone made before another clone's
# last build would otherwise reuse that clone's binaries):
#   - one run at a time holds the directory (flock on <dir>.lock, for as long as the
#     sourcing script runs; a second `make test` waits and says so);
#   - the directory remembers the clone that built in it last (<dir>/.aer-owner); when
#     another clone takes it, the fingerprints of the workspace's packages (every member
#     that `cargo metadata --no-deps` lists, all profiles and targets) are removed, so
#     cargo rebuilds them from this clone's sources. Dependencies from crates.io are keyed
#     by version and never go stale.
# It only grows, so past $AER_CARGO_TARGET_MAX_GB (default 40) it is emptied first.
# A CARGO_TARGET_DIR set by the caller is kept as it is (and none of the above applies).
# Scripts run by the one that called this inherit the directory and the lock
# (AER_CARGO_TARGET_HELD).

aer_cargo_target() { # root
  local root=$1 cache key dir lock size owner names name sibling
  if [ -n "${AER_CARGO_TARGET_HELD:-}" ] && [ "${CARGO_TARGET_DIR:-}" = "$AER_CARGO_TARGET_HELD" ]; then
    return 0 # a parent run holds it
  fi
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    echo "cargo-target: using CARGO_TARGET_DIR=$CARGO_TARGET_DIR as set" >&2
    return 0
  fi
  cache=${AER_CACHE:-$HOME/.cache/airflow-ecr-refresher}
  key=$(rustc -vV | awk '/^release:/ {r = $2} /^commit-hash:/ {c = substr($2, 1, 9)} /^host:/ {h = $2}
    END {if (r != "" && h != "") print r "-" c "-" h}')
  [ -n "$key" ] || { echo "cargo-target: FAILED: could not read rustc -vV" >&2; return 1; }
  dir=$cache/cargo-target/$key
  lock=$dir.lock
  mkdir -p "$dir"
  # fd 8 stays open (and the lock held) until the sourcing script exits.
  exec 8>"$lock"
  if ! flock -n 8; then
    echo "cargo-target: waiting for $lock (another run on this machine builds in $dir)" >&2
    flock 8
  fi
  # It only grows (every Cargo.lock change adds dependency builds): past
  # $AER_CARGO_TARGET_MAX_GB (default 40) it starts again empty, one cold build.
  size=$(du -s --block-size=1G "$dir" | cut -f1)
  if [ "$size" -gt "${AER_CARGO_TARGET_MAX_GB:-40}" ]; then
    echo "cargo-target: $dir holds ${size} GB, over ${AER_CARGO_TARGET_MAX_GB:-40}: emptying it" >&2
    if ! { rm -rf "$dir" && mkdir -p "$dir"; }; then
      echo "cargo-target: FAILED: could not empty $dir" >&2
      return 1
    fi
  fi
  owner=$(cat "$dir/.aer-owner" 2>/dev/null || true)
  if [ "$owner" != "$root" ]; then
    [ -z "$owner" ] || echo "cargo-target: $dir was last built from $owner: rebuilding this workspace's crates" >&2
    names=$(cargo metadata --no-deps --format-version 1 --manifest-path "$root/Cargo.toml" |
      python3 -c 'import json, sys; print("\n".join(p["name"] for p in json.load(sys.stdin)["packages"]))') &&
      [ -n "$names" ] ||
      { echo "cargo-target: FAILED: cargo metadata named no workspace package" >&2; return 1; }
    while IFS= read -r name; do
      find "$dir" -mindepth 3 -maxdepth 4 -type d -path "*/.fingerprint/$name-*" -prune -exec rm -rf {} + ||
        { echo "cargo-target: FAILED: could not remove $name's fingerprints in $dir" >&2; return 1; }
    done <<<"$names"
    echo "$root" >"$dir/.aer-owner"
  fi
  # Other toolchains' directories, unless a run holds one.
  for sibling in "$cache"/cargo-target/*/; do
    sibling=${sibling%/}
    [ "$sibling" != "$dir" ] || continue
    if (flock -n 9 || exit 1; rm -rf "$sibling") 9>"$sibling.lock"; then
      rm -f "$sibling.lock"
      echo "cargo-target: removed $sibling (another toolchain)" >&2
    fi
  done
  export CARGO_TARGET_DIR=$dir AER_CARGO_TARGET_HELD=$dir
  echo "cargo-target: CARGO_TARGET_DIR=$dir" >&2
}
