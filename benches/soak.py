#!/usr/bin/env python3
"""Soak: a long mixed load against a server, sampling its memory and open fds.

Load (all on 127.0.0.1, all bounded by --seconds):
  * wrk keep-alive plaintext (50 connections) and wrk pipelined plaintext (50 connections, 16 deep)
  * a thread sending chunked request bodies in pieces on fresh connections
  * a thread that disconnects rudely: mid-head, and right after a request without reading
    (RST via SO_LINGER 0)
Every --sample seconds the server's RSS and fd count are recorded. The report shows start,
middle and end, and whether memory stayed flat (end within 10% of the 1-minute mark, after
warm-up) and fds returned to their starting count once the load stopped.

    python3 benches/soak.py --seconds 600 --port 18097 -- \\
        target/release/hello --addr 127.0.0.1:18097 --workers 1
"""
import argparse
import socket
import struct
import subprocess
import sys
import threading
import time

from benchlib import fd_count, rss_kib, server_command, stop as stop_process, wait_for_port


def chunked_loop(port, stop, counts):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"POST /plaintext HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n")
                for piece in (b"5\r\nhello\r\n", b"6\r\n world\r\n", b"0\r\n\r\n"):
                    sock.sendall(piece)
                data = sock.recv(4096)
                counts["chunked"] += 1 if data.startswith(b"HTTP/1.1 ") else 0
        except OSError:
            counts["chunked_errors"] += 1


def rude_loop(port, stop, counts):
    linger = struct.pack("ii", 1, 0)
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /plaintext HTTP/1.1\r\nHo")
            sock.close()
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            sock.sendall(b"GET /plaintext HTTP/1.1\r\nHost: soak\r\n\r\n")
            sock.close()
            counts["rude"] += 2
        except OSError:
            counts["rude_errors"] += 1
        time.sleep(0.002)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pipeline-lua", default="benches/wrk/pipeline.lua")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = server_command(args.command)
    if not command:
        parser.error("give the server command after --")
    url = f"http://127.0.0.1:{args.port}/plaintext"
    server = subprocess.Popen(["taskset", "-c", "0", *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load = []
    stop = threading.Event()
    counts = {"chunked": 0, "chunked_errors": 0, "rude": 0, "rude_errors": 0}
    samples = []
    try:
        wait_for_port(args.port)
        time.sleep(0.5)
        start_rss, start_fds = rss_kib(server.pid), fd_count(server.pid)
        duration = f"{args.seconds}s"
        load.append(subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c50", "-d", duration, url],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        load.append(subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c50", "-d", duration, "-s", args.pipeline_lua, url, "--", "16"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        threads = [threading.Thread(target=chunked_loop, args=(args.port, stop, counts), daemon=True),
                   threading.Thread(target=rude_loop, args=(args.port, stop, counts), daemon=True)]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        while time.monotonic() - began < args.seconds:
            time.sleep(args.sample)
            samples.append((round(time.monotonic() - began), rss_kib(server.pid), fd_count(server.pid)))
            print(f"t={samples[-1][0]:>4}s rss={samples[-1][1]} KiB fds={samples[-1][2]}", flush=True)
        stop.set()
        outputs = [process.communicate(timeout=args.seconds + 30)[0] for process in load]
        for thread in threads:
            thread.join(timeout=10)
        time.sleep(3)
        end_rss, end_fds = rss_kib(server.pid), fd_count(server.pid)
        minute = next((s for s in samples if s[0] >= 60), samples[0])
        peak = max(s[1] for s in samples)
        print()
        print(f"server: {' '.join(command)}")
        print(f"duration_s: {args.seconds}")
        for name, output in zip(("keep-alive", "pipelined"), outputs):
            requests = next((line.split()[0] for line in output.splitlines() if "requests in" in line), "?")
            errors = next((line.strip() for line in output.splitlines() if "Socket errors" in line or "Non-2xx" in line), "none")
            print(f"wrk {name}: requests={requests} errors: {errors}")
        print(f"chunked bodies: {counts['chunked']} (errors {counts['chunked_errors']}); rude disconnects: {counts['rude']} (errors {counts['rude_errors']})")
        print(f"rss_kib: start={start_rss} at_1min={minute[1]} peak={peak} end_under_load={samples[-1][1]} idle_after={end_rss}")
        print(f"fds: start={start_fds} peak={max(s[2] for s in samples)} idle_after={end_fds}")
        flat = samples[-1][1] <= minute[1] * 1.10
        print(f"memory_flat: {flat} (end under load within 10% of the 1-minute mark)")
        print(f"fds_returned: {end_fds <= start_fds}")
        return 0 if flat and end_fds <= start_fds else 1
    finally:
        stop.set()
        for process in load:
            if process.poll() is None:
                process.kill()
        stop_process(server)


if __name__ == "__main__":
    sys.exit(main())
