#!/usr/bin/env python3
"""Load tests: kiln-bench-server against peer servers, side by side, with wrk on 127.0.0.1.

One command builds every server in release mode (the same profile for all: fat LTO, one
codegen unit, panic=abort), installs wrk with apt if it is missing, checks that every server
gives the same bodies for every endpoint, then measures:

  plaintext, plaintext pipelined 16 deep, json, fortunes, fragment (htmx partial requests),
  and idle memory (RSS added per idle keep-alive connection, via benches/idle_memory.py).

Method: each server runs pinned to core 0 (taskset), wrk to core 1, each started in a new
session (setsid) whose autogroup gets nice -20. Every measurement restarts the server, warms it
up, then runs wrk once; rounds are interleaved across servers (A B C A B C ...) and the median
of the rounds is reported with its min-max spread, p99 latency (not for pipelining: wrk's
histogram is empty there), errors (non-2xx responses and socket errors), the server's CPU time
per request (utime+stime from /proc/PID/stat over the run, divided by requests) and its
run-queue wait (/proc/PID/task/*/schedstat field 2 over the run; a large value means a
neighbour took the server's core). Ratios are kiln/peer: the median of per-round ratios.

    python3 benches/loadtest/run.py            # full run (about 20 minutes)
    python3 benches/loadtest/run.py --quick    # smoke run (about 2 minutes after the build)

Only 127.0.0.1 is used. Every loop is bounded in count and time; every server started is
killed at the end, also on error. This script measures; it does not judge (see
benches/results/ for readings).
"""
import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import resource
import signal
import socket
import subprocess
import sys
import time
import http.client

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benches"))
from benchlib import (  # noqa: E402  (after the path it lives on)
    Sessions, ensure_wrk, fmt, load_average, log, parse_wrk, spread,
)
PEERS_DIR = ROOT / "benches" / "loadtest" / "peers"
PEERS_TARGET = PEERS_DIR / "target"
OUT_DIR = ROOT / "benches" / "loadtest" / "out"
SERVER_CORE = "0"
WRK_CORE = "1"
PORT_BASE = 18100
PORT_SPAN = 800
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
# SIGTERM, then SIGKILL after this long (ntex keeps running for longer than 10 s on SIGTERM).
TERM_GRACE_S = 3.0
_sessions = Sessions(TERM_GRACE_S, STOP_TIMEOUT_S)  # servers started and not yet stopped
BUILD_TIMEOUT_S = 3600
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The same release settings for every server, kiln included.
PROFILE_FLAGS = [
    "--config", 'profile.release.lto="fat"',
    "--config", "profile.release.codegen-units=1",
    "--config", 'profile.release.panic="abort"',
    "--config", 'profile.release.debug="line-tables-only"',
]

PEERS = ["axum", "actix", "hyper", "may-minihttp", "ntex", "monoio"]
# kiln twice: on io_uring (the default) and on its epoll fallback (KILN_BACKEND=epoll), so
# both backends are reported side by side; the kiln/peer ratios use the io_uring run.
KILN_BACKENDS = {"kiln": "uring", "kiln-epoll": "epoll"}
ALL_SERVERS = list(KILN_BACKENDS) + PEERS

HTMX_PARTIAL_HEADERS = {"HX-Request": "true", "HX-Target": "rows"}

# name -> (path, pipeline depth, extra headers, report p99)
TESTS = {
    "plaintext": ("/plaintext", 1, {}, True),
    "pipelined": ("/plaintext", 16, {}, False),
    "json": ("/json", 1, {}, True),
    "fortunes": ("/fortunes", 1, {}, True),
    "fragment": ("/fragment", 1, HTMX_PARTIAL_HEADERS, True),
}
ALL_TESTS = list(TESTS) + ["idle"]

_port_counter = 0


def next_port():
    global _port_counter
    _port_counter += 1
    return PORT_BASE + _port_counter % PORT_SPAN


def kiln_target_dir():
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def binary(server):
    if server in KILN_BACKENDS:
        return kiln_target_dir() / "release" / "kiln-bench-server"
    return PEERS_TARGET / "release" / f"peer-{server}"


def build(servers):
    peers = [s for s in servers if s not in KILN_BACKENDS]
    if peers:
        env = dict(os.environ, CARGO_TARGET_DIR=str(PEERS_TARGET))
        command = ["cargo", "build", "--release", *PROFILE_FLAGS]
        for peer in peers:
            command += ["-p", f"peer-{peer}"]
        log("build: " + " ".join(command) + f"  (in {PEERS_DIR})")
        subprocess.run(command, cwd=PEERS_DIR, env=env, check=True, timeout=BUILD_TIMEOUT_S)
    if any(s in KILN_BACKENDS for s in servers):
        command = ["cargo", "build", "--release", "-p", "kiln-bench-server", *PROFILE_FLAGS]
        log("build: " + " ".join(command))
        subprocess.run(command, cwd=ROOT, check=True, timeout=BUILD_TIMEOUT_S)


def pinned_session_command(core, command):
    """Runs `command` pinned to `core` in a new session whose autogroup gets nice -20 (the
    caller starts it with start_new_session=True; exec keeps the pid)."""
    quoted = " ".join("'" + part.replace("'", "'\\''") + "'" for part in command)
    return ["sh", "-c", f"echo -20 > /proc/self/autogroup 2>/dev/null; exec taskset -c {core} {quoted}"]


def wait_for_port(port, process, timeout_s=START_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout_s} s")


def start_server(server, workers):
    port = next_port()
    command = [str(binary(server)), "--addr", f"127.0.0.1:{port}", "--workers", str(workers)]
    env = dict(os.environ, RUST_LOG="warn")
    env.pop("KILN_BACKEND", None)
    if server in KILN_BACKENDS:
        env["KILN_BACKEND"] = KILN_BACKENDS[server]
    process = subprocess.Popen(
        pinned_session_command(SERVER_CORE, command),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=env)
    return _sessions.started(process, lambda: wait_for_port(port, process)), port


def stop_server(process):
    _sessions.stop(process)


def stop_all():
    _sessions.stop_all()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return int(fields[11]) + int(fields[12])


def runqueue_wait_ns(pid):
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass  # a thread that ended meanwhile
    return total


def http_get(port, path, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def check_outputs(servers, workers):
    """Every server must answer every endpoint with status 200, Server and Date headers, and
    the same body as kiln (the reference). Returns a list of problems (empty when all agree)."""
    requests = [
        ("/plaintext", {}), ("/json", {}), ("/fortunes", {}),
        ("/fragment", {}), ("/fragment", HTMX_PARTIAL_HEADERS),
    ]
    bodies = {}
    problems = []
    for server in servers:
        process, port = start_server(server, workers)
        try:
            for path, headers in requests:
                status, head, body = http_get(port, path, headers)
                key = (path, tuple(headers))
                label = f"{server} {path}{' (htmx partial)' if headers else ''}"
                if status != 200:
                    problems.append(f"{label}: status {status}")
                for name in ("server", "date"):
                    if name not in head:
                        problems.append(f"{label}: no {name} header")
                if path == "/fragment" and "hx-request" not in head.get("vary", "").lower():
                    problems.append(f"{label}: no Vary: HX-Request")
                reference = bodies.setdefault(key, body)
                if body != reference:
                    problems.append(f"{label}: body differs from {servers[0]}'s "
                                    f"({len(body)} vs {len(reference)} bytes)")
        finally:
            stop_server(process)
    return problems


def wrk_command(port, test, seconds, args):
    path, depth, headers, _ = TESTS[test]
    connections = args.pipeline_connections if depth > 1 else args.connections
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if depth > 1:
        command += ["-s", str(ROOT / "benches" / "wrk" / "pipeline.lua")]
    command.append(f"http://127.0.0.1:{port}{path}")
    if depth > 1:
        command += ["--", str(depth)]
    return command


def run_wrk(command, seconds):
    process = subprocess.run(
        pinned_session_command(WRK_CORE, command), capture_output=True, text=True,
        timeout=seconds + 30, start_new_session=True)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {process.stdout.strip()} {process.stderr.strip()}")
    return process.stdout


def measure(server, test, args):
    process, port = start_server(server, args.workers)
    try:
        if args.warmup > 0:
            run_wrk(wrk_command(port, test, args.warmup, args), args.warmup)
        ticks_before = cpu_ticks(process.pid)
        wait_before = runqueue_wait_ns(process.pid)
        output = run_wrk(wrk_command(port, test, args.duration, args), args.duration)
        ticks = cpu_ticks(process.pid) - ticks_before
        wait_ns = runqueue_wait_ns(process.pid) - wait_before
    finally:
        stop_server(process)
    result = parse_wrk(output)
    result["cpu_s"] = ticks / CLK_TCK
    result["cpu_us_per_req"] = (ticks / CLK_TCK) * 1e6 / result["requests"] if result["requests"] else None
    result["runqueue_wait_ms"] = wait_ns / 1e6
    return result


def load_idle_memory_module():
    # idle_memory.py imports its helpers from benches/benchlib.py.
    benches = str(ROOT / "benches")
    if benches not in sys.path:
        sys.path.insert(0, benches)
    spec = importlib.util.spec_from_file_location("idle_memory", ROOT / "benches" / "idle_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_idle(server, args, idle):
    """benches/idle_memory.py's method, with the server pinned and in its own session."""
    process, port = start_server(server, args.workers)
    sockets = []
    try:
        for sock in idle.open_idle(port, args.idle_warmup, "/plaintext"):
            sock.close()
        sockets += idle.open_idle(port, 10, "/plaintext")
        time.sleep(args.idle_settle)
        before = idle.rss_kib(process.pid)
        sockets += idle.open_idle(port, args.idle_connections, "/plaintext")
        time.sleep(args.idle_settle)
        after = idle.rss_kib(process.pid)
    finally:
        for sock in sockets:
            sock.close()
        stop_server(process)
    return {"rss_before_kib": before, "rss_after_kib": after,
            "bytes_per_conn": (after - before) * 1024 / args.idle_connections}


def summarise(results, servers, tests):
    """Markdown tables from the raw rounds."""
    lines = []
    for test in tests:
        if test == "idle":
            continue
        rounds = results[test]
        lines.append(f"### {test}\n")
        lines.append("| server | req/s median | min-max | p99 ms (median) | errors | CPU us/req | run-queue wait ms (max) | kiln/peer req/s | kiln/peer CPU/req |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for server in servers:
            runs = rounds.get(server, [])
            rps, lo, hi = spread([r["rps"] for r in runs])
            p99, _, _ = spread([r["p99_ms"] for r in runs]) if TESTS[test][3] else (None, 0, 0)
            cpu, _, _ = spread([r["cpu_us_per_req"] for r in runs])
            errors = sum(r["non2xx"] + r["socket_errors"] for r in runs)
            wait = max((r["runqueue_wait_ms"] for r in runs), default=None)
            rps_ratio = cpu_ratio = None
            if server != "kiln" and "kiln" in rounds:
                pairs = list(zip(rounds["kiln"], runs))
                rps_ratio, _, _ = spread([k["rps"] / p["rps"] for k, p in pairs if p["rps"]])
                cpu_ratio, _, _ = spread([k["cpu_us_per_req"] / p["cpu_us_per_req"] for k, p in pairs
                                          if k["cpu_us_per_req"] and p["cpu_us_per_req"]])
            lines.append(f"| {server} | {fmt(rps)} | {fmt(lo)}-{fmt(hi)} | {fmt(p99, 2)} | {errors} | "
                         f"{fmt(cpu, 2)} | {fmt(wait, 1)} | {fmt(rps_ratio, 2)} | {fmt(cpu_ratio, 2)} |")
        lines.append("")
    if "idle" in tests:
        lines.append("### idle keep-alive memory\n")
        lines.append("| server | bytes per idle connection | RSS before KiB | RSS after KiB |")
        lines.append("|---|---:|---:|---:|")
        for server in servers:
            r = results["idle"].get(server)
            if r:
                lines.append(f"| {server} | {fmt(r['bytes_per_conn'])} | {r['rss_before_kib']} | {r['rss_after_kib']} |")
        lines.append("")
    return "\n".join(lines)


def wait_for_quiet(threshold, timeout_s):
    """Waits (at most `timeout_s`) until the 1-minute load average drops below `threshold`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        load = float(load_average().split()[0])
        if load < threshold:
            return
        log(f"load average {load:.2f} >= {threshold}: waiting (at most {deadline - time.monotonic():.0f} s more)")
        time.sleep(15)
    log("load stayed high; measuring anyway (see the run-queue wait column)")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s warm-up, 2 s runs, 1 round, 1,000 idle connections")
    parser.add_argument("--servers", default=",".join(ALL_SERVERS), help="comma-separated, from: " + ",".join(ALL_SERVERS))
    parser.add_argument("--tests", default=",".join(ALL_TESTS), help="comma-separated, from: " + ",".join(ALL_TESTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each measured run")
    parser.add_argument("--duration", type=int, default=6, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--pipeline-connections", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1, help="server worker threads (the server has one core)")
    parser.add_argument("--idle-connections", type=int, default=10000)
    parser.add_argument("--idle-warmup", type=int, default=1000)
    parser.add_argument("--idle-settle", type=float, default=2.0)
    parser.add_argument("--wait-load", type=float, default=0.0,
                        help="before measuring, wait (at most 5 min) for the 1-min load average to drop below this")
    parser.add_argument("--no-build", action="store_true", help="use the binaries already built")
    parser.add_argument("--out", type=pathlib.Path, help="markdown report (default: benches/loadtest/out/<time>.md)")
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.duration, args.rounds = 1, 2, 1
        args.idle_connections, args.idle_warmup, args.idle_settle = 1000, 200, 1.0
    args.servers = [s for s in args.servers.split(",") if s]
    args.tests = [t for t in args.tests.split(",") if t]
    unknown = [s for s in args.servers if s not in ALL_SERVERS] + [t for t in args.tests if t not in ALL_TESTS]
    if unknown:
        parser.error(f"unknown: {unknown}")
    if not 1 <= args.rounds <= 20 or not 1 <= args.duration <= 120:
        parser.error("rounds must be 1-20 and duration 1-120 s")
    return args


def main():
    args = parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    command_line = "python3 " + " ".join([str(pathlib.Path(sys.argv[0]))] + sys.argv[1:])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.idle_connections + 4096), hard))
    if not args.no_build:
        build(args.servers)
    ensure_wrk()
    results = {test: {} for test in args.tests}
    problems = []
    failure = None
    load_start = load_average()
    try:
        problems = check_outputs(args.servers, args.workers)
        for problem in problems:
            log(f"OUTPUT MISMATCH: {problem}")
        if args.wait_load > 0:
            wait_for_quiet(args.wait_load, 300)
        load_start = load_average()
        for test in args.tests:
            if test == "idle":
                continue
            for round_index in range(args.rounds):
                for server in args.servers:
                    result = measure(server, test, args)
                    results[test].setdefault(server, []).append(result)
                    log(f"{test} round {round_index + 1}/{args.rounds} {server}: {result['rps']:,.0f} req/s, "
                        f"p99 {fmt(result['p99_ms'], 2)} ms, {fmt(result['cpu_us_per_req'], 2)} us CPU/req, "
                        f"errors {result['non2xx'] + result['socket_errors']}, "
                        f"run-queue wait {result['runqueue_wait_ms']:.1f} ms")
        if "idle" in args.tests:
            idle = load_idle_memory_module()
            for server in args.servers:
                results["idle"][server] = measure_idle(server, args, idle)
                log(f"idle {server}: {results['idle'][server]['bytes_per_conn']:,.0f} bytes per connection")
    except Exception as error:  # report what was measured, then fail
        failure = f"{type(error).__name__}: {error}"
        log(f"RUN FAILED: {failure}")
    finally:
        stop_all()
    load_end = load_average()
    report = [
        f"# Load test {started:%Y-%m-%d %H:%M} UTC\n",
        f"Command: `{command_line}`  ",
        f"Rounds {args.rounds}, warm-up {args.warmup} s, runs {args.duration} s, "
        f"{args.connections} connections ({args.pipeline_connections} pipelined), wrk -t1 on core {WRK_CORE}, "
        f"servers with {args.workers} worker(s) on core {SERVER_CORE}.  ",
        f"Load average at start {load_start}, at end {load_end}.\n",
    ]
    if failure:
        report.append(f"**The run failed: {failure}** (the tables hold what was measured before)\n")
    if problems:
        report.append("Output mismatches:\n" + "\n".join(f"- {p}" for p in problems) + "\n")
    report.append(summarise(results, args.servers, args.tests))
    text = "\n".join(report)
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = args.out or OUT_DIR / f"{started:%Y%m%d-%H%M%S}.md"
    out.write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    log(f"report: {out} (raw rounds: {out.with_suffix('.json')})")
    return 1 if problems or failure else 0


def _exit_on_signal(signum, _frame):
    # SIGTERM/SIGHUP end the run through `finally`, so the servers started are stopped too.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    try:
        sys.exit(main())
    finally:
        stop_all()
