# Sourced by the bench scripts: starts a release server on a temp data dir with a plan that
# does not throttle, and makes a key for tenant "bench".
#   start_bench_server PORT SCOPES_JSON   → sets SERVER (pid), DATA, BASE (http://host:port), KEY,
#                                           MASTER (the master key)
# BENCH_SERVER_ENV (e.g. "METERING_ENABLED=false") adds variables to the server's environment;
# BENCH_BIN runs another server binary than ./target/release/qanatix.
# The caller's EXIT trap must stop "$SERVER" and remove "$DATA" (see stop_bench_server).
#   load_bench_catalog COUNT DIR   → generates COUNT seeded catalog records into DIR (gen-catalog,
#                                    built by the caller), loads them with 3 clients through the
#                                    batch endpoint, and waits until indexing is idle

# search_driver: builds the search_load driver (release) and sets DRIVER to its binary.
search_driver() {
  cargo bench --no-run --quiet --bench search_load 2>/dev/null
  DRIVER=$(ls -t target/release/deps/search_load-* | grep -v '\.d$' | head -1)
}

stop_bench_server() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
}

start_bench_server() {
  local port=$1 scopes=$2
  DATA=$(mktemp -d)
  echo '{"bench": {"general_rpm": 1000000000, "search_rpm": 1000000000}}' > "$DATA/plans.json"
  MASTER="bench-master-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local master=$MASTER
  # Access logs off (warn): the benchmarks measure the server, not log I/O.
  # shellcheck disable=SC2086 # BENCH_SERVER_ENV is a list of NAME=value words
  env ${BENCH_SERVER_ENV:-} RUST_LOG=warn QANATIX_MASTER_KEY="$master" PLANS_FILE="$DATA/plans.json" \
    DEFAULT_PLAN=bench ${BENCH_BIN:-./target/release/qanatix} --port "$port" --data-dir "$DATA/data" &
  SERVER=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "$BASE/api/v1/admin/tenants" -H "Authorization: Bearer $master" \
    -H 'Content-Type: application/json' -d '{"tenant_id":"bench","plan":"bench"}' >/dev/null
  KEY=$(curl -sf -X POST "$BASE/api/v1/auth/keys" -H "Authorization: Bearer $master" -H 'X-Tenant-Id: bench' \
    -H 'Content-Type: application/json' -d "{\"name\":\"bench\",\"scopes\":$scopes}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
}

load_bench_catalog() {
  local count=$1 dir=$2 start
  ./target/release/gen-catalog --count "$count" --seed 7 --out "$dir" 2>/dev/null
  load_one() { # file
    local type; type=$(basename "$1" .json | cut -d- -f2-)
    curl -sf -o /dev/null -X POST "$BASE/api/v1/ingest/parts/$type/batch" \
      -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary "@$1"
  }
  export -f load_one
  export BASE KEY
  start=$(date +%s.%N)
  ls "$dir"/*.json | xargs -P 3 -I{} bash -c 'load_one {}'
  python3 -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); \
print(f'loaded {sys.argv[3]} records in {s:.1f} s ({int(sys.argv[3]) / s:,.0f} rec/s)')" \
    "$start" "$(date +%s.%N)" "$count" >&2
  until curl -sf "$BASE/api/v1/admin/stats" -H "Authorization: Bearer $KEY" |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["queue_depth"] == 0 else 1)'; do
    sleep 5
  done
}

# use_bench_workdir: WORK is a temp dir, removed with the server on exit.
use_bench_workdir() {
  WORK=$(mktemp -d)
  trap 'stop_bench_server; rm -rf "$WORK"' EXIT
}
