"""Logistic regression: the lectures' loop and vectorized versions against nn.Linear + BCEWithLogitsLoss.

Variants: ``vectorized`` on the real breast-cancer set (standardized, 80% training split),
``loop`` (explicit per-example and per-feature loops) on a small generated set, since it is slow.
Problem, trainers and gradient check are the shared ones of :mod:`compare.cases.logistic`.
"""

from __future__ import annotations

import numpy as np

import scratch.logistic_regression as lr
import torch_ref.logistic_regression as tlr
from compare.cases.logistic import (
    ScratchLogisticRegression,
    breast_cancer_problem,
    check_gradients,
    logistic_problem,
    torch_logistic_regression,
)
from compare.cases.networks import training_stages
from compare.core.problem import Problem
from compare.core.registry import Case, Excerpt, register
from compare.data import datasets


def blobs_problem(seed: int, dtype: np.dtype) -> Problem:
    return logistic_problem(datasets.make_blobs(m=64, n_x=4, seed=seed), seed, dtype)


EQUATIONS = (
    r"Z = w^{T}X + b \quad (1, m), \qquad A = \sigma(Z)",
    r"J = -\frac{1}{m}\sum_{i=1}^{m} \left[ y^{(i)}\log a^{(i)} + (1 - y^{(i)})\log(1 - a^{(i)}) \right]",
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
    torch=torch_logistic_regression,
    gradient_check=check_gradients,
    equations=EQUATIONS,
    notes=NOTES,
    torch_source=(tlr.LogisticRegression, tlr.make_training, tlr.train_step),
)

STAGES = training_stages(
    forward=(Excerpt(lr.propagate, ("Z = w.T @ X + b", "A = sigmoid(Z)")),),
    cost=(lr.log_sigmoid, lr.cost_from_logits),
    backward=(Excerpt(lr.propagate, ("dZ = A - Y", 'grads = {"dw"')),),
    update=(lr.update,),
    torch_model=(tlr.LogisticRegression,),
    torch_training=(tlr.make_training,),
)

register(Case(
    variant="vectorized",
    summary="vectorized scratch vs nn.Linear + BCEWithLogitsLoss + SGD on breast cancer (455 x 30)",
    make_problem=breast_cancer_problem,
    scratch=ScratchLogisticRegression,
    scratch_source=(lr.propagate, lr.cost_from_logits, lr.update),
    stages=STAGES,
    notebook=True,
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
