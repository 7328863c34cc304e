#!/usr/bin/env bash
# Refreshes docs/screenshots/ from the two-window GUI test (real relay, offscreen platform):
# welcome, a conversation with several message states, a group (also in the dark palette),
# contact verification, the group members panel; and from the files test, a conversation
# with pictures and a file, and the uploads the app lists again after a restart; and from
# the passphrase test, protecting a profile and unlocking it.
# Builds the ci preset's test if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset ci >/dev/null
cmake --build --preset ci --target app_two_windows_test app_files_test app_passphrase_test parley-relay
QT_QPA_PLATFORM=offscreen PARLEY_RELAY_BIN="$PWD/build/ci/server/parley-relay" \
  PARLEY_SCREENSHOT_DIR="$PWD/docs/screenshots" build/ci/tests/app/app_two_windows_test
QT_QPA_PLATFORM=offscreen PARLEY_RELAY_BIN="$PWD/build/ci/server/parley-relay" \
  PARLEY_SCREENSHOT_DIR="$PWD/docs/screenshots" build/ci/tests/app/app_files_test
QT_QPA_PLATFORM=offscreen PARLEY_RELAY_BIN="$PWD/build/ci/server/parley-relay" \
  PARLEY_SCREENSHOT_DIR="$PWD/docs/screenshots" build/ci/tests/app/app_passphrase_test
# The dark palette: the same run, keeping its group screen.
dark="$(mktemp -d)"
trap 'rm -rf "$dark"' EXIT
QT_QPA_PLATFORM=offscreen PARLEY_RELAY_BIN="$PWD/build/ci/server/parley-relay" PARLEY_SCREENSHOT_THEME=dark \
  PARLEY_SCREENSHOT_DIR="$dark" build/ci/tests/app/app_two_windows_test >/dev/null
cp "$dark/group.png" docs/screenshots/group-dark.png
ls docs/screenshots
