"""Kink crossings: detection, the rounding bound, and the float32 ReLU run that needs them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import compare.core.runner as runner
from compare.core.kinks import (
    MAX_CROSSINGS_PER_100_STEPS,
    Preactivation,
    find_kink_crossing,
    preactivation,
    scratch_preactivations,
    torch_preactivations,
)
from compare.core.parity import compare_trajectories, tolerance
from compare.core.problem import Observation
from compare.core.record import Trajectory
from compare.core.registry import select
from compare.core.runner import run_case

#: The float32 run in which the crossing was found (see compare/kinks.py).
CROSSING_CASE, CROSSING_SEED = "deep_net/leaky_relu_depth4", 2


def _layer(z: list[list[float]], scale: float = 1.0) -> Preactivation:
    array = np.array(z, dtype=np.float64)
    return Preactivation(array, np.full_like(array, scale))


def test_equal_patterns_are_no_crossing() -> None:
    layer = _layer([[1.0, -2.0], [0.0, 3.0]])
    assert find_kink_crossing(5, [layer], [layer], tol=1e-4) is None


def test_a_flip_within_tolerance_of_zero_is_a_crossing_naming_the_entry() -> None:
    ours = [_layer([[1.0, -2.0]]), _layer([[1.0, -1e-7, 2.0]], scale=3.0)]
    theirs = [_layer([[1.0, -2.0]]), _layer([[1.0, 2e-8, 2.0]], scale=3.0)]
    crossing = find_kink_crossing(7, ours, theirs, tol=1e-4)
    assert crossing is not None
    assert (crossing.step, crossing.layer, crossing.unit, crossing.example, crossing.count) == (7, 2, 0, 1, 1)
    assert (crossing.numpy_z, crossing.torch_z) == (-1e-7, 2e-8)
    assert crossing.bound == pytest.approx(3e-4)
    assert "step 7 not compared" in crossing.describe()


def test_a_flip_beyond_the_bound_is_a_real_difference_not_a_crossing() -> None:
    ours, theirs = [_layer([[-1e-3, 5.0]])], [_layer([[1e-3, 5.0]])]
    assert find_kink_crossing(1, ours, theirs, tol=1e-4) is None
    # The bound scales with |W||A| + |b|: the same values are a crossing when the terms summed are large.
    ours, theirs = [_layer([[-1e-3, 5.0]], scale=100.0)], [_layer([[1e-3, 5.0]], scale=100.0)]
    assert find_kink_crossing(1, ours, theirs, tol=1e-4) is not None


def test_the_worst_entry_is_reported_and_every_flip_counted() -> None:
    ours = [_layer([[-1e-9, 4.0]]), _layer([[3e-5, -1.0]])]
    theirs = [_layer([[1e-9, 4.0]]), _layer([[-1e-5, -1.0]])]
    crossing = find_kink_crossing(3, ours, theirs, tol=1e-4)
    assert crossing is not None
    assert (crossing.layer, crossing.count, crossing.numpy_z) == (2, 2, 3e-5)


def test_mismatched_layer_shapes_are_an_error() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        find_kink_crossing(0, [_layer([[1.0, 2.0]])], [_layer([[1.0], [2.0]])], tol=1e-4)


@settings(max_examples=60, deadline=None)
@given(z=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                    elements=st.floats(-10, 10)))
def test_identical_preactivations_never_cross(z: np.ndarray) -> None:
    layer = Preactivation(z, np.abs(z) + 1.0)
    assert find_kink_crossing(0, [layer], [Preactivation(z.copy(), np.abs(z) + 1.0)], tol=2e-4) is None


def test_scale_is_the_sum_of_absolute_terms() -> None:
    W = np.array([[1.0, -2.0]])
    A = np.array([[3.0, -1.0], [0.5, 2.0]])
    b = np.array([[-0.25]])
    layer = preactivation(W @ A + b, W, A, b)
    np.testing.assert_array_equal(layer.scale, [[1 * 3 + 2 * 0.5 + 0.25, 1 * 1 + 2 * 2 + 0.25]])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_preactivations_are_the_bits_of_the_training_forward(dtype: str) -> None:
    (case,) = select([CROSSING_CASE])
    problem = case.make_problem(0, np.dtype(dtype))
    trainer = case.torch(problem, torch.device("cpu"))
    captured: list[np.ndarray] = []
    hooks = [linear.register_forward_hook(lambda _m, _i, out: captured.append(out.detach().numpy().T.copy()))
             for linear in trainer.model.linears[:-1]]
    watched = trainer.hidden_preactivations()
    captured.clear()
    trainer.step()
    for hook in hooks:
        hook.remove()
    assert watched is not None and len(watched) == len(captured) == 3
    for layer, z in zip(watched, captured, strict=True):
        np.testing.assert_array_equal(layer.z, z)


def test_smooth_units_are_not_watched() -> None:
    (case,) = select(["deep_net/tanh_depth4"])
    problem = case.make_problem(0, np.dtype("float64"))
    assert scratch_preactivations(problem.params, problem.data["X"], "tanh") is None
    assert torch_preactivations(case.torch(problem, torch.device("cpu")).model, torch.zeros(1)) is None


def test_float32_relu_run_leaves_out_only_the_crossing_step_which_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    (case,) = select([CROSSING_CASE])
    run = run_case(case, seed=CROSSING_SEED, dtype="float32")
    assert len(run.scratch.kink_crossings) == 1
    (crossing,) = run.scratch.kink_crossings
    assert 0 < crossing.step < case.steps
    assert max(abs(crossing.numpy_z), abs(crossing.torch_z)) <= crossing.bound
    assert (crossing.numpy_z > 0) != (crossing.torch_z > 0)
    assert run.parity.passed and run.parity.notes == [crossing.describe()]
    assert len(run.scratch.losses) == len(run.torch.losses) == case.steps
    assert run.record()["steps_compared"] == case.steps - 1
    # The step after the crossing is compared, from the parameters both sides now share.
    after = run.scratch.snapshots[crossing.step + 1], run.torch.snapshots[crossing.step + 1]
    assert all(np.allclose(after[0][key], after[1][key], rtol=0, atol=1e-6) for key in after[1])
    # Without the watch the two correct implementations part beyond the float32 tolerance after the crossing.
    monkeypatch.setattr(runner, "watch_kinks", lambda *args: None)
    ours, theirs = runner.run_trajectories(case, CROSSING_SEED, "float32", torch.device("cpu"), case.steps)
    assert not compare_trajectories(ours, theirs, tolerance("float32", "cpu")).passed


def test_the_crossing_step_is_excluded_from_the_comparison_and_only_it() -> None:
    crossing = find_kink_crossing(1, [_layer([[-1e-9]])], [_layer([[1e-9]])], tol=1e-4)
    assert crossing is not None
    ours, theirs = Trajectory(kink_crossings=[crossing]), Trajectory(kink_crossings=[crossing])
    for step, (mine, reference) in enumerate([(1.0, 1.0), (5.0, 1.0), (2.0, 2.0)]):
        ours.record(step, lambda v=mine: Observation(v, {"grad.W": np.array([v])}), keep_arrays=True)
        theirs.record(step, lambda v=reference: Observation(v, {"grad.W": np.array([v])}), keep_arrays=True)
    result = compare_trajectories(ours, theirs, tol=1e-10)
    assert result.passed and result.max_rel == {"loss": 0.0, "grad": 0.0}
    ours.losses[2] = 2.5
    assert not compare_trajectories(ours, theirs, tol=1e-10).passed


def test_more_crossings_than_rounding_explains_fail_the_run() -> None:
    steps = 100
    crossings = [find_kink_crossing(k, [_layer([[-1e-9]])], [_layer([[1e-9]])], tol=1e-4)
                 for k in range(MAX_CROSSINGS_PER_100_STEPS + 1)]
    ours, theirs = Trajectory(kink_crossings=crossings), Trajectory(kink_crossings=crossings)
    for step in range(steps):
        ours.record(step, lambda: Observation(1.0, {}), keep_arrays=False)
        theirs.record(step, lambda: Observation(1.0, {}), keep_arrays=False)
    result = compare_trajectories(ours, theirs, tol=1e-4)
    assert not result.passed and "more than rounding explains" in result.problems[0]
    ours.kink_crossings.pop()
    assert compare_trajectories(ours, theirs, tol=1e-4).passed


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_float64_relu_runs_never_cross(seed: int) -> None:
    (case,) = select([CROSSING_CASE])
    run = run_case(case, seed=seed, dtype="float64")
    assert run.scratch.kink_crossings == [] and run.parity.passed
    assert run.record()["steps_compared"] == case.steps
