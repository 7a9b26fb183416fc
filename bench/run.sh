#!/usr/bin/env bash
# Load benchmark: Portcullis vs. a plain nginx reverse proxy vs. nginx direct.
#
# Usage: bash bench/run.sh [--quick] [--help]
#
# Environment:
#   PORTCULLIS_BIN   use this binary instead of building target/release/portcullis
#   BENCH_DURATION   wrk duration per measured run (default 10s)
#   BENCH_RUNS       measured runs per target (default 3)
#   BENCH_WARMUP     unmeasured warm-up run per target (default 2s, 0 = none)
#   BENCH_TARGETS    space-separated subset of: nginx-direct nginx-proxy portcullis
#                    (default: all three)
#   BENCH_WRK_HEADERS  extra wrk arguments for every target, e.g.
#                    "-H 'User-Agent: wrk' -H 'Host: api.example.com'" (a web ACL's
#                    managed rules refuse requests without a User-Agent)
#   BENCH_PORTCULLIS_CONFIG  Portcullis's config (default bench/portcullis.yaml;
#                    bench/portcullis-waf.yaml adds the default web ACL)
#
# All traffic goes to 127.0.0.1. Results are printed and written to
# bench/out/results.md; raw wrk output goes to bench/out/wrk/.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
OUT_DIR="$BENCH_DIR/out"

UPSTREAM_PORT=18081
PROXY_PORT=18082
PORTCULLIS_PORT=18083
ADMIN_PORT=19090
SERVER_CPU=0
CLIENT_CPU=1
WRK_THREADS=1
WRK_CONNS=32
BENCH_PATH=/bench/path
RSS_TARGET_MIB=30
READY_TRIES=50      # x 0.1 s
ALL_TARGETS="nginx-direct nginx-proxy portcullis"


usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------- arguments
QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $arg" ;;
    esac
done

if (( QUICK )); then
    DURATION=2s
    RUNS=1
else
    DURATION=${BENCH_DURATION:-10s}
    RUNS=${BENCH_RUNS:-3}
fi
WARMUP=${BENCH_WARMUP:-2s}
TARGETS=${BENCH_TARGETS:-$ALL_TARGETS}

# Accept "10", "10s", "1m"; return seconds on stdout.
duration_secs() {
    local d=$1
    [[ $d =~ ^([0-9]+)([smh]?)$ ]] || return 1
    local n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
    case "$u" in
        ''|s) echo "$n" ;;
        m) echo $(( n * 60 )) ;;
        h) echo $(( n * 3600 )) ;;
    esac
}

DURATION_S=$(duration_secs "$DURATION") || die "BENCH_DURATION must look like 10, 10s or 1m (got '$DURATION')"
(( DURATION_S >= 1 )) || die "BENCH_DURATION must be at least 1s"
DURATION="${DURATION_S}s"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
if [[ $WARMUP == 0 || $WARMUP == 0s ]]; then
    WARMUP_S=0
else
    WARMUP_S=$(duration_secs "$WARMUP") || die "BENCH_WARMUP must look like 2, 2s or 0 (got '$WARMUP')"
fi
WARMUP="${WARMUP_S}s"

declare -A WANT=()
for t in $TARGETS; do
    case "$t" in
        nginx-direct|nginx-proxy|portcullis) WANT[$t]=1 ;;
        *) die "unknown target in BENCH_TARGETS: '$t' (known: $ALL_TARGETS)" ;;
    esac
done
(( ${#WANT[@]} > 0 )) || die "BENCH_TARGETS selects no target"
has() { [[ -n ${WANT[$1]:-} ]]; }

# Resolve PORTCULLIS_BIN against the caller's directory before moving.
if [[ -n ${PORTCULLIS_BIN:-} && $PORTCULLIS_BIN != /* ]]; then
    PORTCULLIS_BIN="$PWD/$PORTCULLIS_BIN"
fi
cd "$REPO_ROOT"

# ---------------------------------------------------------------- tools
ensure_tools() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    if (( ${#missing[@]} )); then
        (( EUID == 0 )) || die "missing ${missing[*]}; run as root or install: apt-get install -y --no-install-recommends ${missing[*]}"
        log "installing ${missing[*]} (Debian packages)"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
            log "install failed; running apt-get update and retrying"
            apt-get update
            apt-get install -y --no-install-recommends "${missing[@]}"
        fi
    fi
    command -v taskset >/dev/null 2>&1 || die "taskset not found (Debian package util-linux)"
    command -v timeout >/dev/null 2>&1 || die "timeout not found (Debian package coreutils)"
    NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
    [[ -x $NGINX ]] || die "nginx not found after install"
    command -v wrk >/dev/null 2>&1 || die "wrk not found after install"
    local ncpu
    ncpu=$(nproc)
    (( ncpu >= 2 )) || die "need at least 2 CPUs for pinning (server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU); nproc=$ncpu"
}

ensure_portcullis() {
    if [[ -n ${PORTCULLIS_BIN:-} ]]; then
        BIN=$PORTCULLIS_BIN
        log "using PORTCULLIS_BIN=$BIN"
    else
        command -v cargo >/dev/null 2>&1 || die "cargo not found: cannot build Portcullis (or set PORTCULLIS_BIN to a built binary)"
        log "building Portcullis: cargo build --release -p portcullis"
        cargo build --release -p portcullis || die "cargo build --release -p portcullis failed; cannot benchmark Portcullis"
        BIN="$REPO_ROOT/target/release/portcullis"
    fi
    [[ -e $BIN ]] || die "Portcullis binary not found: $BIN (build it with 'cargo build --release -p portcullis' or point PORTCULLIS_BIN at a built binary)"
    [[ -f $BIN && -x $BIN ]] || die "Portcullis binary is not an executable file: $BIN"
}

# ---------------------------------------------------------------- processes
WORK=""
PIDS=()            # every process we started (nginx masters, portcullis)
EXTRA_PIDS=()      # nginx workers, killed only as a last resort
declare -A SERVER_PID=()

alive() { kill -0 "$1" 2>/dev/null; }

cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    local pid i any
    if [[ -n ${WRK_PID:-} ]] && alive "$WRK_PID"; then
        kill -TERM "$WRK_PID" 2>/dev/null
    fi
    for pid in "${PIDS[@]}"; do
        alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for (( i = 0; i < 50; i++ )); do
        any=0
        for pid in "${PIDS[@]}" "${EXTRA_PIDS[@]}"; do
            alive "$pid" && { any=1; break; }
        done
        (( any )) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}" "${EXTRA_PIDS[@]}"; do
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    if [[ -n $WORK && -d $WORK ]]; then
        if (( rc == 0 )); then
            rm -rf "$WORK"
        else
            printf 'Logs and state kept in %s\n' "$WORK" >&2
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() {
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Direct children of a PID (nginx workers of a master).
children_of() {
    local parent=$1 f st rest
    local kids="/proc/$parent/task/$parent/children"
    if [[ -r $kids ]]; then
        tr ' ' '\n' <"$kids" | grep -E '^[0-9]+$' || true
        return 0
    fi
    for f in /proc/[0-9]*/stat; do
        read -r st <"$f" 2>/dev/null || continue
        rest=${st##*) }
        read -r _ ppid _ <<<"$rest"
        if [[ $ppid == "$parent" ]]; then
            f=${f%/stat}
            echo "${f#/proc/}"
        fi
    done
}

log_tail() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        printf -- '--- %s (last 20 lines) ---\n' "$f" >&2
        tail -n 20 "$f" >&2
    done
}

# wait_ready NAME PORT PID LOGFILES...
wait_ready() {
    local name=$1 port=$2 pid=$3
    shift 3
    local i code status
    for (( i = 0; i < READY_TRIES; i++ )); do
        if ! alive "$pid"; then
            status=0
            wait "$pid" 2>/dev/null || status=$?
            log_tail "$@"
            die "$name exited during startup (exit status $status)"
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port$BENCH_PATH" 2>/dev/null || true)
        if [[ -n $code && $code != 000 ]]; then
            return 0
        fi
        sleep 0.1
    done
    log_tail "$@"
    die "$name is not accepting connections on 127.0.0.1:$port after $(( READY_TRIES / 10 ))s"
}

# sanity_check NAME PORT: one request, warn unless it is 200 "ok".
sanity_check() {
    local name=$1 port=$2 resp code body
    resp=$(curl -s --max-time 5 -w '\n%{http_code}' "http://127.0.0.1:$port$BENCH_PATH" 2>/dev/null || true)
    code=${resp##*$'\n'}
    body=${resp%$'\n'*}
    body=${body%$'\n'}
    if [[ $code != 200 ]]; then
        warn "$name answered GET $BENCH_PATH with HTTP ${code:-none} (body: $(printf '%s' "$body" | head -c 200)); its runs will report non-2xx responses"
    elif [[ $body != ok ]]; then
        warn "$name answered GET $BENCH_PATH with an unexpected body: $(printf '%s' "$body" | head -c 200)"
    fi
}

render_nginx_conf() {
    local template=$1 prefix=$2 port=$3 user_line=""
    (( EUID == 0 )) && user_line="user root;"
    sed -e "s|@PREFIX@|$prefix|g" \
        -e "s|@PORT@|$port|g" \
        -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
        -e "s|@USER_DIRECTIVE@|$user_line|g" \
        "$template" >"$prefix/conf/nginx.conf"
}

# start_nginx NAME TEMPLATE PORT
start_nginx() {
    local name=$1 template=$2 port=$3
    local prefix="$WORK/$name"
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    render_nginx_conf "$template" "$prefix" "$port"
    if ! "$NGINX" -t -q -p "$prefix/" -e "$prefix/logs/error.log" -c "$prefix/conf/nginx.conf" >"$prefix/logs/configtest.log" 2>&1; then
        log_tail "$prefix/logs/configtest.log" "$prefix/logs/error.log"
        die "nginx config test failed for $name ($prefix/conf/nginx.conf)"
    fi
    log "starting $name on 127.0.0.1:$port (CPU $SERVER_CPU)"
    taskset -c "$SERVER_CPU" "$NGINX" -p "$prefix/" -e "$prefix/logs/error.log" -c "$prefix/conf/nginx.conf" \
        >"$prefix/logs/stdout.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    SERVER_PID[$name]=$pid
    wait_ready "$name" "$port" "$pid" "$prefix/logs/stdout.log" "$prefix/logs/error.log"
    local w
    for w in $(children_of "$pid"); do EXTRA_PIDS+=("$w"); done
}

start_portcullis() {
    local logf="$WORK/portcullis.log"
    local config=${BENCH_PORTCULLIS_CONFIG:-bench/portcullis.yaml}
    log "starting portcullis on 127.0.0.1:$PORTCULLIS_PORT (CPU $SERVER_CPU): $BIN serve --config $config"
    RUST_LOG=warn taskset -c "$SERVER_CPU" "$BIN" serve --config "$config" >"$logf" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    SERVER_PID[portcullis]=$pid
    wait_ready "Portcullis ($BIN)" "$PORTCULLIS_PORT" "$pid" "$logf"
}

# ---------------------------------------------------------------- measuring
vmhwm_kb() {
    awk '/^VmHWM:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# "N" or "N (FLAG)" when N > 0.
flagged() {
    if (( $1 > 0 )); then echo "$1 (FLAG)"; else echo "$1"; fi
}

kb_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Prints: "rps p50_ms p99_ms non2xx socket_errors" or fails.

median() {
    printf '%s\n' "$@" | sort -g | awk '
        { a[NR] = $1 }
        END {
            if (NR % 2) printf "%.3f\n", a[(NR + 1) / 2]
            else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2
        }'
}

# wrk runs in the background and is waited for, so that a signal to this
# script is handled at once (the EXIT trap then stops wrk too).
WRK_PID=""
WRK_EXTRA=()
if [[ -n ${BENCH_WRK_HEADERS:-} ]]; then
    eval "WRK_EXTRA=($BENCH_WRK_HEADERS)"
fi
run_wrk() {
    local port=$1 dur=$2 secs=$3 out=$4 status=0
    timeout --signal=KILL $(( secs + 30 )) \
        taskset -c "$CLIENT_CPU" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$dur" --latency \
        "${WRK_EXTRA[@]}" "http://127.0.0.1:$port$BENCH_PATH" >"$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || status=$?
    WRK_PID=""
    return "$status"
}

declare -A R_RPS=() R_P50=() R_P99=() R_RSS=() R_NON=() R_SOCK=() R_RSSNOTE=()
DETAIL_ROWS=()

bench_target() {
    local target=$1 port=$2 pid=${SERVER_PID[$1]}
    local i out parsed rps p50 p99 non sock
    local rps_l=() p50_l=() p99_l=() non_total=0 sock_total=0
    if (( WARMUP_S > 0 )); then
        log "$target: warm-up ${WARMUP} (not counted)"
        run_wrk "$port" "$WARMUP" "$WARMUP_S" "$WORK/wrk-$target-warmup.txt" \
            || { cat "$WORK/wrk-$target-warmup.txt" >&2; die "wrk warm-up failed for $target"; }
        alive "$pid" || die "$target (pid $pid) died during warm-up"
    fi
    for (( i = 1; i <= RUNS; i++ )); do
        out="$OUT_DIR/wrk/$target-run$i.txt"
        log "$target: run $i/$RUNS (${DURATION}, ${WRK_CONNS} connections)"
        run_wrk "$port" "$DURATION" "$DURATION_S" "$out" \
            || { cat "$out" >&2; die "wrk failed for $target run $i (output in $out)"; }
        alive "$pid" || die "$target (pid $pid) died during run $i"
        parsed=$(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk output for $target run $i ($out)"; }
        read -r rps p50 p99 non sock _requests <<<"$parsed"
        rps_l+=("$rps"); p50_l+=("$p50"); p99_l+=("$p99")
        non_total=$(( non_total + non )); sock_total=$(( sock_total + sock ))
        if (( non > 0 || sock > 0 )); then
            warn "$target run $i: $non non-2xx responses, $sock socket errors (FLAG)"
        fi
        DETAIL_ROWS+=("| $target | $i | $rps | $p50 | $p99 | $(flagged "$non") | $(flagged "$sock") |")
    done

    # Peak RSS right after this target's runs.
    local master_kb worker_kb=0 w n=0
    master_kb=$(vmhwm_kb "$pid")
    if [[ $target == portcullis ]]; then
        R_RSS[$target]=$(kb_to_mib "$master_kb")
        R_RSSNOTE[$target]="single process (pid $pid)"
    else
        for w in $(children_of "$pid"); do
            worker_kb=$(( worker_kb + $(vmhwm_kb "$w") ))
            n=$(( n + 1 ))
        done
        R_RSS[$target]=$(kb_to_mib $(( master_kb + worker_kb )))
        R_RSSNOTE[$target]="master $(kb_to_mib "$master_kb") MiB + $n worker(s) $(kb_to_mib "$worker_kb") MiB"
    fi

    R_RPS[$target]=$(median "${rps_l[@]}")
    R_P50[$target]=$(median "${p50_l[@]}")
    R_P99[$target]=$(median "${p99_l[@]}")
    R_NON[$target]=$non_total
    R_SOCK[$target]=$sock_total
}

# ---------------------------------------------------------------- main
ensure_tools
has portcullis && ensure_portcullis

for p in "$UPSTREAM_PORT" \
         $(has nginx-proxy && echo "$PROXY_PORT") \
         $(has portcullis && echo "$PORTCULLIS_PORT $ADMIN_PORT"); do
    if port_in_use "$p"; then
        die "127.0.0.1:$p is already in use; stop whatever listens there first"
    fi
done

# How busy the CPUs are (percent, all CPUs) over one second before starting.
cpu_busy_pct() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        busy = y[1] - x[1]; idle = y[2] - x[2]
        if (busy + idle <= 0) print "?"; else printf "%.0f\n", 100 * busy / (busy + idle)
    }'
}
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
CPU_BUSY_START=$(cpu_busy_pct 2>/dev/null || echo "?")
if [[ $CPU_BUSY_START =~ ^[0-9]+$ ]] && (( CPU_BUSY_START >= 20 )); then
    warn "CPUs are ${CPU_BUSY_START}% busy before starting: other work on this machine will make the numbers noisy"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-bench.XXXXXX")

est=$(( ${#WANT[@]} * (WARMUP_S + RUNS * DURATION_S) ))
log "targets: $TARGETS; ${RUNS} x ${DURATION} per target, warm-up ${WARMUP}; about ${est}s of load"

start_nginx nginx-upstream "$BENCH_DIR/nginx-upstream.conf.in" "$UPSTREAM_PORT"
SERVER_PID[nginx-direct]=${SERVER_PID[nginx-upstream]}
sanity_check nginx-upstream "$UPSTREAM_PORT"
if has nginx-proxy; then
    start_nginx nginx-proxy "$BENCH_DIR/nginx-proxy.conf.in" "$PROXY_PORT"
    sanity_check nginx-proxy "$PROXY_PORT"
fi
if has portcullis; then
    start_portcullis
    sanity_check portcullis "$PORTCULLIS_PORT"
fi

mkdir -p "$OUT_DIR/wrk"
rm -f "$OUT_DIR"/wrk/*.txt
has nginx-direct && bench_target nginx-direct "$UPSTREAM_PORT"
has nginx-proxy && bench_target nginx-proxy "$PROXY_PORT"
has portcullis && bench_target portcullis "$PORTCULLIS_PORT"

# ---------------------------------------------------------------- report
cpu_model=$(awk -F': *' '/^(model name|Hardware|Processor|cpu model)/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
[[ -n $cpu_model ]] || cpu_model=$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }' || true)
[[ -n $cpu_model ]] || cpu_model=unknown
nginx_ver=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
wrk_ver=$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }' || true)

affinity() { taskset -cp "$1" 2>/dev/null | awk -F': ' '{ print $2 }' || echo "?"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

REPORT="$WORK/results.md"
{
    echo "# Portcullis load benchmark"
    echo
    if (( QUICK )); then
        echo "_Quick mode (${DURATION} x ${RUNS} run): smoke test only, numbers are not representative._"
        echo
    fi
    echo "wrk: \`taskset -c $CLIENT_CPU wrk -t$WRK_THREADS -c$WRK_CONNS -d$DURATION --latency http://127.0.0.1:PORT$BENCH_PATH\`, $RUNS measured run(s) per target, warm-up ${WARMUP}; servers pinned to CPU $SERVER_CPU."
    echo
    echo "| target | req/s (median of $RUNS) | p50 ms (median) | p99 ms (median) | peak RSS MiB | non-2xx | socket errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for t in $ALL_TARGETS; do
        has "$t" || continue
        case "$t" in
            nginx-direct) port=$UPSTREAM_PORT ;;
            nginx-proxy) port=$PROXY_PORT ;;
            portcullis) port=$PORTCULLIS_PORT ;;
        esac
        non=$(flagged "${R_NON[$t]}"); sock=$(flagged "${R_SOCK[$t]}")
        printf '| %s (:%s) | %.1f | %.3f | %.3f | %s | %s | %s |\n' \
            "$t" "$port" "${R_RPS[$t]}" "${R_P50[$t]}" "${R_P99[$t]}" "${R_RSS[$t]}" "$non" "$sock"
    done
    echo
    echo "Peak RSS is VmHWM from /proc/PID/status read right after the target's runs; for nginx it is master + worker summed:"
    for t in $ALL_TARGETS; do
        has "$t" && echo "- $t: ${R_RSSNOTE[$t]}"
    done
    echo
    echo "## Targets"
    echo
    if has nginx-proxy && has portcullis; then
        rps_ratio=$(ratio "${R_RPS[portcullis]}" "${R_RPS[nginx-proxy]}")
        p99_ratio=$(ratio "${R_P99[portcullis]}" "${R_P99[nginx-proxy]}")
        echo "Portcullis / nginx-proxy: req/s ${rps_ratio}x, p99 ${p99_ratio}x"
        echo
        rps_ok=$(awk -v a="${R_RPS[portcullis]}" -v b="${R_RPS[nginx-proxy]}" 'BEGIN { print (a >= b) ? "PASS" : "MISS" }')
        p99_ok=$(awk -v a="${R_P99[portcullis]}" -v b="${R_P99[nginx-proxy]}" 'BEGIN { print (a <= b) ? "PASS" : "MISS" }')
        rss_ok=$(awk -v a="${R_RSS[portcullis]}" -v b="$RSS_TARGET_MIB" 'BEGIN { print (a <= b) ? "PASS" : "MISS" }')
        clean=PASS
        (( R_NON[portcullis] > 0 || R_SOCK[portcullis] > 0 )) && clean=MISS
        overall=PASS
        for v in "$rps_ok" "$p99_ok" "$rss_ok" "$clean"; do [[ $v == PASS ]] || overall=MISS; done
        echo "- req/s >= 1.0x nginx-proxy: $rps_ok (${rps_ratio}x)"
        echo "- p99 <= nginx-proxy p99: $p99_ok (${R_P99[portcullis]} ms vs ${R_P99[nginx-proxy]} ms)"
        echo "- peak RSS <= ${RSS_TARGET_MIB} MiB: $rss_ok (${R_RSS[portcullis]} MiB)"
        echo "- no non-2xx responses or socket errors: $clean (${R_NON[portcullis]} non-2xx, ${R_SOCK[portcullis]} socket errors)"
        echo
        echo "**Overall: $overall**"
        if (( R_NON[nginx-proxy] > 0 || R_SOCK[nginx-proxy] > 0 )); then
            echo
            echo "Note: the nginx-proxy baseline itself had errors; the comparison is not valid."
        fi
    else
        echo "Not evaluated: needs both nginx-proxy and portcullis in BENCH_TARGETS."
    fi
    echo
    echo "## Runs"
    echo
    echo "| target | run | req/s | p50 ms | p99 ms | non-2xx | socket errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${DETAIL_ROWS[@]}"
    echo
    echo "## Machine"
    echo
    echo "- nproc: $(nproc)"
    echo "- CPU: $cpu_model"
    echo "- kernel: $(uname -srm)"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- before the run: CPUs ${CPU_BUSY_START}% busy (1 s sample), load average $LOADAVG_START"
    echo "- nginx: $nginx_ver; wrk: ${wrk_ver:-unknown}"
    has portcullis && echo "- portcullis: $BIN"
    echo "- CPU affinity: upstream nginx $(affinity "${SERVER_PID[nginx-upstream]}")$(has nginx-proxy && echo ", nginx-proxy $(affinity "${SERVER_PID[nginx-proxy]}")")$(has portcullis && echo ", portcullis $(affinity "${SERVER_PID[portcullis]}")"), wrk $CLIENT_CPU"
} >"$REPORT"

cat "$REPORT"
cp "$REPORT" "$OUT_DIR/results.md"
log "results written to $OUT_DIR/results.md (raw wrk output in $OUT_DIR/wrk/)"
