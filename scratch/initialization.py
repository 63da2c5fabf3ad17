"""Parameter initialization for an L-layer network in the course's layout.

``layer_dims = [n_0, n_1, ..., n_L]`` (``n_0`` = input features). Layer ``l`` gets ``W{l}`` of shape
``(n_l, n_{l-1})`` (the shape of ``nn.Linear(n_{l-1}, n_l).weight``) and ``b{l}`` of shape ``(n_l, 1)``.
Biases always start at zero; the weights follow ``method``:

==========  =========================================  ==========================================
method      W{l} ~                                     torch.nn.init counterpart
==========  =========================================  ==========================================
``zeros``   0                                          ``zeros_`` (fails: zero_initialization study)
``small``   N(0, 0.01^2)   (the course's ``* 0.01``)   ``normal_(std=0.01)``
``he``      N(0, 2 / n_{l-1})   (fan-in, for ReLU)     ``kaiming_normal_(nonlinearity="relu")``
``xavier``  N(0, 2 / (n_{l-1} + n_l))   (Glorot)       ``xavier_normal_()``
==========  =========================================  ==========================================

The draws are standard normals from the given ``rng`` in the order W1, W2, ..., each in float64 and then
cast to ``dtype``, so a float32 and a float64 problem with the same seed start from the same weights
(up to float32 rounding).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scratch.validation import FLOAT_DTYPES, check_positive_int

METHODS = ("zeros", "small", "he", "xavier")


def weight_std(method: str, fan_in: int, fan_out: int) -> float:
    """Standard deviation of the weights of a ``(fan_out, fan_in)`` layer under ``method``."""
    if method == "zeros":
        return 0.0
    if method == "small":
        return 0.01
    if method == "he":
        return float(np.sqrt(2.0 / fan_in))
    if method == "xavier":
        return float(np.sqrt(2.0 / (fan_in + fan_out)))
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def check_layer_dims(layer_dims: Sequence[int]) -> list[int]:
    """At least an input and an output size, every size a positive integer."""
    dims = list(layer_dims)
    if len(dims) < 2:
        raise ValueError(f"layer_dims must list at least 2 sizes (input and output), got {dims}")
    for index, size in enumerate(dims):
        check_positive_int(f"layer_dims[{index}]", size)
    return [int(size) for size in dims]


def initialize_parameters(layer_dims: Sequence[int], *, method: str,
                          rng: np.random.Generator | np.random.RandomState,
                          dtype: np.dtype | type | str = np.float64) -> dict[str, np.ndarray]:
    """``{"W1": (n_1, n_0), "b1": (n_1, 1), ..., "WL": (n_L, n_{L-1}), "bL": (n_L, 1)}`` in ``dtype``.

    ``rng`` is the project's ``np.random.Generator``; a legacy ``np.random.RandomState`` is accepted for the
    course's seeded initializers (:mod:`scratch.course`), whose published values come from that stream
    (``RandomState(k).standard_normal(shape)`` draws what ``np.random.seed(k); np.random.randn(*shape)`` draws).
    """
    dims = check_layer_dims(layer_dims)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
        raise TypeError(f"rng must be a numpy.random.Generator (or a legacy RandomState), got {type(rng).__name__}")
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    params: dict[str, np.ndarray] = {}
    for l in range(1, len(dims)):  # noqa: E741  (the lectures' layer index)
        fan_out, fan_in = dims[l], dims[l - 1]
        if method == "zeros":
            weights = np.zeros((fan_out, fan_in))
        else:
            weights = rng.standard_normal((fan_out, fan_in)) * weight_std(method, fan_in, fan_out)
        params[f"W{l}"] = weights.astype(dtype)
        params[f"b{l}"] = np.zeros((fan_out, 1), dtype=dtype)
    return params
