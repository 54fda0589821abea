"""Helpers shared by the benchmark scripts in benches/: reading a server's memory and fds,
waiting for its port, raising the fd limit, and starting/stopping a server command.
Only 127.0.0.1 is ever contacted."""
import os
import resource
import socket
import subprocess
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
