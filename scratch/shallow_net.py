"""A network with one hidden layer of tanh units and one sigmoid output (course 1, week 3).

Shapes (examples are columns): ``X`` is ``(n_x, m)``, ``Y`` is ``(1, m)`` with labels in {0, 1},
``W1`` is ``(n_h, n_x)``, ``b1`` is ``(n_h, 1)``, ``W2`` is ``(n_y, n_h)``, ``b2`` is ``(n_y, 1)`` with
``n_y = 1``.

Forward:   Z1 = W1 X + b1,   A1 = tanh(Z1),   Z2 = W2 A1 + b2,   A2 = sigmoid(Z2)
Cost:      J = -(1/m) sum_i [ y_i log a2_i + (1 - y_i) log(1 - a2_i) ]
Backward (the course's formulas; ``1 - A1^2`` is tanh'(Z1) written with the cached output A1):
           dZ2 = A2 - Y                          (1, m)
           dW2 = dZ2 A1^T / m,   db2 = sum_i dZ2 / m
           dZ1 = W2^T dZ2 * (1 - A1^2)           (n_h, m)
           dW1 = dZ1 X^T / m,    db1 = sum_i dZ1 / m
Update:    P := P - learning_rate * dP    (the course's default learning rate is 1.2)

This is the two-layer special case of :mod:`scratch.deep_net`, written out as in the lectures; the
tests check that the two give the same numbers. Like the deep net, the training path evaluates the cost
from the logits ``Z2`` (the form ``nn.BCEWithLogitsLoss`` uses), and :func:`compute_cost` keeps the
course's interface (probabilities in).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import scratch.deep_net as dn
from scratch.activations import sigmoid
from scratch.initialization import initialize_parameters as initialize_layers
from scratch.logistic_regression import cost_from_logits
from scratch.validation import (
    check_array,
    check_binary_dataset,
    check_binary_labels,
    check_positive_int,
    check_shape,
    float_inputs,
)

ShallowCache = dict[str, np.ndarray]


@float_inputs(X=2, Y=2)
def layer_sizes(X: np.ndarray, Y: np.ndarray, n_h: int = 4) -> tuple[int, int, int]:
    """``(n_x, n_h, n_y)``: input size from ``X`` ``(n_x, m)``, output size from ``Y`` ``(n_y, m)``."""
    check_array("X", X, ndim=2)
    check_array("Y", Y, ndim=2)
    check_positive_int("n_h", n_h)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must have the same number of examples (columns), got {X.shape} and {Y.shape}")
    return X.shape[0], n_h, Y.shape[0]


def initialize_parameters(n_x: int, n_h: int, n_y: int, *, rng: np.random.Generator, method: str = "small",
                          dtype: np.dtype | type | str = np.float64) -> dict[str, np.ndarray]:
    """``{"W1": (n_h, n_x), "b1": (n_h, 1), "W2": (n_y, n_h), "b2": (n_y, 1)}``; the course's ``* 0.01``.

    See :func:`scratch.initialization.initialize_parameters` for ``method`` (zeros, small, he, xavier).
    """
    return initialize_layers([n_x, n_h, n_y], method=method, rng=rng, dtype=dtype)


def check_inputs(X: np.ndarray, params: Mapping[str, np.ndarray], Y: np.ndarray | None = None) -> None:
    """``X`` (and ``Y``) in the course's layout and exactly ``W1, b1, W2, b2`` chained from ``n_x`` to 1."""
    dn.check_inputs(X, params, "tanh", Y)
    if dn.n_layers(params) != 2:
        raise ValueError(f"params must hold exactly W1, b1, W2, b2 (one hidden layer), got keys {sorted(params)}")


@float_inputs(X=2, params=2)
def forward_propagation(X: np.ndarray, params: Mapping[str, np.ndarray], *, check: bool = True
                        ) -> tuple[np.ndarray, ShallowCache]:
    """``A2`` ``(1, m)`` and the cache ``{"Z1", "A1", "Z2", "A2"}``."""
    if check:
        check_inputs(X, params)
    Z1 = params["W1"] @ X + params["b1"]
    A1 = np.tanh(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    A2 = sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


@float_inputs(A2=2, Y=2)
def compute_cost(A2: np.ndarray, Y: np.ndarray) -> float:
    """The course's cross-entropy from probabilities ``A2`` ``(1, m)`` (``log`` clamped at -100, as BCELoss)."""
    return float(dn.compute_cost(A2, Y))


@float_inputs(params=2, X=2, Y=2)
def backward_propagation(params: Mapping[str, np.ndarray], cache: ShallowCache, X: np.ndarray, Y: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """``{"dW1", "db1", "dW2", "db2"}`` by the course's formulas (see the module docstring)."""
    A1, A2 = cache["A1"], cache["A2"]
    check_shape("Y", Y, A2.shape)
    check_binary_labels("Y", Y)
    m = X.shape[1]
    dZ2 = A2 - Y
    dW2 = dZ2 @ A1.T / m
    db2 = dZ2.sum(axis=1, keepdims=True) / m
    dZ1 = (params["W2"].T @ dZ2) * (1 - A1 * A1)
    dW1 = dZ1 @ X.T / m
    db1 = dZ1.sum(axis=1, keepdims=True) / m
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


@float_inputs(params=2, X=2, Y=2)
def loss_and_grads(params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray, *, check: bool = True
                   ) -> tuple[np.floating, dict[str, np.ndarray]]:
    """Cost J (from the logits ``Z2``) and the four gradients in one forward/backward pass."""
    if check:
        check_inputs(X, params, Y)
    A2, cache = forward_propagation(X, params, check=False)
    return cost_from_logits(cache["Z2"], Y), backward_propagation(params, cache, X, Y)


def update_parameters(params: dict[str, np.ndarray], grads: Mapping[str, np.ndarray], learning_rate: float = 1.2
                      ) -> dict[str, np.ndarray]:
    """Gradient descent in place, ``P -= learning_rate * dP``; returns ``params``."""
    return dn.update_parameters(params, grads, learning_rate)


@float_inputs(params=2, X=2)
def predict(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Labels ``(1, m)`` in ``X``'s dtype: 1 where ``A2 > 0.5`` (the course's argument order)."""
    A2, _ = forward_propagation(X, params)
    return (A2 > 0.5).astype(X.dtype)


@float_inputs(X=2, Y=2)
def nn_model(X: np.ndarray, Y: np.ndarray, n_h: int, *, rng: np.random.Generator, num_iterations: int = 10000,
             learning_rate: float = 1.2) -> dict[str, np.ndarray]:
    """Train from the course's small random start with batch gradient descent; returns the parameters."""
    check_binary_dataset(X, Y)
    check_positive_int("num_iterations", num_iterations)
    n_x, n_h, n_y = layer_sizes(X, Y, n_h)
    params = initialize_parameters(n_x, n_h, n_y, rng=rng, dtype=X.dtype)
    Y = Y.astype(X.dtype, copy=False)
    check_inputs(X, params, Y)
    for _ in range(num_iterations):
        _, grads = loss_and_grads(params, X, Y, check=False)
        update_parameters(params, grads, learning_rate)
    return params
