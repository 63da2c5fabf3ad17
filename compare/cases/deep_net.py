"""L-layer networks: scratch's per-layer forward/backward with caches against ``DeepNet`` + autograd.

The problem builder, parameter map and the two trainers are the shared ones of
:mod:`compare.cases.networks`. The registered variants cover depths 2, 4 and 8, each hidden activation,
a 512-wide layer and two real or course datasets, all with ``SGD`` for 200 steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import scratch.deep_net as dn
import torch_ref.deep_net as tdn
from compare.cases.networks import (
    ScratchDeepNet,
    TorchDeepNet,
    breast_cancer_train,
    check_gradients,
    deep_problem,
    training_stages,
)
from compare.core.problem import Problem
from compare.core.registry import Case, register
from compare.data import datasets

EQUATIONS = (
    r"Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}, \qquad A^{[l]} = g(Z^{[l]}) \quad (l < L), "
    r"\qquad A^{[L]} = \sigma(Z^{[L]})",
    r"J = -\frac{1}{m}\sum_{i=1}^{m} \left[ y^{(i)}\log a^{[L](i)} + (1 - y^{(i)})\log(1 - a^{[L](i)}) \right]",
    r"dZ^{[L]} = A^{[L]} - Y, \qquad dZ^{[l]} = dA^{[l]} \odot g'(Z^{[l]})",
    r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}, \quad db^{[l]} = \frac{1}{m}\sum_i dZ^{[l](i)}, "
    r"\quad dA^{[l-1]} = W^{[l]T} dZ^{[l]}",
    r"W^{[l]} := W^{[l]} - \alpha\, dW^{[l]}, \qquad b^{[l]} := b^{[l]} - \alpha\, db^{[l]}",
)
NOTES = (
    "torch uses nn.BCEWithLogitsLoss on the logits; the scratch side evaluates the same "
    "(1 - y) z - log_sigmoid(z) and backpropagates dZ[L] = A[L] - Y, the course's dA[L] times sigma'(Z[L]) "
    "simplified, so neither side divides by a saturated A[L]. The course carries dA and dZ for the summed "
    "loss and divides by m in dW and db; autograd carries the 1/m of the mean from the logits down. Same "
    "numbers up to rounding. ReLU'(0) = 0 and leaky ReLU'(0) = 0.01 on both sides; the input gradient dA0 "
    "is not computed (torch skips it too). Biases are (n, 1) columns in scratch and (n,) vectors in torch."
)


STAGES = training_stages(
    forward=(dn.linear_forward, dn.linear_activation_forward, dn.L_model_logits),
    cost=(dn.cost_from_logits,),
    backward=(dn.linear_backward, dn.linear_activation_backward, dn.L_model_backward),
    update=(dn.update_parameters,),
    torch_model=(tdn.DeepNet,),
    torch_training=(tdn.make_training,),
)
#: The variant the concept's notebook runs: the lectures' L-layer ReLU network, small enough to run in seconds.
NOTEBOOK_VARIANT = "relu_depth4"


def _register(variant: str, summary: str, make_problem: Callable[[int, np.dtype], Problem]) -> None:
    register(Case(
        concept="deep_net",
        variant=variant,
        summary=summary,
        make_problem=make_problem,
        scratch=ScratchDeepNet,
        torch=TorchDeepNet,
        gradient_check=check_gradients,
        equations=EQUATIONS,
        notes=NOTES,
        scratch_source=(dn.linear_forward, dn.linear_activation_forward, dn.L_model_forward, dn.linear_backward,
                        dn.linear_activation_backward, dn.L_model_backward, dn.loss_and_grads,
                        dn.update_parameters),
        torch_source=(tdn.DeepNet, tdn.make_training, tdn.train_step),
        stages=STAGES,
        notebook=variant == NOTEBOOK_VARIANT,
    ))


def _blobs_variant(activation: str, depth: int, width: int = 16, m: int = 128, n_x: int = 8,
                   learning_rate: float = 0.1) -> None:
    dims = [n_x] + [width] * (depth - 1) + [1]
    init = "he" if activation in ("relu", "leaky_relu") else "xavier"

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return deep_problem(seed, dtype, layer_dims=dims, m=m, hidden_activation=activation, init=init,
                            learning_rate=learning_rate)

    _register(f"{activation}_depth{depth}" + (f"_width{width}" if width != 16 else ""),
              f"L={depth} {dims} {activation} hidden, {init} init, SGD on {m} x {n_x} blobs", make_problem)


for _activation in dn.HIDDEN_ACTIVATIONS:
    _blobs_variant(_activation, 4)
_blobs_variant("relu", 2)
_blobs_variant("relu", 8)
_blobs_variant("tanh", 8)
_blobs_variant("relu", 2, width=512, m=64)


def _breast_cancer_problem(seed: int, dtype: np.dtype) -> Problem:
    return deep_problem(seed, dtype, layer_dims=[30, 16, 8, 1], dataset=breast_cancer_train(seed),
                        hidden_activation="relu", init="he", learning_rate=0.1)


def _flower_problem(seed: int, dtype: np.dtype) -> Problem:
    return deep_problem(seed, dtype, layer_dims=[2, 8, 8, 1], dataset=datasets.planar_flower(m=400, seed=seed),
                        hidden_activation="tanh", init="xavier", learning_rate=0.5)


def _kinks_problem(seed: int, dtype: np.dtype) -> Problem:
    """Blobs in which every other class-0 example is blank (all features 0, like a row of sparse data with
    no active feature), ReLU [8, 16, 16, 1], He weights and the initialization's zero biases.

    A blank example gives ``Z = W 0 + 0 = 0`` exactly in every hidden layer on the first step, so ReLU's
    derivative *at its kink* decides ``dZ`` there (and so ``db``). The other variants never hit ``Z = 0``
    exactly (continuous data, continuous weights); this one checks ReLU'(0) = 0 against torch and is what
    catches a ``z >= 0`` derivative (tests/test_mutants.py). The blanks share one label on purpose: all
    blanks have the same activations and output 1/2, so their ``dZ[L] = 1/2 - y`` would cancel in ``db``
    if the labels were balanced. After the first update the biases move and the kinks are left behind.
    """
    blobs = datasets.make_blobs(m=128, n_x=8, seed=seed)
    X = blobs.X.copy()
    negatives = np.flatnonzero(blobs.Y[0] == 0)
    X[:, negatives[::2]] = 0.0
    return deep_problem(seed, dtype, layer_dims=[8, 16, 16, 1], dataset=datasets.Dataset("blobs, blank rows", X,
                        blobs.Y), hidden_activation="relu", init="he", learning_rate=0.1)


_register("relu_kinks", "L=3 [8, 16, 16, 1] relu on blobs with blank examples: Z = 0 exactly (ReLU'(0) = 0), SGD",
          _kinks_problem)
_register("breast_cancer", "L=3 [30, 16, 8, 1] relu, he init, SGD on breast cancer (455 x 30, standardized)",
          _breast_cancer_problem)
_register("planar_flower", "L=3 [2, 8, 8, 1] tanh, xavier init, SGD on the planar flower (400 x 2)",
          _flower_problem)
