#!/usr/bin/env bash
# CSV upload benchmark.
#
#   scripts/bench-upload.sh [rows=100000]
#
# Builds release, starts the server on a temp data dir, writes a seeded CSV of ROWS parts
# (9 columns, quoted fields), uploads it once through POST /ingest/parts/item/upload and prints
# records/s (durable: the response comes after the flush), the file size and the server's RSS
# before and at peak. Results: bench-results/upload.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-100000}
PORT=${BENCH_PORT:-18082}
OUT=bench-results/upload.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix
source scripts/bench-server.sh
CSV=$(mktemp --suffix=.csv)
trap 'stop_bench_server; rm -f "$CSV"' EXIT
start_bench_server "$PORT" '["ingest"]'

python3 - "$ROWS" "$CSV" <<'PY'
import csv, random, sys
rows, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
materials = ["steel 8.8", "stainless A2", "stainless A4", "brass", "aluminium", "PA66"]
kinds = ["Hex bolt", "Socket screw", "Hex nut", "Washer", "Threaded rod", "Set screw"]
with open(path, "w", newline="") as f:
    w = csv.writer(f, delimiter=";")
    w.writerow(["name", "source_id", "part_number", "material", "thread", "length_mm",
                "price_eur", "in_stock", "notes"])
    for i in range(rows):
        m = rng.choice([3, 4, 5, 6, 8, 10, 12, 16, 20])
        length = rng.choice([8, 10, 12, 16, 20, 25, 30, 40, 50, 60, 80, 100])
        kind = rng.choice(kinds)
        w.writerow([f"{kind} M{m}x{length} {rng.choice(materials)}", f"csv-{i:07d}",
                    f"QX-{m:02d}{length:03d}-{i:07d}", rng.choice(materials), f"M{m}", length,
                    f"{rng.uniform(0.01, 12):.2f}", rng.choice(["true", "false"]),
                    f"lot {rng.randint(1, 999)}; \"batch\" {rng.randint(1, 99)}"])
PY
SIZE=$(stat -c %s "$CSV")
RSS_BEFORE=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$SERVER/status)
START=$(date +%s.%N)
RESP=$(curl -sf -X POST "$BASE/api/v1/ingest/parts/item/upload" -H "Authorization: Bearer $KEY" \
  -F "file=@$CSV;type=text/csv")
END=$(date +%s.%N)
HWM=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$SERVER/status)
ACCEPTED=$(echo "$RESP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-upload.sh $ROWS"
  echo "file: $ROWS rows, $((SIZE / 1024 / 1024)) MB"
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'upload: {s:.2f} s, {int(sys.argv[3])/s:,.0f} records/s ({sys.argv[3]} accepted)')" "$START" "$END" "$ACCEPTED"
  echo "server RSS before / peak: $RSS_BEFORE MB / $HWM MB"
} | tee "$OUT"
