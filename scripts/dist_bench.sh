#!/usr/bin/env bash
# Distributed training throughput on this host: one process against a coordinator with 1 or 2 worker
# processes, for both ways of keeping replicas in step, and the bytes each worker exchanges per step.
#
#   scripts/dist_bench.sh BIN_DIR DATA_DIR          e.g. scripts/dist_bench.sh .build/release data/mnist
#
# Environment: LIMIT (training images, default 12100 = 97 steps of 100), EPOCHS (default 1),
# REPEATS (best of, default 3), EXTRA (more arguments for every run, e.g. "--bind tcp://10.0.0.1:5555").
# Prints one Markdown table row per setting. samples/s is training only (metrics.csv), best of REPEATS.
set -euo pipefail
BIN=${1:?usage: dist_bench.sh BIN_DIR DATA_DIR}
DATA=${2:?usage: dist_bench.sh BIN_DIR DATA_DIR}
LIMIT=${LIMIT:-12100}
EPOCHS=${EPOCHS:-1}
REPEATS=${REPEATS:-3}
EXTRA=${EXTRA:-}
CORES=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run LABEL WORKERS ARGS...: trains REPEATS times and prints the best samples/s and the traffic.
run() {
    local label=$1 workers=$2
    shift 2
    local best=0 sps sent=- received=-
    for _ in $(seq "$REPEATS"); do
        rm -rf "$tmp/run"
        # shellcheck disable=SC2086
        if ! "$BIN/glassbox-coordinator" train --data "$DATA" --limit-train "$LIMIT" --epochs "$EPOCHS" \
                --out "$tmp/run" "$@" $EXTRA > "$tmp/log" 2>&1; then
            echo "| $label | failed: $(tail -1 "$tmp/log") |"
            return
        fi
        sps=$(tail -1 "$tmp/run/metrics.csv" | cut -d, -f7)
        if [ "$sps" -gt "$best" ]; then best=$sps; fi
        local line
        line=$(grep -o 'together: [0-9]* bytes sent.*, [0-9]* bytes received' "$tmp/log" || true)
        if [ -n "$line" ]; then
            sent=$(( $(echo "$line" | sed -E 's/together: ([0-9]+) bytes sent.*/\1/') / workers ))
            received=$(( $(echo "$line" | sed -E 's/.*, ([0-9]+) bytes received/\1/') / workers ))
        fi
    done
    echo "| $label | $best | $sent | $received |"
}

echo "host: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "training images: $LIMIT x $EPOCHS epoch(s); best of $REPEATS"
echo
echo "| setting | samples/s | bytes sent per step per worker | bytes received per step per worker |"
echo "| --- | ---: | ---: | ---: |"
run "one process, $CORES threads" 1 --threads "$CORES"
run "coordinator + 1 worker of $CORES threads, gradient sync" 1 --spawn-workers 1 --worker-threads "$CORES" --bind 'tcp://127.0.0.1:*'
run "coordinator + 1 worker of $CORES threads, weights sync" 1 --spawn-workers 1 --worker-threads "$CORES" --bind 'tcp://127.0.0.1:*' --weight-sync weights
run "coordinator + 2 workers of 1 thread, gradient sync" 2 --spawn-workers 2 --worker-threads 1 --bind 'tcp://127.0.0.1:*'
run "coordinator + 2 workers of 1 thread, weights sync" 2 --spawn-workers 2 --worker-threads 1 --bind 'tcp://127.0.0.1:*' --weight-sync weights
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
