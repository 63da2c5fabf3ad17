"""Regularization as in the lectures: L2, L1, inverted dropout and early stopping, in the course's layout.

Built on :mod:`scratch.deep_net` (``loss_and_grads`` for the data term, ``linear_forward`` /
``linear_backward`` for the dropout network). ``X`` is ``(n_x, m)``, ``W[l]`` is ``(n_l, n_{l-1})``,
biases are not regularized (the course's convention, and the usual torch set-up with parameter groups).

L2 ("weight decay")::

    J_reg = J + lambda / (2 m) * sum_l ||W[l]||_F^2        dW[l] += lambda / m * W[l]

L1::

    J_reg = J + lambda / m * sum_l sum |W[l]|              dW[l] += lambda / m * sign(W[l])

with the subgradient ``sign(0) = 0`` (``torch.sign`` and autograd's ``abs`` backward use the same).

Inverted dropout in every hidden layer (training only; evaluation uses the plain network)::

    D[l] ~ Bernoulli(keep_prob)  (n_l, m)     A[l] = g(Z[l]) * D[l] / keep_prob
    backward: dA[l] = dA[l] * D[l] / keep_prob, then dZ[l] = dA[l] * g'(Z[l])

Dividing by ``keep_prob`` keeps ``E[A[l]]`` unchanged, so nothing needs rescaling at test time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import scratch.deep_net as deep_net
from scratch.activations import relu, relu_derivative, sigmoid, tanh, tanh_derivative
from scratch.logistic_regression import cost_from_logits
from scratch.validation import check_in_range, check_nonnegative, check_positive_int, check_shape, float_inputs

HIDDEN: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "relu": (relu, relu_derivative),
    "tanh": (tanh, tanh_derivative),
}


def _weights(params: dict[str, np.ndarray]) -> list[str]:
    return sorted((k for k in params if k.startswith("W")), key=lambda k: int(k[1:]))


@float_inputs(params=2)
def l2_cost(params: dict[str, np.ndarray], lambd: float, m: int) -> float:
    """``lambda / (2 m) * sum_l ||W[l]||_F^2`` (biases excluded)."""
    check_nonnegative("lambd", lambd)
    check_positive_int("m", m)
    return lambd / (2 * m) * sum(float(np.sum(np.square(params[k]))) for k in _weights(params))


@float_inputs(params=2)
def l2_grads(params: dict[str, np.ndarray], lambd: float, m: int) -> dict[str, np.ndarray]:
    """``{"dW1": lambda / m * W1, ...}``: the gradient of :func:`l2_cost`."""
    check_nonnegative("lambd", lambd)
    return {f"d{k}": (lambd / m) * params[k] for k in _weights(params)}


@float_inputs(params=2)
def l1_cost(params: dict[str, np.ndarray], lambd: float, m: int) -> float:
    """``lambda / m * sum_l sum_ij |W[l]_ij|`` (biases excluded)."""
    check_nonnegative("lambd", lambd)
    check_positive_int("m", m)
    return lambd / m * sum(float(np.sum(np.abs(params[k]))) for k in _weights(params))


@float_inputs(params=2)
def l1_grads(params: dict[str, np.ndarray], lambd: float, m: int) -> dict[str, np.ndarray]:
    """``{"dW1": lambda / m * sign(W1), ...}``, the subgradient with ``sign(0) = 0`` as torch."""
    check_nonnegative("lambd", lambd)
    return {f"d{k}": (lambd / m) * np.sign(params[k]) for k in _weights(params)}


@float_inputs(params=2, X=2, Y=2)
def regularized_loss_and_grads(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, *,
                               hidden_activation: str = "relu", l2: float = 0.0, l1: float = 0.0
                               ) -> tuple[float, dict[str, np.ndarray]]:
    """``deep_net.loss_and_grads`` plus the L2 and/or L1 terms: ``(J_reg, grads)``."""
    cost, grads = deep_net.loss_and_grads(params, X, Y, hidden_activation=hidden_activation)
    return add_penalties(cost, grads, params, X.shape[1], l2=l2, l1=l1)


def add_penalties(cost: float, grads: dict[str, np.ndarray], params: dict[str, np.ndarray], m: int, *,
                  l2: float = 0.0, l1: float = 0.0) -> tuple[float, dict[str, np.ndarray]]:
    """``(J + L2 and/or L1 terms, grads + their gradients)`` for a data term ``J`` and its ``grads``.

    Returns a new gradient dict; ``grads`` is left as it was (the data term's gradients).
    """
    check_nonnegative("l2", l2)
    check_nonnegative("l1", l1)
    cost = float(cost)
    total = dict(grads)
    for lambd, penalty, penalty_grads in ((l2, l2_cost, l2_grads), (l1, l1_cost, l1_grads)):
        if lambd > 0:
            cost += penalty(params, lambd, m)
            for name, extra in penalty_grads(params, lambd, m).items():
                total[name] = total[name] + extra
    return cost, total


# --- inverted dropout ---------------------------------------------------------------------------------

def dropout_mask(rng: np.random.Generator, shape: tuple[int, int], keep_prob: float, dtype: np.dtype | type
                 ) -> np.ndarray:
    """``D`` with entries 1 (kept, probability ``keep_prob``) or 0, in ``dtype``: ``rng.random(shape) < kp``."""
    check_in_range("keep_prob", keep_prob, 0.0, 1.0, low_open=True)
    return (rng.random(shape) < keep_prob).astype(dtype)


@float_inputs(A=2, D=2)
def dropout_forward(A: np.ndarray, D: np.ndarray, keep_prob: float) -> np.ndarray:
    """``A * D / keep_prob`` (the course's two lines ``A = A * D; A = A / keep_prob``)."""
    return A * D / keep_prob


@float_inputs(dA=2, D=2)
def dropout_backward(dA: np.ndarray, D: np.ndarray, keep_prob: float) -> np.ndarray:
    """The same mask and scale on the way back: ``dA * D / keep_prob``."""
    return dA * D / keep_prob


def draw_dropout_masks(rng: np.random.Generator, layer_dims: list[int], m: int, keep_prob: float,
                       dtype: np.dtype | type) -> dict[str, np.ndarray]:
    """One mask ``D{l}`` of shape ``(n_l, m)`` per hidden layer ``l = 1 .. L-1``."""
    hidden = range(1, len(layer_dims) - 1)
    return {f"D{layer}": dropout_mask(rng, (layer_dims[layer], m), keep_prob, dtype) for layer in hidden}


@float_inputs(params=2, X=2, Y=2, masks=2)
def dropout_loss_and_grads(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                           masks: dict[str, np.ndarray], *, keep_prob: float, hidden_activation: str = "relu"
                           ) -> tuple[float, dict[str, np.ndarray]]:
    """Forward with inverted dropout after every hidden activation, sigmoid/BCE output, and backward.

    ``masks["D{l}"]`` is ``(n_l, m)`` for each hidden layer; the output layer is never dropped. Inputs are
    validated as :func:`deep_net.loss_and_grads` validates them, plus the masks' names and shapes.
    Composes ``deep_net.linear_forward`` / ``linear_backward`` (which averages ``dW``, ``db`` over ``m``).
    """
    check_in_range("keep_prob", keep_prob, 0.0, 1.0, low_open=True)
    if hidden_activation not in HIDDEN:
        raise ValueError(f"hidden_activation must be one of {sorted(HIDDEN)}, got {hidden_activation!r}")
    deep_net.check_inputs(X, params, hidden_activation, Y)
    L = len(_weights(params))
    for layer in range(1, L):
        name = f"D{layer}"
        if name not in masks:
            raise ValueError(f"masks is missing {name!r} (one mask per hidden layer, D1 .. D{L - 1})")
        check_shape(f"masks[{name!r}]", masks[name], (params[f"W{layer}"].shape[0], X.shape[1]))
    ZL, caches = dropout_model_logits(params, X, masks, keep_prob=keep_prob, hidden_activation=hidden_activation)
    cost = float(cost_from_logits(ZL, Y))
    return cost, dropout_model_backward(sigmoid(ZL) - Y, caches, masks, keep_prob=keep_prob,
                                        hidden_activation=hidden_activation)


@float_inputs(params=2, X=2, masks=2)
def dropout_model_logits(params: dict[str, np.ndarray], X: np.ndarray, masks: dict[str, np.ndarray], *,
                         keep_prob: float, hidden_activation: str = "relu"
                         ) -> tuple[np.ndarray, list[deep_net.LayerCache]]:
    """Logits ``Z{L}`` and the L caches ``((A_prev, W, b), Z)`` of the forward pass with inverted dropout.

    ``A_prev`` of layer ``l`` is the dropped activation ``g(Z{l-1}) * D{l-1} / keep_prob``. Not validated.
    """
    g, _ = HIDDEN[hidden_activation]
    L = len(_weights(params))
    A, caches = X, []
    for layer in range(1, L):
        Z, linear_cache = deep_net.linear_forward(A, params[f"W{layer}"], params[f"b{layer}"])
        A = dropout_forward(g(Z), masks[f"D{layer}"], keep_prob)
        caches.append((linear_cache, Z))
    ZL, output_cache = deep_net.linear_forward(A, params[f"W{L}"], params[f"b{L}"])
    caches.append((output_cache, ZL))
    return ZL, caches


@float_inputs(dZL=2, masks=2)
def dropout_model_backward(dZL: np.ndarray, caches: list[deep_net.LayerCache], masks: dict[str, np.ndarray], *,
                           keep_prob: float, hidden_activation: str = "relu") -> dict[str, np.ndarray]:
    """``{"dW1", "db1", ..., "dWL", "dbL"}`` from ``dZ{L}`` back through :func:`dropout_model_logits`' caches."""
    _, g_prime = HIDDEN[hidden_activation]
    L = len(caches)
    grads: dict[str, np.ndarray] = {}
    dA, grads[f"dW{L}"], grads[f"db{L}"] = deep_net.linear_backward(dZL, caches[-1][0])
    for layer in range(L - 1, 0, -1):
        linear_cache, Z = caches[layer - 1]
        dZ = dropout_backward(dA, masks[f"D{layer}"], keep_prob) * g_prime(Z)
        dA, grads[f"dW{layer}"], grads[f"db{layer}"] = deep_net.linear_backward(dZ, linear_cache)
    return grads


# --- early stopping -----------------------------------------------------------------------------------

class EarlyStopping:
    """Track the dev loss once per epoch; stop after ``patience`` epochs without improvement.

    An epoch improves when ``dev_loss < best - min_delta``. The parameters of the best epoch are kept
    (copied) and :attr:`best_params` gives them back when training stops ("restore best").
    """

    def __init__(self, *, patience: int, min_delta: float = 0.0):
        check_positive_int("patience", patience)
        check_nonnegative("min_delta", min_delta)
        self.patience, self.min_delta = patience, min_delta
        self.best_loss = np.inf
        self.best_epoch = -1
        self.best_params: dict[str, np.ndarray] = {}
        self.epochs_without_improvement = 0
        self.stopped_epoch: int | None = None

    def update(self, epoch: int, dev_loss: float, params: dict[str, np.ndarray]) -> bool:
        """Record ``epoch``'s dev loss (after its update); returns True when training should stop."""
        if not np.isfinite(dev_loss):
            raise ValueError(f"dev_loss must be finite, got {dev_loss!r} at epoch {epoch}")
        if dev_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = float(dev_loss), epoch
            self.best_params = {k: np.array(v, copy=True) for k, v in params.items()}
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        if self.epochs_without_improvement >= self.patience:
            self.stopped_epoch = epoch
        return self.stopped_epoch is not None
