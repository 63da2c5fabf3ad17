"""Course 1, week 3: planar data classification with one hidden layer (tanh hidden, sigmoid output).

Wrappers over :mod:`scratch.shallow_net`. Parameters ``{"W1": (n_h, n_x), "b1": (n_h, 1),
"W2": (n_y, n_h), "b2": (n_y, 1)}``; the cache is ``{"Z1", "A1", "Z2", "A2"}``.

Seeding: the 2021 ``initialize_parameters`` does not seed (the caller or ``nn_model`` does, with 3);
2017/18 seeded 2 inside ``initialize_parameters``. ``nn_model(..., seed=3)`` is the 2021 behaviour and
``seed=2`` the earlier one; see :mod:`scratch.course` for ``seed`` and ``rng``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import scratch.deep_net as dn
import scratch.shallow_net as sn
from scratch.course._compat import as_float, as_labels, check_iterations, copy_params, legacy_stream
from scratch.validation import ANY_SHAPE, float_inputs


@float_inputs(X=2, Y=ANY_SHAPE)
def layer_sizes(X: np.ndarray, Y: np.ndarray) -> tuple[int, int, int]:
    """``(n_x, 4, n_y)``: the course fixes the hidden layer at 4 units."""
    return sn.layer_sizes(np.asarray(X), np.asarray(Y), n_h=4)


def initialize_parameters(n_x: int, n_h: int, n_y: int, *, seed: int | None = None,
                          rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """``W1 = randn(n_h, n_x) * 0.01``, then ``W2 = randn(n_y, n_h) * 0.01``; zero biases.

    ``seed=None`` draws from NumPy's global legacy stream like the course (the caller seeds it).
    """
    with legacy_stream(seed, rng) as stream:
        return sn.initialize_parameters(n_x, n_h, n_y, rng=stream)


@float_inputs(X=2, parameters=2)
def forward_propagation(X: np.ndarray, parameters: Mapping[str, np.ndarray]
                        ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(A2, {"Z1", "A1", "Z2", "A2"})``: ``A1 = tanh(W1 X + b1)``, ``A2 = sigmoid(W2 A1 + b2)``."""
    return sn.forward_propagation(as_float("X", X), copy_params(dict(parameters)))


@float_inputs(A2=2, Y=ANY_SHAPE)
def compute_cost(A2: np.ndarray, Y: np.ndarray, parameters: Mapping[str, np.ndarray] | None = None) -> float:
    """Mean cross-entropy of ``A2`` ``(1, m)`` against ``Y``; ``parameters`` is the 2017/18 signature's,
    unused. ``A2`` must be ``(1, m)`` like ``Y`` (no broadcasting of a 1-D ``A2``)."""
    A2 = as_float("A2", A2)
    return float(dn.compute_cost(A2, as_labels(Y, A2.shape[-1])))


@float_inputs(parameters=2, cache=2, X=2, Y=ANY_SHAPE)
def backward_propagation(parameters: Mapping[str, np.ndarray], cache: Mapping[str, np.ndarray], X: np.ndarray,
                         Y: np.ndarray) -> dict[str, np.ndarray]:
    """``{"dW1", "db1", "dW2", "db2"}``, with ``dZ1 = W2^T dZ2 * (1 - A1^2)`` from the cached ``A1``."""
    X = as_float("X", X)
    cache = {name: as_float(name, value) for name, value in cache.items()}
    return sn.backward_propagation(copy_params(dict(parameters)), cache, X, as_labels(Y, X.shape[1]))


@float_inputs(parameters=2, grads=2)
def update_parameters(parameters: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
                      learning_rate: float = 1.2) -> dict[str, np.ndarray]:
    """A new dict ``P - learning_rate * dP`` (the course's default rate 1.2); the input is not modified."""
    return sn.update_parameters(copy_params(dict(parameters)), grads, learning_rate)


@float_inputs(X=2, Y=ANY_SHAPE)
def nn_model(X: np.ndarray, Y: np.ndarray, n_h: int, num_iterations: int = 10000, print_cost: bool = False, *,
             seed: int | None = 3, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Batch gradient descent at rate 1.2 from :func:`initialize_parameters`; prints every 1000th cost."""
    check_iterations(num_iterations)
    X = as_float("X", X)
    Y = as_labels(Y, X.shape[1])
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initialize_parameters(n_x, n_h, n_y, seed=seed, rng=rng)
    sn.check_inputs(X, parameters, Y)  # once; the loop below skips the per-call checks
    for i in range(num_iterations):
        A2, cache = sn.forward_propagation(X, parameters, check=False)
        cost = compute_cost(A2, Y)
        grads = sn.backward_propagation(parameters, cache, X, Y)
        sn.update_parameters(parameters, grads, 1.2)
        if print_cost and i % 1000 == 0:
            print(f"Cost after iteration {i}: {cost:f}")
    return parameters


@float_inputs(parameters=2, X=2)
def predict(parameters: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Labels ``(1, m)``: 1 where ``A2 > 0.5``, as a boolean array like the course's ``A2 > 0.5``."""
    A2, _ = forward_propagation(X, parameters)
    return A2 > 0.5
