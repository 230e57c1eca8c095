#!/usr/bin/env bash
# Hostile peers against a real 2-worker run on loopback (Tests/IntegrationTests/HostilePeersTests.swift):
# garbage on the port, a ZMTP frame announcing 1 TiB, a silent connection, 1,000 connections opened and
# dropped, malformed messages, hellos for another data set or under a live worker's name, stale and
# duplicate step results, and with CURVE keys clients without a key or with an unknown one. Prints the
# table for RELIABILITY.md: kind, count sent, run survived, final weights identical to an undisturbed
# run (SHA-256 of weights.safetensors' values), coordinator log lines about that kind; then the
# coordinator's peak memory (VmHWM) before and after the flood.
#
#   scripts/hostile.sh [DATA_DIR]        (default data/mnist; builds the tests in release first)
set -euo pipefail
DATA=$(cd "${1:-data/mnist}" && pwd)
CPU_FLAGS=()
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw sse4_2 /proc/cpuinfo; then
    CPU_FLAGS=(-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DGLASSBOX_SSE42)
fi
table=$(mktemp)
trap 'rm -f "$table"' EXIT
swift build -c release --build-tests -Xswiftc -enable-testing "${CPU_FLAGS[@]}" >&2
GLASSBOX_DATA=$DATA GLASSBOX_HOSTILE_TABLE=$table \
    swift test -c release --skip-build --filter HostilePeersTests >&2
echo "| kind | sent | run survived | weights identical | coordinator log lines |"
echo "| --- | ---: | --- | --- | ---: |"
cat "$table"
