#!/usr/bin/env bash
# The per-epoch maps' UMAP neighbour search on real activations, in this process and on worker processes:
# the `hidden` layer of the reference CNN (seed 1) for the 60,000 MNIST training images before training
# (the fresh epoch-0 map) and after one epoch (a warm map, refined from the epoch-0 graph), n_neighbors 40.
#
#   scripts/umap_workers_bench.sh BIN_DIR DATA_DIR          e.g. scripts/umap_workers_bench.sh .build/release data/mnist
#
# Environment: REPEATS (default 2). Prints one Markdown table row per setting and map:
# - seconds: wall-clock of the neighbour search (workers already joined), best of REPEATS;
# - CPU s: user+system CPU of the coordinator and the workers during the search, lowest of REPEATS; on a
#   machine shared with other jobs this is steadier than wall-clock time;
# - critical path (workers only): the coordinator's plus the busiest worker's CPU seconds (of that run):
#   about the seconds the search takes when every process has a core of its own;
# - recall@40 against the exact search (computed once, in-process, not timed).
set -euo pipefail
BIN=${1:?usage: umap_workers_bench.sh BIN_DIR DATA_DIR}
DATA=${2:?usage: umap_workers_bench.sh BIN_DIR DATA_DIR}
REPEATS=${REPEATS:-2}
CORES=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for epochs in 0 1; do
    "$BIN/glassbox-coordinator" train --data "$DATA" --epochs "$epochs" --seed 1 --no-maps --save-hidden \
        --out "$tmp/e$epochs" --log-level warning > /dev/null
done
# The exact graphs, once, before anything is timed.
"$BIN/glassbox-coordinator" neighbors --previous "$tmp/e0/hidden_train.npy" --input "$tmp/e1/hidden_train.npy" \
    --exact "$tmp/exact" > /dev/null

# run LABEL ARGS...: REPEATS searches; one row per map.
run() {
    local label=$1
    shift
    for _ in $(seq "$REPEATS"); do
        "$BIN/glassbox-coordinator" neighbors --previous "$tmp/e0/hidden_train.npy" --input "$tmp/e1/hidden_train.npy" \
            --exact "$tmp/exact" --data "$DATA" "$@" 2>/dev/null | grep -E '^(fresh|warm) '
    done > "$tmp/out"
    for map in fresh warm; do
        grep "^$map " "$tmp/out" \
            | sed -E 's/.*neighbours ([0-9.]+) s, CPU ([0-9.]+) s \(coordinator ([0-9.]+), workers ([0-9.]+), busiest worker ([0-9.]+)\), recall@40 ([0-9.]+)/\1 \2 \3 \4 \5 \6/' \
            | sort -n -k2 | awk -v label="$label" -v map="$map" '
                NR == 1 {cpu = $2; c = $3; w = $4; busiest = $5; recall = $6; best = $1}
                $1 < best {best = $1}
                END {path = w > 0 ? sprintf("%.2f", c + busiest) : "-"
                     printf "| %s | %s | %.2f | %.2f (%.2f + %.2f) | %s | %s |\n", label,
                     map == "fresh" ? "fresh (epoch 0)" : "warm (epoch 1)", best, cpu, c, w, path, recall}'
    done
}

echo "host: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "60,000 x 512 activations, k = 40; best wall-clock and lowest CPU of $REPEATS"
echo
echo "| setting | map | seconds | CPU s (coordinator + workers) | critical path CPU s | recall@40 |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
run "in-process, 1 thread" --threads 1
run "in-process, 2 threads" --threads 2
run "1 worker of 1 thread" --spawn-workers 1 --worker-threads 1 --bind 'tcp://127.0.0.1:*'
run "2 workers of 1 thread" --spawn-workers 2 --worker-threads 1 --bind 'tcp://127.0.0.1:*'
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
