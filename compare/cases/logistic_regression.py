"""Logistic regression: the lectures' loop and vectorized versions against nn.Linear + BCEWithLogitsLoss.

Variants: ``vectorized`` on the real breast-cancer set (standardized, 80% training split),
``loop`` (explicit per-example and per-feature loops) on a small generated set, since it is slow.
Parameters are drawn from ``N(0, 0.01^2)`` per seed rather than the course's zeros, so different seeds
exercise different trajectories (zeros are a valid start for this one-unit model).
"""

from __future__ import annotations

import numpy as np
import torch

import scratch.logistic_regression as lr
import torch_ref.logistic_regression as tlr
from compare.core.devices import to_torch, torch_dtype
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, register
from compare.core.trainers import ParamMap, TorchTrainer, load_parameters
from compare.data import datasets
from scratch.gradient_check import gradient_check_n

LEARNING_RATE = 0.1


def _problem(data: datasets.Dataset, seed: int, dtype: np.dtype) -> Problem:
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((data.n_x, 1)) * 0.01).astype(dtype)
    b = np.asarray(rng.standard_normal() * 0.01, dtype=dtype)
    return Problem(seed, dtype, {"X": data.X.astype(dtype), "Y": data.Y.astype(dtype)}, {"w": w, "b": b},
                   {"learning_rate": LEARNING_RATE})


def breast_cancer_problem(seed: int, dtype: np.dtype) -> Problem:
    train, _ = datasets.train_test_split(datasets.breast_cancer(), seed=seed)
    (train,) = datasets.standardize(train)
    return _problem(train, seed, dtype)


def blobs_problem(seed: int, dtype: np.dtype) -> Problem:
    return _problem(datasets.make_blobs(m=64, n_x=4, seed=seed), seed, dtype)


class ScratchLogisticRegression:
    """Batch gradient descent with :func:`scratch.logistic_regression.propagate` (or its loop twin)."""

    def __init__(self, problem: Problem, *, loop: bool = False):
        self.X, self.Y = problem.data["X"], problem.data["Y"]
        params = problem.fresh_params()
        self.w, self.b = params["w"], params["b"][()]
        self.learning_rate = problem.hyper["learning_rate"]
        self.loop = loop
        lr.propagate(self.w, self.b, self.X, self.Y)  # validates the inputs once, outside the hot loop
        self.grads: dict[str, np.ndarray] = {}
        self.cost = np.nan

    def step(self) -> None:
        if self.loop:
            self.grads, self.cost = lr.propagate_loop(self.w, self.b, self.X, self.Y)
        else:
            self.grads, self.cost = lr.propagate(self.w, self.b, self.X, self.Y, check=False)
        self.w, self.b = lr.update(self.w, self.b, self.grads, self.learning_rate)

    def observe(self) -> Observation:
        return Observation(float(self.cost), {
            "grad.w": self.grads["dw"], "grad.b": np.asarray(self.grads["db"]),
            "param.w": self.w, "param.b": np.asarray(self.b),
        })


def torch_trainer(problem: Problem, device: torch.device) -> TorchTrainer:
    n_x = problem.data["X"].shape[0]
    model = tlr.LogisticRegression(n_x, dtype=torch_dtype(problem.dtype), device=device)
    mapping = [
        ParamMap("w", model.linear.weight, to_scratch=np.transpose, from_scratch=np.transpose),
        ParamMap("b", model.linear.bias, to_scratch=lambda a: a.reshape(()), from_scratch=lambda a: a.reshape(1)),
    ]
    load_parameters(mapping, problem.params)
    loss_fn, optimizer = tlr.make_training(model, learning_rate=problem.hyper["learning_rate"])
    x = to_torch(problem.data["X"], device, transpose=True)
    y = to_torch(problem.data["Y"], device, transpose=True)
    return TorchTrainer(model, loss_fn, optimizer, x, y, mapping)


def check_gradients(problem: Problem) -> float:
    """Course relative error of ``propagate``'s gradients at the initial parameters (float64)."""
    X, Y = problem.data["X"].astype(np.float64), problem.data["Y"].astype(np.float64)
    params = {k: v.astype(np.float64) for k, v in problem.params.items()}
    grads, _ = lr.propagate(params["w"], params["b"][()], X, Y)

    def cost(p: dict[str, np.ndarray]) -> float:
        return float(lr.cost_from_logits(p["w"].T @ X + p["b"], Y))

    return gradient_check_n(cost, params, {"dw": grads["dw"], "db": np.asarray(grads["db"])})


EQUATIONS = (
    r"Z = w^{T}X + b \quad (1, m), \qquad A = \sigma(Z)",
    r"J = -\frac{1}{m}\sum_{i=1}^{m} y^{(i)}\log a^{(i)} + (1 - y^{(i)})\log(1 - a^{(i)})",
    r"dZ = A - Y, \qquad dw = \frac{1}{m} X\, dZ^{T} \quad (n_x, 1), \qquad db = \frac{1}{m}\sum_i dZ^{(i)}",
    r"w := w - \alpha\, dw, \qquad b := b - \alpha\, db",
)
NOTES = (
    "The course writes w as a column (n_x, 1) and computes w^T X; nn.Linear stores weight as a row (1, n_x), "
    "so this is the one concept whose parameter is transposed by the harness. Both sides evaluate the cost "
    "from the logits, (1 - y) z - log_sigmoid(z), the form BCEWithLogitsLoss uses: it equals the course's "
    "formula exactly in real arithmetic but never takes log(0)."
)
COMMON = dict(
    concept="logistic_regression",
    torch=torch_trainer,
    gradient_check=check_gradients,
    equations=EQUATIONS,
    notes=NOTES,
    torch_source=(tlr.LogisticRegression, tlr.make_training, tlr.train_step),
)

register(Case(
    variant="vectorized",
    summary="vectorized numpy vs nn.Linear + BCEWithLogitsLoss + SGD on breast cancer (455 x 30)",
    make_problem=breast_cancer_problem,
    scratch=ScratchLogisticRegression,
    scratch_source=(lr.propagate, lr.cost_from_logits, lr.update),
    **COMMON,
))
register(Case(
    variant="loop",
    summary="explicit for-loops over examples and features vs torch, on 64 x 4 blobs",
    make_problem=blobs_problem,
    scratch=lambda problem: ScratchLogisticRegression(problem, loop=True),
    scratch_source=(lr.propagate_loop,),
    **COMMON,
))
