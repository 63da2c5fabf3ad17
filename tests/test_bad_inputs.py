"""Table-driven bad input: every row is one wrong call, the error type it must raise, and the text that
must appear in the message (the argument's name, and where useful what was expected).

A row is ``Bad(id, call, error, names)``. CLI rows run ``compare.cli.main`` in-process and turn its exit
status 2 and its stderr into :class:`CliError`, after checking that stderr is exactly one ``error:`` line.
Rows for concepts that have not landed yet are added by :func:`_optional_rows` when their module exists.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import scratch.logistic_regression as lr
from compare import datasets
from compare.adapters import ParamMap, load_parameters
from compare.cli import main
from compare.devices import numpy_dtype, resolve_device
from compare.gradcheck import gradient_check, relative_error
from compare.parity import compare_trajectories, relative_difference, tolerance
from compare.problem import Observation
from compare.record import Trajectory
from compare.registry import register, select
from compare.runner import run_case


class CliError(Exception):
    """The CLI refused its arguments: exit status 2 and one ``error:`` line (the message)."""


@dataclass(frozen=True)
class Bad:
    id: str
    call: Callable[[], object]
    error: type[BaseException]
    names: str


NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")

X = np.array([[1.0, -2.0, 0.5], [0.3, 0.0, -1.0]])
Y = np.array([[0.0, 1.0, 1.0]])
W = np.array([[0.1], [-0.2]])


def _with(array: np.ndarray, index: tuple[int, int], value: float) -> np.ndarray:
    out = array.copy()
    out[index] = value
    return out


def cli(*argv: str) -> int:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(list(argv))
        except SystemExit as exit_:
            status = exit_.code
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if status == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
        raise CliError(lines[0])
    return status


def _a_file() -> str:
    path = Path(tempfile.mkdtemp()) / "not_a_folder"
    path.write_text("x")
    return str(path)


def _trajectory(key: str) -> Trajectory:
    traj = Trajectory()
    traj.record(0, lambda: Observation(1.0, {key: np.ones(2)}), keep_arrays=True)
    return traj


def _lr_case():
    return select(["logistic_regression/vectorized"])[0]


def prop(w: np.ndarray = W, b: object = 0.0, x: object = X, y: np.ndarray = Y) -> object:
    return lr.propagate(w, b, x, y)


def opt(y: np.ndarray = Y, **hyper: object) -> object:
    return lr.optimize(W, 0.0, X, y, **({"num_iterations": 1, "learning_rate": 0.1} | hyper))


def run(**options: object) -> object:
    return run_case(_lr_case(), **({"steps": 1, "timed": False} | options))


VE = ValueError
Y01 = "Y must contain only 0 and 1"
FLOATS = "dtype must be float32 or float64"


LINEAR = torch.nn.Linear(2, 1, dtype=torch.float64)
TINY = datasets.make_blobs(m=1, n_x=2)

ROWS = [
    # scratch.logistic_regression: data
    Bad("propagate-X-list", lambda: prop(x=X.tolist()), TypeError, "X must be a numpy.ndarray"),
    Bad("propagate-X-1d", lambda: prop(x=X[0]), VE, "X must have 2 dimensions"),
    Bad("propagate-X-int", lambda: prop(x=X.astype(int)), VE, "X must be float32 or float64"),
    Bad("propagate-X-nan", lambda: prop(x=_with(X, (0, 1), np.nan)), VE, "X contains 1 NaN"),
    Bad("propagate-X-inf", lambda: prop(x=_with(X, (1, 2), -np.inf)), VE, "X contains 1 NaN"),
    Bad("propagate-X-empty", lambda: lr.propagate(W, 0.0, X[:, :0], Y[:, :0]), VE, "X is empty"),
    Bad("propagate-Y-shape", lambda: prop(y=Y[:, :2]), VE, "Y must have shape (1, 3)"),
    Bad("propagate-Y-transposed", lambda: prop(y=Y.T), VE, "Y must have shape (1, 3)"),
    Bad("propagate-Y-label-2", lambda: prop(y=_with(Y, (0, 0), 2)), VE, Y01),
    Bad("propagate-Y-label-neg", lambda: prop(y=_with(Y, (0, 0), -1)), VE, Y01),
    Bad("propagate-Y-prob", lambda: prop(y=_with(Y, (0, 0), 0.3)), VE, Y01),
    Bad("propagate-Y-nan", lambda: prop(y=_with(Y, (0, 0), np.nan)), VE, Y01),
    # scratch.logistic_regression: parameters
    Bad("propagate-w-shape", lambda: prop(w=np.zeros((3, 1))), VE, "w must have shape (2, 1)"),
    Bad("propagate-w-row", lambda: prop(w=W.T), VE, "w must have shape (2, 1)"),
    Bad("propagate-w-nan", lambda: prop(w=_with(W, (0, 0), np.nan)), VE, "w contains 1 NaN"),
    Bad("propagate-b-nan", lambda: prop(b=np.nan), VE, "b must be a finite scalar"),
    Bad("propagate-b-vector", lambda: prop(b=np.zeros(2)), VE, "b must be a finite scalar"),
    Bad("propagate-b-str", lambda: prop(b="0"), VE, "b must be a finite scalar"),
    Bad("propagate-loop-Y", lambda: lr.propagate_loop(W, 0.0, X, Y[:, :1]), VE, "Y must have shape"),
    Bad("propagate-loop-w", lambda: lr.propagate_loop(W[:1], 0.0, X, Y), VE, "w must have shape"),
    # scratch.logistic_regression: hyperparameters
    Bad("optimize-lr-zero", lambda: opt(learning_rate=0), VE, "learning_rate"),
    Bad("optimize-lr-negative", lambda: opt(learning_rate=-0.1), VE, "learning_rate"),
    Bad("optimize-lr-nan", lambda: opt(learning_rate=np.nan), VE, "learning_rate"),
    Bad("optimize-lr-inf", lambda: opt(learning_rate=np.inf), VE, "learning_rate"),
    Bad("optimize-lr-str", lambda: opt(learning_rate="0.1"), VE, "learning_rate"),
    Bad("optimize-iterations-zero", lambda: opt(num_iterations=0), VE, "num_iterations"),
    Bad("optimize-iterations-float", lambda: opt(num_iterations=2.5), VE, "num_iterations"),
    Bad("optimize-Y-labels", lambda: opt(y=Y * 2), VE, Y01),
    Bad("predict-threshold", lambda: lr.predict(W, 0.0, X, threshold=1.5), VE, "threshold must be in [0, 1]"),
    Bad("predict-X-nan", lambda: lr.predict(W, 0.0, _with(X, (0, 0), np.nan)), VE, "X contains"),
    Bad("predict-w-shape", lambda: lr.predict(W[:1], 0.0, X), VE, "w must have shape"),
    Bad("init-dim-zero", lambda: lr.initialize_with_zeros(0), VE, "dim must be a positive integer"),
    Bad("init-dim-bool", lambda: lr.initialize_with_zeros(True), VE, "dim must be a positive integer"),
    Bad("init-dtype-int", lambda: lr.initialize_with_zeros(3, np.int32), VE, FLOATS),
    Bad("init-dtype-unknown", lambda: lr.initialize_with_zeros(3, "nope"), VE, FLOATS),
    # compare.datasets
    Bad("blobs-m-zero", lambda: datasets.make_blobs(m=0), VE, "m must be a positive integer"),
    Bad("blobs-n_x-negative", lambda: datasets.make_blobs(n_x=-1), VE, "n_x must be a positive integer"),
    Bad("blobs-dtype", lambda: datasets.make_blobs(dtype="int32"), VE, FLOATS),
    Bad("blobs-separation", lambda: datasets.make_blobs(separation=np.nan), VE, "separation"),
    Bad("flower-m-odd", lambda: datasets.planar_flower(m=5), VE, "m must be even"),
    Bad("flower-dtype", lambda: datasets.planar_flower(dtype="float16"), VE, FLOATS),
    Bad("digits-one-vs-rest", lambda: datasets.digits(one_vs_rest=10), VE, "one_vs_rest must be a digit"),
    Bad("split-fraction-zero", lambda: datasets.train_test_split(TINY, test_fraction=0), VE, "test_fraction"),
    Bad("split-fraction-one", lambda: datasets.train_test_split(TINY, test_fraction=1.5), VE, "test_fraction"),
    Bad("split-one-example", lambda: datasets.train_test_split(TINY), VE, "at least 2 examples"),
    Bad("standardize-features", lambda: datasets.standardize(TINY, datasets.make_blobs(m=2, n_x=3)), VE, "features"),
    Bad("dataset-n_classes", lambda: datasets.Dataset("d", X, Y, n_classes=1), VE, "d.n_classes"),
    Bad("dataset-labels", lambda: datasets.Dataset("d", X, Y * 3), VE, "d.Y must hold integer labels"),
    Bad("dataset-X-nan", lambda: datasets.Dataset("d", _with(X, (0, 0), np.nan), Y), VE, "d.X contains"),
    # compare: harness
    Bad("select-unknown", lambda: select(["nope"]), VE, "unknown concept 'nope'; known concepts: "),
    Bad("run-steps-zero", lambda: run(steps=0), VE, "steps must be an integer >= 1"),
    Bad("run-steps-float", lambda: run(steps=1.5), VE, "steps must be an integer >= 1"),
    Bad("run-seed-negative", lambda: run(seed=-1), VE, "seed must be an integer >= 0"),
    Bad("run-dtype", lambda: run(dtype="float16"), VE, "unknown dtype 'float16'"),
    Bad("run-device", lambda: run(device="tpu"), VE, "unknown device 'tpu'"),
    pytest.param(Bad("run-cuda-no-gpu", lambda: run(device="cuda"), ValueError,
                     "device 'cuda' was requested but no CUDA GPU"), marks=NO_GPU),
    Bad("tolerance-dtype", lambda: tolerance("float16", "cpu"), VE, "dtype 'float16'"),
    Bad("tolerance-device", lambda: tolerance("float64", "tpu"), VE, "device 'tpu'"),
    Bad("numpy-dtype", lambda: numpy_dtype("int8"), VE, "unknown dtype 'int8'"),
    Bad("resolve-device", lambda: resolve_device("gpu"), VE, "unknown device 'gpu'"),
    Bad("relative-difference-shapes", lambda: relative_difference(np.zeros((2, 1)), np.zeros(2)), VE,
        "shapes (2, 1) and (2,)"),
    Bad("compare-category", lambda: compare_trajectories(_trajectory("w.x"), _trajectory("w.x"), 1e-10), VE,
        "'w.x' must start with"),
    Bad("gradcheck-eps", lambda: gradient_check(lambda p: 0.0, {"w": W}, {"w": W}, eps=0), VE, "eps must be"),
    Bad("gradcheck-names", lambda: relative_error({"w": W}, {"v": W}), VE, "gradient names differ"),
    Bad("load-missing", lambda: load_parameters([ParamMap("W1", LINEAR.weight)], {"W2": W.T}), VE, "no entry 'W1'"),
    Bad("load-shape", lambda: load_parameters([ParamMap("W1", LINEAR.weight)], {"W1": W}), VE, "parameter W1"),
    Bad("register-twice", lambda: register(_lr_case()), VE, "'logistic_regression/vectorized' is registered twice"),
    # the CLI
    Bad("cli-dtype", lambda: cli("run", "--dtype", "float16"), CliError, "argument --dtype: invalid choice"),
    Bad("cli-device", lambda: cli("run", "--device", "tpu"), CliError, "argument --device: invalid choice"),
    Bad("cli-steps-zero", lambda: cli("run", "--steps", "0"), CliError, "argument --steps: expected a positive"),
    Bad("cli-steps-text", lambda: cli("run", "--steps", "ten"), CliError, "argument --steps"),
    Bad("cli-seed-negative", lambda: cli("run", "--seed", "-1"), CliError, "argument --seed: expected an integer >= 0"),
    Bad("cli-seeds-zero", lambda: cli("report", "--seeds", "0"), CliError, "argument --seeds"),
    Bad("cli-unknown-concept", lambda: cli("run", "nope"), CliError, "unknown concept 'nope'"),
    Bad("cli-unknown-command", lambda: cli("bogus"), CliError, "invalid choice: 'bogus'"),
    Bad("cli-json-folder", lambda: cli("run", "--json", tempfile.gettempdir()), CliError, "--json"),
    Bad("cli-out-file", lambda: cli("report", "--out", _a_file()), CliError, "--out"),
    pytest.param(Bad("cli-cuda-no-gpu", lambda: cli("run", "logistic_regression", "--device", "cuda"), CliError,
                     "no CUDA GPU is available"), marks=NO_GPU),
]


def _optional_rows() -> list[Bad]:
    """Rows for concepts that landed from other branches (skipped while their modules are absent)."""
    return []


ALL_ROWS = ROWS + _optional_rows()


def _id(row: object) -> str:
    return row.values[0].id if hasattr(row, "values") else row.id


@pytest.mark.parametrize("row", ALL_ROWS, ids=[_id(r) for r in ALL_ROWS])
def test_bad_input_is_rejected_with_a_message_naming_it(row: Bad) -> None:
    with pytest.raises(row.error) as info:
        row.call()
    assert row.names in str(info.value)


def test_the_table_is_large_and_its_ids_distinct() -> None:
    ids = [_id(r) for r in ALL_ROWS]
    assert len(set(ids)) == len(ids)
    assert len(ids) >= 40
