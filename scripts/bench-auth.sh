#!/usr/bin/env bash
# Throughput of an authenticated, rate-limited route against the unauthenticated /health.
#
#   scripts/bench-auth.sh [duration_s=15] [connections=64]
#
# Builds release, starts the server with a plan whose limit does not throttle, runs wrk with the
# same threads/connections/duration against GET /health and GET /api/v1/auth/me (valid key), and
# prints both req/s and their ratio (target ≥ 0.80). Then runs the auth-path micro-benchmark
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
DATA=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
cat > "$DATA/plans.json" <<'JSON'
{"bench": {"general_rpm": 1000000000, "search_rpm": 1000000000}}
JSON
MASTER="bench-master-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Access logs off (warn): the benchmark measures the server, not terminal I/O.
RUST_LOG=warn QANATIX_MASTER_KEY="$MASTER" PLANS_FILE="$DATA/plans.json" DEFAULT_PLAN=bench \
  ./target/release/qanatix --port "$PORT" --data-dir "$DATA/data" &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

BASE="http://127.0.0.1:$PORT/api/v1"
curl -sf -X POST "$BASE/admin/tenants" -H "Authorization: Bearer $MASTER" \
  -H 'Content-Type: application/json' -d '{"tenant_id":"bench","plan":"bench"}' >/dev/null
KEY=$(curl -sf -X POST "$BASE/auth/keys" -H "Authorization: Bearer $MASTER" -H 'X-Tenant-Id: bench' \
  -H 'Content-Type: application/json' -d '{"name":"bench","scopes":["search"]}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
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

MICRO=$(cargo bench --quiet --bench auth_path 2>/dev/null | grep 'auth+ratelimit')

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-auth.sh $DURATION $CONNS  (wrk -t$THREADS -c$CONNS -d${DURATION}s)"
  echo "GET /health                  : $HEALTH req/s"
  echo "GET /api/v1/auth/me (Bearer) : $AUTHED req/s"
  echo "ratio authed/health          : $RATIO (target >= 0.80)"
  echo "$MICRO"
} | tee "$OUT"
