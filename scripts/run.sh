#!/usr/bin/env bash
# Installs what is missing, builds Parley in release mode and starts a local relay on
# 127.0.0.1:7700 with its data under ./parley-data (override with PARLEY_LISTEN and
# PARLEY_DATA_DIR). With a display ($DISPLAY or $WAYLAND_DISPLAY) it also starts the desktop
# app against that relay and stops the relay when the app is closed; without one it runs the
# relay alone in the foreground. Extra arguments go to parley-relay.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null

listen="${PARLEY_LISTEN:-127.0.0.1:7700}"
data="${PARLEY_DATA_DIR:-$PWD/parley-data}"

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  cmake --build --preset release --target parley-relay
  echo "Starting the relay (Ctrl+C stops it; data in $data). No display: not starting the app."
  exec build/release/server/parley-relay --listen "$listen" --data-dir "$data" "$@"
fi

cmake --build --preset release --target parley-relay parley
echo "Starting the relay (data in $data) and the Parley app; closing the app stops the relay."
build/release/server/parley-relay --listen "$listen" --data-dir "$data" "$@" &
relay=$!
trap 'kill "$relay" 2>/dev/null || true; wait "$relay" 2>/dev/null || true' EXIT INT TERM
# The welcome screen registers against the relay at once: wait until it accepts connections.
host="${listen%:*}"
port="${listen##*:}"
for _ in $(seq 1 100); do
  if ! kill -0 "$relay" 2>/dev/null; then
    echo "the relay did not start" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
build/release/client/app/parley --relay "ws://$listen"
