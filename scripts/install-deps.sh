#!/usr/bin/env bash
# Installs what Parley needs to build, run and test on Debian 12. Idempotent: a package that
# is already installed is skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache lld git
  libboost1.81-dev
  libssl-dev libsodium-dev libsqlite3-dev sqlite3 libsqlitecpp-dev openssl libjemalloc-dev
  libpq-dev postgresql libhiredis-dev redis-server
  libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libcli11-dev
  qt6-base-dev qt6-websockets-dev libqt6sql6-sqlite libgl-dev
  qt6-svg-dev qt6-qpa-plugins libqrencode-dev
  xvfb xauth fonts-dejavu-core fonts-noto-color-emoji dbus-daemon desktop-file-utils
  python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
