#!/usr/bin/env bash
# Throughput of an authenticated, rate-limited route against the unauthenticated /health.
#
#   scripts/bench-auth.sh [duration_s=15] [connections=64]
#
# Builds release, starts the server with a plan whose limit does not throttle, runs wrk with the
# same threads/connections/duration against GET /health and GET /api/v1/auth/me (valid key), and
# prints both req/s and their ratio (target ≥ 0.80); then /auth/me again on a server with usage
# metering off (METERING_ENABLED=false), for metering's cost. Then runs the auth-path micro-benchmark
# (target < 2 µs per request). Results go to bench-results/auth.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-15}
CONNS=${2:-64}
THREADS=1            # wrk shares the 2 cores with the server: one thread leaves the server room.
PORT=${BENCH_PORT:-18080}
OUT=bench-results/auth.txt
mkdir -p bench-results

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)..." >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet
source scripts/bench-server.sh
trap stop_bench_server EXIT
start_bench_server "$PORT" '["search"]'
BASE="$BASE/api/v1"
curl -sf "$BASE/auth/me" -H "Authorization: Bearer $KEY" >/dev/null

run_wrk() { # url [header] -> req/s
  local args=(-t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency)
  [ $# -gt 1 ] && args+=(-H "$2")
  wrk "${args[@]}" "$1" | tee -a "$OUT.raw" | awk '/Requests\/sec/ {print $2}'
}

: > "$OUT.raw"
run_wrk "http://127.0.0.1:$PORT/health" >/dev/null   # warm-up
HEALTH=$(run_wrk "http://127.0.0.1:$PORT/health")
AUTHED=$(run_wrk "$BASE/auth/me" "Authorization: Bearer $KEY")
RATIO=$(python3 -c "print(f'{$AUTHED/$HEALTH:.3f}')")

# The same route on a second server with usage metering off: the metering's cost.
stop_bench_server
BENCH_SERVER_ENV="METERING_ENABLED=false" start_bench_server "$PORT" '["search"]'
curl -sf "$BASE/api/v1/auth/me" -H "Authorization: Bearer $KEY" >/dev/null
UNMETERED=$(run_wrk "$BASE/api/v1/auth/me" "Authorization: Bearer $KEY")
METER_RATIO=$(python3 -c "print(f'{$AUTHED/$UNMETERED:.3f}')")

MICRO=$(cargo bench --quiet --bench auth_path 2>/dev/null | grep 'auth+ratelimit')

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-auth.sh $DURATION $CONNS  (wrk -t$THREADS -c$CONNS -d${DURATION}s)"
  echo "GET /health                  : $HEALTH req/s"
  echo "GET /api/v1/auth/me (Bearer) : $AUTHED req/s"
  echo "ratio authed/health          : $RATIO (target >= 0.80)"
  echo "GET /api/v1/auth/me, metering off: $UNMETERED req/s (metered/unmetered $METER_RATIO)"
  echo "$MICRO"
} | tee "$OUT"
