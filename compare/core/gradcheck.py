"""Two-sided numerical gradient check, usable by every case.

For each parameter entry theta_i:  g_num_i = (J(theta_i + eps) - J(theta_i - eps)) / (2 eps), and the
course's relative error is ``||g - g_num||_2 / (||g||_2 + ||g_num||_2)`` over all entries of all
parameters. With float64 and eps = 1e-7 a correct backward pass gives ~1e-9 or less; above 1e-7 is
suspicious, above 1e-5 is a bug (the course's rule of thumb).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratch.validation import check_positive


def numerical_gradient(cost: Callable[[dict[str, np.ndarray]], float], params: dict[str, np.ndarray],
                       eps: float = 1e-7) -> dict[str, np.ndarray]:
    """Central differences of ``cost`` with respect to every entry of every parameter (float64)."""
    check_positive("eps", eps)
    point = {name: np.array(value, dtype=np.float64, copy=True) for name, value in params.items()}
    grads = {}
    for name, value in point.items():
        grad = np.zeros_like(value)
        flat, flat_grad = value.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = cost(point)
            flat[i] = original - eps
            minus = cost(point)
            flat[i] = original
            flat_grad[i] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads


def relative_error(analytic: dict[str, np.ndarray], numeric: dict[str, np.ndarray]) -> float:
    """``||g - g_num|| / (||g|| + ||g_num||)`` over all parameters (keys must match)."""
    if analytic.keys() != numeric.keys():
        raise ValueError(f"gradient names differ: {sorted(analytic)} vs {sorted(numeric)}")
    g = np.concatenate([np.ravel(analytic[k]).astype(np.float64) for k in sorted(analytic)])
    n = np.concatenate([np.ravel(numeric[k]).astype(np.float64) for k in sorted(numeric)])
    denominator = np.linalg.norm(g) + np.linalg.norm(n)
    return float(np.linalg.norm(g - n) / denominator) if denominator > 0 else 0.0


def gradient_check(cost: Callable[[dict[str, np.ndarray]], float], grads: dict[str, np.ndarray],
                   params: dict[str, np.ndarray], eps: float = 1e-7) -> float:
    """The course's relative error between ``grads`` and the numerical gradient of ``cost`` at ``params``."""
    return relative_error(grads, numerical_gradient(cost, params, eps))
