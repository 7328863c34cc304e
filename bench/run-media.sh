#!/usr/bin/env bash
# Builds the attachment benchmark, parley-relay and the client core in Release (build dir
# build/bench, separate from any dev tree; BUILD_TESTING=ON for parley_test_support) and
# runs it: a fresh relay on 127.0.0.1, two profiles, one 200 MiB file encrypted+uploaded and
# downloaded+decrypted 3 times; prints MiB/s per run and the medians.
# Extra arguments go to the binary (--mib N, --reps N).
# Environment: BUILD_DIR (default <repo>/build/bench), JOBS (default: 2).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
jobs="${JOBS:-2}"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
  -DPARLEY_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j "$jobs" parley_media_bench parley-relay

PARLEY_RELAY_BIN="$build/server/parley-relay" "$build/bench/parley_media_bench" "$@"
