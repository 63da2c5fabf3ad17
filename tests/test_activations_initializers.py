"""Activations against torch.nn.functional and autograd; initializers against torch.nn.init.

Statistical tests of the initializers have a stated false-failure probability: each assertion uses
bounds that a correct N(0, sigma^2) sample violates with probability at most ``P_FAIL = 1e-6``
(exact chi-square / F / normal quantiles from scipy). Seeds are fixed, so the outcome is deterministic;
the bound says how unlucky a fixed seed could have been, and a wrong std (say He's sqrt(2/n) vs
Xavier's or a missing factor) misses the bounds by orders of magnitude.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

import scratch.activations as act
from compare.cases.networks import build_torch_model, deep_problem
from scratch.initialization import initialize_parameters, weight_std
from torch_ref.deep_net import DeepNet, init_parameters

DTYPES = [np.float32, np.float64]
ULPS = 4  # a few units in the last place: different but equivalent evaluation orders
P_FAIL = 1e-6

# name -> (scratch forward, scratch derivative, torch forward)
ACTIVATIONS = {
    "sigmoid": (act.sigmoid, act.sigmoid_derivative, torch.sigmoid),
    "tanh": (act.tanh, act.tanh_derivative, torch.tanh),
    "relu": (act.relu, act.relu_derivative, F.relu),
    "leaky_relu": (act.leaky_relu, act.leaky_relu_derivative, F.leaky_relu),
    "leaky_relu_0.2": (lambda z: act.leaky_relu(z, 0.2), lambda z: act.leaky_relu_derivative(z, 0.2),
                       lambda x: F.leaky_relu(x, negative_slope=0.2)),
}


def _inputs(dtype: type) -> np.ndarray:
    """0, +-1e4, +-1, values around the kinks and saturation, and 200 random normals of scale 5."""
    special = [0.0, -0.0, 1e4, -1e4, 1.0, -1.0, 1e-30, -1e-30, 1e-8, -1e-8, 20.0, -20.0, 40.0, -40.0, 750.0, -750.0]
    random = np.random.default_rng(0).standard_normal(200) * 5
    return np.concatenate([special, random]).astype(dtype).reshape(8, -1)


def _tolerance(dtype: type) -> dict[str, float]:
    return {"rtol": ULPS * float(np.finfo(dtype).eps), "atol": float(np.finfo(dtype).tiny)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch_functional(name: str, dtype: type) -> None:
    forward, _, reference = ACTIVATIONS[name]
    z = _inputs(dtype)
    got = forward(z)
    assert got.shape == z.shape and got.dtype == dtype and np.isfinite(got).all()
    np.testing.assert_allclose(got, reference(torch.from_numpy(z)).numpy(), **_tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_autograd(name: str, dtype: type) -> None:
    _, derivative, reference = ACTIVATIONS[name]
    z = _inputs(dtype)
    x = torch.from_numpy(z).requires_grad_()
    reference(x).sum().backward()
    got = derivative(z)
    assert got.shape == z.shape and np.isfinite(got).all()
    # sigma' = s (1 - s) and tanh' = 1 - t^2 (both sides use these forms) cancel where the unit saturates:
    # their error is absolute, a few eps of the largest value (<= 1), not relative to a tiny result.
    tolerance = _tolerance(dtype)
    tolerance["atol"] = ULPS * float(np.finfo(dtype).eps)
    np.testing.assert_allclose(got, x.grad.numpy(), **tolerance)


@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_conventions_at_zero(dtype: type) -> None:
    zero = np.zeros(1, dtype=dtype)
    assert act.relu_derivative(zero)[0] == 0
    assert act.leaky_relu_derivative(zero)[0] == np.dtype(dtype).type(0.01)
    assert act.sigmoid_derivative(zero)[0] == 0.25 and act.tanh_derivative(zero)[0] == 1


# --- initializers ---------------------------------------------------------------------------------------

FAN_IN, FAN_OUT = 400, 300
RANDOM_METHODS = ["small", "he", "xavier"]


def _torch_init(method: str, seed: int) -> dict[str, np.ndarray]:
    """The weights of torch_ref's ``init_parameters`` (``torch.nn.init``) on a two-layer DeepNet."""
    model = DeepNet([FAN_IN, FAN_OUT, 200], dtype=torch.float64)
    init_parameters(model, method, generator=torch.Generator().manual_seed(seed))
    return {f"{p}{l}": getattr(linear, "weight" if p == "W" else "bias").detach().numpy()
            for l, linear in enumerate(model.linears, start=1) for p in "Wb"}  # noqa: E741


def _scratch_init(method: str, seed: int) -> dict[str, np.ndarray]:
    return initialize_parameters([FAN_IN, FAN_OUT, 200], method=method, rng=np.random.default_rng(seed))


def _assert_mean_and_std(sample: np.ndarray, sigma: float) -> None:
    """Mean 0 and std ``sigma`` of i.i.d. normals, each test two-sided at level ``P_FAIL``."""
    n = sample.size
    z = stats.norm.isf(P_FAIL / 2)
    assert abs(sample.mean()) <= z * sigma / np.sqrt(n), f"mean {sample.mean():.3g} too far from 0"
    chi2 = float(np.sum(np.square(sample / sigma)))  # ~ chi-square(n) with the known mean 0
    low, high = stats.chi2.ppf(P_FAIL / 2, n), stats.chi2.isf(P_FAIL / 2, n)
    assert low <= chi2 <= high, f"std {np.sqrt(chi2 / n) * sigma:.4g} vs target {sigma:.4g}"


@pytest.mark.parametrize("side", ["numpy", "torch"])
@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_initializer_has_the_target_distribution(method: str, side: str) -> None:
    params = (_scratch_init if side == "numpy" else _torch_init)(method, seed=7)
    for l, fan_in, fan_out in ((1, FAN_IN, FAN_OUT), (2, FAN_OUT, 200)):  # noqa: E741
        _assert_mean_and_std(params[f"W{l}"], weight_std(method, fan_in, fan_out))
        assert not params[f"b{l}"].any()


@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_numpy_and_torch_initializers_have_equal_variance(method: str) -> None:
    scratch_out, torch_out = _scratch_init(method, seed=3), _torch_init(method, seed=3)
    for name in ("W1", "W2"):
        a, b = scratch_out[name], torch_out[name]
        ratio = np.mean(np.square(a)) / np.mean(np.square(b))  # ~ F(n, n) under equal variances
        low, high = stats.f.ppf(P_FAIL / 2, a.size, b.size), stats.f.isf(P_FAIL / 2, a.size, b.size)
        assert low <= ratio <= high, f"{name}: variance ratio {ratio:.4f} outside [{low:.4f}, {high:.4f}]"


def test_the_tests_detect_a_wrong_std() -> None:
    he = _scratch_init("he", seed=7)["W1"]
    with pytest.raises(AssertionError, match="std"):
        _assert_mean_and_std(he, weight_std("xavier", FAN_IN, FAN_OUT))  # sqrt(2/400) vs sqrt(2/700)


def test_zeros_are_zeros_on_both_sides() -> None:
    for params in (_scratch_init("zeros", 0), _torch_init("zeros", 0)):
        assert all(not value.any() for value in params.values())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["zeros", *RANDOM_METHODS])
def test_harness_loads_the_shared_weights_exactly(method: str, dtype: type) -> None:
    problem = deep_problem(0, dtype, layer_dims=[6, 5, 4, 1], m=10, init=method, hidden_activation="tanh")
    model, mapping = build_torch_model(problem, torch.device("cpu"))
    for entry in mapping:
        loaded = entry.to_scratch(entry.parameter.detach().numpy())
        assert loaded.dtype == dtype
        np.testing.assert_array_equal(loaded, problem.params[entry.scratch_name])


@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_float32_start_is_the_rounded_float64_start(method: str) -> None:
    f64 = initialize_parameters([5, 4, 1], method=method, rng=np.random.default_rng(2), dtype=np.float64)
    f32 = initialize_parameters([5, 4, 1], method=method, rng=np.random.default_rng(2), dtype=np.float32)
    for name, value in f64.items():
        np.testing.assert_array_equal(f32[name], value.astype(np.float32))


def test_bad_initializer_arguments() -> None:
    with pytest.raises(ValueError, match="method"):
        initialize_parameters([2, 1], method="orthogonal", rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        initialize_parameters([2, 1], method="he", rng=0)
    with pytest.raises(ValueError, match=r"layer_dims\[1\]"):
        initialize_parameters([2, 0], method="he", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="method"):
        init_parameters(DeepNet([2, 1]), "orthogonal")
