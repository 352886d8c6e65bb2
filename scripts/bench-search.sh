#!/usr/bin/env bash
# Load + search benchmark.
#
#   scripts/bench-search.sh [count=1000000] [seconds=20] [concurrency=16]
#
# Builds release, starts the server on a temp data dir with a plan that does not throttle,
# generates COUNT catalog records, loads them through the batch endpoint, waits until all are
# searchable, runs a fixed mixed query set, and prints load records/s, time to searchable,
# server-side p50/p99 per query kind, HTTP req/s and server RSS. Results: bench-results/search.txt.
# IDLE=1 runs the mix a second time, without loading, once the server's CPU time has stopped
# growing for 10 s (after the indexer's last rounds and the store's compactions of fresh tables).
# BENCH_BIN runs another server binary.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-1000000}
SECONDS_=${2:-20}
CONC=${3:-16}
PORT=${BENCH_PORT:-18081}
OUT=bench-results/search.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix
source scripts/bench-server.sh
search_driver

trap stop_bench_server EXIT
start_bench_server "$PORT" '["search","ingest"]'

RESULT=$(BASE="$BASE" KEY="$KEY" COUNT="$COUNT" SECONDS="$SECONDS_" CONCURRENCY="$CONC" "$DRIVER")
RSS=$(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status)
HWM=$(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status)
DISK=$(du -sh "$DATA/data" | cut -f1)
IDLE_RESULT=""
if [ -n "${IDLE:-}" ]; then
  waited=0 idle=0 prev=0
  while [ "$idle" -lt 2 ] && [ "$waited" -lt 300 ]; do
    # utime + stime of the server, in clock ticks
    now=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
    if [ $((now - prev)) -lt 20 ]; then idle=$((idle + 1)); else idle=0; fi
    prev=$now
    sleep 5
    waited=$((waited + 5))
  done
  IDLE_RESULT="== after the server was idle (waited ${waited} s)
$(SKIP_LOAD=1 BASE="$BASE" KEY="$KEY" COUNT="$COUNT" SECONDS="$SECONDS_" CONCURRENCY="$CONC" "$DRIVER")"
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: ${IDLE:+IDLE=1 }scripts/bench-search.sh $COUNT $SECONDS_ $CONC"
  echo "$RESULT"
  echo "server RSS now / peak       : $RSS / $HWM"
  echo "data dir size               : $DISK"
  if [ -n "$IDLE_RESULT" ]; then echo "$IDLE_RESULT"; fi
} | tee "$OUT"
