#!/usr/bin/env bash
# Builds the Debian packages: installs what is missing, builds the `package` preset (Release,
# under /usr) and runs CPack. Prints the paths of parley_<version>_<arch>.deb (the app and
# parley-cli) and parley-relay_<version>_<arch>.deb (the relay, its systemd unit and
# configuration). Install with `apt install ./parley_….deb` so apt brings their dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset package >/dev/null
cmake --build --preset package
(cd build/package && cpack -G DEB >/dev/null)
ls -1 "$PWD"/build/package/*.deb
