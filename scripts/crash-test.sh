#!/usr/bin/env bash
# Crash test: CYCLES (default 20) times, kill -9 the server while 3 clients ingest batches
# concurrently, restart it on the same data dir and check that every record of every
# acknowledged batch is stored and that the entity counts agree with the store.
#
#   scripts/crash-test.sh [cycles=20]
#
# The test itself is tests/api/crash.rs (cargo test runs it with 5 cycles).
set -euo pipefail
cd "$(dirname "$0")/.."
CRASH_CYCLES=${1:-20} cargo test --quiet --test api crash -- --nocapture
