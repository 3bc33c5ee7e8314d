"""Side-by-side benchmark: this project's release binary vs a boto3 Lambda-style handler.

    scripts/with-moto.sh python bench/bench.py [--runs N] [--latency-ms MS] [--bin PATH]
    (normally through bench/run.sh, which builds the release binary first)

Everything runs against the local moto from scripts/with-moto.sh, through
tests/support/aws_proxy.py, which counts the
requests and, in the latency cases, adds the delay to every AWS request. Each measured
run is a whole process, as in a Lambda cold start: `airflow-ecr-refresher` (the one-shot
CLI) and `python bench/boto3_handler.py`. CPU time (user + sys), peak RSS and wall time
(fork to reap) come from wait4 in bench/spawn.c, a small C launcher: a child forked
straight from this Python process would inherit its RSS high-water mark. Runs alternate
between the two, after one warm-up run each.

Steady state is "update": before every run, that run's secrets are created straight in
moto under a prefix of its own (CONNECTIONS_PREFIX), so every run, of either side, finds
the same C existing secrets; they are deleted after it, so no run sees another's.

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
import json
import os
import platform
import shutil
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
# name, connections, regions, added latency
CASES = [("1 conn", 1, 1, 0), ("50 conns / 3 regions", 50, 3, 0),
         ("1 conn +50ms", 1, 1, None), ("50 conns / 3 regions +50ms", 50, 3, None)]


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


def run_process(argv: list[str], env: dict[str, str]) -> dict:
    """Runs argv under bench/spawn.c: wall, CPU and peak RSS of that process alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as report:
        subprocess.run([SPAWN, report.name, *argv], env=env, stdout=out, stderr=err,
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


class Bench:
    def __init__(self, proxy: ProxyControl, seeder: Seeder, latency_ms: int) -> None:
        self.proxy, self.seeder, self.latency_ms = proxy, seeder, latency_ms

    def env(self, conns: list[dict[str, str]], prefix: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("AWS_LAMBDA_RUNTIME_API", None)
        env.update(AWS_ENDPOINT_URL=self.proxy.url, CONNECTIONS=json.dumps(conns),
                   CONNECTIONS_PREFIX=prefix)
        return env

    def once(self, argv: list[str], count: int, regions: int, latency: int) -> dict:
        conns = connections(count, regions)
        prefix = self.seeder.prefix(conns)
        self.proxy.reset()
        self.proxy.configure(latency_ms=latency)
        result = run_process(argv, self.env(conns, prefix))
        result["requests"] = dict(collections.Counter(t.split(".")[-1] for t in self.proxy.requests()))
        self.seeder.forget(prefix, conns)
        report = json.loads(result.pop("stdout"))
        actions = collections.Counter(c["action"] for c in report["connections"])
        if actions != {"updated": count}:
            raise SystemExit(f"bench: {argv} did not update all {count} secrets: {dict(actions)}")
        return result


def median_of(samples: list[dict]) -> dict:
    keys = ("wall_ms", "cpu_ms", "user_ms", "sys_ms", "rss_mb")
    return {k: statistics.median(s[k] for s in samples) for k in keys}


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
    return " + ".join(f"{n} {short.get(k, k)}" for k, n in counts.items())


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['nproc']} cores, {m['cpu']}, Linux {m['kernel']}; {m['rustc']}; Python {m['python']}, "
        f"boto3 {m['boto3']}, moto {m['moto']} (load average at start {' '.join(m['loadavg_start'])}).",
        f"Medians of {results['runs']} runs each, alternating, after one warm-up each; every run is a whole "
        "process (start, imports, one invocation, exit) updating C existing secrets in local moto "
        f"through the counting proxy; \"+{results['latency_ms']}ms\" adds that delay to every AWS request.",
        "",
        "| case | CPU boto3 | CPU Rust | CPU ratio | peak RSS boto3 | peak RSS Rust | RSS ratio "
        "| wall boto3 | wall Rust | wall ratio | AWS requests boto3 | AWS requests Rust |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for case in results["cases"]:
        p, r = case["boto3"]["median"], case["rust"]["median"]
        lines.append(
            f"| {case['name']} | {ms(p['cpu_ms'])} | {ms(r['cpu_ms'])} | {p['cpu_ms'] / r['cpu_ms']:.0f}x "
            f"| {mb(p['rss_mb'])} | {mb(r['rss_mb'])} | {p['rss_mb'] / r['rss_mb']:.1f}x "
            f"| {ms(p['wall_ms'])} | {ms(r['wall_ms'])} | {p['wall_ms'] / r['wall_ms']:.1f}x "
            f"| {fmt_requests(case['boto3']['requests'])} | {fmt_requests(case['rust']['requests'])} |")
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


def targets(cases: list[dict], latency_ms: int) -> list[dict]:
    by = {c["name"]: c for c in cases}
    cpu = min(c["boto3"]["median"]["cpu_ms"] / c["rust"]["median"]["cpu_ms"] for c in cases)
    rss = min(c["boto3"]["median"]["rss_mb"] / c["rust"]["median"]["rss_mb"] for c in cases)
    one = by[f"1 conn +{latency_ms}ms"]["rust"]["median"]["wall_ms"]
    many = by[f"50 conns / 3 regions +{latency_ms}ms"]["rust"]["median"]["wall_ms"]
    return [
        {"what": "CPU time at most 1/30 of boto3's (worst case)", "value": f"1/{cpu:.0f}", "met": cpu >= 30},
        {"what": "peak RSS at most 1/4 of boto3's (worst case)", "value": f"1/{rss:.1f}", "met": rss >= 4},
        {"what": f"+{latency_ms}ms: 50 conns / 3 regions within 3x the wall time of 1 conn",
         "value": f"{many / one:.2f}x ({ms(many)} vs {ms(one)})", "met": many / one <= 3},
    ]


def compare(args: argparse.Namespace, bench: Bench) -> dict:
    rust = [args.bin]
    py = [sys.executable, str(HANDLER)]
    cases = []
    for name, count, regions, latency in CASES:
        latency = args.latency_ms if latency is None else latency
        name = name.replace("+50ms", f"+{args.latency_ms}ms")
        log(f"{name}: warm-up, then {args.runs} runs of each, alternating")
        bench.once(rust, count, regions, latency)
        bench.once(py, count, regions, latency)
        samples = {"rust": [], "boto3": []}
        for i in range(args.runs):
            order = [("rust", rust), ("boto3", py)]
            for side, argv in (order if i % 2 == 0 else order[::-1]):
                samples[side].append(bench.once(argv, count, regions, latency))
        case = {"name": name, "connections": count, "regions": regions, "latency_ms": latency}
        for side, runs in samples.items():
            requests = [s.pop("requests") for s in runs]
            if any(r != requests[0] for r in requests):
                raise SystemExit(f"bench: {side} made different requests from run to run: {requests}")
            case[side] = {"median": median_of(runs), "samples": runs, "requests": requests[0]}
        r, p = case["rust"]["median"], case["boto3"]["median"]
        log(f"  Rust {ms(r['cpu_ms'])} CPU, {mb(r['rss_mb'])}, {ms(r['wall_ms'])} wall; "
            f"boto3 {ms(p['cpu_ms'])} CPU, {mb(p['rss_mb'])}, {ms(p['wall_ms'])} wall")
        cases.append(case)
    log("size and time to the first Runtime API request")
    env = bench.env(connections(1, 1), "bench-startup")
    return {
        "runs": args.runs, "latency_ms": args.latency_ms, "binary": os.path.relpath(args.bin, REPO),
        "cases": cases, "size": sizes(args.bin), "startup": time_to_runtime_api(args.bin, args.runs * 2, env),
        "python_init_ms": python_import_time(args.runs, env), "targets": targets(cases, args.latency_ms),
    }


def profiles(args: argparse.Namespace, bench: Bench) -> dict:
    """Only the binaries given, each on the two no-latency cases, interleaved."""
    bins = dict(p.split("=", 1) for p in args.profile)
    out = {name: {"size": sizes(path)} for name, path in bins.items()}
    env = bench.env(connections(1, 1), "bench-startup")
    for name, count, regions, _ in CASES[:2]:
        log(f"{name}: {len(bins)} binaries, {args.runs} runs each, interleaved")
        samples = {b: [] for b in bins}
        for path in bins.values():
            bench.once([path], count, regions, 0)
        for i in range(args.runs):
            for b, path in (list(bins.items()) if i % 2 == 0 else list(bins.items())[::-1]):
                s = bench.once([path], count, regions, 0)
                s.pop("requests")
                samples[b].append(s)
        for b in bins:
            out[b][name] = median_of(samples[b])
    for b, path in bins.items():
        out[b]["startup_ms"] = time_to_runtime_api(path, args.runs, env)["ms"]
    lines = ["| profile | size | stripped | CPU 1 conn | CPU 50 conns | peak RSS 50 conns "
             "| wall 50 conns | to first Runtime API request |", "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for b, r in out.items():
        one, many = r[CASES[0][0]], r[CASES[1][0]]
        lines.append(f"| {b} | {r['size']['bytes'] / 1e6:.2f} MB | {r['size']['stripped_bytes'] / 1e6:.2f} MB "
                     f"| {ms(one['cpu_ms'])} | {ms(many['cpu_ms'])} | {mb(many['rss_mb'])} "
                     f"| {ms(many['wall_ms'])} | {ms(r['startup_ms'])} |")
    return {"runs": args.runs, "profiles": out, "table": "\n".join(lines) + "\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--bin", default=str(REPO / "target" / "release" / "airflow-ecr-refresher"))
    parser.add_argument("--profile", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    if not args.profile and not os.access(args.bin, os.X_OK):
        raise SystemExit(f"bench: no binary at {args.bin}: run `cargo build --release` (bench/run.sh does)")

    global SPAWN
    SPAWN = spawn_helper()
    moto_url = local_moto_url()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with running_proxy(moto_url) as proxy:
        bench = Bench(proxy, Seeder(moto_url), args.latency_ms)
        if args.profile:
            results = profiles(args, bench)
            results["machine"] = machine()
            text = results["table"]
            stem = f"profiles-{stamp}"
        else:
            m = machine()
            results = compare(args, bench)
            results["machine"] = m
            results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
            results["command"] = "make bench"
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
