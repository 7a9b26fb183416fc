#!/usr/bin/env bash
# Lambda authorizer load benchmark: Portcullis running a Python TOKEN authorizer through the
# Lambda Runtime API (awslambdaric), with its decision cache on and off, against
# serverless-offline 13 (serverless 3) running the same authorizer logic in Node.
#
# Usage: bash bench/lambda.sh [--help]
#
# Environment:
#   PORTCULLIS_BIN   use this binary instead of building target/release/portcullis
#   BENCH_DURATION   wrk duration of the one measured run per target (default 10s)
#   BENCH_WARMUP     unmeasured warm-up run per target (default 2s, 0 = none)
#   BENCH_TARGETS    space-separated subset of: portcullis-cached portcullis-uncached
#                    serverless-offline serverless-offline-inprocess (default: all four)
#
# Targets, started one at a time on CPU 0 (wrk on CPU 1), all on 127.0.0.1, all sent
# `GET /bench/path` with `Authorization: allow` by `wrk -t1 -c32 --latency`:
#   portcullis-cached    bench/lambda.yaml: result_ttl 300s, so only the first request invokes
#                        bench/lambda/token_authorizer.py; the rest are cache hits. Proxies to
#                        the nginx upstream (bench/nginx-upstream.conf.in, 127.0.0.1:18081).
#   portcullis-uncached  bench/lambda-uncached.yaml: result_ttl 0s, every request invokes the
#                        Python function (at most 2 workers). Same upstream.
#   serverless-offline   bench/serverless: `serverless offline start` with its defaults (each
#                        function in worker threads), Node TOKEN authorizer
#                        (authorizer.js) in front of an http event. serverless-offline cannot
#                        put an authorizer in front of an HTTP proxy (`resourceRoutes`, its
#                        HTTP_PROXY support, skips authorizers; `integration: http-proxy` on an
#                        http event still runs a function), so the route is served by a
#                        lambda-proxy handler (backend.js) that returns the upstream's body,
#                        "ok\n", itself: NO upstream hop, which favours serverless-offline.
#                        It does not cache authorizer results (resultTtlInSeconds is read only
#                        to pick the identity source): the authorizer runs on every request;
#                        the report counts its invocations from the log to show it.
#   serverless-offline-inprocess  the same with --useInProcess (handlers in the main thread),
#                        its fastest mode; reported for reference, not used for the targets.
#
# Each target must answer `allow` with 200 "ok" and `deny` with 403 before it is measured.
# Goals: Portcullis cached >= 50x and uncached >= 5x the req/s of serverless-offline.
#
# serverless runs with no network access needed: telemetry and notifications off, dummy AWS
# credentials, HOME in a temporary directory; its node_modules are installed once into
# bench/serverless/node_modules with `npm install --no-package-lock` (versions pinned in
# bench/serverless/package.json; node_modules and any package-lock.json are gitignored).
#
# Writes bench/out/lambda-results.md; raw wrk output goes to bench/out/lambda-wrk/.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT_DIR="$BENCH_DIR/out"
SLS_DIR="$BENCH_DIR/serverless"

UPSTREAM_PORT=18081
SERVER_CPU=0
CLIENT_CPU=1
WRK_CONNS=32
BENCH_PATH=/bench/path
SLS_VERSION=3.40.0            # keep in step with bench/serverless/package.json
SLS_OFFLINE_VERSION=13.9.0
CACHED_GOAL=50
UNCACHED_GOAL=5
ALL_TARGETS="portcullis-cached portcullis-uncached serverless-offline serverless-offline-inprocess"

# target -> "port admin-port-or-empty"
declare -A PORT=([portcullis-cached]=18083 [portcullis-uncached]=18084
                 [serverless-offline]=18085 [serverless-offline-inprocess]=18085)
declare -A ADMIN=([portcullis-cached]=19090 [portcullis-uncached]=19091
                  [serverless-offline]=18086 [serverless-offline-inprocess]=18086)
declare -A CONFIG=([portcullis-cached]=bench/lambda.yaml [portcullis-uncached]=bench/lambda-uncached.yaml)

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $arg" ;;
    esac
done

duration_secs() {
    [[ $1 =~ ^([0-9]+)([sm]?)$ ]] || return 1
    if [[ ${BASH_REMATCH[2]} == m ]]; then echo $(( BASH_REMATCH[1] * 60 )); else echo "${BASH_REMATCH[1]}"; fi
}
DURATION_S=$(duration_secs "${BENCH_DURATION:-10s}") || die "BENCH_DURATION must look like 10, 10s or 1m (got '${BENCH_DURATION}')"
(( DURATION_S >= 1 )) || die "BENCH_DURATION must be at least 1s"
WARMUP_S=$(duration_secs "${BENCH_WARMUP:-2s}") || die "BENCH_WARMUP must look like 2, 2s or 0 (got '${BENCH_WARMUP}')"
TARGETS=()
for t in ${BENCH_TARGETS:-$ALL_TARGETS}; do
    [[ -n ${PORT[$t]:-} ]] || die "unknown target in BENCH_TARGETS: '$t' (known: $ALL_TARGETS)"
    TARGETS+=("$t")
done
(( ${#TARGETS[@]} )) || die "BENCH_TARGETS selects no target"
wants() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }
wants_portcullis() { wants portcullis-cached || wants portcullis-uncached; }
wants_sls() { wants serverless-offline || wants serverless-offline-inprocess; }

if [[ -n ${PORTCULLIS_BIN:-} && $PORTCULLIS_BIN != /* ]]; then
    PORTCULLIS_BIN="$PWD/$PORTCULLIS_BIN"
fi
cd "$REPO_ROOT"

# ---------------------------------------------------------------- tools
apt_install() {
    (( EUID == 0 )) || die "missing $*; run as root or install: apt-get install -y --no-install-recommends $*"
    log "installing $* (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v curl >/dev/null 2>&1 || need+=(curl)
if wants_sls; then command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need+=(nodejs npm); fi
if wants_portcullis; then command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip); fi
(( ${#need[@]} == 0 )) || apt_install "${need[@]}"
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
command -v taskset >/dev/null 2>&1 || die "taskset not found (Debian package util-linux)"
(( $(nproc) >= 2 )) || die "need at least 2 CPUs (server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU); nproc=$(nproc)"

if wants_portcullis; then
    # The gateway starts workers as `python3 -m awslambdaric` with PATH from this environment.
    if ! python3 -c 'import awslambdaric' 2>/dev/null; then
        log "installing awslambdaric (pip)"
        python3 -m pip install --quiet --disable-pip-version-check awslambdaric \
            || die "pip install awslambdaric failed; the Python authorizer cannot run"
    fi
    if [[ -n ${PORTCULLIS_BIN:-} ]]; then
        BIN=$PORTCULLIS_BIN
    else
        command -v cargo >/dev/null 2>&1 || die "cargo not found: cannot build Portcullis (or set PORTCULLIS_BIN to a built binary)"
        log "building Portcullis: cargo build --release -p portcullis"
        cargo build --release -p portcullis || die "cargo build --release -p portcullis failed"
        BIN="$REPO_ROOT/target/release/portcullis"
    fi
    [[ -f $BIN && -x $BIN ]] || die "Portcullis binary not found or not executable: $BIN"
fi

# The serverless CLI, run in bench/serverless: no telemetry, notifications or update checks,
# no AWS account (dummy credentials), HOME in the temporary directory.
sls_env() {
    SLS_ENV=(env -C "$SLS_DIR" -u AWS_PROFILE -u AWS_SESSION_TOKEN
        SLS_TELEMETRY_DISABLED=1 SLS_TRACKING_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
        SLS_DEPRECATION_DISABLE='*' SLS_INTERACTIVE_SETUP_DISABLE=1
        AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=bench-not-a-secret
        AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 HOME="$WORK/home")
}

installed_version() {
    node -p "require('$SLS_DIR/node_modules/$1/package.json').version" 2>/dev/null || true
}

if wants_sls; then
    node_major=$(node -p 'process.versions.node.split(".")[0]')
    (( node_major >= 18 )) || die "serverless-offline $SLS_OFFLINE_VERSION needs Node >= 18.12 (found $(node -v))"
    if [[ $(installed_version serverless) != "$SLS_VERSION" || $(installed_version serverless-offline) != "$SLS_OFFLINE_VERSION" ]]; then
        log "installing serverless@$SLS_VERSION and serverless-offline@$SLS_OFFLINE_VERSION into bench/serverless/node_modules"
        # --no-package-lock: a lock file would record registry host names; nothing is saved.
        (cd "$SLS_DIR" && npm install --no-package-lock --no-audit --no-fund --no-update-notifier --loglevel=error) \
            || die "npm install in bench/serverless failed"
    fi
    [[ $(installed_version serverless-offline) == "$SLS_OFFLINE_VERSION" ]] \
        || die "bench/serverless/node_modules has serverless-offline $(installed_version serverless-offline), expected $SLS_OFFLINE_VERSION"
fi

port_in_use() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
for t in "${TARGETS[@]}"; do
    for p in "${PORT[$t]}" "${ADMIN[$t]}"; do
        ! port_in_use "$p" || die "127.0.0.1:$p (for $t) is already in use; stop whatever listens there first"
    done
done
! port_in_use "$UPSTREAM_PORT" || die "127.0.0.1:$UPSTREAM_PORT (upstream) is already in use"

# ---------------------------------------------------------------- processes
WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-lambda-bench.XXXXXX")
mkdir -p "$WORK/home"
PIDS=()
alive() { kill -0 "$1" 2>/dev/null; }
descendants() {
    local kid
    for kid in $(cat /proc/"$1"/task/*/children 2>/dev/null || true); do   # space-separated PIDs
        echo "$kid"
        descendants "$kid"
    done
}
# stop PID: TERM it and everything it started, KILL what is left after 5 s.
stop() {
    local pid=$1 p i kids
    mapfile -t kids < <(descendants "$pid")
    kill -TERM "$pid" "${kids[@]}" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do
        alive "$pid" || break
        sleep 0.1
    done
    for p in "$pid" "${kids[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$? pid
    set +e
    trap - INT TERM
    for pid in "${PIDS[@]}"; do alive "$pid" && stop "$pid"; done
    if (( rc == 0 )); then rm -rf "$WORK"; else printf 'Logs kept in %s\n' "$WORK" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_http NAME PORT PID LOG SECONDS: until the port answers HTTP at all.
wait_http() {
    local name=$1 port=$2 pid=$3 logf=$4 i
    for (( i = 0; i < $5 * 10; i++ )); do
        alive "$pid" || { tail -n 30 "$logf" >&2; die "$name exited during startup"; }
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/" || true) != 000 ]] && return 0
        sleep 0.1
    done
    tail -n 30 "$logf" >&2
    die "$name is not answering on 127.0.0.1:$port after $5 s"
}

# answer TOKEN PORT: "CODE BODY" of one request.
answer() {
    local r
    r=$(curl -s --max-time 10 -w '\n%{http_code}' -H "Authorization: $1" "http://127.0.0.1:$2$BENCH_PATH" || true)
    printf '%s %s' "${r##*$'\n'}" "$(printf '%s' "${r%$'\n'*}" | tr -d '\n' | head -c 120)"
}

# verify NAME PORT: allow -> 200 "ok", deny -> 403; the first allow may wait for a cold start.
verify() {
    local name=$1 port=$2 a d u i
    for (( i = 0; i < 20; i++ )); do
        a=$(answer allow "$port")
        [[ $a == "200 ok" ]] && break
        sleep 0.5
    done
    d=$(answer deny "$port")
    u=$(answer unauthorized "$port")
    log "$name: allow -> $a; deny -> ${d%% *}; unauthorized -> ${u%% *}"
    [[ $a == "200 ok" ]] || die "$name answered 'Authorization: allow' with '$a', expected 200 ok"
    [[ ${d%% *} == 403 ]] || die "$name answered 'Authorization: deny' with '$d', expected 403"
    VERIFY[$name]="allow ${a%% *}, deny ${d%% *}, unauthorized ${u%% *}"
}

start_server() { # NAME -> sets SPID, SLOG
    local t=$1
    SLOG="$WORK/$t.log"
    case "$t" in
        portcullis-*)
            "$BIN" check "${CONFIG[$t]}" >"$WORK/$t-check.log" 2>&1 \
                || { cat "$WORK/$t-check.log" >&2; die "$BIN rejects ${CONFIG[$t]} (does this build have Lambda authorizers?)"; }
            log "starting $t on 127.0.0.1:${PORT[$t]} (CPU $SERVER_CPU): $BIN serve --no-watch --config ${CONFIG[$t]}"
            RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN" serve --no-watch --config "${CONFIG[$t]}" >"$SLOG" 2>&1 &
            ;;
        serverless-offline*)
            local extra=()
            [[ $t == serverless-offline-inprocess ]] && extra=(--useInProcess)
            log "starting $t on 127.0.0.1:${PORT[$t]} (CPU $SERVER_CPU): serverless offline start ${extra[*]}"
            # Default log level: serverless-offline logs each authorizer run, which is counted.
            sls_env
            "${SLS_ENV[@]}" taskset -c "$SERVER_CPU" \
                node node_modules/serverless/bin/serverless.js offline start "${extra[@]}" >"$SLOG" 2>&1 &
            ;;
    esac
    SPID=$!
    PIDS+=("$SPID")
    wait_http "$t" "${PORT[$t]}" "$SPID" "$SLOG" 60
}

# ---------------------------------------------------------------- measuring
wrk_run() { # PORT SECONDS OUTFILE
    timeout --signal=KILL $(( $2 + 30 )) taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$WRK_CONNS" -d"$2s" --latency -H 'Authorization: allow' \
        "http://127.0.0.1:$1$BENCH_PATH" >"$3" 2>&1
}
# Prints "rps p50_ms p99_ms non2xx socket_errors requests" or fails.
auth_runs() { grep -c 'Running Authorization function' "$1" 2>/dev/null || true; }

declare -A R_RPS=() R_P50=() R_P99=() R_NON=() R_SOCK=() R_REQS=() R_AUTH=() VERIFY=()
mkdir -p "$OUT_DIR/lambda-wrk"
rm -f "$OUT_DIR"/lambda-wrk/*.txt

# ---------------------------------------------------------------- main
prefix="$WORK/nginx-upstream"
mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
sed -e "s|@USER_DIRECTIVE@|$( (( EUID == 0 )) && echo 'user root;' )|" -e "s|@PREFIX@|$prefix|g" \
    -e "s|@PORT@|$UPSTREAM_PORT|g" "$BENCH_DIR/nginx-upstream.conf.in" >"$prefix/conf/nginx.conf"
log "starting nginx upstream on 127.0.0.1:$UPSTREAM_PORT (CPU $SERVER_CPU)"
taskset -c "$SERVER_CPU" "$NGINX" -p "$prefix/" -e "$prefix/logs/error.log" -c "$prefix/conf/nginx.conf" \
    >"$prefix/logs/stdout.log" 2>&1 &
PIDS+=($!)
wait_http nginx-upstream "$UPSTREAM_PORT" "$!" "$prefix/logs/error.log" 5

log "targets: ${TARGETS[*]}; warm-up ${WARMUP_S}s, one ${DURATION_S}s run each, $WRK_CONNS connections"
for t in "${TARGETS[@]}"; do
    start_server "$t"
    verify "$t" "${PORT[$t]}"
    if (( WARMUP_S > 0 )); then
        log "$t: warm-up ${WARMUP_S}s (not counted)"
        wrk_run "${PORT[$t]}" "$WARMUP_S" "$WORK/$t-warmup.txt" || { cat "$WORK/$t-warmup.txt" >&2; die "wrk warm-up failed for $t"; }
    fi
    before=$(auth_runs "$SLOG")
    out="$OUT_DIR/lambda-wrk/$t.txt"
    log "$t: measured run ${DURATION_S}s"
    wrk_run "${PORT[$t]}" "$DURATION_S" "$out" || { cat "$out" >&2; die "wrk failed for $t"; }
    alive "$SPID" || { tail -n 30 "$SLOG" >&2; die "$t died during its run"; }
    read -r rps p50 p99 non sock reqs < <(parse_wrk "$out") \
        || { cat "$out" >&2; die "could not parse wrk output for $t ($out)"; }
    R_RPS[$t]=$rps R_P50[$t]=$p50 R_P99[$t]=$p99 R_NON[$t]=$non R_SOCK[$t]=$sock R_REQS[$t]=$reqs
    R_AUTH[$t]=-
    [[ $t == serverless-offline* ]] && R_AUTH[$t]=$(( $(auth_runs "$SLOG") - before ))
    (( R_NON[$t] == 0 && R_SOCK[$t] == 0 )) || warn "$t: ${R_NON[$t]} non-2xx responses, ${R_SOCK[$t]} socket errors"
    log "$t: ${R_RPS[$t]} req/s, p50 ${R_P50[$t]} ms, p99 ${R_P99[$t]} ms"
    stop "$SPID"
done

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.1f", a / b }'; }
goal() { # TARGET BASE GOAL
    if wants "$1" && wants "$2"; then
        local r; r=$(ratio "${R_RPS[$1]}" "${R_RPS[$2]}")
        local ok; ok=$(awk -v r="$r" -v g="$3" 'BEGIN { print (r + 0 >= g) ? "PASS" : "MISS" }')
        (( R_NON[$1] == 0 && R_SOCK[$1] == 0 )) || ok="MISS (errors)"
        echo "- $1 / $2 req/s: **${r}x** (goal >= ${3}x): $ok; p99 ${R_P99[$1]} ms vs ${R_P99[$2]} ms"
    else
        echo "- $1 / $2: not run (needs both in BENCH_TARGETS)"
    fi
}
describe() {
    case "$1" in
        portcullis-cached) echo "Portcullis, Python authorizer via Runtime API, result_ttl 300s (cache hits), proxy to nginx" ;;
        portcullis-uncached) echo "Portcullis, Python authorizer via Runtime API, result_ttl 0s (1 invoke/request, <= 2 workers), proxy to nginx" ;;
        serverless-offline) echo "serverless-offline $SLS_OFFLINE_VERSION defaults (worker threads), Node authorizer + lambda-proxy handler, no upstream" ;;
        serverless-offline-inprocess) echo "serverless-offline --useInProcess, same functions (reference only)" ;;
    esac
}

REPORT="$WORK/lambda-results.md"
{
    echo "# Lambda authorizer benchmark"
    echo
    echo "\`taskset -c $CLIENT_CPU wrk -t1 -c$WRK_CONNS -d${DURATION_S}s --latency -H 'Authorization: allow' http://127.0.0.1:PORT$BENCH_PATH\`, one measured run per target after a ${WARMUP_S}s warm-up; each server (with its workers and the nginx upstream) pinned to CPU $SERVER_CPU, started alone."
    echo
    echo "| target | what | req/s | p50 ms | p99 ms | non-2xx | socket errors | authorizer runs / request | allow, deny, unauthorized |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
    for t in "${TARGETS[@]}"; do
        per=-
        [[ ${R_AUTH[$t]} != - ]] && per=$(awk -v a="${R_AUTH[$t]}" -v n="${R_REQS[$t]}" 'BEGIN { if (n > 0) printf "%.2f", a / n; else print "n/a" }')
        echo "| $t (:${PORT[$t]}) | $(describe "$t") | ${R_RPS[$t]} | ${R_P50[$t]} | ${R_P99[$t]} | ${R_NON[$t]} | ${R_SOCK[$t]} | $per | ${VERIFY[$t]} |"
    done
    echo
    echo "## Goals"
    echo
    goal portcullis-cached serverless-offline "$CACHED_GOAL"
    goal portcullis-uncached serverless-offline "$UNCACHED_GOAL"
    if wants serverless-offline-inprocess; then
        for t in portcullis-cached portcullis-uncached; do
            if wants "$t"; then
                echo "- for reference, $t / serverless-offline-inprocess req/s: $(ratio "${R_RPS[$t]}" "${R_RPS[serverless-offline-inprocess]}")x"
            fi
        done
    fi
    echo
    echo "## Notes"
    echo
    echo "- serverless-offline has no authorizer in front of an HTTP proxy: \`resourceRoutes\` (its HTTP_PROXY support for CloudFormation methods) adds no authorizer, and \`integration: http-proxy\` on an http event still runs the function. So its route is a lambda-proxy handler (bench/serverless/backend.js) returning \"ok\\n\" itself: **it does not proxy to the nginx upstream**, while Portcullis does. That favours serverless-offline."
    echo "- serverless-offline does not cache authorizer results: \`resultTtlInSeconds: 300\` is set but only read to choose the identity source; \"authorizer runs / request\" is counted from its log ('Running Authorization function')."
    echo "- serverless-offline answers a thrown non-\"Unauthorized\" error with 401; API Gateway (and Portcullis) answer 500."
    echo "- Portcullis runs at most 2 Python workers (min_workers 1, max_workers 2): 2 cores, and wrk has one."
    echo
    echo "## Machine"
    echo
    echo "- $(nproc) CPUs, $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr), $(date -u '+%F %T UTC')"
    echo "- $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
    if wants_portcullis; then
        echo "- portcullis: $BIN; $(python3 --version), awslambdaric $(python3 -c 'import importlib.metadata as m; print(m.version("awslambdaric"))')"
    fi
    if wants_sls; then
        echo "- node $(node -v), serverless $(installed_version serverless), serverless-offline $(installed_version serverless-offline)"
    fi
} >"$REPORT"

cat "$REPORT"
cp "$REPORT" "$OUT_DIR/lambda-results.md"
log "results written to $OUT_DIR/lambda-results.md (raw wrk output in $OUT_DIR/lambda-wrk/)"
