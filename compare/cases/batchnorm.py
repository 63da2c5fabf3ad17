"""Batch normalization: scratch.batchnorm's deep net against ``BNDeepNet`` (``nn.BatchNorm1d``) + autograd.

Compared every step: the loss, every gradient and parameter (``W{l}``, ``b{l}``, ``gamma{l}``, ``beta{l}``)
and, as state, each BN layer's running statistics ``state.bn{l}.running_mean``, ``.running_var`` and
``.num_batches_tracked`` -- the buffers ``model.train()`` moves in every forward pass. Variants: BN before
ReLU (the course's placement, hidden layers without bias) and after it; full batch and mini-batches of 64
(the last one smaller, as the course cuts them); ``momentum=None`` (cumulative average); and a run that
switches to evaluation mode half-way (the running statistics then normalize, frozen, and the backward
pass treats them as constants), with the dev set evaluated in evaluation mode after every step on both
sides (``state.dev.logits``).

ReLU's kinks are watched (:mod:`compare.core.kinks`) with each side's own pre-activations: with BN before
the activation, the ReLU input is ``gamma (z - mu) invstd + beta`` and its condition scale is
``|gamma| invstd (|W| |A_prev| + |mu|) + |beta|``; after it, the ReLU input is the linear output.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

import scratch.batchnorm as bn
import scratch.deep_net as dn
import scratch.minibatch as smb
import torch_ref.batchnorm as tbn
import torch_ref.optim as to
from compare.cases.networks import breast_cancer_train, column, training_stages
from compare.core.devices import to_numpy, to_torch, torch_dtype
from compare.core.kinks import Preactivation, preactivation
from compare.core.problem import Observation, Problem, initial_parameters_rng
from compare.core.registry import Case, Excerpt, register
from compare.core.trainers import ParamMap, ScratchTrainer, TorchTrainer, load_parameters, observe_parameters
from compare.data import datasets
from scratch.gradient_check import gradient_check_n
from torch_ref.training import train_step


def bn_problem(seed: int, dtype: np.dtype, *, layer_dims: list[int], dataset: datasets.Dataset,
               placement: str, learning_rate: float = 0.1, momentum: float | None = 0.1,
               batch_size: int | None = None, eval_from: int | None = None,
               dev: datasets.Dataset | None = None) -> Problem:
    """Data, He-initialised weights (``gamma`` = 1, ``beta`` = 0) and the run's hyperparameters.

    ``eval_from``: the step from which both sides train in evaluation mode; ``dev`` is evaluated (eval
    mode) after every step.
    """
    params = bn.initialize_bn_parameters(layer_dims, placement=placement, method="he",
                                         rng=initial_parameters_rng(seed), dtype=dtype)
    data = {"X": np.ascontiguousarray(dataset.X, dtype=dtype), "Y": np.ascontiguousarray(dataset.Y, dtype=dtype)}
    if dev is not None:
        data["X_dev"] = np.ascontiguousarray(dev.X, dtype=dtype)
    hyper = {"layer_dims": list(layer_dims), "placement": placement, "learning_rate": learning_rate,
             "momentum": momentum, "batch_size": batch_size, "eval_from": eval_from, "shuffle_seed": seed}
    return Problem(seed, np.dtype(dtype), data, params, hyper)


def bn_preactivation(z_tilde: np.ndarray, W: np.ndarray, A_prev: np.ndarray, mean: np.ndarray,
                     invstd: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> Preactivation:
    """The ReLU input ``gamma (W A_prev - mu) invstd + beta`` ``(n, m)`` with its condition scale."""
    linear_scale = np.abs(W) @ np.abs(A_prev)
    scale = np.abs(gamma) * np.abs(invstd) * (linear_scale + np.abs(mean)) + np.abs(beta)
    return Preactivation(z_tilde, scale)


def scratch_relu_inputs(caches: list[bn.BNLayerCache], params: dict[str, np.ndarray], placement: str
                        ) -> list[Preactivation]:
    """Each hidden layer's ReLU input and its scale, from :func:`scratch.batchnorm.bn_model_logits`' caches."""
    layers = []
    for l, (A_prev, W, pre_activation, (_, mean, invstd, gamma)) in enumerate(caches[:-1], start=1):  # noqa: E741
        if placement == "before":
            layers.append(bn_preactivation(pre_activation, W, A_prev, mean, invstd, gamma, params[f"beta{l}"]))
        else:
            layers.append(preactivation(pre_activation, W, A_prev, params[f"b{l}"]))
    return layers


def _batches(X: np.ndarray, Y: np.ndarray, batch_size: int | None, seed: int
             ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The whole set every step, or the course's random mini-batches, epoch after epoch."""
    rng = np.random.default_rng(seed)
    for _ in itertools.count():
        yield from [(X, Y)] if batch_size is None else smb.random_mini_batches(X, Y, batch_size, rng=rng)


class ScratchBNNet(ScratchTrainer):
    """SGD on :mod:`scratch.batchnorm`'s deep net: ``bn_model_logits`` -> cost -> ``bn_model_backward``."""

    has_kinks = True

    def __init__(self, problem: Problem):
        super().__init__(problem)
        hyper = problem.hyper
        self.placement, self.learning_rate, self.eval_from = hyper["placement"], hyper["learning_rate"], \
            hyper["eval_from"]
        self.states = bn.make_bn_states(hyper["layer_dims"], momentum=hyper["momentum"], dtype=problem.dtype)
        self.X_dev = problem.data.get("X_dev")
        bn.check_bn_inputs(problem.data["X"], problem.data["Y"], self.params, self.states, self.placement, "relu")
        self.batches = _batches(problem.data["X"], problem.data["Y"], hyper["batch_size"], hyper["shuffle_seed"])
        self.steps_done = 0

    @property
    def training(self) -> bool:
        return self.eval_from is None or self.steps_done < self.eval_from

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        X, Y = next(self.batches)
        ZL, caches = bn.bn_model_logits(X, self.params, self.states, placement=self.placement,
                                        training=self.training, check=False)
        self.capture_preactivations(lambda: scratch_relu_inputs(caches, self.params, self.placement))
        dZL = dn.sigmoid(ZL) - Y
        dZL /= X.shape[1]
        grads = bn.bn_model_backward(dZL, caches, placement=self.placement, training=self.training)
        self.steps_done += 1
        return dn.cost_from_logits(ZL, Y), grads

    def update(self) -> None:
        dn.update_parameters(self.params, self.grads, self.learning_rate)

    def optimizer_state(self) -> dict[str, dict[str, np.ndarray]]:
        state = {f"bn{l}": {"running_mean": s.running_mean, "running_var": s.running_var,  # noqa: E741
                            "num_batches_tracked": np.array(float(s.num_batches_tracked))}
                 for l, s in enumerate(self.states, start=1)}  # noqa: E741
        if self.X_dev is not None:
            ZL, _ = bn.bn_model_logits(self.X_dev, self.params, self.states, placement=self.placement,
                                       training=False)
            state["dev"] = {"logits": ZL}
        return state


def bn_param_map(model: tbn.BNDeepNet) -> list[ParamMap]:
    """``W{l}``, ``b{l}`` (if any) <-> ``linears[l-1]``; ``gamma{l}``, ``beta{l}`` <-> ``norms[l-1]``."""
    mapping = []
    for l, linear in enumerate(model.linears, start=1):  # noqa: E741
        mapping.append(ParamMap(f"W{l}", linear.weight))
        if linear.bias is not None:
            mapping.append(ParamMap(f"b{l}", linear.bias, to_scratch=column, from_scratch=np.ravel))
    for l, norm in enumerate(model.norms, start=1):  # noqa: E741
        mapping.append(ParamMap(f"gamma{l}", norm.weight, to_scratch=column, from_scratch=np.ravel))
        mapping.append(ParamMap(f"beta{l}", norm.bias, to_scratch=column, from_scratch=np.ravel))
    return mapping


class TorchBNCapture:
    """Forward hooks recording each hidden layer's ``nn.Linear`` input and output and BN output in a training step."""

    def __init__(self, model: tbn.BNDeepNet):
        self.model = model
        self.records: list[dict[str, torch.Tensor]] = []
        self.handles: list[torch.utils.hooks.RemovableHandle] = []

    def start(self) -> None:
        for linear, norm in zip(self.model.linears[:-1], self.model.norms, strict=True):
            self.handles.append(linear.register_forward_hook(self._linear_hook))
            self.handles.append(norm.register_forward_hook(self._norm_hook))

    def _linear_hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if torch.is_grad_enabled():
            self.records.append({"a": inputs[0], "z": output, "linear": module})

    def _norm_hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if torch.is_grad_enabled():
            self.records[-1].update({"bn_in": inputs[0], "bn_out": output, "norm": module})

    def relu_inputs(self, placement: str) -> list[Preactivation]:
        """Scratch-layout ReLU inputs and scales of the captured step (batch or running statistics as used)."""
        layers = []
        for record in self.records:
            a, z, linear = to_numpy(record["a"]).T, to_numpy(record["z"]).T, record["linear"]
            W = to_numpy(linear.weight)
            if placement == "after":
                layers.append(preactivation(z, W, a, None if linear.bias is None else to_numpy(linear.bias)))
                continue
            norm = record["norm"]
            if norm.training:
                z64 = z.astype(np.float64)
                mean, var = z64.mean(axis=1, keepdims=True), z64.var(axis=1, keepdims=True)
            else:
                mean, var = to_numpy(norm.running_mean).reshape(-1, 1), to_numpy(norm.running_var).reshape(-1, 1)
            invstd = 1 / np.sqrt(var + norm.eps)
            layers.append(bn_preactivation(to_numpy(record["bn_out"]).T, W, a, mean, invstd,
                                           column(to_numpy(norm.weight)), column(to_numpy(norm.bias))))
        return layers


class TorchBNNet(TorchTrainer):
    """``BNDeepNet`` + ``BCEWithLogitsLoss`` + ``SGD``; ``model.eval()`` from ``eval_from`` on; dev logits observed."""

    def __init__(self, problem: Problem, device: torch.device):
        hyper = problem.hyper
        model = tbn.BNDeepNet(hyper["layer_dims"], placement=hyper["placement"], momentum=hyper["momentum"],
                              dtype=torch_dtype(problem.dtype), device=device)
        mapping = bn_param_map(model)
        load_parameters(mapping, problem.params)
        x = to_torch(problem.data["X"], device, transpose=True)
        y = to_torch(problem.data["Y"], device, transpose=True)
        super().__init__(model, nn.BCEWithLogitsLoss(), torch.optim.SGD(model.parameters(), lr=hyper["learning_rate"]),
                         x, y, mapping)
        self.placement, self.eval_from = hyper["placement"], hyper["eval_from"]
        self.x_dev = to_torch(problem.data["X_dev"], device, transpose=True) if "X_dev" in problem.data else None
        if hyper["batch_size"] is None:
            self.batches: Iterator = itertools.repeat((x, y))
        else:
            rng = np.random.default_rng(hyper["shuffle_seed"])
            loader = to.make_loader(x, y, hyper["batch_size"], lambda: rng.permutation(len(x)))
            self.batches = itertools.chain.from_iterable(iter(loader) for _ in itertools.count())
        self.capture = TorchBNCapture(model)
        self.steps_done = 0

    def step(self) -> None:
        self.capture.records = []
        if self.eval_from is not None and self.steps_done == self.eval_from:
            self.model.eval()
        x, y = next(self.batches)
        self.loss = train_step(self.model, self.loss_fn, self.optimizer, x, y)
        self.steps_done += 1

    def observe(self) -> Observation:
        if self.loss is None:
            raise RuntimeError("observe() called before step()")
        state = {f"bn{l}": {"running_mean": column(to_numpy(norm.running_mean)),  # noqa: E741
                            "running_var": column(to_numpy(norm.running_var)),
                            "num_batches_tracked": np.array(float(norm.num_batches_tracked))}
                 for l, norm in enumerate(self.model.norms, start=1)}  # noqa: E741
        if self.x_dev is not None:
            state["dev"] = {"logits": to_numpy(tbn.eval_logits(self.model, self.x_dev)).T}
        return observe_parameters(float(self.loss), self.mapping, self.optimizer, state=state)

    def start_kink_watch(self) -> bool:
        self.capture.start()
        return True

    def preactivations(self) -> list[Preactivation]:
        return self.capture.relu_inputs(self.placement)


def check_gradients(problem: Problem) -> float:
    """Course relative error of the BN net's backward pass (training mode, first 32 examples, float64).

    The biases and ``beta`` start at N(0, 0.1^2) and ``gamma`` at 1 + N(0, 0.1^2) instead of 0 and 1, so that
    no ReLU input sits exactly at the kink.
    """
    X, Y = problem.data["X"][:, :32].astype(np.float64), problem.data["Y"][:, :32].astype(np.float64)
    rng = initial_parameters_rng(problem.seed, 1)
    params = {name: value.astype(np.float64) + (0 if name.startswith("W") else rng.normal(0.0, 0.1, value.shape))
              for name, value in problem.params.items()}
    placement, dims = problem.hyper["placement"], problem.hyper["layer_dims"]

    def cost(point: dict[str, np.ndarray]) -> float:
        logits, _ = bn.bn_model_logits(X, point, bn.make_bn_states(dims), placement=placement)
        return float(dn.cost_from_logits(logits, Y))

    _, grads = bn.bn_loss_and_grads(params, bn.make_bn_states(dims), X, Y, placement=placement)
    return gradient_check_n(cost, params, grads)


EQUATIONS = (
    r"\mu = \frac{1}{m}\sum_i z^{(i)},\quad \sigma^2 = \frac{1}{m}\sum_i (z^{(i)} - \mu)^2,\quad "
    r"\hat z = \frac{z - \mu}{\sqrt{\sigma^2 + \epsilon}},\quad \tilde z = \gamma \hat z + \beta",
    r"\text{running\_mean} := (1 - \rho)\,\text{running\_mean} + \rho\,\mu,\quad "
    r"\text{running\_var} := (1 - \rho)\,\text{running\_var} + \rho\,\frac{m}{m-1}\sigma^2",
    r"d\beta = \sum_i d\tilde z^{(i)},\quad d\gamma = \sum_i d\tilde z^{(i)} \hat z^{(i)},\quad "
    r"dz = \frac{\gamma}{\sqrt{\sigma^2+\epsilon}}\Big(d\tilde z - \frac{d\beta}{m} - \hat z\,\frac{d\gamma}{m}\Big)",
)
NOTES = (
    "Normalization uses the biased batch variance, the running estimate the unbiased one (m / (m - 1)), as "
    "nn.BatchNorm1d; momentum rho = 0.1 weights the new batch, momentum=None is the cumulative average "
    "1 / num_batches_tracked. A training batch of one example raises ValueError on both sides. With BN before "
    "the activation the hidden layers have no bias (beta replaces it). The backward pass starts from "
    "dZ[L] = (A[L] - Y) / m: the 1/m is carried from the mean, as autograd does, since BN mixes the examples. "
    "In evaluation mode the running statistics normalize and are constants for the backward pass."
)


#: Batch normalization sits in the forward and backward passes; cost and update are the deep net's.
STAGES = training_stages(
    forward=(bn.batchnorm_forward, bn.BatchNormState.update, bn.bn_layer_forward, bn.bn_model_logits),
    cost=(dn.cost_from_logits,),
    backward=(bn.batchnorm_backward, bn.bn_layer_backward, bn.bn_model_backward),
    update=(dn.update_parameters,),
    torch_model=(tbn.BNDeepNet,),
    torch_training=(Excerpt(TorchBNNet.__init__, ("nn.BCEWithLogitsLoss(), torch.optim.SGD(",)),),
)


def _register(variant: str, summary: str, **kwargs) -> None:
    dataset_name = kwargs.pop("dataset")

    def make_problem(seed: int, dtype: np.dtype) -> Problem:
        if dataset_name == "blobs":
            train = datasets.make_blobs(m=128, n_x=8, seed=seed)
            dev = datasets.make_blobs(m=64, n_x=8, seed=seed + 1000)
            dims = [8, 16, 16, 1]
        else:
            train = breast_cancer_train(seed)
            dev = None
            dims = [30, 16, 8, 1]
        return bn_problem(seed, dtype, layer_dims=dims, dataset=train, dev=dev, **kwargs)

    register(Case(concept="batchnorm", variant=variant, summary=summary, make_problem=make_problem,
                  scratch=ScratchBNNet, torch=TorchBNNet, steps=200, gradient_check=check_gradients,
                  equations=EQUATIONS, notes=NOTES,
                  scratch_source=(bn.batchnorm_forward, bn.batchnorm_backward, bn.BatchNormState.update,
                                  bn.bn_layer_forward, bn.bn_layer_backward),
                  torch_source=(tbn.BNDeepNet,), stages=STAGES, notebook=variant == "before_relu"))


_register("before_relu", "[8, 16, 16, 1] Linear(no bias) -> BN -> ReLU (the course's placement), SGD, full batch "
          "of 128 blobs, dev set in eval mode each step", dataset="blobs", placement="before")
_register("after_relu", "[8, 16, 16, 1] Linear -> ReLU -> BN, SGD, full batch of 128 blobs, dev set in eval mode",
          dataset="blobs", placement="after")
_register("minibatch64", "[30, 16, 8, 1] BN before ReLU on breast cancer (455), mini-batches of 64 (last 7), SGD",
          dataset="breast_cancer", placement="before", batch_size=64)
_register("momentum_none", "[30, 16, 8, 1] BN before ReLU, momentum=None (cumulative average), mini-batches of 64",
          dataset="breast_cancer", placement="before", batch_size=64, momentum=None)
_register("train_then_eval", "[8, 16, 16, 1] BN before ReLU; from step 100 on, eval mode (frozen running "
          "statistics) for training too; dev set in eval mode each step", dataset="blobs", placement="before",
          eval_from=100)
