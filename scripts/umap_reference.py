#!/usr/bin/env python3
"""umap-learn 0.5 on a .npy of activations: timings and map quality, for Glassbox's UMAP benchmark.

Usage:
  umap_reference.py X.npy [--labels y.npy] [--test Xt.npy --test-labels yt.npy]
                    [--n-neighbors 40] [--sample 5000] [--seed 7] [--no-warmup] [--out emb.npy]

Prints, one per line, "name value" pairs and finally one JSON object with all of them:
  neighbors_s       umap-learn's nearest_neighbors (pynndescent) on X, after the JIT warm-up
  fit_s             UMAP(n_neighbors=...).fit(X) (includes its own neighbour search)
  transform_s       transform of the test rows (if --test)
  trustworthiness   sklearn trustworthiness (k=10) on a fixed random sample of --sample rows
  knn_accuracy      10-NN classifier from the 2-D training map to the transformed test points
                    (if --labels, --test and --test-labels)
numba compiles on first use (40 s and more on this kind of machine); a warm-up fit on a 5,000-row
subset (large enough for umap-learn's approximate path) runs first so the timings exclude it.
Needs: pip install umap-learn (0.5.x), which brings numpy, scipy, scikit-learn, numba, pynndescent.
"""
import argparse
import json
import sys
import time

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data", help="float32 .npy, shape (rows, dim)")
    p.add_argument("--labels", help=".npy of integer labels, one per row of data")
    p.add_argument("--test", help=".npy of new rows to transform, shape (rows, dim)")
    p.add_argument("--test-labels", help=".npy of integer labels of the test rows")
    p.add_argument("--n-neighbors", type=int, default=40)
    p.add_argument("--sample", type=int, default=5000, help="rows for trustworthiness")
    p.add_argument("--seed", type=int, default=7, help="seed of the trustworthiness sample")
    p.add_argument("--no-warmup", action="store_true", help="skip the JIT warm-up fit")
    p.add_argument("--out", help="write the 2-D map here (.npy)")
    args = p.parse_args()

    import umap
    from umap.umap_ import nearest_neighbors
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import KNeighborsClassifier

    x = np.ascontiguousarray(np.load(args.data), dtype=np.float32)
    if x.ndim != 2:
        sys.exit(f"{args.data}: expected a 2-D array, got shape {x.shape}")
    results = {"rows": int(x.shape[0]), "dim": int(x.shape[1]), "n_neighbors": args.n_neighbors,
               "umap_learn": umap.__version__ if hasattr(umap, "__version__") else "?"}

    if not args.no_warmup:
        rng = np.random.default_rng(0)
        subset = x[rng.choice(x.shape[0], size=min(5000, x.shape[0]), replace=False)]
        t = time.perf_counter()
        model = umap.UMAP(n_neighbors=args.n_neighbors).fit(subset)
        model.transform(subset[:100])
        results["warmup_s"] = time.perf_counter() - t

    t = time.perf_counter()
    nearest_neighbors(x, args.n_neighbors, "euclidean", {}, False, None)
    results["neighbors_s"] = time.perf_counter() - t

    t = time.perf_counter()
    model = umap.UMAP(n_neighbors=args.n_neighbors).fit(x)
    results["fit_s"] = time.perf_counter() - t
    embedding = model.embedding_
    if args.out:
        np.save(args.out, embedding.astype(np.float32))

    rng = np.random.default_rng(args.seed)
    sample = np.sort(rng.choice(x.shape[0], size=min(args.sample, x.shape[0]), replace=False))
    results["trustworthiness"] = float(trustworthiness(x[sample], embedding[sample], n_neighbors=10))

    if args.test:
        xt = np.ascontiguousarray(np.load(args.test), dtype=np.float32)
        t = time.perf_counter()
        yt_map = model.transform(xt)
        results["transform_s"] = time.perf_counter() - t
        results["transform_rows"] = int(xt.shape[0])
        if args.labels and args.test_labels:
            y = np.load(args.labels).astype(np.int64)
            yt = np.load(args.test_labels).astype(np.int64)
            knn = KNeighborsClassifier(n_neighbors=10).fit(embedding, y)
            results["knn_accuracy"] = float(knn.score(yt_map, yt))

    for key, value in results.items():
        print(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
