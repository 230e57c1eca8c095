#!/usr/bin/env bash
# make bench: one host, several processes (issue 11). Trains the same 24,000 real images (one epoch, no maps,
# seed 3) as one process of 2 threads, as a coordinator + 2 spawned workers of 1 thread splitting each update
# through their shared file and leaving their step gradients there (what `make run` does), as the same with the
# gradients through the coordinator (GLASSBOX_SHARED_GRADIENTS=off), and without the sharing
# (GLASSBOX_SHARED_UPDATES=off), back to back, ROUNDS times; prints samples/s, the share of one process' speed
# (goal: >= 90 %) and checks that all four end with the same weights.
# Usage: scripts/multiprocess_bench.sh BIN_DIR DATA_DIR [ROUNDS]
set -euo pipefail
BIN=${1:?bin dir}; DATA=${2:?data dir}; ROUNDS=${3:-3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "== one host, several processes: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
rate() { tail -1 "$1/metrics.csv" | cut -d, -f7; }
train() {  # DIR, then extra options
  local dir=$1; shift
  "$BIN/glassbox-coordinator" train --data "$DATA" --limit-train 30000 --epochs 1 --no-maps --seed 3 \
    --out "$dir" --log-level warning "$@" > "$dir.log" 2>&1
}
missed=0
for i in $(seq 1 "$ROUNDS"); do
  train "$OUT/one$i" --threads 2
  train "$OUT/shared$i" --spawn-workers 2 --worker-threads 1
  GLASSBOX_SHARED_GRADIENTS=off train "$OUT/relayed$i" --spawn-workers 2 --worker-threads 1
  GLASSBOX_SHARED_UPDATES=off train "$OUT/whole$i" --spawn-workers 2 --worker-threads 1
  one=$(rate "$OUT/one$i"); shared=$(rate "$OUT/shared$i"); relayed=$(rate "$OUT/relayed$i"); whole=$(rate "$OUT/whole$i")
  share=$(python3 -c "print(f'{100*$shared/$one:.1f}')")
  same=yes
  cmp -s "$OUT/one$i/weights.safetensors" "$OUT/shared$i/weights.safetensors" || same=NO
  cmp -s "$OUT/one$i/weights.safetensors" "$OUT/relayed$i/weights.safetensors" || same=NO
  cmp -s "$OUT/one$i/weights.safetensors" "$OUT/whole$i/weights.safetensors" || same=NO
  mark=""; python3 -c "import sys; sys.exit(0 if $shared >= 0.9 * $one else 1)" || { mark="  (goal >= 90 % MISSED)"; missed=1; }
  echo "round $i: one process $one samples/s; 2 workers sharing updates $shared ($share %)$mark; the same with the gradients through the coordinator $relayed; 2 workers applying whole updates $whole; same weights: $same"
  [ "$same" = yes ] || exit 1
done
[ "$missed" = 0 ] || echo "== multi-process goal missed in at least one round (see above)"
