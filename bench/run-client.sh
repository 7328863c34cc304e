#!/usr/bin/env bash
# Builds the client benchmarks in Release (build dir build/bench, separate from any dev
# tree) and runs them, printing Google Benchmark's table with the medians of 5 repetitions.
# Extra arguments go to both benchmark binaries, e.g. --benchmark_filter=X3dh.
# Environment: BUILD_DIR (default <repo>/build/bench), JOBS (default: nproc).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
jobs="${JOBS:-$(nproc)}"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DPARLEY_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j "$jobs" parley_crypto_bench parley_store_bench

args=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@")
echo
echo "== client crypto (parley_crypto) =="
"$build/bench/parley_crypto_bench" "${args[@]}"
echo
echo "== client store (SQLite via Qt Sql, temp dir under ${TMPDIR:-/tmp}) =="
"$build/bench/parley_store_bench" "${args[@]}"
