#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test (unit, integration, slow) twice:
# an optimised build with warnings as errors, and an AddressSanitizer + UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
for preset in ci debug; do
  echo "== $preset build =="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --test-dir "build/$preset" --output-on-failure --parallel 2
done
