#!/usr/bin/env bash
# Builds the tests with a sanitizer (a debug build in its own scratch path) and runs the tests matching
# TEST_FILTER under it. Integration tests start the programs from the build folder they were built into,
# so the coordinator and workers they spawn would carry the same sanitizer (in a debug build they skip).
# CONFIG=release builds with optimisation instead, so that the integration tests run (real processes:
# the coordinator's socket thread, the workers' compute threads, the UMAP threads, the metrics server).
# usage: [CONFIG=debug|release] scripts/sanitize.sh address|thread SCRATCH_PATH DATA_DIR TEST_FILTER [swift build flags...]
set -euo pipefail
sanitizer=$1 scratch=$2 data=$3 filter=$4
shift 4
config=${CONFIG:-debug}
here=$(cd "$(dirname "$0")" && pwd)
swift build -c "$config" --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" -Xswiftc -enable-testing "$@"
case $sanitizer in
  # halt_on_error: the first report fails the run. Leak checking is off: the Swift runtime's metadata
  # caches and XCTest's globals read as leaks at exit.
  address) export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0" ;;
  # Suppressions for third-party code only (each line says why).
  thread) export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$here/sanitizers/tsan.supp" ;;
esac
start=$(date +%s)
GLASSBOX_DATA="$data" swift test -c "$config" --skip-build --scratch-path "$scratch" --filter "$filter"
echo "sanitize ($sanitizer, $config): tests matching '$filter' passed in $(( $(date +%s) - start )) s"
