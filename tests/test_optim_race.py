"""The optimizer race study: its bookkeeping, its parity, and the report section it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compare.report.studies import StudyContext, all_studies
from compare.studies import optim_race as race

FEW = tuple(r for r in race.RACERS if r[0] in ("mini-batch GD (64)", "Nesterov 0.9", "course Adam"))


def test_steps_to_target_is_the_first_step_at_or_below_it() -> None:
    losses = np.array([0.9, 0.5, 0.31, 0.3, 0.2, 0.35])
    assert race.steps_to_target(losses, 0.3) == int(np.argmax(losses <= 0.3)) == 3
    assert race.steps_to_target(losses, losses.min()) == 4
    assert race.steps_to_target(losses, losses.min() / 2) is None


def test_short_race_is_a_parity_run_and_the_clock_only_moves_forward() -> None:
    results = race.run_race(12, racers=FEW)
    assert [r.label for r in results] == [label for label, _ in FEW]
    for result in results:
        for lap in (result.scratch, result.torch):
            assert len(lap.losses) == len(lap.seconds) == 13
            assert lap.seconds[0] == 0.0 and np.all(np.diff(lap.seconds) >= 0)
        assert result.scratch.losses[0] == pytest.approx(result.torch.losses[0], rel=1e-15)
        assert result.loss_rel_diff < 1e-13 and result.param_rel_diff < 1e-13
        assert result.scratch.losses[-1] < result.scratch.losses[0]  # it trained


def test_ulp_perturbed_start_moves_every_parameter_by_one_unit_of_roundoff() -> None:
    problem = race.make_problem(0, np.dtype("float64"))
    moved = race.ulp_perturbed(problem)
    for name, value in problem.params.items():
        nonzero = value != 0
        ratio = moved.params[name][nonzero] / value[nonzero]
        assert np.all(moved.params[name][nonzero] != value[nonzero])
        assert np.all(np.abs(ratio - 1) <= 2 * np.finfo(np.float64).eps)
    assert moved.data is problem.data


def test_table_and_plot_from_a_short_race(tmp_path: Path) -> None:
    results = race.run_race(8, racers=FEW)
    target = float(np.median([r.torch.losses[4] for r in results]))
    rows = race.race_table(results, target)
    assert len(rows) == 2 + len(FEW)
    for row, result in zip(rows[2:], results, strict=True):
        reached = race.steps_to_target(result.scratch.losses, target)
        assert row.startswith(f"| {result.label} |")
        assert (f"| {reached} / {reached} |" if reached is not None else "not reached / not reached") in row
    path = tmp_path / "race.png"
    race.plot_race(results, path, target)
    assert path.stat().st_size > 10_000


def test_the_study_is_registered_under_optim() -> None:
    (study,) = [s for s in all_studies() if s.name == "optimizer_race"]
    assert study.concept == "optim"


@pytest.mark.slow
def test_quick_study_writes_its_plot_and_one_row_per_racer(tmp_path: Path) -> None:
    ctx = StudyContext(tmp_path, quick=True)
    output = race.race_study(ctx)
    assert output.images == ("plots/optimizer_race.png",)
    assert (tmp_path / "plots" / "optimizer_race.png").is_file()
    for label, _ in race.RACERS:
        assert f"| {label} |" in output.markdown
