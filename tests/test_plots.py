"""The loss figures: a grid of at most four variants per row, the relative difference on an axis that shows
exact zeros, the tolerance drawn, and the autodiff lecture values drawn as points. Checked on matplotlib's
objects, not on pixels; files go to ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.image import imread

from compare.core.parity import relative_difference
from compare.core.registry import LossPlot, load_case
from compare.core.runner import run_case
from compare.report.plots import (
    CELL_HEIGHT,
    CELL_WIDTH,
    DPI,
    MAX_COLUMNS,
    RELATIVE_LABEL,
    LossSeries,
    grid_shape,
    loss_curves,
    loss_figure,
)


@given(st.integers(1, 200))
def test_the_grid_has_at_most_four_columns_and_no_empty_row(count: int) -> None:
    rows, columns = grid_shape(count)
    assert 1 <= columns <= MAX_COLUMNS
    assert rows * columns >= count > (rows - 1) * columns


def test_a_grid_of_no_variant_is_an_error() -> None:
    with pytest.raises(ValueError, match="count must be at least 1"):
        grid_shape(0)


def _series(count: int, tolerance: float = 1e-10) -> list[LossSeries]:
    torch = np.exp(-np.arange(30) / 10)
    wobble = np.where(np.arange(30) % 3 == 0, 0.0, 2e-16)  # every third step exactly equal
    return [LossSeries(f"v{i}", torch + wobble, torch, tolerance) for i in range(count)]


def _visible(fig: plt.Figure) -> list[plt.Axes]:
    return [ax for ax in fig.axes if ax.get_visible()]


def test_many_variants_wrap_into_rows_of_at_most_four() -> None:
    """9 variants as 3 rows of at most 4 cells, not one row of 9 (the optim concept's 47 made a 17766 px strip)."""
    fig = loss_figure(_series(9), "many")
    try:
        visible = _visible(fig)
        assert len(visible) == 2 * 9
        columns = {round(ax.get_position().x0, 3) for ax in visible}
        assert len(columns) == MAX_COLUMNS
        width, height = fig.get_size_inches()
        assert (width, height) == pytest.approx((MAX_COLUMNS * CELL_WIDTH, 3 * CELL_HEIGHT + 0.4))  # not a strip
        assert sum(not ax.get_visible() for ax in fig.axes) == 2 * (12 - 9)  # the empty cell is hidden
    finally:
        plt.close(fig)


def test_difference_panels_are_relative_symlog_with_the_tolerance_line_and_exact_zeros() -> None:
    series = _series(2, tolerance=1e-10)
    fig = loss_figure(series, "two")
    try:
        bottoms = [ax for ax in _visible(fig) if ax.get_ylabel() == RELATIVE_LABEL]
        assert len(bottoms) == 2
        for ax in bottoms:
            assert ax.get_yscale() == "symlog" and ax.get_ylim()[0] == 0
            assert 0.0 in ax.get_yticks()  # an exact zero has its own place on the axis
            tolerance = [line for line in ax.get_lines() if line.get_label().startswith("tolerance")]
            assert len(tolerance) == 1 and set(tolerance[0].get_ydata()) == {1e-10}
            zeros = next(line for line in ax.get_lines() if line.get_label().startswith("exactly 0"))
            assert len(zeros.get_ydata()) == 10 and not np.any(zeros.get_ydata())
            assert ax.get_ylim()[1] > 1e-10  # the tolerance line is inside the panel
    finally:
        plt.close(fig)


def test_the_relative_difference_is_the_parity_tables_figure_per_step() -> None:
    """Its largest point is ``max|scratch - torch| / max|torch|``, the tables' number."""
    rng = np.random.default_rng(0)
    torch = rng.normal(size=40)
    scratch = torch + rng.normal(scale=1e-12, size=40)
    series = LossSeries("x", scratch, torch, 1e-10)
    assert np.nanmax(series.relative()) == pytest.approx(relative_difference(scratch, torch)[1], rel=1e-12)
    left_out = LossSeries("x", scratch, torch, 1e-10, left_out=frozenset({3}))
    assert np.isnan(left_out.relative()[3]) and np.isfinite(np.delete(left_out.relative(), 3)).all()


def test_lecture_graph_values_are_drawn_as_points_at_each_point_not_as_a_loss_curve(tmp_path: Path) -> None:
    run = run_case(load_case("autodiff/add_multiply"), seed=0, dtype="float64", device="cpu", steps=8)
    series = LossSeries.from_run(run)
    assert np.nanmax(series.relative()) == pytest.approx(run.parity.max_rel["loss"], abs=1e-300)
    fig = loss_figure([series], "autodiff")
    try:
        top, bottom = _visible(fig)
        assert top.get_ylabel() == "f(point k)" and "point k" in bottom.get_xlabel()
        torch_line = next(line for line in top.get_lines() if line.get_label() == "torch")
        assert torch_line.get_linestyle() == "None" and torch_line.get_marker() == "o"
    finally:
        plt.close(fig)
    assert LossPlot() == load_case("logistic_regression/vectorized").loss_plot  # training cases keep "loss"
    path = tmp_path / "autodiff_loss.png"
    loss_curves([run] * 2, path, "autodiff: scratch vs torch")
    height, width = imread(path).shape[:2]
    assert (width, height) == (round(2 * CELL_WIDTH * DPI), round((CELL_HEIGHT + 0.4) * DPI))  # one row of 2
