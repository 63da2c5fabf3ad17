"""The course's signature figures on the study pages: the planar flower's decision boundary drawn by both sides
(shallow_net), and logistic regression's cost curves at several learning rates. Short runs; checked on the data
and on matplotlib's objects; files go to ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from compare.report.studies import StudyContext
from compare.studies.logistic_regression_rates import rates_figure, train_at_rates
from compare.studies.shallow_net_boundary import boundary_figure, decision_boundary_study, train_boundaries


@pytest.fixture(scope="module")
def boundaries():
    return train_boundaries(40, grid=60)


def test_both_sides_draw_the_same_flower_boundary(boundaries) -> None:
    assert boundaries.labels["scratch"].shape == boundaries.labels["torch"].shape == (60, 60)
    assert set(np.unique(boundaries.labels["scratch"])) == {0.0, 1.0}  # a boundary, not one colour
    assert boundaries.differing == 0 and boundaries.max_rel_param_diff < 1e-12
    assert boundaries.accuracy["scratch"] == boundaries.accuracy["torch"] > 0.5


def test_the_boundary_figure_has_one_panel_per_side(boundaries) -> None:
    fig = boundary_figure(boundaries)
    try:
        titles = [ax.get_title() for ax in fig.axes]
        assert [t.split(":")[0] for t in titles] == ["scratch (NumPy)", "torch (PyTorch)"]
        assert all("training accuracy" in t for t in titles)
        for ax in fig.axes:  # the filled boundary and the 400 points
            offsets = [c.get_offsets() for c in ax.collections if len(c.get_offsets()) == 400]
            assert len(offsets) == 1 and len(ax.collections) > 1
        assert "0 of 3600 grid points labelled differently" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


def test_the_decision_boundary_study_writes_its_figure(tmp_path: Path) -> None:
    output = decision_boundary_study(StudyContext(tmp_path, quick=True))
    assert output.images == ("plots/shallow_net_decision_boundary.png",)
    assert (tmp_path / output.images[0]).read_bytes().startswith(b"\x89PNG") and output.images[0] in output.markdown
    assert "| training accuracy |" in output.markdown


def test_cost_curves_at_several_learning_rates_agree_and_order_by_rate() -> None:
    runs = train_at_rates(30, (1.0, 0.01, 0.0001))
    assert [len(run.costs["scratch"]) for run in runs] == [30, 30, 30]
    assert all(run.max_rel_cost_diff < 1e-12 and run.always_fell for run in runs)
    final = [run.costs["torch"][-1] for run in runs]
    assert final[0] < final[1] < final[2]  # a larger rate gets lower in the same number of iterations
    fig = rates_figure(runs)
    try:
        (ax,) = fig.axes
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "learning rate 1", "learning rate 0.01", "learning rate 0.0001"]
        assert len(ax.get_lines()) == 2 * len(runs) and ax.get_ylabel() == "cost J"
    finally:
        plt.close(fig)
