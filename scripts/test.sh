#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test (unit, integration, slow) twice:
# an optimised build with warnings as errors, and an AddressSanitizer + UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."

# True when every test that failed in build dir $1 passed all its cases and then died only
# because LeakSanitizer's own stop-the-world tracer crashed at exit ("Tracer caught signal
# 11 ... LeakSanitizer has encountered a fatal error"): a known intermittent fault of the
# sanitizer runtime (google/sanitizers#1353), not a leak report. Any other sign of trouble
# in the same output (a failed case, an ASan or UBSan report, a leak) makes it false.
only_lsan_tracer_crashes() {
  local dir="$1/Testing/Temporary" t out
  [ -s "$dir/LastTestsFailed.log" ] || return 1
  while IFS=: read -r _ t; do
    out="$(awk -v t="$t" '$0 ~ "^[0-9]+/[0-9]+ Test: " t "$" {on=1} on {print} \
                         on && $0 ~ "^\"" t "\" end time" {exit}' "$dir/LastTest.log")"
    grep -q 'Tracer caught signal' <<<"$out" || return 1
    grep -q 'LeakSanitizer has encountered a fatal error' <<<"$out" || return 1
    grep -Eq '^Totals: [0-9]+ passed, 0 failed' <<<"$out" || return 1
    if grep -Eq 'FAIL!|ERROR: (AddressSanitizer|LeakSanitizer: detected)|runtime error:' <<<"$out"; then
      return 1
    fi
  done <"$dir/LastTestsFailed.log"
}

bash scripts/install-deps.sh
# Two tests per core: most of a test's time is spent waiting (on a relay starting or
# draining, a timeout it checks, a PostgreSQL commit), not computing; 2 at once on 2 cores
# left the machine ~25 % busy in the ci preset and ~50 % in the sanitizers'. At most 8, for
# the sanitizers' memory (~0.5 GB a relay).
jobs=$(( $(nproc) * 2 ))
if [ "$jobs" -gt 8 ]; then jobs=8; fi
# Under the sanitizers, the relay tests run once, on the embedded store: their PostgreSQL
# variants (label `variant`) run the same test code against the other store, whose own code
# the sanitizers still see in postgres_store_test and relay_gateways_test. The whole command
# must stay under 20 minutes on a 2-core machine, and these were a fifth of the sanitizers'.
for preset in ci debug; do
  echo "== $preset build ($SECONDS s in) =="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== $preset tests ($SECONDS s in) =="
  skip=()
  if [ "$preset" = debug ]; then skip=(--label-exclude variant); fi
  if ! ctest --test-dir "build/$preset" --output-on-failure --parallel "$jobs" "${skip[@]}"; then
    if [ "$preset" = debug ] && only_lsan_tracer_crashes "build/$preset"; then
      echo "== every failure above was LeakSanitizer's tracer crashing at exit after all" \
           "cases passed; running those tests once more =="
      ctest --test-dir "build/$preset" --rerun-failed --output-on-failure "${skip[@]}"
    else
      exit 1
    fi
  fi
done
echo "== done ($SECONDS s) =="
