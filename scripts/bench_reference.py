#!/usr/bin/env python3
"""Throughput of the reference CNN in Keras (TensorFlow CPU) and PyTorch CPU, for `make bench`.

Same model as Glassbox (Conv2D 32 2x2 same x2, ReLU, MaxPool, Dropout .2, x2, Dense 512, ReLU,
Dense 10 softmax; Adam; batch 100), random images, both cores. Prints one line per measurement:
  keras training: N samples/s
  keras forward (hidden): N samples/s
  torch training: ...
Usage: bench_reference.py [keras|torch ...] [--steps N]
"""
import os
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
STEPS = 60
for i, a in enumerate(sys.argv):
    if a == "--steps":
        STEPS = int(sys.argv[i + 1])
FRAMEWORKS = [a for a in sys.argv[1:] if a in ("keras", "torch")] or ["keras", "torch"]
BATCH = 100
FORWARD = 5000


def best_rate(fn, samples, rounds=3):
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return samples / best


def bench_keras():
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(THREADS)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from tensorflow import keras
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, (2, 2), padding="same", kernel_initializer="he_normal", name="conv2D_1"),
        L.Conv2D(32, (2, 2), padding="same", kernel_initializer="he_normal", name="conv2D_2"),
        L.Activation("relu"), L.MaxPooling2D((2, 2)), L.Dropout(0.2),
        L.Conv2D(32, (2, 2), padding="same", kernel_initializer="he_normal", name="conv2D_3"),
        L.Conv2D(32, (2, 2), padding="same", kernel_initializer="he_normal", name="conv2D_4"),
        L.Activation("relu"), L.MaxPooling2D((2, 2)), L.Dropout(0.2),
        L.Flatten(), L.Dense(512, name="hidden"), L.Activation("relu"),
        L.Dense(10, activation="softmax", name="end"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    n = BATCH * STEPS
    x = np.random.rand(n, 28, 28, 1).astype("float32")
    y = keras.utils.to_categorical(np.random.randint(0, 10, n), 10)
    model.fit(x[:BATCH * 5], y[:BATCH * 5], batch_size=BATCH, epochs=1, verbose=0)  # warm-up / tracing
    rate = best_rate(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), n)
    print(f"keras training: {rate:.0f} samples/s", flush=True)
    hidden = keras.Model(model.inputs, model.get_layer("hidden").output)
    xf = np.random.rand(FORWARD, 28, 28, 1).astype("float32")
    hidden.predict(xf[:1000], batch_size=1000, verbose=0)
    rate = best_rate(lambda: hidden.predict(xf, batch_size=1000, verbose=0), FORWARD)
    print(f"keras forward (hidden): {rate:.0f} samples/s", flush=True)


def bench_torch():
    import torch
    import torch.nn as nn
    torch.set_num_threads(THREADS)

    class SamePad(nn.Module):  # Keras 'same' for an even kernel: 0 before, 1 after
        def forward(self, x):
            return nn.functional.pad(x, (0, 1, 0, 1))

    def conv(cin):
        return nn.Sequential(SamePad(), nn.Conv2d(cin, 32, 2))

    features = nn.Sequential(conv(1), conv(32), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2),
                             conv(32), conv(32), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2), nn.Flatten(),
                             nn.Linear(1568, 512))
    head = nn.Sequential(nn.ReLU(), nn.Linear(512, 10))
    model = nn.Sequential(features, head).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    n = BATCH * STEPS
    x = torch.rand(n, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (n,))

    def train():
        model.train()
        for s in range(STEPS):
            xb, yb = x[s * BATCH:(s + 1) * BATCH], y[s * BATCH:(s + 1) * BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()

    train()
    print(f"torch training: {best_rate(train, n):.0f} samples/s", flush=True)
    xf = torch.rand(FORWARD, 1, 28, 28).contiguous(memory_format=torch.channels_last)

    def forward():
        model.eval()
        with torch.no_grad():
            for s in range(0, FORWARD, 1000):
                features(xf[s:s + 1000])

    forward()
    print(f"torch forward (hidden): {best_rate(forward, FORWARD):.0f} samples/s", flush=True)


if __name__ == "__main__":
    for f in FRAMEWORKS:
        try:
            {"keras": bench_keras, "torch": bench_torch}[f]()
        except ImportError as e:
            print(f"{f}: not installed ({e})", flush=True)
