"""An L-layer network built from per-layer forward and backward functions with caches (course 1, week 4).

Shapes (examples are columns): ``X = A0`` is ``(n_0, m)``, ``W{l}`` is ``(n_l, n_{l-1})``, ``b{l}`` is
``(n_l, 1)``, ``Z{l}`` and ``A{l}`` are ``(n_l, m)``, ``Y`` is ``(1, m)`` with labels in {0, 1}.
Layers 1..L-1 use ``hidden_activation`` (sigmoid, tanh, relu or leaky_relu with torch's slope 0.01);
layer L is one sigmoid unit.

Forward, layer l:   Z{l} = W{l} A{l-1} + b{l},   A{l} = g(Z{l});   cache = ((A{l-1}, W{l}, b{l}), Z{l})
Cost:               J = -(1/m) sum_i [ y_i log a_i + (1 - y_i) log(1 - a_i) ],   a = A{L}
Backward, layer l:  dZ{l} = dA{l} * g'(Z{l})                      (n_l, m)
                    dW{l} = dZ{l} A{l-1}^T / m                      (n_l, n_{l-1})
                    db{l} = sum_i dZ{l}[:, i] / m                   (n_l, 1)
                    dA{l-1} = W{l}^T dZ{l}                          (n_{l-1}, m)

Derivative conventions (the course's, which give exactly the gradients of J):
- ``dA`` and ``dZ`` are derivatives of the *summed* loss m J (not divided by m); the ``1/m`` of the mean
  is applied once, in ``dW`` and ``db``. torch's autograd instead carries the ``1/m`` from the mean into
  the gradient of the logits; the parameter gradients are the same numbers up to rounding.
- At the output, sigmoid and cross-entropy are differentiated together: ``dZ{L} = A{L} - Y``. This is
  the course's ``dA{L} = -(Y / A{L} - (1 - Y) / (1 - A{L}))`` times ``sigma'(Z{L})`` simplified, and it is
  what ``nn.BCEWithLogitsLoss`` backpropagates; it never divides by a saturated ``A{L}`` of 0 or 1.
- ReLU'(0) = 0 and leaky ReLU'(0) = 0.01, as torch (see :mod:`scratch.activations`).

The training path evaluates the cost from the logits ``Z{L}``, ``(1 - y) z - log_sigmoid(z)``, the form
``nn.BCEWithLogitsLoss`` uses: no ``log(0)`` for saturated outputs and the same rounding as torch.
:func:`compute_cost` keeps the course's interface (probabilities in), with ``nn.BCELoss``'s clamp of the
logarithms at -100.

:func:`loss_and_grads` is the one-call model interface (validates once; ``check=False`` for hot loops).
It keeps the input dtype (float32 stays float32) and never copies ``X``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scratch.activations import (
    leaky_relu,
    leaky_relu_derivative,
    relu,
    relu_derivative,
    sigmoid,
    sigmoid_derivative,
    tanh,
    tanh_derivative,
)
from scratch.logistic_regression import cost_from_logits
from scratch.validation import (
    ELEMENTWISE,
    check_array,
    check_binary_dataset,
    check_finite,
    check_positive,
    check_probabilities,
    check_shape,
    float_inputs,
    updates_in_place,
)

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")

LinearCache = tuple[np.ndarray, np.ndarray, np.ndarray]
LayerCache = tuple[LinearCache, np.ndarray]

_FORWARD = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu}
_DERIVATIVE = {
    "sigmoid": sigmoid_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
    "leaky_relu": leaky_relu_derivative,
}


def check_activation(name: str, activation: object) -> None:
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"{name} must be one of {', '.join(HIDDEN_ACTIVATIONS)}, got {activation!r}")


def n_layers(params: Mapping[str, np.ndarray]) -> int:
    """L, the number of layers with parameters (``W1 .. WL``)."""
    return len(params) // 2


def check_parameters(params: Mapping[str, np.ndarray], n_x: int, dtype: np.dtype, *, n_out: int | None = 1) -> None:
    """``W1, b1, ..., WL, bL`` present, chained shapes starting at ``n_x``, ``dtype`` and finite.

    ``n_out`` is the required output size (``None`` accepts any, e.g. for a softmax layer).
    """
    L = n_layers(params)
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}  # noqa: E741
    if L == 0 or set(params) != expected:
        raise ValueError(f"params must hold W1, b1, ..., WL, bL, got keys {sorted(params)}")
    fan_in = n_x
    for l in range(1, L + 1):  # noqa: E741
        W, b = params[f"W{l}"], params[f"b{l}"]
        check_array(f"W{l}", W, ndim=2)
        check_array(f"b{l}", b, ndim=2)
        check_shape(f"W{l}", W, (None, fan_in))
        check_shape(f"b{l}", b, (W.shape[0], 1))
        for name, value in ((f"W{l}", W), (f"b{l}", b)):
            if value.dtype != dtype:
                raise ValueError(f"{name} must have X's dtype {dtype}, got {value.dtype}")
            check_finite(name, value)
        fan_in = W.shape[0]
    if n_out is not None and fan_in != n_out:
        raise ValueError(f"W{L} must have {n_out} output row(s) for this model, got shape {params[f'W{L}'].shape}")


@float_inputs(A_prev=2, W=2, b=2)
def linear_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, LinearCache]:
    """Z = W A_prev + b: ``(n_l, n_{l-1}) @ (n_{l-1}, m) + (n_l, 1) -> (n_l, m)``; cache ``(A_prev, W, b)``."""
    Z = W @ A_prev
    Z += b  # in place: one (n_l, m) array instead of two
    return Z, (A_prev, W, b)


@float_inputs(A_prev=2, W=2, b=2)
def linear_activation_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, activation: str
                              ) -> tuple[np.ndarray, LayerCache]:
    """A = g(W A_prev + b) for ``activation`` in sigmoid, tanh, relu, leaky_relu; cache ``((A_prev, W, b), Z)``."""
    Z, linear_cache = linear_forward(A_prev, W, b)
    return _FORWARD[activation](Z), (linear_cache, Z)


@float_inputs(Z=ELEMENTWISE)
def activation_forward(Z: np.ndarray, activation: str) -> np.ndarray:
    """A = g(Z), elementwise (any shape, IEEE values), for ``activation`` in sigmoid, tanh, relu, leaky_relu."""
    check_activation("activation", activation)
    return _FORWARD[activation](Z)


@float_inputs(dA=2, Z=2)
def activation_backward(dA: np.ndarray, Z: np.ndarray, activation: str) -> np.ndarray:
    """dZ = dA * g'(Z), elementwise ``(n_l, m)``."""
    return dA * _DERIVATIVE[activation](Z)


@float_inputs(dZ=2)
def linear_backward(dZ: np.ndarray, cache: LinearCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db)`` = ``(W^T dZ, dZ A_prev^T / m, sum_i dZ / m)`` for ``cache = (A_prev, W, b)``."""
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T  # A_prev.T is a view: BLAS reads it transposed, nothing is copied
    dW /= m
    db = dZ.sum(axis=1, keepdims=True)
    db /= m
    return W.T @ dZ, dW, db


@float_inputs(dA=2)
def linear_activation_backward(dA: np.ndarray, cache: LayerCache, activation: str
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dA_prev, dW, db)`` of layer l from ``dA{l}`` and its cache; ``dA`` is not modified."""
    linear_cache, Z = cache
    return linear_backward(activation_backward(dA, Z, activation), linear_cache)


def check_inputs(X: np.ndarray, params: Mapping[str, np.ndarray], hidden_activation: str,
                 Y: np.ndarray | None = None) -> None:
    """Validate a model call once: ``X`` (and ``Y``) in the course's layout, parameters, activation."""
    if Y is None:
        check_array("X", X, ndim=2)
        check_finite("X", X)
    else:
        check_binary_dataset(X, Y)
        if Y.dtype != X.dtype:
            raise ValueError(f"Y must have X's dtype {X.dtype}, got {Y.dtype}")
    check_parameters(params, X.shape[0], X.dtype)
    check_activation("hidden_activation", hidden_activation)


@float_inputs(X=2, params=2)
def L_model_logits(X: np.ndarray, params: Mapping[str, np.ndarray], *, hidden_activation: str = "relu",
                   check: bool = True) -> tuple[np.ndarray, list[LayerCache]]:
    """Logits ``Z{L}`` and the caches of all L layers (the last one's activation is the identity)."""
    if check:
        check_inputs(X, params, hidden_activation)
    L = n_layers(params)
    caches = []
    A = X
    for l in range(1, L):  # noqa: E741
        A, cache = linear_activation_forward(A, params[f"W{l}"], params[f"b{l}"], hidden_activation)
        caches.append(cache)
    ZL, linear_cache = linear_forward(A, params[f"W{L}"], params[f"b{L}"])
    caches.append((linear_cache, ZL))
    return ZL, caches


@float_inputs(X=2, params=2)
def L_model_forward(X: np.ndarray, params: Mapping[str, np.ndarray], *, hidden_activation: str = "relu",
                    check: bool = True) -> tuple[np.ndarray, list[LayerCache]]:
    """``[LINEAR -> g] x (L-1) -> LINEAR -> SIGMOID``: returns ``A{L}`` ``(1, m)`` and the L caches."""
    ZL, caches = L_model_logits(X, params, hidden_activation=hidden_activation, check=check)
    return sigmoid(ZL), caches


@float_inputs(AL=2, Y=2)
def L_model_backward(AL: np.ndarray, Y: np.ndarray, caches: list[LayerCache], *, hidden_activation: str = "relu"
                     ) -> dict[str, np.ndarray]:
    """Gradients of the mean cross-entropy, the course's loop: ``dA{l-1}``, ``dW{l}``, ``db{l}`` for l = L..1.

    The output layer starts from ``dZ{L} = A{L} - Y`` (sigmoid and cross-entropy differentiated together);
    every hidden layer is one :func:`linear_activation_backward` on ``dA{l}`` and the layer's cache.
    Returns ``{"dA0", "dW1", "db1", ..., "dA{L-1}", "dWL", "dbL"}``.
    """
    L = len(caches)
    grads: dict[str, np.ndarray] = {}
    dZL = AL - Y
    grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = linear_backward(dZL, caches[L - 1][0])
    for l in reversed(range(1, L)):  # noqa: E741
        grads[f"dA{l - 1}"], grads[f"dW{l}"], grads[f"db{l}"] = linear_activation_backward(
            grads[f"dA{l}"], caches[l - 1], hidden_activation)
    return grads


@float_inputs(AL=2, Y=2)
def compute_cost(AL: np.ndarray, Y: np.ndarray) -> np.floating:
    """The course's cost from probabilities ``AL`` (1, m), with ``nn.BCELoss``'s clamp ``log(.) >= -100``.

    The clamp keeps a saturated prediction (``AL`` exactly 0 or 1) finite instead of ``log(0) = -inf``.
    Training uses :func:`cost_from_logits` instead, which needs no clamp.
    """
    check_array("AL", AL, ndim=2)
    check_probabilities("AL", AL)
    check_shape("Y", Y, AL.shape)
    with np.errstate(divide="ignore"):  # log(0) = -inf is intended here and clamped just below
        log_a = np.maximum(np.log(AL), -100)
        log_1ma = np.maximum(np.log1p(-AL), -100)
    return -np.mean(Y * log_a + (1 - Y) * log_1ma)


@float_inputs(params=2, X=2, Y=2)
def loss_and_grads(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, *,
                   hidden_activation: str = "relu", check: bool = True
                   ) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Cost J (from the logits) and ``{"dW1", "db1", ..., "dWL", "dbL"}`` in one forward/backward pass.

    ``check=False`` skips validation, for loops whose inputs were validated once.
    """
    if check:
        check_inputs(X, params, hidden_activation, Y)
    ZL, caches = L_model_logits(X, params, hidden_activation=hidden_activation, check=False)
    grads = L_model_backward(sigmoid(ZL), Y, caches, hidden_activation=hidden_activation)
    return cost_from_logits(ZL, Y), parameter_gradients(grads)


def parameter_gradients(grads: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``dW{l}`` and ``db{l}`` of :func:`L_model_backward`'s result, without the ``dA{l}`` it also returns."""
    return {name: value for name, value in grads.items() if not name.startswith("dA")}


@updates_in_place("params")
def update_parameters(params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray], learning_rate: float
                      ) -> dict[str, np.ndarray]:
    """Gradient descent in place, ``P -= learning_rate * dP`` for every parameter; returns ``params``.

    The step is computed in the parameter's dtype, as torch's ``SGD`` casts ``lr`` to it: an ``np.float64``
    rate would otherwise turn a float32 step into a float64 temporary (NumPy 2 promotes with NumPy scalars).
    ``grads`` are left untouched: callers still observe this step's gradients after the update.
    """
    check_positive("learning_rate", learning_rate)
    for name, value in params.items():
        value -= np.multiply(grads[f"d{name}"], learning_rate, dtype=value.dtype)
    return params


@float_inputs(X=2, params=2)
def predict(X: np.ndarray, params: Mapping[str, np.ndarray], *, hidden_activation: str = "relu") -> np.ndarray:
    """Labels ``(1, m)`` in ``X``'s dtype: 1 where ``A{L} > 0.5``, else 0."""
    AL, _ = L_model_forward(X, params, hidden_activation=hidden_activation)
    return (AL > 0.5).astype(X.dtype)


@float_inputs(predictions=2, Y=2)
def accuracy(predictions: np.ndarray, Y: np.ndarray) -> float:
    """Fraction of examples whose predicted label equals ``Y`` (both ``(1, m)``)."""
    check_shape("predictions", predictions, Y.shape)
    return float(np.mean(predictions == Y))
