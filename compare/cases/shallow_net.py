"""One hidden layer: the course's tanh network (scratch.shallow_net) against ``ShallowNet`` + autograd.

Variants: ``planar_flower`` is the course's setting (400 flower points, 4 tanh units, small random
start, learning rate 1.2); ``planar_flower_nh50`` a wide hidden layer (the course's hidden-size study);
``breast_cancer`` a real data set (standardized 80% training split, 8 units, Xavier start).
Data, initial weights and the parameter map come from :mod:`compare.cases.networks`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import scratch.shallow_net as sn
import torch_ref.shallow_net as tsn
from compare.cases.networks import (
    ScratchDeepNet,
    breast_cancer_train,
    deep_param_map,
    deep_problem,
    gradient_check_point,
    training_stages,
)
from compare.core.devices import to_torch, torch_dtype
from compare.core.problem import Problem
from compare.core.registry import Case, Excerpt, register
from compare.core.trainers import TorchTrainer, load_parameters
from compare.data import datasets
from scratch.gradient_check import gradient_check_n

COURSE_LEARNING_RATE = 1.2


def shallow_problem(seed: int, dtype: np.dtype, dataset: datasets.Dataset, *, n_h: int, init: str = "small",
                    learning_rate: float = COURSE_LEARNING_RATE) -> Problem:
    """``[n_x, n_h, 1]`` tanh network on ``dataset``; see :func:`compare.cases.networks.deep_problem`."""
    return deep_problem(seed, dtype, layer_dims=[dataset.n_x, n_h, 1], dataset=dataset, hidden_activation="tanh",
                        init=init, learning_rate=learning_rate)


class ScratchShallowNet(ScratchDeepNet):
    """Full-batch gradient descent with :func:`scratch.shallow_net.loss_and_grads` (the course's backward)."""

    def check_inputs(self) -> None:
        super().check_inputs()
        sn.check_inputs(self.X, self.params, self.Y)

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        return sn.loss_and_grads(self.params, self.X, self.Y, check=False)

    def update(self) -> None:
        sn.update_parameters(self.params, self.grads, self.learning_rate)


class TorchShallowNet(TorchTrainer):
    """``ShallowNet`` + ``BCEWithLogitsLoss`` + ``SGD``, holding the problem's initial parameters."""

    def __init__(self, problem: Problem, device: torch.device):
        n_x, n_h, n_y = problem.hyper["layer_dims"]
        model = tsn.ShallowNet(n_x, n_h, n_y, dtype=torch_dtype(problem.dtype), device=device)
        mapping = deep_param_map(model)
        load_parameters(mapping, problem.params)
        loss_fn, optimizer = tsn.make_training(model, learning_rate=problem.hyper["learning_rate"])
        x = to_torch(problem.data["X"], device, transpose=True)
        y = to_torch(problem.data["Y"], device, transpose=True)
        super().__init__(model, loss_fn, optimizer, x, y, mapping)


def check_gradients(problem: Problem) -> float:
    """Course relative error of :func:`scratch.shallow_net.backward_propagation` (float64, random biases)."""
    X, Y = problem.data["X"].astype(np.float64), problem.data["Y"].astype(np.float64)
    params = gradient_check_point(problem)
    _, grads = sn.loss_and_grads(params, X, Y)

    def cost(point: dict[str, np.ndarray]) -> float:
        A2, _ = sn.forward_propagation(X, point, check=False)
        return sn.compute_cost(A2, Y)

    return gradient_check_n(cost, params, grads)


EQUATIONS = (
    r"Z^{[1]} = W^{[1]} X + b^{[1]}, \quad A^{[1]} = \tanh(Z^{[1]}), \quad Z^{[2]} = W^{[2]} A^{[1]} + b^{[2]},"
    r" \quad A^{[2]} = \sigma(Z^{[2]})",
    r"J = -\frac{1}{m}\sum_{i=1}^{m} \left[ y^{(i)}\log a^{[2](i)} + (1 - y^{(i)})\log(1 - a^{[2](i)}) \right]",
    r"dZ^{[2]} = A^{[2]} - Y, \quad dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}, \quad "
    r"db^{[2]} = \frac{1}{m}\sum_i dZ^{[2](i)}",
    r"dZ^{[1]} = W^{[2]T} dZ^{[2]} \odot (1 - A^{[1]2}), \quad dW^{[1]} = \frac{1}{m} dZ^{[1]} X^T, \quad "
    r"db^{[1]} = \frac{1}{m}\sum_i dZ^{[1](i)}",
)
NOTES = (
    "The course's backward uses tanh'(Z1) = 1 - A1^2 from the cached A1; torch's tanh backward uses the same "
    "output-based formula, so the two agree to rounding. torch evaluates nn.BCEWithLogitsLoss on the logits; "
    "the scratch training path evaluates the same (1 - y) z - log_sigmoid(z) (compute_cost keeps the course's "
    "probability interface, clamped like nn.BCELoss). The 1/m sits in dW and db on the scratch side and in the "
    "logits' gradient under autograd: same numbers up to rounding."
)


STAGES = training_stages(
    forward=(sn.forward_propagation,),
    cost=(Excerpt(sn.loss_and_grads, ("return cost_from_logits",)),),
    backward=(sn.backward_propagation,),
    update=(sn.update_parameters,),
    torch_model=(tsn.ShallowNet, tsn.DeepNet.forward),
    torch_training=(tsn.make_training,),
)


def _register(variant: str, summary: str, make_problem: Callable[[int, np.dtype], Problem]) -> None:
    register(Case(
        concept="shallow_net",
        variant=variant,
        summary=summary,
        make_problem=make_problem,
        scratch=ScratchShallowNet,
        torch=TorchShallowNet,
        gradient_check=check_gradients,
        equations=EQUATIONS,
        notes=NOTES,
        scratch_source=(sn.forward_propagation, sn.backward_propagation, sn.loss_and_grads, sn.update_parameters),
        torch_source=(tsn.ShallowNet, tsn.DeepNet, tsn.make_training),
        stages=STAGES,
        notebook=variant == "planar_flower",
    ))


def _flower(n_h: int) -> Callable[[int, np.dtype], Problem]:
    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return shallow_problem(seed, dtype, datasets.planar_flower(m=400, seed=seed), n_h=n_h)

    return make_problem


def _breast_cancer(seed: int, dtype: np.dtype) -> Problem:
    return shallow_problem(seed, dtype, breast_cancer_train(seed), n_h=8, init="xavier", learning_rate=0.5)


_register("planar_flower", "course setting: [2, 4, 1] tanh, small init, lr 1.2 on the planar flower (400 x 2)",
          _flower(4))
_register("planar_flower_nh50", "[2, 50, 1] tanh, small init, lr 1.2 on the planar flower (400 x 2)", _flower(50))
_register("breast_cancer", "[30, 8, 1] tanh, xavier init, lr 0.5 on breast cancer (455 x 30, standardized)",
          _breast_cancer)
