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
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
[[ -x "$mosquitto_bin" ]] || { echo "mosquitto is missing: run bench/run-anchor.sh once" >&2; exit 1; }

calls=(read write readv writev recvmsg sendmsg recvfrom sendto epoll_wait epoll_pwait epoll_ctl
       futex pread64 pwrite64 fdatasync fsync)
events="context-switches"
for c in "${calls[@]}"; do events+=",syscalls:sys_enter_$c"; done

dir="$(mktemp -d)"
server=""
client=""
# Never fails: it runs in the EXIT trap too, where set -e would end the cleanup early.
stop_run() {
  if [[ -n "$client" ]]; then kill "$client" 2>/dev/null || true; fi
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
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

data="$dir/relay-data"
mkdir "$data"
(ulimit -n 20000; exec "$relay" --listen 127.0.0.1:0 --data-dir "$data" --threads 2 \
  --log-level warn --rate 1000000 --rate-burst 1000000 >"$dir/stdout" 2>"$dir/stderr") &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$dir/stdout" 2>/dev/null && break; sleep 0.1; done
addr="$(sed -n 's|.*listening on ws://\([0-9.]*:[0-9]*\).*|\1|p' "$dir/stdout")"
"$build/bench/parley-loadgen" --relay "$addr" --scenario pairs --pairs 500 --window 1 \
  --rate "$rate" --warmup 3 --duration 12 >"$dir/client" 2>&1 &
client=$!
echo "| figure | value | unit |"
echo "|---|---|---|"
count "relay"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$dir/mosquitto.conf"
(ulimit -n 20000; exec "$mosquitto_bin" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1) &
server=$!
listening=false
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then listening=true; break; fi
  sleep 0.1
done
if ! $listening; then
  echo "| FAILED: mosquitto did not listen on 127.0.0.1:$port | 0 | - |"
  exit 0
fi
"$build/bench/parley-mqtt-anchor" --broker "127.0.0.1:$port" --broker-pid "$server" \
  --scenario pairs --pairs 500 --rate "$rate" --duration 12 >"$dir/client" 2>&1 &
client=$!
count "mosquitto"
