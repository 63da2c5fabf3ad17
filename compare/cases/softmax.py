"""Multiclass softmax output: scratch.softmax against ``DeepNet`` (K logits) + ``nn.CrossEntropyLoss``.

Variants on scikit-learn's digits (10 classes, 8x8 pixels, standardized 80% training split of 1438
examples): ``digits`` ``[64, 32, 10]`` and ``digits_depth3`` ``[64, 32, 16, 10]``, tanh hidden units,
Xavier init, SGD for 200 full-batch steps; and ``large_logits``, a one-layer ``[64, 10]`` softmax
regression on 256 digits whose Xavier weights are scaled by ``LOGIT_SCALE``, so the logits reach several
thousand (``exp`` overflows float64 above 709.8, float32 above 88.7) and the predictions are saturated:
both sides must stay finite and agree, which only the max shift achieves (a softmax without it returns
inf/inf = NaN, which the harness reports as a divergence at step 0, tests/test_mutants.py). The labels are integer
class indices on both sides (``(1, m)`` int64 in scratch, ``(m,)`` long for torch), never one-hot in the
problem.

Why no ReLU variant is registered here: in float32, a ReLU pre-activation that lands within rounding of
0 can fall on different sides of the kink in the two implementations (their float32 parameters differ
by ~1 ulp after some steps). Measured on ``[64, 32, 10]`` relu, He init, seed 0: at step 182 one of the
46,016 pre-activations was +7.5e-8 in scratch and -1.6e-7 in torch, and that step's ``db1`` differed by
4e-3 relative (``W1`` gradient 5e-2) -- a kink crossing, not a formula difference. float64 stays at
1e-15 (tests/test_softmax.py runs the relu network in float64). The smooth tanh keeps the float32
comparison meaningful.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import scratch.deep_net as dn
import scratch.softmax as sm
import torch_ref.softmax as tsm
from compare.cases.networks import (
    ScratchDeepNet,
    build_torch_model,
    check_logit_model_gradients,
    deep_problem,
    hidden_preactivations,
    training_stages,
)
from compare.core.devices import to_torch
from compare.core.problem import Problem
from compare.core.registry import Case, register
from compare.core.trainers import TorchTrainer
from compare.data import datasets

#: Examples used by the gradient check (two cost evaluations per parameter: a subset keeps it fast).
GRADIENT_CHECK_EXAMPLES = 100
#: ``large_logits``: the factor on the Xavier weights that puts the logits at several thousand.
LOGIT_SCALE = 500.0


def digits_split(seed: int) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Digits (10 classes) split 80/20 with ``seed``, standardized with the training statistics."""
    train, test = datasets.train_test_split(datasets.digits(), seed=seed)
    return tuple(datasets.standardize(train, test))


def softmax_problem(seed: int, dtype: np.dtype, dataset: datasets.Dataset, *, layer_dims: list[int],
                    hidden_activation: str, init: str, learning_rate: float) -> Problem:
    """Like :func:`compare.cases.networks.deep_problem` with ``n_L = K`` and integer labels ``Y`` ``(1, m)``."""
    if layer_dims[-1] != dataset.n_classes:
        raise ValueError(f"layer_dims[-1] must equal the dataset's {dataset.n_classes} classes, got {layer_dims[-1]}")
    problem = deep_problem(seed, dtype, layer_dims=layer_dims, dataset=dataset, hidden_activation=hidden_activation,
                           init=init, learning_rate=learning_rate)
    problem.data["Y"] = dataset.Y.astype(np.int64)
    problem.hyper["n_classes"] = dataset.n_classes
    return problem


def large_logits_problem(seed: int, dtype: np.dtype) -> Problem:
    """Digits (first 256 training examples), ``[64, 10]``, Xavier weights times ``LOGIT_SCALE``: logits ~4e3."""
    train = digits_split(seed)[0].subset(np.arange(256))
    problem = softmax_problem(seed, dtype, train, layer_dims=[64, 10], hidden_activation="tanh", init="xavier",
                              learning_rate=0.01)
    problem.params["W1"] *= np.asarray(LOGIT_SCALE, dtype=dtype)
    return problem


class ScratchSoftmaxNet(ScratchDeepNet):
    """Full-batch gradient descent on :mod:`scratch.softmax`'s network; ``Y`` holds integer labels ``(1, m)``."""

    def check_inputs(self) -> None:
        sm.check_inputs(self.X, self.params, self.hidden_activation, self.Y)

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        ZL, caches = dn.L_model_logits(self.X, self.params, hidden_activation=self.hidden_activation, check=False)
        self.capture_preactivations(lambda: hidden_preactivations(caches))
        return sm.cost_and_grads_from_logits(ZL, self.Y, caches, hidden_activation=self.hidden_activation)


class TorchSoftmaxNet(TorchTrainer):
    """``DeepNet`` with K outputs + ``CrossEntropyLoss`` on integer targets ``(m,)`` + ``SGD``."""

    def __init__(self, problem: Problem, device: torch.device):
        model, mapping = build_torch_model(problem, device)
        loss_fn, optimizer = tsm.make_training(model, learning_rate=problem.hyper["learning_rate"])
        x = to_torch(problem.data["X"], device, transpose=True)
        y = torch.from_numpy(problem.data["Y"].reshape(-1)).to(device)
        super().__init__(model, loss_fn, optimizer, x, y, mapping)


def check_gradients(problem: Problem) -> float:
    """Course relative error of the scratch backward on the first 100 examples (float64, random biases)."""
    X = problem.data["X"][:, :GRADIENT_CHECK_EXAMPLES].astype(np.float64)
    labels = problem.data["Y"][:, :GRADIENT_CHECK_EXAMPLES]
    return check_logit_model_gradients(problem, X, labels, sm.loss_and_grads, sm.cross_entropy_from_logits)


EQUATIONS = (
    r"\mathrm{softmax}(z)_k = \frac{e^{z_k - c}}{\sum_j e^{z_j - c}}, \qquad c = \max_j z_j",
    r"J = -\frac{1}{m}\sum_{i=1}^{m} \log \mathrm{softmax}(z^{[L](i)})_{y^{(i)}}, \qquad "
    r"\log \mathrm{softmax}(z)_k = z_k - c - \log \sum_j e^{z_j - c}",
    r"dZ^{[L]} = \mathrm{softmax}(Z^{[L]}) - Y_{\text{one-hot}}, \qquad dZ^{[l]} = dA^{[l]} \odot g'(Z^{[l]})",
)
NOTES = (
    "torch's nn.CrossEntropyLoss takes the logits and integer targets and computes nll_loss(log_softmax(z)) "
    "with the same max shift; the scratch side evaluates the same log-softmax form (never log(softmax)). "
    "Backward: torch differentiates log_softmax as g - exp(log_softmax) sum(g); scratch uses the fused "
    "dZ[L] = softmax - one_hot (for the summed loss, 1/m in dW and db). Same numbers up to rounding. "
    "The gradient check uses the first 100 training examples to keep it fast."
)


STAGES = training_stages(
    forward=(dn.L_model_logits, sm.softmax),
    cost=(sm.log_softmax, sm.cross_entropy_from_logits),
    backward=(sm.cost_and_grads_from_logits, dn.L_model_backward),
    update=(dn.update_parameters,),
    torch_model=(tsm.DeepNet,),
    torch_training=(tsm.make_training,),
)


def _register(variant: str, summary: str, make_problem: Callable[[int, np.dtype], Problem], notes: str = NOTES
              ) -> None:
    register(Case(
        concept="softmax",
        variant=variant,
        summary=summary,
        make_problem=make_problem,
        scratch=ScratchSoftmaxNet,
        torch=TorchSoftmaxNet,
        gradient_check=check_gradients,
        equations=EQUATIONS,
        notes=notes,
        scratch_source=(sm.softmax, sm.log_softmax, sm.cross_entropy_from_logits, sm.loss_and_grads,
                        dn.L_model_backward),
        torch_source=(tsm.DeepNet, tsm.make_training, tsm.predict),
        stages=STAGES,
        notebook=variant == "digits",
    ))


def _digits(layer_dims: list[int], hidden_activation: str, init: str, learning_rate: float
            ) -> Callable[[int, np.dtype], Problem]:
    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        return softmax_problem(seed, dtype, digits_split(seed)[0], layer_dims=layer_dims,
                               hidden_activation=hidden_activation, init=init, learning_rate=learning_rate)

    return make_problem


_register("digits", "[64, 32, 10] tanh, xavier init, softmax + cross-entropy, SGD lr 0.1 on digits (1438 x 64)",
          _digits([64, 32, 10], "tanh", "xavier", 0.1))
_register("digits_depth3",
          "[64, 32, 16, 10] tanh, xavier init, softmax + cross-entropy, SGD lr 0.1 on digits (1438 x 64)",
          _digits([64, 32, 16, 10], "tanh", "xavier", 0.1))
_register("large_logits",
          f"[64, 10] softmax regression, Xavier x {LOGIT_SCALE:g}: logits up to ~4e3 where exp overflows, 256 digits",
          large_logits_problem,
          NOTES + " Here the logits reach ~4e3: without the shift exp(z) would overflow to inf on either side.")
