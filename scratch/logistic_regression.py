"""Logistic regression as in the lectures, in the course's layout.

Shapes: ``X`` is ``(n_x, m)`` (examples are columns), ``Y`` is ``(1, m)`` with labels in {0, 1},
``w`` is ``(n_x, 1)`` and ``b`` is a scalar of the same dtype.

Forward:   Z = w^T X + b   (1, m),   A = sigmoid(Z)
Cost:      J = -(1/m) sum_i [ y_i log a_i + (1 - y_i) log(1 - a_i) ]
Backward:  dZ = A - Y   (1, m),   dw = X dZ^T / m   (n_x, 1),   db = sum(dZ) / m
Update:    w <- w - alpha dw,   b <- b - alpha db

The cost is evaluated from the logits in the form torch's ``binary_cross_entropy_with_logits`` uses,
``(1 - y) z - log_sigmoid(z)`` with ``log_sigmoid(z) = min(z, 0) - log1p(e^-|z|)``. It equals the
course's formula exactly in real arithmetic, but never takes ``log(0)`` for saturated predictions and
rounds like torch, so the two sides agree to the last bits.
"""

from __future__ import annotations

import math

import numpy as np

from scratch.activations import sigmoid
from scratch.validation import (
    ELEMENTWISE,
    check_array,
    check_binary_dataset,
    check_dtype,
    check_finite,
    check_in_range,
    check_positive,
    check_positive_int,
    check_shape,
    float_inputs,
    updates_in_place,
)


def initialize_with_zeros(dim: int, dtype: np.dtype | type = np.float64) -> tuple[np.ndarray, np.floating]:
    """w = zeros((dim, 1)), b = 0: for logistic regression (one unit) zeros break no symmetry."""
    check_positive_int("dim", dim)
    dtype = check_dtype("dtype", dtype)
    return np.zeros((dim, 1), dtype=dtype), dtype.type(0)


@float_inputs(z=ELEMENTWISE)
def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log(sigma(z)) = min(z, 0) - log1p(e^-|z|), finite for every finite z."""
    return np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))


@float_inputs(Z=2, Y=2)
def cost_from_logits(Z: np.ndarray, Y: np.ndarray) -> np.floating:
    """Mean binary cross-entropy J of logits ``Z`` (1, m) against labels ``Y`` (1, m)."""
    return np.mean((1 - Y) * Z - log_sigmoid(Z))


def _check_parameters(w: np.ndarray, b: object, X: np.ndarray) -> None:
    check_array("w", w, ndim=2)
    check_shape("w", w, (X.shape[0], 1))
    check_finite("w", w)
    if not isinstance(b, (int, float, np.number, np.ndarray)) or np.ndim(b) != 0 or not np.isfinite(b):
        raise ValueError(f"b must be a finite scalar, got {b!r}")


@float_inputs(w=2, X=2, Y=2)
def propagate(w: np.ndarray, b: np.floating, X: np.ndarray, Y: np.ndarray, *, check: bool = True
              ) -> tuple[dict[str, np.ndarray], np.floating]:
    """Vectorized forward and backward pass: returns ``({"dw": (n_x, 1), "db": scalar}, J)``.

    ``check=False`` skips input validation for hot training loops whose inputs were validated once.
    """
    if check:
        check_binary_dataset(X, Y)
        _check_parameters(w, b, X)
    m = X.shape[1]
    Z = w.T @ X + b
    A = sigmoid(Z)
    dZ = A - Y
    grads = {"dw": (X @ dZ.T) / m, "db": np.sum(dZ) / m}
    return grads, cost_from_logits(Z, Y)


@float_inputs(w=2, X=2, Y=2)
def propagate_loop(w: np.ndarray, b: np.floating, X: np.ndarray, Y: np.ndarray
                   ) -> tuple[dict[str, np.ndarray], np.floating]:
    """The lectures' first version: explicit loops over examples ``i`` and features ``j``.

    Same math and outputs as :func:`propagate`; kept deliberately unvectorized so that the speed gap
    the lectures demonstrate can be measured. Arithmetic stays in ``X``'s dtype (NumPy scalars).
    """
    check_binary_dataset(X, Y)
    _check_parameters(w, b, X)
    n_x, m = X.shape
    dtype = X.dtype.type
    cost = dtype(0)
    dw = np.zeros((n_x, 1), dtype=X.dtype)
    db = dtype(0)
    for i in range(m):
        z = dtype(b)
        for j in range(n_x):
            z += w[j, 0] * X[j, i]
        a = _scalar_sigmoid(z)
        y = Y[0, i]
        cost += (1 - y) * z - _scalar_log_sigmoid(z)
        dz = a - y
        for j in range(n_x):
            dw[j, 0] += X[j, i] * dz
        db += dz
    return {"dw": dw / m, "db": db / m}, cost / m


def _scalar_sigmoid(z: np.floating) -> np.floating:
    e = type(z)(math.exp(-abs(float(z))))
    return 1 / (1 + e) if z >= 0 else e / (1 + e)


def _scalar_log_sigmoid(z: np.floating) -> np.floating:
    return min(z, type(z)(0)) - type(z)(math.log1p(math.exp(-abs(float(z)))))


@updates_in_place("w")
def update(w: np.ndarray, b: np.floating, grads: dict[str, np.ndarray], learning_rate: float
           ) -> tuple[np.ndarray, np.floating]:
    """One gradient-descent step, ``w`` updated in place: w -= alpha dw, b -= alpha db."""
    w -= learning_rate * grads["dw"]
    return w, b - learning_rate * grads["db"]


@float_inputs(w=2, X=2, Y=2)
def optimize(w: np.ndarray, b: np.floating, X: np.ndarray, Y: np.ndarray, *, num_iterations: int,
             learning_rate: float, loop: bool = False
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[float]]:
    """Batch gradient descent. Returns ``({"w", "b"}, last grads, cost at every iteration)``.

    ``w`` is copied, not modified. ``loop=True`` uses :func:`propagate_loop`.
    """
    check_positive_int("num_iterations", num_iterations)
    check_positive("learning_rate", learning_rate)
    check_binary_dataset(X, Y)
    _check_parameters(w, b, X)
    w = w.copy()
    costs = []
    for _ in range(num_iterations):
        grads, cost = propagate_loop(w, b, X, Y) if loop else propagate(w, b, X, Y, check=False)
        w, b = update(w, b, grads, learning_rate)
        costs.append(float(cost))
    return {"w": w, "b": b}, grads, costs


@float_inputs(w=2, X=2)
def predict(w: np.ndarray, b: np.floating, X: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Labels ``(1, m)``: 1 where sigmoid(w^T X + b) > threshold, else 0 (in ``X``'s dtype)."""
    check_array("X", X, ndim=2)
    check_finite("X", X)
    _check_parameters(w, b, X)
    check_in_range("threshold", threshold, 0, 1)
    return (sigmoid(w.T @ X + b) > threshold).astype(X.dtype)
