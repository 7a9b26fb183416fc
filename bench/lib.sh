# shellcheck shell=bash
# Helpers shared by the load benchmarks (sourced, not run).

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# target/release/portcullis, built unless PORTCULLIS_BIN names a binary.
portcullis_bin() {
  if [ -n "${PORTCULLIS_BIN:-}" ]; then
    echo "$PORTCULLIS_BIN"
  else
    (cd "$REPO_ROOT" && cargo build --release -q -p portcullis) >&2
    echo "$REPO_ROOT/target/release/portcullis"
  fi
}

# A scratch directory in $TMP and background processes in PIDS, both gone on exit.
scratch() {
  TMP=$(mktemp -d)
  PIDS=()
  trap stop_scratch EXIT
}
stop_scratch() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}

# Fields of wrk --latency output on stdin.
field() { awk -v k="$1" '$1==k {print $2}'; }
rps() { awk '/Requests\/sec/ {print $2}'; }
non2xx() { awk '/Non-2xx/ {print $NF}'; }
ms() { # wrk latency value -> milliseconds
  awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000}}'
}

# Prints "rps p50_ms p99_ms non2xx socket_errors requests" for a wrk --latency output file,
# or fails.
parse_wrk() {
  awk '
    function ms(v,   n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n / 1000
      if (u == "ms") return n
      if (u == "s")  return n * 1000
      if (u == "m")  return n * 60000
      if (u == "h")  return n * 3600000
      return -1
    }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    / requests in / { reqs = $1 }
    /Non-2xx or 3xx responses:/ { non = $NF }
    /Socket errors:/ { gsub(/,/, ""); se = $4 + $6 + $8 + $10 }
    END {
      if (rps == "" || p50 == "" || p99 == "" || p50 < 0 || p99 < 0) exit 1
      printf "%.2f %.3f %.3f %d %d %d\n", rps, p50, p99, non + 0, se + 0, reqs + 0
    }' "$1"
}
