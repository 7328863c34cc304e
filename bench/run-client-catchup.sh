#!/usr/bin/env bash
# Builds the client catch-up benchmark and parley-relay in Release (build dir build/bench,
# BUILD_TESTING=ON for parley_test_support) and runs it: N messages queued for an offline
# profile, timed until all are stored. Arguments: [N (default 2000)] [runs (default 3)].
# Environment: BUILD_DIR (default <repo>/build/bench), JOBS (default: nproc).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
jobs="${JOBS:-$(nproc)}"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
  -DPARLEY_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j "$jobs" parley_catchup_bench parley-relay
"$build/bench/parley_catchup_bench" "$@"
