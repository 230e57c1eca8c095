#!/usr/bin/env bash
# Distributed training throughput on this host: one process against a coordinator with 1 or 2 worker
# processes, for both ways of keeping replicas in step, and the bytes each worker exchanges per step.
#
#   scripts/dist_bench.sh BIN_DIR DATA_DIR          e.g. scripts/dist_bench.sh .build/release data/mnist
#
# Environment: SMALL and LARGE (training images of the two runs per setting, default 6100 and 18100,
# i.e. 49 and 145 steps of 100), REPEATS (rounds, default 3), EXTRA (more arguments for every run).
# Prints one Markdown table row per setting:
# - samples/s: training samples per second of the LARGE run (metrics.csv), best of REPEATS rounds, each
#   round running every setting once, in turn; and that as a share of one process (protocol overhead);
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

# Settings: label, workers, arguments.
LABELS=(
    "one process, $CORES threads"
    "coordinator + 1 worker of $CORES threads, gradient sync"
    "coordinator + 1 worker of $CORES threads, weights sync"
    "coordinator + 2 workers of 1 thread, gradient sync"
    "coordinator + 2 workers of 1 thread, weights sync"
)
WORKERS=(1 1 1 2 2)
ARGS=(
    "--threads $CORES"
    "--spawn-workers 1 --worker-threads $CORES --bind tcp://127.0.0.1:*"
    "--spawn-workers 1 --worker-threads $CORES --bind tcp://127.0.0.1:* --weight-sync weights"
    "--spawn-workers 2 --worker-threads 1 --bind tcp://127.0.0.1:*"
    "--spawn-workers 2 --worker-threads 1 --bind tcp://127.0.0.1:* --weight-sync weights"
)
n=${#LABELS[@]}
declare -a best small large sent received failed
for i in $(seq 0 $((n - 1))); do best[i]=0; small[i]=999999; large[i]=999999; sent[i]=-; received[i]=-; failed[i]=; done

# measure I: one SMALL and one LARGE run of setting I, folded into its best figures.
measure() {
    local i=$1 out sps cpu line
    # shellcheck disable=SC2086
    if ! out=$(one "$SMALL" ${ARGS[i]}); then failed[i]=$(tail -1 "$tmp/log"); return; fi
    cpu=${out#* }
    small[i]=$(awk -v a="${small[i]}" -v b="$cpu" 'BEGIN {print (b < a) ? b : a}')
    # shellcheck disable=SC2086
    if ! out=$(one "$LARGE" ${ARGS[i]}); then failed[i]=$(tail -1 "$tmp/log"); return; fi
    sps=${out% *}
    cpu=${out#* }
    large[i]=$(awk -v a="${large[i]}" -v b="$cpu" 'BEGIN {print (b < a) ? b : a}')
    if [ "$sps" -gt "${best[i]}" ]; then best[i]=$sps; fi
    line=$(grep -o 'together: [0-9]* bytes sent.*, [0-9]* bytes received' "$tmp/log" || true)
    if [ -n "$line" ]; then
        sent[i]=$(( $(echo "$line" | sed -E 's/together: ([0-9]+) bytes sent.*/\1/') / WORKERS[i] ))
        received[i]=$(( $(echo "$line" | sed -E 's/.*, ([0-9]+) bytes received/\1/') / WORKERS[i] ))
    fi
}

echo "host: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "training images: $SMALL and $LARGE, 1 epoch; best of $REPEATS rounds, each round running every setting in turn"
echo "(so that a machine whose speed drifts over minutes slows every setting alike)"
for r in $(seq "$REPEATS"); do
    for i in $(seq 0 $((n - 1))); do [ -z "${failed[i]}" ] && measure "$i"; done
    echo "round $r of $REPEATS done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo
echo "| setting | samples/s | vs one process | CPU ms per step | bytes sent per step per worker | bytes received per step per worker |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for i in $(seq 0 $((n - 1))); do
    if [ -n "${failed[i]}" ]; then echo "| ${LABELS[i]} | failed: ${failed[i]} |"; continue; fi
    perStep=$(awk -v a="${small[i]}" -v b="${large[i]}" -v n=$(( $(steps "$LARGE") - $(steps "$SMALL") )) \
              'BEGIN {printf "%.1f", 1000 * (b - a) / n}')
    ratio=$(awk -v a="${best[i]}" -v b="${best[0]}" 'BEGIN {printf "%.1f%%", 100 * a / b}')
    echo "| ${LABELS[i]} | ${best[i]} | $ratio | $perStep | ${sent[i]} | ${received[i]} |"
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
