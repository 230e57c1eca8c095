#!/usr/bin/env bash
# Chaos: a 3-epoch training on a real subset with a coordinator and 3 worker processes, while random workers
# are SIGKILLed, SIGSTOPped (and SIGCONTed one interval later) and restarted; the final weights must equal an
# undisturbed one-process run's, byte for byte (SHA-256 of weights.safetensors).
#
#   scripts/chaos.sh BIN DATA [RUNS] [SECONDS_BETWEEN]
#
# BIN holds glassbox-coordinator and glassbox-worker (a release build), DATA the MNIST IDX files. The faults are
# random but seeded (CHAOS_SEED, default 1; run r draws from seed*1000+r) and logged with their time in
# RUN_DIR/faults.log. CHAOS_DIR keeps the runs (default: a temporary directory, removed at the end when every
# run ended identical). Prints one table row per run and exits non-zero if any run's weights differ.
set -euo pipefail

BIN=${1:?usage: scripts/chaos.sh BIN DATA [RUNS] [SECONDS_BETWEEN]}
DATA=${2:?usage: scripts/chaos.sh BIN DATA [RUNS] [SECONDS_BETWEEN]}
RUNS=${3:-5}
BETWEEN=${4:-3}
SEED=${CHAOS_SEED:-1}
LIMIT_TRAIN=${CHAOS_LIMIT_TRAIN:-3000}
WORKERS=3
for program in glassbox-coordinator glassbox-worker; do
  [ -x "$BIN/$program" ] || { echo "chaos.sh: $BIN/$program is not an executable (build first: make build)" >&2; exit 2; }
done
[ -d "$DATA" ] || { echo "chaos.sh: $DATA is not a directory with the MNIST IDX files" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "chaos.sh: RUNS must be a positive integer, got $RUNS" >&2; exit 2; }
[[ "$BETWEEN" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "chaos.sh: SECONDS_BETWEEN must be a number, got $BETWEEN" >&2; exit 2; }

KEEP=${CHAOS_DIR:+1}
ROOT=${CHAOS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/glassbox-chaos.XXXXXX")}
mkdir -p "$ROOT"
TRAIN=(--data "$DATA" --limit-train "$LIMIT_TRAIN" --epochs 3 --seed 7 --no-maps)
# A stopped worker holding a share is dropped after --step-deadline, an idle one after --heartbeat-timeout;
# both short so that a stop costs seconds, not a minute. --worker-timeout is generous: all workers may be
# down for a moment between a kill and a restart.
CLUSTER=(--step-deadline 3 --heartbeat-timeout 3 --worker-timeout 120)

declare -a PIDS STATES
COORDINATOR=
# Every process this script started is ended on exit (stopped ones are continued first, so they can die).
cleanup() {
  for i in "${!PIDS[@]}"; do
    [ -n "${PIDS[$i]}" ] || continue
    kill -CONT "${PIDS[$i]}" 2>/dev/null || true
    kill -KILL "${PIDS[$i]}" 2>/dev/null || true
  done
  [ -z "$COORDINATOR" ] || kill -KILL "$COORDINATOR" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
digest() { sha256sum "$1/weights.safetensors" | cut -d' ' -f1; }

# start_worker SLOT ENDPOINT DIR: a fresh worker process in SLOT (its log numbered by start).
STARTS=0
start_worker() {
  STARTS=$((STARTS + 1))
  "$BIN/glassbox-worker" --connect "$2" --data "$DATA" --threads 1 > "$3/worker-$1-$STARTS.log" 2>&1 &
  PIDS[$1]=$!
  disown  # no "Killed" line from the shell for each kill
  STATES[$1]=up
}

# Slots in STATE, space-separated.
slots_in() { local s=() i; for i in "${!STATES[@]}"; do [ "${STATES[$i]}" = "$1" ] && s+=("$i"); done; echo "${s[*]:-}"; }
# PICKED: one of the space-separated slots in $1, drawn in this shell (a subshell would not advance RANDOM).
pick() { local a=($1); PICKED=${a[$((RANDOM % ${#a[@]}))]}; }

echo "reference: one process, ${TRAIN[*]}"
"$BIN/glassbox-coordinator" train "${TRAIN[@]}" --out "$ROOT/reference" > "$ROOT/reference.log" 2>&1 \
  || { echo "chaos.sh: the reference run failed; see $ROOT/reference.log" >&2; tail -5 "$ROOT/reference.log" >&2; exit 1; }
EXPECTED=$(digest "$ROOT/reference")
echo "reference weights sha256 $EXPECTED"
echo
printf '%-4s %6s %10s %9s %8s %11s %6s %9s %9s\n' run kills stop/cont restarts dropped reassigned joins seconds identical
TOTAL_KILLS=0 TOTAL_STOPS=0 TOTAL_RESTARTS=0 TOTAL_DROPPED=0 TOTAL_REASSIGNED=0 FAILED=0
for run in $(seq 1 "$RUNS"); do
  RANDOM=$((SEED * 1000 + run))
  dir="$ROOT/run-$run"
  mkdir -p "$dir"
  endpoint="tcp://127.0.0.1:$(free_port)"
  PIDS=() STATES=() STARTS=0
  for slot in $(seq 0 $((WORKERS - 1))); do start_worker "$slot" "$endpoint" "$dir"; done
  started=$(date +%s.%N)
  "$BIN/glassbox-coordinator" train "${TRAIN[@]}" --workers "$WORKERS" --bind "$endpoint" "${CLUSTER[@]}" \
    --out "$dir/run" > "$dir/coordinator.log" 2>&1 &
  COORDINATOR=$!
  kills=0 stops=0 restarts=0
  # Faults begin once training does (every worker joined), so that each lands in a step or an evaluation.
  until grep -q "$WORKERS live" "$dir/coordinator.log" 2>/dev/null || ! kill -0 "$COORDINATOR" 2>/dev/null; do sleep 0.1; done
  while kill -0 "$COORDINATOR" 2>/dev/null; do
    r=$RANDOM
    sleep "$(awk -v b="$BETWEEN" -v r=$r 'BEGIN { printf "%.2f", b * (0.5 + r / 32767) }')"
    kill -0 "$COORDINATOR" 2>/dev/null || break
    at=$(awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
    for slot in $(slots_in stopped); do  # a stop lasts one interval
      kill -CONT "${PIDS[$slot]}" 2>/dev/null || true
      STATES[$slot]=up
      echo "$at s cont    slot $slot pid ${PIDS[$slot]}" >> "$dir/faults.log"
    done
    up=$(slots_in up)
    kind=$((RANDOM % 3))
    # Kill and stop never take the last running worker: a restart comes instead.
    if [ "$kind" -lt 2 ] && [ "$(wc -w <<< "$up")" -le 1 ]; then kind=2; fi
    case $kind in
      0) pick "$up"; slot=$PICKED; kill -KILL "${PIDS[$slot]}" 2>/dev/null || true; STATES[$slot]=dead
         kills=$((kills + 1)); echo "$at s kill    slot $slot pid ${PIDS[$slot]}" >> "$dir/faults.log" ;;
      1) pick "$up"; slot=$PICKED; kill -STOP "${PIDS[$slot]}" 2>/dev/null || true; STATES[$slot]=stopped
         stops=$((stops + 1)); echo "$at s stop    slot $slot pid ${PIDS[$slot]}" >> "$dir/faults.log" ;;
      2) dead=$(slots_in dead)
         if [ -n "$dead" ]; then
           pick "$dead"; slot=$PICKED; old="dead pid ${PIDS[$slot]}"
         else  # nothing dead: a running worker is killed and replaced at once
           pick "$up"; slot=$PICKED; old="killed pid ${PIDS[$slot]}"; kill -KILL "${PIDS[$slot]}" 2>/dev/null || true
         fi
         start_worker "$slot" "$endpoint" "$dir"
         restarts=$((restarts + 1)); echo "$at s restart slot $slot ($old) as pid ${PIDS[$slot]}" >> "$dir/faults.log" ;;
    esac
  done
  status=0
  wait "$COORDINATOR" || status=$?
  COORDINATOR=
  seconds=$(awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { printf "%.0f", n - s }')
  cleanup
  PIDS=()
  dropped=$(grep -c ') left: ' "$dir/coordinator.log" || true)
  reassigned=$(grep -c 'go to the others' "$dir/coordinator.log" || true)
  joins=$(grep -c 'joined as rank' "$dir/coordinator.log" || true)
  identical=no
  if [ "$status" = 0 ] && [ -f "$dir/run/weights.safetensors" ] && [ "$(digest "$dir/run")" = "$EXPECTED" ]; then
    identical=yes
  else
    FAILED=$((FAILED + 1))
    [ "$status" = 0 ] || identical="no (exit $status)"
  fi
  printf '%-4s %6s %10s %9s %8s %11s %6s %9s %9s\n' "$run" "$kills" "$stops" "$restarts" "$dropped" "$reassigned" \
    "$joins" "$seconds" "$identical"
  TOTAL_KILLS=$((TOTAL_KILLS + kills)) TOTAL_STOPS=$((TOTAL_STOPS + stops)) TOTAL_RESTARTS=$((TOTAL_RESTARTS + restarts))
  TOTAL_DROPPED=$((TOTAL_DROPPED + dropped)) TOTAL_REASSIGNED=$((TOTAL_REASSIGNED + reassigned))
done
printf '%-4s %6s %10s %9s %8s %11s %6s %9s %9s\n' all "$TOTAL_KILLS" "$TOTAL_STOPS" "$TOTAL_RESTARTS" "$TOTAL_DROPPED" \
  "$TOTAL_REASSIGNED" - - "$((RUNS - FAILED))/$RUNS"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
if [ "$FAILED" -gt 0 ] || [ -n "$KEEP" ]; then
  echo "runs kept in $ROOT (coordinator.log, worker logs and faults.log per run)"
else
  rm -rf "$ROOT"
fi
[ "$FAILED" = 0 ]
