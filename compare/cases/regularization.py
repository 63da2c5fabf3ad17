"""Regularization on a deep network: L2 (penalty and SGD weight decay), L1, inverted dropout, early stopping.

Every variant trains the same ``[n_x, 16, 8, 1]`` network (He-initialized, ReLU hidden layers, sigmoid /
BCE output) by full-batch gradient descent on both sides from the same initial weights:

- ``l2_penalty``: the course's ``lambda / (2m) sum ||W||_F^2`` added to the loss on both sides.
- ``l2_weight_decay``: scratch as above; torch with the plain loss and ``SGD(weight_decay=lambda / m)`` on the
  weights. torch's ``.grad`` and loss then exclude the penalty, so the scratch side reports its data loss and
  data gradients too; the parameter trajectories are what prove the two updates are the same.
- ``l1_penalty``: ``lambda / m sum |W|`` with the subgradient ``sign(W)``.
- ``dropout``: inverted dropout (``keep_prob``) after every hidden activation. The torch side is a plain
  ``nn.Dropout(p = 1 - keep_prob)`` in train mode; forward hooks record the masks torch drew and ``couple``
  hands them to the scratch side, so both sides drop the same units and agree to rounding.
- ``early_stopping``: one step is one epoch; the dev loss is tracked with ``patience``; at the stop both
  sides restore the best epoch's parameters. The stop and best epochs are compared as ``state.stop.*``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import scratch.deep_net as deep_net
import scratch.regularization as reg
import torch_ref.regularization as treg
from compare.cases.networks import (
    PIECEWISE_LINEAR,
    TORCH_BACKWARD,
    TORCH_COST,
    TORCH_UPDATE,
    deep_param_map,
    hidden_preactivations,
)
from compare.core.devices import to_numpy, to_torch, torch_dtype
from compare.core.kinks import Preactivation
from compare.core.problem import Observation, Problem, initial_parameters_rng
from compare.core.registry import Case, Stage, register
from compare.core.trainers import (
    ParamMap,
    ScratchTrainer,
    TorchTrainer,
    load_parameters,
    observation,
    observe_parameters,
)
from compare.data import datasets
from compare.data.splits import train_dev_test_split
from scratch.gradient_check import gradient_check_n
from scratch.initialization import initialize_parameters
from torch_ref.deep_net import DeepNet

HIDDEN_ACTIVATION = "relu"


def _problem(seed: int, dtype: np.dtype, data: datasets.Dataset, layer_dims: list[int], **hyper) -> Problem:
    params = initialize_parameters(layer_dims, method="he", rng=initial_parameters_rng(seed), dtype=dtype)
    hyper = {"layer_dims": layer_dims, "hidden_activation": HIDDEN_ACTIVATION, **hyper}
    return Problem(seed, dtype, {"X": data.X.astype(dtype), "Y": data.Y.astype(dtype)}, params, hyper)


def moons_problem(seed: int, dtype: np.dtype, **hyper) -> Problem:
    """200 two-moons points (noise 0.25), network [2, 16, 8, 1], learning rate 0.3."""
    data = datasets.two_moons(200, seed=seed, noise=0.25)
    return _problem(seed, dtype, data, [2, 16, 8, 1], learning_rate=0.3, **hyper)


def early_stopping_problem(seed: int, dtype: np.dtype) -> Problem:
    """40 training examples of breast cancer (standardized) that a [30, 32, 16, 1] network soon overfits."""
    split = train_dev_test_split(datasets.breast_cancer(), (0.07, 0.23, 0.70), seed=seed, stratified=True)
    (train, dev) = datasets.standardize(split.train, split.dev)
    problem = _problem(seed, dtype, train, [30, 32, 16, 1], learning_rate=0.5, patience=10, min_delta=1e-6)
    problem.data.update(X_dev=dev.X.astype(dtype), Y_dev=dev.Y.astype(dtype))
    return problem


# --- scratch side -------------------------------------------------------------------------------------

class ScratchRegularized(ScratchTrainer):
    """Gradient descent on :mod:`scratch.deep_net` plus the regularizer named by ``problem.hyper``.

    The penalties are :mod:`scratch.regularization`'s (:func:`~scratch.regularization.add_penalties`),
    dropout its inverted dropout with the masks torch drew (``couple``). ``observe_data_term`` reports the
    unregularized loss and gradients (what torch's ``.grad`` holds when the decay lives in the optimizer)
    while the update still uses the regularized gradient.
    """

    def __init__(self, problem: Problem, *, observe_data_term: bool = False):
        super().__init__(problem)
        self.X, self.Y = problem.data["X"], problem.data["Y"]
        self.hyper = problem.hyper
        self.activation = problem.hyper["hidden_activation"]
        self.has_kinks = self.activation in PIECEWISE_LINEAR
        self.observe_data_term = observe_data_term
        self.rng = np.random.default_rng(problem.seed)  # dropout masks when run alone (timing)
        self.masks: dict[str, np.ndarray] | None = None
        self.total_grads: dict[str, np.ndarray] = {}

    def _forward(self) -> tuple[np.ndarray, list[deep_net.LayerCache], dict[str, np.ndarray] | None]:
        keep_prob = self.hyper.get("keep_prob")
        if keep_prob is None:
            ZL, caches = deep_net.L_model_logits(self.X, self.params, hidden_activation=self.activation)
            return ZL, caches, None
        masks = self.masks or reg.draw_dropout_masks(self.rng, self.hyper["layer_dims"], self.X.shape[1],
                                                     keep_prob, self.X.dtype)
        self.masks = None
        ZL, caches = reg.dropout_model_logits(self.params, self.X, masks, keep_prob=keep_prob,
                                              hidden_activation=self.activation)
        return ZL, caches, masks

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        ZL, caches, masks = self._forward()
        self.capture_preactivations(lambda: hidden_preactivations(caches))
        if masks is None:
            grads = deep_net.L_model_backward(deep_net.sigmoid(ZL), self.Y, caches, hidden_activation=self.activation)
        else:
            grads = reg.dropout_model_backward(deep_net.sigmoid(ZL) - self.Y, caches, masks,
                                               keep_prob=self.hyper["keep_prob"], hidden_activation=self.activation)
        cost = float(deep_net.cost_from_logits(ZL, self.Y))
        penalized_cost, self.total_grads = reg.add_penalties(cost, grads, self.params, self.X.shape[1],
                                                             l2=self.hyper.get("l2", 0.0), l1=self.hyper.get("l1", 0.0))
        if self.observe_data_term:
            return cost, grads
        return penalized_cost, self.total_grads

    def update(self) -> None:
        deep_net.update_parameters(self.params, self.total_grads, self.hyper["learning_rate"])


# --- torch side ---------------------------------------------------------------------------------------

def _torch_model(problem: Problem, device: torch.device) -> tuple[nn.Module, list[ParamMap]]:
    dtype = torch_dtype(problem.dtype)
    keep_prob = problem.hyper.get("keep_prob")
    if keep_prob is None:
        model = DeepNet(problem.hyper["layer_dims"], hidden_activation=problem.hyper["hidden_activation"],
                        dtype=dtype, device=device)
    else:
        model = treg.DropoutNet(problem.hyper["layer_dims"], keep_prob=keep_prob,
                                hidden_activation=problem.hyper["hidden_activation"], dtype=dtype, device=device)
    mapping = deep_param_map(model)
    load_parameters(mapping, problem.params)
    return model.train(), mapping


def torch_penalized(problem: Problem, device: torch.device) -> TorchTrainer:
    """``BCEWithLogitsLoss + penalty`` (L2 and/or L1 from ``problem.hyper``) and plain SGD."""
    model, mapping = _torch_model(problem, device)
    m = problem.data["X"].shape[1]
    loss_fn = treg.PenalizedLoss(model, m=m, l2=problem.hyper.get("l2", 0.0), l1=problem.hyper.get("l1", 0.0))
    optimizer = torch.optim.SGD(model.parameters(), lr=problem.hyper["learning_rate"])
    x, y = (to_torch(problem.data[k], device, transpose=True) for k in ("X", "Y"))
    return TorchTrainer(model, loss_fn, optimizer, x, y, mapping)


def torch_weight_decay(problem: Problem, device: torch.device) -> TorchTrainer:
    """Plain ``BCEWithLogitsLoss``; ``SGD`` with ``weight_decay = lambda / m`` on the weights only."""
    model, mapping = _torch_model(problem, device)
    m = problem.data["X"].shape[1]
    groups = treg.decay_groups(model, problem.hyper["l2"] / m)
    optimizer = torch.optim.SGD(groups, lr=problem.hyper["learning_rate"])
    x, y = (to_torch(problem.data[k], device, transpose=True) for k in ("X", "Y"))
    return TorchTrainer(model, nn.BCEWithLogitsLoss(), optimizer, x, y, mapping)


class TorchDropout(TorchTrainer):
    """:func:`torch_penalized` on a :class:`DropoutNet`, with forward hooks that keep the masks drawn."""

    def __init__(self, problem: Problem, device: torch.device):
        # nn.Dropout draws from torch's global generator (it takes none of its own); seeding it here makes
        # a run repeatable, bit for bit, whatever ran before it in the process.
        torch.manual_seed(problem.seed)
        inner = torch_penalized(problem, device)
        super().__init__(inner.model, inner.loss_fn, inner.optimizer, inner.x, inner.y, inner.mapping)
        self.nonzero_out: dict[str, torch.Tensor] = {}
        self.nonzero_grad: dict[str, torch.Tensor] = {}
        for index, dropout in enumerate(self.model.dropouts, start=1):
            dropout.register_forward_hook(self._recorder(f"D{index}"))
            dropout.register_full_backward_hook(self._grad_recorder(f"D{index}"))

    # nn.Dropout computes out = input * mask / keep_prob and grad_input = grad_output * mask / keep_prob, and
    # shows its mask in neither. A unit was kept if its output is non-zero, or if a non-zero gradient passed
    # back through it. Where both are zero the mask is irrelevant: the forward value is 0 either way and so
    # is the gradient through the unit. The forward alone is not enough: an input of exactly 0 (tanh(0) when
    # the layer below was all dropped and b = 0) hides the mask while tanh'(0) = 1 still passes a gradient.
    def _recorder(self, name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
            self.nonzero_out[name] = output.detach() != 0
            self.nonzero_grad.pop(name, None)  # the backward of this forward pass has not run yet
        return hook

    def _grad_recorder(self, name: str):
        def hook(module: nn.Module, grad_input: tuple[torch.Tensor | None, ...],
                 grad_output: tuple[torch.Tensor | None, ...]) -> None:
            if grad_input[0] is not None:
                self.nonzero_grad[name] = grad_input[0].detach() != 0
        return hook

    def masks(self, dtype: np.dtype) -> dict[str, np.ndarray]:
        """The masks of the last training step in scratch's layout ``(n_l, m)``."""
        masks = {}
        for name, kept in self.nonzero_out.items():
            if name in self.nonzero_grad:
                kept = kept | self.nonzero_grad[name]
            masks[name] = to_numpy(kept).T.astype(dtype)
        return masks


def hand_masks_to_scratch(scratch_side: ScratchRegularized, torch_side: TorchDropout) -> None:
    scratch_side.masks = torch_side.masks(scratch_side.X.dtype)


# --- early stopping -----------------------------------------------------------------------------------

class ScratchEarlyStopping(ScratchRegularized):
    """One epoch of GD per step; :class:`scratch.regularization.EarlyStopping` on the dev loss."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.X_dev, self.Y_dev = problem.data["X_dev"], problem.data["Y_dev"]
        self.stopper = reg.EarlyStopping(patience=problem.hyper["patience"], min_delta=problem.hyper["min_delta"])
        self.epoch = 0

    @property
    def finished(self) -> bool:
        """Stopped: ``step()`` does nothing more (the timing then renews the trainer: only real steps count)."""
        return self.stopper.stopped_epoch is not None

    def step(self) -> None:
        if self.stopper.stopped_epoch is not None:
            self.clear_preactivations()
            return
        super().step()
        dev_loss, _ = deep_net.loss_and_grads(self.params, self.X_dev, self.Y_dev,
                                              hidden_activation=self.hyper["hidden_activation"])
        self.dev_loss = float(dev_loss)
        if self.stopper.update(self.epoch, self.dev_loss, self.params):
            self.params = {k: v.copy() for k, v in self.stopper.best_params.items()}
        self.epoch += 1

    def observe(self) -> Observation:
        grads = {name: self.grads[f"d{name}"] for name in self.params}
        return observation(self.dev_loss, self.params, grads, stop_state(self.stopper))


def stop_state(stopper: reg.EarlyStopping | treg.EarlyStopping) -> dict[str, dict[str, np.ndarray]]:
    """The best and the stop epoch (-1 before the stop), observed as ``state.stop.*``."""
    stopped = -1 if stopper.stopped_epoch is None else stopper.stopped_epoch
    return {"stop": {"best_epoch": np.array(float(stopper.best_epoch)), "stopped_epoch": np.array(float(stopped))}}


class TorchEarlyStopping:
    """``train_step`` per epoch, dev loss under ``torch.no_grad``, :class:`torch_ref.regularization.EarlyStopping`."""

    def __init__(self, problem: Problem, device: torch.device):
        self.trainer = torch_penalized(problem, device)
        self.x_dev, self.y_dev = (to_torch(problem.data[k], device, transpose=True) for k in ("X_dev", "Y_dev"))
        self.stopper = treg.EarlyStopping(patience=problem.hyper["patience"], min_delta=problem.hyper["min_delta"])
        self.epoch = 0

    @property
    def finished(self) -> bool:
        """Stopped: ``step()`` does nothing more (the timing then renews the trainer: only real steps count)."""
        return self.stopper.stopped_epoch is not None

    def step(self) -> None:
        if self.stopper.stopped_epoch is not None:
            self.trainer.kinks.clear()
            return
        self.trainer.step()
        with torch.no_grad():
            self.dev_loss = float(self.trainer.loss_fn(self.trainer.model(self.x_dev), self.y_dev))
        if self.stopper.update(self.epoch, self.dev_loss, self.trainer.model):
            self.stopper.restore(self.trainer.model)
        self.epoch += 1

    def observe(self) -> Observation:
        return observe_parameters(self.dev_loss, self.trainer.mapping, state=stop_state(self.stopper))

    # the kink watch of the wrapped trainer (dev-loss forwards run without autograd and are not captured)
    def start_kink_watch(self) -> bool:
        return self.trainer.start_kink_watch()

    def preactivations(self) -> list[Preactivation]:
        return self.trainer.preactivations()


# --- gradient checks (float64, course relative error) ------------------------------------------------

def _check(problem: Problem, cost_and_grads) -> float:
    X, Y = (problem.data[k].astype(np.float64) for k in ("X", "Y"))
    params = {k: v.astype(np.float64) for k, v in problem.params.items()}
    _, grads = cost_and_grads(params, X, Y)
    return gradient_check_n(lambda p: cost_and_grads(p, X, Y)[0], params, grads)


def check_l2(problem: Problem) -> float:
    return _check(problem, lambda p, X, Y: reg.regularized_loss_and_grads(
        p, X, Y, hidden_activation=problem.hyper["hidden_activation"], l2=problem.hyper["l2"]))


def check_dropout(problem: Problem) -> float:
    """Fixed masks make the dropout network a deterministic function of the parameters."""
    X = problem.data["X"]
    masks = reg.draw_dropout_masks(np.random.default_rng(problem.seed), problem.hyper["layer_dims"], X.shape[1],
                                   problem.hyper["keep_prob"], np.float64)
    return _check(problem, lambda p, X, Y: reg.dropout_loss_and_grads(
        p, X, Y, masks, keep_prob=problem.hyper["keep_prob"], hidden_activation=problem.hyper["hidden_activation"]))


L2_EQUATIONS = (
    r"J_{\text{reg}} = J + \frac{\lambda}{2m}\sum_{l=1}^{L}\lVert W^{[l]}\rVert_F^2, \qquad "
    r"dW^{[l]} \leftarrow dW^{[l]} + \frac{\lambda}{m} W^{[l]}",
    r"\text{SGD with weight decay } \mu:\ W \leftarrow W - \alpha\,(dW + \mu W) "
    r"\;\equiv\; \text{L2 with } \mu = \lambda / m",
)
NOTES = (
    "Biases are neither penalized nor decayed (the course's sum runs over W only; torch uses two parameter "
    "groups). torch.optim.SGD adds weight_decay * W to the gradient inside step(), so it equals the L2 "
    "penalty exactly when weight_decay = lambda / m; torch's .grad and loss then omit the penalty, which "
    "is why the weight-decay variant compares data loss and data gradients. Under Adam the two differ "
    "(Adam's weight_decay is the coupled L2 form; AdamW decouples it) - see the study."
)
SCRATCH_SOURCE = (reg.l2_cost, reg.l2_grads, reg.regularized_loss_and_grads)
COMMON = dict(concept="regularization", steps=100, notes=NOTES)
#: The L2 penalty stage by stage: it enters the cost and the gradients; the forward and the update are plain.
L2_STAGES = (
    Stage("forward", (deep_net.L_model_logits,), (DeepNet,)),
    Stage("cost", (deep_net.cost_from_logits, reg.l2_cost, reg.add_penalties),
          (treg.l2_penalty, treg.PenalizedLoss, TORCH_COST)),
    Stage("backward", (deep_net.L_model_backward, reg.l2_grads), (TORCH_BACKWARD,)),
    Stage("update", (deep_net.update_parameters,), (TORCH_UPDATE,)),
)
LAMBDA = 0.7

register(Case(
    variant="l2_penalty",
    summary=f"L2 penalty lambda/(2m) sum ||W||^2 (lambda={LAMBDA}) in the loss, both sides, GD on two moons",
    make_problem=lambda seed, dtype: moons_problem(seed, dtype, l2=LAMBDA),
    scratch=ScratchRegularized, torch=torch_penalized, gradient_check=check_l2, equations=L2_EQUATIONS,
    scratch_source=SCRATCH_SOURCE, torch_source=(treg.l2_penalty, treg.PenalizedLoss), stages=L2_STAGES,
    notebook=True, **COMMON,
))
register(Case(
    variant="l2_weight_decay",
    summary="scratch L2 penalty vs torch SGD(weight_decay=lambda/m) on the weights: the same updates",
    make_problem=lambda seed, dtype: moons_problem(seed, dtype, l2=LAMBDA),
    scratch=lambda problem: ScratchRegularized(problem, observe_data_term=True), torch=torch_weight_decay,
    equations=L2_EQUATIONS, scratch_source=SCRATCH_SOURCE, torch_source=(treg.decay_groups,), **COMMON,
))
register(Case(
    variant="l1_penalty",
    summary="L1 penalty lambda/m sum |W| with subgradient sign(W) (sign(0) = 0), GD on two moons",
    make_problem=lambda seed, dtype: moons_problem(seed, dtype, l1=0.05),
    scratch=ScratchRegularized, torch=torch_penalized,
    equations=(r"J_{\text{reg}} = J + \frac{\lambda}{m}\sum_l\sum_{ij}|W^{[l]}_{ij}|, \qquad "
               r"dW^{[l]} \leftarrow dW^{[l]} + \frac{\lambda}{m}\operatorname{sign}(W^{[l]})",),
    scratch_source=(reg.l1_cost, reg.l1_grads), torch_source=(treg.l1_penalty,), **COMMON,
))
register(Case(
    variant="dropout",
    summary="inverted dropout keep_prob=0.8 on every hidden layer; torch nn.Dropout's masks handed to NumPy",
    make_problem=lambda seed, dtype: moons_problem(seed, dtype, keep_prob=0.8),
    scratch=ScratchRegularized, torch=TorchDropout, couple=hand_masks_to_scratch, gradient_check=check_dropout,
    equations=(r"D^{[l]} \sim \text{Bernoulli}(p_{\text{keep}}), \quad A^{[l]} = g(Z^{[l]}) \odot D^{[l]} / "
               r"p_{\text{keep}}, \quad dA^{[l]} = dA^{[l]} \odot D^{[l]} / p_{\text{keep}}",),
    scratch_source=(reg.dropout_mask, reg.dropout_forward, reg.dropout_backward, reg.dropout_loss_and_grads),
    torch_source=(treg.DropoutNet, TorchDropout._recorder, TorchDropout._grad_recorder), **COMMON,
))
register(Case(
    variant="early_stopping",
    summary="dev loss per epoch, patience 10, restore best: both sides stop at the same epoch",
    make_problem=early_stopping_problem,
    scratch=ScratchEarlyStopping, torch=TorchEarlyStopping, steps=100,
    scratch_source=(reg.EarlyStopping,), torch_source=(treg.EarlyStopping,),
    **{k: v for k, v in COMMON.items() if k != "steps"},
))
