#!/usr/bin/env bash
# Builds the relay group benchmark and parley-relay in Release (build dir build/bench,
# separate from any dev tree; it needs BUILD_TESTING=ON for parley_test_support and Qt6
# Test/WebSockets) and runs it: a fresh relay on 127.0.0.1 per durability mode, 999 offline
# members, groups of 2, 100 and 1,000; prints sender ack latency and fan-out rate.
# Extra arguments go to the binary; default: --durability full --durability normal.
# Environment: BUILD_DIR (default <repo>/build/bench), JOBS (default: nproc).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
jobs="${JOBS:-$(nproc)}"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
  -DPARLEY_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j "$jobs" parley_relay_group_bench parley-relay

if [ "$#" -eq 0 ]; then
  set -- --durability full --durability normal
fi
PARLEY_RELAY_BIN="$build/server/parley-relay" "$build/bench/parley_relay_group_bench" "$@"
