"""The comparison itself: relative differences, trajectory matching, verdicts and divergence reports."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compare.core.parity import TOLERANCES, compare_trajectories, relative_difference, tolerance, worst_entry
from compare.core.problem import Observation
from compare.core.record import Trajectory, snapshot_steps
from compare.core.registry import select
from compare.core.runner import run_case


def _trajectory(losses: list[float], arrays: list[dict[str, np.ndarray]]) -> Trajectory:
    traj = Trajectory()
    for step, (loss, step_arrays) in enumerate(zip(losses, arrays, strict=True)):
        traj.record(step, lambda loss=loss, a=step_arrays: Observation(loss, a), keep_arrays=True)
    return traj


def test_relative_difference_is_max_abs_over_max_reference() -> None:
    a = np.array([1.0, 2.0, 4.0])
    b = np.array([1.0, 2.5, 8.0])
    abs_diff, rel = relative_difference(a, b)
    assert abs_diff == 4.0
    assert rel == 4.0 / 8.0


def test_relative_difference_of_equal_and_empty_arrays_is_zero() -> None:
    x = np.linspace(-3, 3, 7)
    assert relative_difference(x, x.copy()) == (0.0, 0.0)
    assert relative_difference(np.zeros((0, 3)), np.zeros((0, 3))) == (0.0, 0.0)


def test_relative_difference_against_zero_reference_is_absolute() -> None:
    assert relative_difference(np.array([1e-3, 0.0]), np.zeros(2)) == (1e-3, 1e-3)


def test_relative_difference_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"shapes \(2, 1\) and \(1, 2\)"):
        relative_difference(np.zeros((2, 1)), np.zeros((1, 2)))


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)),
       st.floats(1e-3, 1e3))
def test_relative_difference_is_scale_invariant_and_symmetric_in_sign(b: np.ndarray, scale: float) -> None:
    assume(np.max(np.abs(b)) > 0)  # an all-zero reference falls back to the absolute difference
    a = b + 1e-3
    _, rel = relative_difference(a, b)
    _, scaled = relative_difference(a * scale, b * scale)
    assert scaled == pytest.approx(rel, rel=1e-9)
    assert relative_difference(-a, -b) == relative_difference(a, b)


def test_tolerances_are_ordered_and_scaled_by_the_case_factor() -> None:
    assert tolerance("float64", "cpu") < tolerance("float64", "cuda") < tolerance("float32", "cpu")
    assert tolerance("float32", "cuda:0") == TOLERANCES[("float32", "cuda")]
    assert tolerance("float64", "cpu", 10.0) == 10 * TOLERANCES[("float64", "cpu")]


def test_identical_trajectories_pass_with_zero_difference() -> None:
    arrays = [{"grad.w": np.ones((2, 1)) * k, "param.w": np.full((2, 1), -k)} for k in range(3)]
    result = compare_trajectories(_trajectory([3.0, 2.0, 1.0], arrays), _trajectory([3.0, 2.0, 1.0], arrays), 1e-10)
    assert result.passed
    assert result.max_rel == {"loss": 0.0, "grad": 0.0, "param": 0.0}


def test_a_difference_above_tolerance_fails_and_names_the_worst_array() -> None:
    ref = [{"grad.w": np.ones(3), "grad.b": np.ones(1), "param.w": np.ones(3)}]
    scratch_out = [{"grad.w": np.ones(3), "grad.b": np.ones(1) * (1 + 1e-6), "param.w": np.ones(3)}]
    result = compare_trajectories(_trajectory([1.0], scratch_out), _trajectory([1.0], ref), 1e-10)
    assert not result.passed
    assert result.worst["grad"].key == "grad.b"
    assert result.max_rel["grad"] == pytest.approx(1e-6)
    assert "grad" in result.summary()


def test_mismatched_keys_are_a_problem_not_a_crash() -> None:
    scratch_out = [{"grad.w": np.ones(2), "param.w": np.ones(2)}]
    ref = [{"grad.w": np.ones(2), "param.v": np.ones(2)}]
    result = compare_trajectories(_trajectory([1.0], scratch_out), _trajectory([1.0], ref), 1e-10)
    assert not result.passed
    assert result.problems == ["recorded arrays differ: only scratch ['param.w'], only torch ['param.v']"]


def test_mismatched_shapes_are_a_problem_naming_the_array() -> None:
    scratch_out = [{"grad.W1": np.ones((3, 2))}]
    ref = [{"grad.W1": np.ones((2, 3))}]
    result = compare_trajectories(_trajectory([1.0], scratch_out), _trajectory([1.0], ref), 1e-10)
    assert not result.passed
    assert len(result.problems) == 1 and result.problems[0].startswith("grad.W1:")


def test_different_step_counts_are_a_problem() -> None:
    arrays = [{"grad.w": np.ones(1)}] * 3
    result = compare_trajectories(_trajectory([1.0, 1.0], arrays[:2]), _trajectory([1.0] * 3, arrays), 1e-10)
    assert result.problems == ["step counts differ: scratch 2, torch 3"]


def test_unknown_observation_category_is_rejected() -> None:
    arrays = [{"weights.w": np.ones(1)}]
    with pytest.raises(ValueError, match="weights.w"):
        compare_trajectories(_trajectory([1.0], arrays), _trajectory([1.0], arrays), 1e-10)


def test_snapshot_schedule_keeps_first_and_last_step_within_budget() -> None:
    assert snapshot_steps(200, 31) == frozenset(range(200))
    steps = snapshot_steps(1000, 1_000_000, budget=40_000_000)
    assert 0 in steps and 999 in steps and len(steps) == 10


# --- divergence: "diverged at step k" for the side that did -----------------------------------------

class _PoisonAfter:
    """Wraps a trainer; from step ``k`` on its observations carry an Inf parameter (a blow-up)."""

    def __init__(self, inner, k: int):
        self.inner, self.k, self.steps = inner, k, 0

    def step(self) -> None:
        self.inner.step()
        self.steps += 1

    def observe(self) -> Observation:
        seen = self.inner.observe()
        if self.steps > self.k:
            arrays = dict(seen.arrays)
            arrays["param.w"] = arrays["param.w"] * np.inf
            return Observation(seen.loss, arrays)
        return seen


def _vectorized_case():
    (case,) = select(["logistic_regression/vectorized"])
    return case


@pytest.mark.parametrize("side", ["scratch", "torch"])
def test_divergence_is_reported_for_the_side_that_diverged(side: str) -> None:
    case = _vectorized_case()
    if side == "scratch":
        case = dataclasses.replace(case, scratch=lambda p, f=case.scratch: _PoisonAfter(f(p), 7))
    else:
        case = dataclasses.replace(case, torch=lambda p, d, f=case.torch: _PoisonAfter(f(p, d), 7))
    run = run_case(case, seed=0, steps=30)
    assert not run.parity.passed
    assert run.parity.problems == [f"{side} diverged at step 7"]
    assert run.record()["problems"] == [f"{side} diverged at step 7"]
    # The run stopped at the divergence instead of comparing NaN/Inf.
    assert len(run.scratch.losses) == len(run.torch.losses) == 8


def test_a_huge_learning_rate_diverges_without_warnings_and_is_reported() -> None:
    case = _vectorized_case()

    def explosive(seed: int, dtype: np.dtype):
        problem = case.make_problem(seed, dtype)
        problem.hyper["learning_rate"] = 1e308
        return problem

    run = run_case(dataclasses.replace(case, make_problem=explosive), seed=0, steps=20)
    assert not run.parity.passed
    k = run.scratch.diverged_at
    assert k is not None and k < 20
    assert f"scratch diverged at step {k}" in run.parity.problems
    assert all(np.isfinite(run.scratch.losses[:k]))
    assert all(p.startswith(("scratch diverged at step", "torch diverged at step")) for p in run.parity.problems)


def test_worst_entry_names_the_first_step_beyond_tolerance() -> None:
    torch_side = np.ones((4, 2))
    scratch_side = torch_side + np.array([[0.0, 0.0], [0.0, 1e-12], [0.0, 1e-6], [1e-3, 0.0]])
    entry = worst_entry("param.W", [0, 5, 10, 15], scratch_side, torch_side, tol=1e-10)
    assert (entry.step, entry.index, entry.first_step) == (15, (0,), 10)
    assert "(first beyond tolerance at step 10)" in entry.describe() and entry.record()["first_step"] == 10
    assert worst_entry("param.W", [0, 5, 10, 15], torch_side, torch_side, tol=1e-10).first_step is None
