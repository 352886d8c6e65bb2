#!/usr/bin/env bash
# Counts and restart benchmark.
#
#   scripts/bench-restart.sh [count=1000000]
#
# Builds release, loads COUNT seeded catalog records (bench-server.sh), then measures the
# latency of the count endpoints (/admin/stats, /verticals, /collections, a tenant view; the
# median of 20 calls each, client-side with curl), the time from start to /ready after a clean
# stop (SIGTERM) and after kill -9, and checks that the counts after each restart equal those
# before. Results: bench-results/restart.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-1000000}
PORT=${BENCH_PORT:-18087}
OUT=bench-results/restart.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix --bin gen-catalog
source scripts/bench-server.sh
use_bench_workdir
start_bench_server "$PORT" '["ingest","admin","search"]'
load_bench_catalog "$COUNT" "$WORK/batches"

# median_ms PATH [AUTH]: median of 20 GETs, in ms.
median_ms() {
  for _ in $(seq 20); do
    curl -sf -o /dev/null -w '%{time_total}\n' "$BASE$1" -H "Authorization: Bearer ${2:-$KEY}"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)] * 1000}'
}
total() {
  curl -sf "$BASE/api/v1/admin/stats" -H "Authorization: Bearer $KEY" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["total_entities"])'
}
# restart HOW: stops the server (term or kill), starts it again on the same dir; SECS = seconds to /ready.
restart() {
  if [ "$1" = kill ]; then kill -9 "$SERVER"; else kill "$SERVER"; fi
  wait "$SERVER" 2>/dev/null || true
  local start; start=$(date +%s.%N)
  RUST_LOG=warn,qanatix::store=info QANATIX_MASTER_KEY="$MASTER" PLANS_FILE="$DATA/plans.json" \
    DEFAULT_PLAN=bench ./target/release/qanatix --port "$PORT" --data-dir "$DATA/data" >/dev/null 2>"$WORK/restart-$1.log" &
  SERVER=$!
  until curl -sf "$BASE/ready" >/dev/null 2>&1; do sleep 0.05; done
  SECS=$(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
}

STATS=$(median_ms /api/v1/admin/stats)
VERTICALS=$(median_ms /api/v1/verticals)
COLLECTIONS=$(median_ms /api/v1/collections)
TENANT=$(median_ms /api/v1/admin/tenants/bench "$MASTER")
BEFORE=$(total)
restart term
CLEAN=$SECS
AFTER_CLEAN=$(total)
restart kill
KILLED=$SECS
AFTER_KILL=$(total)

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-restart.sh $COUNT"
  echo "entities                        : $BEFORE"
  echo "GET /admin/stats (median of 20) : $STATS ms"
  echo "GET /verticals                  : $VERTICALS ms"
  echo "GET /collections                : $COLLECTIONS ms"
  echo "GET /admin/tenants/{id}         : $TENANT ms"
  echo "restart to /ready, clean stop   : $CLEAN s (entities after: $AFTER_CLEAN)"
  echo "restart to /ready, after kill -9: $KILLED s (entities after: $AFTER_KILL)"
  grep -h "counted" "$WORK"/restart-*.log | sed 's/^/  log: /' || true
} | tee "$OUT"
[ "$AFTER_CLEAN" = "$BEFORE" ] && [ "$AFTER_KILL" = "$BEFORE" ]
