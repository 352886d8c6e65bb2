#!/usr/bin/env bash
# A/B of two server binaries on write latency, in both dialects: for each binary in turn, a
# fresh server (plan that does not throttle, RUST_LOG=warn), then one client on one kept-alive
# connection sends, one after another:
#   records  POST /records                         (single record)       x SINGLES
#   entities POST /entities                        (single entity)       x SINGLES
#   records  POST /ingest/batch/{c}/{t}            (1,000 records)       x BATCHES
#   entities POST /ingest/{v}/{t}/batch            (1,000 records)       x BATCHES
# and prints client-side p50 / p90 / max in ms per kind. Records-dialect writes answer once
# searchable (API-RECORDS.md §3); the entities dialect's do not wait.
#
#   scripts/ab-write-latency.sh OLD_BINARY NEW_BINARY [rounds=2]
#
# SINGLES (default 100) and BATCHES (default 20) change the counts. Build the old binary from
# another commit (see scripts/ab-auth.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${3:-2}
PORT=${BENCH_PORT:-18091}
SINGLES=${SINGLES:-100}
BATCHES=${BATCHES:-20}

source scripts/bench-server.sh
SERVER= DATA=
trap stop_bench_server EXIT

one() { # binary → one line per kind
  BENCH_BIN=$1 start_bench_server "$PORT" '["entities","ingest","search"]'
  PORT=$PORT KEY=$KEY SINGLES=$SINGLES BATCHES=$BATCHES python3 - <<'EOF'
import http.client, json, os, time

conn = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]))
headers = {"Authorization": "Bearer " + os.environ["KEY"], "Content-Type": "application/json"}

def post(path, body):
    data = json.dumps(body)
    t = time.perf_counter()
    conn.request("POST", "/api/v1" + path, data, headers)
    r = conn.getresponse()
    r.read()
    ms = (time.perf_counter() - t) * 1e3
    assert r.status in (200, 201), (path, r.status)
    return ms

def row(kind, samples):
    s = sorted(samples)
    pick = lambda p: s[min(len(s) - 1, round((len(s) - 1) * p))]
    print(f"  {kind:<34} n={len(s):<4} p50 {pick(0.5):8.1f}  p90 {pick(0.9):8.1f}  max {s[-1]:8.1f} ms")

singles, batches = int(os.environ["SINGLES"]), int(os.environ["BATCHES"])
kinds = {"records POST /records": [], "entities POST /entities": [],
         "records batch of 1,000": [], "entities batch of 1,000": []}
for i in range(singles):
    kinds["records POST /records"].append(post("/records", {
        "collection": "rw", "record_type": "note", "name": f"Record probe {i}", "data": {"i": i}}))
    kinds["entities POST /entities"].append(post("/entities", {
        "vertical": "ew", "entity_type": "note", "name": f"Entity probe {i}", "vertical_data": {"i": i}}))
for b in range(batches):
    rows = [{"name": f"Batch {b} row {i}", "vertical_data": {"n": i, "b": b}} for i in range(1000)]
    kinds["records batch of 1,000"].append(post("/ingest/batch/rb/row", rows))
    kinds["entities batch of 1,000"].append(post("/ingest/eb/row/batch", {"records": rows}))
for k, v in kinds.items():
    row(k, v)
EOF
  stop_bench_server
  SERVER= # already stopped: the EXIT trap must not signal a pid that may be reused
}

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r A ($1):"; one "$1"
  echo "round $r B ($2):"; one "$2"
done
