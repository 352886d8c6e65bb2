#!/usr/bin/env bash
# Search throughput right after a bulk load and once the server is idle again.
#
#   scripts/bench-search-idle.sh [count=1000000] [seconds=15] [concurrency=16]
#
# Like bench-search.sh, but the search mix runs twice: right after the load (beside the
# indexer's last rounds and the storage engine's compactions of freshly written tables), then
# again, without loading, once the server's CPU time has stopped growing for 10 s. BENCH_BIN
# runs another server binary. Results: bench-results/search-idle.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-1000000}
SECONDS_=${2:-15}
CONC=${3:-16}
PORT=${BENCH_PORT:-18084}
OUT=bench-results/search-idle.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix
source scripts/bench-server.sh
search_driver

trap stop_bench_server EXIT
start_bench_server "$PORT" '["search","ingest"]'

HOT=$(BASE="$BASE" KEY="$KEY" COUNT="$COUNT" SECONDS="$SECONDS_" CONCURRENCY="$CONC" "$DRIVER")
waited=0 idle=0 prev=0
while [ "$idle" -lt 2 ] && [ "$waited" -lt 300 ]; do
  # utime + stime of the server, in clock ticks
  now=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  if [ $((now - prev)) -lt 20 ]; then idle=$((idle + 1)); else idle=0; fi
  prev=$now
  sleep 5
  waited=$((waited + 5))
done
IDLE=$(SKIP_LOAD=1 BASE="$BASE" KEY="$KEY" COUNT="$COUNT" SECONDS="$SECONDS_" CONCURRENCY="$CONC" "$DRIVER")
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-search-idle.sh $COUNT $SECONDS_ $CONC"
  echo "== right after the load"
  echo "$HOT"
  echo "== after the server was idle (waited ${waited} s)"
  echo "$IDLE"
} | tee "$OUT"
