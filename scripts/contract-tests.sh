#!/usr/bin/env bash
# Issue 3's test command: builds (or reuses) the tools and the three Airflow venvs,
# starts moto, and runs the proxy self-test and the Airflow contract tests.
#
#   scripts/contract-tests.sh [PYTEST ARGS...]     e.g. -k airflow2_mwaa_oldest, -x
#                                                  (-k airflow2 selects both Airflow 2 venvs)
#
# A piece that cannot be installed fails bootstrap, and so this command.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# A separate assignment, so a failed bootstrap stops this script (set -e).
env_file=$("$root/scripts/bootstrap.sh")
# shellcheck disable=SC1090
. "$env_file"
cd "$root"
exec "$root/scripts/with-moto.sh" pytest tests/support tests/contract "$@"
