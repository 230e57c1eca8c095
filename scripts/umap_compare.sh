#!/usr/bin/env bash
# The UMAP stage side by side with umap-learn 0.5 on the same real activations: the `hidden` layer of
# the reference CNN after one epoch on the 60,000 MNIST training images (fit) and the 10,000 test
# images (transform), n_neighbors 40.
#   scripts/umap_compare.sh BIN_DIR DATA_DIR
set -euo pipefail
BIN=${1:?bin dir}; DATA=${2:?data dir}
cd "$(dirname "$0")/.."
if [ ! -x .venv-umap/bin/python ] || ! .venv-umap/bin/python -c "import umap" 2>/dev/null; then
  echo "umap_compare: installing umap-learn into .venv-umap (first run only) ..."
  python3 -m venv .venv-umap && .venv-umap/bin/pip install --quiet umap-learn
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "== activations: 1 epoch, seed 1, hidden layer of all training and test images"
"$BIN/glassbox-coordinator" train --data "$DATA" --epochs 1 --seed 1 --no-maps --save-hidden --out "$dir" \
  --log-level warning
echo "== glassbox embed (fresh fit + transform)"
"$BIN/glassbox-coordinator" embed --input "$dir/hidden_train.npy" --labels "$dir/labels_train.npy" \
  --out "$dir/map.npy" --transform "$dir/hidden_test.npy" --transform-out "$dir/test_map.npy" \
  --transform-labels "$dir/labels_test.npy"
echo "== umap-learn $(.venv-umap/bin/python -c 'import umap; print(umap.__version__)' 2>/dev/null) (after its JIT warm-up)"
.venv-umap/bin/python scripts/umap_reference.py "$dir/hidden_train.npy" --labels "$dir/labels_train.npy" \
  --test "$dir/hidden_test.npy" --test-labels "$dir/labels_test.npy" 2>/dev/null | grep -v '^{'
