#!/usr/bin/env bash
# Writes each fuzz target's seed corpus into SEEDS_DIR/<target>: every target binary writes its own seeds
# with the library's writers when GLASSBOX_FUZZ_SEEDS is set (messages of every type, IDX files cut from
# MNIST, weights and checkpoint files, .npy arrays, saved UMAP models); the IDX seeds get a gzip'd copy
# each. Nothing binary is committed.
# usage: scripts/fuzz_seeds.sh FUZZ_BIN_DIR SEEDS_DIR DATA_DIR TARGET...
set -euo pipefail
bin=$1 seeds=$2 data=$3
shift 3
for target in "$@"; do
  rm -rf "$seeds/$target"
  GLASSBOX_FUZZ_SEEDS="$seeds/$target" GLASSBOX_DATA="$data" "$bin/$target" > /dev/null
  if [ "$target" = fuzz-idx ]; then
    for f in "$seeds/$target"/*; do gzip -9 -n -c "$f" > "$f.gz"; done
  fi
done
