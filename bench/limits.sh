#!/usr/bin/env bash
# Shared limits, measured: the throughput cost of a throttle that never refuses (local and
# Redis-backed, A/B against none), and the accuracy of one limit held by two gateways.
#
# Usage: bash bench/limits.sh [throughput|accuracy|all]   (default: all)
#
# Environment:
#   PORTCULLIS_BIN   the binary (default: target/release/portcullis, built if missing)
#   BENCH_ROUNDS     interleaved A/B rounds for throughput (default 3)
#   BENCH_DURATION   wrk duration per run (default 8s)
#   ACCURACY_SECONDS length of the accuracy run (default 20)
#
# Starts its own redis-server on 127.0.0.1:16379 and stops it at the end. Throughput uses
# bench/run.sh (nginx upstream, wrk) with bench/portcullis.yaml, -throttle.yaml and
# -throttle-redis.yaml. Accuracy starts two gateways (bench/limits-node.yaml on ports
# 18083 and 18084, a stage throttle of 1,000 requests a second with a burst of 1,000) and
# drives them together at 3,000 requests a second with bench/limits_accuracy.py, first
# with the limits shared through Redis, then with each gateway counting alone.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
WHAT=${1:-all}
BIN=${PORTCULLIS_BIN:-$REPO_ROOT/target/release/portcullis}
if [ ! -x "$BIN" ]; then
    (cd "$REPO_ROOT" && cargo build --release -p portcullis)
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    redis-cli -p 16379 shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
redis-server --port 16379 --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done

rps() { awk -F'|' '/^\| portcullis \(/ { gsub(/ /, "", $3); print $3 }' "$BENCH_DIR/out/results.md"; }

if [ "$WHAT" = throughput ] || [ "$WHAT" = all ]; then
    echo "| round | none (req/s) | local throttle | ratio | Redis throttle | ratio |"
    echo "|---|---:|---:|---:|---:|---:|"
    for round in $(seq "${BENCH_ROUNDS:-3}"); do
        row=()
        for cfg in portcullis.yaml portcullis-throttle.yaml portcullis-throttle-redis.yaml; do
            PORTCULLIS_BIN=$BIN BENCH_PORTCULLIS_CONFIG=$BENCH_DIR/$cfg BENCH_TARGETS=portcullis \
                BENCH_RUNS=1 BENCH_DURATION=${BENCH_DURATION:-8s} bash "$BENCH_DIR/run.sh" >/dev/null 2>&1
            row+=("$(rps)")
        done
        awk -v r="$round" -v a="${row[0]}" -v b="${row[1]}" -v c="${row[2]}" \
            'BEGIN { printf "| %s | %.0f | %.0f | %.2f | %.0f | %.2f |\n", r, a, b, b / a, c, c / a }'
    done
fi

if [ "$WHAT" = accuracy ] || [ "$WHAT" = all ]; then
    for store in redis://127.0.0.1:16379 local; do
        redis-cli -p 16379 flushall >/dev/null
        for port in 18083 18084; do
            sed -e "s|@PORT@|$port|; s|@ADMIN@|$((port + 1000))|; s|@STORE@|$store|" \
                "$BENCH_DIR/limits-node.yaml" >"$WORK/node-$port.yaml"
            taskset -c 0 "$BIN" serve --no-watch --config "$WORK/node-$port.yaml" >/dev/null 2>&1 &
            PIDS+=($!)
        done
        for port in 19083 19084; do
            for _ in $(seq 50); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
        done
        printf 'store %s: ' "$store"
        taskset -c 1 python3 "$BENCH_DIR/limits_accuracy.py" --ports 18083,18084 --rate 3000 \
            --seconds "${ACCURACY_SECONDS:-20}"
        for p in "${PIDS[@]:1}"; do kill "$p" 2>/dev/null || true; done
        PIDS=("${PIDS[0]}")
        sleep 0.5
    done
fi
