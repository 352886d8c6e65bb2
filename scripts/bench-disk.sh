#!/usr/bin/env bash
# Disk benchmark: where a data dir's bytes go.
#
#   scripts/bench-disk.sh [count=300000]
#
# Builds release, loads COUNT seeded catalog records through the batch endpoint with 3 clients
# (bench-server.sh; embeddings on, as by default), waits until indexing is idle, notes server
# RSS, stops the server cleanly and prints the data dir's size, its files (the store's
# journals and keyspaces, the tantivy index) and, per store tree, entries and key/value bytes
# (store-sizes). BENCH_SERVER_ENV passes settings to the server. Results: bench-results/disk.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-300000}
PORT=${BENCH_PORT:-18089}
OUT=bench-results/disk.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix --bin gen-catalog --bin store-sizes
source scripts/bench-server.sh
use_bench_workdir
start_bench_server "$PORT" '["ingest","admin"]'
LOAD=$(load_bench_catalog "$COUNT" "$WORK/batches" 2>&1 >/dev/null | tail -1)
RSS=$(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status)
HWM=$(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status)
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: ${BENCH_SERVER_ENV:+BENCH_SERVER_ENV=\"$BENCH_SERVER_ENV\" }scripts/bench-disk.sh $COUNT"
  echo "$LOAD"
  echo "server RSS after load / peak: $RSS / $HWM"
  echo "data dir (du -sh): $(du -sh "$DATA/data" | cut -f1)"
  echo
  ./target/release/store-sizes "$DATA/data"
} | tee "$OUT"
