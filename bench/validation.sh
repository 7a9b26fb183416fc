#!/usr/bin/env bash
# Validation load benchmark: the same POST route with a 1 KB JSON body, proxied by
# Portcullis to the nginx upstream, once validated against a 10-property model and once not.
#
# Usage: bash bench/validation.sh   (PORTCULLIS_BIN to use a built binary; BENCH_DURATION,
#                                    BENCH_RUNS)
#
# Servers on CPU 0, wrk on CPU 1, 32 connections, BENCH_RUNS (default 3) alternating runs of
# BENCH_DURATION (default 10s) per route, all traffic on 127.0.0.1. Prints a markdown table
# and writes it to bench/out/validation.md.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT_DIR="$BENCH_DIR/out"
DURATION="${BENCH_DURATION:-10s}"
RUNS="${BENCH_RUNS:-3}"
mkdir -p "$OUT_DIR"

need=()
for tool in wrk nginx taskset curl; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if (( ${#need[@]} )); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx curl >/dev/null
fi
BIN=$(portcullis_bin)
scratch

mkdir -p "$TMP/upstream/logs" "$TMP/upstream/tmp"
user_directive=$([ "$(id -u)" = 0 ] && echo 'user root;' || true)
sed -e "s|@USER_DIRECTIVE@|$user_directive|" -e "s|@PREFIX@|$TMP/upstream|g" -e "s|@PORT@|18081|" \
  "$BENCH_DIR/nginx-upstream.conf.in" > "$TMP/upstream/nginx.conf"
taskset -c 0 nginx -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" & PIDS+=($!)

RUST_LOG=warn taskset -c 0 "$BIN" serve --no-watch --config "$BENCH_DIR/validation.yaml" & PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:19090/readyz && break; sleep 0.1; done

# Both routes must take the benchmark's body, and the validated one refuse a bad one.
for path in validated plain; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    --data '{"id":"ord-000042","customer":"A","email":"a@b","items":[],"total":1,"currency":"EUR","status":"paid","created":1,"notes":"","priority":true}' \
    "127.0.0.1:18083/$path")
  [ "$code" = 200 ] || die "/$path answered $code to a valid order"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' --data '{"id":"x"}' 127.0.0.1:18083/validated)
[ "$code" = 400 ] || die "/validated answered $code to an invalid order"

wrk_run() { taskset -c 1 wrk --latency -t1 -c32 -d"$DURATION" -s "$BENCH_DIR/post_order.lua" "$@" 2>&1; }
declare -a plain=() validated=()
for _ in $(seq "$RUNS"); do
  out=$(wrk_run http://127.0.0.1:18083/plain); plain+=("$(echo "$out" | rps)")
  [ -z "$(echo "$out" | non2xx)" ] || die "non-2xx answers on /plain: $out"
  out=$(wrk_run http://127.0.0.1:18083/validated); validated+=("$(echo "$out" | rps)")
  [ -z "$(echo "$out" | non2xx)" ] || die "non-2xx answers on /validated: $out"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "${plain[@]}"); v=$(median "${validated[@]}")
{
  echo "| route (POST, 1 KB JSON body) | req/s, median of $RUNS | runs |"
  echo "|---|---:|---|"
  echo "| /plain (no validation) | $p | ${plain[*]} |"
  echo "| /validated (10-property model) | $v | ${validated[*]} |"
  echo
  awk -v p="$p" -v v="$v" 'BEGIN { printf "Validated / plain: %.3f (target: at least 0.90)\n", v / p }'
  echo
  echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), $(date -u '+%F %T UTC'); servers on CPU 0, wrk on CPU 1, 32 connections, $DURATION per run, runs alternating."
} | tee "$OUT_DIR/validation.md"
