#!/usr/bin/env python3
"""Well-behaved client latency with and without a slowloris crowd.

Starts the server, measures --requests sequential keep-alive GETs from one client (p50/p99),
then opens --crowd connections that dribble a header one byte at a time (round-robin, one
byte per connection every --dribble-ms), measures the same client again while they dribble,
and reports how many of the crowd the server cut (408 or close) once their header deadline
passed. Only 127.0.0.1; bounded in count and time.

    python3 benches/slowloris.py --port 18098 -- target/release/hello --addr 127.0.0.1:18098 --workers 1
"""
import argparse
import socket
import subprocess
import sys
import threading
import time

from benchlib import raise_fd_limit, server_command, stop as stop_process, wait_for_port


def measure(port, count):
    request = b"GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n"
    latencies = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(request)
            data = b""
            while not data.endswith(b"Hello, World!"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError("server closed the well-behaved client")
                data += chunk
            latencies.append(time.perf_counter() - started)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e6
    return pick(0.50), pick(0.99), latencies[-1] * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--crowd", type=int, default=1000)
    parser.add_argument("--dribble-ms", type=float, default=10.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = server_command(args.command)
    raise_fd_limit(args.crowd + 1024)
    server = subprocess.Popen(["taskset", "-c", "0", *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    crowd = []
    stop = threading.Event()
    try:
        wait_for_port(args.port)
        measure(args.port, 500)  # warm-up
        quiet = measure(args.port, args.requests)
        head = b"GET /plaintext HTTP/1.1\r\nHost: bench\r\nX-Slow: " + b"a" * 4096
        crowd = [socket.create_connection(("127.0.0.1", args.port), timeout=5) for _ in range(args.crowd)]

        def dribble():
            position = 0
            while not stop.is_set() and position < len(head):
                for sock in crowd:
                    try:
                        sock.send(head[position:position + 1])
                    except OSError:
                        pass
                position += 1
                time.sleep(args.dribble_ms / 1000)

        thread = threading.Thread(target=dribble, daemon=True)
        thread.start()
        time.sleep(0.5)
        loaded = measure(args.port, args.requests)
        stop.set()
        thread.join(timeout=10)
        print(f"server: {' '.join(command)}")
        print(f"well-behaved client, {args.requests} sequential keep-alive requests")
        print(f"  quiet:              p50={quiet[0]:.0f} us  p99={quiet[1]:.0f} us  max={quiet[2]:.0f} us")
        print(f"  with {args.crowd} slowloris: p50={loaded[0]:.0f} us  p99={loaded[1]:.0f} us  max={loaded[2]:.0f} us")
        print(f"  p99 ratio loaded/quiet: {loaded[1] / quiet[1]:.2f}")
        return 0
    finally:
        stop.set()
        for sock in crowd:
            sock.close()
        stop_process(server)


if __name__ == "__main__":
    sys.exit(main())
