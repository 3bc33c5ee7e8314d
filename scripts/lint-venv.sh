# shellcheck shell=bash
# Sourced by scripts/lint-template.sh and scripts/sam-build.sh, not run.
#
# lint_venv NAME...   builds (when needed) the venv for tests/requirements/<req>.txt,
#                     NAME main -> lint.txt, checkov -> checkov.txt, in
#                     $AER_CACHE/venvs/lint/<NAME>-<hash>, where the hash covers the
#                     requirements file and the interpreter version. A changed file
#                     gives a fresh venv (the stale one is removed). A venv counts as
#                     built only once its smoke check passed (the .ok stamp). Several
#                     names build in parallel. Any failure prints the install log's tail
#                     and returns non-zero.
# lint_venv_dir NAME  prints that venv's path.
# offline_aws_env     exports a region, fake credentials and an unreachable endpoint,
#                     so a tool that tried to call AWS fails here instead of reaching it.

_lint_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_lint_cache=${AER_CACHE:-$HOME/.cache/airflow-ecr-refresher}/venvs/lint
_lint_python=${AER_PYTHON:-python3}
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${AER_CACHE:-$HOME/.cache/airflow-ecr-refresher}/pip}
export PIP_DISABLE_PIP_VERSION_CHECK=1

_lint_req() { case $1 in main) echo "$_lint_root/tests/requirements/lint.txt" ;; checkov) echo "$_lint_root/tests/requirements/checkov.txt" ;; *) return 1 ;; esac; }

lint_venv_dir() {
  local req key
  req=$(_lint_req "$1") || { echo "lint-venv: unknown venv $1" >&2; return 2; }
  key=$( { "$_lint_python" -c 'import sys; print(sys.version)'; cat "$req"; } | sha256sum | cut -c1-12)
  echo "$_lint_cache/$1-$key"
}

_lint_smoke() { # name dir
  case $1 in
    main)
      "$2/bin/sam" --version && "$2/bin/cfn-lint" --version
      PATH="$2/bin:$PATH" cargo lambda --version
      "$2/bin/python" -c 'import pytest, yaml, botocore' ;;
    checkov) "$2/bin/checkov" --version ;;
  esac
}

_lint_build() { # name dir
  rm -rf "$2"
  "$_lint_python" -m venv "$2"
  "$2/bin/python" -m pip install -q --upgrade pip
  "$2/bin/python" -m pip install -r "$(_lint_req "$1")"
  _lint_smoke "$1" "$2"
  touch "$2/.ok"
}

lint_venv() {
  local name dir pids=() names=() i rc=0
  mkdir -p "$_lint_cache"
  for name in "$@"; do
    dir=$(lint_venv_dir "$name") || return 2
    [ -f "$dir/.ok" ] && continue
    # Drop stale venvs of the same name (older requirements).
    find "$_lint_cache" -maxdepth 1 -name "$name-*" ! -path "$dir" -exec rm -rf {} +
    echo "lint-venv: building $name venv ($dir), log: $_lint_cache/$name.log" >&2
    _lint_build "$name" "$dir" >"$_lint_cache/$name.log" 2>&1 &
    pids+=($!) names+=("$name")
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      name=${names[$i]}
      echo "lint-venv: FAILED to build the $name venv; last lines of $_lint_cache/$name.log:" >&2
      tail -n 30 "$_lint_cache/$name.log" >&2
      rm -rf "$(lint_venv_dir "$name")"
      rc=1
    fi
  done
  return $rc
}

offline_aws_env() {
  unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
  export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export AWS_EC2_METADATA_DISABLED=true
  # Nothing listens on port 9 here: any AWS API call fails at once, never leaves the machine.
  export AWS_ENDPOINT_URL=http://127.0.0.1:9
  export SAM_CLI_TELEMETRY=0
  # checkov: never contact Prisma Cloud for its mappings and guidelines.
  export BC_SKIP_MAPPING=TRUE
}
