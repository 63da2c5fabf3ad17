"""Property-based parity (hypothesis): random shapes, seeds, hyperparameters and dtypes per concept; every
drawn problem must pass its dtype's tolerance.

``max_examples`` is kept small for the test budget; ``PROPERTY_EXAMPLES`` scales all of them up for a
longer hunt (e.g. ``PROPERTY_EXAMPLES=500 pytest tests/test_properties.py``).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import scratch.activations as act
from compare.core.problem import Problem
from compare.core.registry import all_cases, select
from compare.core.runner import run_case
from compare.data import datasets

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "0"))
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def examples(default: int) -> int:
    return EXAMPLES or default


dtypes = st.sampled_from(["float64", "float32"])
seeds = st.integers(0, 2**16)


# --- logistic regression -------------------------------------------------------------------------------

@settings(max_examples=examples(30), **SETTINGS)
@given(variant=st.sampled_from(["vectorized", "loop"]), m=st.integers(1, 24), n_x=st.integers(1, 6),
       seed=seeds, dtype=dtypes, weight_scale=st.sampled_from([0.0, 0.01, 1.0, 10.0]),
       learning_rate=st.floats(1e-3, 3.0), steps=st.integers(1, 12))
def test_logistic_regression_parity_holds_for_random_problems(variant: str, m: int, n_x: int, seed: int,
                                                               dtype: str, weight_scale: float,
                                                               learning_rate: float, steps: int) -> None:
    (case,) = select([f"logistic_regression/{variant}"])

    def make_problem(seed: int, np_dtype: np.dtype) -> Problem:
        data = datasets.make_blobs(m=m, n_x=n_x, seed=seed)
        rng = np.random.default_rng(seed)
        w = (rng.standard_normal((n_x, 1)) * weight_scale).astype(np_dtype)
        b = np.asarray(rng.standard_normal() * weight_scale, dtype=np_dtype)
        return Problem(seed, np_dtype, {"X": data.X.astype(np_dtype), "Y": data.Y.astype(np_dtype)},
                       {"w": w, "b": b}, {"learning_rate": learning_rate})

    run = run_case(dataclasses.replace(case, make_problem=make_problem), seed=seed, dtype=dtype, steps=steps)
    assert run.parity.passed, run.parity.summary()
    assert len(run.scratch.losses) == steps


# --- building blocks ------------------------------------------------------------------------------------

finite = st.floats(-1e4, 1e4, allow_nan=False)


@settings(max_examples=examples(50), **SETTINGS)
@given(z=st.lists(finite, min_size=1, max_size=20))
def test_sigmoid_is_symmetric_and_bounded(z: list[float]) -> None:
    values = np.array(z)
    s = act.sigmoid(values)
    assert ((s >= 0) & (s <= 1)).all()
    np.testing.assert_allclose(act.sigmoid(-values), 1 - s, atol=1e-15)


@settings(max_examples=examples(25), **SETTINGS)
@given(m=st.integers(1, 30), n_x=st.integers(1, 5), seed=seeds, bad=st.sampled_from([np.nan, np.inf, -np.inf]),
       where=st.floats(0, 1, exclude_max=True))
def test_a_single_bad_value_anywhere_is_rejected(m: int, n_x: int, seed: int, bad: float, where: float) -> None:
    data = datasets.make_blobs(m=m, n_x=n_x, seed=seed)
    X = data.X.copy()
    X.reshape(-1)[int(where * X.size)] = bad
    with pytest.raises(ValueError, match="X contains 1 NaN/Inf"):
        datasets.Dataset("random", X, data.Y)


# --- concepts from other branches (run once they are registered) ----------------------------------------

def _cases_of(concept: str) -> list:
    return [case for case in all_cases() if case.concept == concept]


@settings(max_examples=examples(15), **SETTINGS)
@given(seed=seeds, dtype=dtypes, steps=st.integers(1, 8), index=st.integers(0, 100))
def test_every_deep_net_variant_passes_on_random_seeds(seed: int, dtype: str, steps: int, index: int) -> None:
    cases = _cases_of("deep_net")
    run = run_case(cases[index % len(cases)], seed=seed, dtype=dtype, steps=steps)
    assert run.parity.passed, run.parity.summary()


@settings(max_examples=examples(15), **SETTINGS)
@given(seed=seeds, dtype=dtypes, steps=st.integers(1, 8), index=st.integers(0, 100))
def test_every_optimizer_variant_passes_on_random_seeds(seed: int, dtype: str, steps: int, index: int) -> None:
    cases = _cases_of("optim")
    case = cases[index % len(cases)]
    assume((case.name, dtype, seed) != ADAM_FLOAT32_FINDING)  # kept as its own strict xfail below
    run = run_case(case, seed=seed, dtype=dtype, steps=steps)
    assert run.parity.passed, run.parity.summary()


#: Found by the test above once the new optimizers shifted which variant each drawn index picks.
ADAM_FLOAT32_FINDING = ("optim/adam", "float32", 45670)


@pytest.mark.xfail(strict=True, reason="open finding: float32 Adam's first step on a gradient entry that is a "
                                      "cancellation; the normalised update carries its rounding beyond 2e-4")
def test_adam_float32_first_step_on_a_cancelled_gradient() -> None:
    """optim/adam, float32, seed 45670, one step: param.b1[6, 0] is 0.0028404 (scratch) vs 0.0028383 (torch),
    7.1e-4 relative (2.1e-6 absolute, beyond the rounding floor's 9.5e-7), while the gradients agree to 7.3e-5.
    Adam divides each gradient entry by its own magnitude, so the absolute rounding of a cancelled entry becomes
    a relative error of the update. Either the floor must follow the update's normalisation or this is a real
    float32 difference; not decided yet."""
    (case,) = select(["optim/adam"])
    run = run_case(case, seed=45670, dtype="float32", steps=1)
    assert run.parity.passed, run.parity.summary()
