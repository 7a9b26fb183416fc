#!/usr/bin/env bash
# Runs the whole Portcullis test suite on a fresh Debian machine with a Rust toolchain.
# Installs what the tests need (curl, CA certificates, Node.js, Redis; PyJWT, boto3, Authlib, awslambdaric and the
# jose npm package for the compatibility tests; a
# PostgreSQL server started on 127.0.0.1 for the identity store's tests), then: formatting check, clippy (warnings are
# errors), unit, property, golden and integration tests, and `portcullis check` on every
# example.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# nginx is the real upstream of the path-canonicalisation differential test.
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)
# Redis: the shared-limits tests start their own servers on loopback (one server, and a
# three-node Redis Cluster made with redis-cli), and stop and restart them.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
# aws-lambda-ric (AWS's Node.js runtime interface client) compiles its native part with these.
for tool in cmake autoconf automake libtoolize make g++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case "$tool" in libtoolize) need_apt+=(libtool) ;; *) need_apt+=("$tool") ;; esac
  fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  else
    echo "missing packages: ${need_apt[*]} (run as root to install them)" >&2
    exit 1
  fi
fi

# Clients written by others that the compatibility tests drive: PyJWT verifies our tokens,
# boto3's cognito-idp client talks to the Cognito-compatible API, Authlib reads the OIDC
# discovery document and uses the token and userInfo endpoints.
# awslambdaric is AWS's runtime interface client: it runs the Python Lambda handlers of the
# Lambda authorizer tests, unmodified, against the gateway's Runtime API.
if ! python3 -c 'import jwt, cryptography, boto3, authlib, requests, awslambdaric' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'PyJWT[crypto]>=2.8,<3' 'boto3>=1.34,<2' \
    'Authlib>=1.3,<2' 'requests>=2.31,<3' 'awslambdaric>=3,<5'
fi

# The `jose` npm package mints tokens that the external-issuer tests must accept.
if [ ! -d tests/node/node_modules/jose ]; then
  (cd tests/node && npm install --no-audit --no-fund --silent)
fi

# The Node.js Lambda handler of the example runs under aws-lambda-ric, unmodified.
if [ ! -d examples/lambda-authorizer/node/node_modules/aws-lambda-ric ]; then
  (cd examples/lambda-authorizer/node && npm install --no-audit --no-fund --no-package-lock --silent)
fi

# A throwaway PostgreSQL on loopback; stopped again when the tests end.
PORTCULLIS_TEST_POSTGRES_URL=$(bash scripts/postgres.sh)
export PORTCULLIS_TEST_POSTGRES_URL
trap 'bash scripts/postgres.sh stop' EXIT

export CARGO_TERM_COLOR=never
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The Rust Lambda handler (lambda_runtime) that the Lambda authorizer tests run as a worker.
cargo build -p lambda-token-authorizer --locked
cargo test --workspace --locked

# Fuzz targets (fuzz/README.md). Their properties already ran above, on stable: each crate's
# `fuzzing` unit tests replay fuzz/corpus/<target>/* and a bounded number of random inputs.
# With PORTCULLIS_FUZZ_SECONDS=N, nightly and cargo-fuzz, each target also runs under
# libFuzzer for N seconds (building the targets from clean takes many minutes, so this is
# not done by default).
if [ "${PORTCULLIS_FUZZ_SECONDS:-0}" -gt 0 ]; then
  if cargo +nightly --version >/dev/null 2>&1 && cargo fuzz --version >/dev/null 2>&1; then
    # New inputs go to a scratch directory; the checked-in corpus is only read.
    scratch=$(mktemp -d)
    for target in jwt_verify jwks policy config h1_response lambda_output path caller_limits; do
      features=()
      case "$target" in h1_response | lambda_output | path | caller_limits) features=(--features gateway) ;; esac
      mkdir -p "$scratch/$target"
      (cd fuzz && cargo +nightly fuzz run "${features[@]}" "$target" "$scratch/$target" "corpus/$target" \
        -- -max_total_time="$PORTCULLIS_FUZZ_SECONDS")
    done
    rm -rf "$scratch"
  else
    echo "PORTCULLIS_FUZZ_SECONDS is set but nightly or cargo-fuzz is missing: fuzz runs skipped" >&2
  fi
fi
