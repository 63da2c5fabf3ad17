"""Batch normalization (course 2, week 3), forward and backward, in training and evaluation mode.

Shapes (examples are columns, the course's layout): ``Z`` is ``(n, m)``, ``gamma`` and ``beta`` are
``(n, 1)``, the running statistics ``running_mean`` and ``running_var`` are ``(n, 1)``. For images
``(m, C, H, W)`` (:func:`batchnorm2d_forward`) the statistics are per channel, over the ``N = m H W``
values of the channel, and ``gamma``, ``beta`` are ``(C,)`` like ``nn.BatchNorm2d.weight``.

Training mode, over the ``N`` values of each feature (row)::

    mu      = (1/N) sum_i z_i                          (n, 1)
    var     = (1/N) sum_i (z_i - mu)^2                 (n, 1)   biased: this one normalizes
    invstd  = 1 / sqrt(var + eps)
    z_hat   = (z - mu) * invstd                        (n, m)
    out     = gamma * z_hat + beta                     (n, m)

and the running statistics move towards the batch ones, as ``nn.BatchNorm1d/2d`` update them::

    running_mean = (1 - momentum) * running_mean + momentum * mu
    running_var  = (1 - momentum) * running_var  + momentum * var * N / (N - 1)   (unbiased!)

``momentum=None`` uses ``momentum = 1 / num_batches_tracked`` (the cumulative average of all batches
seen; ``num_batches_tracked`` counts training calls, starting at 1). ``N = 1`` has no variance: training
with one value per feature raises ``ValueError``, as torch does. Evaluation mode uses the running
statistics instead of the batch's and changes nothing.

Backward in the compact form (the derivative of the whole normalization at once, not the graph chained
node by node), for ``dout`` of shape ``(n, m)``::

    dbeta   = sum_i dout_i                             (n, 1)
    dgamma  = sum_i dout_i * z_hat_i                   (n, 1)
    dz      = gamma * invstd * (dout - dbeta / N - z_hat * dgamma / N)

The gradients are those of whatever ``dout`` is the gradient of (no ``1/m`` is applied here). The
arithmetic follows torch's CPU kernel (``out = z * alpha + (beta - mu * alpha)`` with
``alpha = gamma * invstd``; statistics of float32 data accumulated in float64, then rounded to float32),
so the two agree to rounding in both dtypes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scratch.activations import sigmoid
from scratch.deep_net import activation_backward, activation_forward, check_activation
from scratch.initialization import initialize_parameters
from scratch.logistic_regression import cost_from_logits
from scratch.validation import (
    check_array,
    check_binary_dataset,
    check_finite,
    check_float_dtype,
    check_in_range,
    check_positive,
    check_positive_int,
    check_shape,
    float_inputs,
)

BatchNormCache = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class BatchNormState:
    """Hyperparameters and running statistics of one batch-norm layer over ``n_features`` features.

    ``running_mean`` starts at 0 and ``running_var`` at 1, as ``nn.BatchNorm1d``'s buffers;
    ``num_batches_tracked`` counts the training-mode forward passes. ``momentum`` in ``(0, 1]`` or
    ``None`` (cumulative average); ``eps > 0`` is added to the variance before the square root.
    """

    n_features: int
    momentum: float | None = 0.1
    eps: float = 1e-5
    dtype: np.dtype | type | str = np.float64
    running_mean: np.ndarray = field(init=False)
    running_var: np.ndarray = field(init=False)
    num_batches_tracked: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        check_positive_int("n_features", self.n_features)
        if self.momentum is not None:
            check_in_range("momentum", self.momentum, 0.0, 1.0, low_open=True)
        check_positive("eps", self.eps)
        self.dtype = np.dtype(self.dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.running_mean = np.zeros((self.n_features, 1), dtype=self.dtype)
        self.running_var = np.ones((self.n_features, 1), dtype=self.dtype)

    def update(self, mean: np.ndarray, var_sum: np.ndarray, count: int) -> None:
        """Move the running statistics towards the batch's ``mean`` and unbiased ``var_sum / (count - 1)``."""
        self.num_batches_tracked += 1
        factor = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        factor = self.dtype.type(factor)  # torch casts momentum to the parameter type before the update
        unbiased = (var_sum / (count - 1)).astype(self.dtype)
        self.running_mean = factor * mean + (1 - factor) * self.running_mean
        self.running_var = factor * unbiased + (1 - factor) * self.running_var


def _batch_statistics(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row mean (in ``Z``'s dtype) and sum of squared deviations (float64) of ``Z`` ``(n, N)``.

    float32 data are summed in float64 (torch's CPU accumulation type), the mean rounded to float32.
    """
    count = Z.shape[1]
    mean = (Z.sum(axis=1, keepdims=True, dtype=np.float64) / count).astype(Z.dtype)
    centered = Z - mean
    var_sum = np.square(centered).sum(axis=1, keepdims=True, dtype=np.float64)
    return mean, var_sum


def check_batchnorm_inputs(Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, state: BatchNormState) -> None:
    """``Z`` ``(n, N)`` float and finite, ``gamma``, ``beta`` ``(n, 1)`` and ``state`` in ``Z``'s dtype."""
    check_array("Z", Z, ndim=2)
    check_float_dtype("Z", Z)
    check_finite("Z", Z)
    n = state.n_features
    check_shape("Z", Z, (n, None))
    for name, value in (("gamma", gamma), ("beta", beta)):
        check_array(name, value, ndim=2)
        check_shape(name, value, (n, 1))
        if value.dtype != Z.dtype:
            raise ValueError(f"{name} must have Z's dtype {Z.dtype}, got {value.dtype}")
    if state.dtype != Z.dtype:
        raise ValueError(f"state must have Z's dtype {Z.dtype}, got {state.dtype}")


@float_inputs(Z=2, gamma=2, beta=2)
def batchnorm_forward(Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, state: BatchNormState, *,
                      training: bool, check: bool = True) -> tuple[np.ndarray, BatchNormCache]:
    """``gamma * z_hat + beta`` for ``Z`` ``(n, N)``; in training mode also updates ``state``'s running statistics.

    Returns ``out`` ``(n, N)`` and the cache ``(Z, mean, invstd, gamma)`` for :func:`batchnorm_backward`.
    Raises ``ValueError`` in training mode when ``N == 1`` (no variance to estimate), as torch does.
    """
    if check:
        check_batchnorm_inputs(Z, gamma, beta, state)
    count = Z.shape[1]
    if training:
        if count == 1:
            raise ValueError(f"Expected more than 1 value per feature when training, got Z of shape {Z.shape}: "
                             "batch normalization needs at least 2 values to estimate a variance")
        mean, var_sum = _batch_statistics(Z)
        invstd = (1 / np.sqrt(var_sum / count + state.eps)).astype(Z.dtype)
        state.update(mean, var_sum, count)
    else:
        mean = state.running_mean
        invstd = (1 / np.sqrt(state.running_var.astype(np.float64) + state.eps)).astype(Z.dtype)
    alpha = gamma * invstd
    out = Z * alpha
    out += beta - mean * alpha
    return out, (Z, mean, invstd, gamma)


def _check_dout(dout: np.ndarray, cache: BatchNormCache) -> None:
    check_shape("dout", dout, cache[0].shape)


@float_inputs(dout=2)
def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dZ, dgamma, dbeta)`` of a training-mode forward, the compact form of the module docstring."""
    _check_dout(dout, cache)
    Z, mean, invstd, gamma = cache
    count = Z.shape[1]
    centered = Z - mean
    dbeta = dout.sum(axis=1, keepdims=True)
    dot = (dout * centered).sum(axis=1, keepdims=True)  # = dgamma / invstd
    projection = centered * (dot * invstd * invstd / count)
    dZ = dout - dbeta / count
    dZ -= projection
    dZ *= invstd * gamma
    return dZ, dot * invstd, dbeta


@float_inputs(dout=2)
def batchnorm_eval_backward(dout: np.ndarray, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dZ, dgamma, dbeta)`` of an evaluation-mode forward: the statistics are constants there."""
    _check_dout(dout, cache)
    Z, mean, invstd, gamma = cache
    return dout * (gamma * invstd), (dout * (Z - mean)).sum(axis=1, keepdims=True) * invstd, \
        dout.sum(axis=1, keepdims=True)


@float_inputs(images=4)
def images_to_rows(images: np.ndarray) -> np.ndarray:
    """``(m, C, H, W) -> (C, m H W)``: one row per channel, the layout :func:`batchnorm_forward` normalizes."""
    m, C, H, W = images.shape
    return images.transpose(1, 0, 2, 3).reshape(C, m * H * W)


@float_inputs(rows=2)
def rows_to_images(rows: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The inverse of :func:`images_to_rows` for images of ``shape`` ``(m, C, H, W)``."""
    m, C, H, W = shape
    check_shape("rows", rows, (C, m * H * W))
    return np.ascontiguousarray(rows.reshape(C, m, H, W).transpose(1, 0, 2, 3))


@float_inputs(X=4, gamma=1, beta=1)
def batchnorm2d_forward(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, state: BatchNormState, *,
                        training: bool) -> tuple[np.ndarray, tuple[BatchNormCache, tuple[int, ...]]]:
    """Per-channel batch normalization of images ``X`` ``(m, C, H, W)``; ``gamma``, ``beta`` ``(C,)``.

    The statistics of channel c are over its ``m H W`` values (``nn.BatchNorm2d``); training with
    ``m H W == 1`` raises ``ValueError``.
    """
    check_array("X", X, ndim=4)
    for name, value in (("gamma", gamma), ("beta", beta)):
        check_array(name, value, ndim=1)
        check_shape(name, value, (X.shape[1],))
    out, cache = batchnorm_forward(images_to_rows(X), gamma.reshape(-1, 1), beta.reshape(-1, 1), state,
                                   training=training)
    return rows_to_images(out, X.shape), (cache, X.shape)


@float_inputs(dout=4)
def batchnorm2d_backward(dout: np.ndarray, cache: tuple[BatchNormCache, tuple[int, ...]], *, training: bool = True
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dX, dgamma, dbeta)`` with shapes ``(m, C, H, W)``, ``(C,)``, ``(C,)``."""
    inner, shape = cache
    check_shape("dout", dout, shape)
    backward = batchnorm_backward if training else batchnorm_eval_backward
    dZ, dgamma, dbeta = backward(images_to_rows(dout), inner)
    return rows_to_images(dZ, shape), dgamma.reshape(-1), dbeta.reshape(-1)


# --------------------------------------------------------------------------------------------------
# A deep network with batch normalization, in the course's layout.
# --------------------------------------------------------------------------------------------------

PLACEMENTS = ("before", "after")

BNLayerCache = tuple[np.ndarray, np.ndarray, np.ndarray, BatchNormCache]


def check_placement(placement: object) -> None:
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")


def initialize_bn_parameters(layer_dims: Sequence[int], *, placement: str, method: str, rng: np.random.Generator,
                             dtype: np.dtype | type | str = np.float64) -> dict[str, np.ndarray]:
    """``W{l}``, ``gamma{l}`` = 1, ``beta{l}`` = 0 for the hidden layers, ``WL``, ``bL``; ``b{l}`` only ``after``.

    With BN *before* the activation the bias ``b{l}`` of a hidden layer is dropped, as in the lectures:
    subtracting the batch mean cancels any constant, and ``beta{l}`` takes its role.
    """
    check_placement(placement)
    params = initialize_parameters(layer_dims, method=method, rng=rng, dtype=dtype)
    L = len(layer_dims) - 1
    for l in range(1, L):  # noqa: E741
        n = layer_dims[l]
        if placement == "before":
            del params[f"b{l}"]
        params[f"gamma{l}"] = np.ones((n, 1), dtype=params["W1"].dtype)
        params[f"beta{l}"] = np.zeros((n, 1), dtype=params["W1"].dtype)
    return params


def make_bn_states(layer_dims: Sequence[int], *, momentum: float | None = 0.1, eps: float = 1e-5,
                   dtype: np.dtype | type | str = np.float64) -> list[BatchNormState]:
    """One :class:`BatchNormState` per hidden layer, ``n_1 .. n_{L-1}`` features."""
    return [BatchNormState(n, momentum=momentum, eps=eps, dtype=dtype) for n in list(layer_dims)[1:-1]]


@float_inputs(A_prev=2, params=2)
def bn_layer_forward(A_prev: np.ndarray, params: Mapping[str, np.ndarray], l: int,  # noqa: E741
                     state: BatchNormState, *, placement: str, activation: str, training: bool
                     ) -> tuple[np.ndarray, BNLayerCache]:
    """Hidden layer l: ``g(BN(W A_prev))`` (before) or ``BN(g(W A_prev + b))`` (after), all ``(n_l, m)``.

    The cache is ``(A_prev, W, pre-activation, BN cache)``.
    """
    W, gamma, beta = params[f"W{l}"], params[f"gamma{l}"], params[f"beta{l}"]
    check_shape("A_prev", A_prev, (W.shape[1], None))
    Z = W @ A_prev
    if placement == "before":
        Z_tilde, bn_cache = batchnorm_forward(Z, gamma, beta, state, training=training, check=False)
        return activation_forward(Z_tilde, activation), (A_prev, W, Z_tilde, bn_cache)
    Z += params[f"b{l}"]
    H = activation_forward(Z, activation)
    A, bn_cache = batchnorm_forward(H, gamma, beta, state, training=training, check=False)
    return A, (A_prev, W, Z, bn_cache)


@float_inputs(dA=2)
def bn_layer_backward(dA: np.ndarray, cache: BNLayerCache, *, placement: str, activation: str, training: bool
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``dA_prev`` and ``{"dW", "dgamma", "dbeta"}`` (plus ``"db"`` after) of one hidden layer."""
    A_prev, W, pre_activation, bn_cache = cache
    check_shape("dA", dA, pre_activation.shape)
    bn_backward = batchnorm_backward if training else batchnorm_eval_backward
    grads = {}
    if placement == "before":
        dZ, grads["dgamma"], grads["dbeta"] = bn_backward(activation_backward(dA, pre_activation, activation),
                                                          bn_cache)
    else:
        dH, grads["dgamma"], grads["dbeta"] = bn_backward(dA, bn_cache)
        dZ = activation_backward(dH, pre_activation, activation)
        grads["db"] = dZ.sum(axis=1, keepdims=True)
    grads["dW"] = dZ @ A_prev.T
    return W.T @ dZ, grads


@float_inputs(X=2, params=2)
def bn_model_logits(X: np.ndarray, params: Mapping[str, np.ndarray], states: Sequence[BatchNormState], *,
                    placement: str = "before", hidden_activation: str = "relu", training: bool = True,
                    check: bool = True) -> tuple[np.ndarray, list[BNLayerCache]]:
    """Logits ``Z{L}`` ``(n_L, m)`` and the hidden layers' caches; training mode updates ``states``.

    ``check=False`` skips :func:`check_bn_network` (a training loop that checked its inputs once).
    """
    if check:
        check_bn_network(X, params, states, placement, hidden_activation)
    L = len(states) + 1
    A, caches = X, []
    for l in range(1, L):  # noqa: E741
        A, cache = bn_layer_forward(A, params, l, states[l - 1], placement=placement, activation=hidden_activation,
                                    training=training)
        caches.append(cache)
    ZL = params[f"W{L}"] @ A
    ZL += params[f"b{L}"]
    caches.append((A, params[f"W{L}"], ZL, None))
    return ZL, caches


@float_inputs(dZL=2)
def bn_model_backward(dZL: np.ndarray, caches: list[BNLayerCache], *, placement: str = "before",
                      hidden_activation: str = "relu", training: bool = True) -> dict[str, np.ndarray]:
    """Gradients of the cost from ``dZL`` = dJ/dZ{L} ``(n_L, m)`` (which already carries the ``1/m``)."""
    L = len(caches)
    A_prev, W, ZL, _ = caches[-1]
    check_shape("dZL", dZL, ZL.shape)
    grads = {f"dW{L}": dZL @ A_prev.T, f"db{L}": dZL.sum(axis=1, keepdims=True)}
    dA = W.T @ dZL
    for l in range(L - 1, 0, -1):  # noqa: E741
        dA, layer = bn_layer_backward(dA, caches[l - 1], placement=placement, activation=hidden_activation,
                                      training=training)
        grads.update({f"{name}{l}": value for name, value in layer.items()})
    return grads


def check_bn_inputs(X: np.ndarray, Y: np.ndarray, params: Mapping[str, np.ndarray],
                    states: Sequence[BatchNormState], placement: str, hidden_activation: str) -> None:
    """The course's binary dataset, parameter names and shapes chained from ``X``, one state per hidden layer."""
    check_binary_dataset(X, Y)
    check_bn_network(X, params, states, placement, hidden_activation)


def check_bn_network(X: np.ndarray, params: Mapping[str, np.ndarray], states: Sequence[BatchNormState],
                     placement: str, hidden_activation: str) -> None:
    """``X`` ``(n_x, m)`` finite float, parameter names and shapes chained from it, one state per hidden layer."""
    check_array("X", X, ndim=2)
    check_float_dtype("X", X)
    check_finite("X", X)
    check_placement(placement)
    check_activation("hidden_activation", hidden_activation)
    L = len(states) + 1
    expected = {f"W{l}" for l in range(1, L + 1)} | {f"b{L}"}  # noqa: E741
    expected |= {f"{p}{l}" for l in range(1, L) for p in ("gamma", "beta")}  # noqa: E741
    if placement == "after":
        expected |= {f"b{l}" for l in range(1, L)}  # noqa: E741
    if set(params) != expected:
        raise ValueError(f"params must hold {sorted(expected)} for {L} layers with BN {placement} the activation, "
                         f"got {sorted(params)}")
    fan_in = X.shape[0]
    for l in range(1, L + 1):  # noqa: E741
        check_shape(f"W{l}", params[f"W{l}"], (None, fan_in))
        fan_in = params[f"W{l}"].shape[0]
        names = [f"b{l}"] if f"b{l}" in params else []
        names += [f"gamma{l}", f"beta{l}"] if l < L else []
        for name in names:
            check_shape(name, params[name], (fan_in, 1))
        if l < L and states[l - 1].n_features != fan_in:
            raise ValueError(f"states[{l - 1}] must have {fan_in} features, got {states[l - 1].n_features}")
    for name, value in params.items():
        if value.dtype != X.dtype:
            raise ValueError(f"{name} must have X's dtype {X.dtype}, got {value.dtype}")
        check_finite(name, value)


@float_inputs(params=2, X=2, Y=2)
def bn_loss_and_grads(params: Mapping[str, np.ndarray], states: Sequence[BatchNormState], X: np.ndarray,
                      Y: np.ndarray, *, placement: str = "before", hidden_activation: str = "relu",
                      training: bool = True, check: bool = True) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Mean cross-entropy J and its gradients for a sigmoid output; ``dZ{L} = (A{L} - Y) / m``.

    Training mode normalizes with the batch statistics and moves ``states``' running statistics, as one
    forward pass of ``nn.BatchNorm1d`` in ``train()`` mode does; ``training=False`` uses them unchanged.
    """
    if check:
        check_bn_inputs(X, Y, params, states, placement, hidden_activation)
    ZL, caches = bn_model_logits(X, params, states, placement=placement, hidden_activation=hidden_activation,
                                 training=training, check=False)
    dZL = sigmoid(ZL) - Y
    dZL /= X.shape[1]
    grads = bn_model_backward(dZL, caches, placement=placement, hidden_activation=hidden_activation,
                              training=training)
    return cost_from_logits(ZL, Y), grads


@float_inputs(X=2, params=2)
def bn_predict(X: np.ndarray, params: Mapping[str, np.ndarray], states: Sequence[BatchNormState], *,
               placement: str = "before", hidden_activation: str = "relu") -> np.ndarray:
    """Labels ``(1, m)`` in evaluation mode (running statistics): 1 where ``sigmoid(Z{L}) > 0.5``."""
    ZL, _ = bn_model_logits(X, params, states, placement=placement, hidden_activation=hidden_activation,
                            training=False)
    return (sigmoid(ZL) > 0.5).astype(X.dtype)
