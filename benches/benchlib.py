"""Helpers shared by the benchmark scripts in benches/: reading a server's memory and fds,
waiting for its port, raising the fd limit, starting/stopping a server command, installing
and reading wrk (`ensure_wrk`, `parse_wrk`), stopping a server's whole session (`stop_session`), and the median and number formats of the result
tables (`spread`, `fmt`, `load_average`).
Only 127.0.0.1 is ever contacted."""
import os
import re
import signal
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time


def rss_kib(pid):
    """Resident set size of a process, in KiB (-1 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def fd_count(pid):
    """Open file descriptors of a process."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for_port(port, timeout_s=10.0):
    """Waits until 127.0.0.1:port accepts connections."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}")


def raise_fd_limit(wanted):
    """Raises this process's soft fd limit to `wanted` (bounded by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, wanted)), hard))


def server_command(argv):
    """The command after `--` in argv (argparse REMAINDER), or an empty list."""
    return argv[1:] if argv[:1] == ["--"] else argv


def stop(process, timeout_s=10):
    """Terminates a process, killing it if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()


LATENCY_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def log(message):
    print(message, file=sys.stderr, flush=True)


def ensure_wrk():
    if shutil.which("wrk"):
        return
    log("wrk is missing: apt-get update && apt-get install -y wrk")
    subprocess.run(["apt-get", "update"], check=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, timeout=600)


def parse_wrk(output):
    result = {"requests": 0, "rps": 0.0, "p50_ms": None, "p99_ms": None, "max_ms": None,
              "non2xx": 0, "socket_errors": 0}
    match = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\s", output, re.M)
    if match:
        result["max_ms"] = float(match.group(1)) * LATENCY_UNITS[match.group(2)]
    match = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if match:
        result["requests"] = int(match.group(1))
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match:
        result["rps"] = float(match.group(1))
    for percent in ("50", "99"):
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if match:
            result[f"p{percent}_ms"] = float(match.group(1)) * LATENCY_UNITS[match.group(2)]
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if match:
        result["non2xx"] = int(match.group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if match:
        result["socket_errors"] = sum(int(g) for g in match.groups())
    return result


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None, None
    return statistics.median(values), min(values), max(values)


def fmt(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def stop_session(process, term_grace_s, kill_wait_s):
    """Ends a server started in its own session (start_new_session=True): SIGTERM to the
    session, then SIGKILL if it has not exited within `term_grace_s`; then SIGKILL to the
    session anyway, as worker processes (a peer's) may outlive their parent by a moment."""
    if process.poll() is None:
        for sig, wait_s in ((signal.SIGTERM, term_grace_s), (signal.SIGKILL, kill_wait_s)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Sessions:
    """Server processes started in their own sessions and not yet stopped: `started` waits
    until one is ready (stopping it if it never is), `stop` ends one, `stop_all` the rest
    (after a failure, or at exit)."""

    def __init__(self, term_grace_s, kill_wait_s):
        self.term_grace_s, self.kill_wait_s = term_grace_s, kill_wait_s
        self.running = []

    def started(self, process, wait_ready):
        self.running.append(process)
        try:
            wait_ready()
        except Exception:
            self.stop(process)
            raise
        return process

    def stop(self, process):
        stop_session(process, self.term_grace_s, self.kill_wait_s)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self):
        for process in list(self.running):
            try:
                self.stop(process)
            except Exception as error:  # keep stopping the others
                log(f"could not stop pid {process.pid}: {error}")
