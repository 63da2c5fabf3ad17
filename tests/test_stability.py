"""Numerical stability: no overflow/divide warnings for |z| up to 1e4 (pytest turns RuntimeWarning into
errors, and each test also runs with NumPy raising on overflow, divide and invalid), finite losses for saturated
predictions, and the scratch formulas agree with torch's at the extremes too."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import scratch.activations as act
import scratch.logistic_regression as lr

EXTREMES = [-1e4, -1e3, -745.2, -88.8, -50.0, -1.0, -1e-300, 0.0, 1e-300, 1.0, 50.0, 88.8, 745.2, 1e3, 1e4]
DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def _raise_on_floating_point_errors():
    # Underflow (e^-1e4 == 0) is the correct, harmless answer; overflow, 0/0 and log(0) are not.
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield


def _z(dtype: type) -> np.ndarray:
    return np.array(EXTREMES, dtype=dtype).reshape(1, -1)


def _rounding(dtype: type) -> float:
    return float(np.finfo(dtype).eps) * 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_finite_bounded_and_matches_torch(dtype: type) -> None:
    z = _z(dtype)
    s = act.sigmoid(z)
    assert s.dtype == dtype and np.isfinite(s).all()
    assert ((s >= 0) & (s <= 1)).all()
    assert s[0, 0] == 0 and s[0, -1] == 1  # saturated, not NaN
    # atol = the smallest normal number: torch's vectorized float32 exp flushes subnormal results
    # (sigmoid(-88.8) = 2.7e-39) to 0; NumPy keeps them. Nothing above the subnormal range may differ.
    np.testing.assert_allclose(s, torch.sigmoid(torch.from_numpy(z)).numpy(), rtol=_rounding(dtype),
                               atol=float(np.finfo(dtype).tiny))
    np.testing.assert_allclose(act.sigmoid(-z), 1 - s, atol=_rounding(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_activations_and_derivatives_are_finite_at_the_extremes(name: str, dtype: type) -> None:
    z = _z(dtype)
    value = getattr(act, name)(z)
    slope = getattr(act, f"{name}_derivative")(z)
    assert np.isfinite(value).all() and np.isfinite(slope).all()
    reference = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                 "leaky_relu": torch.nn.functional.leaky_relu}[name]
    zt = torch.from_numpy(z).requires_grad_()
    reference(zt).sum().backward()
    np.testing.assert_allclose(slope, zt.grad.numpy(), rtol=_rounding(dtype), atol=float(np.finfo(dtype).tiny))


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_sigmoid_is_finite_where_the_naive_form_is_not(dtype: type) -> None:
    z = _z(dtype)
    scratch_out = lr.log_sigmoid(z)
    assert np.isfinite(scratch_out).all()
    np.testing.assert_allclose(scratch_out, torch.nn.functional.logsigmoid(torch.from_numpy(z)).numpy(),
                               rtol=_rounding(dtype), atol=0)
    with np.errstate(divide="ignore"):
        naive = np.log(act.sigmoid(z))
    assert not np.isfinite(naive).all()  # log(0) at z = -1e4: what the logits form avoids


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_loss_of_saturated_predictions_is_finite_and_matches_torch(dtype: type) -> None:
    z = _z(dtype)
    for labels in (np.zeros_like(z), np.ones_like(z), (np.arange(z.size) % 2).reshape(z.shape).astype(dtype)):
        cost = lr.cost_from_logits(z, labels)
        assert np.isfinite(cost)
        expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(z), torch.from_numpy(labels))
        assert cost == pytest.approx(float(expected), rel=_rounding(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_propagate_with_saturated_predictions_gives_finite_cost_and_gradients(dtype: type) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 16)).astype(dtype)
    Y = (rng.random((1, 16)) < 0.5).astype(dtype)
    w = np.full((3, 1), 3e3, dtype=dtype)  # |z| up to ~1e4
    grads, cost = lr.propagate(w, dtype(0), X, Y)
    assert np.isfinite(cost) and cost > 100
    assert np.isfinite(grads["dw"]).all() and np.isfinite(grads["db"])
    loop_grads, loop_cost = lr.propagate_loop(w, dtype(0), X, Y)
    assert np.isfinite(loop_cost) and np.isfinite(loop_grads["dw"]).all()
    assert loop_cost == pytest.approx(cost, rel=_rounding(dtype) * 16)


def _optional(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


SOFTMAX = [f for f in (_optional("scratch.activations", "softmax"), _optional("scratch.softmax", "softmax"),
                       _optional("scratch.deep_net", "softmax")) if f is not None]


@pytest.mark.parametrize("softmax", SOFTMAX or [None], ids=lambda f: getattr(f, "__module__", "absent"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_for_large_logits(softmax, dtype: type) -> None:
    if softmax is None:
        pytest.skip("no scratch softmax has landed")
    Z = np.array([[1e4, -1e4, 0.0], [1e4 - 1, 0.0, 1e3], [0.0, 1e4, -1e3]], dtype=dtype)  # classes x examples
    probs = softmax(Z)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=0), 1, rtol=_rounding(dtype))
    np.testing.assert_allclose(probs, torch.softmax(torch.from_numpy(Z), dim=0).numpy(), atol=_rounding(dtype))
