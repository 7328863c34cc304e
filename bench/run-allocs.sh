#!/usr/bin/env bash
# Allocations per delivered 1:1 message in the relay, per thread: pairs W=1 at a fixed offered
# rate, with uprobes on jemalloc's operator new and aligned_alloc (ours and Asio's operations)
# in one run and on malloc (SQLite's) in another, counted by `perf stat --per-thread` over a
# few seconds in the middle of each run and divided by the messages offered in them (a run
# fails unless all were delivered). Figures only. Needs root and perf, and the Release relay
# and loadgen of bench/run (build dir build/bench).
#
# Each probe hit is a trap costing microseconds. Counted together, SQLite's malloc traps slowed
# the store thread enough that its batches grew, and larger batches make fewer of the other
# allocations per message: each run therefore probes one kind only.
#
# Usage: bench/run-allocs.sh [--sites] [RELAY_BIN] [RATE]   (defaults: build/bench's relay,
# 3000 msgs/s). --sites adds a third run that records our allocations with their call stacks
# (perf record, DWARF unwinding) and prints, per thread, the calls that made the most of them
# (the three frames above the allocator): where to look first. The recorder's traps are
# dearer than the counter's, so its per-message figures run a little low (batches grow).
# Threads show by name: parley-store (SQLite allocates with malloc), and of the two I/O
# threads the main one (parley-relay, io_context 0) holds the senders' connections and
# parley-io-1 the receivers' (the loadgen connects them in turn and the listener deals
# connections round-robin).
set -euo pipefail

sites=false
if [[ "${1:-}" == --sites ]]; then sites=true; shift; fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
relay="${1:-$build/server/parley-relay}"
rate="${2:-3000}"
measure=4
# shellcheck source=bench/lib/servers.sh
source "$repo/bench/lib/servers.sh"
lib="$(ldd "$relay" | awk '/libjemalloc/ {print $3}')"
[[ -n "$lib" ]] || { echo "the relay does not link jemalloc (-DPARLEY_JEMALLOC=ON)" >&2; exit 1; }

dir="$(mktemp -d)"
pid=""
loadgen=""
stop_run() {
  stop_process "$loadgen"
  stop_process "$pid"
  loadgen=""
  pid=""
}
cleanup() {
  stop_run
  for e in "${events[@]}"; do perf probe -q -d "$e" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# Debian's libjemalloc has no debug names perf can resolve for operator new: probe by address.
probe() {  # symbol name -> event
  local addr
  addr="$(nm -D "$lib" | awk -v s="$1" '$3 == s {print $1}')"
  perf probe -q -d "probe_libjemalloc:$2" 2>/dev/null || true
  perf probe -q -x "$lib" -a "$2=0x$addr" >/dev/null
  echo "probe_libjemalloc:$2"
}
# The cleanup's list, set before the probes are added: probe() runs in a command substitution,
# a subshell, so it could not add to it.
events=(probe_libjemalloc:parley_operator_new probe_libjemalloc:parley_aligned_alloc
        probe_libjemalloc:parley_malloc)
ours="$(probe _Znwm parley_operator_new),$(probe aligned_alloc parley_aligned_alloc)"
sqlite="$(probe malloc parley_malloc)"

count() {  # event list, output file; RECORD=1: perf record with call stacks instead
  local data="$dir/data"
  rm -rf "$data" && mkdir "$data"
  relay_start "$relay" "$data" || exit 1
  pid=$relay_pid
  "$build/bench/parley-loadgen" --relay "$relay_addr" --scenario pairs --pairs 500 --window 1 \
    --rate "$rate" --warmup 3 --duration 12 >"$dir/loadgen" 2>&1 &
  loadgen=$!
  sleep 9  # connections made, warm-up over
  if [[ -n "${RECORD:-}" ]]; then
    perf record -q -e "$1" --call-graph dwarf,16384 -p "$pid" -o "$2" -- sleep "$measure" \
      2>/dev/null >/dev/null
  else
    perf stat -x, -e "$1" --per-thread -p "$pid" -- sleep "$measure" 2>"$2" >/dev/null
  fi
  wait "$loadgen" || true  # its rows say whether every message arrived (checked next)
  loadgen=""
  # Divided by the messages offered in the window: the loadgen checks they were all delivered.
  grep -q "undelivered 10 s after the end | 0 |" "$dir/loadgen" ||
    { echo "messages were left undelivered: the figures would be wrong" >&2; exit 1; }
  stop_run
}
count "$ours" "$dir/ours"
count "$sqlite" "$dir/sqlite"

echo "| relay thread | allocator call | per delivered message |"
echo "|---|---|---|"
cat "$dir/ours" "$dir/sqlite" | awk -F, -v m="$((rate * measure))" '
  $1 !~ /^#/ && NF > 2 && $2 + 0 > 0 {
    sub(/probe_libjemalloc:parley_/, "", $4); sub(/operator_new/, "operator new", $4)
    printf "| %s | %s | %.2f |\n", $1, $4, $2 / m
    if ($4 == "malloc") sqlite += $2 / m; else own += $2 / m
  } END {
    printf "| all | operator new + aligned_alloc | %.2f |\n| all | malloc (SQLite) | %.2f |\n", own, sqlite
  }'

if $sites; then
  RECORD=1 count "$ours" "$dir/stacks"
  echo
  echo "| relay thread | allocated in (three frames above the allocator) | per delivered message |"
  echo "|---|---|---|"
  # perf script: a sample is a header line (the thread's name first), then one frame per line
  # (address, symbol), then a blank line. Frame 0 is the allocator itself.
  perf script -i "$dir/stacks" -F comm,ip,sym 2>/dev/null | awk '
    function short(f) {
      sub(/^[ \t]*[0-9a-f]+ /, "", f); gsub(/\(anonymous namespace\)/, "{anon}", f)
      sub(/\(.*$/, "", f)
      while (gsub(/<[^<>]*>/, "", f)) {}
      return f
    }
    function flush() { if (thread != "") n[thread "\t" key]++; thread = "" }
    /^[^ \t]/ { flush(); thread = $1; depth = 0; key = ""; next }
    /^[ \t]*$/ { flush(); next }
    { if (depth >= 1 && depth <= 3) key = key (depth > 1 ? " <- " : "") short($0); depth++ }
    END { flush(); for (k in n) printf "%s\t%d\n", k, n[k] }' |
    sort -t$'\t' -k1,1 -k3,3nr | awk -F'\t' -v m="$((rate * measure))" '
      { if (++shown[$1] <= 12) printf "| %s | %s | %.2f |\n", $1, $2, $3 / m }'
fi
