# Sourced by the benchmark scripts (bench/run, run-allocs.sh, run-syscalls.sh,
# run-anchor.sh): the relay and the reference broker on 127.0.0.1, started the way every
# figure in docs/performance.md was taken, and stopped. Nothing here exits the caller; each
# function returns non-zero and says why on stderr.

# relay_start BIN DATA_DIR [OPTION...]: a relay on a free port of 127.0.0.1 over DATA_DIR
# (its stdout and stderr written there), with its default durability and the
# per-connection and per-group rate limits lifted, and the bound on one sender's group
# entries not yet fanned out: one load-generator connection stands for a very busy client
# (the fanout scenario keeps up to 1,000 GroupSends in flight), and the limits would cap
# the figures, not the relay. Threads:
# RELAY_THREADS (2). Sets relay_pid and relay_addr (HOST:PORT).
relay_start() {
  local bin="$1" dir="$2"
  shift 2
  rm -f "$dir/stdout"
  (ulimit -n 20000 2>/dev/null || true
   exec "$bin" --listen 127.0.0.1:0 --data-dir "$dir" --threads "${RELAY_THREADS:-2}" \
     --log-level warn --rate 1000000 --rate-burst 1000000 \
     --group-rate 100000 --group-rate-burst 100000 --group-pending-max 1000000 "$@" \
     >"$dir/stdout" 2>"$dir/stderr") &
  relay_pid=$!
  for _ in $(seq 100); do
    if grep -q "listening on" "$dir/stdout" 2>/dev/null; then break; fi
    sleep 0.1
  done
  relay_addr="$(sed -n 's|.*listening on ws://\([0-9.]*:[0-9]*\).*|\1|p' "$dir/stdout")"
  if [ -z "$relay_addr" ]; then
    echo "the relay did not listen within 10 s:" >&2
    cat "$dir/stderr" >&2
    return 1
  fi
}

# broker_start WORK_DIR: Debian's mosquitto with its defaults (in memory, no persistence) on a
# free port of 127.0.0.1, its configuration and log in WORK_DIR. Sets broker_pid and broker
# (HOST:PORT).
broker_start() {
  local work="$1" port bin
  bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
  (ulimit -n 20000 2>/dev/null || true
   exec "$bin" -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1) &
  broker_pid=$!
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      broker="127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "mosquitto did not listen on 127.0.0.1:$port within 5 s:" >&2
  cat "$work/broker.log" >&2
  return 1
}

# stop_process PID: SIGTERM, then waits for it. Never fails, so a cleanup in an EXIT trap
# under set -e runs to its end; an empty PID is nothing to stop.
stop_process() {
  if [ -n "${1:-}" ]; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
