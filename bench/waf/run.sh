#!/usr/bin/env bash
# WAF detection benchmark: Portcullis (AWS managed rule groups) vs. nginx + ModSecurity v3 +
# OWASP CRS at paranoia levels 1 and 2, on the same requests, in one run.
#
# Usage: bash bench/waf/run.sh [--help]
#
# Environment:
#   WAF_BENCH_LIMIT      sample N legit and N attack requests (seeded) for a quick run
#                        (default: all)
#   WAF_BENCH_TARGETS    space-separated subset of: portcullis crs-pl1 crs-pl2 (default: all)
#   PORTCULLIS_BIN       use this binary instead of building target/release/portcullis
#   WAF_BENCH_PORTCULLIS_CONFIG
#                        Portcullis config to use (default: bench/waf/portcullis.yaml)
#   WAF_BENCH_CONCURRENCY  client connections per target (default 8)
#   WAF_BENCH_AUDIT=1    keep ModSecurity's audit log (the CRS rules behind every 4xx) in the
#                        results directory
#
# All traffic stays on 127.0.0.1. Prints one Markdown table; the raw results (status of every
# request per target) go to bench/waf/results/<timestamp>/results.json (gitignored).
# Portcullis not building or not starting is reported, and the CRS columns are still measured.
set -euo pipefail

WAF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$WAF_DIR/../.." && pwd)

PORTCULLIS_PORT=18480
PORTCULLIS_ADMIN_PORT=19480
BACKEND_PORT=18490
PL1_PORT=18491
PL2_PORT=18492
ANOMALY_THRESHOLD=5
CRS_RULES=/usr/share/modsecurity-crs/rules
CRS_SETUP=/etc/modsecurity/crs/crs-setup.conf
CRS_EXCLUSIONS_BEFORE=/etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
CRS_EXCLUSIONS_AFTER=/etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
MODSEC_MODULE=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
ALL_TARGETS="portcullis crs-pl1 crs-pl2"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $arg" ;;
    esac
done

TARGETS=${WAF_BENCH_TARGETS:-$ALL_TARGETS}
declare -A WANT=()
for t in $TARGETS; do
    case "$t" in
        portcullis|crs-pl1|crs-pl2) WANT[$t]=1 ;;
        *) die "unknown target in WAF_BENCH_TARGETS: '$t' (known: $ALL_TARGETS)" ;;
    esac
done
(( ${#WANT[@]} > 0 )) || die "WAF_BENCH_TARGETS selects no target"
has() { [[ -n ${WANT[$1]:-} ]]; }
want_crs() { has crs-pl1 || has crs-pl2; }

LIMIT=${WAF_BENCH_LIMIT:-0}
[[ $LIMIT =~ ^[0-9]+$ ]] || die "WAF_BENCH_LIMIT must be a non-negative integer (got '$LIMIT')"
CONCURRENCY=${WAF_BENCH_CONCURRENCY:-8}
[[ $CONCURRENCY =~ ^[1-9][0-9]*$ ]] || die "WAF_BENCH_CONCURRENCY must be a positive integer (got '$CONCURRENCY')"
if [[ -n ${PORTCULLIS_BIN:-} && $PORTCULLIS_BIN != /* ]]; then
    PORTCULLIS_BIN="$PWD/$PORTCULLIS_BIN"
fi
PORTCULLIS_CONFIG=${WAF_BENCH_PORTCULLIS_CONFIG:-$WAF_DIR/portcullis.yaml}
[[ $PORTCULLIS_CONFIG == /* ]] || PORTCULLIS_CONFIG="$PWD/$PORTCULLIS_CONFIG"
cd "$REPO_ROOT"

command -v python3 >/dev/null 2>&1 || die "python3 not found"
command -v curl >/dev/null 2>&1 || die "curl not found (Debian package curl)"

# ---------------------------------------------------------------- processes
WORK=$(mktemp -d "${TMPDIR:-/tmp}/waf-bench.XXXXXX")
PIDS=()
alive() { kill -0 "$1" 2>/dev/null; }
cleanup() {
    local rc=$? pid i any
    set +e
    trap - INT TERM
    for pid in "${PIDS[@]}"; do
        alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for (( i = 0; i < 50; i++ )); do
        any=0
        for pid in "${PIDS[@]}"; do alive "$pid" && { any=1; break; }; done
        (( any )) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    if (( rc == 0 )); then
        rm -rf "$WORK"
    else
        printf 'Logs and configs kept in %s\n' "$WORK" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# status METHOD URL -> HTTP status code ("000" when no answer)
status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X "$1" -A 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0' \
        -H 'Accept: application/json' -H 'Accept-Language: en-US,en;q=0.9' -H 'Host: api.example.com' "$2" 2>/dev/null || true
}

# wait_http NAME PORT PID: until the port answers HTTP (10 s at most); fails if PID exits.
wait_http() {
    local name=$1 port=$2 pid=$3 i code
    for (( i = 0; i < 100; i++ )); do
        alive "$pid" || return 1
        code=$(status GET "http://127.0.0.1:$port/healthcheck")
        [[ $code != 000 ]] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- nginx + ModSecurity + CRS
ensure_modsecurity() {
    local missing=() p
    for p in nginx libnginx-mod-http-modsecurity modsecurity-crs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if (( ${#missing[@]} )); then
        (( EUID == 0 )) || die "missing Debian packages ${missing[*]}; run as root or: apt-get install -y ${missing[*]}"
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1; then
            log "install failed; apt-get update and retry"
            apt-get update -q >>"$WORK/apt.log" 2>&1
            apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$WORK/apt.log" 2>&1 \
                || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
        fi
    fi
    NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
    [[ -x $NGINX ]] || die "nginx not found after install"
    [[ -f $MODSEC_MODULE ]] || die "ModSecurity nginx module not found at $MODSEC_MODULE"
    [[ -d $CRS_RULES && -f $CRS_SETUP ]] || die "OWASP CRS not found under $CRS_RULES and $CRS_SETUP"
}

# ModSecurity engine settings: those of the recommended modsecurity.conf, blocking on.
write_modsec_base() {
    local unicode_map=""
    for f in /etc/nginx/unicode.mapping /usr/share/nginx/docs/modsecurity/unicode.mapping; do
        [[ -f $f ]] && { unicode_map="SecUnicodeMapFile $f 20127"; break; }
    done
    mkdir -p "$WORK/modsec-tmp"
    cat >"$WORK/modsec-base.conf" <<EOF
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" \\
    "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \\
    "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
SecRule &ARGS "@ge 1000" \\
    "id:200007,phase:2,t:none,log,deny,status:400,msg:'Failed to fully parse request body due to large argument count',severity:2"
SecRule REQBODY_ERROR "!@eq 0" \\
    "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" \\
    "id:200003,phase:2,t:none,log,deny,status:400,msg:'Multipart request body failed strict validation'"
SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" \\
    "id:200004,phase:2,t:none,log,deny,msg:'Multipart parser detected a possible unmatched boundary.'"
SecPcreMatchLimit 1000
SecPcreMatchLimitRecursion 1000
SecRule TX:/^MSC_/ "!@streq 0" \\
    "id:200005,phase:2,t:none,deny,msg:'ModSecurity internal error flagged: %{MATCHED_VAR_NAME}'"
SecResponseBodyAccess Off
SecTmpDir $WORK/modsec-tmp
SecDataDir $WORK/modsec-tmp
SecAuditEngine Off
SecArgumentSeparator &
SecCookieFormat 0
SecStatusEngine Off
$unicode_map
EOF
}

# CRS at one paranoia level, blocking, inbound anomaly threshold 5. The two policy lists
# that an API deployment sets are widened to the methods and content types of the traffic:
# they are not detection rules, and left at their defaults they would block every PUT,
# PATCH and DELETE and every binary upload.
write_crs_conf() {
    local pl=$1 out=$2
    cat >"$out" <<EOF
Include $WORK/modsec-base.conf
Include $CRS_SETUP
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=$pl"
SecAction "id:900001,phase:1,nolog,pass,t:none,setvar:tx.executing_paranoia_level=$pl"
SecAction "id:900110,phase:1,nolog,pass,t:none,setvar:tx.inbound_anomaly_score_threshold=$ANOMALY_THRESHOLD,setvar:tx.outbound_anomaly_score_threshold=4"
SecAction "id:900200,phase:1,nolog,pass,t:none,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"
SecAction "id:900220,phase:1,nolog,pass,t:none,setvar:'tx.allowed_request_content_type=|application/x-www-form-urlencoded| |multipart/form-data| |multipart/related| |text/xml| |application/xml| |application/soap+xml| |application/json| |application/cloudevents+json| |application/cloudevents-batch+json| |application/octet-stream| |application/json-patch+json| |application/merge-patch+json| |application/vnd.api+json| |image/png| |image/jpeg|'"
Include $CRS_EXCLUSIONS_BEFORE
Include $CRS_RULES/*.conf
Include $CRS_EXCLUSIONS_AFTER
EOF
    if [[ ${WAF_BENCH_AUDIT:-0} == 1 ]]; then
        cat >>"$out" <<EOF
SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^4"
SecAuditLogParts ABFHZ
SecAuditLogType Serial
SecAuditLog $WORK/audit-crs-pl$pl.log
EOF
    fi
}

write_nginx_conf() {
    local user_line=""
    (( EUID == 0 )) && user_line="user root;"
    mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
    local servers=""
    has crs-pl1 && servers+="    server { listen 127.0.0.1:$PL1_PORT; modsecurity on; modsecurity_rules_file $WORK/crs-pl1.conf; location / { proxy_pass http://backend; } }
"
    has crs-pl2 && servers+="    server { listen 127.0.0.1:$PL2_PORT; modsecurity on; modsecurity_rules_file $WORK/crs-pl2.conf; location / { proxy_pass http://backend; } }
"
    cat >"$WORK/nginx/nginx.conf" <<EOF
# Generated by bench/waf/run.sh. Nothing under /etc/nginx is read.
load_module $MODSEC_MODULE;
$user_line
worker_processes 2;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    client_body_temp_path $WORK/nginx/tmp/client_body;
    proxy_temp_path       $WORK/nginx/tmp/proxy;
    fastcgi_temp_path     $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path       $WORK/nginx/tmp/uwsgi;
    scgi_temp_path        $WORK/nginx/tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_max_body_size 16m;
    client_body_buffer_size 1m;            # bodies stay in memory, where ModSecurity reads them
    large_client_header_buffers 8 64k;     # long payloads in paths and headers reach the WAF
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # Conditional headers would make the backend's 'return 200' a 412; the WAF has seen them already.
    proxy_set_header If-Match "";
    proxy_set_header If-Unmodified-Since "";

    # ModSecurity does not see requests answered by 'return' in the same location (it runs in
    # a later phase), so the WAF servers proxy to this one, which answers 200 to everything.
    upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 32; }
    server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 "ok\n"; } }

$servers}
EOF
}

start_nginx() {
    local p
    for p in $BACKEND_PORT $PL1_PORT $PL2_PORT; do
        port_in_use "$p" && die "127.0.0.1:$p is already in use"
    done
    write_modsec_base
    has crs-pl1 && write_crs_conf 1 "$WORK/crs-pl1.conf"
    has crs-pl2 && write_crs_conf 2 "$WORK/crs-pl2.conf"
    write_nginx_conf
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" -t >"$WORK/nginx/test.log" 2>&1 \
        || { cat "$WORK/nginx/test.log" >&2; die "nginx rejected the generated configuration"; }
    log "starting nginx + ModSecurity ($(dpkg-query -W -f='${Version}' libmodsecurity3 2>/dev/null)) + CRS ($(dpkg-query -W -f='${Version}' modsecurity-crs 2>/dev/null))"
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" >"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_http nginx $BACKEND_PORT "$NGINX_PID" || { tail -n 20 "$WORK/nginx/logs/error.log" >&2; die "nginx did not start"; }
}

# The check before measuring: an obvious injection is blocked, an Irish name passes.
verify_blocking() {
    local name=$1 port=$2 attack ok
    attack=$(status GET "http://127.0.0.1:$port/v1/items?q='%20OR%201=1--")
    ok=$(status GET "http://127.0.0.1:$port/v1/items?q=O'Brien")
    if [[ $attack != 403 || $ok != 200 ]]; then
        tail -n 20 "$WORK/nginx/logs/error.log" >&2 || true
        die "$name is not blocking as configured: ?q=' OR 1=1-- answered $attack (want 403), ?q=O'Brien answered $ok (want 200)"
    fi
    log "$name: ?q=' OR 1=1-- -> 403, ?q=O'Brien -> 200"
}

# ---------------------------------------------------------------- Portcullis
UNAVAILABLE=()

# Sets PORTCULLIS_EXE or records why Portcullis cannot be measured.
build_portcullis() {
    if [[ -n ${PORTCULLIS_BIN:-} ]]; then
        PORTCULLIS_EXE=$PORTCULLIS_BIN
        log "using PORTCULLIS_BIN=$PORTCULLIS_EXE"
    elif ! command -v cargo >/dev/null 2>&1; then
        UNAVAILABLE+=("portcullis=cargo not found and PORTCULLIS_BIN not set")
        return 1
    else
        log "building Portcullis: cargo build --release -p portcullis"
        if ! cargo build --release -q -p portcullis >"$WORK/cargo.log" 2>&1; then
            tail -n 30 "$WORK/cargo.log" >&2
            UNAVAILABLE+=("portcullis=cargo build --release -p portcullis failed")
            return 1
        fi
        PORTCULLIS_EXE="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/portcullis"
        [[ $PORTCULLIS_EXE == /* ]] || PORTCULLIS_EXE="$REPO_ROOT/$PORTCULLIS_EXE"
    fi
    if [[ ! -x $PORTCULLIS_EXE ]]; then
        UNAVAILABLE+=("portcullis=binary not found: $PORTCULLIS_EXE")
        return 1
    fi
}

start_portcullis() {
    local p
    for p in $PORTCULLIS_PORT $PORTCULLIS_ADMIN_PORT; do
        if port_in_use "$p"; then
            UNAVAILABLE+=("portcullis=127.0.0.1:$p already in use")
            return 1
        fi
    done
    log "starting Portcullis with $PORTCULLIS_CONFIG"
    RUST_LOG=warn "$PORTCULLIS_EXE" serve --no-watch --config "$PORTCULLIS_CONFIG" >"$WORK/portcullis.log" 2>&1 &
    PORTCULLIS_PID=$!
    PIDS+=("$PORTCULLIS_PID")
    if ! wait_http portcullis $PORTCULLIS_PORT "$PORTCULLIS_PID"; then
        warn "Portcullis did not start; its column is left out. Its output:"
        tail -n 30 "$WORK/portcullis.log" | sed 's/^/    /' >&2
        local first
        first=$(grep -m1 -E 'error|Error' "$WORK/portcullis.log" | tr -d '\r' | cut -c1-160 || true)
        UNAVAILABLE+=("portcullis=did not start${first:+: $first}")
        return 1
    fi
    local attack ok
    attack=$(status GET "http://127.0.0.1:$PORTCULLIS_PORT/v1/items?q='%20OR%201=1--")
    ok=$(status GET "http://127.0.0.1:$PORTCULLIS_PORT/v1/items?q=O'Brien")
    if [[ $attack != 403 || $ok != 200 ]]; then
        warn "Portcullis: ?q=' OR 1=1-- answered $attack (want 403), ?q=O'Brien answered $ok (want 200); measuring anyway"
    else
        log "portcullis: ?q=' OR 1=1-- -> 403, ?q=O'Brien -> 200"
    fi
}

# ---------------------------------------------------------------- run
MEASURE_ARGS=()
if want_crs; then
    ensure_modsecurity
    start_nginx
    if has crs-pl1; then verify_blocking "CRS PL1" $PL1_PORT; MEASURE_ARGS+=(--target "crs-pl1=127.0.0.1:$PL1_PORT"); fi
    if has crs-pl2; then verify_blocking "CRS PL2" $PL2_PORT; MEASURE_ARGS+=(--target "crs-pl2=127.0.0.1:$PL2_PORT"); fi
fi
if has portcullis; then
    if build_portcullis && start_portcullis; then
        MEASURE_ARGS=(--target "portcullis=127.0.0.1:$PORTCULLIS_PORT" "${MEASURE_ARGS[@]}")
    fi
fi
for u in "${UNAVAILABLE[@]}"; do MEASURE_ARGS+=(--unavailable "$u"); done
(( ${#MEASURE_ARGS[@]} )) || die "nothing to measure"
if ! printf '%s\n' "${MEASURE_ARGS[@]}" | grep -q -- '--target'; then
    die "no target could be started"
fi

OUT_DIR="$WAF_DIR/results/$(date +%Y%m%d-%H%M%S)"
python3 "$WAF_DIR/measure.py" "${MEASURE_ARGS[@]}" --limit "$LIMIT" --concurrency "$CONCURRENCY" --out-dir "$OUT_DIR"
cp "$WORK/portcullis.log" "$OUT_DIR/" 2>/dev/null || true
if [[ ${WAF_BENCH_AUDIT:-0} == 1 ]]; then
    for f in "$WORK"/audit-crs-pl*.log; do
        [[ -f $f ]] && gzip -c "$f" >"$OUT_DIR/$(basename "$f").gz"
    done
    log "ModSecurity audit logs (matched rules of every 4xx): $OUT_DIR/audit-crs-pl*.log.gz"
fi
