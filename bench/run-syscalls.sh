#!/usr/bin/env bash
# System calls and context switches per 1:1 message, per thread, in the relay and in the
# reference broker at the same offered rate: pairs W=1 (500 pairs) against each in turn,
# counted by `perf stat --per-thread` (context switches, and the syscalls tracepoints of the
# calls listed below, all that either makes on this path) over 4 s in the middle of the run
# and divided by the messages offered in them; a run whose messages were not all delivered
# gives a FAILED row instead. The machines here differ most in what a
# system call and a wake-up cost (docs/performance.md, "Machines"), so this says how much of
# each a message asks for, apart from their price. Figures only. Needs root and perf, Debian's
# mosquitto (bench/run-anchor.sh installs it), and the Release builds of bench/run
# (build dir build/bench).
#
# Usage: bench/run-syscalls.sh [RELAY_BIN] [RATE]   (defaults: build/bench's relay, 3000 msgs/s)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
relay="${1:-$build/server/parley-relay}"
rate="${2:-3000}"
measure=4
[[ -x "$(command -v mosquitto || echo /usr/sbin/mosquitto)" ]] ||
  { echo "mosquitto is missing: run bench/run-anchor.sh once" >&2; exit 1; }
# shellcheck source=bench/lib/servers.sh
source "$repo/bench/lib/servers.sh"

calls=(read write readv writev recvmsg sendmsg recvfrom sendto epoll_wait epoll_pwait epoll_ctl
       futex pread64 pwrite64 fdatasync fsync)
events="context-switches"
for c in "${calls[@]}"; do events+=",syscalls:sys_enter_$c"; done

dir="$(mktemp -d)"
server=""
client=""
stop_run() {
  stop_process "$client"
  stop_process "$server"
  client=""
  server=""
}
trap 'stop_run; rm -rf "$dir"' EXIT

# Counts over the measured seconds of the run already started ($server, $client, writing
# $dir/client), as rows.
count() {  # name
  sleep 9  # connections made, warm-up over
  if ! perf stat -x, -e "$events" --per-thread -p "$server" -- sleep "$measure" \
      2>"$dir/stat" >/dev/null; then
    stop_run
    echo "| FAILED: $1: perf stat | 0 | - |"
    return
  fi
  wait "$client" || true
  client=""
  stop_run
  # Divided by the messages offered: both clients report those left undelivered.
  if ! grep -Eq "undelivered[^|]*\| 0(\.00)? \|" "$dir/client"; then
    echo "| FAILED: $1: messages left undelivered | 0 | - |"
    return
  fi
  # perf's lines: thread-tid,count,unit,event,...
  awk -F, -v m=$((rate * measure)) -v name="$1" '
    $2 ~ /^[0-9]+$/ {
      thread = $1; sub(/-[0-9]+$/, "", thread)
      event = $4; sub(/^syscalls:sys_enter_/, "", event)
      if (event == "context-switches") switches[thread] += $2
      else { calls[thread] += $2; by[thread " " event] += $2 }
    }
    END {
      for (t in calls) { all += calls[t]; allsw += switches[t] }
      for (t in calls) if (calls[t] > 0)
        printf "| %s %s: system calls / context switches per message | %.2f / %.2f | |\n",
               name, t, calls[t] / m, switches[t] / m
      for (k in by) if (by[k] / m >= 0.05) printf "| %s %s per message | %.2f | |\n", name, k, by[k] / m
      printf "| %s, all threads: system calls / context switches per message | %.2f / %.2f | |\n",
             name, all / m, allsw / m
    }' "$dir/stat" | sort
}

echo "| figure | value | unit |"
echo "|---|---|---|"

data="$dir/relay-data"
mkdir "$data"
if relay_start "$relay" "$data"; then
  server=$relay_pid
  "$build/bench/parley-loadgen" --relay "$relay_addr" --scenario pairs --pairs 500 --window 1 \
    --rate "$rate" --warmup 3 --duration 12 >"$dir/client" 2>&1 &
  client=$!
  count "relay"
else
  echo "| FAILED: relay: it did not start | 0 | - |"
fi

if broker_start "$dir"; then
  server=$broker_pid
  "$build/bench/parley-mqtt-anchor" --broker "$broker" --broker-pid "$server" \
    --scenario pairs --pairs 500 --rate "$rate" --duration 12 >"$dir/client" 2>&1 &
  client=$!
  count "mosquitto"
else
  echo "| FAILED: mosquitto: it did not start | 0 | - |"
fi
