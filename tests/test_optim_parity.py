"""Every registered optimizer variant on the shared deep net: parity over 200 steps, state and schedules observed.

``tests/test_optim.py`` checks the optimizers' arithmetic on synthetic gradient streams; this file checks the
registered harness cases (network, batches, schedules and optimizer together), as ``python -m compare run
optim`` does, in float64 (rounding level) and float32 (the documented tolerance of ``compare/core/parity.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compare.cases import optim as cases
from compare.core.parity import TOLERANCES
from compare.core.registry import select
from compare.core.runner import run_case, run_trajectories

VARIANTS = sorted(cases.VARIANTS)
CPU = torch.device("cpu")


def _case(variant: str):
    (case,) = select([f"optim/{variant}"])
    return case


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_matches_torch_for_200_steps(variant: str, dtype: str) -> None:
    run = run_case(_case(variant), seed=0, dtype=dtype)
    assert run.steps == 200 and len(run.scratch.losses) == 200
    assert run.parity.passed, run.parity.summary()
    assert run.case.tolerance_factor == 1.0  # no variant loosens the documented tolerance
    assert run.parity.tolerance == TOLERANCES[(dtype, "cpu")]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_matches_torch_on_more_seeds(variant: str, seed: int, dtype: str) -> None:
    run = run_case(_case(variant), seed=seed, dtype=dtype)
    assert run.parity.passed, run.parity.summary()


@pytest.mark.parametrize("variant", [v for v in VARIANTS if cases.VARIANTS[v][1].batch_size is None])
def test_second_seed_float64_is_rounding_level(variant: str) -> None:
    """A second seed (other data, other initial weights) for every full-batch flag combination, float64."""
    run = run_case(_case(variant), seed=1, dtype="float64", steps=50)
    assert run.parity.passed, run.parity.summary()
    assert run.parity.max_rel_overall < 1e-12, run.parity.summary()


def _torch_state_keys(variant: str) -> dict[str, set[str]]:
    """Every key torch's optimizer keeps per parameter after 3 steps of the variant's torch side."""
    case = _case(variant)
    problem = case.make_problem(0, np.dtype("float64"))
    side = case.torch(problem, CPU)
    for _ in range(3):
        side.step()
    return {entry.scratch_name: set(side.optimizer.state.get(entry.parameter, {})) for entry in side.mapping}


@pytest.mark.parametrize("variant", VARIANTS)
def test_everything_torch_keeps_as_state_is_observed_on_both_sides(variant: str) -> None:
    """No state escapes the comparison: each key of ``optimizer.state[p]`` (momentum_buffer, square_avg,
    grad_avg, sum, exp_avg, exp_avg_sq, max_exp_avg_sq, acc_delta, exp_inf, mu_product, step) is an observed
    array on both sides."""
    expected = {f"state.{name}.{key}" for name, keys in _torch_state_keys(variant).items() for key in keys}
    scratch_out, torch_out = run_trajectories(_case(variant), 0, "float64", CPU, 3)
    for trajectory in (scratch_out, torch_out):
        observed = {key for key in trajectory.snapshots[2] if key.startswith("state.") and key != "state.lr"}
        assert observed == expected


@pytest.mark.parametrize(("variant", "expected"), [
    ("sgd", set()),
    ("sgd_momentum", {"momentum_buffer"}),
    ("course_momentum", {"momentum_buffer"}),
    ("rmsprop", {"step", "square_avg"}),
    ("rmsprop_momentum", {"step", "square_avg", "momentum_buffer"}),
    ("rmsprop_centered", {"step", "square_avg", "grad_avg"}),
    ("rmsprop_centered_momentum_weight_decay", {"step", "square_avg", "grad_avg", "momentum_buffer"}),
    ("course_rmsprop", {"step", "square_avg"}),
    ("adagrad", {"step", "sum"}),
    ("adam", {"step", "exp_avg", "exp_avg_sq"}),
    ("adam_amsgrad", {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    ("adamw_amsgrad", {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    ("course_adam", {"step", "exp_avg", "exp_avg_sq"}),
    ("adadelta_weight_decay", {"step", "square_avg", "acc_delta"}),
    ("adamax", {"step", "exp_avg", "exp_inf"}),
    ("nadam", {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    ("nadamw", {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    ("radam", {"step", "exp_avg", "exp_avg_sq"}),
    ("radamw", {"step", "exp_avg", "exp_avg_sq"}),
])
def test_state_of_each_optimizer_family_is_the_one_torch_documents(variant: str, expected: set[str]) -> None:
    assert all(keys == expected for keys in _torch_state_keys(variant).values())


@pytest.mark.parametrize("variant", ["lr_decay", "lr_decay_scheduled"])
def test_scheduled_lr_matches_the_course_formula_epoch_by_epoch(variant: str) -> None:
    """The observed lr on both sides, step by step, against ``lr0 / (1 + d floor(epoch / k))`` from the spec."""
    spec = cases.VARIANTS[variant][1]
    decay_rate, interval = spec.decay
    lr0 = spec.hyper["lr"]
    steps_per_epoch = len(range(0, cases.M_TRAIN, spec.batch_size))
    steps = 12 * steps_per_epoch  # 12 epochs, so the staircase form changes lr several times
    scratch_out, torch_out = run_trajectories(_case(variant), 0, "float64", CPU, steps)
    expected = [lr0 / (1 + decay_rate * ((step // steps_per_epoch) // interval)) for step in range(steps)]
    for trajectory in (scratch_out, torch_out):
        observed = [float(trajectory.snapshots[step]["state.lr"]) for step in range(steps)]
        np.testing.assert_allclose(observed, expected, rtol=1e-15, atol=0)
    assert len(set(expected)) >= 4


def test_course_momentum_against_dampened_sgd_on_the_deep_net() -> None:
    """SGD(lr, momentum=beta, dampening=beta) vs the course's momentum from the same start: after one step
    the parameters differ by ``lr beta dW_1`` (torch's buffer is seeded with dW_1, the course's v with
    (1 - beta) dW_1); computed from the formula and the first gradient, not hard-coded."""
    lr, beta = 0.5, 0.9
    problem = cases.make_problem(0, np.dtype("float64"))
    course = cases.ScratchOptimTrainer(problem, cases.OptimSpec("MomentumCourse", dict(lr=lr, beta=beta)))
    dampened = cases.TorchOptimTrainer(problem, CPU, cases.OptimSpec("SGD", dict(lr=lr, momentum=beta,
                                                                                 dampening=beta)))
    course.step()
    dampened.step()
    torch_out = dampened.observe().arrays
    for name in problem.params:
        gap = course.params[name] - torch_out[f"param.{name}"]
        np.testing.assert_allclose(gap, lr * beta * course.grads[f"d{name}"], rtol=1e-9, atol=1e-14)


SCHEDULED = sorted(v for v, (_, spec) in cases.VARIANTS.items() if spec.schedule is not None)


@pytest.mark.parametrize("variant", SCHEDULED)
def test_schedules_give_the_same_lr_float_at_every_step(variant: str) -> None:
    """torch.optim.lr_scheduler and scratch.optim's schedules inside a training run: over the case's 200 steps
    (20 epochs of mini-batches) the observed lr is bit-equal on both sides at every step, and it does change
    (ReduceLROnPlateau's dev loss first stalls after 10 epochs)."""
    scratch_traj, torch_traj = run_trajectories(_case(variant), 0, "float64", CPU, 200)
    observed = [float(scratch_traj.snapshots[step]["state.lr"]) for step in range(200)]
    assert observed == [float(torch_traj.snapshots[step]["state.lr"]) for step in range(200)]
    assert len(set(observed)) >= 3, observed
