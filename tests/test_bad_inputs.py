"""Table-driven bad input: every row is one wrong call, the error type it must raise, and the text that
must appear in the message (the argument's name, and where useful what was expected).

A row is ``Bad(id, call, error, names)``. CLI rows run ``compare.cli.main`` in-process and turn its exit
status 2 and its stderr into :class:`CliError`, after checking that stderr is exactly one ``error:`` line.
``CONCEPT_ROWS`` cover the modules built on the deep net: deep_net, initialization, optim, minibatch,
regularization, normalization, augmentation, and their torch_ref twins where those validate.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import pkgutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import scratch.augmentation as aug
import scratch.deep_net as dn
import scratch.logistic_regression as lr
import scratch.minibatch as smb
import scratch.normalization as norm
import scratch.optim as so
import scratch.regularization as reg
import scratch.softmax as sm
import torch_ref
import torch_ref.augmentation as taug
import torch_ref.batchnorm as tbn
import torch_ref.conv as tconv
import torch_ref.data_parallel as tdp
import torch_ref.deep_net as tdn
import torch_ref.logistic_regression as tlr
import torch_ref.optim as to
import torch_ref.regularization as treg
import torch_ref.rnn as trnn
import torch_ref.shallow_net as tsn
from compare.cases.networks import deep_problem
from compare.check import UserError, check
from compare.cli import main
from compare.core.devices import numpy_dtype, resolve_device
from compare.core.parity import compare_trajectories, relative_difference, tolerance
from compare.core.problem import Observation
from compare.core.record import Trajectory
from compare.core.registry import register, select
from compare.core.runner import run_case
from compare.core.trainers import ParamMap, load_parameters
from compare.data import datasets
from scratch.gradient_check import gradient_check_n, vector_to_dictionary
from scratch.initialization import initialize_parameters


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
    return run_case(_lr_case(), **({"steps": 1} | options))


VE = ValueError
Y01 = "Y must contain only 0 and 1"
FLOATS = "dtype must be float32 or float64"


LINEAR = torch.nn.Linear(2, 1, dtype=torch.float64)
TINY = datasets.make_blobs(m=1, n_x=2)

ROWS = [
    # scratch.logistic_regression: data
    Bad("propagate-X-strings", lambda: prop(x=X.astype(str)), TypeError, "X must hold real numbers"),
    Bad("propagate-X-1d", lambda: prop(x=X[0]), VE, "X must have 2 dimensions"),
    Bad("propagate-X-float16", lambda: prop(x=X.astype(np.float16)), VE, "X has dtype float16"),
    Bad("propagate-X-nan", lambda: prop(x=_with(X, (0, 1), np.nan)), VE, "X contains 1 NaN"),
    Bad("propagate-X-inf", lambda: prop(x=_with(X, (1, 2), -np.inf)), VE, "X contains 1 NaN"),
    Bad("propagate-X-empty", lambda: lr.propagate(W, 0.0, X[:, :0], Y[:, :0]), VE, "X is empty"),
    Bad("propagate-Y-shape", lambda: prop(y=Y[:, :2]), VE, "Y must have shape (1, 3)"),
    Bad("propagate-Y-transposed", lambda: prop(y=Y.T), VE, "Y must have shape (1, 3)"),
    Bad("propagate-Y-label-2", lambda: prop(y=_with(Y, (0, 0), 2)), VE, Y01),
    Bad("propagate-Y-label-neg", lambda: prop(y=_with(Y, (0, 0), -1)), VE, Y01),
    Bad("propagate-Y-prob", lambda: prop(y=_with(Y, (0, 0), 0.3)), VE, Y01),
    Bad("propagate-Y-nan", lambda: prop(y=_with(Y, (0, 0), np.nan)), VE, "Y contains 1 NaN"),
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
    # compare.data.datasets
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
    Bad("gradcheck-eps", lambda: gradient_check_n(lambda p: 0.0, {"w": W}, {"dw": W}, epsilon=0), VE,
        "epsilon must be"),
    Bad("gradcheck-names", lambda: gradient_check_n(lambda p: 0.0, {"w": W}, {"dv": W}), VE, "gradients has no ['dw']"),
    Bad("gradcheck-shapes", lambda: gradient_check_n(lambda p: 0.0, {"w": W}, {"dw": W.T}), VE,
        f"dw has shape {W.T.shape}, but w has {W.shape}"),
    Bad("gradcheck-theta", lambda: vector_to_dictionary(np.zeros((3, 1)), {"w": W.shape}), VE,
        f"theta has 3 entries but the parameters have {W.size}"),
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


# --- the concepts built on the deep net ----------------------------------------------------------------

DIMS = [2, 3, 1]
DEEP = initialize_parameters(DIMS, method="he", rng=np.random.default_rng(0))
RNG = np.random.default_rng(0)


def deep_with(**changes: object) -> dict[str, object]:
    """The [2, 3, 1] parameters with entries replaced (``None`` removes one)."""
    params = {name: value.copy() for name, value in DEEP.items()}
    for name, value in changes.items():
        if value is None:
            del params[name]
        else:
            params[name] = value
    return params


def deep(params: dict | None = None, x: np.ndarray = X, y: np.ndarray = Y, activation: str = "relu") -> object:
    return dn.loss_and_grads(DEEP if params is None else params, x, y, hidden_activation=activation)


def optimizer(name: str, params: dict | None = None, **hyper: object) -> so.Optimizer:
    return getattr(so, name)({"W": np.zeros((2, 2))} if params is None else params, **hyper)


def step(grads: dict) -> None:
    opt = so.SGD({"W": np.zeros((2, 2))}, lr=0.1)
    opt.step({"W": np.zeros((2, 2))}, grads)


def set_lr(value: float) -> None:
    optimizer("Adam").lr = value


MASKS = {"D1": np.ones((3, 3))}


def dropout(params: dict | None = None, masks: dict = MASKS, keep_prob: float = 0.8, activation: str = "relu",
            x: np.ndarray = X) -> object:
    return reg.dropout_loss_and_grads(DEEP if params is None else params, x, Y, masks, keep_prob=keep_prob,
                                      hidden_activation=activation)


IMAGES = np.ones((4, 1, 3, 3))
FLIP, OFFSETS = np.zeros(4, dtype=bool), np.zeros(4, dtype=int)


def decisions(flip: np.ndarray = FLIP, top: np.ndarray = OFFSETS, padding: int = 1) -> aug.AugmentationDecisions:
    return aug.AugmentationDecisions(flip, top, OFFSETS, padding)


SM_Z = np.array([[1.0, -2.0, 0.5], [0.3, 0.0, -1.0], [2.0, 1.0, 0.0]])
SM_LABELS = np.array([[0, 2, 1]])
SM_PARAMS = initialize_parameters([2, 3, 3], method="xavier", rng=np.random.default_rng(0))
TORCH_PARAMS = [torch.nn.Parameter(torch.zeros(2))]
NOT_NEGATIVE = "must be a finite number >= 0"
POSITIVE = "must be a finite number > 0"

CONCEPT_ROWS = [
    # scratch.deep_net: data, parameters, activation
    Bad("deep-X-empty", lambda: deep(x=X[:, :0], y=Y[:, :0]), VE, "X is empty"),
    Bad("deep-X-nan", lambda: deep(x=_with(X, (1, 1), np.nan)), VE, "X contains 1 NaN"),
    Bad("deep-Y-labels", lambda: deep(y=Y * 2), VE, Y01),
    Bad("deep-Y-shape", lambda: deep(y=Y[:, :2]), VE, "Y must have shape (1, 3)"),
    Bad("deep-Y-dtype", lambda: deep(y=Y.astype(np.float32)), VE, "Y must have X's dtype"),
    Bad("deep-W1-nan", lambda: deep(deep_with(W1=_with(DEEP["W1"], (0, 0), np.nan))), VE,
        "params['W1'] contains 1 NaN"),
    Bad("deep-b2-inf", lambda: deep(deep_with(b2=np.full((1, 1), np.inf))), VE, "params['b2'] contains 1 NaN"),
    Bad("deep-W1-dtype", lambda: deep(deep_with(W1=DEEP["W1"].astype(np.float32))), VE, "W1 must have X's dtype"),
    Bad("deep-W2-fan-in", lambda: deep(deep_with(W2=np.zeros((1, 4)))), VE, "W2 must have shape (*, 3)"),
    Bad("deep-b1-vector", lambda: deep(deep_with(b1=np.zeros(3))), VE, "params['b1'] must have 2 dimensions"),
    Bad("deep-b1-rows", lambda: deep(deep_with(b1=np.zeros((2, 1)))), VE, "b1 must have shape (3, 1)"),
    Bad("deep-b2-missing", lambda: deep(deep_with(b2=None)), VE, "params must hold W1, b1, ..., WL, bL"),
    Bad("deep-two-outputs", lambda: deep(deep_with(W2=np.zeros((2, 3)), b2=np.zeros((2, 1)))), VE,
        "W2 must have 1 output row(s)"),
    Bad("deep-activation", lambda: deep(activation="softplus"), VE, "hidden_activation must be one of"),
    Bad("deep-forward-activation", lambda: dn.L_model_forward(X, DEEP, hidden_activation="gelu"), VE,
        "hidden_activation must be one of"),
    Bad("deep-update-lr-zero", lambda: dn.update_parameters(deep_with(), deep()[1], 0.0), VE, "learning_rate"),
    Bad("deep-update-lr-negative", lambda: dn.update_parameters(deep_with(), deep()[1], -0.1), VE,
        "learning_rate"),
    Bad("deep-cost-probabilities", lambda: dn.compute_cost(np.array([[0.5, 1.5, 0.2]]), Y), VE,
        "AL must hold probabilities in [0, 1]"),
    Bad("deep-cost-Y-shape", lambda: dn.compute_cost(np.array([[0.5, 0.5]]), Y), VE, "Y must have shape (1, 2)"),
    Bad("deep-predict-nan", lambda: dn.predict(_with(X, (0, 2), np.nan), DEEP), VE, "X contains 1 NaN"),
    Bad("deep-accuracy-shape", lambda: dn.accuracy(np.zeros((1, 2)), Y), VE, "predictions must have shape (1, 3)"),
    # initialization, deep problems, the torch network
    Bad("init-method", lambda: initialize_parameters(DIMS, method="glorot", rng=RNG), VE, "method must be one of"),
    Bad("init-rng", lambda: initialize_parameters(DIMS, method="he", rng=0), TypeError,
        "rng must be a numpy.random.Generator"),
    Bad("init-layer_dims-one", lambda: initialize_parameters([3], method="he", rng=RNG), VE,
        "layer_dims must list at least 2 sizes"),
    Bad("init-layer_dims-zero", lambda: initialize_parameters([2, 0, 1], method="he", rng=RNG), VE,
        "layer_dims[1] must be a positive integer"),
    Bad("init-layer_dims-float", lambda: initialize_parameters([2, 2.5, 1], method="he", rng=RNG), VE,
        "layer_dims[1] must be a positive integer"),
    Bad("init-dtype", lambda: initialize_parameters(DIMS, method="he", rng=RNG, dtype=np.int64), VE,
        "dtype must be float32 or float64"),
    Bad("deep-problem-n_x", lambda: deep_problem(0, np.float64, layer_dims=[3, 2, 1], n_x=2, m=4), VE,
        "n_x (2) must equal layer_dims[0] (3)"),
    Bad("deep-problem-dataset", lambda: deep_problem(0, np.float64, layer_dims=[3, 2, 1], dataset=TINY), VE,
        "layer_dims[0] must equal the dataset's 2 features"),
    Bad("deep-problem-no-data", lambda: deep_problem(0, np.float64, layer_dims=[3, 2, 1]), VE,
        "deep_problem needs either dataset or m"),
    Bad("deep-problem-activation", lambda: deep_problem(0, np.float64, layer_dims=[2, 1], m=4,
                                                        hidden_activation="elu"), VE, "hidden_activation"),
    Bad("torch-deepnet-activation", lambda: tdn.DeepNet([2, 3, 1], "swish"), VE, "hidden_activation must be one of"),
    Bad("torch-deepnet-dims", lambda: tdn.DeepNet([2]), VE, "layer_dims must list at least 2"),
    Bad("torch-deepnet-init", lambda: tdn.init_parameters(tdn.DeepNet([2, 1]), "glorot"), VE,
        "method must be one of"),
    # scratch.optim: hyperparameters (torch's names and ranges), parameters, steps
    Bad("sgd-lr-negative", lambda: optimizer("SGD", lr=-0.1), VE, "lr " + POSITIVE),
    Bad("sgd-lr-zero", lambda: optimizer("SGD", lr=0.0), VE, "lr " + POSITIVE),
    Bad("sgd-lr-nan", lambda: optimizer("SGD", lr=np.nan), VE, "lr " + POSITIVE),
    Bad("sgd-lr-str", lambda: optimizer("SGD", lr="0.1"), VE, "lr " + POSITIVE),
    Bad("adam-lr-negative", lambda: optimizer("Adam", lr=-1e-3), VE, "lr " + POSITIVE),
    Bad("adam-lr-zero", lambda: optimizer("Adam", lr=0), VE, "lr " + POSITIVE),
    Bad("rmsprop-lr-inf", lambda: optimizer("RMSprop", lr=np.inf), VE, "lr " + POSITIVE),
    Bad("adagrad-lr-negative", lambda: optimizer("Adagrad", lr=-0.01), VE, "lr " + POSITIVE),
    Bad("optim-lr-setter", lambda: set_lr(-0.5), VE, "lr " + POSITIVE),
    Bad("optim-lr-setter-zero", lambda: set_lr(0.0), VE, "lr " + POSITIVE),
    Bad("sgd-momentum-negative", lambda: optimizer("SGD", lr=0.1, momentum=-0.9), VE, "momentum"),
    Bad("sgd-dampening", lambda: optimizer("SGD", lr=0.1, momentum=0.9, dampening=1.5), VE,
        "dampening must be in [0.0, 1.0]"),
    Bad("sgd-weight-decay", lambda: optimizer("SGD", lr=0.1, weight_decay=-1e-4), VE, "weight_decay"),
    Bad("sgd-nesterov-no-momentum", lambda: optimizer("SGD", lr=0.1, nesterov=True), VE,
        "nesterov=True requires momentum > 0"),
    Bad("sgd-nesterov-flag", lambda: optimizer("SGD", lr=0.1, momentum=0.9, nesterov="yes"), VE,
        "nesterov must be True or False"),
    Bad("adam-beta1-one", lambda: optimizer("Adam", betas=(1.0, 0.999)), VE, "betas[0] must be in [0.0, 1.0)"),
    Bad("adam-beta2-negative", lambda: optimizer("Adam", betas=(0.9, -0.1)), VE, "betas[1] must be in [0.0, 1.0)"),
    Bad("adam-betas-scalar", lambda: optimizer("Adam", betas=0.9), VE, "betas must be a pair"),
    Bad("adam-betas-three", lambda: optimizer("Adam", betas=(0.9, 0.99, 0.999)), VE, "betas must be a pair"),
    Bad("adamw-beta2-one", lambda: optimizer("AdamW", betas=(0.9, 1.0)), VE, "betas[1] must be in [0.0, 1.0)"),
    Bad("adam-eps-negative", lambda: optimizer("Adam", eps=-1e-8), VE, "eps " + NOT_NEGATIVE),
    Bad("adamw-weight-decay", lambda: optimizer("AdamW", weight_decay=-0.01), VE, "weight_decay"),
    Bad("adam-amsgrad-flag", lambda: optimizer("Adam", amsgrad=1), VE, "amsgrad must be True or False"),
    Bad("rmsprop-alpha", lambda: optimizer("RMSprop", alpha=1.5), VE, "alpha must be in [0.0, 1.0]"),
    Bad("rmsprop-centered-flag", lambda: optimizer("RMSprop", centered="no"), VE, "centered must be True or False"),
    Bad("adagrad-lr-decay", lambda: optimizer("Adagrad", lr_decay=-0.1), VE, "lr_decay"),
    Bad("adagrad-accumulator", lambda: optimizer("Adagrad", initial_accumulator_value=-1.0), VE,
        "initial_accumulator_value"),
    Bad("course-momentum-beta", lambda: optimizer("MomentumCourse", beta=1.0), VE, "beta must be in [0.0, 1.0)"),
    Bad("course-adam-beta2", lambda: optimizer("AdamCourse", beta2=1.0), VE, "beta2 must be in [0.0, 1.0)"),
    Bad("course-rmsprop-epsilon", lambda: optimizer("RMSpropCourse", epsilon=-1.0), VE, "epsilon"),
    Bad("optim-params-empty", lambda: optimizer("SGD", {}, lr=0.1), VE, "params must be a non-empty dict"),
    Bad("optim-params-int", lambda: optimizer("SGD", {"W": np.zeros((2, 2), dtype=int)}, lr=0.1), VE,
        "params['W'] must be float32 or float64"),
    Bad("optim-params-list", lambda: optimizer("SGD", {"W": [[0.0]]}, lr=0.1), TypeError,
        "params['W'] must be a numpy.ndarray"),
    Bad("optim-params-mixed", lambda: optimizer("SGD", {"W": np.zeros(2), "b": np.zeros(2, np.float32)}, lr=0.1),
        VE, "params must share one dtype"),
    Bad("optim-step-missing-grad", lambda: step({}), VE, "grads is missing 'dW'"),
    Bad("optim-step-grad-shape", lambda: step({"dW": np.zeros((2, 1))}), VE, "grads['dW'] has shape (2, 1)"),
    Bad("update-lr-decay-rate", lambda: so.update_lr(0.1, 3, -0.5), VE, "decay_rate " + NOT_NEGATIVE),
    Bad("update-lr-lr0", lambda: so.update_lr(-0.1, 3, 0.5), VE, "learning_rate0 " + NOT_NEGATIVE),
    Bad("schedule-time-interval", lambda: so.schedule_lr_decay(0.1, 3, 0.5, time_interval=0), VE,
        "time_interval must be a positive integer"),
    Bad("torch-optimizer-unknown", lambda: to.make_optimizer("Adamax2", TORCH_PARAMS), VE,
        "unknown optimizer 'Adamax2'"),
    Bad("torch-reg-optimizer-unknown", lambda: treg.make_optimizer("lbfgs", TORCH_PARAMS, lr=0.1), VE,
        "optimizer must be one of"),
    # scratch.minibatch
    Bad("minibatch-size-zero", lambda: smb.random_mini_batches(X, Y, 0, rng=RNG), VE,
        "mini_batch_size must be a positive integer"),
    Bad("minibatch-rng", lambda: smb.random_mini_batches(X, Y, 2, rng=None), TypeError, "rng must be"),
    Bad("minibatch-Y-columns", lambda: smb.partition_mini_batches(X, Y[:, :2], 2, np.arange(3)), VE,
        "Y must have shape (*, 3)"),
    Bad("minibatch-permutation", lambda: smb.partition_mini_batches(X, Y, 2, np.array([0, 1])), VE,
        "permutation must be a permutation of range(3)"),
    # scratch.regularization
    Bad("dropout-mask-keep-zero", lambda: reg.dropout_mask(RNG, (2, 3), 0.0, np.float64), VE,
        "keep_prob must be in (0.0, 1.0]"),
    Bad("dropout-mask-keep-above-one", lambda: reg.dropout_mask(RNG, (2, 3), 1.5, np.float64), VE,
        "keep_prob must be in (0.0, 1.0]"),
    Bad("dropout-masks-keep-nan", lambda: reg.draw_dropout_masks(RNG, DIMS, 3, np.nan, np.float64), VE,
        "keep_prob must be in (0.0, 1.0]"),
    Bad("dropout-keep-negative", lambda: dropout(keep_prob=-0.5), VE, "keep_prob must be in (0.0, 1.0]"),
    Bad("dropout-activation", lambda: dropout(activation="sigmoid"), VE, "hidden_activation must be one of"),
    Bad("dropout-X-nan", lambda: dropout(x=_with(X, (0, 0), np.nan)), VE, "X contains 1 NaN"),
    Bad("dropout-W1-nan", lambda: dropout(deep_with(W1=_with(DEEP["W1"], (1, 1), np.nan))), VE,
        "params['W1'] contains 1 NaN"),
    Bad("dropout-mask-missing", lambda: dropout(masks={}), VE, "masks is missing 'D1'"),
    Bad("dropout-mask-shape", lambda: dropout(masks={"D1": np.ones((3, 2))}), VE,
        "masks['D1'] must have shape (3, 3)"),
    Bad("torch-dropout-keep-zero", lambda: treg.DropoutNet(DIMS, keep_prob=0.0), VE,
        "keep_prob must be in (0.0, 1.0]"),
    Bad("l2-cost-lambda", lambda: reg.l2_cost(DEEP, -0.1, 3), VE, "lambd " + NOT_NEGATIVE),
    Bad("l2-grads-lambda", lambda: reg.l2_grads(DEEP, -0.1, 3), VE, "lambd " + NOT_NEGATIVE),
    Bad("l1-cost-lambda", lambda: reg.l1_cost(DEEP, -1.0, 3), VE, "lambd " + NOT_NEGATIVE),
    Bad("l1-grads-lambda", lambda: reg.l1_grads(DEEP, np.nan, 3), VE, "lambd " + NOT_NEGATIVE),
    Bad("l2-cost-m", lambda: reg.l2_cost(DEEP, 0.1, 0), VE, "m must be a positive integer"),
    Bad("regularized-l2", lambda: reg.regularized_loss_and_grads(DEEP, X, Y, l2=-0.7), VE, "l2 " + NOT_NEGATIVE),
    Bad("regularized-l1", lambda: reg.regularized_loss_and_grads(DEEP, X, Y, l1=np.inf), VE, "l1 " + NOT_NEGATIVE),
    Bad("early-stopping-patience", lambda: reg.EarlyStopping(patience=0), VE, "patience must be a positive integer"),
    Bad("early-stopping-min-delta", lambda: reg.EarlyStopping(patience=3, min_delta=-1e-3), VE, "min_delta"),
    Bad("early-stopping-dev-loss", lambda: reg.EarlyStopping(patience=3).update(0, np.nan, DEEP), VE,
        "dev_loss must be finite"),
    # scratch.normalization
    Bad("normalize-empty", lambda: norm.fit_normalizer(X[:, :0]), VE, "X_train is empty"),
    Bad("normalize-nan", lambda: norm.fit_normalizer(_with(X, (0, 0), np.nan)), VE, "X_train contains 1 NaN"),
    Bad("normalize-1d", lambda: norm.fit_normalizer(X[0]), VE, "X_train must have 2 dimensions"),
    Bad("normalize-float16", lambda: norm.fit_normalizer(X.astype(np.float16)), VE, "X_train has dtype float16"),
    Bad("normalize-apply-features", lambda: norm.fit_normalizer(X).apply(np.zeros((3, 3))), VE,
        "X must have shape (2, *)"),
    Bad("normalize-apply-nan", lambda: norm.fit_normalizer(X).apply(_with(X, (1, 0), np.inf)), VE,
        "X contains 1 NaN"),
    Bad("normalize-images-3d", lambda: norm.fit_image_normalizer(IMAGES[0]), VE,
        "images_train must have 4 dimensions"),
    Bad("normalize-images-empty", lambda: norm.fit_image_normalizer(IMAGES[:0]), VE, "images_train is empty"),
    Bad("normalize-images-channels", lambda: norm.fit_image_normalizer(IMAGES).apply(np.ones((4, 2, 3, 3))), VE,
        "X must have shape (*, 1, *, *)"),
    # scratch.augmentation
    Bad("augment-padding-negative", lambda: aug.draw_decisions(RNG, 4, padding=-1), VE,
        "padding must be an integer >= 0"),
    Bad("augment-padding-float", lambda: aug.draw_decisions(RNG, 4, padding=1.5), VE,
        "padding must be an integer >= 0"),
    Bad("augment-flip-prob", lambda: aug.draw_decisions(RNG, 4, padding=1, flip_prob=1.5), VE,
        "flip_prob must be in [0.0, 1.0]"),
    Bad("augment-flip-prob-nan", lambda: aug.draw_decisions(RNG, 4, padding=1, flip_prob=np.nan), VE,
        "flip_prob must be in [0.0, 1.0]"),
    Bad("augment-offset-range", lambda: decisions(top=np.full(4, 3)), VE, "top offsets must lie in 0..2"),
    Bad("augment-offset-negative", lambda: decisions(top=np.full(4, -1)), VE, "top offsets must lie in 0..2"),
    Bad("augment-decisions-lengths", lambda: decisions(top=np.zeros(3, dtype=int)), VE, "top must have shape (4,)"),
    Bad("augment-images-3d", lambda: aug.augment(IMAGES[0], decisions()), VE, "images must have 4 dimensions"),
    Bad("augment-images-empty", lambda: aug.augment(IMAGES[:0], decisions()), VE, "images is empty"),
    Bad("augment-decisions-m", lambda: aug.augment(IMAGES[:2], decisions()), VE,
        "decisions.flip must have shape (2,)"),
    # scratch.softmax
    Bad("softmax-1d", lambda: sm.softmax(np.zeros(3)), VE, "Z must have 2 dimensions"),
    Bad("softmax-cost-nan", lambda: sm.cross_entropy_from_logits(_with(SM_Z, (0, 0), np.nan), SM_LABELS), VE,
        "Z contains 1 NaN"),
    Bad("softmax-cost-empty", lambda: sm.cross_entropy_from_logits(SM_Z[:, :0], SM_LABELS[:, :0]), VE, "Z is empty"),
    Bad("softmax-label-range", lambda: sm.cross_entropy_from_logits(SM_Z, np.array([[0, 3, 1]])), VE,
        "Y must hold labels in 0..2"),
    Bad("softmax-label-float", lambda: sm.cross_entropy_from_logits(SM_Z, np.array([[0.0, 1.0, 1.0]])), VE,
        "Y must hold integer class labels"),
    Bad("softmax-label-count", lambda: sm.cross_entropy_from_logits(SM_Z, np.array([[0, 1]])), VE,
        "Y must hold one label per example (3)"),
    Bad("softmax-one-hot", lambda: sm.cross_entropy_from_logits(SM_Z, np.ones((3, 3))), VE,
        "Y of shape (3, 3) must be one-hot"),
    Bad("softmax-one-hot-classes", lambda: sm.one_hot(SM_LABELS, 0), VE, "n_classes must be a positive integer"),
    Bad("softmax-one-class", lambda: sm.loss_and_grads(DEEP, X, np.zeros((1, 3), dtype=int)), VE,
        "a softmax output needs at least 2 classes"),
    Bad("softmax-labels-vs-K", lambda: sm.loss_and_grads(SM_PARAMS, X, np.array([[0, 1, 3]])), VE,
        "labels must hold labels in 0..2"),
    Bad("select-unknown-variant", lambda: select(["optim/nope"]), VE, "unknown variant 'nope' of concept 'optim'"),
    Bad("cli-unknown-variant", lambda: cli("run", "deep_net/nope"), CliError,
        "unknown variant 'nope' of concept 'deep_net'"),
]


# --- torch_ref's constructors and factories; the harness's entry points -------------------------------------------

SIZE = "must be a positive integer"
TORCH_FLOATS = "dtype must be torch.float32 or torch.float64"


def rnn_model(**changes: object) -> object:
    return trnn.RecurrentModel(**({"cell": "gru", "n_x": 2, "n_h": 3, "n_y": 1} | changes))


def course_check(**options: object) -> object:
    return check({}, **options)


def rank_spec(**changes: object) -> object:
    """A valid :class:`torch_ref.data_parallel.RankSpec` (2 -> 3 -> 1, four examples as rows) with ``changes``."""
    return tdp.RankSpec(**({"layer_dims": [2, 3, 1], "hidden_activation": "tanh", "learning_rate": 0.1,
                            "dtype": "float64", "state": {}, "x": np.zeros((4, 2)), "y": np.zeros((4, 1))} | changes))


TOO_MANY_GPUS = torch.cuda.device_count() + 1  # world sizes no machine running this test can place on its GPUs


#: Every public class and function of torch_ref: its rows, or why it has none (introspection below).
TORCH_REF_ROWS: dict[str, list[Bad] | str] = {
    "logistic_regression.LogisticRegression": [
        Bad("torch-lr-n-features", lambda: tlr.LogisticRegression(0), VE, "n_features " + SIZE),
        Bad("torch-lr-n-features-float", lambda: tlr.LogisticRegression(2.0), VE, "n_features " + SIZE),
        Bad("torch-lr-dtype", lambda: tlr.LogisticRegression(2, dtype=torch.int64), VE, TORCH_FLOATS)],
    "shallow_net.ShallowNet": [
        Bad("torch-shallow-n-h", lambda: tsn.ShallowNet(2, 0), VE, "n_h " + SIZE),
        Bad("torch-shallow-n-x-str", lambda: tsn.ShallowNet("2", 4), VE, "n_x " + SIZE),
        Bad("torch-shallow-dtype", lambda: tsn.ShallowNet(2, 4, dtype=torch.float16), VE, TORCH_FLOATS)],
    "deep_net.DeepNet": [
        Bad("torch-deepnet-dims-str", lambda: tdn.DeepNet("231"), TypeError, "layer_dims must be a sequence"),
        Bad("torch-deepnet-dims-bool", lambda: tdn.DeepNet([2, True, 1]), VE, "layer_dims must list at least 2"),
        Bad("torch-deepnet-dtype", lambda: tdn.DeepNet([2, 1], dtype=torch.int32), VE, TORCH_FLOATS)],
    "deep_net.make_activation": [
        Bad("torch-make-activation", lambda: tdn.make_activation("gelu"), VE, "hidden_activation must be one of")],
    "deep_net.init_parameters": [
        Bad("torch-init-method", lambda: tdn.init_parameters(tdn.DeepNet([2, 1]), "uniform"), VE, "method")],
    "batchnorm.BNDeepNet": [
        Bad("torch-bn-dims", lambda: tbn.BNDeepNet([2, 1]), VE, "layer_dims must list at least 3"),
        Bad("torch-bn-placement", lambda: tbn.BNDeepNet([2, 3, 1], placement="inside"), VE, "placement"),
        Bad("torch-bn-momentum", lambda: tbn.BNDeepNet([2, 3, 1], momentum=1.5), VE, "momentum must be in (0.0, 1.0]"),
        Bad("torch-bn-momentum-str", lambda: tbn.BNDeepNet([2, 3, 1], momentum="0.1"), VE, "momentum must be a number"),
        Bad("torch-bn-eps", lambda: tbn.BNDeepNet([2, 3, 1], eps=0.0), VE, "eps " + POSITIVE),
        Bad("torch-bn-dtype", lambda: tbn.BNDeepNet([2, 3, 1], dtype=torch.bfloat16), VE, TORCH_FLOATS)],
    "conv.LeNet": [
        Bad("torch-lenet-image-size", lambda: tconv.LeNet(image_size=6), VE, "gives an odd size 3"),
        Bad("torch-lenet-image-size-str", lambda: tconv.LeNet(image_size="8"), VE, "image_size " + SIZE),
        Bad("torch-lenet-channels", lambda: tconv.LeNet(channels=(6,)), VE, "channels must list at least 2"),
        Bad("torch-lenet-channels-three", lambda: tconv.LeNet(channels=(6, 16, 32)), VE, "channels must be two"),
        Bad("torch-lenet-classes", lambda: tconv.LeNet(n_classes=0), VE, "n_classes " + SIZE),
        Bad("torch-lenet-dtype", lambda: tconv.LeNet(dtype=torch.int64), VE, TORCH_FLOATS)],
    "conv.BasicBlock": [
        Bad("torch-block-width", lambda: tconv.BasicBlock(0), VE, "width " + SIZE),
        Bad("torch-block-momentum", lambda: tconv.BasicBlock(2, momentum=0.0), VE, "momentum must be in (0.0, 1.0]")],
    "conv.SmallResNet": [
        Bad("torch-resnet-image-size", lambda: tconv.SmallResNet(image_size=5), VE, "image_size must be even"),
        Bad("torch-resnet-width", lambda: tconv.SmallResNet(width=-1), VE, "width " + SIZE),
        Bad("torch-resnet-eps", lambda: tconv.SmallResNet(eps=-1e-5), VE, "eps " + POSITIVE)],
    "rnn.RecurrentModel": [
        Bad("torch-rnn-cell", lambda: rnn_model(cell="transformer"), VE, "cell must be one of"),
        Bad("torch-rnn-head", lambda: rnn_model(head="seq2seq"), VE, "head must be"),
        Bad("torch-rnn-n-h", lambda: rnn_model(n_h=0), VE, "n_h " + SIZE),
        Bad("torch-rnn-layers", lambda: rnn_model(num_layers=1.0), VE, "num_layers " + SIZE),
        Bad("torch-rnn-vocab", lambda: rnn_model(vocab_size=0), VE, "vocab_size " + SIZE),
        Bad("torch-rnn-dtype", lambda: rnn_model(dtype=torch.float16), VE, TORCH_FLOATS)],
    "rnn.torch_name": [Bad("torch-rnn-name", lambda: trnn.torch_name("W_xx_l0"), VE, "recurrent parameter name")],
    "regularization.DropoutNet": [
        Bad("torch-dropout-keep-str", lambda: treg.DropoutNet(DIMS, keep_prob="0.5"), VE, "keep_prob must be a number"),
        Bad("torch-dropout-activation", lambda: treg.DropoutNet(DIMS, keep_prob=0.5, hidden_activation="elu"), VE,
            "hidden_activation must be one of"),
        Bad("torch-dropout-dims", lambda: treg.DropoutNet([2], keep_prob=0.5), VE, "layer_dims must list at least 2")],
    "regularization.PenalizedLoss": [
        Bad("torch-penalized-m", lambda: treg.PenalizedLoss(LINEAR, m=0), VE, "m " + SIZE),
        Bad("torch-penalized-l2", lambda: treg.PenalizedLoss(LINEAR, m=3, l2=-0.1), VE, "l2 " + NOT_NEGATIVE),
        Bad("torch-penalized-l1", lambda: treg.PenalizedLoss(LINEAR, m=3, l1=np.nan), VE, "l1 must be a number")],
    "regularization.EarlyStopping": [
        Bad("torch-early-patience", lambda: treg.EarlyStopping(patience=0), VE, "patience " + SIZE),
        Bad("torch-early-min-delta", lambda: treg.EarlyStopping(patience=2, min_delta="0"), VE, "min_delta")],
    "regularization.make_optimizer": [
        Bad("torch-reg-optimizer-name", lambda: treg.make_optimizer("lbfgs", TORCH_PARAMS, lr=0.1), VE, "optimizer")],
    "optim.make_optimizer": [
        Bad("torch-optimizer-name", lambda: to.make_optimizer("SGDW", TORCH_PARAMS, lr=0.1), VE, "unknown optimizer"),
        Bad("torch-optimizer-lr", lambda: to.make_optimizer("Adam", TORCH_PARAMS, lr=-0.1), VE,
            "Invalid learning rate")],
    "optim.momentum_course": [Bad("torch-momentum-course-beta", lambda: to.momentum_course(TORCH_PARAMS, beta=-0.5), VE,
                                  "Invalid momentum value")],
    "optim.rmsprop_course": [Bad("torch-rmsprop-course-eps", lambda: to.rmsprop_course(TORCH_PARAMS, epsilon=-1.0),
                                 VE, "Invalid epsilon value")],
    "optim.adam_course": [Bad("torch-adam-course-beta1", lambda: to.adam_course(TORCH_PARAMS, beta1=1.0), VE,
                              "Invalid beta parameter at index 0")],
    "optim.make_scheduler": [Bad("torch-scheduler-name", lambda: to.make_scheduler(
        "Warmup", to.make_optimizer("SGD", TORCH_PARAMS, lr=0.1)), VE, "unknown scheduler 'Warmup'")],
    "optim.PermutationSampler": [
        Bad("torch-sampler-m", lambda: to.PermutationSampler(lambda: [0], 0), VE, "m " + SIZE),
        Bad("torch-sampler-callable", lambda: to.PermutationSampler([0, 1], 2), TypeError,
            "next_permutation must be callable")],
    "optim.make_loader": [
        Bad("torch-loader-batch", lambda: to.make_loader(torch.zeros(3, 2), torch.zeros(3, 1), 0, lambda: [0, 1, 2]),
            VE, "batch_size " + SIZE),
        Bad("torch-loader-lengths", lambda: to.make_loader(torch.zeros(3, 2), torch.zeros(2, 1), 2, lambda: [0, 1]),
            VE, "x and y must hold the same number of examples")],
    "optim.inverse_time_decay": [
        Bad("torch-decay-rate", lambda: to.inverse_time_decay(to.make_optimizer("SGD", TORCH_PARAMS, lr=0.1),
                                                              decay_rate=-1.0), VE, "decay_rate " + NOT_NEGATIVE),
        Bad("torch-decay-interval", lambda: to.inverse_time_decay(to.make_optimizer("SGD", TORCH_PARAMS, lr=0.1),
                                                                  decay_rate=1.0, time_interval=0), VE,
            "time_interval " + SIZE)],
    "augmentation.make_augmentation": [
        Bad("torch-augment-size", lambda: taug.make_augmentation((3,), padding=1), VE, "size must list at least 2"),
        Bad("torch-augment-padding", lambda: taug.make_augmentation((3, 3), padding=-1), VE,
            "padding must be an integer >= 0"),
        Bad("torch-augment-flip", lambda: taug.make_augmentation((3, 3), padding=1, flip_prob=2.0), VE,
            "flip_prob must be in [0.0, 1.0]")],
    "data_parallel.RankSpec": [
        Bad("torch-dp-spec-dims", lambda: rank_spec(layer_dims=[2]), VE, "layer_dims must list at least 2"),
        Bad("torch-dp-spec-activation", lambda: rank_spec(hidden_activation="gelu"), VE,
            "hidden_activation must be one of"),
        Bad("torch-dp-spec-lr", lambda: rank_spec(learning_rate=0.0), VE, "learning_rate must be a finite number > 0"),
        Bad("torch-dp-spec-dtype", lambda: rank_spec(dtype=torch.float64), VE, "dtype must be one of float64, float32"),
        Bad("torch-dp-spec-x-layout", lambda: rank_spec(x=np.zeros((2, 4))), VE,
            "x must be a NumPy array of shape (m, 2)"),
        Bad("torch-dp-spec-y-tensor", lambda: rank_spec(y=torch.zeros(4, 1)), VE, "y must be a NumPy array of shape"),
        Bad("torch-dp-spec-lengths", lambda: rank_spec(y=np.zeros((3, 1))), VE,
            "x and y must hold the same number of examples")],
    "data_parallel.RankTraining": [
        Bad("torch-dp-training-plain-module", lambda: tdp.RankTraining(torch.nn.Linear(2, 1), torch.nn.MSELoss(),
                                                                       None, None), TypeError,
            "model must be a DistributedDataParallel")],
    "data_parallel.RankGroup": [
        Bad("torch-dp-group-size", lambda: tdp.RankGroup(0), VE, "world_size " + SIZE),
        Bad("torch-dp-group-size-float", lambda: tdp.RankGroup(2.0), VE, "world_size " + SIZE),
        Bad("torch-dp-group-device", lambda: tdp.RankGroup(2, device_type="tpu"), VE, "device_type must be 'cpu' or"),
        Bad("torch-dp-group-gpus", lambda: tdp.RankGroup(TOO_MANY_GPUS, device_type="cuda"), VE,
            "device_type 'cuda' needs one GPU per rank"),
        Bad("torch-dp-group-timeout", lambda: tdp.RankGroup(2, timeout=0), VE, "timeout must be a finite number > 0")],
    "data_parallel.spawn_training": [
        Bad("torch-dp-spawn-spec", lambda: tdp.spawn_training({"layer_dims": [2, 1]}, 2, 3), TypeError,
            "spec must be a RankSpec"),
        Bad("torch-dp-spawn-steps", lambda: tdp.spawn_training(rank_spec(), 2, 0), VE, "steps " + SIZE),
        Bad("torch-dp-spawn-gpus", lambda: tdp.spawn_training(rank_spec(), TOO_MANY_GPUS, 3, device_type="cuda"),
            VE, "device_type 'cuda' needs one GPU per rank")],
    "data_parallel.backend_for": [Bad("torch-dp-backend", lambda: tdp.backend_for("mps"), VE,
                                      "device_type must be 'cpu' or 'cuda'")],
    "data_parallel.check_devices": [Bad("torch-dp-devices", lambda: tdp.check_devices("cuda", TOO_MANY_GPUS), VE,
                                        f"world_size is {TOO_MANY_GPUS}")],
    "data_parallel.shard_loader": [
        Bad("torch-dp-shard-rank", lambda: tdp.shard_loader(torch.zeros(4, 2), torch.zeros(4, 1), 2, 2), VE,
            "rank must be an integer in 0..1"),
        Bad("torch-dp-shard-world", lambda: tdp.shard_loader(torch.zeros(4, 2), torch.zeros(4, 1), 0, 0), VE,
            "world_size " + SIZE),
        Bad("torch-dp-shard-lengths", lambda: tdp.shard_loader(torch.zeros(4, 2), torch.zeros(3, 1), 0, 2), VE,
            "x and y must hold the same number of examples")],
    "data_parallel.time_all_reduce": [
        Bad("torch-dp-time-length", lambda: tdp.time_all_reduce(0, 3, "float64", device=torch.device("cpu")), VE,
            "length " + SIZE),
        Bad("torch-dp-time-dtype", lambda: tdp.time_all_reduce(8, 3, "float16", device=torch.device("cpu")), VE,
            "dtype must be one of float64, float32")],
    "data_parallel.free_port": "takes no argument",
    "data_parallel.RankFailed": "an exception class: its constructor takes the message, there is nothing to refuse",
    **{f"data_parallel.{name}": "runs inside a rank (a process group joined) on arguments that RankGroup, "
                                "spawn_training and RankSpec, rows above, check in the parent"
       for name in ("setup", "build", "train_epoch", "parameters_and_grads", "train", "serve")},
    **{name: "takes tensors, modules or optimizers built by the rows above; torch's own operators check them and "
             "torch_ref, idiomatic torch code, adds no second check"
       for name in ("augmentation.augment_with_decisions", "autodiff.add_multiply", "autodiff.logistic_neuron",
                    "autodiff.logistic_regression_cost", "autodiff.value_and_grad", "batchnorm.eval_logits",
                    "batchnorm.predict", "conv.predict", "deep_net.make_training", "deep_net.predict",
                    "logistic_regression.make_training", "logistic_regression.fit", "logistic_regression.predict",
                    "normalization.fit_feature_normalization", "normalization.normalize_features",
                    "normalization.fit_image_normalize", "regularization.weights", "regularization.l2_penalty",
                    "regularization.l1_penalty", "regularization.decay_groups", "rnn.loss_fn", "rnn.detach_state",
                    "rnn.train_truncated_bptt", "rnn.sample", "softmax.make_training", "softmax.predict",
                    "training.train_step")},
    **{f"validation.{name}": "a validator: raising on bad values is its job; the constructor rows above run it"
       for name in ("check_positive_int", "check_sizes", "check_float_dtype", "check_number", "check_momentum")},
}

HARNESS_ROWS = [
    Bad("run-case-str", lambda: run_case("logistic_regression/vectorized"), TypeError,
        "case must be a registered Case"),
    Bad("run-gradient-check-flag", lambda: run(gradient_check="yes"), VE, "gradient_check must be True or False"),
    Bad("run-replay-flag", lambda: run(replay=1), VE, "replay must be True or False"),
    Bad("run-seed-str", lambda: run(seed="0"), VE, "seed must be an integer >= 0"),
    Bad("check-target", lambda: check(3), UserError, "check() takes a .py path, a module or a namespace dict"),
    Bad("check-week", lambda: course_check(week="c3w1"), UserError, "week must be one of"),
    Bad("check-functions-str", lambda: course_check(functions="propagate"), UserError,
        "functions must be a list of function names"),
    Bad("check-functions-unknown", lambda: check({"propagate": prop}, functions=["forward"]), UserError,
        "not a course function the checker knows: forward"),
    Bad("check-time-limit", lambda: course_check(time_limit=0), UserError, "time_limit must be a number of seconds"),
    Bad("check-empty", lambda: course_check(), UserError, "no course function found"),
    Bad("cli-check-week", lambda: cli("check", "--week", "c9w9", _a_file()), CliError, "--week"),
    Bad("cli-check-time-limit", lambda: cli("check", "--time-limit", "-5", _a_file()), CliError,
        "argument --time-limit: expected a number of seconds > 0"),
    Bad("cli-check-time-limit-nan", lambda: cli("check", "--time-limit", "nan", _a_file()), CliError,
        "argument --time-limit"),
    Bad("cli-bench-threads", lambda: cli("bench", "--threads", "0"), CliError, "argument --threads"),
    Bad("cli-bench-clock", lambda: cli("bench", "--clock", "gpu"), CliError, "argument --clock: invalid choice"),
    Bad("cli-check-missing-file", lambda: cli("check"), CliError, "FILE"),
]


def torch_ref_public() -> set[str]:
    names = set()
    for info in pkgutil.iter_modules(torch_ref.__path__):
        module = importlib.import_module(f"torch_ref.{info.name}")
        names |= {f"{info.name}.{attr}" for attr, obj in vars(module).items()
                  if not attr.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == module.__name__}
    return names


def test_every_torch_ref_callable_has_rows_or_a_reason() -> None:
    assert torch_ref_public() == set(TORCH_REF_ROWS), "torch_ref callables without an entry (or stale entries)"
    constructors = [name for name in TORCH_REF_ROWS if name.split(".")[1][0].isupper() and not issubclass(
        getattr(importlib.import_module(f"torch_ref.{name.split('.')[0]}"), name.split(".")[1]), BaseException)]
    assert all(isinstance(TORCH_REF_ROWS[name], list) for name in constructors if "validation" not in name)


TORCH_REF_BAD = [row for rows in TORCH_REF_ROWS.values() if isinstance(rows, list) for row in rows]


ALL_ROWS = ROWS + CONCEPT_ROWS + TORCH_REF_BAD + HARNESS_ROWS


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
    assert len(CONCEPT_ROWS) >= 100
