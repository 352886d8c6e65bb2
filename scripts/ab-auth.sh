#!/usr/bin/env bash
# A/B of two server binaries on the auth path: for each binary in turn, a fresh server with a
# plan that does not throttle, wrk warm-up, then GET /health and GET /api/v1/auth/me (Bearer).
#
#   scripts/ab-auth.sh OLD_BINARY NEW_BINARY [rounds=2]
#
# Build the old one from another commit into its own target dir, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/oldtgt cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${3:-2}
PORT=${BENCH_PORT:-18090}

one() { # binary → "health=… authme=… ratio=…"
  local bin=$1 data master server key health authme
  data=$(mktemp -d)
  echo '{"bench": {"general_rpm": 1000000000, "search_rpm": 1000000000}}' > "$data/plans.json"
  master="bench-master-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  RUST_LOG=warn QANATIX_MASTER_KEY="$master" PLANS_FILE="$data/plans.json" DEFAULT_PLAN=bench \
    "$bin" --port "$PORT" --data-dir "$data/data" &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/admin/tenants" -H "Authorization: Bearer $master" \
    -H 'Content-Type: application/json' -d '{"tenant_id":"bench","plan":"bench"}' >/dev/null
  key=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/keys" -H "Authorization: Bearer $master" \
    -H 'X-Tenant-Id: bench' -H 'Content-Type: application/json' -d '{"name":"b","scopes":["search"]}' |
    sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
  wrk -t1 -c64 -d5s "http://127.0.0.1:$PORT/health" >/dev/null
  health=$(wrk -t1 -c64 -d10s "http://127.0.0.1:$PORT/health" | awk '/Requests\/sec/ {print $2}')
  authme=$(wrk -t1 -c64 -d10s -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/api/v1/auth/me" |
    awk '/Requests\/sec/ {print $2}')
  kill "$server"; wait "$server" 2>/dev/null || true; rm -rf "$data"
  echo "health=$health authme=$authme ratio=$(awk -v a="$authme" -v h="$health" 'BEGIN {printf "%.3f", a/h}')"
}

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r A ($1): $(one "$1")"
  echo "round $r B ($2): $(one "$2")"
done
