#!/usr/bin/env bash
# Peer comparison: the search benchmark's catalog and query mix on PostgreSQL full-text search
# and SQLite FTS5, on this machine.
#
#   scripts/bench-peers.sh [count=1000000] [seconds=20] [concurrency=16]
#
# Builds the search_load driver (release) and has it write the seeded catalog and its query mix
# (DUMP_QUERIES, DUMP_CATALOG: the same records and request bodies as scripts/bench-search.sh),
# then for each peer: loads COUNT records with 3 clients in batches of 10,000 (one transaction
# each, durable), runs the mix with CONCURRENCY client threads for SECONDS, and records load
# time, time to searchable, client-side p50/p99 per query kind, requests/s, size on disk and the
# load average after each phase. The SQL each search body becomes is in scripts/bench_peers.py.
# The table, with the server's numbers from bench-results/search.txt (bench-search.sh's output)
# when present, goes to bench-results/peers.txt.
#
# PostgreSQL: the newest /usr/lib/postgresql/*/bin (apt-get install postgresql), a fresh
# cluster on a temp dir and a free port, stopped and removed on exit. psycopg comes from PyPI
# into a venv under target/. PEERS (default "pg sqlite") picks the peers; PG_COPY=1 also times
# PostgreSQL's load through COPY (into a second table, after the queries).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${1:-1000000}
SECONDS_=${2:-20}
CONC=${3:-16}
PEERS=${PEERS:-pg sqlite}
OUT=bench-results/peers.txt
mkdir -p bench-results

WORK=$(mktemp -d)
PGDIR=""
PGBIN=""
as_pg() {
  # PostgreSQL refuses to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
stop_all() {
  if [ -n "$PGDIR" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
  rm -rf "$WORK"
}
trap stop_all EXIT

source scripts/bench-server.sh
search_driver
echo "writing $COUNT catalog records and the query mix..." >&2
DUMP_QUERIES="$WORK/queries.ndjson" DUMP_CATALOG="$WORK/catalog.ndjson" COUNT="$COUNT" "$DRIVER"

VENV=target/bench-peers-venv
if ! "$VENV/bin/python" -c 'import psycopg' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'psycopg[binary]==3.3.9'
fi
PY=("$VENV/bin/python" scripts/bench_peers.py)
COMMON=(--catalog "$WORK/catalog.ndjson" --queries "$WORK/queries.ndjson" --seconds "$SECONDS_"
  --concurrency "$CONC" --loaders 3)
RESULTS=()

for peer in $PEERS; do
  case $peer in
    pg)
      PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
      [ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
      PGDIR=$(mktemp -d)
      [ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
      PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      # Durable commits (fsync, synchronous_commit on: a commit returns once its WAL is on
      # disk, as the server acknowledges a batch once it is flushed); memory settings for a
      # 24 GiB, 2-core machine; JIT off, its compile time exceeds these queries' run time.
      PGCONF="synchronous_commit=on fsync=on shared_buffers=2GB effective_cache_size=16GB
        work_mem=64MB maintenance_work_mem=1GB max_wal_size=4GB checkpoint_timeout=15min
        random_page_cost=1.1 jit=off max_connections=100"
      OPTS="-p $PGPORT -h 127.0.0.1 -k $PGDIR"
      for c in $PGCONF; do OPTS="$OPTS -c $c"; done
      as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth-local=trust --auth-host=trust >/dev/null
      as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -o "$OPTS" start >/dev/null
      "$PGBIN/psql" -X -q -h "$PGDIR" -p "$PGPORT" -U postgres -c "CREATE DATABASE catalog" >/dev/null
      "${PY[@]}" pg "${COMMON[@]}" --dsn "host=127.0.0.1 port=$PGPORT user=postgres dbname=catalog" \
        --pgdata "$PGDIR/data" --out "$WORK/pg.json" ${PG_COPY:+--copy} --config "$(echo $PGCONF | tr '\n' ' ')"
      as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null
      rm -rf "$PGDIR"
      PGDIR=""
      RESULTS+=("$WORK/pg.json")
      ;;
    sqlite)
      mkdir -p "$WORK/sqlite"
      "${PY[@]}" sqlite "${COMMON[@]}" --db "$WORK/sqlite/catalog.db" --out "$WORK/sqlite.json" \
        --config "WAL, synchronous=FULL, cache_size 256 MiB and mmap_size 8 GiB per connection, FTS5 contentless, porter unicode61" \
        < /dev/null
      RESULTS+=("$WORK/sqlite.json")
      ;;
    *) echo "unknown peer: $peer (pg, sqlite)" >&2; exit 2 ;;
  esac
done

"${PY[@]}" report --ours bench-results/search.txt \
  --command "scripts/bench-peers.sh $COUNT $SECONDS_ $CONC" \
  --memory "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)" \
  "${RESULTS[@]}" | tee "$OUT"
for r in "${RESULTS[@]}"; do cp "$r" "bench-results/peers-$(basename "$r")"; done
