#!/usr/bin/env bash
# Connector pull benchmark: PostgreSQL → qanatix.
#
#   scripts/bench-connector.sh [rows=1000000] [batch_size=1000]
#
# Builds release, starts PostgreSQL (the system's packages) on a temp data dir and a free port,
# fills a table of ROWS parts with generate_series, starts the server on a temp data dir, creates
# a postgresql connector for the table and pulls it once through POST /connectors/{id}/pull. The
# time is the whole request, which ends after the rows are durable. Prints rows/s and the
# server's RSS before, sampled max during, and peak (VmHWM). Results: bench-results/connector.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
BATCH=${2:-1000}
PORT=${BENCH_PORT:-18083}
OUT=bench-results/connector.txt
mkdir -p bench-results

cargo build --release --quiet --bin qanatix
source scripts/bench-server.sh

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
PGDIR=$(mktemp -d)
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg() {
  # PostgreSQL refuses to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
stop_all() {
  stop_bench_server
  [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap stop_all EXIT

as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
  -o "-p $PGPORT -h 127.0.0.1 -k $PGDIR -c fsync=off -c full_page_writes=off" start >/dev/null
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$PGPORT" -U postgres)
"${PSQL[@]}" -c "CREATE ROLE bench LOGIN PASSWORD 'bench-pw'" >/dev/null
"${PSQL[@]}" -c "CREATE DATABASE catalog OWNER bench" >/dev/null
GEN_START=$(date +%s.%N)
"${PSQL[@]}" -d catalog -U bench -c "
  CREATE TABLE parts AS
  SELECT g AS id,
         (ARRAY['Hex bolt','Socket screw','Hex nut','Washer','Threaded rod','Set screw'])[g % 6 + 1]
           || ' M' || (g % 9 + 3) || 'x' || (g % 12 * 5 + 10) || ' ' || g AS name,
         'QX-' || lpad(g::text, 8, '0') AS part_number,
         (ARRAY['steel 8.8','stainless A2','stainless A4','brass','aluminium','PA66'])[g % 6 + 1] AS material,
         'M' || (g % 9 + 3) AS thread,
         g % 12 * 5 + 10 AS length_mm,
         round((g % 1200) / 100.0 + 0.01, 2) AS price_eur,
         g % 3 <> 0 AS in_stock,
         now() AS updated_at
  FROM generate_series(1, $ROWS) g" >/dev/null
GEN_END=$(date +%s.%N)

start_bench_server "$PORT" '["admin"]'
CONNECTOR=$(curl -sf -X POST "$BASE/api/v1/connectors" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d "{
    \"name\": \"bench\", \"connector_type\": \"postgresql\", \"collection\": \"parts\",
    \"record_type\": \"item\", \"batch_size\": $BATCH,
    \"connection_config\": {\"host\": \"127.0.0.1\", \"port\": $PGPORT, \"database\": \"catalog\",
                            \"user\": \"bench\", \"password\": \"bench-pw\"},
    \"query\": \"SELECT id AS source_id, name, part_number, material, thread, length_mm, price_eur, in_stock FROM parts WHERE updated_at > :last_pull\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

RSS_BEFORE=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$SERVER/status)
# RSS sampled every 100 ms during the pull: the peak of the pull itself.
( max=0; while kill -0 "$SERVER" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$SERVER/status 2>/dev/null || echo 0)
    [ "$r" -gt "$max" ] && max=$r && echo "$max" > "$PGDIR/rss.max"
    sleep 0.1
  done ) &
SAMPLER=$!
START=$(date +%s.%N)
RESP=$(curl -sf -m 3600 -X POST "$BASE/api/v1/connectors/$CONNECTOR/pull" -H "Authorization: Bearer $KEY")
END=$(date +%s.%N)
HWM=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$SERVER/status)
RSS_MAX=$(cat "$PGDIR/rss.max" 2>/dev/null || echo "?")
ACCEPTED=$(echo "$RESP" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["summary"]["accepted"]) if r["status"]=="complete" else sys.exit("pull did not complete: " + json.dumps(r))')
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
  echo "command: scripts/bench-connector.sh $ROWS $BATCH"
  echo "postgres: $("$PGBIN/postgres" --version), table of $ROWS rows filled in $(python3 -c "print(f'{float(\"$GEN_END\")-float(\"$GEN_START\"):.1f}')") s"
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'pull: {s:.2f} s, {int(sys.argv[3])/s:,.0f} rows/s ({sys.argv[3]} accepted, durable)')" "$START" "$END" "$ACCEPTED"
  echo "server RSS before / max sampled during / peak (VmHWM): $RSS_BEFORE MB / $RSS_MAX MB / $HWM MB"
} | tee "$OUT"
