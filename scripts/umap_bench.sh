#!/usr/bin/env bash
# The UMAP stage on MNIST stand-in activations (ReLU of a fixed random 784 -> 512 projection of the
# 60,000 training images; the 10,000 test images for transform): fit, transform and warm-fit timings
# and quality, and optionally umap-learn 0.5 on the same data.
#
# usage: scripts/umap_bench.sh [--recall] [--fresh] [--reference] [--rows N]
#   --recall     also the exact kNN graphs (slow: ~25 s each) and the recall of the approximate ones
#   --fresh      also a fresh fit of the "next epoch" data, for the warm fit's steadiness ratio
#   --reference  also umap-learn (scripts/umap_reference.py) on the same data; uses $UMAP_PYTHON, or a
#                virtual environment at .venv-umap (created with pip install umap-learn if missing)
#   --rows N     use the first N training rows
# MNIST is read from $GLASSBOX_DATA (default data/mnist). Timings are wall-clock on this machine: run
# it when the machine is otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(); reference=0
while [ $# -gt 0 ]; do
  case "$1" in
    --recall|--fresh) args+=("$1") ;;
    --reference) reference=1 ;;
    --rows) args+=(--rows "$2"); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
export GLASSBOX_DATA="${GLASSBOX_DATA:-$PWD/data/mnist}"
CPU_FLAGS=""
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw sse4_2 /proc/cpuinfo; then CPU_FLAGS="-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DGLASSBOX_SSE42"; fi
# shellcheck disable=SC2086
swift build -c release $CPU_FLAGS
# shellcheck disable=SC2086
bin="$(swift build -c release $CPU_FLAGS --show-bin-path)"
dump=""
if [ "$reference" = 1 ]; then dump="$(mktemp -d)"; args+=(--dump "$dump"); fi
# Warm-fit knobs for experiments: WARM_EPOCHS, WARM_LR, WARM_PASSES, GLASSBOX_UMAP_BENCH_DRIFT.
[ -n "${WARM_EPOCHS:-}" ] && args+=(--warm-epochs "$WARM_EPOCHS")
[ -n "${WARM_LR:-}" ] && args+=(--warm-learning-rate "$WARM_LR")
[ -n "${WARM_PASSES:-}" ] && args+=(--warm-passes "$WARM_PASSES")
[ -n "${GLASSBOX_UMAP_BENCH_DRIFT:-}" ] && args+=(--drift "$GLASSBOX_UMAP_BENCH_DRIFT")
"$bin/glassbox-coordinator" bench umap --data "$GLASSBOX_DATA" "${args[@]}"
if [ "$reference" = 1 ]; then
  python="${UMAP_PYTHON:-}"
  if [ -z "$python" ]; then
    if [ ! -x .venv-umap/bin/python ]; then
      python3 -m venv .venv-umap && .venv-umap/bin/pip install --quiet umap-learn
    fi
    python=.venv-umap/bin/python
  fi
  echo "umap-learn on the same data:"
  "$python" scripts/umap_reference.py "$dump/x.npy" --labels "$dump/y.npy" --test "$dump/xt.npy" --test-labels "$dump/yt.npy"
  rm -rf "$dump"
fi
