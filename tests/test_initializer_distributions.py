"""scratch's initializers against ``torch.nn.init``: mean, variance by fan-in/fan-out, and the whole distribution.

Parity runs share one initial draw, so they cannot see an initializer's scale; these tests can. For each
method and each layer shape (wide, tall and square, so that a fan-in/fan-out mix-up changes the variance by
a factor of six), scratch's weights and torch's (same layout: ``W`` is ``(fan_out, fan_in)`` like
``nn.Linear.weight``) are drawn and tested at a false-alarm rate of ``ALPHA`` = 1e-6 per test:

- mean 0: ``|mean| / (sigma / sqrt(n)) < z`` (normal approximation, n >= 10,000);
- variance: ``|s^2 / sigma^2 - 1| / sqrt(2 / (n - 1)) < z`` (the chi-square's normal approximation), where
  ``sigma`` is the method's formula, for scratch and for torch (so the formula is torch's);
- same distribution: the two-sample Kolmogorov-Smirnov statistic below ``sqrt(-ln(ALPHA / 2) / 2) *
  sqrt((n + m) / (n m))`` (the asymptotic critical value).

The draws are seeded, so each outcome is fixed; the rate says how unlikely a correct initializer is to fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scratch.initialization import initialize_parameters

ALPHA = 1e-6
Z = 4.89  # two-sided normal quantile for ALPHA = 1e-6
SHAPES = [(40, 300), (300, 40), (120, 120)]  # (fan_out, fan_in)
TORCH_INIT = {
    "he": lambda w: torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"),
    "xavier": lambda w: torch.nn.init.xavier_normal_(w),
    "small": lambda w: torch.nn.init.normal_(w, std=0.01),
}
FORMULA = {
    "he": lambda fan_in, fan_out: math.sqrt(2 / fan_in),
    "xavier": lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out)),
    "small": lambda fan_in, fan_out: 0.01,
}


def _scratch(method: str, fan_out: int, fan_in: int, seed: int) -> np.ndarray:
    params = initialize_parameters([fan_in, fan_out], method=method, rng=np.random.default_rng(seed))
    return params["W1"].ravel()


def _torch(method: str, fan_out: int, fan_in: int, seed: int) -> np.ndarray:
    weight = torch.empty(fan_out, fan_in, dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        TORCH_INIT[method](weight)
    return weight.numpy().ravel()


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, points, side="right") / a.size
                               - np.searchsorted(b, points, side="right") / b.size)))


CASES = [(method, shape) for method in FORMULA for shape in SHAPES]


@pytest.mark.parametrize(("method", "shape"), CASES, ids=[f"{m}-{s[0]}x{s[1]}" for m, s in CASES])
def test_initializer_matches_torch_in_mean_variance_and_distribution(method: str, shape: tuple[int, int]) -> None:
    fan_out, fan_in = shape
    sigma = FORMULA[method](fan_in, fan_out)
    draws = {"scratch": _scratch(method, fan_out, fan_in, seed=1), "torch": _torch(method, fan_out, fan_in, seed=2)}
    for side, w in draws.items():
        n = w.size
        mean_z = abs(w.mean()) / (sigma / math.sqrt(n))
        var_z = abs(w.var(ddof=1) / sigma**2 - 1) / math.sqrt(2 / (n - 1))
        assert mean_z < Z, f"{side} {method} {shape}: mean {w.mean():.3e} is {mean_z:.1f} standard errors from 0"
        assert var_z < Z, f"{side} {method} {shape}: std {w.std(ddof=1):.4e} vs formula {sigma:.4e} ({var_z:.1f} se)"
    n, m = draws["scratch"].size, draws["torch"].size
    critical = math.sqrt(-math.log(ALPHA / 2) / 2) * math.sqrt((n + m) / (n * m))
    ks = _ks_statistic(draws["scratch"], draws["torch"])
    assert ks < critical, f"{method} {shape}: KS statistic {ks:.4f} >= {critical:.4f}: not torch's distribution"


@pytest.mark.parametrize("wrong", ["fan_out", "fan_avg_without_2"])
def test_the_variance_test_has_the_power_to_see_a_fan_mix_up(wrong: str) -> None:
    """The same statistics reject a He initializer scaled by fan_out, or a Xavier one missing its factor 2."""
    fan_out, fan_in = 40, 300
    w = np.random.default_rng(1).standard_normal((fan_out, fan_in)).ravel()
    w *= math.sqrt(2 / fan_out) if wrong == "fan_out" else math.sqrt(1 / (fan_in + fan_out))
    sigma = FORMULA["he" if wrong == "fan_out" else "xavier"](fan_in, fan_out)
    var_z = abs(w.var(ddof=1) / sigma**2 - 1) / math.sqrt(2 / (w.size - 1))
    assert var_z > Z


def test_zeros_is_torch_zeros() -> None:
    params = initialize_parameters([30, 20, 1], method="zeros", rng=np.random.default_rng(0))
    weight = torch.nn.init.zeros_(torch.empty(20, 30, dtype=torch.float64))
    np.testing.assert_array_equal(params["W1"], weight.numpy())
