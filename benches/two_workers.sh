#!/usr/bin/env bash
# Two builds of kiln-bench-server side by side with 2 workers on both cores (unpinned; the
# load-test harness pins the server to one core, so it cannot show cross-core effects):
# plaintext and the htmx fragment, wrk -t2 -c64, 2 s warm-up then 8 s, ROUNDS interleaved
# rounds. Only 127.0.0.1; every run is bounded in time; each server is killed after its run.
#
#   bash benches/two_workers.sh BEFORE_BINARY AFTER_BINARY [ROUNDS]
set -u
before=$1 after=$2 rounds=${3:-3}
port=18311
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
run() { # binary path [wrk header args...]
    local bin=$1 path=$2; shift 2
    "$bin" --addr 127.0.0.1:$port --workers 2 >/dev/null 2>&1 &
    local pid=$!
    sleep 0.5
    wrk -t2 -c64 -d2s "$@" "http://127.0.0.1:$port$path" >/dev/null 2>&1
    local out; out=$(wrk -t2 -c64 -d8s --latency "$@" "http://127.0.0.1:$port$path" 2>&1)
    kill $pid; wait $pid 2>/dev/null
    echo "$out" | awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} END {printf "%s req/s, p99 %s", rps, p99}'
}
for round in $(seq "$rounds"); do
    for test in plaintext fragment; do
        if [ $test = plaintext ]; then path=/plaintext; headers=(); else
            path=/fragment; headers=(-H "HX-Request: true" -H "HX-Target: rows"); fi
        echo "round $round $test before: $(run "$before" $path "${headers[@]}")"
        echo "round $round $test after:  $(run "$after" $path "${headers[@]}")"
    done
done
