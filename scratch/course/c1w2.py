"""Course 1, week 2: Python basics with NumPy, and logistic regression with a neural-network mindset.

Shapes as in the course: ``X`` is ``(n_x, m)``, ``Y`` is ``(1, m)``, ``w`` is ``(n_x, 1)``, ``b`` a
scalar. The exercises of "Python basics" that have no counterpart in the project (``image2vector``,
``normalizeRows``, the row-wise ``softmax``, the ``L1``/``L2`` losses) are written out here, one line
each; everything else calls :mod:`scratch.activations` and :mod:`scratch.logistic_regression`.
"""

from __future__ import annotations

import numpy as np

import scratch.activations as act
import scratch.logistic_regression as lr
import scratch.softmax as sm
from scratch.course._compat import as_float, as_labels, check_iterations
from scratch.validation import ANY_SHAPE, ELEMENTWISE, float_inputs


@float_inputs(x=0)
def basic_sigmoid(x: float) -> float:
    """sigma(x) for one real number (the course's ``math.exp`` version)."""
    return float(act.sigmoid(as_float("x", x)))


@float_inputs(x=ELEMENTWISE)
def sigmoid(x: object) -> np.ndarray:
    """sigma(x) elementwise; integer inputs are computed in float64 (never truncated)."""
    return act.sigmoid(as_float("x", x))


@float_inputs(x=ELEMENTWISE)
def sigmoid_derivative(x: object) -> np.ndarray:
    """sigma'(x) = sigma(x) (1 - sigma(x)) elementwise."""
    return act.sigmoid_derivative(as_float("x", x))


@float_inputs(image=3)
def image2vector(image: np.ndarray) -> np.ndarray:
    """An image ``(length, height, depth)`` as one column ``(length * height * depth, 1)``."""
    return np.asarray(image).reshape(-1, 1)


@float_inputs(x=2)
def normalizeRows(x: np.ndarray) -> np.ndarray:
    """Each row divided by its Euclidean norm: ``x / ||x||_row``, shape ``(n, d)``.

    An all-zero row is rejected: its norm is 0 and the course's formula would return NaN.
    """
    x = as_float("x", x)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"x has all-zero row(s) {np.flatnonzero(norms[:, 0] == 0).tolist()}; cannot normalize")
    return x / norms


@float_inputs(x=2)
def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, d)`` (each row sums to 1), via the project's column softmax."""
    x = as_float("x", x)
    return sm.softmax(x.T).T


@float_inputs(yhat=ANY_SHAPE, y=ANY_SHAPE)
def L1(yhat: np.ndarray, y: np.ndarray) -> float:
    """L1 loss, a sum (not a mean): ``sum_i |y_i - yhat_i|``."""
    return float(np.sum(np.abs(as_float("y", y) - as_float("yhat", yhat))))


@float_inputs(yhat=ANY_SHAPE, y=ANY_SHAPE)
def L2(yhat: np.ndarray, y: np.ndarray) -> float:
    """L2 loss, a sum (not a mean): ``sum_i (y_i - yhat_i)^2``."""
    return float(np.sum(np.square(as_float("y", y) - as_float("yhat", yhat))))


def initialize_with_zeros(dim: int) -> tuple[np.ndarray, float]:
    """``w = zeros((dim, 1))`` and ``b = 0.0`` (a Python float, as the course's test asserts)."""
    w, b = lr.initialize_with_zeros(dim)
    return w, float(b)


def _inputs(w: object, b: object, X: object, Y: object | None = None):
    X = as_float("X", X)
    w = as_float("w", w)
    b = np.float64(b)
    return (w, b, X) if Y is None else (w, b, X, as_labels(Y, X.shape[1]))


@float_inputs(w=2, X=2, Y=ANY_SHAPE)
def propagate(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray) -> tuple[dict[str, np.ndarray], np.floating]:
    """``({"dw": (n_x, 1), "db": scalar}, cost)`` by :func:`scratch.logistic_regression.propagate`."""
    return lr.propagate(*_inputs(w, b, X, Y))


@float_inputs(w=2, X=2, Y=ANY_SHAPE)
def optimize(w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray, num_iterations: int = 100,
             learning_rate: float = 0.009, print_cost: bool = False
             ) -> tuple[dict[str, object], dict[str, np.ndarray], list[float]]:
    """Gradient descent: ``(params {"w", "b"}, last grads, costs)`` with the cost of every 100th iteration."""
    params, grads, costs = lr.optimize(*_inputs(w, b, X, Y), num_iterations=num_iterations,
                                       learning_rate=learning_rate)
    kept = costs[::100]
    if print_cost:
        for i, cost in zip(range(0, num_iterations, 100), kept, strict=True):
            print(f"Cost after iteration {i}: {cost:f}")
    return params, grads, kept


@float_inputs(w=2, X=2)
def predict(w: np.ndarray, b: float, X: np.ndarray) -> np.ndarray:
    """Labels ``(1, m)``: 1.0 where ``sigmoid(w^T X + b) > 0.5``."""
    return lr.predict(*_inputs(w, b, X))


@float_inputs(X_train=2, Y_train=ANY_SHAPE, X_test=2, Y_test=ANY_SHAPE)
def model(X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray, Y_test: np.ndarray,
          num_iterations: int = 2000, learning_rate: float = 0.5, print_cost: bool = False) -> dict[str, object]:
    """Logistic regression from zeros; the course's result dict (costs, predictions, w, b, settings)."""
    check_iterations(num_iterations)
    w, b = initialize_with_zeros(as_float("X_train", X_train).shape[0])
    params, _, costs = optimize(w, b, X_train, Y_train, num_iterations, learning_rate, print_cost)
    w, b = params["w"], params["b"]
    if print_cost:
        for split, X, Y in (("train", X_train, Y_train), ("test", X_test, Y_test)):
            correct = np.mean(predict(w, b, X) == as_labels(Y, as_float(f"X_{split}", X).shape[1]))
            print(f"{split} accuracy: {100 * correct} %")
    return {"costs": costs, "Y_prediction_test": predict(w, b, X_test),
            "Y_prediction_train": predict(w, b, X_train), "w": w, "b": b,
            "learning_rate": learning_rate, "num_iterations": num_iterations}
