"""Optimizers from scratch, step for step the same as ``torch.optim`` (CPU, single-tensor path).

Every optimizer has one interface, modelled on ``torch.optim``:

- constructed from the parameter dict ``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}`` with keyword-only
  hyperparameters carrying torch's names and defaults, validated on construction;
- ``step(params, grads)`` updates ``params`` in place from ``grads = {"dW1": ..., "db1": ...}`` (the
  course's gradient names);
- per-parameter state is created lazily on the first step (Adagrad: on construction, as torch does) under
  torch's keys (``momentum_buffer``, ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``,
  ``square_avg``, ``grad_avg``, ``sum``) and is inspected with ``state_dict()``; ``torch_state(name)`` and
  ``step_count(name)`` give one parameter's arrays and update count in torch's terms (also for the course
  formulations), which is what the harness compares.

The arithmetic lives in plain functions (``sgd_step``, ``adam_step``, ...) that read like the math in
torch's docstrings, in the same operation order as torch's ``_single_tensor_*`` functions. The details
that break naive ports, all taken from the installed ``torch/optim/*.py``:

- SGD's momentum buffer starts as the first gradient (not zeros, and without the ``1 - dampening``);
- RMSprop, Adam and Adagrad add ``eps`` *after* the square root;
- Adam's bias corrections use the step count after incrementing (the first step is ``t = 1``);
- Adagrad decays with ``lr / (1 + (step - 1) * lr_decay)``, so the first step uses ``lr`` itself;
- AMSGrad keeps the running maximum of ``exp_avg_sq`` and divides by it (bias-corrected with ``t``);
- AdamW multiplies the parameter by ``1 - lr * weight_decay`` before the Adam update (decoupled);
  NAdam and RAdam do the same with ``decoupled_weight_decay=True``;
- Adadelta adds ``eps`` *inside* both square roots; Adamax adds it to ``|g|`` before the running max;
- NAdam keeps ``mu_product`` in torch's default dtype (float32), also for float64 parameters;
- RAdam switches from momentum SGD to the rectified Adam step once ``rho_t > 5``.

The schedules (``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``, ``OneCycleLR``,
``ReduceLROnPlateau``) follow ``torch.optim.lr_scheduler``'s recursive ``get_lr`` forms, so the learning
rate is the same float on both sides at every step.

The course's formulations (momentum as an exponential average ``v = beta v + (1 - beta) dW``, RMSprop and
Adam as written in the lectures) are the ``*Course`` classes; each states its exact torch equivalent.

One deliberate difference in validation: ``lr`` must be > 0. torch accepts ``lr = 0`` (a run in which the
parameters never move); here it is rejected as the mistake it always is in this suite.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from scratch.validation import (
    check_in_range,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_updatable,
    checked_inputs,
    updates_in_place,
)

Params = dict[str, np.ndarray]
State = dict[str, Any]


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``start + weight (end - start)`` in place, with ``torch.lerp``'s choice of formula for the weight.

    torch's CPU kernel evaluates the multiply-add fused (one rounding, ``fma(weight - 1, end - start, end)``
    for weights >= 0.5); NumPy has no fused multiply-add, so about one entry in five is one ulp apart. That
    is rounding, and tests/test_optim_properties.py measures how much a trajectory can amplify it.
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
    return start


# --------------------------------------------------------------------------------------------------
# The functional cores: one parameter, its gradient and its state; ``param`` and state update in place.
# --------------------------------------------------------------------------------------------------

@updates_in_place("param", same_shape="grad")
def sgd_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, momentum: float, dampening: float,
             weight_decay: float, nesterov: bool) -> None:
    """SGD with momentum, as ``torch.optim.SGD``::

        g = grad + weight_decay * param
        b = g                                   (first step: the buffer is seeded with the gradient)
        b = momentum * b + (1 - dampening) * g  (later steps)
        g = g + momentum * b  if nesterov  else  b
        param = param - lr * g
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = grad.copy()
        else:
            buf *= momentum
            buf += (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad


@updates_in_place("param", same_shape="grad")
def rmsprop_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, alpha: float, eps: float,
                 weight_decay: float, momentum: float, centered: bool) -> None:
    """RMSprop, as ``torch.optim.RMSprop`` (eps outside the square root)::

        g = grad + weight_decay * param
        square_avg = alpha * square_avg + (1 - alpha) * g^2
        grad_avg = alpha * grad_avg + (1 - alpha) * g                 (centered only)
        avg = sqrt(square_avg - grad_avg^2) + eps  if centered  else  sqrt(square_avg) + eps
        buf = momentum * buf + g / avg;  param = param - lr * buf      (momentum > 0)
        param = param - lr * g / avg                                   (momentum = 0)
    """
    state["step"] += 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg = state["square_avg"]
    square_avg *= alpha
    square_avg += (1 - alpha) * grad * grad
    if centered:
        grad_avg = _lerp(state["grad_avg"], grad, 1 - alpha)
        avg = np.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += eps
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf *= momentum
        buf += grad / avg
        param -= lr * buf
    else:
        param += (-lr * grad) / avg


@updates_in_place("param", same_shape="grad")
def adagrad_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, lr_decay: float,
                 weight_decay: float, eps: float) -> None:
    """Adagrad, as ``torch.optim.Adagrad``::

        t = t + 1
        g = grad + weight_decay * param
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g^2
        param = param - clr * g / (sqrt(sum) + eps)
    """
    state["step"] += 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    state["sum"] += grad * grad
    std = np.sqrt(state["sum"])
    std += eps
    param += (-clr * grad) / std


@updates_in_place("param", same_shape="grad")
def decay_and_moments(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float,
                      betas: tuple[float, float], weight_decay: float, decoupled_weight_decay: bool
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first half of Adam, NAdam and RAdam (torch repeats it in each); returns ``(g, exp_avg, exp_avg_sq)``::

        param = param * (1 - lr * weight_decay)  (decoupled)   or   g = grad + weight_decay * param
        exp_avg = beta1 * exp_avg + (1 - beta1) * g
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g^2
    """
    beta1, beta2 = betas
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    _lerp(exp_avg, grad, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    return grad, exp_avg, exp_avg_sq


@updates_in_place("param", same_shape="grad")
def adam_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, betas: tuple[float, float],
              eps: float, weight_decay: float, amsgrad: bool, decoupled_weight_decay: bool) -> None:
    """Adam (``decoupled_weight_decay=True``: AdamW), as ``torch.optim.Adam``::

        t = t + 1
        param = param * (1 - lr * weight_decay)          (AdamW)   or   g = grad + weight_decay * param (Adam)
        exp_avg = beta1 * exp_avg + (1 - beta1) * g
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g^2
        max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)  (amsgrad; then used instead of exp_avg_sq)
        denom = sqrt(exp_avg_sq) / sqrt(1 - beta2^t) + eps
        param = param - lr / (1 - beta1^t) * exp_avg / denom
    """
    beta1, beta2 = betas
    state["step"] += 1
    step = state["step"]
    grad, exp_avg, exp_avg_sq = decay_and_moments(param, grad, state, lr=lr, betas=betas, weight_decay=weight_decay,
                                                  decoupled_weight_decay=decoupled_weight_decay)
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    step_size = lr / bias_correction1
    if amsgrad:
        np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
        second_moment = state["max_exp_avg_sq"]
    else:
        second_moment = exp_avg_sq
    denom = np.sqrt(second_moment) / bias_correction2_sqrt
    denom += eps
    param += (-step_size * exp_avg) / denom


@updates_in_place("param", same_shape="grad")
def adadelta_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, rho: float, eps: float,
                  weight_decay: float) -> None:
    """Adadelta, as ``torch.optim.Adadelta`` (eps *inside* both square roots, unlike Adam)::

        g = grad + weight_decay * param
        square_avg = rho * square_avg + (1 - rho) * g^2
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta^2
        param = param - lr * delta
    """
    state["step"] += 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    square_avg *= rho
    square_avg += (1 - rho) * grad * grad
    std = np.sqrt(square_avg + eps)
    delta = np.sqrt(acc_delta + eps)
    delta /= std
    delta *= grad
    acc_delta *= rho
    acc_delta += (1 - rho) * delta * delta
    param -= lr * delta


@updates_in_place("param", same_shape="grad")
def adamax_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, betas: tuple[float, float],
                eps: float, weight_decay: float) -> None:
    """Adamax, as ``torch.optim.Adamax`` (the infinity-norm Adam; eps added to ``|g|`` before the max)::

        t = t + 1
        g = grad + weight_decay * param
        exp_avg = beta1 * exp_avg + (1 - beta1) * g
        exp_inf = max(beta2 * exp_inf, |g| + eps)
        param = param - lr / (1 - beta1^t) * exp_avg / exp_inf
    """
    beta1, beta2 = betas
    state["step"] += 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
    _lerp(exp_avg, grad, 1 - beta1)
    exp_inf *= beta2
    np.maximum(exp_inf, np.abs(grad) + eps, out=exp_inf)
    clr = lr / (1 - beta1 ** state["step"])
    param += (-clr * exp_avg) / exp_inf


#: torch keeps NAdam's ``mu_product`` as a 0-d tensor of its *default* dtype (float32 unless
#: ``torch.set_default_dtype(torch.float64)``), also for float64 parameters, and multiplies it in that
#: dtype. Keeping it in float64 here would differ from torch by ~1e-8 relative after the first steps.
MU_PRODUCT_DTYPE = np.float32


def nadam_momentum(beta1: float, step: int, momentum_decay: float) -> float:
    """NAdam's momentum schedule ``mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay))`` (Dozat 2016)."""
    return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))


@updates_in_place("param", same_shape="grad")
def nadam_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, betas: tuple[float, float],
               eps: float, weight_decay: float, momentum_decay: float, decoupled_weight_decay: bool) -> None:
    """NAdam, as ``torch.optim.NAdam`` (Nesterov momentum with a decaying ``mu_t``)::

        t = t + 1
        param = param * (1 - lr * weight_decay)  (decoupled)   or   g = grad + weight_decay * param
        mu_t = nadam_momentum(beta1, t),  mu_{t+1} = nadam_momentum(beta1, t + 1)
        mu_product = mu_product * mu_t                                 (in MU_PRODUCT_DTYPE, as torch)
        exp_avg = beta1 * exp_avg + (1 - beta1) * g
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g^2
        denom = sqrt(exp_avg_sq / (1 - beta2^t)) + eps
        param = param - lr (1 - mu_t) / (1 - mu_product) * g / denom
                      - lr mu_{t+1} / (1 - mu_product * mu_{t+1}) * exp_avg / denom
    """
    beta1, beta2 = betas
    state["step"] += 1
    step = state["step"]
    bias_correction2 = 1 - beta2**step
    mu = nadam_momentum(beta1, step, momentum_decay)
    mu_next = nadam_momentum(beta1, step + 1, momentum_decay)
    state["mu_product"] = MU_PRODUCT_DTYPE(state["mu_product"]) * MU_PRODUCT_DTYPE(mu)
    mu_product = float(state["mu_product"])
    grad, exp_avg, exp_avg_sq = decay_and_moments(param, grad, state, lr=lr, betas=betas, weight_decay=weight_decay,
                                                  decoupled_weight_decay=decoupled_weight_decay)
    denom = np.sqrt(exp_avg_sq / bias_correction2)
    denom += eps
    mu_product_next = mu_product * mu_next
    param += (-lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
    param += ((-lr * mu_next) / (1.0 - mu_product_next)) * exp_avg / denom


#: RAdam applies its variance rectification only where the approximated SMA length exceeds this
#: (torch and the paper use 5; below it the update is bias-corrected momentum SGD).
RADAM_RHO_THRESHOLD = 5.0


def radam_rectification(rho_t: float, rho_inf: float) -> float:
    """``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))`` (Liu et al. 2020)."""
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


@updates_in_place("param", same_shape="grad")
def radam_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, betas: tuple[float, float],
               eps: float, weight_decay: float, decoupled_weight_decay: bool) -> None:
    """RAdam, as ``torch.optim.RAdam``::

        t = t + 1
        param = param * (1 - lr * weight_decay)  (decoupled)   or   g = grad + weight_decay * param
        exp_avg, exp_avg_sq as in Adam;  m_hat = exp_avg / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1;   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        rho_t > 5:  param = param - m_hat * lr * sqrt(1 - beta2^t) / (sqrt(exp_avg_sq) + eps) * r_t
        otherwise:  param = param - m_hat * lr
    """
    beta1, beta2 = betas
    state["step"] += 1
    step = state["step"]
    grad, exp_avg, exp_avg_sq = decay_and_moments(param, grad, state, lr=lr, betas=betas, weight_decay=weight_decay,
                                                  decoupled_weight_decay=decoupled_weight_decay)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    bias_corrected_exp_avg = exp_avg / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    if rho_t > RADAM_RHO_THRESHOLD:
        denom = np.sqrt(exp_avg_sq)
        denom += eps
        adaptive_lr = (bias_correction2**0.5) / denom
        param -= bias_corrected_exp_avg * lr * adaptive_lr * radam_rectification(rho_t, rho_inf)
    else:
        param -= bias_corrected_exp_avg * lr


# --------------------------------------------------------------------------------------------------
# The course's formulations, written as the lectures write them.
# --------------------------------------------------------------------------------------------------

@updates_in_place("param", same_shape="grad")
def momentum_course_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, beta: float) -> None:
    """The course's momentum: ``v = beta v + (1 - beta) dW`` (v starts at 0), ``W = W - lr v``."""
    state["v"] = beta * state["v"] + (1 - beta) * grad
    param -= lr * state["v"]


@updates_in_place("param", same_shape="grad")
def rmsprop_course_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, beta: float,
                        epsilon: float) -> None:
    """The course's RMSprop: ``s = beta s + (1 - beta) dW^2``, ``W = W - lr dW / (sqrt(s) + epsilon)``."""
    state["s"] = beta * state["s"] + (1 - beta) * np.square(grad)
    param -= lr * grad / (np.sqrt(state["s"]) + epsilon)


@updates_in_place("param", same_shape="grad")
def adam_course_step(param: np.ndarray, grad: np.ndarray, state: State, *, lr: float, beta1: float,
                     beta2: float, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """The course's Adam; returns ``(v_corrected, s_corrected)`` as the course's function does::

        v = beta1 v + (1 - beta1) dW,    v_corrected = v / (1 - beta1^t)
        s = beta2 s + (1 - beta2) dW^2,  s_corrected = s / (1 - beta2^t)
        W = W - lr v_corrected / (sqrt(s_corrected) + epsilon)
    """
    state["t"] += 1
    t = state["t"]
    state["v"] = beta1 * state["v"] + (1 - beta1) * grad
    state["s"] = beta2 * state["s"] + (1 - beta2) * np.square(grad)
    v_corrected = state["v"] / (1 - beta1**t)
    s_corrected = state["s"] / (1 - beta2**t)
    param -= lr * v_corrected / (np.sqrt(s_corrected) + epsilon)
    return v_corrected, s_corrected


# --------------------------------------------------------------------------------------------------
# The uniform interface.
# --------------------------------------------------------------------------------------------------

def _check_params(params: Params) -> np.dtype:
    if not isinstance(params, dict) or not params:
        raise ValueError(f"params must be a non-empty dict of name -> numpy array, got {params!r:.80}")
    dtypes = set()
    for name, value in params.items():
        check_updatable(f"params[{name!r}]", value)
        dtypes.add(value.dtype)
    if len(dtypes) > 1:
        raise ValueError(f"params must share one dtype, got {sorted(str(d) for d in dtypes)}")
    return dtypes.pop()


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")



def _torch_entry(entries: Mapping[str, np.ndarray], name: str, key: str) -> np.ndarray:
    if key not in entries:
        raise ValueError(f"torch state for {name!r} has no {key!r} (it has {sorted(entries)})")
    return np.asarray(entries[key])


class Optimizer:
    """Base class: parameter bookkeeping, lazy state, ``step`` and ``state_dict``.

    A subclass sets ``hyper`` (its hyperparameters, torch's names), implements ``_init_state`` (the state
    of one parameter, created on its first step) and ``_update`` (one parameter's update, a call of its
    functional core).
    """

    #: Keys of per-parameter state holding arrays shaped like the parameter (``step`` is a count).
    array_keys: ClassVar[tuple[str, ...]] = ()
    lazy_state: ClassVar[bool] = True

    def __init__(self, params: Params, hyper: dict[str, Any]):
        self.dtype = _check_params(params)
        self.shapes = {name: value.shape for name, value in params.items()}
        self.hyper = hyper
        self.state: dict[str, State] = {}
        if not self.lazy_state:
            self.state = {name: self._init_state(value) for name, value in params.items()}

    @property
    def lr(self) -> float:
        return self.hyper["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        check_positive("lr", value)
        self.hyper["lr"] = value

    def set_scheduled_lr(self, value: float) -> None:
        """Set ``lr`` from a schedule, which may legitimately reach 0 (``CosineAnnealingLR(eta_min=0)``)."""
        check_nonnegative("lr", value)
        self.hyper["lr"] = value

    def _init_state(self, param: np.ndarray) -> State:
        raise NotImplementedError

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        raise NotImplementedError

    def step(self, params: Params, grads: Params) -> None:
        """Update every ``params[name]`` in place from ``grads["d" + name]`` (shapes as at construction)."""
        if params.keys() != self.shapes.keys():
            raise ValueError(f"params must have the names {sorted(self.shapes)}, got {sorted(params)}")
        for name, param in params.items():
            grad = grads.get("d" + name)
            if grad is None:
                raise ValueError(f"grads is missing 'd{name}' (expected the keys d<name> for {sorted(params)})")
            if grad.shape != param.shape or param.shape != self.shapes[name]:
                raise ValueError(f"grads['d{name}'] has shape {grad.shape}; params[{name!r}] has shape "
                                 f"{param.shape}, expected {self.shapes[name]}")
            state = self.state.get(name)
            if state is None:
                state = self.state[name] = self._init_state(param)
            with checked_inputs():  # params were checked at construction, names and shapes just above
                self._update(param, grad, state)

    def state_dict(self) -> dict[str, Any]:
        """Copies of ``{"state": {name: {key: value}}, "param_groups": [{hyper..., "params": [names]}]}``."""
        state = {name: {key: np.array(value, copy=True) if isinstance(value, np.ndarray) else value
                        for key, value in per_param.items()}
                 for name, per_param in self.state.items()}
        return {"state": state, "param_groups": [{**self.hyper, "params": list(self.shapes)}]}

    def torch_state(self, name: str) -> dict[str, np.ndarray]:
        """This parameter's state arrays under torch's keys and conventions (used for the comparison)."""
        return {key: value for key, value in self.state.get(name, {}).items() if key in self.array_keys}

    def load_torch_state(self, name: str, entries: Mapping[str, np.ndarray]) -> None:
        """Continue from torch's state arrays for parameter ``name``: the inverse of :meth:`torch_state`.

        ``entries`` must hold every key :meth:`torch_state` reports (others, such as ``step``, are ignored:
        the counts are equal by construction). Used after a kink crossing, when the scratch side adopts
        torch's point: its momentum or moments carry the crossing step's gradient otherwise.
        """
        for key in self.torch_state(name):
            value = _torch_entry(entries, name, key)
            current = self.state[name][key]
            if isinstance(current, np.ndarray) and current.ndim:
                current[...] = value
            else:  # a NumPy scalar such as NAdam's mu_product keeps its own dtype
                self.state[name][key] = np.asarray(current).dtype.type(value)

    def step_count(self, name: str) -> int | None:
        """Updates this parameter has had, where torch keeps that count (its ``state["step"]``), else None."""
        return self.state.get(name, {}).get("step")

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self.hyper.items())
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """``torch.optim.SGD``: plain, momentum (``dampening``), Nesterov, L2 ``weight_decay``."""

    array_keys = ("momentum_buffer",)

    def __init__(self, params: Params, *, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        check_positive("lr", lr)
        check_nonnegative("momentum", momentum)
        check_in_range("dampening", dampening, 0.0, 1.0)
        check_nonnegative("weight_decay", weight_decay)
        _check_flag("nesterov", nesterov)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"nesterov=True requires momentum > 0 and dampening = 0, got momentum={momentum!r}, "
                             f"dampening={dampening!r}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _init_state(self, param: np.ndarray) -> State:
        return {}  # the momentum buffer is created from the first gradient

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        sgd_step(param, grad, state, **self.hyper)


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: ``alpha`` average of g^2, optional ``centered``, ``momentum``, ``weight_decay``."""

    array_keys = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: Params, *, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        check_positive("lr", lr)
        check_in_range("alpha", alpha, 0.0, 1.0)
        check_nonnegative("eps", eps)
        check_nonnegative("weight_decay", weight_decay)
        check_nonnegative("momentum", momentum)
        _check_flag("centered", centered)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _init_state(self, param: np.ndarray) -> State:
        state: State = {"step": 0, "square_avg": np.zeros_like(param)}
        if self.hyper["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if self.hyper["centered"]:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        rmsprop_step(param, grad, state, **self.hyper)


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``: per-entry ``sum`` of g^2 (from ``initial_accumulator_value``), ``lr_decay``."""

    array_keys = ("sum",)
    lazy_state = False  # torch creates Adagrad's state in its constructor

    def __init__(self, params: Params, *, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        check_positive("lr", lr)
        check_nonnegative("lr_decay", lr_decay)
        check_nonnegative("weight_decay", weight_decay)
        check_nonnegative("initial_accumulator_value", initial_accumulator_value)
        check_nonnegative("eps", eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _init_state(self, param: np.ndarray) -> State:
        return {"step": 0, "sum": np.full_like(param, self.hyper["initial_accumulator_value"])}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        h = self.hyper
        adagrad_step(param, grad, state, lr=h["lr"], lr_decay=h["lr_decay"], weight_decay=h["weight_decay"],
                     eps=h["eps"])


class Adam(Optimizer):
    """``torch.optim.Adam``: bias-corrected moments, L2 ``weight_decay`` added to the gradient, ``amsgrad``."""

    array_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled_weight_decay: ClassVar[bool] = False

    def __init__(self, params: Params, *, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        check_positive("lr", lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_in_range("betas[0]", betas[0], 0.0, 1.0, high_open=True)
        check_in_range("betas[1]", betas[1], 0.0, 1.0, high_open=True)
        check_nonnegative("eps", eps)
        check_nonnegative("weight_decay", weight_decay)
        _check_flag("amsgrad", amsgrad)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _init_state(self, param: np.ndarray) -> State:
        state: State = {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if self.hyper["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        adam_step(param, grad, state, **self.hyper, decoupled_weight_decay=self.decoupled_weight_decay)


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam with decoupled weight decay ``param *= 1 - lr * weight_decay`` (default 1e-2)."""

    decoupled_weight_decay = True

    def __init__(self, params: Params, *, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


def _check_betas(betas: object) -> tuple[float, float]:
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    check_in_range("betas[0]", betas[0], 0.0, 1.0, high_open=True)
    check_in_range("betas[1]", betas[1], 0.0, 1.0, high_open=True)
    return tuple(betas)


class Adadelta(Optimizer):
    """``torch.optim.Adadelta``: running averages of g^2 (``square_avg``) and of the update^2 (``acc_delta``)."""

    array_keys = ("square_avg", "acc_delta")

    def __init__(self, params: Params, *, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0):
        check_positive("lr", lr)
        check_in_range("rho", rho, 0.0, 1.0)
        check_nonnegative("eps", eps)
        check_nonnegative("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _init_state(self, param: np.ndarray) -> State:
        return {"step": 0, "square_avg": np.zeros_like(param), "acc_delta": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        adadelta_step(param, grad, state, **self.hyper)


class Adamax(Optimizer):
    """``torch.optim.Adamax``: Adam with the infinity norm ``exp_inf`` in place of ``sqrt(exp_avg_sq)``."""

    array_keys = ("exp_avg", "exp_inf")

    def __init__(self, params: Params, *, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        check_positive("lr", lr)
        betas = _check_betas(betas)
        check_nonnegative("eps", eps)
        check_nonnegative("weight_decay", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _init_state(self, param: np.ndarray) -> State:
        return {"step": 0, "exp_avg": np.zeros_like(param), "exp_inf": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        adamax_step(param, grad, state, **self.hyper)


class NAdam(Optimizer):
    """``torch.optim.NAdam``: Nesterov Adam with ``momentum_decay``; ``decoupled_weight_decay`` gives NAdamW.

    ``mu_product`` (the product of the momentum schedule) is a 0-d array in ``MU_PRODUCT_DTYPE``, compared
    with torch's state like the other arrays.
    """

    array_keys = ("exp_avg", "exp_avg_sq", "mu_product")

    def __init__(self, params: Params, *, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False):
        check_positive("lr", lr)
        betas = _check_betas(betas)
        check_nonnegative("eps", eps)
        check_nonnegative("weight_decay", weight_decay)
        check_nonnegative("momentum_decay", momentum_decay)
        _check_flag("decoupled_weight_decay", decoupled_weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, param: np.ndarray) -> State:
        return {"step": 0, "mu_product": MU_PRODUCT_DTYPE(1.0), "exp_avg": np.zeros_like(param),
                "exp_avg_sq": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        nadam_step(param, grad, state, **self.hyper)

    def torch_state(self, name: str) -> dict[str, np.ndarray]:
        state = super().torch_state(name)
        if "mu_product" in state:
            state["mu_product"] = np.asarray(state["mu_product"])
        return state


class RAdam(Optimizer):
    """``torch.optim.RAdam``: Adam with variance rectification once ``rho_t > 5``; ``decoupled_weight_decay``."""

    array_keys = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Params, *, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False):
        check_positive("lr", lr)
        betas = _check_betas(betas)
        check_nonnegative("eps", eps)
        check_nonnegative("weight_decay", weight_decay)
        _check_flag("decoupled_weight_decay", decoupled_weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, param: np.ndarray) -> State:
        return {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        radam_step(param, grad, state, **self.hyper)


class MomentumCourse(Optimizer):
    """The course's momentum ``v = beta v + (1 - beta) dW``, ``W = W - lr v`` (defaults: the course's model).

    Exactly ``torch.optim.SGD(lr=lr * (1 - beta), momentum=beta, dampening=0)`` with
    ``momentum_buffer = v / (1 - beta)``: dividing the recursion by ``1 - beta`` gives ``u = beta u + dW``
    from ``u = 0``, whose first value ``dW`` is torch's seeded buffer. The look-alike
    ``SGD(lr, momentum=beta, dampening=beta)`` is *not* equal: its buffer is seeded with ``dW`` instead of
    ``(1 - beta) dW``, so it stays ahead of ``v`` by ``beta^t dW_1`` after ``t`` steps.
    """

    array_keys = ("v",)

    def __init__(self, params: Params, *, lr: float = 0.0007, beta: float = 0.9):
        check_positive("lr", lr)
        check_in_range("beta", beta, 0.0, 1.0, high_open=True)
        super().__init__(params, dict(lr=lr, beta=beta))

    def _init_state(self, param: np.ndarray) -> State:
        return {"v": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        momentum_course_step(param, grad, state, **self.hyper)

    def torch_state(self, name: str) -> dict[str, np.ndarray]:
        if name not in self.state or self.hyper["beta"] == 0:  # SGD(momentum=0) keeps no buffer
            return {}
        return {"momentum_buffer": self.state[name]["v"] / (1 - self.hyper["beta"])}

    def load_torch_state(self, name: str, entries: Mapping[str, np.ndarray]) -> None:
        if self.torch_state(name):
            self.state[name]["v"][...] = _torch_entry(entries, name, "momentum_buffer") * (1 - self.hyper["beta"])


class RMSpropCourse(Optimizer):
    """The course's RMSprop ``s = beta s + (1 - beta) dW^2``, ``W = W - lr dW / (sqrt(s) + epsilon)``.

    Exactly ``torch.optim.RMSprop(lr=lr, alpha=beta, eps=epsilon)`` with ``square_avg = s``; only the
    defaults differ (the course's ``beta = 0.999`` against torch's ``alpha = 0.99``).
    """

    array_keys = ("s",)

    def __init__(self, params: Params, *, lr: float = 0.0007, beta: float = 0.999, epsilon: float = 1e-8):
        check_positive("lr", lr)
        check_in_range("beta", beta, 0.0, 1.0, high_open=True)
        check_nonnegative("epsilon", epsilon)
        super().__init__(params, dict(lr=lr, beta=beta, epsilon=epsilon))

    def _init_state(self, param: np.ndarray) -> State:
        return {"s": np.zeros_like(param), "t": 0}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        state["t"] += 1  # not used by the update; kept to line up with torch's state["step"]
        rmsprop_course_step(param, grad, state, **self.hyper)

    def torch_state(self, name: str) -> dict[str, np.ndarray]:
        return {"square_avg": self.state[name]["s"]} if name in self.state else {}

    def load_torch_state(self, name: str, entries: Mapping[str, np.ndarray]) -> None:
        if name in self.state:
            self.state[name]["s"][...] = _torch_entry(entries, name, "square_avg")

    def step_count(self, name: str) -> int | None:
        return self.state.get(name, {}).get("t")


class AdamCourse(Optimizer):
    """The course's Adam (bias-corrected ``v``, ``s``; ``t`` counts updates from 1).

    Exactly ``torch.optim.Adam(lr=lr, betas=(beta1, beta2), eps=epsilon)`` with ``exp_avg = v`` and
    ``exp_avg_sq = s``: torch's ``sqrt(s) / sqrt(1 - beta2^t) + eps`` is the course's
    ``sqrt(s_corrected) + epsilon`` rewritten, so only rounding differs.
    """

    array_keys = ("v", "s")

    def __init__(self, params: Params, *, lr: float = 0.0007, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8):
        check_positive("lr", lr)
        check_in_range("beta1", beta1, 0.0, 1.0, high_open=True)
        check_in_range("beta2", beta2, 0.0, 1.0, high_open=True)
        check_nonnegative("epsilon", epsilon)
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, epsilon=epsilon))

    def _init_state(self, param: np.ndarray) -> State:
        return {"t": 0, "v": np.zeros_like(param), "s": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: State) -> None:
        adam_course_step(param, grad, state, **self.hyper)

    def torch_state(self, name: str) -> dict[str, np.ndarray]:
        if name not in self.state:
            return {}
        return {"exp_avg": self.state[name]["v"], "exp_avg_sq": self.state[name]["s"]}

    def load_torch_state(self, name: str, entries: Mapping[str, np.ndarray]) -> None:
        if name in self.state:
            self.state[name]["v"][...] = _torch_entry(entries, name, "exp_avg")
            self.state[name]["s"][...] = _torch_entry(entries, name, "exp_avg_sq")

    def step_count(self, name: str) -> int | None:
        return self.state.get(name, {}).get("t")


# --------------------------------------------------------------------------------------------------
# The course's learning-rate decay (applied once per epoch).
# --------------------------------------------------------------------------------------------------

def update_lr(learning_rate0: float, epoch_num: int, decay_rate: float) -> float:
    """``lr = lr0 / (1 + decay_rate * epoch)``: the course's inverse-time decay, every epoch."""
    check_nonnegative("learning_rate0", learning_rate0)
    check_nonnegative("epoch_num", epoch_num)
    check_nonnegative("decay_rate", decay_rate)
    return learning_rate0 / (1 + decay_rate * epoch_num)


def schedule_lr_decay(learning_rate0: float, epoch_num: int, decay_rate: float, time_interval: int = 1000
                      ) -> float:
    """``lr = lr0 / (1 + decay_rate * floor(epoch / time_interval))``: the same decay in steps of
    ``time_interval`` epochs (the course's "fixed interval scheduling")."""
    if isinstance(time_interval, bool) or not isinstance(time_interval, (int, np.integer)) or time_interval < 1:
        raise ValueError(f"time_interval must be a positive integer, got {time_interval!r}")
    return update_lr(learning_rate0, epoch_num // time_interval, decay_rate)


# --------------------------------------------------------------------------------------------------
# torch.optim.lr_scheduler: the same recursions, evaluated in the same order (so the same floats).
# --------------------------------------------------------------------------------------------------

class LRScheduler:
    """Base of the schedules, as ``torch.optim.lr_scheduler.LRScheduler`` for one parameter group.

    Construction records ``base_lr`` (torch's ``initial_lr``) and takes the initial step (``last_epoch``
    goes from -1 to 0, ``get_lr`` returns the current lr); each ``step()`` afterwards increments
    ``last_epoch`` and sets ``optimizer``'s lr to ``get_lr()``. Call it after ``optimizer.step``, once per
    epoch or once per batch, as with torch. The recursive forms (``lr_new = lr * gamma``) are torch's
    ``get_lr``, not its closed forms: ``0.1 * 0.9 * 0.9`` and ``0.1 * 0.9**2`` differ in the last bit.
    Resuming from a ``last_epoch`` is not offered.
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a scratch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = -1
        self._initial = True
        self.step()
        self._initial = False

    def get_lr(self) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.set_scheduled_lr(self.get_lr())

    def get_last_lr(self) -> float:
        return self.optimizer.lr


class StepLR(LRScheduler):
    """``lr = lr * gamma`` every ``step_size`` epochs (torch's StepLR; closed form ``lr0 gamma^(e // k)``)."""

    def __init__(self, optimizer: Optimizer, *, step_size: int, gamma: float = 0.1):
        check_positive_int("step_size", step_size)
        check_positive("gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def get_lr(self) -> float:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self.optimizer.lr
        return self.optimizer.lr * self.gamma


class MultiStepLR(LRScheduler):
    """``lr = lr * gamma^k`` at each epoch listed ``k`` times in ``milestones`` (torch's MultiStepLR)."""

    def __init__(self, optimizer: Optimizer, *, milestones: Sequence[int], gamma: float = 0.1):
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence) or not milestones:
            raise ValueError(f"milestones must be a non-empty list of epochs, got {milestones!r}")
        for index, epoch in enumerate(milestones):
            check_positive_int(f"milestones[{index}]", epoch)
        check_positive("gamma", gamma)
        self.milestones, self.gamma = Counter(int(epoch) for epoch in milestones), gamma
        super().__init__(optimizer)

    def get_lr(self) -> float:
        if self.last_epoch not in self.milestones:
            return self.optimizer.lr
        return self.optimizer.lr * self.gamma ** self.milestones[self.last_epoch]


class ExponentialLR(LRScheduler):
    """``lr = lr * gamma`` every epoch (torch's ExponentialLR)."""

    def __init__(self, optimizer: Optimizer, *, gamma: float):
        check_positive("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> float:
        return self.optimizer.lr if self._initial else self.optimizer.lr * self.gamma


class CosineAnnealingLR(LRScheduler):
    """torch's CosineAnnealingLR: ``lr_e = eta_min + (lr0 - eta_min)(1 + cos(pi e / T_max)) / 2``, computed
    recursively as torch does::

        lr_e = (1 + cos(pi e / T)) / (1 + cos(pi (e - 1) / T)) * (lr_{e-1} - eta_min) + eta_min
        lr_e = lr_{e-1} + (lr0 - eta_min)(1 - cos(pi / T)) / 2      when (e - 1 - T) % 2T == 0

    (the second line is the restart from ``eta_min`` after each half period, where the ratio is 0/0).
    Past ``T_max`` the lr climbs back up: the cosine continues, as in torch.
    """

    def __init__(self, optimizer: Optimizer, *, T_max: int, eta_min: float = 0.0):
        check_positive_int("T_max", T_max)
        check_nonnegative("eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def get_lr(self) -> float:
        lr, e, T = self.optimizer.lr, self.last_epoch, self.T_max
        if self._initial:
            return lr
        if (e - 1 - T) % (2 * T) == 0:
            return lr + (self.base_lr - self.eta_min) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - self.eta_min) \
            + self.eta_min


def _anneal(start: float, end: float, pct: float, strategy: str) -> float:
    """OneCycleLR's interpolation from ``start`` (pct 0) to ``end`` (pct 1), cosine or linear, as torch."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """torch's OneCycleLR (Smith's 1cycle), stepped once per *batch* for ``total_steps`` batches.

    The lr starts at ``max_lr / div_factor``, anneals up to ``max_lr`` over the first ``pct_start`` of the
    steps, then down to ``initial_lr / final_div_factor`` (``three_phase``: back to the initial lr first).
    With ``cycle_momentum`` the momentum (SGD's ``momentum``, Adam-like ``betas[0]``) moves the opposite
    way between ``max_momentum`` and ``base_momentum``. Stepping past ``total_steps`` is an error, as in torch.
    """

    def __init__(self, optimizer: Optimizer, *, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False):
        check_positive("max_lr", max_lr)
        check_positive_int("total_steps", total_steps)
        check_in_range("pct_start", pct_start, 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        check_positive("div_factor", div_factor)
        check_positive("final_div_factor", final_div_factor)
        _check_flag("three_phase", three_phase)
        _check_flag("cycle_momentum", cycle_momentum)
        self.momentum_key = "betas" if "betas" in optimizer.hyper else "momentum"
        if cycle_momentum and self.momentum_key not in optimizer.hyper:
            raise ValueError(f"cycle_momentum=True needs an optimizer with momentum or betas, got {optimizer!r}")
        check_in_range("base_momentum", base_momentum, 0.0, 1.0)
        check_in_range("max_momentum", max_momentum, 0.0, 1.0)
        self.total_steps, self.strategy, self.cycle_momentum = total_steps, anneal_strategy, cycle_momentum
        self.lrs = {"initial": max_lr / div_factor, "max": max_lr}
        self.lrs["min"] = self.lrs["initial"] / final_div_factor
        self.momenta = {"max": max_momentum, "base": base_momentum}
        self.phases = self._phases(pct_start, three_phase)
        optimizer.set_scheduled_lr(self.lrs["initial"])
        if cycle_momentum:
            self._set_momentum(optimizer, max_momentum)
        super().__init__(optimizer)

    def _phases(self, pct_start: float, three_phase: bool) -> list[tuple[float, str, str, str, str]]:
        """(end_step, start lr, end lr, start momentum, end momentum) per phase, torch's end steps."""
        up = float(pct_start * self.total_steps) - 1
        if three_phase:
            return [(up, "initial", "max", "max", "base"),
                    (float(2 * pct_start * self.total_steps) - 2, "max", "initial", "base", "max"),
                    (self.total_steps - 1, "initial", "min", "max", "max")]
        return [(up, "initial", "max", "max", "base"), (self.total_steps - 1, "max", "min", "base", "max")]

    def _set_momentum(self, optimizer: Optimizer, value: float) -> None:
        if self.momentum_key == "betas":
            optimizer.hyper["betas"] = (value, *optimizer.hyper["betas"][1:])
        else:
            optimizer.hyper["momentum"] = value

    def get_lr(self) -> float:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR stepped {step} times; total_steps is {self.total_steps}")
        start_step = 0.0
        for index, (end_step, lr_from, lr_to, momentum_from, momentum_to) in enumerate(self.phases):
            if step <= end_step or index == len(self.phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                if self.cycle_momentum:
                    momentum = _anneal(self.momenta[momentum_from], self.momenta[momentum_to], pct, self.strategy)
                    self._set_momentum(self.optimizer, momentum)
                return _anneal(self.lrs[lr_from], self.lrs[lr_to], pct, self.strategy)
            start_step = end_step
        raise AssertionError("unreachable: the last phase always matches")


class ReduceLROnPlateau:
    """torch's ReduceLROnPlateau: ``step(metric)`` once per epoch with a dev-set loss (``mode="min"``).

    A metric is an improvement when ``metric < best * (1 - threshold)`` (``threshold_mode="rel"``) or
    ``metric < best - threshold`` (``"abs"``; ``mode="max"`` mirrors both). After more than ``patience``
    epochs without improvement: ``lr = max(lr * factor, min_lr)``, applied only if it lowers lr by more
    than ``eps``, then ``cooldown`` epochs in which bad epochs are not counted.
    A NaN or infinite metric is rejected here (torch counts it as one more bad epoch).
    """

    def __init__(self, optimizer: Optimizer, *, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                 eps: float = 1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a scratch.optim.Optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        check_in_range("factor", factor, 0.0, 1.0, high_open=True)
        check_nonnegative("patience", patience)
        check_nonnegative("threshold", threshold)
        check_nonnegative("cooldown", cooldown)
        check_nonnegative("min_lr", min_lr)
        check_nonnegative("eps", eps)
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.last_epoch, self.num_bad_epochs, self.cooldown_counter = 0, 0, 0

    def is_better(self, metric: float) -> bool:
        if self.mode == "min":
            return metric < (self.best * (1.0 - self.threshold) if self.threshold_mode == "rel"
                             else self.best - self.threshold)
        return metric > (self.best * (self.threshold + 1.0) if self.threshold_mode == "rel"
                         else self.best + self.threshold)

    def step(self, metric: float) -> None:
        current = float(metric)
        if not math.isfinite(current):
            raise ValueError(f"metric must be a finite number, got {metric!r}")
        self.last_epoch += 1
        if self.is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            old_lr = self.optimizer.lr
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.set_scheduled_lr(new_lr)
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self) -> float:
        return self.optimizer.lr
