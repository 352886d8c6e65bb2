#!/usr/bin/env bash
# Snapshot and restore benchmark.
#
#   scripts/bench-snapshot.sh [count=100000]
#
# Builds release, starts the server on a temp data dir (bench-server.sh), loads COUNT seeded
# catalog records (gen-catalog) through the batch endpoint and waits until indexing is idle.
# Then: takes a snapshot over HTTP (POST /admin/snapshots, polling GET until completed),
# restores it with `qanatix restore` into a new dir, starts a server there and waits for
# /ready (the search index rebuilt from the store). Prints the snapshot's time and size, the
# data dir's size, the restore time and the time to /ready. Results: bench-results/snapshot.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-100000}
PORT=${BENCH_PORT:-18085}
RESTORED_PORT=$((PORT + 1))
OUT=bench-results/snapshot.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix --bin gen-catalog
source scripts/bench-server.sh
WORK=$(mktemp -d)
RESTORED_PID=
cleanup() {
  [ -n "$RESTORED_PID" ] && { kill "$RESTORED_PID" 2>/dev/null || true; wait "$RESTORED_PID" 2>/dev/null || true; }
  stop_bench_server
  rm -rf "$WORK"
}
trap cleanup EXIT
start_bench_server "$PORT" '["ingest","admin"]'

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

load_bench_catalog "$COUNT" "$WORK/batches"
DB_SIZE=$(du -sh "$DATA/data/store" | cut -f1)
INDEX_SIZE=$(du -sh "$DATA/data/index" | cut -f1)

# Snapshot over HTTP, polling the list until it is no longer running.
START=$(now)
ID=$(curl -sf -X POST "$BASE/api/v1/admin/snapshots" -H "Authorization: Bearer $MASTER" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
snapshot_field() { # field
  curl -sf "$BASE/api/v1/admin/snapshots" -H "Authorization: Bearer $MASTER" |
    python3 -c "import json,sys; s=[x for x in json.load(sys.stdin)['snapshots'] if x['id']=='$ID'][0]; print(s['$1'])"
}
while [ "$(snapshot_field status)" = running ]; do sleep 0.2; done
SNAPSHOT_SECS=$(since "$START")
[ "$(snapshot_field status)" = completed ] || { echo "snapshot failed: $(snapshot_field error)" >&2; exit 1; }
FILE=$(snapshot_field file)
SNAPSHOT_BYTES=$(stat -c %s "$FILE")
ENTITIES=$(snapshot_field records | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["entities"])')

# Restore into a new dir, then start a server there and wait for /ready.
START=$(now)
./target/release/qanatix restore "$FILE" --data-dir "$WORK/restored" >/dev/null 2>"$WORK/restore.err" ||
  { cat "$WORK/restore.err" >&2; exit 1; }
RESTORE_SECS=$(since "$START")
START=$(now)
RUST_LOG=warn QANATIX_MASTER_KEY="$MASTER" PLANS_FILE="$DATA/plans.json" DEFAULT_PLAN=bench \
  ./target/release/qanatix --port "$RESTORED_PORT" --data-dir "$WORK/restored" &
RESTORED_PID=$!
until curl -sf "http://127.0.0.1:$RESTORED_PORT/ready" >/dev/null; do sleep 0.2; done
READY_SECS=$(since "$START")
COUNT_BACK=$(curl -sf "http://127.0.0.1:$RESTORED_PORT/api/v1/admin/stats" -H "Authorization: Bearer $KEY" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["total_entities"])')

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-snapshot.sh $COUNT"
  echo "store / index size             : $DB_SIZE / $INDEX_SIZE"
  echo "snapshot (HTTP, until completed): $SNAPSHOT_SECS s, $SNAPSHOT_BYTES bytes, $ENTITIES entity-tree records"
  echo "restore (qanatix restore)       : $RESTORE_SECS s"
  echo "restored server to /ready       : $READY_SECS s (index rebuilt from the store)"
  echo "entities after restore          : $COUNT_BACK of $COUNT"
} | tee "$OUT"
