#!/usr/bin/env bash
# Builds the desktop app benchmark, parley and parley-relay in Release (build dir build/bench,
# separate from any dev tree; BUILD_TESTING=ON for parley_test_support) and runs it: a
# profile with 100,000 messages, the real `parley` started 5 times on it (offscreen platform
# unless QT_QPA_PLATFORM is set), medians of start-up, memory and opening the conversation.
# Extra arguments go to the binary (--messages N, --runs N).
# Environment: BUILD_DIR (default <repo>/build/bench), JOBS (default: nproc).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
jobs="${JOBS:-$(nproc)}"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
  -DPARLEY_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j "$jobs" parley_app_bench parley parley-relay
"$build/bench/parley_app_bench" "$@"
