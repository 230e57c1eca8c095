#!/usr/bin/env bash
# Builds the tests with a sanitizer (a debug build in its own scratch path) and runs the tests matching
# TEST_FILTER under it. Integration tests start the programs from the build folder they were built into,
# so the coordinator and workers they spawn would carry the same sanitizer (in a debug build they skip).
# SANITIZE_CONFIG=release builds release instead, for the integration tests (which skip themselves in
# debug builds): the processes they start then carry the sanitizer and its options.
# usage: scripts/sanitize.sh address|thread SCRATCH_PATH DATA_DIR TEST_FILTER [swift build flags...]
set -euo pipefail
sanitizer=$1 scratch=$2 data=$3 filter=$4
shift 4
config=${SANITIZE_CONFIG:-debug}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/sanitizers/options.sh"
swift build -c "$config" --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" -Xswiftc -enable-testing "$@"
sanitizer_options "$sanitizer"
start=$(date +%s)
GLASSBOX_DATA="$data" swift test -c "$config" --skip-build --scratch-path "$scratch" --filter "$filter"
echo "sanitize ($sanitizer, $config): tests matching '$filter' passed in $(( $(date +%s) - start )) s"
