#!/usr/bin/env python3
"""Peer side of scripts/bench-peers.sh: loads the benchmark catalog into PostgreSQL (full-text
search with tsvector + GIN) or SQLite (FTS5), runs the query mix of benches/search_load.rs
against it, and writes the measurements as JSON; `report` turns them into a table.

    bench_peers.py pg     --dsn DSN --pgdata DIR --catalog F --queries F --out F [...]
    bench_peers.py sqlite --db PATH --catalog F --queries F --out F [...]
    bench_peers.py report --ours bench-results/search.txt --command CMD RESULT.json...

The catalog and queries are what `DUMP_QUERIES=... DUMP_CATALOG=...` makes the search_load
driver write: the same seeded records and the same query bodies the server is measured with.
Each search body is translated to SQL here (see `Search` and the two `*_sql` functions).
"""

import argparse
import json
import os
import re
import sqlite3
import sys
import threading
import time

LIMIT = 20
# A query that runs longer than this is cut and counted as an error, so that one pathological
# statement cannot hold a client for the whole run.
QUERY_TIMEOUT_S = 60


# ---------------------------------------------------------------------------------------------
# Catalog and query mix


def read_catalog(path):
    """Batches of row tuples (id, source_id, entity_type, name, description, vertical_data JSON
    text, FTS body text), as the server receives them: one entity type per batch of 10,000."""
    batches = []
    next_id = 1
    with open(path, encoding="utf-8") as f:
        for line in f:
            batch = json.loads(line)
            rows = []
            for r in batch["records"]:
                data = r.get("vertical_data") or {}
                words = [str(v) for v in data.values() if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
                body = " ".join([r.get("description") or ""] + words)
                rows.append((next_id, r["source_id"], batch["entity_type"], r["name"],
                             r.get("description"), json.dumps(data, ensure_ascii=False), body))
                next_id += 1
            batches.append(rows)
    return batches


def read_queries(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    return sorted_values[round((len(sorted_values) - 1) * p)]


def dir_size(path, exclude=()):
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in exclude]
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


class Search:
    """A search request body, read the way the server reads it (API.md §6): query words,
    filters with their key suffixes (comma lists and `_in` are any-of, several keys are AND),
    sort, facets. One difference: string equality here is exact, where the server ignores
    case (the mix's values are spelled as stored), so that PostgreSQL can use its jsonb index."""

    RANGE = {"_min": ">=", "_max": "<=", "_gt": ">", "_lt": "<"}
    COLUMNS = ("entity_type",)

    def __init__(self, body):
        self.words = [w for w in (body.get("query") or "").split() if re.search(r"\w", w)]
        self.sort = body.get("sort")
        self.facets = body.get("facets") or []
        self.filters = []  # (field, op, values): op is "any" (values: list) or a comparison
        for key, value in (body.get("filters") or {}).items():
            suffix = next((s for s in self.RANGE if key.endswith(s)), None)
            if suffix and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.filters.append((key[: -len(suffix)], self.RANGE[suffix], value))
            elif key.endswith("_in"):
                values = value if isinstance(value, list) else str(value).split(",")
                self.filters.append((key[:-3], "any", [v.strip() if isinstance(v, str) else v for v in values]))
            elif isinstance(value, str) and "," in value:
                self.filters.append((key, "any", [v.strip() for v in value.split(",")]))
            else:
                self.filters.append((key, "any", [value]))

    def order_by(self, value_of, table, best_first):
        """The ORDER BY: `sort`'s field (records without it last), else relevance
        (`best_first`), else newest first (the server lists by updated_at). `value_of(field)`
        is the SQL of a vertical_data field, `table` the rows' qualifier ("" or "p.")."""
        if not self.sort:
            return best_first if self.words else f"{table}id DESC"
        field, direction = self.sort.lstrip("-"), "DESC" if self.sort.startswith("-") else "ASC"
        if field == "name":
            return f"{table}name {direction}, {table}id"
        if field in ("created_at", "updated_at"):
            return f"{table}id {direction}"
        return f"{value_of(field)} {direction} NULLS LAST, {table}id"


# ---------------------------------------------------------------------------------------------
# PostgreSQL

PG_SCHEMA = """
CREATE TABLE parts (
  id bigint PRIMARY KEY,
  source_id text NOT NULL UNIQUE,
  entity_type text NOT NULL,
  name text NOT NULL,
  description text,
  vertical_data jsonb NOT NULL,
  -- The name weighs most (weight A), like the server's name boost; description and the string
  -- and number values of vertical_data follow. 'english': stop words dropped, words stemmed,
  -- as the server's analyzer does.
  tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', name), 'A')
    || to_tsvector('english', coalesce(description, ''))
    || jsonb_to_tsvector('english', vertical_data, '["string", "numeric"]')) STORED
);
CREATE INDEX parts_tsv ON parts USING gin (tsv);
CREATE INDEX parts_vertical_data ON parts USING gin (vertical_data jsonb_path_ops);
CREATE INDEX parts_entity_type ON parts (entity_type);
"""
# btree indexes for the fields the mix sorts by (jsonb compares numbers numerically).
SORTED_FIELDS = ("price_eur", "bore_mm", "power_kw", "stock")

PG_COLUMNS = "id, source_id, entity_type, name, description, vertical_data"


def tsquery_text(words):
    """AND of the words, the last one a prefix (as the server matches a word being typed);
    tsquery operators are stripped from the words, which to_tsquery then normalizes."""
    cleaned = [re.sub(r"[&|!():*<>'\\]", " ", w).strip() for w in words]
    cleaned = [c for c in cleaned if c]
    if not cleaned:
        return None
    terms = [f"'{c}'" for c in cleaned]
    terms[-1] += ":*"
    return " & ".join(terms)


def pg_sql(search):
    """(page SQL, params, facet SQL or None, params) for one search."""
    where, params = [], []
    rank = "0"
    frm, frm_params = "parts", []
    if search.words:
        frm = "parts, to_tsquery('english', %s) q"
        frm_params = [tsquery_text(search.words) or ""]
        where.append("tsv @@ q")
        rank = "ts_rank(tsv, q)"
    for field, op, value in search.filters:
        if field in Search.COLUMNS:
            where.append(f"{field} = ANY(%s)")
            params.append([str(v) for v in value])
        elif op == "any":
            # Containment uses the jsonb_path_ops GIN index (exact, case-sensitive values).
            where.append("(" + " OR ".join(["vertical_data @> %s::jsonb"] * len(value)) + ")")
            params.extend(json.dumps({field: v}) for v in value)
        else:
            where.append(f"(CASE WHEN jsonb_typeof(vertical_data->%s) = 'number' "
                         f"THEN (vertical_data->>%s)::numeric END) {op} %s")
            params.extend([field, field, value])
    where_sql = " AND ".join(where) or "true"
    order = search.order_by(lambda f: "vertical_data->'" + f.replace("'", "") + "'", "", "score DESC, id")
    page = (f"SELECT id, entity_type, name, description, vertical_data::text, {rank} AS score "
            f"FROM {frm} WHERE {where_sql} ORDER BY {order} LIMIT {LIMIT}")
    facet = None
    if search.facets:
        facet = (f"SELECT k.field, vertical_data->>k.field AS value, count(*) "
                 f"FROM {frm}, unnest(%s::text[]) AS k(field) "
                 f"WHERE {where_sql} AND vertical_data->>k.field IS NOT NULL GROUP BY 1, 2")
        return page, frm_params + params, facet, frm_params + [list(search.facets)] + params
    return page, frm_params + params, None, None


def pg_version(conn):
    return conn.execute("SHOW server_version").fetchone()[0]


def run_pg(args):
    import psycopg

    result = {"system": "postgresql", "config": args.config}
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        result["version"] = "PostgreSQL " + pg_version(conn).split()[0]
        conn.execute(PG_SCHEMA)
        for f in SORTED_FIELDS:
            conn.execute(f"CREATE INDEX parts_sort_{f} ON parts ((vertical_data->'{f}'))")

    batches = read_catalog(args.catalog)
    records = sum(len(b) for b in batches)

    def insert(conn, rows):
        sql = ("INSERT INTO parts (" + PG_COLUMNS + ") VALUES "
               + ",".join(["(%s,%s,%s,%s,%s,%s::jsonb)"] * len(rows)))
        params = [v for row in rows for v in row[:6]]
        with conn.transaction():
            conn.execute(sql, params, prepare=False)

    result["load"] = timed_load(lambda: psycopg.connect(args.dsn, autocommit=True), insert,
                                batches, args.loaders, records)
    # Indexes are maintained inside each INSERT's transaction: searchable at the last commit.
    result["load"]["searchable_s"] = result["load"]["seconds"]
    started = time.monotonic()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE parts")
        result["vacuum_analyze_s"] = time.monotonic() - started
        result["table_rows"] = conn.execute("SELECT count(*) FROM parts").fetchone()[0]
    wal = os.path.join(args.pgdata, "pg_wal")
    result["size"] = {"data dir without pg_wal": dir_size(args.pgdata, exclude=(wal,)),
                      "data dir with pg_wal": dir_size(args.pgdata)}

    def connect():
        conn = psycopg.connect(args.dsn, autocommit=True)
        conn.execute(f"SET statement_timeout = '{QUERY_TIMEOUT_S}s'")
        return conn

    def run(conn, body):
        page, params, facet, facet_params = pg_sql(Search(body))
        rows = conn.execute(page, params).fetchall()
        if facet:
            conn.execute(facet, facet_params).fetchall()
        return rows

    def ping(conn):
        conn.execute("SELECT 1").fetchall()

    result.update(timed_queries(connect, run, ping, read_queries(args.queries), args.seconds,
                                args.concurrency))

    if args.copy:
        # The same load through COPY into a second table with the same columns and indexes.
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE parts_copy (LIKE parts INCLUDING ALL)")

        def copy(conn, rows):
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy("COPY parts_copy (" + PG_COLUMNS + ") FROM STDIN") as out:
                    for row in rows:
                        out.write_row(row[:6])

        result["load_copy"] = timed_load(lambda: psycopg.connect(args.dsn, autocommit=True), copy,
                                         batches, args.loaders, records)
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE parts_copy")
    write_result(args.out, result)


# ---------------------------------------------------------------------------------------------
# SQLite

SQLITE_SCHEMA = """
CREATE TABLE parts (
  id INTEGER PRIMARY KEY,
  source_id TEXT NOT NULL UNIQUE,
  entity_type TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  data TEXT NOT NULL
);
CREATE INDEX parts_entity_type ON parts (entity_type);
-- Contentless: the text lives in parts; the index only maps words to rowids (bm25 needs no
-- content). Porter stemming like the server's analyzer; no stop-word list in FTS5.
CREATE VIRTUAL TABLE parts_fts USING fts5(name, body, content='',
  tokenize='porter unicode61 remove_diacritics 2');
"""


def fts5_match(words):
    """AND of the words (each a quoted FTS5 string, so no word is read as syntax), the last
    one a prefix."""
    terms = ['"' + w.replace('"', '""') + '"' for w in words]
    if not terms:
        return None
    terms[-1] += " *"
    return " AND ".join(terms)


def json_path(field):
    return '$."' + field.replace('"', "") + '"'


def sqlite_sql(search):
    where, params = [], []
    joins = "parts p"
    rank = "0"
    if search.words:
        joins = "parts_fts f JOIN parts p ON p.id = f.rowid"
        where.append("parts_fts MATCH ?")
        params.append(fts5_match(search.words))
        rank = "bm25(parts_fts, 3.0, 1.0)"  # the name counts three times, as on the server
    for field, op, value in search.filters:
        if field in Search.COLUMNS:
            where.append(f"p.{field} IN ({','.join('?' * len(value))})")
            params.extend(str(v) for v in value)
        elif op == "any":
            where.append(f"json_extract(p.data, ?) IN ({','.join('?' * len(value))})")
            params.append(json_path(field))
            # json_extract gives 1/0 for JSON true/false.
            params.extend(int(v) if isinstance(v, bool) else v for v in value)
        else:
            # Numbers only: SQLite orders any text above any number.
            where.append(f"json_type(p.data, ?) IN ('integer', 'real') AND json_extract(p.data, ?) {op} ?")
            params.extend([json_path(field), json_path(field), value])
    where_sql = " AND ".join(where) or "1"
    # bm25 is lower for better matches.
    order = search.order_by(lambda f: f"json_extract(p.data, '{json_path(f)}')", "p.", "score, p.id")
    page = (f"SELECT p.id, p.entity_type, p.name, p.description, p.data, {rank} AS score "
            f"FROM {joins} WHERE {where_sql} ORDER BY {order} LIMIT {LIMIT}")
    if not search.facets:
        return page, params, None, None
    # The match once (SQLite 3.40 parses the JSON text on every json_extract), then one
    # GROUP BY per field.
    counts = " UNION ALL ".join(
        "SELECT ?, json_extract(data, ?) AS v, count(*) FROM m WHERE v IS NOT NULL GROUP BY v"
        for _ in search.facets)
    facet = f"WITH m AS MATERIALIZED (SELECT p.data FROM {joins} WHERE {where_sql}) {counts}"
    facet_params = list(params)
    for field in search.facets:
        facet_params += [field, json_path(field)]
    return page, params, facet, facet_params


def sqlite_connect(path):
    conn = sqlite3.connect(path, isolation_level=None, timeout=600)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MiB per connection
    conn.execute("PRAGMA mmap_size=8589934592")
    return conn


class TimedConnection:
    """An sqlite3 connection with a per-query deadline (sqlite3.Connection takes no new
    attributes)."""

    def __init__(self, path):
        self.conn = sqlite_connect(path)
        self.until = None
        self.conn.set_progress_handler(self._check, 10000)

    def _check(self):
        return 1 if self.until and time.monotonic() > self.until else 0

    def execute(self, sql, params):
        self.until = time.monotonic() + QUERY_TIMEOUT_S
        try:
            return self.conn.execute(sql, params).fetchall()
        finally:
            self.until = None

    def close(self):
        self.conn.close()


def run_sqlite(args):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)
    conn = sqlite_connect(args.db)
    conn.executescript(SQLITE_SCHEMA)
    for f in SORTED_FIELDS:
        conn.execute(f"CREATE INDEX parts_sort_{f} ON parts (json_extract(data, '{json_path(f)}'))")
    result = {"system": "sqlite", "version": "SQLite " + sqlite3.sqlite_version,
              "config": args.config}
    conn.close()

    batches = read_catalog(args.catalog)
    records = sum(len(b) for b in batches)

    def insert(conn, rows):
        # One writer at a time: BEGIN IMMEDIATE waits (busy timeout) for the write lock.
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT INTO parts (id, source_id, entity_type, name, description, data) "
                             "VALUES (?,?,?,?,?,?)", (r[:6] for r in rows))
            conn.executemany("INSERT INTO parts_fts (rowid, name, body) VALUES (?,?,?)",
                             ((r[0], r[3], r[6]) for r in rows))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # Held open over the load and the size check: the last connection to close checkpoints the
    # WAL into the database file and deletes it.
    conn = sqlite_connect(args.db)
    result["load"] = timed_load(lambda: sqlite_connect(args.db), insert, batches, args.loaders, records)
    result["load"]["searchable_s"] = result["load"]["seconds"]  # FTS rows commit with the rows
    size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0  # noqa: E731
    result["size"] = {"db + wal after the load": size(args.db) + size(args.db + "-wal")}
    started = time.monotonic()
    conn.execute("ANALYZE")
    result["vacuum_analyze_s"] = time.monotonic() - started
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    result["size"]["db after a checkpoint"] = size(args.db)
    result["table_rows"] = conn.execute("SELECT count(*) FROM parts").fetchone()[0]
    conn.close()

    def run(conn, body):
        page, params, facet, facet_params = sqlite_sql(Search(body))
        rows = conn.execute(page, params)
        if facet:
            conn.execute(facet, facet_params)
        return rows

    def ping(conn):
        conn.execute("SELECT 1", ())

    result.update(timed_queries(lambda: TimedConnection(args.db), run, ping, read_queries(args.queries),
                                args.seconds, args.concurrency))
    write_result(args.out, result)


# ---------------------------------------------------------------------------------------------
# Shared measurement


def timed_load(connect, insert, batches, loaders, records):
    """LOADERS threads, each with its own connection, take the next batch until none is left;
    each batch is one transaction."""
    lock = threading.Lock()
    state = {"next": 0, "error": None}

    def loader():
        conn = connect()
        try:
            while True:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= len(batches) or state["error"]:
                    return
                insert(conn, batches[i])
        except Exception as e:  # reported after the join: a failed load is no measurement
            state["error"] = f"batch {i}: {e}"
        finally:
            conn.close()

    print(f"loading {records} records in {len(batches)} batches with {loaders} clients...", file=sys.stderr)
    started = time.monotonic()
    threads = [threading.Thread(target=loader) for _ in range(loaders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    if state["error"]:
        sys.exit("load failed: " + state["error"])
    print(f"loaded in {seconds:.1f} s", file=sys.stderr)
    return {"records": records, "seconds": seconds, "records_per_s": records / seconds,
            "loaders": loaders, "loadavg_after": loadavg()}


def timed_queries(connect, run, ping, queries, seconds, concurrency):
    """The client's floor (a trivial statement, one client), every query once with one client
    (rows returned, and a warm-up), then the mix with CONCURRENCY clients for SECONDS, each
    client starting at its own place in the mix (as the server's driver does). Times are
    client-side wall time of the statements and fetches."""
    conn = connect()
    floor = []
    for _ in range(500):
        started = time.monotonic()
        ping(conn)
        floor.append((time.monotonic() - started) * 1000)
    floor.sort()
    once = []
    for q in queries:
        started = time.monotonic()
        top_holds_query, top = None, None
        try:
            found = run(conn, q["body"])
            rows = len(found)
            if found and q["body"].get("query"):
                # Row: (id, entity_type, name, description, vertical_data JSON text, score).
                wanted = " ".join(q["body"]["query"].lower().split())
                top = found[0][2]
                values = json.loads(found[0][4]).values()
                top_holds_query = any(isinstance(v, str) and v.lower() == wanted for v in values)
        except Exception as e:  # noqa: BLE001 (an error is a result here)
            rows = f"error: {str(e).splitlines()[0]}"
        once.append({"kind": q["kind"], "body": q["body"], "rows": rows,
                     "top_holds_query": top_holds_query, "top": top, "ms": (time.monotonic() - started) * 1000})
    conn.close()

    print(f"running {len(queries)} queries in a mix with {concurrency} clients for {seconds} s...",
          file=sys.stderr)
    samples = {}
    errors = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(c):
        conn = connect()
        local, errs = {}, []
        i = c * 7
        try:
            while time.monotonic() < deadline:
                q = queries[i % len(queries)]
                i += 1
                started = time.monotonic()
                try:
                    run(conn, q["body"])
                except Exception as e:  # noqa: BLE001
                    errs.append(f"{q['kind']}: {str(e).splitlines()[0]}")
                    continue
                local.setdefault(q["kind"], []).append((time.monotonic() - started) * 1000)
        finally:
            conn.close()
        with lock:
            for k, v in local.items():
                samples.setdefault(k, []).extend(v)
            errors.extend(errs)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    qsecs = time.monotonic() - started
    kinds = {}
    for k, v in sorted(samples.items()):
        v.sort()
        kinds[k] = {"n": len(v), "p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
    total = sum(len(v) for v in samples.values())
    return {"queries": {"seconds": qsecs, "concurrency": concurrency, "requests": total,
                        "req_per_s": total / qsecs, "errors": len(errors),
                        "error_samples": sorted(set(errors))[:5], "kinds": kinds,
                        "loadavg_after": loadavg()},
            "once": once, "floor_ms": {"p50": percentile(floor, 0.5), "p99": percentile(floor, 0.99)}}


def write_result(path, result):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)


# ---------------------------------------------------------------------------------------------
# Report

KINDS = ["keyword", "identifier", "filtered", "filtered_sorted", "facets_keyword", "facets_filter",
         "natural_language", "paraphrase"]


def parse_ours(path):
    """The server's numbers from bench-search.sh's output (bench-results/search.txt)."""
    if not path or not os.path.exists(path):
        return None
    text = open(path, encoding="utf-8").read()
    ours = {"kinds": {}}
    for line in text.splitlines():
        # kind, n, p50, p99, bytes, and (since 2026-11-30) the hydrate p50
        m = re.match(r"\s+(\w+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+\d+(?:\s+[\d.]+)?$", line)
        if m:
            ours["kinds"][m[1]] = {"n": int(m[2]), "p50": float(m[3]), "p99": float(m[4])}
    grab = lambda pattern: (re.search(pattern, text, re.M) or [None, None])[1]  # noqa: E731
    ours["date"] = grab(r"^date: (\S+)")
    ours["load_rps"] = grab(r"load throughput \(durable\)\s*: (\d+) records/s")
    ours["load_s"] = grab(r"records/s \(([\d.]+) s\)")
    ours["searchable_s"] = grab(r"all searchable after\s*: ([\d.]+) s")
    ours["req_s"] = grab(r"= (\d+) req/s")
    ours["errors"] = grab(r"req/s over HTTP \(\d+ clients\), (\d+) errors")
    ours["disk"] = grab(r"data dir size\s*: (\S+)")
    ours["rss"] = grab(r"server RSS now / peak\s*: (.+)$")
    return ours


def fmt_bytes(n):
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def fmt_ms(kind):
    if not kind:
        return "—"
    n = f" (n={kind['n']})" if "n" in kind else ""
    return f"{kind['p50']:.2f} / {kind['p99']:.2f}{n}"


def once_ms(result, kind):
    """Median and slowest time of a kind's queries in the one-client pass."""
    ms = sorted(q["ms"] for q in result["once"] if q["kind"] == kind)
    return f"{percentile(ms, 0.5):.1f} / {ms[-1]:.1f}" if ms else "—"


def report(args):
    results = [json.load(open(p, encoding="utf-8")) for p in args.results]
    ours = parse_ours(args.ours)
    head = []
    if ours:
        head.append(f"qanatix ({ours['date']}, server-side)")
    head += [f"{r['version']} (client-side)" for r in results]
    rows = []

    def row(label, our_value, peer_value):
        rows.append([label] + ([our_value or "—"] if ours else []) + [peer_value(r) for r in results])

    row("load, 3 clients, batches of 10,000 (durable)",
        ours and ours["load_rps"] and f"{int(ours['load_rps']):,} rec/s ({ours['load_s']} s)",
        lambda r: f"{r['load']['records_per_s']:,.0f} rec/s ({r['load']['seconds']:.1f} s)")
    row("all searchable after", ours and ours["searchable_s"] and f"{ours['searchable_s']} s",
        lambda r: f"{r['load']['searchable_s']:.1f} s (at the last commit)")
    row("load average at the end of the load", None, lambda r: r["load"]["loadavg_after"])
    row("load with COPY instead (same indexes, 3 clients)", None,
        lambda r: (f"{r['load_copy']['records_per_s']:,.0f} rec/s ({r['load_copy']['seconds']:.1f} s)"
                   if "load_copy" in r else "—"))
    row("VACUUM ANALYZE / ANALYZE after the load", None, lambda r: f"{r['vacuum_analyze_s']:.1f} s")
    row("client floor: SELECT 1, one client, p50 / p99 ms", None, lambda r: fmt_ms(r["floor_ms"]))
    for k in KINDS:
        row(f"{k} p50 / p99 ms, {results[0]['queries']['concurrency'] if results else '?'} clients", ours and fmt_ms(ours["kinds"].get(k)),
            lambda r, k=k: fmt_ms(r["queries"]["kinds"].get(k)))
    for k in KINDS:
        row(f"{k}, one client, each query once: median / max ms", None,
            lambda r, k=k: once_ms(r, k))
    row(f"requests/s, whole mix, {results[0]['queries']['concurrency'] if results else '?'} clients",
        ours and ours["req_s"] and f"{int(ours['req_s']):,} (over HTTP)",
        lambda r: f"{r['queries']['req_per_s']:,.1f} ({r['queries']['errors']} errors)")
    row("load average at the end of the queries", None, lambda r: r["queries"]["loadavg_after"])
    row("on disk", ours and ours["disk"] and f"{ours['disk']} (data dir)",
        lambda r: ", ".join(f"{k} {fmt_bytes(v)}" for k, v in r["size"].items()))
    row("identifier: first row holds the query as a whole field value", "37 of 37 (identifier@1, eval-relevance)",
        lambda r: (lambda qs: f"{sum(1 for q in qs if q['top_holds_query'])} of {len(qs)}")(
            [q for q in r["once"] if q["kind"] == "identifier"]))
    for k in KINDS:
        row(f"{k}: queries with 0 rows", None,
            lambda r, k=k: (lambda qs: f"{sum(1 for q in qs if q['rows'] == 0)} of {len(qs)}")(
                [q for q in r["once"] if q["kind"] == k]))

    widths = [max(len(str(x)) for x in col) for col in zip(["metric"] + head, *rows)]
    lines = [f"date: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
             f"machine: {os.cpu_count()} cores, {args.memory}",
             f"command: {args.command}"]
    for r in results:
        lines.append(f"{r['version']}: {r['config']}")
    lines.append("")
    lines.append(" | ".join(str(x).ljust(w) for x, w in zip(["metric"] + head, widths)))
    lines.append("-|-".join("-" * w for w in widths))
    for r in rows:
        lines.append(" | ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    lines.append("")
    lines.append("Queries that return 0 rows or fail (one client, once):")
    for r in results:
        for q in r["once"]:
            if q["rows"] == 0 or isinstance(q["rows"], str):
                lines.append(f"  {r['version']}: {q['kind']}: {json.dumps(q['body'])} -> {q['rows']}")
    lines.append("Identifier queries whose first row does not hold the identifier as a whole field value:")
    for r in results:
        for q in r["once"]:
            if q["kind"] == "identifier" and not q["top_holds_query"]:
                lines.append(f"  {r['version']}: {json.dumps(q['body'])}: {q['rows']} rows, first {q['top']!r}")
    lines.append("Errors during the mix (first 5 distinct):")
    for r in results:
        for e in r["queries"]["error_samples"]:
            lines.append(f"  {r['version']}: error during the mix: {e}")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("pg", "sqlite"):
        s = sub.add_parser(name)
        s.add_argument("--catalog", required=True)
        s.add_argument("--queries", required=True)
        s.add_argument("--out", required=True)
        s.add_argument("--seconds", type=float, default=20)
        s.add_argument("--concurrency", type=int, default=16)
        s.add_argument("--loaders", type=int, default=3)
        s.add_argument("--config", default="", help="a line describing the configuration")
        if name == "pg":
            s.add_argument("--dsn", required=True)
            s.add_argument("--pgdata", required=True)
            s.add_argument("--copy", action="store_true", help="also time the load with COPY")
        else:
            s.add_argument("--db", required=True)
    r = sub.add_parser("report")
    r.add_argument("--ours")
    r.add_argument("--command", default="")
    r.add_argument("--memory", default="")
    r.add_argument("results", nargs="*")
    args = p.parse_args()
    {"pg": run_pg, "sqlite": run_sqlite, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
