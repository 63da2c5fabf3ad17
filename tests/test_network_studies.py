"""The network studies: zero initialization keeps hidden units symmetric; accuracy at convergence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compare.report.studies import StudyContext, all_studies
from compare.studies.network_studies import (
    ACCURACY_SETTINGS,
    accuracy_study,
    hidden_unit_spread,
    symmetry_problem,
    train_observed,
    train_to_convergence,
    zero_init_study,
)

STEPS = 100


def _rows_equal_to_rounding(W1: np.ndarray) -> bool:
    scale = max(float(np.max(np.abs(W1))), 1e-300)
    return hidden_unit_spread(W1) <= 1e-12 * scale


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_zero_start_keeps_hidden_units_identical_on_both_sides(activation: str) -> None:
    runs = train_observed(symmetry_problem(activation, "zeros"), STEPS)
    for side, run in runs.items():
        assert _rows_equal_to_rounding(run.params["W1"]), f"{side}: rows of W1 differ after {STEPS} steps"
        np.testing.assert_allclose(run.params["W2"], run.params["W2"][0, 0], rtol=1e-12, atol=0)
        np.testing.assert_allclose(run.params["b1"], run.params["b1"][0, 0], rtol=1e-12, atol=0)
    if activation == "sigmoid":  # the units do learn, in lock step (tanh's gradients are exactly zero)
        assert np.abs(runs["scratch"].params["W1"]).max() > 1e-3
    else:
        assert not runs["scratch"].params["W1"].any() and not runs["torch"].params["W1"].any()


@pytest.mark.parametrize("init", ["small", "he"])
def test_random_start_breaks_the_symmetry_on_both_sides(init: str) -> None:
    runs = train_observed(symmetry_problem("tanh", init), STEPS)
    for side, run in runs.items():
        W1 = run.params["W1"]
        assert hidden_unit_spread(W1) > 0.1 * np.abs(W1).max(), side
        assert len(np.unique(W1, axis=0)) == W1.shape[0], side
    np.testing.assert_allclose(runs["scratch"].costs, runs["torch"].costs, rtol=1e-12)


def test_accuracy_settings_agree_between_sides() -> None:
    result = train_to_convergence(ACCURACY_SETTINGS[0], steps=300)
    for split in ("train", "test"):
        assert result[f"scratch {split}"] == result[f"torch {split}"]
    assert result["scratch train"] > 0.75  # the flower is not linearly separable: a linear model is near 0.5
    assert result["max rel param diff"] < 1e-10


def test_studies_are_registered_and_write_into_the_context(tmp_path: Path) -> None:
    names = {study.name for study in all_studies()}
    assert {"zero_initialization", "deep_net_accuracy"} <= names
    ctx = StudyContext(tmp_path, quick=True)
    output = zero_init_study(ctx)
    assert (tmp_path / "plots" / "zero_init_symmetry.png").stat().st_size > 0
    assert output.images == ("plots/zero_init_symmetry.png",) and "| tanh | zeros |" in output.markdown


@pytest.mark.slow
def test_accuracy_study_full_table(tmp_path: Path) -> None:
    markdown = accuracy_study(StudyContext(tmp_path, quick=False)).markdown
    for setting in ACCURACY_SETTINGS:
        assert f"| {setting.name} (" in markdown
