"""Logistic regression shared by the cases that train it (logistic_regression, augmentation, normalization,
autodiff): the problem builder, the two trainers and the gradient check.

Parameters are drawn from ``N(0, 0.01^2)`` per seed rather than the course's zeros, so different seeds
exercise different trajectories (zeros are a valid start for this one-unit model).
"""

from __future__ import annotations

import numpy as np
import torch

import scratch.logistic_regression as lr
import torch_ref.logistic_regression as tlr
from compare.core.devices import to_torch, torch_dtype
from compare.core.problem import Problem, initial_parameters_rng
from compare.core.trainers import ParamMap, ScratchTrainer, TorchTrainer, load_parameters
from compare.data import datasets
from scratch.gradient_check import gradient_check_n

LEARNING_RATE = 0.1


def logistic_problem(data: datasets.Dataset, seed: int, dtype: np.dtype) -> Problem:
    """``data`` in ``dtype`` and ``w`` ``(n_x, 1)``, ``b`` (a 0-d array) drawn from ``N(0, 0.01^2)``."""
    rng = initial_parameters_rng(seed)
    w = (rng.standard_normal((data.n_x, 1)) * 0.01).astype(dtype)
    b = np.asarray(rng.standard_normal() * 0.01, dtype=dtype)
    return Problem(seed, dtype, {"X": data.X.astype(dtype), "Y": data.Y.astype(dtype)}, {"w": w, "b": b},
                   {"learning_rate": LEARNING_RATE})


def breast_cancer_problem(seed: int, dtype: np.dtype) -> Problem:
    """Breast cancer's 80% training split (455 x 30), standardized."""
    train, _ = datasets.train_test_split(datasets.breast_cancer(), seed=seed)
    (train,) = datasets.standardize(train)
    return logistic_problem(train, seed, dtype)


class ScratchLogisticRegression(ScratchTrainer):
    """Batch gradient descent with :func:`scratch.logistic_regression.propagate` (or its loop twin)."""

    def __init__(self, problem: Problem, *, loop: bool = False):
        super().__init__(problem)
        self.X, self.Y = problem.data["X"], problem.data["Y"]
        self.params["b"] = self.params["b"][()]  # the course's b is a scalar
        self.learning_rate = problem.hyper["learning_rate"]
        self.loop = loop
        lr.propagate(self.params["w"], self.params["b"], self.X, self.Y)  # validates the inputs once

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        w, b = self.params["w"], self.params["b"]
        if self.loop:
            grads, cost = lr.propagate_loop(w, b, self.X, self.Y)
        else:
            grads, cost = lr.propagate(w, b, self.X, self.Y, check=False)
        return cost, grads

    def update(self) -> None:
        self.params["w"], self.params["b"] = lr.update(self.params["w"], self.params["b"], self.grads,
                                                       self.learning_rate)


def logistic_param_map(model: tlr.LogisticRegression) -> list[ParamMap]:
    """``w`` ``(n_x, 1)`` is ``linear.weight`` ``(1, n_x)`` transposed; ``b`` (0-d) is ``linear.bias`` ``(1,)``."""
    return [
        ParamMap("w", model.linear.weight, to_scratch=np.transpose, from_scratch=np.transpose),
        ParamMap("b", model.linear.bias, to_scratch=lambda a: a.reshape(()), from_scratch=lambda a: a.reshape(1)),
    ]


def torch_logistic_regression(problem: Problem, device: torch.device) -> TorchTrainer:
    """``nn.Linear(n_x, 1)`` + ``BCEWithLogitsLoss`` + ``SGD``, holding the problem's initial parameters."""
    n_x = problem.data["X"].shape[0]
    model = tlr.LogisticRegression(n_x, dtype=torch_dtype(problem.dtype), device=device)
    mapping = logistic_param_map(model)
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
