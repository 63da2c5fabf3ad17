"""Optimizers: scratch.optim against torch.optim on a small deep network, parameters and state every step.

Every optimizer and every flag that changes the math is one variant (SGD plain / weight decay / momentum /
dampening / Nesterov; RMSprop plain / centered / momentum / weight decay; Adagrad plain / lr_decay /
weight decay + initial accumulator; Adam / AMSGrad / weight decay; AdamW; Adadelta, Adamax, NAdam (and
NAdamW), RAdam (and RAdamW), each plain and with weight decay; the course's momentum, RMSprop and Adam against
their torch equivalents), plus batch, mini-batch (64, 128, 256, 512, with the last smaller batch) and
stochastic (batch size 1) gradient descent over several epochs, the course's learning-rate decay (every epoch,
and every k epochs) against ``LambdaLR``, and torch's schedules StepLR, MultiStepLR, ExponentialLR,
CosineAnnealingLR (per epoch), OneCycleLR (per batch) and ReduceLROnPlateau (per epoch, on a dev-set loss),
whose learning rate is compared at every step as ``state.lr``.

The network is the shared L-layer net of :mod:`compare.cases.networks` (2 -> 16 -> 16 -> 1, tanh hidden,
sigmoid output, binary cross-entropy from the logits) on the course's planar flower, Xavier-initialised per seed:
``scratch.deep_net.loss_and_grads`` on one side, ``DeepNet`` + autograd on the other.

Mini-batch runs: the harness draws one permutation per epoch from ``np.random.default_rng(seed)``; scratch
calls ``random_mini_batches(..., rng=)`` with that generator, torch's ``DataLoader`` samples through
``PermutationSampler`` over the same generator's permutations, so both sides see identical batches.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

import scratch.deep_net as dn
import scratch.minibatch as smb
import scratch.optim as so
import torch_ref.deep_net as tdn
import torch_ref.optim as to
from compare.cases.networks import (
    TORCH_BACKWARD,
    TORCH_COST,
    TORCH_UPDATE,
    build_torch_model,
    check_gradients,
    deep_problem,
)
from compare.core.devices import to_torch
from compare.core.problem import Observation, Problem
from compare.core.registry import Case, Excerpt, Stage, register
from compare.core.trainers import ScratchTrainer, observe_parameters
from compare.data import datasets
from scratch.logistic_regression import cost_from_logits
from torch_ref.training import train_step

LAYER_DIMS = [2, 16, 16, 1]
M_TRAIN = 600  # > 512 so every course mini-batch size leaves a smaller last batch
M_STOCHASTIC = 48  # batch size 1: 200 steps are 4+ epochs
M_DEV = 200
#: tanh, not ReLU: ReLU's derivative jumps at 0, and in float32 a pre-activation within rounding of 0 can take
#: opposite signs on the two sides (measured: sgd_nesterov, step 33, one layer-2 unit at Z = -2.9e-7 vs +3.5e-7),
#: which switches one example's contribution to the gradient on or off: a 4e-2 relative jump that the optimizer
#: then carries forward. That is the network's discontinuity, covered by the deep_net concept; a smooth hidden
#: activation lets the float32 comparison measure the optimizer's own arithmetic.
HIDDEN_ACTIVATION, INIT = "tanh", "xavier"


# ------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class OptimSpec:
    """Which optimizer (``scratch.optim`` class name = ``torch_ref.optim.make_optimizer`` name), how batched,
    and the course's LR decay ``(decay_rate, time_interval)`` applied per epoch, if any."""

    name: str
    hyper: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    decay: tuple[float, int] | None = None
    schedule: ScheduleSpec | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    """A ``torch.optim.lr_scheduler`` (= ``scratch.optim``) schedule, stepped once per ``"epoch"`` (at the start
    of each new epoch, ReduceLROnPlateau with the dev-set loss) or once per ``"batch"`` (after each update;
    a new cycle starts every ``total_steps`` updates, so timing runs can take more steps than one cycle)."""

    name: str
    hyper: dict[str, Any] = field(default_factory=dict)
    per: str = "epoch"


def make_problem(seed: int, dtype: np.dtype, *, m: int = M_TRAIN, dev: bool = False) -> Problem:
    """The shared deep net's problem (He init) on ``m`` points of the planar flower, plus the shuffle seed;
    ``dev``: also a dev set of ``M_DEV`` other points of the flower (for ReduceLROnPlateau)."""
    problem = deep_problem(seed, dtype, layer_dims=LAYER_DIMS, dataset=datasets.planar_flower(m=m, seed=seed + 1),
                           hidden_activation=HIDDEN_ACTIVATION, init=INIT)
    problem.hyper["shuffle_seed"] = seed
    if dev:
        dev_set = datasets.planar_flower(m=M_DEV, seed=seed + 101, dtype=dtype)
        problem.data["X_dev"], problem.data["Y_dev"] = dev_set.X, dev_set.Y
    return problem


# ------------------------------------------------------------------------- trainers


def _scratch_batches(X: np.ndarray, Y: np.ndarray, batch_size: int | None, seed: int
                     ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(epoch, X_batch, Y_batch)`` forever: the whole set (batch GD) or the course's random mini-batches."""
    rng = np.random.default_rng(seed)
    for epoch in itertools.count():
        batches = [(X, Y)] if batch_size is None else smb.random_mini_batches(X, Y, batch_size, rng=rng)
        for X_batch, Y_batch in batches:
            yield epoch, X_batch, Y_batch


class ScratchOptimTrainer(ScratchTrainer):
    """One (mini-)batch step: ``deep_net.loss_and_grads`` then ``optimizer.step``; LR decay at each new epoch."""

    def __init__(self, problem: Problem, spec: OptimSpec):
        super().__init__(problem)
        self.optimizer = getattr(so, spec.name)(self.params, **spec.hyper)
        self.lr0, self.decay, self.epoch = self.optimizer.lr, spec.decay, 0
        self.batches = _scratch_batches(problem.data["X"], problem.data["Y"], spec.batch_size,
                                        problem.hyper["shuffle_seed"])
        self.activation = problem.hyper["hidden_activation"]
        self.schedule_spec, self.dev = spec.schedule, (problem.data.get("X_dev"), problem.data.get("Y_dev"))
        self.schedule = self._new_schedule() if spec.schedule is not None else None

    def _new_schedule(self) -> so.LRScheduler | so.ReduceLROnPlateau:
        return getattr(so, self.schedule_spec.name)(self.optimizer, **self.schedule_spec.hyper)

    def _step_schedule_for_new_epoch(self) -> None:
        if self.schedule_spec.name == "ReduceLROnPlateau":
            X_dev, Y_dev = self.dev
            ZL, _ = dn.L_model_logits(X_dev, self.params, hidden_activation=self.activation, check=False)
            self.schedule.step(float(cost_from_logits(ZL, Y_dev)))  # BCEWithLogitsLoss's formula
        else:
            self.schedule.step()

    def loss_and_grads(self) -> tuple[float, dict[str, np.ndarray]]:
        epoch, X_batch, Y_batch = next(self.batches)
        if self.decay is not None and epoch != self.epoch:
            decay_rate, time_interval = self.decay
            self.optimizer.lr = so.schedule_lr_decay(self.lr0, epoch, decay_rate, time_interval)
        if self.schedule is not None and self.schedule_spec.per == "epoch" and epoch != self.epoch:
            self._step_schedule_for_new_epoch()
        self.epoch = epoch
        return dn.loss_and_grads(self.params, X_batch, Y_batch, hidden_activation=self.activation, check=False)

    def update(self) -> None:
        self.optimizer.step(self.params, self.grads)
        if self.schedule is not None and self.schedule_spec.per == "batch":
            if self.schedule.last_epoch == self.schedule_spec.hyper["total_steps"] - 1:
                self.schedule = self._new_schedule()  # the cycle's last update is done: a new cycle
            else:
                self.schedule.step()

    def optimizer_state(self) -> dict[str, dict[str, np.ndarray]]:
        state = super().optimizer_state()
        if self.decay is not None or self.schedule is not None:
            state[""] = {"lr": np.array(self.optimizer.lr)}
        return state


class TorchOptimTrainer:
    """``train_step`` on batches from a ``DataLoader`` (or the whole set); ``LambdaLR.step()`` per epoch."""

    def __init__(self, problem: Problem, device: torch.device, spec: OptimSpec):
        self.model, self.mapping = build_torch_model(problem, device)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.optimizer = to.make_optimizer(spec.name, self.model.parameters(), **spec.hyper)
        self.scheduler = None
        if spec.decay is not None:
            decay_rate, time_interval = spec.decay
            self.scheduler = to.inverse_time_decay(self.optimizer, decay_rate=decay_rate, time_interval=time_interval)
        x = to_torch(problem.data["X"], device, transpose=True)
        y = to_torch(problem.data["Y"], device, transpose=True)
        if spec.batch_size is None:
            self.loader: Any = [(x, y)]
        else:
            rng = np.random.default_rng(problem.hyper["shuffle_seed"])
            self.loader = to.make_loader(x, y, spec.batch_size, lambda: rng.permutation(len(x)))
        self.epoch_iter = iter(self.loader)
        self.loss: torch.Tensor | None = None
        self.schedule_spec = spec.schedule
        if spec.schedule is not None:
            self.scheduler = self._new_scheduler()
            self.dev = tuple(to_torch(problem.data[key], device, transpose=True) for key in ("X_dev", "Y_dev")) \
                if spec.schedule.name == "ReduceLROnPlateau" else None

    def _new_scheduler(self) -> Any:
        return to.make_scheduler(self.schedule_spec.name, self.optimizer, **self.schedule_spec.hyper)

    @torch.no_grad()
    def _dev_loss(self) -> float:
        x_dev, y_dev = self.dev
        return float(self.loss_fn(self.model(x_dev), y_dev))

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            return next(self.epoch_iter)
        except StopIteration:  # end of the epoch
            if self.schedule_spec is not None and self.schedule_spec.name == "ReduceLROnPlateau":
                self.scheduler.step(self._dev_loss())
            elif self.scheduler is not None and (self.schedule_spec is None or self.schedule_spec.per == "epoch"):
                self.scheduler.step()
            self.epoch_iter = iter(self.loader)
            return next(self.epoch_iter)

    def step(self) -> None:
        x, y = self._next_batch()
        self.loss = train_step(self.model, self.loss_fn, self.optimizer, x, y)
        if self.schedule_spec is not None and self.schedule_spec.per == "batch":
            if self.scheduler.last_epoch == self.schedule_spec.hyper["total_steps"] - 1:
                self.scheduler = self._new_scheduler()  # the cycle's last update is done: a new cycle
            else:
                self.scheduler.step()

    def observe(self) -> Observation:
        if self.loss is None:
            raise RuntimeError("observe() called before step()")
        lr = {"": {"lr": np.array(self.optimizer.param_groups[0]["lr"])}} if self.scheduler is not None else None
        seen = observe_parameters(float(self.loss), self.mapping, self.optimizer, with_step_count=True, state=lr)
        for entry in self.mapping:  # scalar state beyond the step count (NAdam's mu_product)
            for key, value in self.optimizer.state.get(entry.parameter, {}).items():
                if key != "step" and isinstance(value, torch.Tensor) and value.dim() == 0:
                    seen.arrays[f"state.{entry.scratch_name}.{key}"] = np.array(float(value))
        return seen


# ------------------------------------------------------------------------- the variants

EQUATIONS = {
    "SGD": (r"g = \nabla J + \lambda\theta,\quad b_1 = g_1,\quad b_t = \mu b_{t-1} + (1-\tau) g_t",
            r"\theta := \theta - \eta\,(g + \mu b)\ \text{(Nesterov)}\quad\text{or}\quad \theta - \eta\, b"),
    "RMSprop": (r"v = \alpha v + (1-\alpha) g^2,\quad \bar g = \alpha \bar g + (1-\alpha) g\ \text{(centered)}",
                r"\theta := \theta - \eta\, g / (\sqrt{v - \bar g^2} + \epsilon)"),
    "Adagrad": (r"s = s + g^2,\quad \tilde\eta = \eta / (1 + (t-1)\,\text{lr\_decay})",
                r"\theta := \theta - \tilde\eta\, g / (\sqrt{s} + \epsilon)"),
    "Adam": (r"m = \beta_1 m + (1-\beta_1) g,\quad v = \beta_2 v + (1-\beta_2) g^2,\quad"
             r" \hat v^{max} = \max(\hat v^{max}, v)\ \text{(amsgrad)}",
             r"\theta := \theta - \frac{\eta}{1-\beta_1^t}\, m / (\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon)"),
    "AdamW": (r"\theta := \theta (1 - \eta\lambda), \text{ then the Adam step with } g = \nabla J",),
    "Adadelta": (r"v = \rho v + (1-\rho) g^2,\quad \Delta = \frac{\sqrt{u + \epsilon}}{\sqrt{v + \epsilon}}\, g,"
                 r"\quad u = \rho u + (1-\rho) \Delta^2",
                 r"\theta := \theta - \eta\,\Delta"),
    "Adamax": (r"m = \beta_1 m + (1-\beta_1) g,\quad u = \max(\beta_2 u, |g| + \epsilon)",
               r"\theta := \theta - \frac{\eta}{1-\beta_1^t}\, m / u"),
    "NAdam": (r"\mu_t = \beta_1 (1 - 0.5 \cdot 0.96^{t \psi}),\quad \Pi_t = \prod_{k \leq t} \mu_k,"
              r"\quad \hat v = v / (1-\beta_2^t)",
              r"\theta := \theta - \eta \frac{1-\mu_t}{1-\Pi_t} \frac{g}{\sqrt{\hat v}+\epsilon}"
              r" - \eta \frac{\mu_{t+1}}{1-\Pi_t \mu_{t+1}} \frac{m}{\sqrt{\hat v}+\epsilon}"),
    "RAdam": (r"\rho_\infty = \frac{2}{1-\beta_2} - 1,\quad \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t},"
              r"\quad r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}",
              r"\theta := \theta - \eta\, \hat m\, r_t \frac{\sqrt{1-\beta_2^t}}{\sqrt{v}+\epsilon}\ (\rho_t > 5),"
              r"\quad \theta - \eta\, \hat m\ \text{otherwise}"),
    "MomentumCourse": (r"v = \beta v + (1-\beta)\, dW,\quad W := W - \alpha v"
                       r"\ \equiv\ \text{SGD}(\eta = \alpha(1-\beta), \mu = \beta),\ b = v/(1-\beta)",),
    "RMSpropCourse": (r"s = \beta s + (1-\beta)\, dW^2,\quad W := W - \alpha\, dW/(\sqrt{s}+\epsilon)"
                      r"\ \equiv\ \text{RMSprop}(\alpha = \beta)",),
    "AdamCourse": (r"v^{c} = v/(1-\beta_1^t),\ s^{c} = s/(1-\beta_2^t),"
                   r"\quad W := W - \alpha\, v^c/(\sqrt{s^c}+\epsilon)",),
}
NOTES = {
    "SGD": "torch seeds the momentum buffer with the first gradient (not zeros, no 1 - dampening factor).",
    "RMSprop": "eps is added after the square root; the momentum buffer accumulates g / avg. Centered RMSprop "
               "divides by sqrt(E[g^2] - E[g]^2), a cancellation when the gradient barely changes between steps "
               "(full batch), which float32 cannot resolve; the centered + momentum + weight decay variant runs "
               "on mini-batches for that reason (docs/optimizers.md).",
    "Adagrad": "The step count starts at 1, so the first step uses lr itself: clr = lr / (1 + (t - 1) lr_decay).",
    "Adam": "Bias corrections use t after the increment (t = 1 on the first step); AMSGrad divides by the "
            "running max of exp_avg_sq, still bias-corrected with t. weight_decay is L2 added to the gradient. "
            "Learning rates stay below the phase where full-batch Adam oscillates around the minimum and "
            "amplifies rounding (a float32-sized start perturbation grows to 1e-3 at lr 0.01; docs/optimizers.md).",
    "AdamW": "Decoupled weight decay: the parameter shrinks by 1 - lr * weight_decay before the Adam step.",
    "Adadelta": "eps sits inside both square roots (not after them as in Adam), so the first step moves by "
                "about lr * sqrt(eps) / |g| relative: Adadelta's lr of 1.0 is its default, not a large value. The "
                "case runs at lr 0.5: at lr 1.0, seed 1, the full-batch trajectory amplifies rounding (scratch fed "
                "gradients one ulp off parts from itself by 5.8e-10 in float64, as far as from torch, 1.1e-9; "
                "docs/optimizers.md).",
    "Adamax": "eps is added to |g| before the running max; the max replaces Adam's square root, so there is no "
              "second bias correction.",
    "NAdam": "mu_product is kept by torch as a 0-d tensor of its default dtype (float32), even for float64 "
             "parameters; scratch mirrors it (a float64 product differs by ~1e-8 relative). decoupled_weight_decay "
             "gives NAdamW.",
    "RAdam": "Until rho_t > 5 (step 6 for beta2 = 0.999) the update is bias-corrected momentum SGD; then the "
             "rectified Adam step. decoupled_weight_decay gives RAdamW.",
    "MomentumCourse": "Equal to SGD(lr * (1 - beta), momentum=beta) exactly; SGD(lr, momentum=beta, "
                      "dampening=beta) is not: its first buffer is dW_1, not (1 - beta) dW_1, a gap of "
                      "beta^t dW_1 (see docs/optimizers.md).",
    "RMSpropCourse": "Same update as RMSprop(alpha=beta); the course's default beta is 0.999, torch's alpha 0.99.",
    "AdamCourse": "Same update as Adam; torch rewrites sqrt(s / (1 - beta2^t)) as sqrt(s) / sqrt(1 - beta2^t).",
}
SCRATCH_CORE = {"SGD": so.sgd_step, "RMSprop": so.rmsprop_step, "Adagrad": so.adagrad_step, "Adam": so.adam_step,
                "AdamW": so.adam_step, "MomentumCourse": so.momentum_course_step,
                "RMSpropCourse": so.rmsprop_course_step, "AdamCourse": so.adam_course_step,
                "Adadelta": so.adadelta_step, "Adamax": so.adamax_step, "NAdam": so.nadam_step, "RAdam": so.radam_step}
#: The optimizers whose core starts with :func:`scratch.optim.decay_and_moments` (shown beside it).
ADAM_FAMILY = ("Adam", "AdamW", "NAdam", "RAdam")
SCHEDULE_NOTES = {
    "StepLR": "lr * gamma every step_size epochs, computed recursively (torch's get_lr), not as lr0 gamma^k.",
    "MultiStepLR": "lr * gamma^k at an epoch listed k times in milestones.",
    "ExponentialLR": "lr * gamma every epoch; the recursion and lr0 gamma^e differ in the last bits.",
    "CosineAnnealingLR": "torch's recursive cosine (a ratio of consecutive cosine values) with its restart branch "
                         "when (epoch - 1 - T_max) % (2 T_max) == 0.",
    "OneCycleLR": "Stepped after every update; the momentum (SGD) or beta1 (Adam) moves opposite to the lr. A new "
                  "cycle starts after total_steps updates (timing runs take more steps than one cycle), instead "
                  "of the final step() to last_epoch = total_steps, whose lr torch extrapolates past the last "
                  "phase (negative with linear annealing) and scratch refuses.",
    "ReduceLROnPlateau": "Stepped once per epoch with the dev-set loss (BCE from the logits on both sides).",
}

# Learning rates are chosen so that the 200-step trajectory is well conditioned, i.e. float32 rounding is
# not amplified by the training dynamics themselves. Measured with float64 scratch against float64 scratch
# started from the float32-rounded problem (no float32 arithmetic at all): Adam at lr 0.01 on the full batch
# reaches the phase where it oscillates around the minimum, and that 6e-8 start perturbation grows to 1.7e-3
# in the gradients (2e-7 at lr 0.003); Adam with L2 weight_decay gets there sooner (the regularised objective
# has a finite minimum where g + wd * param -> 0 and Adam divides it by its own RMS), hence lr 0.001.
# Centered RMSprop divides by sqrt(E[g^2] - E[g]^2): on full-batch gradients that barely change from step to
# step this variance is a cancellation of two nearly equal numbers (relative error ~ u E[g^2] / var), so the
# combination with momentum and weight decay runs on mini-batches of 64, whose gradient noise keeps the
# variance away from 0 (float32 state gap 1e-1 on the full batch at any lr tried, 4e-6 on mini-batches).
# None of this affects float64, where every variant agrees to ~1e-14.
VARIANTS: dict[str, tuple[str, OptimSpec]] = {
    "sgd": ("batch GD: SGD(lr=0.5) on the whole set", OptimSpec("SGD", dict(lr=0.5))),
    "sgd_weight_decay": ("SGD + L2 weight_decay", OptimSpec("SGD", dict(lr=0.5, weight_decay=0.01))),
    "sgd_momentum": ("SGD momentum 0.9", OptimSpec("SGD", dict(lr=0.1, momentum=0.9))),
    "sgd_momentum_dampening": ("SGD momentum 0.9, dampening 0.5",
                               OptimSpec("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5))),
    "sgd_nesterov": ("SGD Nesterov momentum 0.9", OptimSpec("SGD", dict(lr=0.1, momentum=0.9, nesterov=True))),
    "sgd_nesterov_weight_decay": ("SGD Nesterov + weight_decay",
                                  OptimSpec("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01))),
    "rmsprop": ("RMSprop (torch defaults, lr 0.005)", OptimSpec("RMSprop", dict(lr=0.005))),
    "rmsprop_centered": ("RMSprop centered", OptimSpec("RMSprop", dict(lr=0.005, centered=True))),
    "rmsprop_momentum": ("RMSprop momentum 0.9", OptimSpec("RMSprop", dict(lr=0.0003, momentum=0.9))),
    "rmsprop_weight_decay": ("RMSprop + weight_decay", OptimSpec("RMSprop", dict(lr=0.005, weight_decay=0.01))),
    "rmsprop_centered_momentum_weight_decay": (
        "RMSprop centered + momentum 0.5 + weight_decay, mini-batch 64",
        OptimSpec("RMSprop", dict(lr=0.001, centered=True, momentum=0.5, weight_decay=0.01), batch_size=64)),
    "adagrad": ("Adagrad lr 0.05", OptimSpec("Adagrad", dict(lr=0.05))),
    "adagrad_lr_decay": ("Adagrad lr_decay 0.01", OptimSpec("Adagrad", dict(lr=0.05, lr_decay=0.01))),
    "adagrad_weight_decay_accumulator": (
        "Adagrad weight_decay + initial_accumulator_value 0.1",
        OptimSpec("Adagrad", dict(lr=0.05, weight_decay=0.01, initial_accumulator_value=0.1))),
    "adam": ("Adam lr 0.003", OptimSpec("Adam", dict(lr=0.003))),
    "adam_amsgrad": ("Adam AMSGrad", OptimSpec("Adam", dict(lr=0.003, amsgrad=True))),
    "adam_weight_decay": ("Adam + L2 weight_decay", OptimSpec("Adam", dict(lr=0.001, weight_decay=0.01))),
    "adam_amsgrad_weight_decay": ("Adam AMSGrad + weight_decay, betas (0.8, 0.99)",
                                  OptimSpec("Adam", dict(lr=0.001, betas=(0.8, 0.99), amsgrad=True,
                                                         weight_decay=0.01))),
    "adamw": ("AdamW (weight_decay 0.01)", OptimSpec("AdamW", dict(lr=0.003))),
    "adamw_amsgrad": ("AdamW AMSGrad, weight_decay 0.1", OptimSpec("AdamW", dict(lr=0.003, amsgrad=True,
                                                                                 weight_decay=0.1))),
    "course_momentum": ("course momentum v = beta v + (1 - beta) dW vs SGD(lr (1 - beta), momentum beta)",
                        OptimSpec("MomentumCourse", dict(lr=0.5, beta=0.9))),
    "course_rmsprop": ("course RMSprop vs RMSprop(alpha=beta)",
                       OptimSpec("RMSpropCourse", dict(lr=0.005, beta=0.999))),
    "course_adam": ("course Adam vs Adam", OptimSpec("AdamCourse", dict(lr=0.003))),
    "stochastic": (f"SGD with batch size 1 on {M_STOCHASTIC} examples (4+ epochs, reshuffled each)",
                   OptimSpec("SGD", dict(lr=0.05), batch_size=1)),
    **{f"minibatch_{size}": (f"mini-batch GD, batch {size} of {M_TRAIN} (last batch {M_TRAIN % size})",
                             OptimSpec("SGD", dict(lr=0.5), batch_size=size))
       for size in smb.COURSE_MINI_BATCH_SIZES},
    "minibatch_64_adam": ("mini-batch 64 with Adam", OptimSpec("Adam", dict(lr=0.01), batch_size=64)),
    "lr_decay": ("mini-batch 64 + momentum, lr0 / (1 + 0.3 epoch) vs LambdaLR",
                 OptimSpec("SGD", dict(lr=0.5, momentum=0.5), batch_size=64, decay=(0.3, 1))),
    "lr_decay_scheduled": ("mini-batch 128, lr0 / (1 + 1.0 floor(epoch / 3)) vs LambdaLR",
                           OptimSpec("SGD", dict(lr=0.5), batch_size=128, decay=(1.0, 3))),
    "adadelta_weight_decay": ("Adadelta lr 0.5, rho 0.95 + weight_decay",
                              OptimSpec("Adadelta", dict(lr=0.5, rho=0.95, weight_decay=0.01))),
    "adamax": ("Adamax lr 0.005", OptimSpec("Adamax", dict(lr=0.005))),
    "adamax_weight_decay": ("Adamax + weight_decay", OptimSpec("Adamax", dict(lr=0.005, weight_decay=0.01))),
    "nadam": ("NAdam lr 0.0005 (momentum_decay 4e-3)", OptimSpec("NAdam", dict(lr=0.0005))),
    "nadam_weight_decay": ("NAdam + L2 weight_decay, momentum_decay 0.01",
                           OptimSpec("NAdam", dict(lr=0.0005, weight_decay=0.01, momentum_decay=0.01))),
    "nadamw": ("NAdam decoupled weight decay 0.1 (NAdamW)",
               OptimSpec("NAdam", dict(lr=0.0005, weight_decay=0.1, decoupled_weight_decay=True))),
    "radam": ("RAdam lr 0.003 (rectified from step 6)", OptimSpec("RAdam", dict(lr=0.003))),
    "radam_weight_decay": ("RAdam + L2 weight_decay", OptimSpec("RAdam", dict(lr=0.001, weight_decay=0.01))),
    "radamw": ("RAdam decoupled weight decay 0.1 (RAdamW)",
               OptimSpec("RAdam", dict(lr=0.003, weight_decay=0.1, decoupled_weight_decay=True))),
    "steplr": ("mini-batch 64 + momentum, StepLR(step_size=3, gamma=0.5) per epoch",
               OptimSpec("SGD", dict(lr=0.5, momentum=0.5), batch_size=64,
                         schedule=ScheduleSpec("StepLR", dict(step_size=3, gamma=0.5)))),
    "multisteplr": ("mini-batch 64, MultiStepLR(milestones=[4, 8, 8, 15], gamma=0.5) per epoch",
                    OptimSpec("SGD", dict(lr=0.5), batch_size=64,
                              schedule=ScheduleSpec("MultiStepLR", dict(milestones=[4, 8, 8, 15], gamma=0.5)))),
    "exponentiallr": ("mini-batch 64 with Adam, ExponentialLR(gamma=0.9) per epoch",
                      OptimSpec("Adam", dict(lr=0.01), batch_size=64,
                                schedule=ScheduleSpec("ExponentialLR", dict(gamma=0.9)))),
    "cosineannealinglr": ("mini-batch 64 + momentum, CosineAnnealingLR(T_max=8, eta_min=0.01) per epoch",
                          OptimSpec("SGD", dict(lr=0.5, momentum=0.5), batch_size=64,
                                    schedule=ScheduleSpec("CosineAnnealingLR", dict(T_max=8, eta_min=0.01)))),
    "onecyclelr": ("mini-batch 64, OneCycleLR(max_lr=0.5, total_steps=100) per batch, momentum cycled",
                   OptimSpec("SGD", dict(lr=0.1, momentum=0.9), batch_size=64,
                             schedule=ScheduleSpec("OneCycleLR", dict(max_lr=0.5, total_steps=100), per="batch"))),
    "onecyclelr_adam": ("mini-batch 64 with Adam, three-phase linear OneCycleLR(max_lr=0.01), beta1 cycled",
                        OptimSpec("Adam", dict(lr=0.001), batch_size=64,
                                  schedule=ScheduleSpec("OneCycleLR", dict(max_lr=0.01, total_steps=100,
                                                                           three_phase=True,
                                                                           anneal_strategy="linear"), per="batch"))),
    "reducelronplateau": ("mini-batch 64, ReduceLROnPlateau(patience=1, factor=0.5, threshold=0.01) on the dev loss",
                          OptimSpec("SGD", dict(lr=0.5), batch_size=64,
                                    schedule=ScheduleSpec("ReduceLROnPlateau",
                                                          dict(patience=1, factor=0.5, threshold=0.01)))),
}


#: The variant the concept's notebook runs.
NOTEBOOK_VARIANT = "adam"


def optim_stages(spec: OptimSpec) -> tuple[Stage, ...]:
    """The deep net's forward, cost and backward, then this optimizer's update: scratch's optimizer class and its
    functional core beside the torch optimizer it is built as and ``optimizer.step()``."""
    course = to.COURSE_EQUIVALENTS.get(spec.name)  # user-level builders of the course's optimizers
    return (
        Stage("forward", (dn.linear_activation_forward, dn.L_model_logits), (tdn.DeepNet,)),
        Stage("cost", (cost_from_logits,), (Excerpt(TorchOptimTrainer.__init__, ("nn.BCEWithLogitsLoss()",)),
                                            TORCH_COST)),
        Stage("backward", (dn.linear_activation_backward, dn.L_model_backward), (TORCH_BACKWARD,)),
        Stage("update", (getattr(so, spec.name), so.Optimizer.step, SCRATCH_CORE[spec.name],
                         *((so.decay_and_moments,) if spec.name in ADAM_FAMILY else ())),
              (Excerpt(TorchOptimTrainer.__init__, ("to.make_optimizer(",)), to.make_optimizer,
               *((course,) if course else ()), TORCH_UPDATE)),
    )


def _register(variant: str, summary: str, spec: OptimSpec) -> None:
    m = M_STOCHASTIC if spec.batch_size == 1 else M_TRAIN
    # what a user writes: the builder of the optimizer (torch.optim's own classes are library source, not shown)
    torch_factory = to.COURSE_EQUIVALENTS.get(spec.name) or to.make_optimizer
    torch_source: tuple[object, ...] = (torch_factory, train_step)
    if spec.batch_size is not None:
        torch_source += (to.PermutationSampler, to.make_loader)
    if spec.decay is not None:
        torch_source += (to.inverse_time_decay,)
    scratch_source: tuple[object, ...] = (getattr(so, spec.name), SCRATCH_CORE[spec.name])
    if spec.batch_size is not None:
        scratch_source += (smb.random_mini_batches, smb.partition_mini_batches)
    if spec.decay is not None:
        scratch_source += (so.schedule_lr_decay,)
    notes = NOTES[spec.name]
    if spec.schedule is not None:
        scratch_source += (getattr(so, spec.schedule.name),)
        torch_source += (to.make_scheduler, Excerpt(TorchOptimTrainer._next_batch, ("self.scheduler.step(",)))
        notes = f"{SCHEDULE_NOTES[spec.schedule.name]} {notes}"
    dev = spec.schedule is not None and spec.schedule.name == "ReduceLROnPlateau"
    register(Case(
        concept="optim",
        variant=variant,
        summary=summary,
        make_problem=lambda seed, dtype: make_problem(seed, dtype, m=m, dev=dev),
        scratch=lambda problem: ScratchOptimTrainer(problem, spec),
        torch=lambda problem, device: TorchOptimTrainer(problem, device, spec),
        gradient_check=check_gradients,
        equations=EQUATIONS[spec.name],
        notes=notes,
        scratch_source=scratch_source,
        torch_source=torch_source,
        stages=optim_stages(spec),
        notebook=variant == NOTEBOOK_VARIANT,
    ))


for _variant, (_summary, _spec) in VARIANTS.items():
    _register(_variant, _summary, _spec)
