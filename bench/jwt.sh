#!/usr/bin/env bash
# JWT load benchmark: Portcullis (RS256 JWT authorizer + role policies) against HAProxy 2.6
# with its built-in jwt_verify, and a plain nginx reverse proxy without any check, all in
# front of the same nginx upstream; for a valid token and for a bad-signature token.
#
# Usage: bash bench/jwt.sh        (PORTCULLIS_BIN to use a built binary; BENCH_DURATION)
#
# Servers on CPU 0, wrk on CPU 1, one run of BENCH_DURATION (default 10s) per row, 32
# connections, all traffic on 127.0.0.1. Prints a markdown table and writes it to
# bench/out/jwt.md.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT_DIR="$BENCH_DIR/out"
DURATION="${BENCH_DURATION:-10s}"
mkdir -p "$OUT_DIR"

need=()
for tool in wrk nginx haproxy taskset curl python3; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if (( ${#need[@]} )); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx haproxy python3 >/dev/null
fi
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check cryptography
BIN=$(portcullis_bin)
scratch

# Upstream and plain proxy: the same nginx configs as bench/run.sh.
for name in upstream proxy; do
  mkdir -p "$TMP/$name/logs" "$TMP/$name/tmp"
done
user_directive=$([ "$(id -u)" = 0 ] && echo 'user root;' || true)
sed -e "s|@USER_DIRECTIVE@|$user_directive|" -e "s|@PREFIX@|$TMP/upstream|g" -e "s|@PORT@|18081|" \
  "$BENCH_DIR/nginx-upstream.conf.in" > "$TMP/upstream/nginx.conf"
sed -e "s|@USER_DIRECTIVE@|$user_directive|" -e "s|@PREFIX@|$TMP/proxy|g" -e "s|@PORT@|18082|" -e "s|@UPSTREAM_PORT@|18081|" \
  "$BENCH_DIR/nginx-proxy.conf.in" > "$TMP/proxy/nginx.conf"
taskset -c 0 nginx -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" & PIDS+=($!)
taskset -c 0 nginx -p "$TMP/proxy" -c "$TMP/proxy/nginx.conf" & PIDS+=($!)

# The pool: a user in the viewers group, an access token, and its public key as PEM.
export BENCH_IDENTITY_DB="$TMP/identity.db"
CFG="$BENCH_DIR/jwt.yaml"
echo 'bench-password-1' | "$BIN" users add bench --password-stdin --config "$CFG" >/dev/null
"$BIN" groups add viewers --config "$CFG" >/dev/null
"$BIN" users add-to-group bench viewers --config "$CFG"
TOKEN=$("$BIN" token issue bench --config "$CFG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# The same token with its signature's last characters changed.
BAD="${TOKEN%????}AAAA"
[ "$BAD" != "$TOKEN" ] || BAD="${TOKEN%????}BBBB"

RUST_LOG=warn taskset -c 0 "$BIN" serve --no-watch --config "$CFG" & PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:19090/readyz && break; sleep 0.1; done
curl -s 127.0.0.1:18083/.well-known/jwks.json | python3 -c '
import json, sys, base64
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives import serialization
k = json.load(sys.stdin)["keys"][0]
b = lambda s: int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")
pub = rsa.RSAPublicNumbers(b(k["e"]), b(k["n"])).public_key()
sys.stdout.write(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
' > "$TMP/pub.pem"
sed -e "s|@PORT@|18084|" -e "s|@UPSTREAM_PORT@|18081|" -e "s|@PUBKEY@|$TMP/pub.pem|" \
  "$BENCH_DIR/haproxy-jwt.cfg.in" > "$TMP/haproxy.cfg"
taskset -c 0 haproxy -f "$TMP/haproxy.cfg" & PIDS+=($!)
sleep 0.5

# Each target must answer the valid token with 200 and the bad one with 401 before it is
# measured.
for port in 18083 18084; do
  ok=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "127.0.0.1:$port/bench/path")
  bad=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BAD" "127.0.0.1:$port/bench/path")
  if [ "$ok" != 200 ] || [ "$bad" != 401 ]; then
    echo "port $port answered $ok for the valid token and $bad for the bad one" >&2
    exit 1
  fi
done

wrk_run() { taskset -c 1 wrk --latency -t1 -c32 -d"$DURATION" "$@" 2>&1; }
row() { # name, wrk output
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$(echo "$2" | rps)" "$(echo "$2" | field 50% | ms)" "$(echo "$2" | field 99% | ms)" "$(echo "$2" | non2xx)"
}

nginx_out=$(wrk_run http://127.0.0.1:18082/bench/path)
hap_ok=$(wrk_run -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18084/bench/path)
hap_bad=$(wrk_run -H "Authorization: Bearer $BAD" http://127.0.0.1:18084/bench/path)
pc_ok=$(wrk_run -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18083/bench/path)
pc_bad=$(wrk_run -H "Authorization: Bearer $BAD" http://127.0.0.1:18083/bench/path)

{
  echo "| target | req/s | p50 ms | p99 ms | non-2xx |"
  echo "|---|---:|---:|---:|---:|"
  row "nginx plain proxy (no check)" "$nginx_out"
  row "HAProxy $(haproxy -v | awk 'NR==1 {print $3}') jwt_verify RS256, valid token" "$hap_ok"
  row "HAProxy jwt_verify RS256, bad signature" "$hap_bad"
  row "Portcullis RS256 JWT + role policies, valid token" "$pc_ok"
  row "Portcullis, bad signature" "$pc_bad"
  echo
  echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), $(date -u '+%F %T UTC'); servers on CPU 0, wrk on CPU 1, one run of $DURATION each, 32 connections."
} | tee "$OUT_DIR/jwt.md"
