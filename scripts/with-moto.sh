#!/usr/bin/env bash
# Runs CMD against a fresh moto server, then stops the server.
#
#   scripts/with-moto.sh CMD [ARGS...]
#
# moto (tests/support/moto_server.py: moto_server, routing faster) listens on 127.0.0.1
# on a free port. CMD gets AWS_ENDPOINT_URL and fake
# credentials/region pointing every AWS SDK at it, and instance metadata is
# disabled so nothing ever reaches a real AWS endpoint. Exits with CMD's status.
# Tests sharing this server must use unique resource names.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# A separate assignment, so a failed bootstrap stops this script (set -e).
env_file=$("$root/scripts/bootstrap.sh" tools)
# shellcheck disable=SC1090
. "$env_file"

log=$(mktemp "${TMPDIR:-/tmp}/moto.XXXXXX.log")
moto_pid=
stop_moto() {
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    moto_pid=
  fi
  rm -f "$log"
}
trap stop_moto EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port picked by binding port 0 can be taken before moto binds it, so retry.
for attempt in 1 2 3; do
  port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python "$root/tests/support/moto_server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 100); do
    if ! kill -0 "$moto_pid" 2>/dev/null; then break; fi
    if curl -fs -o /dev/null "http://127.0.0.1:$port/moto-api/"; then break 2; fi
    sleep 0.1
  done
  echo "with-moto: moto did not come up on port $port (attempt $attempt):" >&2
  tail -n 20 "$log" >&2
  stop_moto
  log=$(mktemp "${TMPDIR:-/tmp}/moto.XXXXXX.log")
  [ "$attempt" -lt 3 ] || exit 1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

# Last, so the exit status is CMD's; the EXIT trap stops moto either way.
"$@"
