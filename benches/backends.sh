#!/usr/bin/env bash
# io_uring versus epoll in one run: pipelined plaintext (hello) and Fortunes (fortunes), server
# pinned to core 0 and wrk to core 1, rounds interleaved (uring, epoll, uring, epoll, ...).
# Prints one line per run: test, backend, req/s, server CPU µs per request.
#   bash benches/backends.sh [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-8}
port=18096
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p hello -p fortunes >/dev/null 2>&1

run() { # test backend binary path wrk-args...
    local test=$1 backend=$2 binary=$3 path=$4; shift 4
    KILN_BACKEND=$backend setsid taskset -c 0 "target/release/$binary" --addr 127.0.0.1:$port --workers 1 >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.1; done
    echo -20 > /proc/$pid/autogroup 2>/dev/null || true
    taskset -c 1 wrk -t1 -c64 -d2s "$@" >/dev/null 2>&1 || true
    local t0; t0=$(awk '{print $14+$15}' /proc/$pid/stat)
    local out; out=$(taskset -c 1 wrk -t1 -c256 -d${seconds}s "$@" 2>&1)
    local t1; t1=$(awk '{print $14+$15}' /proc/$pid/stat)
    kill $pid; wait $pid 2>/dev/null || true
    local requests rps
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    python3 -c "print(f'$test $backend rps={float($rps):.0f} cpu_us_per_req={($t1-$t0)/$(getconf CLK_TCK)*1e6/$requests:.3f}')"
}

for round in $(seq "$rounds"); do
    for backend in uring epoll; do
        run plaintext-pipelined $backend hello /plaintext -s benches/wrk/pipeline.lua "http://127.0.0.1:$port/plaintext" -- 16
        run fortunes $backend fortunes /fortunes "http://127.0.0.1:$port/fortunes"
    done
done
