"""The with/without-BN learning-rate sweep (compare/studies/batchnorm_lr_sweep.py)."""

from __future__ import annotations

import numpy as np

from compare.report.studies import StudyContext
from compare.studies.batchnorm_lr_sweep import QUICK_LEARNING_RATES, SweepRun, run, train_both


def test_at_a_high_learning_rate_only_the_net_without_bn_diverges() -> None:
    plain, normed = train_both(3.0, False, 20), train_both(3.0, True, 20)
    assert plain.diverged_at is not None and plain.diverged_at < 20
    assert normed.diverged_at is None and np.isfinite(normed.scratch).all()
    assert normed.max_relative_loss_difference() < 1e-12  # both sides, in lock step, agree while they train


def test_the_loss_difference_ignores_the_steps_after_divergence() -> None:
    run_ = SweepRun(1.0, False, [1.0, 2.0, float("nan")], [1.0, 2.0 + 4e-16, float("inf")], diverged_at=2)
    assert run_.max_relative_loss_difference() == abs(2.0 - (2.0 + 4e-16)) / (2.0 + 4e-16)
    assert SweepRun(1.0, False, [float("nan")], [float("nan")], diverged_at=0).max_relative_loss_difference() == 0


def test_the_quick_study_tabulates_every_rate_and_draws_its_figure(tmp_path) -> None:
    context = StudyContext(tmp_path, quick=True)
    output = run(context)
    rows = [line for line in output.markdown.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [float(row.split("|")[1]) for row in rows] == list(QUICK_LEARNING_RATES)
    assert "diverged" not in output.markdown  # both rates train in 30 steps, with and without BN
    assert output.images == ("plots/batchnorm_lr_sweep.png",)
    assert (tmp_path / "plots" / "batchnorm_lr_sweep.png").stat().st_size > 0
