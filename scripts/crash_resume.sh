#!/usr/bin/env bash
# make crash: SIGKILL the coordinator at random moments (during a step, during a checkpoint write, during a
# map), continue each run with `train --resume DIR` alone, and compare the final directory with an
# undisturbed run's: weights.safetensors and maps/*.npy bytes, fig/*.png and mnist.gif bytes, metrics rows
# without their timing columns. Prints one table row per moment.
# A crash before the first checkpoint is complete (the start's own, cut mid-write) leaves nothing to resume:
# the run starts again with the same options, as the systemd unit does.
# Usage: scripts/crash_resume.sh BIN_DIR DATA_DIR [TRIALS]   (default 12; more are drawn until 10 moments
# hit the run: one past the run's end is not counted)
set -euo pipefail
BIN=${1:?bin dir}; DATA=${2:?data dir}; TRIALS=${3:-12}; MIN_KILLS=10
COORD="$BIN/glassbox-coordinator"
[ -x "$COORD" ] || { echo "crash_resume: no $COORD (build first)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-crash-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# 1,600 training images: 16 steps an epoch, a checkpoint every 4 of them.
ARGS=(--data "$DATA" --limit-train 2000 --epochs 3 --seed 11 --n-neighbors 10 --threads 2 --checkpoint-every 4
      --log-level debug)
RANDOM=${CRASH_SEED:-14}

# Final outputs that must not depend on the crash, one line per file (timing columns and keys dropped).
fingerprint() {
  local dir=$1
  (cd "$dir" && sha256sum weights.safetensors mnist.gif maps/*.npy fig/*.png)
  cut -d, -f1-5 "$dir/metrics.csv"
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    print(json.dumps({k: v for k, v in row.items() if not k.endswith("seconds") and k != "samples_per_second"},
                     sort_keys=True))' "$dir/metrics.jsonl"
}

# What the coordinator was doing, from its last log line before the kill.
activity() {
  local last
  last=$(grep -v "crash point" "$1" | tail -n 1)
  case "$last" in
    *"crash point"*) echo "?";;
    *"map written"*) echo "map files / next epoch's start";;
    *"done in"*) echo "checkpoint + map of epoch $(echo "$last" | grep -oE 'epoch [0-9]+' | head -1 | cut -d' ' -f2)";;
    *" map: UMAP"*) echo "writing map files";;
    *"checkpoint at step"*|*"step "*) echo "training, epoch $(echo "$last" | grep -oE 'epoch [0-9]+' | head -1 | cut -d' ' -f2)";;
    *"run directory"*|*"resuming"*) echo "map of epoch 0";;
    *) echo "${last:25:50}";;
  esac
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
"$COORD" train "${ARGS[@]}" --out "$WORK/reference" > "$WORK/reference.log" 2>&1 \
  || { echo "crash_resume: the undisturbed run failed:"; tail -5 "$WORK/reference.log"; exit 1; }
seconds=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
fingerprint "$WORK/reference" > "$WORK/reference.fp"
echo "== undisturbed run: ${seconds} s, $(wc -l < "$WORK/reference.fp") compared files and rows"

printf '%-3s %-30s %-40s %-11s %-9s\n' "#" "moment" "what was running" "resumed ok" "identical"
identical=0 killed=0 trial=0
while (( (trial < TRIALS || killed < MIN_KILLS) && trial < 3 * TRIALS )); do
  trial=$((trial + 1))
  dir="$WORK/t$trial"
  env=()
  # Every third moment is a checkpoint write cut in half (too short to hit by chance), every fifth a map's
  # files written but not yet committed; the rest are wall-clock moments across the whole run.
  if (( trial % 3 == 0 )); then
    k=$(( 1 + RANDOM % 11 )); env=(GLASSBOX_CRASH_AT=checkpoint-write:$k); moment="checkpoint write #$k"
  elif (( trial % 5 == 0 )); then
    k=$(( 1 + RANDOM % 4 )); env=(GLASSBOX_CRASH_AT=map-files:$k); moment="after map #$k's files"
  else
    at=$(python3 -c "import random; random.seed($RANDOM); print(round(random.uniform(0.03, 0.9) * $seconds, 2))")
    begun=$(date +%s.%N)
    moment="at ${at} s"
  fi
  env "${env[@]}" "$COORD" train "${ARGS[@]}" --out "$dir" > "$dir.log" 2>&1 &
  pid=$!
  if [ ${#env[@]} -eq 0 ]; then
    sleep "$at"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  status=0; { wait "$pid"; } 2>/dev/null || status=$?  # no "Killed" notice from bash
  if [ "$status" -ne 137 ]; then
    printf '%-3s %-30s %-40s %-11s %-9s\n' "$trial" "$moment" "(run ended first: status $status)" "-" "-"
    # The machine got faster: draw later moments from this run's length.
    [ ${#env[@]} -eq 0 ] && seconds=$(python3 -c "print(round($(date +%s.%N) - $begun, 1))")
    continue
  fi
  killed=$((killed + 1))
  what=$(activity "$dir.log")
  if [ -e "$dir/checkpoint.safetensors" ]; then
    if "$COORD" train --resume "$dir" > "$dir.resume.log" 2>&1; then ok=yes; else ok="no ($?)"; fi
  elif "$COORD" train "${ARGS[@]}" --out "$dir" > "$dir.resume.log" 2>&1; then ok="restarted"; else ok="no ($?)"; fi
  same=no
  if [ "${ok:0:2}" != no ] && fingerprint "$dir" 2>/dev/null | cmp -s - "$WORK/reference.fp"; then same=yes; identical=$((identical + 1)); fi
  printf '%-3s %-30s %-40s %-11s %-9s\n' "$trial" "$moment" "$what" "$ok" "$same"
  if [ "$same" != yes ]; then
    echo "    resumed run's log: $(tail -n 2 "$dir.resume.log" | tr '\n' ' ')"
    fingerprint "$dir" 2>&1 | diff - "$WORK/reference.fp" | head -5 | sed 's/^/    /' || true
  fi
done
echo "== $killed coordinator crashes, $identical resumed to the undisturbed run's files"
[ "$killed" -ge 1 ] && [ "$identical" -eq "$killed" ]
