#!/usr/bin/env bash
# The reference broker on this machine: starts mosquitto (Debian's package, installed when
# missing) on 127.0.0.1 with its defaults (in memory, QoS 1 as asked), and runs
# parley-mqtt-anchor's shapes against it: 18,000 idle connections, 500 pairs closed loop W=1,
# 500 pairs open loop at 10,000/s. Prints one Markdown table, like bench/run, whose pairs and
# idle rows it is meant to be read beside. Plain MQTT over TCP: Debian 12's mosquitto has no
# WebSocket listener, so the broker is spared the WebSocket framing Parley's relay does.
#
# Environment: BUILD_DIR (default <repo>/build/bench, shared with bench/run), JOBS (2),
# SIZE=small for a quick pass.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$repo/build/bench}"
size="${SIZE:-full}"

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench/run-anchor.sh: mosquitto is missing; install it (apt-get install mosquitto) or run as root" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mosquitto >&2
fi
mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
# shellcheck source=bench/lib/servers.sh
source "$repo/bench/lib/servers.sh"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DPARLEY_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j "${JOBS:-2}" parley-mqtt-anchor parley-pace >&2
anchor="$build/bench/parley-mqtt-anchor"

if [ "$size" = small ]; then idle=300; secs=2; else idle=18000; secs=10; fi

work="$(mktemp -d)"
broker_pid=""
cleanup() {
  stop_process "$broker_pid"
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh broker per scenario.
start_broker() {
  broker_start "$work" || { echo "bench/run-anchor.sh: no broker" >&2; exit 1; }
}

stop_broker() {
  stop_process "$broker_pid"
  broker_pid=""
}

rows="$work/rows"
run() {
  echo "== parley-mqtt-anchor $*" >&2
  start_broker
  if ! (ulimit -n 20000 2>/dev/null || true
        exec "$anchor" --broker "$broker" --broker-pid "$broker_pid" "$@") | tee -a "$rows" >&2; then
    echo "| FAILED: parley-mqtt-anchor $* | 0 | - |" >>"$rows"
  fi
  stop_broker
}

# The machine's pace, as bench/run prints it: the broker's figures are read beside the relay's,
# which may have been taken in a faster or slower hour.
echo "== parley-pace" >&2
pace_args=()
if [ "$size" = small ]; then pace_args=(--quick); fi
"$build/bench/parley-pace" "${pace_args[@]}" | tee -a "$rows" >&2 ||
  echo "| FAILED: parley-pace | 0 | - |" >>"$rows"

run --scenario idle --connections "$idle"
run --scenario pairs --pairs 500 --duration "$secs"
run --scenario pairs --pairs 500 --rate 10000 --duration "$secs"

echo
echo "Reference broker ($({ "$mosquitto_bin" -h 2>/dev/null || true; } | head -1)), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
echo
echo "| figure | value | unit |"
echo "|---|---|---|"
grep '^| ' "$rows"
