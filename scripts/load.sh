#!/usr/bin/env bash
# Load: many worker processes on this host against one coordinator, on a tiny real subset, so that the
# coordinator's message handling is the load rather than the math.
#
#   scripts/load.sh BIN DATA [WORKERS] [CHURN]
#
# 1. Fan-in: WORKERS (default 32) workers of 1 thread each join before training starts. Every step must
#    complete, no message may be lost (every step assignment and evaluation request sent is answered, no
#    worker dropped, every worker told the run ended), the coordinator's peak memory (VmHWM) is recorded,
#    and the weights equal a one-process run's (SHA-256 of weights.safetensors).
# 2. Churn: CHURN (default 100) workers in all join and leave during a run, in waves of 10: each wave starts
#    10 fresh workers and SIGKILLs the 10 oldest still running; the weights must again equal the reference.
# BIN holds glassbox-coordinator and glassbox-worker (a release build), DATA the MNIST IDX files; the runs use
# a copy of the first 2,000 training and 500 test images (each worker loads the whole data set given to it).
# LOAD_DIR keeps the runs (default: a temporary directory, removed when both parts passed).
set -euo pipefail

BIN=${1:?usage: scripts/load.sh BIN DATA [WORKERS] [CHURN]}
DATA=${2:?usage: scripts/load.sh BIN DATA [WORKERS] [CHURN]}
WORKERS=${3:-32}
CHURN=${4:-100}
WAVE=10
for program in glassbox-coordinator glassbox-worker; do
  [ -x "$BIN/$program" ] || { echo "load.sh: $BIN/$program is not an executable (build first: make build)" >&2; exit 2; }
done
for file in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$DATA/$file" ] || { echo "load.sh: $DATA/$file is missing (uncompressed MNIST IDX files expected; make data)" >&2; exit 2; }
done
for n in "$WORKERS" "$CHURN"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "load.sh: WORKERS and CHURN must be positive integers, got $n" >&2; exit 2; }
done

KEEP=${LOAD_DIR:+1}
ROOT=${LOAD_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/glassbox-load.XXXXXX")}
mkdir -p "$ROOT"
declare -a PIDS=()
COORDINATOR=
cleanup() {
  for pid in "${PIDS[@]}" $COORDINATOR; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The first images of each IDX file, with the count in the header changed to match.
SUBSET="$ROOT/data"
python3 - "$DATA" "$SUBSET" <<'EOF'
import os, struct, sys
source, target = sys.argv[1:]
os.makedirs(target, exist_ok=True)
for name, count in [("train", 2000), ("t10k", 500)]:
    for kind, header, item in [("images-idx3-ubyte", 16, 784), ("labels-idx1-ubyte", 8, 1)]:
        with open(f"{source}/{name}-{kind}", "rb") as f:
            head = bytearray(f.read(header))
            body = f.read(count * item)
        head[4:8] = struct.pack(">I", count)
        with open(f"{target}/{name}-{kind}", "wb") as f:
            f.write(head + body)
EOF

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
digest() { sha256sum "$1/weights.safetensors" | cut -d' ' -f1; }
start_worker() {  # start_worker ENDPOINT LOG
  "$BIN/glassbox-worker" --connect "$1" --data "$SUBSET" --threads 1 > "$2" 2>&1 &
  PIDS+=($!)
  disown  # no "Killed" line from the shell for each kill
}
# Messages of TYPE the coordinator sent (FIELD sent_messages) or received, from the run's traffic record.
traffic() {
  python3 - "$1/events.jsonl" "$2" "$3" <<'EOF'
import json, sys
path, kind, field = sys.argv[1:]
for line in open(path):
    event = json.loads(line)
    if event.get("event") == "traffic":
        print(event["by_type"].get(kind, {}).get(field, 0))
        break
else:
    print("none")
EOF
}
peak() { grep -o 'peak resident memory [0-9]* MiB' "$1" | grep -o '[0-9]*' || echo "?"; }

# The fan-in run is short; the churn run lasts long enough for every wave to land while it trains.
FANIN=(--data "$SUBSET" --limit-train 600 --epochs 2 --seed 7 --no-maps)
CHURNED=(--data "$SUBSET" --limit-train 2000 --epochs 3 --seed 7 --no-maps)
CLUSTER=(--worker-timeout 120 --step-deadline 30)
# start_coordinator NAME WORKERS SETTINGS...: a coordinator waiting for WORKERS workers on a fresh port; sets dir,
# endpoint and COORDINATOR.
start_coordinator() {
  dir="$ROOT/$1"
  mkdir -p "$dir"
  endpoint="tcp://127.0.0.1:$(free_port)"
  local workers=$2
  shift 2
  "$BIN/glassbox-coordinator" train "$@" --workers "$workers" --bind "$endpoint" "${CLUSTER[@]}" \
    --out "$dir/run" > "$dir/coordinator.log" 2>&1 &
  COORDINATOR=$!
}
FAILED=0
for name in fanin churn; do
  if [ $name = fanin ]; then settings=("${FANIN[@]}"); else settings=("${CHURNED[@]}"); fi
  "$BIN/glassbox-coordinator" train "${settings[@]}" --out "$ROOT/reference-$name" > "$ROOT/reference-$name.log" 2>&1 \
    || { echo "load.sh: the reference run failed; see $ROOT/reference-$name.log" >&2; exit 1; }
done

echo "1. fan-in: $WORKERS workers (1 thread each), ${FANIN[*]}"
start_coordinator fanin "$WORKERS" "${FANIN[@]}"
for i in $(seq 1 "$WORKERS"); do start_worker "$endpoint" "$dir/worker-$i.log"; done
status=0
wait "$COORDINATOR" || status=$?
COORDINATOR=
for pid in "${PIDS[@]}"; do  # workers exit once told the run ended (within seconds)
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
PIDS=()
ended=$(grep -l 'coordinator ended the run' "$dir"/worker-*.log | wc -l)
assignments=$(traffic "$dir/run" stepAssignment sent_messages)
results=$(traffic "$dir/run" stepResult received_messages)
requests=$(traffic "$dir/run" evalRequest sent_messages)
replies=$(traffic "$dir/run" evalReply received_messages)
updates=$(traffic "$dir/run" stepUpdate sent_messages)
digests=$(traffic "$dir/run" weightsDigest sent_messages)
digest_replies=$(traffic "$dir/run" weightsDigest received_messages)
out_of_step=$(grep -c 'is out of step' "$dir/coordinator.log" || true)
dropped=$(grep -c ') left: ' "$dir/coordinator.log" || true)
same=no
[ "$status" = 0 ] && [ "$(digest "$dir/run")" = "$(digest "$ROOT/reference-fanin")" ] && same=yes
echo "   exit $status; workers ended cleanly $ended/$WORKERS; dropped $dropped"
echo "   step assignments sent $assignments, results received $results; evaluation requests $requests, replies $replies;"
echo "   weights checks $digests, answers $digest_replies; step updates sent $updates, workers out of step $out_of_step"
echo "   coordinator peak memory $(peak "$dir/coordinator.log") MiB (one process: $(peak "$ROOT/reference-fanin.log") MiB);" \
  "log lines $(wc -l < "$dir/coordinator.log"); weights identical: $same"
if [ "$same" != yes ] || [ "$ended" != "$WORKERS" ] || [ "$dropped" != 0 ] || [ "$assignments" != "$results" ] \
   || [ "$requests" != "$replies" ] || [ "$digests" != "$digest_replies" ] || [ "$out_of_step" != 0 ]; then
  FAILED=$((FAILED + 1))
fi

echo "2. churn: $CHURN workers joining and leaving in waves of $WAVE, ${CHURNED[*]}"
start_coordinator churn "$WAVE" "${CHURNED[@]}"
started=0 killed=0 oldest=0
while [ "$started" -lt "$CHURN" ] && kill -0 "$COORDINATOR" 2>/dev/null; do
  for _ in $(seq 1 "$WAVE"); do
    [ "$started" -lt "$CHURN" ] || break
    started=$((started + 1))
    start_worker "$endpoint" "$dir/worker-$started.log"
  done
  # Wait until this wave has joined (or the run ended), then the previous wave leaves.
  until [ "$(grep -c 'joined as rank' "$dir/coordinator.log" || true)" -ge "$started" ] \
        || ! kill -0 "$COORDINATOR" 2>/dev/null; do sleep 0.2; done
  while [ $((started - oldest)) -gt "$WAVE" ]; do
    kill -KILL "${PIDS[$oldest]}" 2>/dev/null && killed=$((killed + 1)) || true
    oldest=$((oldest + 1))
  done
  sleep 1
done
churned=$(kill -0 "$COORDINATOR" 2>/dev/null && echo yes || echo no)
status=0
wait "$COORDINATOR" || status=$?
COORDINATOR=
cleanup
PIDS=()
joined=$(grep -c 'joined as rank' "$dir/coordinator.log" || true)
left=$(grep -c ') left: ' "$dir/coordinator.log" || true)
same=no
[ "$status" = 0 ] && [ "$(digest "$dir/run")" = "$(digest "$ROOT/reference-churn")" ] && same=yes
echo "   exit $status; workers started $started, killed $killed, joined $joined, dropped $left; every wave landed while training: $churned"
echo "   coordinator peak memory $(peak "$dir/coordinator.log") MiB (one process: $(peak "$ROOT/reference-churn.log") MiB);" \
  "log lines $(wc -l < "$dir/coordinator.log"); weights identical: $same"
if [ "$same" != yes ] || [ "$churned" != yes ]; then FAILED=$((FAILED + 1)); fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
if [ "$FAILED" -gt 0 ] || [ -n "$KEEP" ]; then echo "runs kept in $ROOT"; else rm -rf "$ROOT"; fi
[ "$FAILED" = 0 ]
