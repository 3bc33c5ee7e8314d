#!/usr/bin/env bash
# `make demo`: runs the function once, as Lambda runs it, against a local AWS (moto),
# then prints the secret Airflow would read.
#
# cargo-lambda's emulator runs the real binary; events/scheduled.json is what EventBridge
# sends every 6 hours. Nothing here talks to real AWS.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [ "${1:-}" != "--inside" ]; then
  exec scripts/with-moto.sh "$0" --inside
fi

# The build `make test` caches, outside the clone (scripts/cargo-target.sh).
# shellcheck source=scripts/cargo-target.sh
source scripts/cargo-target.sh
aer_cargo_target "$root"
export CONNECTIONS=${CONNECTIONS:-docker_ecr}
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp "${TMPDIR:-/tmp}/demo-watch.XXXXXX.log")
NO_COLOR=1 setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --wait --ignore-changes >"$log" 2>&1 &
watch_pid=$!
trap 'kill -- -"$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 600); do
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$watch_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done

echo "== Invoking the function (cargo lambda invoke --data-file events/scheduled.json), CONNECTIONS=$CONNECTIONS"
echo "   (the first run compiles the function; that takes a few minutes on a fresh machine)"
if ! cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$port" \
     --data-file events/scheduled.json airflow-ecr-refresher; then
  echo "demo: the invocation failed; function log:" >&2
  cat "$log" >&2
  exit 1
fi
echo
echo "== The function's log"
grep -E 'connection|error' "$log" | grep -v -E '^\s*(Compiling|Finished|Running)' || true
echo
first=${CONNECTIONS%%,*}
echo "== Secret airflow/connections/$first in the local Secrets Manager (moto's dummy password)"
python - "$first" <<'PY'
import json, sys, boto3
name = f"airflow/connections/{sys.argv[1]}"
value = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
print(json.dumps(json.loads(value), indent=2) if value.lstrip().startswith("{") else value)
PY
