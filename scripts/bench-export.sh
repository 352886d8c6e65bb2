#!/usr/bin/env bash
# Export benchmark.
#
#   scripts/bench-export.sh [count=1000000]
#
# Builds release, starts the server on a temp data dir, loads COUNT seeded catalog records
# through the batch endpoint, waits until indexing is idle, then streams GET /export in ndjson
# and in csv to a counting sink. Prints records/s per format and the server's RSS before each
# export and its highest value sampled (every 100 ms) during it, and the time of one
# GET /admin/stats (a scan of every entity). Results: bench-results/export.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-1000000}
PORT=${BENCH_PORT:-18083}
OUT=bench-results/export.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix --bin gen-catalog
source scripts/bench-server.sh
BATCHES=$(mktemp -d)
trap 'stop_bench_server; rm -rf "$BATCHES"' EXIT
start_bench_server "$PORT" '["ingest","admin"]'

load_bench_catalog "$COUNT" "$BATCHES"

rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$SERVER/status"; }
measure() { # format -> "records seconds rss_before rss_max"
  local before max=0 sampler lines start end
  before=$(rss)
  ( while true; do rss; sleep 0.1; done ) > "$BATCHES/rss.$1" &
  sampler=$!
  start=$(date +%s.%N)
  lines=$(curl -sf "$BASE/api/v1/export?format=$1" -H "Authorization: Bearer $KEY" | wc -l)
  end=$(date +%s.%N)
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  max=$(sort -n "$BATCHES/rss.$1" | tail -1)
  [ "$1" = csv ] && lines=$((lines - 1))   # header row
  python3 -c "import sys; s=float(sys.argv[3])-float(sys.argv[2]); n=int(sys.argv[1]); print(f'{n} records in {s:.1f} s = {n/s:,.0f} records/s; server RSS before {sys.argv[4]} MB, max during export {sys.argv[5]} MB')" \
    "$lines" "$start" "$end" "$before" "$max"
}
# /admin/stats scans every entity: its cost at this size.
STATS_START=$(date +%s.%N)
curl -sf "$BASE/api/v1/admin/stats" -H "Authorization: Bearer $KEY" >/dev/null
STATS=$(python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f} s')" "$STATS_START" "$(date +%s.%N)")
NDJSON=$(measure ndjson)
CSV=$(measure csv)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-export.sh $COUNT"
  echo "ndjson: $NDJSON"
  echo "csv   : $CSV (two passes: columns, then rows)"
  echo "GET /admin/stats over $COUNT entities: $STATS"
} | tee "$OUT"
