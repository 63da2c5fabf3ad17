"""Datasets shared by both sides, in the course's layout: ``X`` is ``(n_x, m)``, ``Y`` is ``(1, m)``.

Offline by default: the generated sets come from a seeded ``np.random.Generator``, the real ones ship
inside scikit-learn. Every constructor validates shapes, labels and finiteness.

Image sets (digits, MNIST, FashionMNIST, CIFAR-10 cat vs non-cat, the course's catvnoncat h5 files) keep
``image_shape = (C, H, W)``: column ``i`` of ``X`` is image ``i`` flattened channel-first, the layout
``torchvision`` uses, so ``X.T.reshape(m, C, H, W)`` gives the batch-first tensor the torch side sees.
Pixels of downloaded images are scaled to [0, 1] (divided by 255) as in the course.

The downloadable sets are read from ``data_dir`` with torchvision's own loaders and are fetched only when
``download=True`` is passed explicitly (``python -m compare.data.datasets NAME --data-dir DIR --download``);
without the files they raise :class:`DatasetUnavailable` saying how to get them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratch.validation import (
    check_array,
    check_dtype,
    check_finite,
    check_float_dtype,
    check_nonempty,
    check_positive_int,
    check_shape,
)


@dataclass(frozen=True)
class Dataset:
    """Examples as columns. ``Y`` holds labels ``0 .. n_classes - 1`` in ``X``'s dtype."""

    name: str
    X: np.ndarray
    Y: np.ndarray
    n_classes: int = 2
    image_shape: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 2:
            raise ValueError(f"{self.name}.n_classes must be an integer >= 2, got {self.n_classes!r}")
        check_array(f"{self.name}.X", self.X, ndim=2)
        check_array(f"{self.name}.Y", self.Y, ndim=2)
        check_nonempty(f"{self.name}.X", self.X)
        check_float_dtype(f"{self.name}.X", self.X)
        check_finite(f"{self.name}.X", self.X)
        check_shape(f"{self.name}.Y", self.Y, (1, self.X.shape[1]))
        labels = np.unique(self.Y)
        if not np.isin(labels, np.arange(self.n_classes)).all():
            raise ValueError(f"{self.name}.Y must hold integer labels in 0..{self.n_classes - 1}, "
                             f"found {labels[:10].tolist()}")
        if self.image_shape is not None and int(np.prod(self.image_shape)) != self.X.shape[0]:
            raise ValueError(f"{self.name}.image_shape {self.image_shape} does not match {self.X.shape[0]} "
                             f"features per example")

    @property
    def m(self) -> int:
        return self.X.shape[1]

    @property
    def n_x(self) -> int:
        return self.X.shape[0]

    def class_counts(self) -> list[int]:
        return np.bincount(self.Y.ravel().astype(np.int64), minlength=self.n_classes).tolist()

    def describe(self) -> str:
        """One line: size and class balance, e.g. ``breast_cancer: 569 examples x 30 features, ...``."""
        counts = self.class_counts()
        balance = ", ".join(f"{c}: {n} ({n / self.m:.0%})" for c, n in enumerate(counts))
        shape = f" (images {'x'.join(map(str, self.image_shape))})" if self.image_shape else ""
        return f"{self.name}: {self.m} examples x {self.n_x} features{shape}, classes {balance}"

    def subset(self, columns: np.ndarray, name: str | None = None) -> Dataset:
        return Dataset(name or self.name, self.X[:, columns], self.Y[:, columns], self.n_classes,
                       self.image_shape)

    def images(self) -> np.ndarray:
        """The examples as a batch-first image array ``(m, C, H, W)`` (a view of ``X``'s data)."""
        if self.image_shape is None:
            raise ValueError(f"{self.name} is not an image dataset (image_shape is None)")
        return self.X.T.reshape(self.m, *self.image_shape)


def make_blobs(m: int = 256, n_x: int = 8, *, seed: int = 0, dtype: np.dtype | str = "float64",
               separation: float = 1.5) -> Dataset:
    """Two overlapping Gaussian clouds in ``n_x`` dimensions, balanced labels, shuffled."""
    check_positive_int("m", m)
    check_positive_int("n_x", n_x)
    check_dtype("dtype", dtype)
    if not np.isfinite(separation):
        raise ValueError(f"separation must be a finite number, got {separation!r}")
    rng = np.random.default_rng(seed)
    Y = (np.arange(m) % 2).reshape(1, m)
    direction = rng.standard_normal((n_x, 1))
    direction /= np.linalg.norm(direction)
    X = rng.standard_normal((n_x, m)) + separation * direction * (2 * Y - 1)
    order = rng.permutation(m)
    return Dataset("blobs", X[:, order].astype(dtype), Y[:, order].astype(dtype))


def planar_flower(m: int = 400, *, seed: int = 1, dtype: np.dtype | str = "float64", petals: int = 4
                  ) -> Dataset:
    """The course's planar "flower": two classes in interleaved petals ``r = 4 sin(petals * t)``.

    Same construction as the course's ``load_planar_dataset`` (radius, angle jitter 0.2, radial noise
    0.2), drawn from a seeded ``np.random.Generator`` instead of the legacy global RNG.
    """
    check_positive_int("m", m)
    if m % 2:
        raise ValueError(f"m must be even (half the points per class), got {m}")
    check_dtype("dtype", dtype)
    rng = np.random.default_rng(seed)
    half = m // 2
    X = np.zeros((2, m))
    Y = np.zeros((1, m))
    for label in range(2):
        idx = slice(half * label, half * (label + 1))
        t = np.linspace(label * 3.12, (label + 1) * 3.12, half) + rng.standard_normal(half) * 0.2
        r = 4 * np.sin(petals * t) + rng.standard_normal(half) * 0.2
        X[:, idx] = np.vstack([r * np.sin(t), r * np.cos(t)])
        Y[0, idx] = label
    return Dataset("planar_flower", X.astype(dtype), Y.astype(dtype))


def breast_cancer(*, dtype: np.dtype | str = "float64") -> Dataset:
    """scikit-learn's Wisconsin breast-cancer set: 569 x 30 real features, 1 = benign (unscaled)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Dataset("breast_cancer", bunch.data.T.astype(dtype), bunch.target.reshape(1, -1).astype(dtype))


def digits(*, dtype: np.dtype | str = "float64", one_vs_rest: int | None = None) -> Dataset:
    """scikit-learn's 8x8 digits (1797 x 64, pixels 0..16), 10 classes or ``one_vs_rest`` as label 1."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = bunch.data.T.astype(dtype)
    labels = bunch.target.reshape(1, -1)
    if one_vs_rest is None:
        return Dataset("digits", X, labels.astype(dtype), n_classes=10, image_shape=(1, 8, 8))
    if one_vs_rest not in range(10):
        raise ValueError(f"one_vs_rest must be a digit 0..9, got {one_vs_rest!r}")
    return Dataset(f"digits_{one_vs_rest}_vs_rest", X, (labels == one_vs_rest).astype(dtype),
                   image_shape=(1, 8, 8))


def standardize(train: Dataset, *others: Dataset) -> list[Dataset]:
    """Subtract the training mean and divide by the training std (per feature) on every set.

    Constant features (std 0) are only centred, to avoid dividing by zero.
    """
    for other in others:
        if other.n_x != train.n_x:
            raise ValueError(f"{other.name} has {other.n_x} features but the training set {train.name} has "
                             f"{train.n_x}; standardize needs the same features")
    mean = train.X.mean(axis=1, keepdims=True)
    std = train.X.std(axis=1, keepdims=True)
    std[std == 0] = 1
    return [Dataset(d.name, (d.X - mean) / std, d.Y, d.n_classes, d.image_shape) for d in (train, *others)]


def train_test_split(data: Dataset, *, test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A seeded random split into ``(train, test)``; both parts are non-empty."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if data.m < 2:
        raise ValueError(f"data must have at least 2 examples to split, {data.name} has {data.m}")
    order = np.random.default_rng(seed).permutation(data.m)
    n_test = min(max(1, round(test_fraction * data.m)), data.m - 1)
    return data.subset(order[n_test:], f"{data.name}[train]"), data.subset(order[:n_test], f"{data.name}[test]")


def two_moons(m: int = 400, *, seed: int = 0, dtype: np.dtype | str = "float64", noise: float = 0.2
              ) -> Dataset:
    """Two interleaved half circles (label 0 upper, 1 lower and shifted), Gaussian noise ``noise``.

    A second non-linearly separable planar set beside the flower: a logistic regression reaches about
    85% on it, a small network nearly 100%. Balanced labels, shuffled, drawn from a seeded Generator.
    """
    check_positive_int("m", m)
    if m % 2:
        raise ValueError(f"m must be even (half the points per class), got {m}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    half = m // 2
    t = np.linspace(0, np.pi, half)
    upper = np.vstack([np.cos(t), np.sin(t)])
    lower = np.vstack([1 - np.cos(t), 0.5 - np.sin(t)])
    X = np.hstack([upper, lower]) + noise * rng.standard_normal((2, m))
    Y = np.repeat([0.0, 1.0], half).reshape(1, m)
    order = rng.permutation(m)
    return Dataset("two_moons", X[:, order].astype(dtype), Y[:, order].astype(dtype))


# --- Downloadable and user-supplied image sets ------------------------------------------------------

class DatasetUnavailable(ValueError):
    """A dataset's files are missing (or could not be fetched); the message says how to get them."""


CIFAR10_CAT = 3  # index of "cat" in CIFAR-10's label_names


def _how_to_get(name: str, data_dir: Path, where: str) -> str:
    return (f"{name} was not found under {data_dir} (expected {where}). Fetch it once with network access: "
            f"`python -m compare.data.datasets {name.lower()} --data-dir {data_dir} --download`, or copy the files "
            f"there yourself; nothing is downloaded unless download=True / --download is given.")


def _check_limit(limit: int | None) -> None:
    if limit is not None:
        check_positive_int("limit", limit)


def _images_dataset(name: str, images: np.ndarray, labels: np.ndarray, *, n_classes: int,
                    dtype: np.dtype | str, limit: int | None, channels_last: bool) -> Dataset:
    """uint8 images ``(m, H, W)``, ``(m, H, W, C)`` or ``(m, C, H, W)`` -> columns scaled to [0, 1]."""
    if images.ndim == 3:
        images = images[:, None, :, :]
    elif channels_last:
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{name}: images of shape {images.shape} do not match {labels.shape[0]} labels")
    images, labels = images[:limit], labels[:limit]
    m = images.shape[0]
    X = (images.reshape(m, -1).T / 255.0).astype(dtype)
    return Dataset(name, X, labels.reshape(1, m).astype(dtype), n_classes=n_classes,
                   image_shape=tuple(int(d) for d in images.shape[1:]))


#: The environment variable naming the folder that holds downloaded data sets (default: ``data/`` in the checkout).
DATA_ENV = "DLPARITY_DATA"
#: The files :func:`mnist` and :func:`cifar10_cat_vs_noncat` read, relative to the data folder.
REQUIRED_FILES = {
    "mnist": tuple(f"MNIST/raw/{split}-{kind}-ubyte" for split in ("train", "t10k")
                   for kind in ("images-idx3", "labels-idx1")),
    "cifar10": tuple(f"cifar-10-batches-py/{name}" for name in
                     (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta")),
}


def data_dir() -> Path:
    """The folder of downloaded data sets: ``$DLPARITY_DATA`` when set, else ``data/`` beside ``compare/``."""
    chosen = os.environ.get(DATA_ENV)
    return Path(chosen) if chosen else Path(__file__).resolve().parents[2] / "data"


def missing_files(name: str) -> str | None:
    """None when :func:`data_dir` holds data set ``name``'s files (``mnist`` or ``cifar10``), else why not.

    Only file names are checked (torchvision verifies the contents when loading). The reason names the folder
    as the user set it (``$DLPARITY_DATA`` or ``data/``), never the machine's absolute path, because it is
    written into reports.
    """
    if name not in REQUIRED_FILES:
        raise ValueError(f"name must be one of {sorted(REQUIRED_FILES)}, got {name!r}")
    folder = data_dir()
    absent = [f for f in REQUIRED_FILES[name] if not (folder / f).is_file()]
    if not absent:
        return None
    where = f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "data/"
    return (f"{name} not found under {where} ({len(absent)} of its {len(REQUIRED_FILES[name])} files missing, "
            f"e.g. {absent[0]}); fetch it once with network access: `python -m compare.data.datasets {name} "
            f"--data-dir {where.rstrip('/')} --download`")


def _torchvision_load(cls_name: str, data_dir: Path, *, train: bool, download: bool, where: str):
    """Instantiate ``torchvision.datasets.<cls_name>``, turning its missing-file errors into ours."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    try:
        return cls(root=str(data_dir), train=train, download=download)
    except RuntimeError as error:  # torchvision's "Dataset not found or corrupted"
        raise DatasetUnavailable(_how_to_get(cls_name, data_dir, where)) from error
    except OSError as error:  # no network while downloading
        raise DatasetUnavailable(f"downloading {cls_name} into {data_dir} failed ({error}); "
                                 f"without network, copy the files to {where}") from error


def mnist(data_dir: str | Path, *, train: bool = True, download: bool = False, fashion: bool = False,
          dtype: np.dtype | str = "float64", limit: int | None = None) -> Dataset:
    """MNIST (or FashionMNIST) via ``torchvision.datasets``: 10 classes, images (1, 28, 28) in [0, 1].

    Reads ``data_dir/MNIST/raw/*-idx?-ubyte`` (``FashionMNIST/raw`` for ``fashion``); ``limit`` keeps the
    first ``limit`` examples (the full training set is 60000 x 784, 376 MB in float64).
    """
    _check_limit(limit)
    data_dir = Path(data_dir)
    cls_name = "FashionMNIST" if fashion else "MNIST"
    where = f"{data_dir / cls_name / 'raw'}/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte"
    ds = _torchvision_load(cls_name, data_dir, train=train, download=download, where=where)
    return _images_dataset(f"{cls_name.lower()}[{'train' if train else 'test'}]", ds.data.numpy(),
                           ds.targets.numpy(), n_classes=10, dtype=dtype, limit=limit, channels_last=False)


def fashion_mnist(data_dir: str | Path, **kwargs) -> Dataset:
    """FashionMNIST: same format and options as :func:`mnist`."""
    return mnist(data_dir, fashion=True, **kwargs)


def cifar10_cat_vs_noncat(data_dir: str | Path, *, train: bool = True, download: bool = False,
                          dtype: np.dtype | str = "float64", limit: int | None = None) -> Dataset:
    """CIFAR-10 as the lectures' binary example: label 1 for "cat" (class 3), 0 for the nine others.

    Images (3, 32, 32) in [0, 1] from ``data_dir/cifar-10-batches-py`` via ``torchvision.datasets.CIFAR10``
    (which verifies the files' MD5 sums). Only 10% of the examples are cats.
    """
    _check_limit(limit)
    data_dir = Path(data_dir)
    where = f"{data_dir / 'cifar-10-batches-py'}/{{data_batch_1..5,test_batch,batches.meta}}"
    ds = _torchvision_load("CIFAR10", data_dir, train=train, download=download, where=where)
    labels = (np.asarray(ds.targets) == CIFAR10_CAT).astype(np.int64)
    return _images_dataset(f"cifar10_cat_vs_noncat[{'train' if train else 'test'}]", ds.data, labels,
                           n_classes=2, dtype=dtype, limit=limit, channels_last=True)


def catvnoncat(data_dir: str | Path, *, train: bool = True, dtype: np.dtype | str = "float64",
               limit: int | None = None) -> Dataset:
    """The course's ``train_catvnoncat.h5`` / ``test_catvnoncat.h5`` (64x64 RGB, 209 / 50 images).

    Keys ``{train,test}_set_x`` ``(m, 64, 64, 3)`` uint8 and ``{train,test}_set_y`` ``(m,)``. Needs h5py
    (the optional ``h5`` extra). The course flattens pixels channel-last; we keep (C, H, W) like torch.
    """
    _check_limit(limit)
    try:
        import h5py
    except ImportError as error:
        raise DatasetUnavailable("reading catvnoncat needs h5py: pip install 'dlparity[h5]'") from error
    split = "train" if train else "test"
    path = Path(data_dir) / f"{split}_catvnoncat.h5"
    if not path.is_file():
        raise DatasetUnavailable(f"{path} not found: catvnoncat is the course's own file (it cannot be "
                                 f"downloaded from here); put {split}_catvnoncat.h5 in {data_dir}")
    with h5py.File(path, "r") as f:
        missing = {f"{split}_set_x", f"{split}_set_y"} - set(f.keys())
        if missing:
            raise ValueError(f"{path} lacks the dataset(s) {sorted(missing)}; found {sorted(f.keys())}")
        images = np.asarray(f[f"{split}_set_x"])
        labels = np.asarray(f[f"{split}_set_y"]).reshape(-1)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{path}: {split}_set_x must have shape (m, H, W, 3), got {images.shape}")
    return _images_dataset(f"catvnoncat[{split}]", images, labels, n_classes=2, dtype=dtype, limit=limit,
                           channels_last=True)


# --------------------------------------------------------------------------------------------------
# Sequence tasks (recurrent networks): the adding problem and a character-level corpus.
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SequenceData:
    """``inputs``: values ``(n_x, m, T)`` or integer indices ``(m, T)``; ``targets``: values ``(n_y, m)`` or
    indices ``(m, T)``; ``vocabulary``: the characters behind the indices (character tasks)."""

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    vocabulary: str = ""

    @property
    def m(self) -> int:
        return self.inputs.shape[-2]  # (n_x, m, T) or (m, T)


def adding_problem(m: int = 64, T: int = 30, *, seed: int = 0, dtype: np.dtype | str = "float64") -> SequenceData:
    """Hochreiter & Schmidhuber's adding problem: ``inputs (2, m, T)``, row 0 uniform values in [0, 1), row 1
    a marker that is 1 at two steps (one in each half) and 0 elsewhere; ``targets (1, m)`` is the sum of the
    two marked values. The known answer: always predicting 1 gives a mean squared error of 1/6 (the
    variance of a sum of two uniforms); a network that learned the task goes far below it."""
    check_positive_int("m", m)
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        raise ValueError(f"T must be an integer >= 2 (one marker in each half), got {T!r}")
    dtype = check_dtype("dtype", dtype)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(m, T))
    first = rng.integers(0, T // 2, size=m)
    second = rng.integers(T // 2, T, size=m)
    markers = np.zeros((m, T))
    markers[np.arange(m), first] = 1.0
    markers[np.arange(m), second] = 1.0
    inputs = np.stack([values, markers]).astype(dtype)
    targets = (values[np.arange(m), first] + values[np.arange(m), second]).reshape(1, m).astype(dtype)
    return SequenceData(f"adding_problem(T={T})", inputs, targets)


def zen_of_python() -> str:
    """The Zen of Python, read from the standard library's ``this`` module without importing it (importing
    it prints the text): its source holds the text ROT13-encoded in the string ``s``."""
    import ast
    import codecs
    import importlib.util

    spec = importlib.util.find_spec("this")
    if spec is None or spec.origin is None:
        raise DatasetUnavailable("the standard library's 'this' module was not found")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    encoded = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", None) == "s")
    return codecs.decode(encoded, "rot13")


def char_sequences(text: str, T: int, *, name: str = "text") -> SequenceData:
    """Non-overlapping windows of ``T`` characters as indices ``(m, T)``; targets are the next characters.

    The vocabulary is the sorted set of characters of ``text``; sequence ``i`` covers characters
    ``i T .. i T + T - 1`` and its targets ``i T + 1 .. i T + T``.
    """
    check_positive_int("T", T)
    vocabulary = "".join(sorted(set(text)))
    codes = np.array([vocabulary.index(ch) for ch in text], dtype=np.int64)
    m = (codes.size - 1) // T
    if m < 1:
        raise ValueError(f"text of {len(text)} characters is too short for one sequence of T={T} (+1 target)")
    inputs = codes[: m * T].reshape(m, T)
    targets = codes[1 : m * T + 1].reshape(m, T)
    return SequenceData(f"{name}(T={T})", inputs, targets, vocabulary)


DOWNLOADABLE = {"mnist": mnist, "fashionmnist": fashion_mnist, "cifar10": cifar10_cat_vs_noncat}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m compare.data.datasets NAME --data-dir DIR [--download]``: load (or fetch) and describe."""
    parser = argparse.ArgumentParser(prog="python -m compare.data.datasets", description=main.__doc__)
    parser.add_argument("name", choices=[*DOWNLOADABLE, "catvnoncat"])
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding (or receiving) the files")
    parser.add_argument("--download", action="store_true", help="fetch the files (network) if missing")
    args = parser.parse_args(argv)
    try:
        if args.name == "catvnoncat":
            if args.download:
                raise DatasetUnavailable("catvnoncat is the course's own file and cannot be downloaded here")
            sets = [catvnoncat(args.data_dir, train=train) for train in (True, False)]
        else:
            load = DOWNLOADABLE[args.name]
            sets = [load(args.data_dir, train=train, download=args.download and train, dtype="float32")
                    for train in (True, False)]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for data in sets:
        print(data.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
