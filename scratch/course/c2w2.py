"""Course 2, week 2: optimization methods.

Wrappers over :mod:`scratch.minibatch` (the course's shuffle-and-cut mini-batches) and the course's
formulations in :mod:`scratch.optim` (``momentum_course_step``, ``adam_course_step``,
``update_lr``, ``schedule_lr_decay``). Velocities and Adam moments are dicts keyed like the gradients
(``"dW1"``, ``"db1"``, ...). ``random_mini_batches`` seeds its shuffle with ``seed`` (0 by default),
as the course does (see :mod:`scratch.course` for ``seed`` and ``rng``).
"""

from __future__ import annotations

import numpy as np

import scratch.deep_net as dn
import scratch.minibatch as mb
import scratch.optim as so
from scratch.course._compat import as_float, copy_params, legacy_stream
from scratch.validation import ANY_SHAPE, float_inputs

update_lr = so.update_lr
schedule_lr_decay = so.schedule_lr_decay


@float_inputs(parameters=2, grads=2)
def update_parameters_with_gd(parameters: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                              learning_rate: float) -> dict[str, np.ndarray]:
    """A new dict ``P - learning_rate * dP`` (one step of gradient descent)."""
    return dn.update_parameters(copy_params(parameters), grads, learning_rate)


@float_inputs(X=2, Y=ANY_SHAPE)
def random_mini_batches(X: np.ndarray, Y: np.ndarray, mini_batch_size: int = 64, seed: int | None = 0, *,
                        rng: np.random.Generator | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle the m columns of ``X`` and ``Y`` with one permutation, cut ``floor(m / size)`` full batches
    and a last smaller one: ``[(mini_batch_X, mini_batch_Y), ...]``."""
    X, Y = np.asarray(X), np.asarray(Y)
    with legacy_stream(seed, rng) as stream:
        permutation = stream.permutation(X.shape[1])
    return mb.partition_mini_batches(X, Y, mini_batch_size, permutation)


@float_inputs(parameters=2)
def initialize_velocity(parameters: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{"dW1": zeros like W1, "db1": zeros like b1, ...}``."""
    return {f"d{name}": np.zeros_like(as_float(name, value)) for name, value in parameters.items()}


@float_inputs(parameters=2, grads=2, v=2)
def update_parameters_with_momentum(parameters: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                                    v: dict[str, np.ndarray], beta: float, learning_rate: float
                                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``v = beta v + (1 - beta) dW``, ``W = W - learning_rate v`` for every parameter: ``(parameters, v)``."""
    parameters = copy_params(parameters)
    v = dict(v)
    for name, param in parameters.items():
        state = {"v": as_float(f"v['d{name}']", v[f"d{name}"])}
        so.momentum_course_step(param, as_float(f"d{name}", grads[f"d{name}"]), state, lr=learning_rate, beta=beta)
        v[f"d{name}"] = state["v"]
    return parameters, v


@float_inputs(parameters=2)
def initialize_adam(parameters: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(v, s)``, both zeros keyed like the gradients."""
    return initialize_velocity(parameters), initialize_velocity(parameters)


@float_inputs(parameters=2, grads=2, v=2, s=2)
def update_parameters_with_adam(parameters: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                                v: dict[str, np.ndarray], s: dict[str, np.ndarray], t: int,
                                learning_rate: float = 0.01, beta1: float = 0.9, beta2: float = 0.999,
                                epsilon: float = 1e-8):
    """One Adam step with the course's ``t`` (the number of this update, from 1).

    Returns ``(parameters, v, s, v_corrected, s_corrected)`` as the 2021 course does (the 2018 version
    returned the first three).
    """
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
        raise ValueError(f"t must be the update count, an integer >= 1, got {t!r}")
    parameters = copy_params(parameters)
    v, s, v_corrected, s_corrected = dict(v), dict(s), {}, {}
    for name, param in parameters.items():
        key = f"d{name}"
        state = {"t": t - 1, "v": as_float(f"v[{key!r}]", v[key]), "s": as_float(f"s[{key!r}]", s[key])}
        v_corrected[key], s_corrected[key] = so.adam_course_step(
            param, as_float(key, grads[key]), state, lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon)
        v[key], s[key] = state["v"], state["s"]
    return parameters, v, s, v_corrected, s_corrected
