"""Side-by-side benchmark: this project's release binary vs a boto3 Lambda-style handler.

    scripts/with-moto.sh python bench/bench.py [--runs N] [--latency-ms MS] [--bin PATH]
        [--terminator PATH] [--plain] [--memory-mb 128,256] [--cpu-period-ms MS]
        [--no-resumption]
    (normally through bench/run.sh, which builds the release binary and the terminator first)

Everything runs against the local moto from scripts/with-moto.sh, through
tests/support/aws_proxy.py, which counts the
requests and, in the latency cases, adds the delay to every AWS request.

TLS, as on Lambda (unless --plain): bench/tls-terminator (rustls) serves HTTPS on
127.0.0.1 in front of the proxy, one port for ECR and one for Secrets Manager (through
AWS_ENDPOINT_URL_ECR / _SECRETS_MANAGER, which both SDKs read), with a certificate chain made here by `openssl` (root ->
intermediate -> leaf for IP 127.0.0.1, RSA 2048 like Amazon Root CA 1 and the Amazon RSA
2048 intermediates that AWS endpoints chain to; the server sends leaf + intermediate). With
ECDSA P-256 instead, the client's three signature checks per full handshake were about a
third of its CPU for 50 connections (perf): that would measure a cost AWS does not impose. Its root is appended to the system's root bundle to make one bundle
file, trusted the way each side trusts CAs: SSL_CERT_FILE for the Rust function
(rustls-native-certs reads only that file when it is set), AWS_CA_BUNDLE for boto3. The
terminator counts handshakes (full and resumed) and its own CPU is reported per run.

Lambda-size mode (--memory-mb, default "128,256"): those cases run each process in a
cgroup with a CPU quota of size/1769 of one core (Lambda gives one vCPU at 1,769 MB) and a
memory limit of size MiB (cgroup v2 cpu.max / memory.max, or v1 cpu.cfs_quota_us /
memory.limit_in_bytes where only v1 is mounted; needs root). Billed duration there is the
process's wall time, start to exit (init + invocation, as Lambda bills a custom runtime),
rounded up to a millisecond. Sizes after the first run the function only. Each measured
run is a whole process, as in a Lambda cold start: `airflow-ecr-refresher` (the one-shot
CLI) and `python bench/boto3_handler.py`. CPU time (user + sys), peak RSS and wall time
(fork to reap) come from wait4 in bench/spawn.c, a small C launcher: a child forked
straight from this Python process would inherit its RSS high-water mark. Runs alternate
between the two, after one warm-up run each.

Steady state is "update": before every run, that run's secrets are created straight in
moto under a prefix of its own (AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX), so
every run, of either side, finds the same C existing secrets; they are deleted after it, so
no run sees another's.

Also measured: the binary's size (as built, and after `strip`), and the time from spawn
to the first Runtime API request (GET /2018-06-01/runtime/invocation/next) when run with
AWS_LAMBDA_RUNTIME_API pointing at a tiny local server.

--profile NAME=PATH (repeatable) instead measures only binaries (used by
bench/profiles.sh to compare release-profile settings).

Writes bench/results/<stamp>.json and .md (and latest.json / latest.md).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from support.proxy_control import ProxyControl, local_moto_url, running_proxy  # noqa: E402

import boto3  # noqa: E402  (the tools venv's)

HANDLER = REPO / "bench" / "boto3_handler.py"
SPAWN = ""  # set by main()
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
OLD_VALUE = json.dumps({"conn_type": "docker", "host": "old.example", "login": "AWS",
                        "password": "old", "extra": {"reauth": True}})
# name, connections, regions, added latency (None: --latency-ms)
CASES = [("1 conn", 1, 1, 0), ("50 conns / 3 regions", 50, 3, 0),
         ("1 conn +50ms", 1, 1, None), ("50 conns / 3 regions +50ms", 50, 3, None)]
# Run at each Lambda size (the latency cases only) ...
SIZED_CASES = [("1 conn +50ms", 1, 1, None), ("50 conns / 3 regions +50ms", 50, 3, None)]
# ... and, at the first size, the function alone: every attempt must be a first attempt
# (the 3 s connect and 10 s attempt timeouts never fire).
STRESS_CASE = ("200 conns / 3 regions +50ms", 200, 3, None)


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def connections(count: int, regions: int) -> list[dict[str, str]]:
    return [{"conn_id": f"ecr_{i:03d}", "region": REGIONS[i % regions]} for i in range(count)]


class Seeder:
    """Creates each run's existing secrets straight in moto (not through the proxy)."""

    def __init__(self, moto_url: str) -> None:
        self.client = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")
        self.stamp = uuid.uuid4().hex[:8]
        self.n = 0

    def prefix(self, conns: list[dict[str, str]]) -> str:
        self.n += 1
        prefix = f"bench-{self.stamp}/{self.n}"
        for c in conns:
            self.client.create_secret(Name=f"{prefix}/{c['conn_id']}", SecretString=OLD_VALUE)
        return prefix

    def forget(self, prefix: str, conns: list[dict[str, str]]) -> None:
        """Deletes a run's secrets, so moto holds only the next run's and stays as fast."""
        for c in conns:
            self.client.delete_secret(SecretId=f"{prefix}/{c['conn_id']}", ForceDeleteWithoutRecovery=True)


def spawn_helper() -> str:
    """bench/spawn.c, built once into target/bench/ (cc is on every machine of this kind)."""
    src = REPO / "bench" / "spawn.c"
    exe = REPO / "target" / "bench" / "spawn"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        exe.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-O2", "-Wall", "-o", str(exe), str(src)], check=True)
    return str(exe)


def run_process(argv: list[str], env: dict[str, str], cgroup: "Cgroup | None" = None) -> dict:
    """Runs argv under bench/spawn.c: wall, CPU and peak RSS of that process alone."""
    limits = [a for procs in (cgroup.procs if cgroup else []) for a in ("-g", procs)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as report:
        subprocess.run([SPAWN, report.name, *limits, *argv], env=env, stdout=out, stderr=err,
                       stdin=subprocess.DEVNULL, check=True)
        status, wall_ns, user_us, sys_us, rss_kib = map(int, report.read().split())
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if status != 0:
        raise SystemExit(f"bench: {argv[0]} exited {status}:\n{stderr[-3000:]}")
    return {"wall_ms": wall_ns / 1e6, "cpu_ms": (user_us + sys_us) / 1000,
            "user_ms": user_us / 1000, "sys_ms": sys_us / 1000,
            "rss_mb": rss_kib / 1024, "stdout": stdout}


class Tls:
    """bench/tls-terminator in front of the proxy, its certificates and the root bundle."""

    SYSTEM_BUNDLES = ("/etc/pki/tls/certs/ca-bundle.crt",  # Amazon Linux (Lambda's provided.al2023)
                      "/etc/ssl/certs/ca-certificates.crt")  # Debian

    def __init__(self, terminator: str, upstream_url: str, resumption: bool) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="bench-tls-")
        d = Path(self.dir.name)
        self.make_chain(d)
        system = next((Path(p) for p in self.SYSTEM_BUNDLES if Path(p).exists()), None)
        if system is None:
            raise SystemExit(f"bench: no system root bundle at {' or '.join(self.SYSTEM_BUNDLES)}")
        self.bundle = d / "roots.pem"
        self.bundle.write_text(system.read_text() + (d / "root.pem").read_text())
        self.roots = self.bundle.read_text().count("BEGIN CERTIFICATE")
        upstream = upstream_url.removeprefix("http://").rstrip("/")
        argv = [terminator, str(d / "chain.pem"), str(d / "leaf.key"), upstream, "--listeners", "2"]
        self.process = subprocess.Popen(argv + ([] if resumption else ["--no-resumption"]),
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ports = self.process.stdout.readline().split()
        if len(ports) != 3:
            raise SystemExit(f"bench: {terminator} did not start (exit {self.process.poll()})")
        # One port per service, as against AWS, where ECR and Secrets Manager are different
        # hosts: a client's connection pool (keyed by host and port) cannot reuse one
        # service's connection for the other. (The regions of one service share a port: the
        # function asks each region for one token, all at once, so nothing is reused there.)
        self.endpoints = {"AWS_ENDPOINT_URL_ECR": f"https://127.0.0.1:{ports[0]}",
                          "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"https://127.0.0.1:{ports[1]}",
                          "AWS_ENDPOINT_URL": f"https://127.0.0.1:{ports[1]}"}
        self.stats_port = int(ports[2])

    @staticmethod
    def make_chain(d: Path) -> None:
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        for name in ("root", "inter", "leaf"):
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", f"{name}.key")
        (d / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        (d / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                    "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n")
        openssl("req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=bench root CA", "-days", "2",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "root.pem")
        for name, issuer, subject, ext in (("inter", "root", "bench intermediate CA", "ca.ext"),
                                           ("leaf", "inter", "127.0.0.1", "leaf.ext")):
            openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={subject}", "-out", f"{name}.csr")
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
                    "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{name}.pem")
        (d / "chain.pem").write_text((d / "leaf.pem").read_text() + (d / "inter.pem").read_text())

    def cpu_ns(self) -> int:
        """CPU time of all the terminator's threads so far (schedstat: nanoseconds)."""
        total = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                total += int((task / "schedstat").read_text().split()[0])
        return total

    def stats(self) -> dict:
        with socket.create_connection(("127.0.0.1", self.stats_port), timeout=5) as sock:
            return json.loads(sock.makefile().readline())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.dir.cleanup()


class Cgroup:
    """One Lambda size: CPU quota size/1769 of a core and memory limit size MiB (needs root)."""

    def __init__(self, memory_mb: int, period_us: int) -> None:
        self.memory_mb, self.period_us = memory_mb, period_us
        self.quota_us = max(1000, round(period_us * memory_mb / 1769))
        name = f"bench-{os.getpid()}-{memory_mb}mb"
        limit = str(memory_mb * 1024 * 1024)
        self.dirs: list[Path] = []
        try:
            if Path("/sys/fs/cgroup/cgroup.controllers").exists():  # cgroup v2
                root = Path("/sys/fs/cgroup")
                (root / "cgroup.subtree_control").write_text("+cpu +memory")
                self.dirs = [self.make(root / name)]
                self.write(self.dirs[0] / "cpu.max", f"{self.quota_us} {period_us}")
                self.write(self.dirs[0] / "memory.max", limit)
                self.write(self.dirs[0] / "memory.swap.max", "0", optional=True)
                self.kind = "cgroup v2 cpu.max, memory.max"
            else:  # cgroup v1, one hierarchy per controller
                cpu = self.make(Path("/sys/fs/cgroup/cpu") / name)
                self.dirs = [cpu]
                self.write(cpu / "cpu.cfs_period_us", str(period_us))
                self.write(cpu / "cpu.cfs_quota_us", str(self.quota_us))
                mem = self.make(Path("/sys/fs/cgroup/memory") / name)
                self.dirs.append(mem)
                self.write(mem / "memory.limit_in_bytes", limit)
                self.write(mem / "memory.memsw.limit_in_bytes", limit, optional=True)
                self.kind = "cgroup v1 cpu.cfs_quota_us, memory.limit_in_bytes"
        except OSError as e:
            self.close()
            raise SystemExit(f"bench: cannot make a cgroup for {memory_mb} MB ({e}); run as root, "
                             "or pass --memory-mb '' to skip the Lambda-size cases") from e
        self.procs = [str(d / "cgroup.procs") for d in self.dirs]

    @staticmethod
    def make(path: Path) -> Path:
        path.mkdir()
        return path

    @staticmethod
    def write(path: Path, value: str, optional: bool = False) -> None:
        try:
            path.write_text(value)
        except OSError:
            if not optional:
                raise

    def describe(self) -> str:
        return (f"{self.memory_mb} MB: CPU quota {self.quota_us / 1000:g} ms per {self.period_us / 1000:g} ms "
                f"({self.memory_mb}/1769 of a core), memory limit {self.memory_mb} MiB ({self.kind})")

    def close(self) -> None:
        for d in reversed(self.dirs):
            with contextlib.suppress(OSError):
                d.rmdir()


class Bench:
    def __init__(self, proxy: ProxyControl, seeder: Seeder, tls: Tls | None) -> None:
        self.proxy, self.seeder, self.tls = proxy, seeder, tls

    def env(self, conns: list[dict[str, str]], prefix: str, python: bool = False) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("AWS_LAMBDA_RUNTIME_API", "SSL_CERT_FILE", "SSL_CERT_DIR", "AWS_CA_BUNDLE",
                     "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
            env.pop(name, None)
        env.update(AWS_ENDPOINT_URL=self.proxy.url, CONNECTIONS=json.dumps(conns),
                   AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX=prefix)
        if self.tls:
            env.update(self.tls.endpoints)
            env["AWS_CA_BUNDLE" if python else "SSL_CERT_FILE"] = str(self.tls.bundle)
        return env

    def once(self, argv: list[str], count: int, regions: int, latency: int,
             cgroup: Cgroup | None = None, extra_env: dict[str, str] | None = None) -> dict:
        conns = connections(count, regions)
        prefix = self.seeder.prefix(conns)
        self.proxy.reset()
        self.proxy.configure(latency_ms=latency)
        python = argv[0] == sys.executable
        before = (self.tls.cpu_ns(), self.tls.stats()) if self.tls else None
        result = run_process(argv, dict(self.env(conns, prefix, python), **(extra_env or {})), cgroup)
        if self.tls and before:
            after = self.tls.stats()
            result["terminator_cpu_ms"] = (self.tls.cpu_ns() - before[0]) / 1e6
            result["handshakes"] = after["handshakes"] - before[1]["handshakes"]
            result["resumed"] = after["resumed"] - before[1]["resumed"]
        result["billed_ms"] = math.ceil(result["wall_ms"])
        log_entries = self.proxy.log()
        result["requests"] = dict(collections.Counter(e["target"].split(".")[-1] for e in log_entries))
        result["retries"] = sum(1 for e in log_entries if (e.get("attempt") or 1) > 1
                                or e.get("outcome") != "forwarded")
        self.seeder.forget(prefix, conns)
        report = json.loads(result.pop("stdout"))
        actions = collections.Counter(c["action"] for c in report["connections"])
        if actions != {"updated": count}:
            raise SystemExit(f"bench: {argv} did not update all {count} secrets: {dict(actions)}")
        return result


def median_of(samples: list[dict]) -> dict:
    keys = ("wall_ms", "billed_ms", "cpu_ms", "user_ms", "sys_ms", "rss_mb", "terminator_cpu_ms",
            "handshakes", "resumed")
    return {k: statistics.median(s[k] for s in samples) for k in keys if k in samples[0]}


# --- time to the first Runtime API request -------------------------------------------

class RuntimeApi(ThreadingHTTPServer):
    """Answers nothing: records when the first `invocation/next` arrives."""

    daemon_threads = True

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.at = 0.0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(inner) -> None:
                if inner.path.startswith("/2018-06-01/runtime/invocation/next") and not self.arrived.is_set():
                    self.at = time.perf_counter()
                    self.arrived.set()
                    self.release.wait(10)  # keep the process waiting while it is looked at
                inner.close_connection = True

        super().__init__(("127.0.0.1", 0), Handler)


def time_to_runtime_api(binary: str, runs: int, env: dict[str, str]) -> dict:
    samples, hwm = [], []
    for _ in range(runs + 1):  # the first is a warm-up
        api = RuntimeApi()
        threading.Thread(target=api.serve_forever, daemon=True).start()
        child_env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.server_address[1]}",
                         AWS_LAMBDA_FUNCTION_NAME="bench", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
                         AWS_LAMBDA_FUNCTION_VERSION="$LATEST")
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=child_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        ok = api.arrived.wait(10)
        status = Path(f"/proc/{proc.pid}/status").read_text() if ok else ""
        proc.kill()
        proc.wait()
        api.release.set()
        api.shutdown()
        api.server_close()
        if not ok:
            raise SystemExit(f"bench: {binary} made no Runtime API request within 10 s")
        samples.append((api.at - start) * 1000)
        fields = {l.split(":")[0]: int(l.split()[1]) / 1024 for l in status.splitlines()
                  if l.startswith(("VmHWM", "RssAnon", "RssFile"))}
        hwm.append(fields)
    return {"ms": statistics.median(samples[1:]), "samples_ms": samples[1:],
            "rss_mb": statistics.median(h["VmHWM"] for h in hwm[1:]),
            "rss_anon_mb": statistics.median(h["RssAnon"] for h in hwm[1:]),
            "rss_file_mb": statistics.median(h["RssFile"] for h in hwm[1:])}


def python_import_time(runs: int, env: dict[str, str]) -> float:
    """Spawn to exit of `import boto3_handler` (boto3 import + clients): its init phase."""
    argv = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import boto3_handler",
            str(HANDLER.parent)]
    samples = [run_process(argv, env)["wall_ms"] for _ in range(runs + 1)]
    return statistics.median(samples[1:])


def sizes(binary: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stripped = Path(tmp) / "bootstrap"
        shutil.copy(binary, stripped)
        subprocess.run(["strip", "--strip-all", str(stripped)], check=True)
        return {"bytes": os.path.getsize(binary), "stripped_bytes": os.path.getsize(stripped)}


# --- machine and report --------------------------------------------------------------

def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    def version(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    import botocore, moto  # noqa: E401
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "python": platform.python_version(), "boto3": boto3.__version__,
            "botocore": botocore.__version__, "moto": moto.__version__,
            "rustc": version(["rustc", "--version"]),
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}


def mb(x: float) -> str:
    return f"{x:.1f} MB"


def ms(x: float) -> str:
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"


def fmt_requests(counts: dict) -> str:
    short = {"GetAuthorizationToken": "token", "BatchGetSecretValue": "batchget",
             "GetSecretValue": "get", "PutSecretValue": "put", "CreateSecret": "create"}
    order = list(short)
    ranked = sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in short else len(order))
    return " + ".join(f"{n} {short.get(k, k)}" for k, n in ranked)


def gb_s(billed_ms: float, memory_mb: int) -> float:
    return billed_ms / 1000 * memory_mb / 1024


def side_cells(case: dict, key: str, fmt) -> list[str]:
    cells = [fmt(case[side]["median"][key]) if side in case else "-" for side in ("boto3", "rust")]
    both = "boto3" in case and "rust" in case
    ratio = case["boto3"]["median"][key] / case["rust"]["median"][key] if both else None
    return cells + ([f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"] if both else ["-"])


def tls_cells(case: dict) -> list[str]:
    out = []
    for key, fmt in (("handshakes", None), ("terminator_cpu_ms", ms)):
        vals = []
        for side in ("boto3", "rust"):
            m = case.get(side, {}).get("median", {})
            if key not in m:
                vals.append("-")
            elif fmt:
                vals.append(fmt(m[key]))
            else:
                vals.append(f"{m['handshakes']:.0f}" + (f" (+{m['resumed']:.0f} resumed)" if m["resumed"] else ""))
        out.append(" / ".join(vals))
    return out


def markdown(results: dict) -> str:
    m = results["machine"]
    tls = results["tls"]
    lines = [
        f"Command: `{results['command']}`.",
        f"Machine: {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']}; {m['rustc']}; Python {m['python']}, "
        f"boto3 {m['boto3']}, moto {m['moto']} (load average {' '.join(m['loadavg_start'])} at start, "
        f"{' '.join(m.get('loadavg_end', ['?']))} at end).",
        f"Medians of {results['runs']} runs each, alternating, after one warm-up each; every run is a whole "
        "process (start, imports, one invocation, exit) updating C existing secrets in local moto "
        f"through the counting proxy; \"+{results['latency_ms']}ms\" adds that delay to every AWS request.",
        (f"Through TLS: {tls}." if tls else "Plain HTTP (--plain): no TLS."),
        "",
        "A whole core:",
        "",
        "| case | CPU boto3 | CPU Rust | CPU ratio | peak RSS boto3 | peak RSS Rust | RSS ratio "
        "| wall boto3 | wall Rust | wall ratio | TLS handshakes boto3 / Rust | terminator CPU boto3 / Rust "
        "| AWS requests boto3 | AWS requests Rust |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for case in results["cases"]:
        if case["memory_mb"] is None:
            lines.append("| " + " | ".join([case["name"], *side_cells(case, "cpu_ms", ms),
                                            *side_cells(case, "rss_mb", mb), *side_cells(case, "wall_ms", ms),
                                            *tls_cells(case), fmt_requests(case["boto3"]["requests"]),
                                            fmt_requests(case["rust"]["requests"])]) + " |")
    sized = [c for c in results["cases"] if c["memory_mb"] is not None]
    if sized:
        lines += ["", "Lambda sizes (" + "; ".join(results["cgroups"]) + "); billed = process start to exit:", "",
                  "| case | billed boto3 | billed Rust | billed ratio | CPU boto3 | CPU Rust | peak RSS boto3 "
                  "| peak RSS Rust | GB-s boto3 | GB-s Rust | TLS handshakes boto3 / Rust "
                  "| terminator CPU boto3 / Rust | retried requests boto3 / Rust |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for case in sized:
            gbs = [f"{gb_s(case[side]['median']['billed_ms'], case['memory_mb']):.4f}" if side in case else "-"
                   for side in ("boto3", "rust")]
            retries = " / ".join(str(case[side]["retries"]) if side in case else "-" for side in ("boto3", "rust"))
            lines.append("| " + " | ".join([case["name"], *side_cells(case, "billed_ms", ms),
                                            *side_cells(case, "cpu_ms", ms)[:2], *side_cells(case, "rss_mb", mb)[:2],
                                            *gbs, *tls_cells(case), retries]) + " |")
    s, st = results["size"], results["startup"]
    lines += [
        "",
        f"Release binary: {s['bytes'] / 1e6:.2f} MB as built, {s['stripped_bytes'] / 1e6:.2f} MB stripped "
        f"({results['binary']}).",
        f"Process start to first Runtime API request (`GET /2018-06-01/runtime/invocation/next`): "
        f"{ms(st['ms'])} median of {len(st['samples_ms'])} (RSS then {mb(st['rss_mb'])}: {mb(st['rss_file_mb'])} "
        f"file-backed, {mb(st['rss_anon_mb'])} anonymous); for comparison "
        f"`python -c 'import boto3_handler'` (boto3 import + clients, to exit) takes {ms(results['python_init_ms'])}.",
        "",
        "Targets:",
    ]
    for t in results["targets"]:
        lines.append(f"- {'met' if t['met'] else 'MISSED'}: {t['what']}: {t['value']}")
    return "\n".join(lines) + "\n"


def expected_requests(connections: int, regions: int) -> dict:
    """What the function should send, and nothing else (tests/test_request_counts.py): each
    update re-reads its secret just before writing and asks afterwards which version it
    replaced, so that a change made meanwhile is never overwritten."""
    return {"GetAuthorizationToken": regions, "BatchGetSecretValue": math.ceil(connections / 20),
            "GetSecretValue": connections, "PutSecretValue": connections, "DescribeSecret": connections}


def targets(cases: list[dict], latency_ms: int, first_mb: int | None) -> list[dict]:
    by = {c["name"]: c for c in cases}

    def ratio(name: str, key: str) -> float:
        return by[name]["boto3"]["median"][key] / by[name]["rust"]["median"][key]

    lat = f"+{latency_ms}ms"
    out = []
    for name, want in (("1 conn", 30), ("50 conns / 3 regions", 20)):
        r = ratio(name, "cpu_ms")
        out.append({"what": f"a whole core, {name}: CPU at most 1/{want} of boto3's", "value": f"1/{r:.1f}",
                    "met": r >= want})
    if first_mb:
        one, many = f"1 conn {lat} @{first_mb}MB", f"50 conns / 3 regions {lat} @{first_mb}MB"
        for name in (one, many):
            r = ratio(name, "billed_ms")
            out.append({"what": f"{name}: billed duration at most 1/10 of boto3's", "value": f"1/{r:.1f}",
                        "met": r >= 10})
        a, b = by[one]["rust"]["median"]["billed_ms"], by[many]["rust"]["median"]["billed_ms"]
        out.append({"what": f"{first_mb} MB {lat}: 50 conns / 3 regions within 3x 1 conn (billed)",
                    "value": f"{b / a:.2f}x ({ms(b)} vs {ms(a)})", "met": b / a <= 3})
        stress = [c for c in cases if c["connections"] == STRESS_CASE[1]]
        for c in stress:
            out.append({"what": f"{c['name']}: no request retried (the 3 s connect and 10 s attempt timeouts "
                        "never fired)", "value": f"{c['rust']['retries']} retried, slowest run "
                        f"{ms(max(s['wall_ms'] for s in c['rust']['samples']))}", "met": c["rust"]["retries"] == 0})
    both = [c for c in cases if "boto3" in c]
    rss = min(ratio(c["name"], "rss_mb") for c in both)
    out.append({"what": "peak RSS at most 1/4 of boto3's (worst case)", "value": f"1/{rss:.1f}", "met": rss >= 4})
    extra = [c["name"] for c in cases if c["rust"]["requests"] != expected_requests(c["connections"], c["regions"])]
    out.append({"what": "no AWS call added (R tokens + ceil(C/20) batch reads + C re-reads + C writes + C checks)",
                "value": "as expected in every case" if not extra else f"differs in {', '.join(extra)}",
                "met": not extra})
    return out


def run_case(args: argparse.Namespace, bench: Bench, case: tuple) -> dict:
    name, count, regions, latency, cgroup, sides = case
    argvs = {"rust": [args.bin], "boto3": [sys.executable, str(HANDLER)]}
    log(f"{name}: warm-up, then {args.runs} runs of {' and '.join(sides)}, alternating")
    for side in sides:
        bench.once(argvs[side], count, regions, latency, cgroup)
    samples: dict[str, list[dict]] = {side: [] for side in sides}
    for i in range(args.runs):
        for side in (sides if i % 2 == 0 else sides[::-1]):
            samples[side].append(bench.once(argvs[side], count, regions, latency, cgroup))
    out = {"name": name, "connections": count, "regions": regions, "latency_ms": latency,
           "memory_mb": cgroup.memory_mb if cgroup else None}
    for side, runs in samples.items():
        requests = [s.pop("requests") for s in runs]
        if any(r != requests[0] for r in requests):
            raise SystemExit(f"bench: {side} made different requests from run to run: {requests}")
        out[side] = {"median": median_of(runs), "samples": runs, "requests": requests[0],
                     "retries": sum(s["retries"] for s in runs)}
        m = out[side]["median"]
        log(f"  {side}: {ms(m['cpu_ms'])} CPU, {mb(m['rss_mb'])}, {ms(m['wall_ms'])} wall"
            + (f", {m['handshakes']:.0f}+{m['resumed']:.0f} handshakes" if "handshakes" in m else ""))
    return out


def compare(args: argparse.Namespace, bench: Bench, cgroups: list[Cgroup]) -> dict:
    def named(name: str) -> str:
        return name.replace("+50ms", f"+{args.latency_ms}ms")

    def lat(latency: int | None) -> int:
        return args.latency_ms if latency is None else latency

    both = ("rust", "boto3")
    plan = [(named(n), c, r, lat(la), None, both) for n, c, r, la in CASES]
    for k, cg in enumerate(cgroups):
        sides = both if k == 0 else ("rust",)
        plan += [(f"{named(n)} @{cg.memory_mb}MB", c, r, lat(la), cg, sides) for n, c, r, la in SIZED_CASES]
        if k == 0:
            n, c, r, la = STRESS_CASE
            plan.append((f"{named(n)} @{cg.memory_mb}MB", c, r, lat(la), cg, ("rust",)))
    cases = [run_case(args, bench, case) for case in plan]
    log("size and time to the first Runtime API request")
    env = bench.env(connections(1, 1), "bench-startup")
    return {
        "runs": args.runs, "latency_ms": args.latency_ms, "binary": os.path.relpath(args.bin, REPO),
        "cases": cases, "size": sizes(args.bin), "startup": time_to_runtime_api(args.bin, args.runs * 2, env),
        "python_init_ms": python_import_time(args.runs, env),
        "targets": targets(cases, args.latency_ms, cgroups[0].memory_mb if cgroups else None),
        "cgroups": [cg.describe() for cg in cgroups],
    }


def profiles(args: argparse.Namespace, bench: Bench, cgroups: list[Cgroup]) -> dict:
    """Only the binaries given, interleaved: the no-latency cases on a whole core, or with
    --memory-mb the latency cases (and 200 connections) at the first size. NAME=PATH[,VAR=VALUE...]: the variables
    are set for that binary only (for experiments with a knob read from the environment)."""
    bins: dict[str, tuple[str, dict[str, str]]] = {}
    for spec in args.profile:
        name, rest = spec.split("=", 1)
        path, *pairs = rest.split(",")
        bins[name] = (path, dict(p.split("=", 1) for p in pairs))
    cg = cgroups[0] if cgroups else None
    plan = ([(n, c, r, args.latency_ms if la is None else la) for n, c, r, la in [*SIZED_CASES, STRESS_CASE]]
            if cg else [(n, c, r, la or 0) for n, c, r, la in CASES[:2]])
    out: dict = {name: {"size": sizes(path)} for name, (path, _) in bins.items()}
    lines = ["| case | profile | CPU | peak RSS | wall (billed) | TLS handshakes (+resumed) | terminator CPU "
             "| retried requests |", "|---|---|--:|--:|--:|--:|--:|--:|"]
    for name, count, regions, latency in plan:
        label = f"{name.replace('+50ms', f'+{latency}ms')}" + (f" @{cg.memory_mb}MB" if cg else "")
        log(f"{label}: {len(bins)} binaries, {args.runs} runs each, interleaved")
        samples: dict[str, list[dict]] = {b: [] for b in bins}
        for path, env in bins.values():
            bench.once([path], count, regions, latency, cg, env)
        for i in range(args.runs):
            for b, (path, env) in (list(bins.items()) if i % 2 == 0 else list(bins.items())[::-1]):
                s = bench.once([path], count, regions, latency, cg, env)
                s.pop("requests")
                samples[b].append(s)
        for b in bins:
            m = median_of(samples[b])
            out[b][label] = {"median": m, "samples": samples[b]}
            get = lambda k: m.get(k, 0)  # noqa: E731
            lines.append(f"| {label} | {b} | {ms(m['cpu_ms'])} | {mb(m['rss_mb'])} | {ms(m['wall_ms'])} "
                         f"| {get('handshakes'):.0f} (+{get('resumed'):.0f}) | {ms(get('terminator_cpu_ms'))} "
                         f"| {sum(x['retries'] for x in samples[b])} |")
    return {"runs": args.runs, "profiles": out, "table": "\n".join(lines) + "\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--bin", default=str(REPO / "target" / "release" / "airflow-ecr-refresher"))
    parser.add_argument("--profile", action="append", default=[], metavar="NAME=PATH[,VAR=VALUE...]")
    parser.add_argument("--terminator", default=str(REPO / "target" / "tls-terminator" / "release" / "tls-terminator"))
    parser.add_argument("--plain", action="store_true", help="no TLS: plain HTTP to the proxy")
    parser.add_argument("--no-resumption", action="store_true", help="the terminator never resumes a TLS session")
    parser.add_argument("--memory-mb", default="128,256", help="Lambda sizes, comma-separated ('' for none)")
    parser.add_argument("--cpu-period-ms", type=float, default=100, help="CFS period of the CPU quota")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    if not args.plain and not os.access(args.terminator, os.X_OK):
        raise SystemExit(f"bench: no TLS terminator at {args.terminator}: bench/run.sh builds it")
    if not args.profile and not os.access(args.bin, os.X_OK):
        raise SystemExit(f"bench: no binary at {args.bin}: run `cargo build --release` (bench/run.sh does)")

    global SPAWN
    SPAWN = spawn_helper()
    moto_url = local_moto_url()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(running_proxy(moto_url))
        tls = None
        if not args.plain:
            tls = Tls(args.terminator, proxy.url, resumption=not args.no_resumption)
            stack.callback(tls.close)
        cgroups = []
        for size in filter(None, args.memory_mb.split(",")):
            cgroups.append(Cgroup(int(size), round(args.cpu_period_ms * 1000)))
            stack.callback(cgroups[-1].close)
        bench = Bench(proxy, Seeder(moto_url), tls)
        if args.profile:
            results = profiles(args, bench, cgroups)
            results["machine"] = machine()
            text = results["table"]
            stem = f"profiles-{stamp}"
        else:
            m = machine()
            results = compare(args, bench, cgroups)
            results["machine"] = m
            results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
            results["command"] = os.environ.get("BENCH_COMMAND", "bench/bench.py " + " ".join(sys.argv[1:]))
            results["tls"] = (f"bench/tls-terminator (rustls, ring), RSA 2048 root -> intermediate -> leaf, "
                              f"{tls.roots} roots in one bundle, session resumption "
                              f"{'off' if args.no_resumption else 'on'}") if tls else None
            text = markdown(results)
            stem = stamp
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(text)
    latest = "profiles-latest" if args.profile else "latest"
    shutil.copy(out / f"{stem}.json", out / f"{latest}.json")
    shutil.copy(out / f"{stem}.md", out / f"{latest}.md")
    print(text)
    log(f"wrote {out / stem}.json and .md")


if __name__ == "__main__":
    main()
