#!/usr/bin/env bash
# Distributed training throughput on this host: one process against a coordinator with 1 or 2 worker
# processes, for both ways of keeping replicas in step, and the bytes each worker exchanges per step.
#
#   scripts/dist_bench.sh BIN_DIR DATA_DIR          e.g. scripts/dist_bench.sh .build/release data/mnist
#
# Environment: SMALL and LARGE (training images of the two runs per setting, default 6100 and 18100,
# i.e. 49 and 145 steps of 100), REPEATS (default 3), EXTRA (more arguments for every run).
# Prints one Markdown table row per setting:
# - samples/s: training samples per second of the LARGE run (metrics.csv), best of REPEATS;
# - CPU ms per step: user+system CPU of all processes (coordinator and workers), LARGE minus SMALL run
#   divided by the steps between them (start-up and data loading cancel out), lowest of REPEATS; on a
#   machine shared with other jobs this is steadier than wall-clock time;
# - bytes per step per worker each way (the coordinator's traffic summary).
set -euo pipefail
BIN=${1:?usage: dist_bench.sh BIN_DIR DATA_DIR}
DATA=${2:?usage: dist_bench.sh BIN_DIR DATA_DIR}
SMALL=${SMALL:-6100}
LARGE=${LARGE:-18100}
REPEATS=${REPEATS:-3}
EXTRA=${EXTRA:-}
CORES=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
steps() { echo $(( ($1 - $1 / 5 + 99) / 100 )); }

# one LIMIT ARGS...: trains once; prints "samples/s cpu-seconds" and leaves the log in $tmp/log.
one() {
    local limit=$1
    shift
    rm -rf "$tmp/run"
    local TIMEFORMAT="%U %S"
    local cpu
    # shellcheck disable=SC2086
    cpu=$( { time "$BIN/glassbox-coordinator" train --data "$DATA" --limit-train "$limit" --epochs 1 \
                --no-maps --out "$tmp/run" "$@" $EXTRA > "$tmp/log" 2>&1; } 2>&1 ) || return 1
    echo "$(tail -1 "$tmp/run/metrics.csv" | cut -d, -f7) $(echo "$cpu" | awk '{print $1 + $2}')"
}

# run LABEL WORKERS ARGS...
run() {
    local label=$1 workers=$2
    shift 2
    local best=0 small=999999 large=999999 sent=- received=- out sps cpu
    for _ in $(seq "$REPEATS"); do
        if ! out=$(one "$SMALL" "$@"); then echo "| $label | failed: $(tail -1 "$tmp/log") |"; return; fi
        cpu=${out#* }
        small=$(awk -v a="$small" -v b="$cpu" 'BEGIN {print (b < a) ? b : a}')
        if ! out=$(one "$LARGE" "$@"); then echo "| $label | failed: $(tail -1 "$tmp/log") |"; return; fi
        sps=${out% *}
        cpu=${out#* }
        large=$(awk -v a="$large" -v b="$cpu" 'BEGIN {print (b < a) ? b : a}')
        if [ "$sps" -gt "$best" ]; then best=$sps; fi
        local line
        line=$(grep -o 'together: [0-9]* bytes sent.*, [0-9]* bytes received' "$tmp/log" || true)
        if [ -n "$line" ]; then
            sent=$(( $(echo "$line" | sed -E 's/together: ([0-9]+) bytes sent.*/\1/') / workers ))
            received=$(( $(echo "$line" | sed -E 's/.*, ([0-9]+) bytes received/\1/') / workers ))
        fi
    done
    local perStep
    perStep=$(awk -v a="$small" -v b="$large" -v n=$(( $(steps "$LARGE") - $(steps "$SMALL") )) \
              'BEGIN {printf "%.1f", 1000 * (b - a) / n}')
    echo "| $label | $best | $perStep | $sent | $received |"
}

echo "host: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "training images: $SMALL and $LARGE, 1 epoch; best of $REPEATS"
echo
echo "| setting | samples/s | CPU ms per step | bytes sent per step per worker | bytes received per step per worker |"
echo "| --- | ---: | ---: | ---: | ---: |"
run "one process, $CORES threads" 1 --threads "$CORES"
run "coordinator + 1 worker of $CORES threads, gradient sync" 1 --spawn-workers 1 --worker-threads "$CORES" --bind 'tcp://127.0.0.1:*'
run "coordinator + 1 worker of $CORES threads, weights sync" 1 --spawn-workers 1 --worker-threads "$CORES" --bind 'tcp://127.0.0.1:*' --weight-sync weights
run "coordinator + 2 workers of 1 thread, gradient sync" 2 --spawn-workers 2 --worker-threads 1 --bind 'tcp://127.0.0.1:*'
run "coordinator + 2 workers of 1 thread, weights sync" 2 --spawn-workers 2 --worker-threads 1 --bind 'tcp://127.0.0.1:*' --weight-sync weights
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
