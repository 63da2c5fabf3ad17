"""Small files in the formats torchvision reads, written by tests: nothing is downloaded.

IDX files for MNIST/FashionMNIST, pickled batches for CIFAR-10. torchvision verifies the real CIFAR-10
archive's MD5 sums, which small files cannot match: :func:`skip_cifar_md5` replaces that check only.
"""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

CIFAR_LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX ("Pascal Vincent") format: magic 0x0000 08 ndim, big-endian int32 dims, uint8 data."""
    header = struct.pack(">I", 0x0800 + array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str, rng: np.random.Generator, *, train: int = 12, test: int = 5
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``root/folder/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``: random 28x28 images and labels."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for split, m in (("train", train), ("t10k", test)):
        arrays[split] = rng.integers(0, 256, (m, 28, 28), dtype=np.uint8), rng.integers(0, 10, m, dtype=np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", arrays[split][0])
        write_idx(raw / f"{split}-labels-idx1-ubyte", arrays[split][1])
    return arrays


def write_cifar(root: Path, rng: np.random.Generator, *, per_batch: int = 4, cat: int = 3
                ) -> dict[str, tuple[np.ndarray, list[int]]]:
    """``root/cifar-10-batches-py``: five training batches and a test batch of random images; the first label
    of each batch (and every other one when ``per_batch`` is large) is ``cat``."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)  # rows: R plane, G plane, B plane
        labels = rng.integers(0, 10, per_batch).tolist()
        labels[::2] = [cat] * len(labels[::2])
        batches[name] = data, labels
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": labels}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": CIFAR_LABEL_NAMES}))
    return batches


def skip_cifar_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything else (file layout, unpickling, reshaping to images, label_names) stays torchvision's."""
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
