#!/usr/bin/env bash
# MCP tool-call latency beside REST search.
#
#   scripts/bench-mcp.sh [count=1000000] [seconds=20] [concurrency=16]
#
# Builds release and starts the server like bench-search.sh (scripts/bench-server.sh), loads COUNT
# generated parts with the search benchmark's driver (which waits until all are searchable),
# then runs the same 16 queries two ways with wrk for SECONDS each at CONCURRENCY connections:
# REST `POST /api/v1/search/parts` (format compact, limit 10) and MCP `tools/call
# qanatix_search` (limit 10) in one session. Latencies are client-side (wrk), so they include
# HTTP, auth, JSON-RPC framing and the text rendering. Results: bench-results/mcp.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-1000000}
SECONDS_=${2:-20}
CONC=${3:-16}
PORT=${BENCH_PORT:-18082}
OUT=bench-results/mcp.txt
mkdir -p bench-results
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

cargo build --release --quiet --bin qanatix
source scripts/bench-server.sh
search_driver

use_bench_workdir
start_bench_server "$PORT" '["search","ingest"]'

# Load and wait until searchable (the driver's own query phase is cut to one second).
LOAD=$(BASE="$BASE" KEY="$KEY" COUNT="$COUNT" SECONDS=1 CONCURRENCY=1 "$DRIVER")
echo "$LOAD" | head -3

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
queries = [
    ({"query": q}) for q in ["stainless hex bolt", "ball bearing", "shaft seal FKM",
                             "induction motor", "O-ring NBR", "socket screw", "washer",
                             "brass nut", "DIN 933", "ISO 3601", "6204-2RS",
                             "sealed ball bearing for an electric motor"]
] + [
    {"query": "hex bolt", "filters": {"material": "stainless steel", "diameter_mm_min": 8}},
    {"query": "bearing", "filters": {"brand": "SKF,FAG", "in_stock": True}},
    {"query": "motor", "filters": {"poles": 4}, "sort": "-power_kw"},
    {"query": "screw", "filters": {"grade": "A4-80"}, "sort": "-stock"},
]
with open(f"{work}/rest.txt", "w") as rest, open(f"{work}/mcp.txt", "w") as mcp:
    for q in queries:
        rest.write(json.dumps({**q, "limit": 10, "format": "compact"}) + "\n")
        args = {"collection": "parts", **q, "limit": 10}
        mcp.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": "qanatix_search", "arguments": args}}) + "\n")
PY

SESSION=$(curl -sf -D - -o /dev/null -X POST "$BASE/mcp/" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
  | sed -n 's/^mcp-session-id: *\([0-9a-f]*\).*/\1/Ip')
[ -n "$SESSION" ] || { echo "no MCP session" >&2; exit 1; }

# wrk's latency distribution line for a percentile, in ms.
pct() { awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
run() { # name url bodies session
  local out
  out=$(BODIES="$3" KEY="$KEY" SESSION="$4" wrk -t2 -c"$CONC" -d"${SECONDS_}s" --latency \
    -s scripts/wrk-post.lua "$2")
  printf '  %-28s %10s %8s %8s %8s\n' "$1" \
    "$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')" \
    "$(echo "$out" | pct 50%)" "$(echo "$out" | pct 90%)" "$(echo "$out" | pct 99%)"
  echo "$out" | grep -E "Non-2xx|Socket errors" | sed 's/^/    /' || true
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-mcp.sh $COUNT $SECONDS_ $CONC"
  echo "$LOAD" | head -3
  echo "16 queries (12 free-text incl. identifiers, 4 filtered/sorted), limit 10, wrk -t2 -c$CONC -d${SECONDS_}s, client-side latency in ms:"
  printf '  %-28s %10s %8s %8s %8s\n' "endpoint" "req/s" "p50" "p90" "p99"
  run "REST search (compact)" "$BASE/api/v1/search/parts" "$WORK/rest.txt" ""
  run "MCP tools/call qanatix_search" "$BASE/mcp/" "$WORK/mcp.txt" "$SESSION"
  echo "server RSS now / peak: $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status) / $(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' /proc/$SERVER/status)"
} | tee "$OUT"
