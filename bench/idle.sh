#!/usr/bin/env bash
# Memory of idle keep-alive connections: opens N connections (default 10,000) to the
# gateway, sends one request on each, keeps them open and idle, and prints the gateway's
# resident memory before and after, and per connection. All traffic is on 127.0.0.1.
#
#   bash bench/idle.sh [N]
#
# Target (issue 10): at most 100 MB RSS with 10,000 idle connections.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

N=${1:-10000}
ulimit -n $((N + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
BIN=$(portcullis_bin)
scratch
"$BIN" serve --config "$BENCH_DIR/idle.yaml" >"$TMP/gw.log" 2>&1 & PIDS+=($!)
GW=$!
for _ in $(seq 100); do
  curl -fs -o /dev/null http://127.0.0.1:18093/health && break
  sleep 0.05
done
curl -fs -o /dev/null http://127.0.0.1:18093/health || { cat "$TMP/gw.log"; die "gateway did not start"; }
log "holding $N idle connections"
python3 "$BENCH_DIR/idle_connections.py" "$GW" 127.0.0.1:18093 "$N"
