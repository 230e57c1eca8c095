#!/usr/bin/env bash
# make bench: Glassbox side by side with Keras (TensorFlow CPU) and PyTorch CPU, in one run.
# Usage: scripts/bench.sh BIN_DIR DATA_DIR
set -euo pipefail
BIN=${1:?bin dir}; DATA=${2:?data dir}
VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, tensorflow" 2>/dev/null; then
  echo "bench: installing torch 2.13 (CPU) and tensorflow-cpu 2.21 into $VENV (first run only) ..."
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "torch==2.13.*" "tensorflow-cpu==2.21.*"
fi
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== load before start: $(cut -d' ' -f1-3 /proc/loadavg)"
G=$("$BIN/glassbox-coordinator" bench --steps 40)
echo "$G"
R=$("$VENV/bin/python" scripts/bench_reference.py --steps 40 2>/dev/null)
echo "$R"
num() { echo "$1" | grep "$2" | grep -oE '[0-9]+ samples/s' | grep -oE '[0-9]+' | head -1; }
gt=$(num "$G" "glassbox training"); gf=$(num "$G" "glassbox forward")
kt=$(num "$R" "keras training"); kf=$(num "$R" "keras forward")
pt=$(num "$R" "torch training"); pf=$(num "$R" "torch forward")
# ratio GLASSBOX OTHER GOAL: the ratio, marked when it is below its goal (issue 11)
ratio() { python3 -c "r = $1 / $2; print(f'{r:.2f}x' + ('' if r >= $3 else ' (goal $3x MISSED)'))" 2>/dev/null || echo n/a; }
echo "== ratios (goals: training >= 2x Keras and >= 1.5x PyTorch; forward >= 1.5x Keras and PyTorch)"
echo "training: glassbox/keras $(ratio "$gt" "$kt" 2), glassbox/torch $(ratio "$gt" "$pt" 1.5)"
echo "forward:  glassbox/keras $(ratio "$gf" "$kf" 1.5), glassbox/torch $(ratio "$gf" "$pf" 1.5)"
echo "== peak memory of a training process (1 epoch on the 60,000 real images, no maps)"
/usr/bin/time -f "peak RSS %M KiB" "$BIN/glassbox-coordinator" train --data "$DATA" --epochs 1 \
  --no-maps --out "$(mktemp -d)" --log-level warning 2>&1 | grep "peak RSS"
echo "== peak memory of the whole pipeline (1 epoch with the UMAP maps, figures and report)"
/usr/bin/time -f "peak RSS %M KiB" "$BIN/glassbox-coordinator" train --data "$DATA" --epochs 1 \
  --out "$(mktemp -d)" --log-level warning 2>&1 | grep "peak RSS"
