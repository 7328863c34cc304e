#!/usr/bin/env bash
# Installs what is missing, builds Parley in release mode and starts a local relay on
# 127.0.0.1:7700 with its data under ./parley-data (override with PARLEY_LISTEN and
# PARLEY_DATA_DIR). Extra arguments go to parley-relay.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target parley-relay

listen="${PARLEY_LISTEN:-127.0.0.1:7700}"
data="${PARLEY_DATA_DIR:-$PWD/parley-data}"
echo "Starting the relay (Ctrl+C stops it; data in $data)"
exec build/release/server/parley-relay --listen "$listen" --data-dir "$data" "$@"
