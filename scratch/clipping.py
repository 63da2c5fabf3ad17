"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``, and the course's ``clip``.

Gradients are the course's dict ``{"dW_ih_l0": ..., "db_hh_l0": ..., ...}``; every function changes the
arrays in place (the trailing underscore is torch's marker for that) and returns what torch returns, so
the gradients must be writeable float32/float64 arrays (integers would be truncated: they are refused, naming
the entry); :func:`total_norm`, which only reads them, promotes integers and booleans to float64.

Global norm clipping (``clip_grad_norm_``) treats *all* gradients as one long vector::

    n_k   = ||g_k||_p                       (one norm per array; p = inf: max |g_k|)
    N     = ||(n_1, ..., n_K)||_p           (the total norm, returned)
    c     = min(max_norm / (N + 1e-6), 1)   (torch's coefficient: the 1e-6 keeps c finite for N = 0)
    g_k   = c * g_k                         (every array, also when c = 1)

so the direction of the full gradient is kept and only its length is capped (slightly below
``max_norm``: ``N c = max_norm N / (N + 1e-6)``). The arithmetic is done in the gradients' dtype, as torch
does it in the tensors' dtype.

The course's ``clip(gradients, maxValue)`` (the character-level language model exercise) clips each
*entry* to ``[-maxValue, maxValue]`` with ``np.clip``: that is ``clip_grad_value_``, not norm clipping.
It changes the gradient's direction (large entries are cut, small ones kept), so a run clipped that way
follows another trajectory than one clipped by the global norm; ``tests/test_clipping.py`` shows both
facts. Clipping each array's norm separately is a third, different rule (not offered here).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from scratch.validation import (
    ELEMENTWISE,
    check_array,
    check_float_dtype,
    check_positive,
    float_inputs,
    updates_in_place,
)

Grads = Mapping[str, np.ndarray]


def _check_grads(grads: Grads) -> list[np.ndarray]:
    if not isinstance(grads, Mapping) or not grads:
        raise ValueError(f"grads must be a non-empty dict of name -> numpy array, got {grads!r:.80}")
    for name, grad in grads.items():
        check_array(f"grads[{name!r}]", grad)
        check_float_dtype(f"grads[{name!r}]", grad)
    if len({grad.dtype for grad in grads.values()}) > 1:
        raise ValueError(f"grads must share one dtype, got {sorted({str(g.dtype) for g in grads.values()})}")
    return list(grads.values())


def _check_norm_type(norm_type: float) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float, np.integer, np.floating)) \
            or not norm_type > 0:
        raise ValueError(f"norm_type must be a number > 0 or math.inf, got {norm_type!r}")
    return float(norm_type)


def _vector_norm(values: np.ndarray, norm_type: float) -> np.floating:
    """``||values||_p`` over all entries, in ``values``' dtype (``torch.linalg.vector_norm``)."""
    flat = values.reshape(-1)
    if flat.size == 0:
        return flat.dtype.type(0)
    if norm_type == math.inf:
        return np.max(np.abs(flat))
    if norm_type == 2.0:
        return np.sqrt(np.dot(flat, flat))
    return np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type)


@float_inputs(grads=ELEMENTWISE)
def total_norm(grads: Grads, *, norm_type: float = 2.0) -> np.floating:
    """The norm of all gradients taken together: the ``p``-norm of the per-array ``p``-norms."""
    arrays = _check_grads(grads)
    norm_type = _check_norm_type(norm_type)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf gradients give a NaN/Inf norm, as in torch
        norms = np.array([_vector_norm(grad, norm_type) for grad in arrays], dtype=arrays[0].dtype)
        return _vector_norm(norms, norm_type)


@updates_in_place("grads", finite=False)
def clip_grad_norm_(grads: Grads, *, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
                    ) -> np.floating:
    """Scale every gradient by ``min(max_norm / (N + 1e-6), 1)`` (see the module); returns the total norm N.

    With ``error_if_nonfinite`` a NaN or infinite N raises ``FloatingPointError``; without it the
    gradients are scaled by the resulting NaN or 0 coefficient, exactly as torch does (so an infinite
    gradient entry becomes NaN).
    """
    check_positive("max_norm", max_norm)
    norm = total_norm(grads, norm_type=norm_type)
    if error_if_nonfinite and not np.isfinite(norm):
        raise FloatingPointError(f"the total norm of order {norm_type} of the gradients is {norm}, so it cannot "
                                 f"be clipped; pass error_if_nonfinite=False to scale by it anyway")
    dtype = norm.dtype.type
    coefficient = np.minimum(dtype(max_norm) / (norm + dtype(1e-6)), dtype(1.0))
    with np.errstate(invalid="ignore"):  # inf * 0 = NaN, as torch's mul_ gives
        for grad in grads.values():
            grad *= coefficient
    return norm


@updates_in_place("grads", finite=False)
def clip_grad_value_(grads: Grads, *, clip_value: float) -> None:
    """Clip every entry of every gradient to ``[-clip_value, clip_value]`` (``torch.clamp_``)."""
    check_positive("clip_value", clip_value)
    for grad in _check_grads(grads):
        np.clip(grad, -clip_value, clip_value, out=grad)


@updates_in_place("gradients", finite=False)
def clip(gradients: Grads, maxValue: float) -> Grads:  # noqa: N803 - the course's name
    """The course's ``clip``: ``np.clip(g, -maxValue, maxValue, out=g)`` on each gradient; returns them.

    Entry-wise, so it equals :func:`clip_grad_value_` with ``clip_value = maxValue``, and it is *not* norm
    clipping: the clipped gradient points in another direction than the original one.
    """
    clip_grad_value_(gradients, clip_value=maxValue)
    return gradients
