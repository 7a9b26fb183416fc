#!/usr/bin/env bash
# Identity benchmark: logins per second, machine tokens (client_credentials) per second, JWKS
# requests per second, and proxy latency while 200 concurrent logins hammer the gateway
# (Argon2id with its default cost, m=19 MiB t=2 p=1; RS256 signing).
#
# Usage: bash bench/identity.sh        (PORTCULLIS_BIN to use a built binary; BENCH_DURATION)
#
# The gateway and the nginx upstream are pinned to CPU 0, wrk to CPU 1; all traffic stays on
# 127.0.0.1. Prints a markdown table and writes it to bench/out/identity.md.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT_DIR="$BENCH_DIR/out"
DURATION="${BENCH_DURATION:-10s}"
mkdir -p "$OUT_DIR"

for tool in wrk nginx taskset curl; do
  command -v "$tool" >/dev/null 2>&1 || { apt-get install -y -qq --no-install-recommends wrk nginx >/dev/null; break; }
done
BIN=$(portcullis_bin)
scratch

mkdir -p "$TMP/ngx/logs" "$TMP/ngx/tmp"
sed -e "s|@USER_DIRECTIVE@|$([ "$(id -u)" = 0 ] && echo 'user root;')|" -e "s|@PREFIX@|$TMP/ngx|g" -e "s|@PORT@|18081|" \
  "$BENCH_DIR/nginx-upstream.conf.in" > "$TMP/ngx/nginx.conf"
taskset -c 0 nginx -p "$TMP/ngx" -c "$TMP/ngx/nginx.conf" & PIDS+=($!)

export BENCH_IDENTITY_DB="$TMP/identity.db"
echo 'bench-password-1' | "$BIN" users add bench --password-stdin --config "$BENCH_DIR/identity.yaml" >/dev/null
secret=$("$BIN" clients add bench-m2m --secret --flow client_credentials --scope bench/read \
  --config "$BENCH_DIR/identity.yaml" | awk '/^client secret: / {print $3}')
BENCH_BASIC=$(printf 'bench-m2m:%s' "$secret" | base64 -w0)
export BENCH_BASIC
RUST_LOG=warn taskset -c 0 "$BIN" serve --no-watch --config "$BENCH_DIR/identity.yaml" & PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:19090/readyz && break; sleep 0.1; done

wrk_run() { taskset -c 1 wrk --latency "$@" 2>&1; }

login=$(wrk_run -t1 -c16 -d"$DURATION" -s "$BENCH_DIR/login.lua" http://127.0.0.1:18083/auth/login)
machine=$(wrk_run -t1 -c16 -d"$DURATION" -s "$BENCH_DIR/client_credentials.lua" http://127.0.0.1:18083/oauth2/token)
jwks=$(wrk_run -t1 -c32 -d"$DURATION" http://127.0.0.1:18083/.well-known/jwks.json)
alone=$(wrk_run -t1 -c32 -d"$DURATION" http://127.0.0.1:18083/bench/path)
wrk_run -t1 -c200 -d"$DURATION" -s "$BENCH_DIR/login.lua" http://127.0.0.1:18083/auth/login > "$TMP/flood.txt" &
sleep 1
flooded=$(wrk_run -t1 -c32 -d"$(( ${DURATION%s} - 2 ))s" http://127.0.0.1:18083/bench/path)
wait %% 2>/dev/null || sleep "${DURATION%s}"
flood=$(cat "$TMP/flood.txt")

row() { # name, wrk output
  printf '| %s | %s | %s | %s |\n' "$1" "$(echo "$2" | rps)" "$(echo "$2" | field 50% | ms)" "$(echo "$2" | field 99% | ms)"
}
{
  echo "| load | req/s | p50 ms | p99 ms |"
  echo "|---|---:|---:|---:|"
  row "logins, 16 connections" "$login"
  row "client_credentials tokens, 16 connections" "$machine"
  row "JWKS, 32 connections" "$jwks"
  row "proxy alone, 32 connections" "$alone"
  row "proxy during a 200-connection login flood" "$flooded"
  row "the login flood itself (200 connections)" "$flood"
  echo
  echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), $(date -u '+%F %T UTC'); gateway and upstream on CPU 0, wrk on CPU 1."
} | tee "$OUT_DIR/identity.md"
