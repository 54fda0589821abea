#!/usr/bin/env python3
"""The inference benchmark (issue 13): kiln's `inference serve` with adaptive batching and
with batching off, against FastAPI + uvicorn + onnxruntime and aiohttp + onnxruntime, on the
same model files, on this machine, in one run.

    python3 benches/inference/run.py              # full run (about 20 minutes after the build)
    python3 benches/inference/run.py --quick      # smoke run: 1 round of 3 s runs
    python3 benches/inference/run.py --ort        # also kiln on onnxruntime (`--features ort`)

What it does, in order:
1. builds `inference` in release mode (`nice -n 10 cargo build --release -p inference`,
   with `--features ort` under `--ort`; CARGO_TARGET_DIR is honoured), installs wrk with apt
   if it is missing, and makes its own venv (default ~/.cache/kiln-bench-venv) with fastapi,
   uvicorn[standard], aiohttp, onnxruntime, numpy and tokenizers from PyPI (only here: never
   in the default build or the tests); under `--ort` kiln loads that venv's
   libonnxruntime.so (`--ort-library`), the very library the peers run;
2. copies `risk` and `minilm` from examples/inference/models into two temporary registries:
   one as committed (adaptive batching, the model's config.json defaults) and one with
   `max_batch` 1 and `adaptive` off (batching off; everything else the same);
3. measures each model called directly: tract via `inference bench` (what kiln runs; under
   `--ort` also onnxruntime inside kiln, `inference bench --engine tract,onnxruntime`) and
   onnxruntime via ort_ceiling.py (what the peers run); the ceiling is the best items/s of
   one model thread over the batch sizes timed (up to the model's max_batch);
4. starts each server (under `--ort` also `kiln-ort`: `inference serve --engine onnxruntime`
   on the batching registry, `--ort-threads` as the peers' `--ort-threads`), checks that all
   answer the same request with the same numbers
   (within 1e-4), then, for each model and each client count (1, 16, 64), runs wrk with that
   many keep-alive connections (one thread; a POST of one row to
   `/v2/models/risk/infer`, or of one 16-token text to `/v1/embed`) for a warm-up and a
   measured run (with a pause between them for the warm-up's backlog to drain); rounds are interleaved across servers (A B C D A B C D ...), each
   (round, model, server) on a freshly started server, and the median of the rounds is
   reported with its spread.

Per measured run it records: requests/s, wrk's p50 and p99, errors (non-2xx, socket
errors), the server's CPU time per request (utime+stime of every process of its session,
from /proc), for kiln the CPU time of its model threads (`model-*`) and so the CPU the rest
of the server (HTTP, JSON, tokenising, queueing) spends per unit of model CPU (for kiln-ort
with --ort-threads above 1, onnxruntime's own pool threads count as the rest), and the mean
batch size (kiln's /metrics); wrk's own CPU use (getrusage of the child), to show the client
was not the bottleneck; and the CPU other processes on the machine used meanwhile
(/proc/stat minus the server and wrk), to show interference.

Placement: nothing is pinned. The machine has 2 vCPUs and everything runs on it: each
server may use both cores (kiln: --workers I/O threads plus one model thread per model
instance; the Python peers: one process per core), and wrk (one thread) shares them. The
server and wrk each run in their own session whose autogroup gets nice -20, so other work
on the machine (builds at nice 10) disturbs the measurement less.

Only 127.0.0.1 is used. Every loop is bounded in count and time; every process started is
killed at the end, also on error or SIGTERM. This script measures; the aims are checked
against the figures and the verdicts printed as measured.
"""
import argparse
import datetime
import json
import os
import pathlib
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import http.client

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benches"))
from benchlib import (  # noqa: E402  (after the path it lives on)
    Sessions, ensure_wrk, fmt, load_average, log, parse_wrk, spread,
)
HERE = ROOT / "benches" / "inference"
PEERS_DIR = HERE / "peers"
MODELS_SRC = ROOT / "examples" / "inference" / "models"
OUT_DIR = HERE / "out"
MODELS = ["risk", "minilm"]
SERVERS = ["kiln-batching", "kiln-no-batching", "fastapi", "aiohttp"]
# kiln with batching on ONNX Runtime (the `ort` feature): only with --ort.
ORT_SERVER = "kiln-ort"
KILN_SERVERS = {"kiln-batching": "batching", "kiln-no-batching": "no-batching", ORT_SERVER: "batching"}
PEER_SCRIPTS = {"fastapi": "fastapi_peer.py", "aiohttp": "aiohttp_peer.py"}
VENV_PACKAGES = ["fastapi", "uvicorn[standard]", "aiohttp", "onnxruntime", "numpy", "tokenizers"]
VENV_IMPORTS = "import fastapi, uvicorn, uvloop, httptools, aiohttp, onnxruntime, numpy, tokenizers"
PORT_BASE = 18300
PORT_SPAN = 600
START_TIMEOUT_S = 90.0
TERM_GRACE_S = 5.0
STOP_TIMEOUT_S = 10.0
_sessions = Sessions(TERM_GRACE_S, STOP_TIMEOUT_S)  # servers started and not yet stopped
BUILD_TIMEOUT_S = 3600
PIP_TIMEOUT_S = 1200
CLK_TCK = os.sysconf("SC_CLK_TCK")
CHECK_TOLERANCE = 1e-4
DRAIN_MAX_S = 10.0

RISK_ROW = [950, 3, 5, 12, 6, 800, 1, 0]
# 16 tokens with [CLS] and [SEP]: kiln pads a text to its length bucket (16 is the first), the
# peers to the longest text of the call; at exactly 16 both run the model on the same shape.
TEXT = "The quick brown fox jumps over the lazy dog near the river bank."
REQUESTS = {
    "risk": ("/v2/models/risk/infer", json.dumps(
        {"inputs": [{"name": "features", "shape": [1, 8], "datatype": "FP32", "data": RISK_ROW}]})),
    "minilm": ("/v1/embed", json.dumps({"texts": [TEXT]})),
}

_port_counter = 0


def next_port():
    global _port_counter
    _port_counter += 1
    return PORT_BASE + _port_counter % PORT_SPAN


def kiln_binary():
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "inference"


# ---------------------------------------------------------------- set-up

def build(ort):
    command = ["nice", "-n", "10", "cargo", "build", "--release", "-p", "inference"]
    if ort:
        command += ["--features", "ort"]
    log("build: " + " ".join(command))
    subprocess.run(command, cwd=ROOT, check=True, timeout=BUILD_TIMEOUT_S)


def ensure_venv(venv):
    python = venv / "bin" / "python3"
    if not python.exists():
        log(f"creating the venv {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    if subprocess.run([str(python), "-c", VENV_IMPORTS], capture_output=True).returncode != 0:
        log("pip install " + " ".join(VENV_PACKAGES))
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *VENV_PACKAGES], check=True, timeout=PIP_TIMEOUT_S)
    return python


def ort_library(python):
    """The libonnxruntime.so.* of the venv's onnxruntime wheel (what the peers load)."""
    script = ("import onnxruntime, pathlib; capi = pathlib.Path(onnxruntime.__file__).parent / 'capi'; "
              "print(sorted(capi.glob('libonnxruntime.so.*'))[0])")
    return subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def venv_versions(python):
    script = ("import importlib.metadata as m, onnxruntime;"
              "print(', '.join(p + ' ' + m.version(p) for p in "
              "['fastapi', 'uvicorn', 'uvloop', 'httptools', 'aiohttp', 'onnxruntime', 'numpy', 'tokenizers']))")
    return subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def make_registries(base):
    """Two registries under `base`: `batching` (as committed) and `no-batching` (max_batch 1,
    adaptive off). Returns {name: path} and the committed configs."""
    configs = {}
    for model in MODELS:
        if not (MODELS_SRC / model / "1" / "model.onnx").exists():
            raise RuntimeError(f"{MODELS_SRC / model / '1' / 'model.onnx'} is missing: run `bash .ci/setup` "
                               "(or `inference fetch-models`) first")
        configs[model] = json.loads((MODELS_SRC / model / "config.json").read_text())
    registries = {}
    for variant in ("batching", "no-batching"):
        registry = base / variant
        for model in MODELS:
            shutil.copytree(MODELS_SRC / model, registry / model)
            if variant == "no-batching":
                config = dict(configs[model])
                config["batching"] = dict(config["batching"], max_batch=1, adaptive=False)
                (registry / model / "config.json").write_text(json.dumps(config, indent=2))
        registries[variant] = registry
    return registries, configs


# ---------------------------------------------------------------- the model alone

def kiln_ceiling(registry, args):
    """`inference bench` on the registry: {engine: {(model, batch): median µs per call}} for
    tract, and under --ort for onnxruntime inside kiln too."""
    command = [str(kiln_binary()), "bench", "--models", str(registry),
               "--iterations", str(args.bench_iterations)]
    if args.ort:
        command += ["--engine", "tract,onnxruntime", "--ort-library", args.ort_library,
                    "--ort-threads", str(args.ort_threads)]
    output = subprocess.run(session_command(command),
                            capture_output=True, text=True, check=True, timeout=900,
                            start_new_session=True, env=dict(os.environ, RUST_LOG="warn")).stdout
    times = {}
    for line in output.splitlines():
        match = re.match(r"\|\s*(\S+)\s*\|\s*(\S+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", line)
        if match:
            engine = times.setdefault(match.group(2), {})
            engine[(match.group(1), int(match.group(3)))] = float(match.group(4))
    return times


def ort_ceiling(python, registry, iterations, ort_threads):
    output = subprocess.run(session_command([str(python), str(HERE / "ort_ceiling.py"), str(registry),
                                             str(iterations)]),
                            capture_output=True, text=True, check=True, timeout=900,
                            start_new_session=True, env=dict(os.environ, PEER_ORT_THREADS=str(ort_threads))).stdout
    times = {}
    for line in output.splitlines():
        row = json.loads(line)
        times[(row["model"], row["batch"])] = row["median_us"]
    return times


def best_items_per_s(times, model, max_batch):
    rates = [(batch * 1e6 / us, batch) for (name, batch), us in times.items()
             if name == model and batch <= max_batch and us > 0]
    return max(rates) if rates else (None, None)


# ---------------------------------------------------------------- servers

def session_command(command):
    """`command` in the caller's new session, whose autogroup gets nice -20 (exec keeps the pid)."""
    quoted = " ".join("'" + part.replace("'", "'\\''") + "'" for part in command)
    return ["sh", "-c", f"echo -20 > /proc/self/autogroup 2>/dev/null; exec {quoted}"]


def server_command(server, port, args, registries, python):
    if server in KILN_SERVERS:
        registry = registries[KILN_SERVERS[server]]
        # The store in the temporary directory too: the default path is relative to the
        # working directory (PEERS_DIR), where it would be left behind.
        command = [str(kiln_binary()), "serve", "--addr", f"127.0.0.1:{port}",
                   "--workers", str(args.kiln_workers), "--models", str(registry),
                   "--db", str(registry.parent / f"{server}.sqlite")]
        if server == ORT_SERVER:
            command += ["--engine", "onnxruntime", "--ort-library", args.ort_library,
                        "--ort-threads", str(args.ort_threads)]
        return command
    return [str(python), str(PEERS_DIR / PEER_SCRIPTS[server]), "--port", str(port),
            "--workers", str(args.peer_workers), "--models", str(registries["batching"])]


def post(port, path, body, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_ready(port, process):
    """Until both benchmark requests answer 200 (the models are loaded in every process)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if all(post(port, *REQUESTS[m])[0] == 200 for m in MODELS):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} not ready within {START_TIMEOUT_S} s")


def start_server(server, args, registries, python):
    port = next_port()
    env = dict(os.environ, RUST_LOG="warn", PEER_ORT_THREADS=str(args.ort_threads))
    process = subprocess.Popen(session_command(server_command(server, port, args, registries, python)),
                               cwd=PEERS_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env=env)
    return _sessions.started(process, lambda: wait_ready(port, process)), port


def stop_server(process):
    _sessions.stop(process)


def stop_all():
    _sessions.stop_all()


# ---------------------------------------------------------------- outputs agree

def numbers(model, body):
    reply = json.loads(body)
    if model == "risk":
        return [float(x) for x in reply["outputs"][0]["data"]]
    return [float(x) for row in reply["embeddings"] for x in row]


def check_outputs(args, registries, python):
    problems, reference = [], {}
    for server in args.servers:
        process, port = start_server(server, args, registries, python)
        try:
            for model in MODELS:
                status, body = post(port, *REQUESTS[model])
                if status != 200:
                    problems.append(f"{server} {model}: status {status}")
                    continue
                got = numbers(model, body)
                ref = reference.setdefault(model, (server, got))
                if len(got) != len(ref[1]):
                    problems.append(f"{server} {model}: {len(got)} numbers, {ref[0]} gave {len(ref[1])}")
                    continue
                worst = max(abs(a - b) for a, b in zip(got, ref[1]))
                if worst > CHECK_TOLERANCE:
                    problems.append(f"{server} {model}: differs from {ref[0]} by {worst:.2e}")
                else:
                    log(f"check {server} {model}: agrees with {ref[0]} (largest difference {worst:.1e})")
        finally:
            stop_server(process)
    return problems


# ---------------------------------------------------------------- counters

def stat_fields(path):
    with open(path) as stat:
        return stat.read().rsplit(")", 1)[1].split()


def session_cpu_ticks(sid):
    """utime+stime of every live process of session `sid` (all their threads)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = stat_fields(f"/proc/{entry}/stat")
        except OSError:
            continue
        if int(fields[3]) == sid:  # field 6: session
            total += int(fields[11]) + int(fields[12])
    return total


def model_thread_ticks(pid):
    """utime+stime of kiln's model threads (`model-{name}-{version}-{instance}`)."""
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().startswith("model-"):
                fields = stat_fields(task / "stat")
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


def machine_busy_ticks():
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]


def batch_counters(port, model):
    """kiln's inference_batch_size histogram (sum, count) for `model`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    found = {}
    for kind in ("sum", "count"):
        match = re.search(rf'^inference_batch_size_{kind}\{{model="{model}"[^}}]*\}} ([\d.e+]+)$', text, re.M)
        found[kind] = float(match.group(1)) if match else 0.0
    return found["sum"], found["count"]


# ---------------------------------------------------------------- wrk


def wrk_script(directory, model):
    path, body = REQUESTS[model]
    script = directory / f"{model}.lua"
    script.write_text('wrk.method = "POST"\n'
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = [==[{body}]==]\n")
    return path, script


def run_wrk(port, model, clients, seconds, scripts):
    path, script = scripts[model]
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}{path}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.run(session_command(command), capture_output=True, text=True,
                             timeout=seconds + 60, start_new_session=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {process.stdout.strip()} {process.stderr.strip()}")
    result = parse_wrk(process.stdout)
    result["wrk_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def measure(server, process, port, model, clients, args, scripts):
    if args.warmup > 0:
        warmup = run_wrk(port, model, clients, args.warmup, scripts)
        # Requests the warm-up left queued (its connections closed with answers pending) are
        # still served after it ends: wait about as long as its slowest request took, so
        # the measured run does not start behind a stale backlog.
        time.sleep(min(DRAIN_MAX_S, (warmup["max_ms"] or 0) / 1000) + 0.2)
    kiln = server in KILN_SERVERS
    server_before = session_cpu_ticks(process.pid)
    model_before = model_thread_ticks(process.pid) if kiln else 0
    batches_before = batch_counters(port, model) if kiln else (0, 0)
    busy_before = machine_busy_ticks()
    started = time.monotonic()
    result = run_wrk(port, model, clients, args.duration, scripts)
    elapsed = time.monotonic() - started
    busy = machine_busy_ticks() - busy_before
    server_ticks = session_cpu_ticks(process.pid) - server_before
    requests = result["requests"] or None
    result["server_cpu_s"] = server_ticks / CLK_TCK
    result["server_cpu_us_per_req"] = server_ticks / CLK_TCK * 1e6 / requests if requests else None
    result["wrk_cpu_share"] = result["wrk_cpu_s"] / elapsed
    result["others_cores"] = max(0.0, busy / CLK_TCK - result["server_cpu_s"] - result["wrk_cpu_s"]) / elapsed
    result["load"] = load_average()
    if kiln:
        model_ticks = model_thread_ticks(process.pid) - model_before
        batch_sum, batch_count = batch_counters(port, model)
        items = batch_sum - batches_before[0]
        count = batch_count - batches_before[1]
        result["model_cpu_s"] = model_ticks / CLK_TCK
        result["mean_batch"] = items / count if count else None
        rest = server_ticks - model_ticks
        result["overhead_per_model_cpu"] = rest / model_ticks if model_ticks else None
    return result


# ---------------------------------------------------------------- report


def median_of(runs, key):
    return spread([r.get(key) for r in runs])[0]


def ratio(results, model, clients, numerator, denominator):
    """The median of per-round ratios of req/s (rounds paired by index)."""
    a = results.get((model, clients, numerator), [])
    b = results.get((model, clients, denominator), [])
    return spread([x["rps"] / y["rps"] for x, y in zip(a, b) if y["rps"]])[0]


def better_peer(results, model, clients):
    peers = [p for p in PEER_SCRIPTS if results.get((model, clients, p))]
    if not peers:
        return None
    return max(peers, key=lambda p: median_of(results[(model, clients, p)], "rps") or 0)


def figures_table(results, args, model):
    lines = [
        "| server | clients | req/s (median) | min-max | p50 ms | p99 ms | errors | server CPU µs/req "
        "| mean batch | kiln: rest of server CPU per model CPU | wrk CPU (share of a core) | others' CPU (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in args.clients:
        for server in args.servers:
            runs = results.get((model, clients, server), [])
            if not runs:
                continue
            rps, lo, hi = spread([r["rps"] for r in runs])
            errors = sum(r["non2xx"] + r["socket_errors"] for r in runs)
            overhead = median_of(runs, "overhead_per_model_cpu")
            lines.append(
                f"| {server} | {clients} | {fmt(rps)} | {fmt(lo)}-{fmt(hi)} | {fmt(median_of(runs, 'p50_ms'), 2)} "
                f"| {fmt(median_of(runs, 'p99_ms'), 2)} | {errors} | {fmt(median_of(runs, 'server_cpu_us_per_req'), 1)} "
                f"| {fmt(median_of(runs, 'mean_batch'), 1)} | {fmt(overhead * 100 if overhead is not None else None, 0)}"
                f"{'%' if overhead is not None else ''} | {fmt(median_of(runs, 'wrk_cpu_share'), 2)} "
                f"| {fmt(median_of(runs, 'others_cores'), 2)} |")
    return lines


def ratio_table(results, args, model):
    lines = ["| clients | kiln-batching / fastapi | kiln-batching / aiohttp | kiln-no-batching / fastapi "
             "| kiln-no-batching / aiohttp | kiln-batching / kiln-no-batching |",
             "|---:|---:|---:|---:|---:|---:|"]
    for clients in args.clients:
        cells = [ratio(results, model, clients, a, b) for a, b in (
            ("kiln-batching", "fastapi"), ("kiln-batching", "aiohttp"), ("kiln-no-batching", "fastapi"),
            ("kiln-no-batching", "aiohttp"), ("kiln-batching", "kiln-no-batching"))]
        lines.append(f"| {clients} | " + " | ".join(fmt(c, 2) for c in cells) + " |")
    return lines


def ort_ratio_table(results, args, model):
    """kiln on onnxruntime against the peers (the same library) and against kiln on tract."""
    lines = ["| clients | kiln-ort / fastapi | kiln-ort / aiohttp | kiln-ort / kiln-batching (tract) |",
             "|---:|---:|---:|---:|"]
    for clients in args.clients:
        cells = [ratio(results, model, clients, ORT_SERVER, b) for b in ("fastapi", "aiohttp", "kiln-batching")]
        lines.append(f"| {clients} | " + " | ".join(fmt(c, 2) for c in cells) + " |")
    return lines


def ceiling_lines(kiln, ort, configs):
    lines = ["| model | engine | batch | median µs per call | items/s (one thread) |", "|---|---|---:|---:|---:|"]
    engines = [("tract (kiln)", kiln.get("tract", {}))]
    if "onnxruntime" in kiln:
        engines.append(("onnxruntime in kiln (ort, Rust)", kiln["onnxruntime"]))
    engines.append(("onnxruntime (peers, Python)", ort))
    for model in MODELS:
        for engine, times in engines:
            for (name, batch), us in sorted(times.items()):
                if name == model:
                    lines.append(f"| {model} | {engine} | {batch} | {fmt(us)} | {fmt(batch * 1e6 / us if us else None)} |")
    return lines


def aims(results, args, tract, configs):
    lines = []
    top = max(args.clients)
    for model in MODELS:
        runs = results.get((model, top, "kiln-batching"), [])
        if not runs:
            continue
        batching = configs[model]["batching"]
        one_thread, at = best_items_per_s(tract, model, batching["max_batch"])
        # Each instance is a model thread; on this machine at most one per core runs at once.
        threads = max(1, min(batching.get("instances", 1), os.cpu_count() or 1))
        ceiling = one_thread * threads if one_thread else one_thread
        rps = median_of(runs, "rps")
        p99 = median_of(runs, "p99_ms")
        objective_ms = batching["latency_objective_us"] / 1000
        overhead = median_of(runs, "overhead_per_model_cpu")
        share = rps / ceiling if ceiling and rps else None
        lines.append(
            f"- **{model}, ceiling**: kiln-batching at {top} clients served {fmt(rps)} items/s, "
            f"{fmt(share * 100 if share is not None else None, 1)}% of the model's own ceiling "
            f"({fmt(ceiling)} items/s: tract, {threads} thread(s) at one thread's best, batch {at}); p99 "
            f"{fmt(p99, 2)} ms against the configured objective of {fmt(objective_ms, 1)} ms"
            + (f" (at this rate {top} closed-loop clients wait {fmt(top / rps * 1000, 0)} ms per request on "
               f"average by Little's law, so no server's p99 can be inside it here)"
               if rps and top / rps * 1000 > objective_ms else "")
            + ". "
            + ("**Met.**" if share is not None and share >= 0.95 and p99 is not None and p99 <= objective_ms
               else "**Not met.**"))
        lines.append(
            f"- **{model}, overhead**: the rest of kiln (HTTP, JSON, tokenising, queueing, waking) used "
            f"{fmt(overhead * 100 if overhead is not None else None, 1)}% of the model threads' CPU time at {top} "
            f"clients (aim: under 5%). "
            + ("**Met.**" if overhead is not None and overhead < 0.05 else "**Not met.**"))
    for model in ("risk",):
        peer = better_peer(results, model, top)
        if peer:
            r = ratio(results, model, top, "kiln-batching", peer)
            lines.append(
                f"- **{model}, against Python**: kiln-batching / {peer} (the better Python peer) at {top} "
                f"clients: {fmt(r, 2)}x (aim: at least 3x). " + ("**Met.**" if r is not None and r >= 3 else "**Not met.**"))
    for model in MODELS:
        peer = better_peer(results, model, top)
        if peer and results.get((model, top, ORT_SERVER)):
            lines.append(
                f"- {model}, kiln on onnxruntime (no aim, the same library as the peers): kiln-ort / {peer} at "
                f"{top} clients {fmt(ratio(results, model, top, ORT_SERVER, peer), 2)}x; kiln-ort / kiln-batching "
                f"(tract) {fmt(ratio(results, model, top, ORT_SERVER, 'kiln-batching'), 2)}x.")
    return lines


def busy_processes():
    """Other processes using CPU right now (ps), for the report's load note."""
    output = subprocess.run(["ps", "-eo", "pcpu,ni,comm", "--sort=-pcpu", "--no-headers"],
                            capture_output=True, text=True, timeout=30).stdout
    rows = [line.split(None, 2) for line in output.splitlines()]
    return ", ".join(f"{r[2]} (nice {r[1]}, {r[0]}%)" for r in rows[:8] if len(r) == 3 and float(r[0]) >= 10)


# ---------------------------------------------------------------- main

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 1 s warm-up, 3 s runs")
    parser.add_argument("--servers", help="comma-separated, from: " + ",".join(SERVERS + [ORT_SERVER])
                        + f" (default: all; {ORT_SERVER} only with --ort)")
    parser.add_argument("--ort", action="store_true",
                        help="also kiln on ONNX Runtime: build with --features ort, add the kiln-ort server "
                             "and onnxruntime's ceiling inside kiln (the venv's libonnxruntime.so)")
    parser.add_argument("--clients", default="1,16,64", help="comma-separated client (connection) counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each measured run")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--kiln-workers", type=int, default=1,
                        help="kiln's I/O worker threads (the model thread is extra)")
    parser.add_argument("--peer-workers", type=int, default=os.cpu_count(), help="processes per Python peer")
    parser.add_argument("--ort-threads", type=int, default=1, help="onnxruntime intra-op threads per peer process")
    parser.add_argument("--bench-iterations", type=int, default=30, help="calls per case for the model ceilings")
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path.home() / ".cache" / "kiln-bench-venv")
    parser.add_argument("--no-build", action="store_true", help="use the inference binary already built")
    parser.add_argument("--out", type=pathlib.Path, help="markdown report (default: benches/inference/out/<time>.md)")
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.duration, args.rounds = 1, 3, 1
    known = SERVERS + [ORT_SERVER] if args.ort else SERVERS
    args.servers = [s for s in (args.servers or ",".join(known)).split(",") if s]
    args.clients = [int(c) for c in args.clients.split(",") if c]
    if [s for s in args.servers if s not in known]:
        parser.error(f"unknown server in {args.servers}" + ("" if args.ort else f" ({ORT_SERVER} needs --ort)"))
    if not 1 <= args.rounds <= 10 or not 1 <= args.duration <= 60 or not 0 <= args.warmup <= 30:
        parser.error("rounds must be 1-10, duration 1-60 s, warm-up 0-30 s")
    if not all(1 <= c <= 1024 for c in args.clients):
        parser.error("clients must be 1-1024")
    return args


def main():
    args = parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    command_line = "python3 " + " ".join([str(pathlib.Path(sys.argv[0]))] + sys.argv[1:])
    if not args.no_build:
        build(args.ort)
    ensure_wrk()
    python = ensure_venv(args.venv)
    versions = venv_versions(python)
    args.ort_library = ort_library(python) if args.ort else None
    results, problems, failure = {}, [], None
    kiln, ort, configs = {}, {}, {}
    load_start, busy_start = load_average(), busy_processes()
    with tempfile.TemporaryDirectory(prefix="kiln-inference-bench-") as temporary:
        temporary = pathlib.Path(temporary)
        try:
            registries, configs = make_registries(temporary)
            scripts = {model: wrk_script(temporary, model) for model in MODELS}
            log("ceilings: inference bench (tract" + (" and onnxruntime" if args.ort else "")
                + ") and ort_ceiling.py (onnxruntime from Python)")
            kiln = kiln_ceiling(registries["batching"], args)
            ort = ort_ceiling(python, registries["batching"], args.bench_iterations, args.ort_threads)
            problems = check_outputs(args, registries, python)
            for problem in problems:
                log(f"OUTPUT MISMATCH: {problem}")
            for round_index in range(args.rounds):
                for model in MODELS:
                    for server in args.servers:
                        process, port = start_server(server, args, registries, python)
                        try:
                            for clients in args.clients:
                                result = measure(server, process, port, model, clients, args, scripts)
                                results.setdefault((model, clients, server), []).append(result)
                                log(f"round {round_index + 1}/{args.rounds} {model} {server} c{clients}: "
                                    f"{result['rps']:,.0f} req/s, p50 {fmt(result['p50_ms'], 2)} ms, "
                                    f"p99 {fmt(result['p99_ms'], 2)} ms, errors "
                                    f"{result['non2xx'] + result['socket_errors']}, "
                                    f"batch {fmt(result.get('mean_batch'), 1)}, wrk CPU {result['wrk_cpu_share']:.2f}, "
                                    f"others {result['others_cores']:.2f} cores, load {result['load']}")
                        finally:
                            stop_server(process)
        except Exception as error:  # report what was measured, then fail
            failure = f"{type(error).__name__}: {error}"
            log(f"RUN FAILED: {failure}")
        finally:
            stop_all()
    report = render(args, started, command_line, versions, load_start, busy_start, results,
                    problems, failure, kiln, ort, configs)
    print(report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = args.out or OUT_DIR / f"{started:%Y%m%d-%H%M%S}.md"
    out.write_text(report + "\n")
    raw = {f"{m}|{c}|{s}": runs for (m, c, s), runs in results.items()}
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    log(f"report: {out} (raw rounds: {out.with_suffix('.json')})")
    return 1 if problems or failure else 0


def render(args, started, command_line, versions, load_start, busy_start, results, problems, failure,
           kiln, ort, configs):
    report = [
        f"# Inference benchmark {started:%Y-%m-%d %H:%M} UTC\n",
        f"Command: `{command_line}`  ",
        f"Machine: {os.cpu_count()} vCPU, everything on one box (servers, wrk and anything else running), "
        "nothing pinned: client and server share the cores; each server and each wrk run in its own "
        "session with autogroup nice -20.  ",
        f"Rounds {args.rounds} (interleaved across servers, a fresh server per round and model), warm-up "
        f"{args.warmup} s, runs {args.duration} s, wrk -t1 with {', '.join(map(str, args.clients))} keep-alive "
        "connections; medians of the rounds.  ",
        f"kiln: `inference serve --workers {args.kiln_workers}` (plus the model threads: `instances` "
        + ", ".join(f"{m} {configs.get(m, {}).get('batching', {}).get('instances', 1)}" for m in MODELS)
        + f"). Peers: {args.peer_workers} processes each, onnxruntime with "
        f"{args.ort_threads} intra-op thread(s) per process, handlers calling the model inline.  ",
        (f"kiln-ort: kiln-batching's registry served with `--engine onnxruntime --ort-threads {args.ort_threads}` "
         f"on {args.ort_library}.  " if args.ort else ""),
        f"Python side: {versions}.  ",
        f"Load average at start {load_start}, at end {load_average()}. "
        f"Busy processes at start: {busy_start or 'none above 10%'}.\n",
    ]
    if failure:
        report.append(f"**The run failed: {failure}** (the tables hold what was measured before)\n")
    if problems:
        report.append("Output mismatches:\n" + "\n".join(f"- {p}" for p in problems) + "\n")
    report.append("## The models called directly (the ceilings)\n")
    report += ceiling_lines(kiln, ort, configs)
    report.append("")
    for model in MODELS:
        batching = configs.get(model, {}).get("batching", {})
        report.append(f"## {model}\n")
        report.append(f"Request: `POST {REQUESTS[model][0]}` with one {'row' if model == 'risk' else '16-token text'}. "
                      f"kiln-batching: max_batch {batching.get('max_batch')}, max_queue_delay_us "
                      f"{batching.get('max_queue_delay_us')}, adaptive {batching.get('adaptive')}, "
                      f"latency_objective_us {batching.get('latency_objective_us')}; kiln-no-batching: max_batch 1, "
                      "adaptive off.\n")
        report += figures_table(results, args, model)
        report.append("")
        report.append("Ratios of req/s (median of per-round ratios):\n")
        report += ratio_table(results, args, model)
        report.append("")
        if ORT_SERVER in args.servers:
            report += ort_ratio_table(results, args, model)
            report.append("")
    report.append("## Aims\n")
    report += aims(results, args, kiln.get("tract", {}), configs)
    return "\n".join(report)


def _exit_on_signal(signum, _frame):
    # SIGTERM/SIGHUP end the run through `finally`, so every process started is stopped too.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    try:
        sys.exit(main())
    finally:
        stop_all()
