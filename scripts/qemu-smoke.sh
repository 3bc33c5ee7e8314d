#!/usr/bin/env bash
# Runs a built `bootstrap` (the artifact users deploy) through real invocations against
# a local moto, so the arm64 binary is tested too, not only the x86_64 test build.
#
#   scripts/qemu-smoke.sh [BOOTSTRAP]   (default .aws-sam/build/RefresherFunction/bootstrap)
#
# An arm64 binary runs under qemu user-mode emulation (qemu-aarch64-static -L with the
# arm64 glibc of libc6-arm64-cross); an x86_64 one runs natively. Missing Debian
# packages are installed with apt-get (as root, or through sudo), once per machine.
# Outside Lambda (AWS_LAMBDA_RUNTIME_API unset) the binary is the one-shot command
# line, which is the same App::run the Lambda handler calls. Three invocations:
#   new      CONNECTIONS names a secret that does not exist: created, a Docker
#            connection with moto's ECR token; exit 0
#   update   an existing Docker connection: updated, other keys kept; exit 0
#   fault    a secret holding postgresql://a:b@db:5432/x: refused, exit 1, the secret
#            untouched (same version, same value)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(realpath "${1:-$root/.aws-sam/build/RefresherFunction/bootstrap}")
[ -x "$bin" ] || { echo "qemu-smoke: FAILED: $bin is not an executable file" >&2; exit 1; }

machine=$(python3 -c 'import struct,sys; h=open(sys.argv[1],"rb").read(20); print(struct.unpack("<H",h[18:20])[0])' "$bin")
host=$(uname -m)
runner=()
case $machine in
  183) arch=arm64
    if [ "$host" != aarch64 ]; then
      sysroot=/usr/aarch64-linux-gnu
      if ! command -v qemu-aarch64-static >/dev/null || [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
        sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
        echo "qemu-smoke: installing qemu-user-static and libc6-arm64-cross (apt-get)" >&2
        apt_log=$(mktemp)
        # The package lists may be missing or old: update them only if the first try fails.
        if ! { "${sudo[@]}" apt-get install -y -q qemu-user-static libc6-arm64-cross ||
          { "${sudo[@]}" apt-get update -q && "${sudo[@]}" apt-get install -y -q qemu-user-static libc6-arm64-cross; }
        } >"$apt_log" 2>&1; then
          tail -n 20 "$apt_log" >&2
          echo "qemu-smoke: FAILED: could not install qemu-user-static and libc6-arm64-cross" >&2
          exit 1
        fi
        rm -f "$apt_log"
      fi
      runner=(qemu-aarch64-static -L "$sysroot")
    fi ;;
  62) arch=x86_64
    [ "$host" = x86_64 ] || { echo "qemu-smoke: FAILED: cannot run an x86_64 binary on $host" >&2; exit 1; } ;;
  *) echo "qemu-smoke: FAILED: $bin is for ELF machine $machine, neither arm64 nor x86_64" >&2; exit 1 ;;
esac

echo "qemu-smoke: $arch $bin${runner:+ under ${runner[*]}}"
export AER_SMOKE_BIN=$bin AER_SMOKE_ARCH=$arch
export AER_SMOKE_RUNNER="${runner[*]}"
exec "$root/scripts/with-moto.sh" python - <<'EOF'
import json, os, shlex, subprocess, sys, time, uuid

import boto3

bin_, arch = os.environ["AER_SMOKE_BIN"], os.environ["AER_SMOKE_ARCH"]
runner = shlex.split(os.environ["AER_SMOKE_RUNNER"])
sm = boto3.client("secretsmanager")
prefix = f"smoke-{arch}-{uuid.uuid4().hex[:8]}/connections"
failures = []

def invoke(conn_id):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "CONNECTIONS": conn_id,
        "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX": prefix,
        **{k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                                     "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED")},
    }
    t = time.monotonic()
    p = subprocess.run([*runner, bin_], env=env, capture_output=True, text=True, timeout=120)
    return p, time.monotonic() - t

def value(conn_id):
    s = sm.get_secret_value(SecretId=f"{prefix}/{conn_id}")
    return s["VersionId"], s["SecretString"]

def check(name, ok, p, secs, why):
    status = "ok" if ok else "FAILED"
    print(f"qemu-smoke: {arch} {name}: {status} (exit {p.returncode}, {secs:.1f}s){'' if ok else ': ' + why}")
    if not ok:
        failures.append(name)
        print("  stdout:", p.stdout.strip()[-2000:], "\n  stderr:", p.stderr.strip()[-2000:])

def docker_conn(raw):
    c = json.loads(raw)
    return (c.get("conn_type") == "docker" and c.get("login") == "AWS" and c.get("password")
            and ".dkr.ecr.us-east-1." in c.get("host", "")), c

# new: no secret yet
p, secs = invoke("smoke_new")
try:
    report = json.loads(p.stdout)
    action = report["connections"][0]["action"]
    good, _ = docker_conn(value("smoke_new")[1])
    check("new", p.returncode == 0 and action == "created" and good, p, secs, f"action {action}")
except Exception as e:  # noqa: BLE001 - report any shape problem as a failure
    check("new", False, p, secs, repr(e))

# update: an existing Docker connection with an old password and an extra key
sm.create_secret(Name=f"{prefix}/smoke_upd", SecretString=json.dumps({
    "conn_type": "docker", "host": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "login": "AWS", "password": "old-password", "extra": {"reauth": True}}))
p, secs = invoke("smoke_upd")
try:
    action = json.loads(p.stdout)["connections"][0]["action"]
    good, c = docker_conn(value("smoke_upd")[1])
    good = good and c["password"] != "old-password" and c.get("extra") == {"reauth": True}
    check("update", p.returncode == 0 and action == "updated" and good, p, secs, f"action {action}, {c}")
except Exception as e:  # noqa: BLE001
    check("update", False, p, secs, repr(e))

# fault: not a Docker connection, so it must be refused and left alone
foreign = "postgresql://a:b@db:5432/x"
sm.create_secret(Name=f"{prefix}/smoke_pg", SecretString=foreign)
before = value("smoke_pg")
p, secs = invoke("smoke_pg")
after = value("smoke_pg")
check("fault", p.returncode == 1 and after == before and "smoke_pg" in p.stderr, p, secs,
      f"secret {'untouched' if after == before else 'CHANGED'}")

sys.exit(1 if failures else 0)
EOF
