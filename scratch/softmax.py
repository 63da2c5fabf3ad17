"""Multiclass output: softmax with cross-entropy, on top of the L-layer network of :mod:`scratch.deep_net`.

Shapes (examples are columns): logits ``Z`` are ``(K, m)`` for ``K`` classes; labels are integers in
``0..K-1`` of shape ``(1, m)`` (or ``(m,)``), or their one-hot ``(K, m)``.

    softmax(Z)[k, i]     = exp(Z[k, i] - c_i) / sum_j exp(Z[j, i] - c_i),   c_i = max_j Z[j, i]
    log_softmax(Z)[k, i] = (Z[k, i] - c_i) - log sum_j exp(Z[j, i] - c_i)
    J = -(1/m) sum_i log_softmax(Z)[y_i, i]

Subtracting the column maximum ``c_i`` changes nothing mathematically and keeps ``exp`` at arguments
<= 0 (no overflow for logits of 1e4, and the largest term is exactly 1, so no ``log(0)``). The cost is
taken in log-softmax form, never as ``log(softmax(Z))``: it is the formula ``nn.CrossEntropyLoss``
evaluates (``nll_loss(log_softmax(z))``, mean over the batch).

Model: ``[LINEAR -> g] x (L-1) -> LINEAR -> SOFTMAX`` with ``n_L = K``. Differentiating softmax and
cross-entropy together gives ``dZ{L} = softmax(Z{L}) - Y_onehot`` (``(K, m)``, for the summed loss, as
the course's ``dZ{L} = A{L} - Y`` of the sigmoid output); every layer below is unchanged, so the backward
pass is :func:`scratch.deep_net.L_model_backward` fed with these two arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import scratch.deep_net as dn
from scratch.validation import (
    check_array,
    check_finite,
    check_float_dtype,
    check_nonempty,
    check_positive_int,
    float_inputs,
)


@float_inputs(Z=2)
def softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise softmax of logits ``(K, m)``; each column sums to 1. Same shape and dtype as ``Z``."""
    check_array("Z", Z, ndim=2)
    shifted = Z - Z.max(axis=0, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=0, keepdims=True)
    return shifted


@float_inputs(Z=2)
def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise ``log softmax(Z)`` ``(K, m)`` without forming ``softmax`` (no ``log(0)``)."""
    check_array("Z", Z, ndim=2)
    shifted = Z - Z.max(axis=0, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    return shifted


def check_labels(name: str, labels: np.ndarray, n_classes: int, m: int | None = None) -> np.ndarray:
    """Integer class labels in ``0..n_classes-1``, shape ``(1, m)`` or ``(m,)``; returns them flat ``(m,)``."""
    check_array(name, labels)
    if labels.ndim not in (1, 2) or (labels.ndim == 2 and labels.shape[0] != 1):
        raise ValueError(f"{name} must be class labels of shape (1, m) or (m,), got shape {labels.shape}")
    flat = labels.reshape(-1)
    if m is not None and flat.size != m:
        raise ValueError(f"{name} must hold one label per example ({m}), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    bad = (flat < 0) | (flat >= n_classes)
    if bad.any():
        raise ValueError(f"{name} must hold labels in 0..{n_classes - 1}, found {np.unique(flat[bad])[:5].tolist()}")
    return flat


def check_one_hot(name: str, Y: np.ndarray) -> None:
    """A ``(K, m)`` array of 0s and 1s with exactly one 1 per column."""
    if not (np.isin(Y, (0, 1)).all() and (Y.sum(axis=0) == 1).all()):
        raise ValueError(f"{name} of shape {Y.shape} must be one-hot: 0/1 entries with exactly one 1 per column")


def one_hot(labels: np.ndarray, n_classes: int, dtype: np.dtype | type | str = np.float64) -> np.ndarray:
    """``(K, m)`` one-hot columns of integer ``labels`` ``(1, m)`` or ``(m,)``."""
    check_positive_int("n_classes", n_classes)
    flat = check_labels("labels", labels, n_classes)
    Y = np.zeros((n_classes, flat.size), dtype=dtype)
    Y[flat, np.arange(flat.size)] = 1
    return Y


def _label_indices(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Flat integer labels from ``Y`` given as labels ``(1, m)``/``(m,)`` or one-hot ``(K, m)``."""
    check_array("Y", Y)
    if Y.shape == Z.shape and Y.shape[0] > 1:
        check_one_hot("Y", Y)
        return Y.argmax(axis=0)
    return check_labels("Y", Y, Z.shape[0], Z.shape[1])


@float_inputs(Z=2)
def cross_entropy_from_logits(Z: np.ndarray, Y: np.ndarray) -> np.floating:
    """Mean cross-entropy J of logits ``Z`` ``(K, m)``; ``Y`` is integer labels or one-hot (see the module)."""
    check_array("Z", Z, ndim=2)
    check_nonempty("Z", Z)
    check_float_dtype("Z", Z)
    check_finite("Z", Z)
    return _cross_entropy(Z, _label_indices(Z, Y))


def _cross_entropy(Z: np.ndarray, labels: np.ndarray) -> np.floating:
    return -np.mean(log_softmax(Z)[labels, np.arange(labels.size)])


def check_inputs(X: np.ndarray, params: Mapping[str, np.ndarray], hidden_activation: str,
                 labels: np.ndarray | None = None) -> None:
    """``X`` ``(n_x, m)`` float and finite, ``W1 .. bL`` chained from ``n_x`` to K >= 2, labels in 0..K-1."""
    check_array("X", X, ndim=2)
    check_nonempty("X", X)
    check_float_dtype("X", X)
    check_finite("X", X)
    dn.check_parameters(params, X.shape[0], X.dtype, n_out=None)
    n_classes = params[f"W{dn.n_layers(params)}"].shape[0]
    if n_classes < 2:
        raise ValueError(f"a softmax output needs at least 2 classes (rows of the last W), got {n_classes}")
    dn.check_activation("hidden_activation", hidden_activation)
    if labels is not None:
        check_labels("labels", labels, n_classes, X.shape[1])


@float_inputs(X=2, params=2)
def L_model_forward(X: np.ndarray, params: Mapping[str, np.ndarray], *, hidden_activation: str = "relu",
                    check: bool = True) -> tuple[np.ndarray, list[dn.LayerCache]]:
    """``[LINEAR -> g] x (L-1) -> LINEAR -> SOFTMAX``: class probabilities ``(K, m)`` and the L caches."""
    if check:
        check_inputs(X, params, hidden_activation)
    ZL, caches = dn.L_model_logits(X, params, hidden_activation=hidden_activation, check=False)
    return softmax(ZL), caches


@float_inputs(params=2, X=2)
def loss_and_grads(params: Mapping[str, np.ndarray], X: np.ndarray, labels: np.ndarray, *,
                   hidden_activation: str = "relu", check: bool = True
                   ) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Cost J and ``{"dW1", "db1", ..., "dWL", "dbL"}``, with ``dZ{L} = softmax(Z{L}) - Y_onehot``.

    ``labels`` are integers ``(1, m)`` or ``(m,)``; ``check=False`` skips validation in hot loops.
    """
    if check:
        check_inputs(X, params, hidden_activation, labels)
    ZL, caches = dn.L_model_logits(X, params, hidden_activation=hidden_activation, check=False)
    return cost_and_grads_from_logits(ZL, labels, caches, hidden_activation=hidden_activation)


@float_inputs(ZL=2)
def cost_and_grads_from_logits(ZL: np.ndarray, labels: np.ndarray, caches: list[dn.LayerCache], *,
                               hidden_activation: str = "relu") -> tuple[np.floating, dict[str, np.ndarray]]:
    """Cost J of the logits ``Z{L}`` ``(K, m)`` and the gradients back through the forward pass's ``caches``.

    The backward half of :func:`loss_and_grads`: ``dZ{L} = softmax(Z{L}) - Y_onehot``, then
    :func:`scratch.deep_net.L_model_backward`. Inputs are not validated.
    """
    flat = labels.reshape(-1)
    Y_onehot = np.zeros_like(ZL)
    Y_onehot[flat, np.arange(flat.size)] = 1
    grads = dn.L_model_backward(softmax(ZL), Y_onehot, caches, hidden_activation=hidden_activation)
    return _cross_entropy(ZL, flat), dn.parameter_gradients(grads)


@float_inputs(X=2, params=2)
def predict(X: np.ndarray, params: Mapping[str, np.ndarray], *, hidden_activation: str = "relu") -> np.ndarray:
    """Most probable class per example, integer labels ``(1, m)``."""
    check_inputs(X, params, hidden_activation)
    ZL, _ = dn.L_model_logits(X, params, hidden_activation=hidden_activation, check=False)
    return ZL.argmax(axis=0).reshape(1, -1)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of examples whose predicted class equals the label (both ``(1, m)`` or ``(m,)``)."""
    if predictions.size != labels.size:
        raise ValueError(f"predictions ({predictions.shape}) and labels ({labels.shape}) must have the same size")
    return float(np.mean(predictions.reshape(-1) == labels.reshape(-1)))
