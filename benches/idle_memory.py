#!/usr/bin/env python3
"""Idle keep-alive memory: RSS a server adds per idle connection.

Starts the server command given after `--` (it must listen on --addr), measures its RSS, opens
N keep-alive connections that each complete one request, waits until they are idle, measures
RSS again and prints the difference per connection. Only talks to 127.0.0.1; bounded in count
and time.

    python3 benches/idle_memory.py --connections 10000 --port 18090 -- \
        target/release/hello --addr 127.0.0.1:18090 --workers 1
"""
import argparse
import selectors
import socket
import subprocess
import sys
import time

from benchlib import raise_fd_limit, rss_kib, server_command, stop, wait_for_port


def open_idle(port, count, path, timeout_s=120.0):
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    selector = selectors.DefaultSelector()
    sockets = []
    pending = 0
    deadline = time.monotonic() + timeout_s
    batch = 200
    while len(sockets) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("timed out opening connections")
        for _ in range(min(batch, count - len(sockets))):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setblocking(False)
            sock.sendall(request)
            sockets.append(sock)
            selector.register(sock, selectors.EVENT_READ)
            pending += 1
        while pending > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for responses")
            for key, _ in selector.select(timeout=1.0):
                data = key.fileobj.recv(65536)
                if not data:
                    raise RuntimeError("server closed a connection")
                if b"\r\n\r\n" in data:
                    selector.unregister(key.fileobj)
                    pending -= 1
    return sockets


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/plaintext")
    parser.add_argument("--warmup", type=int, default=1000, help="connections opened and closed before the baseline")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to wait before measuring")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = server_command(args.command)
    if not command:
        parser.error("give the server command after --")
    raise_fd_limit(args.connections + 1024)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(args.port)
        # Warm-up: bounded per-worker pools (receive-buffer ring, output buffers) fill up
        # under the first load; close these so the baseline holds them and the difference
        # is what each idle connection costs.
        for sock in open_idle(args.port, args.warmup, args.path):
            sock.close()
        warm = open_idle(args.port, 10, args.path)
        time.sleep(args.settle)
        before = rss_kib(server.pid)
        sockets = open_idle(args.port, args.connections, args.path)
        time.sleep(args.settle)
        after = rss_kib(server.pid)
        per_connection = (after - before) * 1024 / args.connections
        print(f"server: {' '.join(command)}")
        print(f"connections: {args.connections}")
        print(f"rss_before_kib: {before}")
        print(f"rss_after_kib: {after}")
        print(f"bytes_per_idle_connection: {per_connection:.0f}")
        for sock in sockets + warm:
            sock.close()
    finally:
        stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
