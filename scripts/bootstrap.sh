#!/usr/bin/env bash
# Builds the Python venvs the tests and checks run in, cached between runs.
#
#   scripts/bootstrap.sh [tools|airflow3|airflow2|airflow2_mwaa_oldest|lint|checkov|docs ...]
#                        (default: tools airflow3 airflow2 airflow2_mwaa_oldest, what the
#                        test suites need)
#
# tools: moto, pytest, cargo-lambda; airflow3/airflow2/airflow2_mwaa_oldest: Airflow with
# the amazon and docker providers (the last: the oldest Airflow 2 line Amazon MWAA still
# offers, with MWAA's pins; see its requirements file); lint: sam, cfn-lint, cargo-lambda
# (scripts/lint-template.sh, scripts/sam-build.sh); checkov, alone because its pins clash
# with the others; docs: lychee, the link checker (scripts/check-links.sh).
# Each one is built from tests/requirements/<name>.txt and lives in $AER_CACHE/venv/<name>-<hash>, where the hash covers its
# requirements file and the interpreter version, so editing the file builds a
# fresh venv (and removes the stale one) while an unchanged one is reused as is.
# A venv counts as built only once its smoke check passed (the .ok stamp), so
# an interrupted or failed install is redone, never half-used.
#
# On success prints one line: the path of an env file to source, which puts the
# tools venv on PATH and sets AIRFLOW3_PYTHON / AIRFLOW2_PYTHON /
# AIRFLOW2_MWAA_OLDEST_PYTHON, AER_LINT_VENV, AER_CHECKOV_VENV and AER_DOCS_VENV. Progress goes to
# stderr and only when something is installed. Any failure exits non-zero.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${AER_CACHE:-$HOME/.cache/airflow-ecr-refresher}
python=${AER_PYTHON:-python3}
reqs=$root/tests/requirements
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-$cache/pip}
export PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$cache/venv"

all=(tools airflow3 airflow2 airflow2_mwaa_oldest lint checkov docs)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(tools airflow3 airflow2 airflow2_mwaa_oldest)

pyver=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')

venv_dir() { # name -> deterministic venv path for the current requirements
  local key
  key=$( { echo "$pyver"; cat "$reqs/$1.txt"; } | sha256sum | cut -c1-12)
  echo "$cache/venv/$1-$key"
}

# Proves the venv can do what the tests need, so a broken install fails here
# with its log instead of as a confusing test error later.
smoke() {
  local dir=$1
  case $(basename "$dir") in
    tools-*)
      PATH="$dir/bin:$PATH" cargo lambda --version
      "$dir/bin/python" -c 'import moto, pytest, requests, boto3'
      test -x "$dir/bin/moto_server" ;;
    airflow*)
      # AIRFLOW_HOME in a throwaway dir: importing airflow writes airflow.cfg there.
      AIRFLOW_HOME=$(mktemp -d) "$dir/bin/python" -c '
import airflow
from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
from airflow.providers.docker.hooks.docker import DockerHook
print("airflow", airflow.__version__)' ;;
    lint-*)
      "$dir/bin/sam" --version && "$dir/bin/cfn-lint" --version
      PATH="$dir/bin:$PATH" cargo lambda --version
      "$dir/bin/python" -c 'import pytest, yaml, botocore, cloud_radar, policy_sentry' ;;
    checkov-*) "$dir/bin/checkov" --version ;;
    docs-*) "$dir/bin/lychee" --version ;;
  esac
}

build() { # name dir
  local name=$1 dir=$2
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$dir/bin/python" -m pip install -r "$reqs/$name.txt"
  smoke "$dir"
  touch "$dir/.ok"
}

ensure() { # name -> builds the venv if needed; logs to $cache/venv/<name>.log
  local name=$1 dir log start
  dir=$(venv_dir "$name")
  [ -f "$dir/.ok" ] && return 0
  log=$cache/venv/$name.log
  start=$SECONDS
  echo "bootstrap: building $name venv ($dir), log: $log" >&2
  # Started as its own job: inside an `if` condition bash would ignore set -e.
  build "$name" "$dir" >"$log" 2>&1 &
  if ! wait $!; then
    echo "bootstrap: FAILED to build the $name venv; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    rm -rf "$dir"
    return 1
  fi
  # Only now drop venvs built from older requirements of the same name.
  find "$cache/venv" -maxdepth 1 -name "$name-*" ! -path "$dir" -exec rm -rf {} +
  echo "bootstrap: $name venv ready in $((SECONDS - start))s" >&2
}

# One bootstrap at a time per cache: parallel test runs must not build the
# same venv twice into the same directory.
exec 9>"$cache/.lock"
flock 9

# Build the requested venvs in parallel (mostly download/unpack bound), then
# report every failure before exiting.
pids=()
for name in "${wanted[@]}"; do
  case " ${all[*]} " in *" $name "*) ;; *) echo "bootstrap: unknown venv '$name'" >&2; exit 2 ;; esac
  ensure "$name" & pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ $failed -eq 0 ] || exit 1

# Paths are derived from the requirements, so the env file can name them all;
# a consumer of a venv that was not requested here checks that it exists.
env_file=$cache/env.sh
tmp=$(mktemp "$cache/env.sh.XXXXXX")
cat >"$tmp" <<ENV
# Written by scripts/bootstrap.sh; source it.
export AER_TOOLS_VENV="$(venv_dir tools)"
export PATH="\$AER_TOOLS_VENV/bin:\$PATH"
export AIRFLOW3_PYTHON="$(venv_dir airflow3)/bin/python"
export AIRFLOW2_PYTHON="$(venv_dir airflow2)/bin/python"
export AIRFLOW2_MWAA_OLDEST_PYTHON="$(venv_dir airflow2_mwaa_oldest)/bin/python"
export AER_LINT_VENV="$(venv_dir lint)"
export AER_CHECKOV_VENV="$(venv_dir checkov)"
export AER_DOCS_VENV="$(venv_dir docs)"
ENV
mv "$tmp" "$env_file"
echo "$env_file"
