"""Plots drawn from parity runs (matplotlib, Agg backend, no display needed).

A concept's loss figure is a grid of at most :data:`MAX_COLUMNS` variants per row; each variant has two panels:
both sides' loss (top) and their relative difference per step (bottom), the quantity the parity tables report
(``|scratch - torch| / max|torch|``, whose largest point is the table's loss figure). The difference axis is
symmetric-log, so an exact zero sits on the axis at 0 instead of vanishing from a log scale, and the run's
tolerance is drawn as a line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from compare.core.registry import LossPlot  # noqa: E402
from compare.core.runner import CaseRun  # noqa: E402

#: At most this many variants side by side; more wrap into further rows.
MAX_COLUMNS = 4
#: Inches of one variant's cell (loss panel above its difference panel) at :data:`DPI`.
CELL_WIDTH, CELL_HEIGHT = 4.2, 5.0
DPI = 90
#: The label of the difference axis: the parity tables' relative difference, per step.
RELATIVE_LABEL = "|scratch - torch| / max|torch|"


@dataclass(frozen=True)
class LossSeries:
    """One variant's panel pair: both sides' per-step values, the tolerance, and what the values are."""

    title: str
    scratch: np.ndarray
    torch: np.ndarray
    tolerance: float
    labels: LossPlot = LossPlot()
    left_out: frozenset[int] = frozenset()

    @classmethod
    def from_run(cls, run: CaseRun) -> LossSeries:
        """A run's losses; the kink-crossing steps its comparison left out are left out here too."""
        return cls(f"{run.case.variant} ({run.dtype}, {run.device})", np.array(run.scratch.losses, dtype=float),
                   np.array(run.torch.losses, dtype=float), run.parity.tolerance, run.case.loss_plot,
                   frozenset(c.step for c in run.scratch.kink_crossings))

    def relative(self) -> np.ndarray:
        """``|scratch_k - torch_k| / max_j |torch_j|`` per step (NaN where left out); absolute when torch is all 0."""
        kept = np.array([k not in self.left_out for k in range(len(self.torch))], dtype=bool)
        difference = np.abs(self.scratch - self.torch)
        scale = float(np.max(np.abs(self.torch[kept]))) if kept.any() else 0.0
        relative = difference / scale if scale > 0 else difference
        return np.where(kept, relative, np.nan)


def grid_shape(count: int, max_columns: int = MAX_COLUMNS) -> tuple[int, int]:
    """``(rows, columns)`` of variant cells for ``count`` variants: at most ``max_columns`` per row."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    columns = min(count, max_columns)
    return math.ceil(count / columns), columns


def symlog_threshold(relative: np.ndarray, tolerance: float) -> float:
    """The linear range of the difference axis: a decade below the smallest nonzero difference (or the
    tolerance), so every nonzero point lies in the logarithmic part and zero is its own tick."""
    values = relative[np.isfinite(relative) & (relative > 0)]
    smallest = min(float(values.min()) if values.size else tolerance, tolerance)
    return 10.0 ** (math.floor(math.log10(smallest)) - 1)


def _draw_values(ax: plt.Axes, series: LossSeries, steps: np.ndarray) -> None:
    if series.labels.markers:
        ax.plot(steps, series.torch, "o", ms=6, alpha=0.45, label="torch")
        ax.plot(steps, series.scratch, "x", ms=4, color="k", label="scratch")
    else:
        ax.plot(steps, series.torch, lw=3, alpha=0.5, label="torch")
        ax.plot(steps, series.scratch, lw=1, ls="--", color="k", label="scratch")
    ax.set_title(series.title, fontsize=9)
    ax.set_ylabel(series.labels.value)
    ax.legend(fontsize=7)


def _draw_relative(ax: plt.Axes, series: LossSeries, steps: np.ndarray) -> None:
    relative = series.relative()
    nonzero, zero = relative > 0, relative == 0
    threshold = symlog_threshold(relative, series.tolerance)
    top = 1e3 * max(series.tolerance, float(np.nanmax(relative, initial=0.0)))  # room above the line: the legend
    ax.set_yscale("symlog", linthresh=threshold, linscale=0.5)
    ax.plot(steps[nonzero], relative[nonzero], ".", ms=3, color="tab:blue", label="difference")
    ax.plot(steps[zero], relative[zero], "s", ms=3, color="tab:green", label=f"exactly 0 ({int(zero.sum())})")
    ax.axhline(series.tolerance, color="tab:red", lw=1, ls="--", label=f"tolerance {series.tolerance:.0e}")
    ax.set_ylim(bottom=0, top=top)
    ax.set_yticks(symlog_ticks(threshold, top))
    ax.set_ylabel(RELATIVE_LABEL, fontsize=8)
    ax.set_xlabel(series.labels.x)
    ax.legend(fontsize=6, loc="upper left", ncols=3, handletextpad=0.2, columnspacing=0.6)


def symlog_ticks(threshold: float, top: float, most: int = 6) -> list[float]:
    """0 and at most ``most`` decades between ``threshold`` and ``top``, evenly spaced."""
    low, high = round(math.log10(threshold)), math.floor(math.log10(top))
    stride = max(1, math.ceil((high - low + 1) / most))
    return [0.0, *sorted(10.0 ** e for e in range(high, low - 1, -stride))]


def loss_figure(series: Sequence[LossSeries], title: str, *, max_columns: int = MAX_COLUMNS) -> Figure:
    """Every variant's two panels in a grid of at most ``max_columns`` variants per row (unused cells hidden)."""
    rows, columns = grid_shape(len(series), max_columns)
    fig, axes = plt.subplots(2 * rows, columns, figsize=(CELL_WIDTH * columns, CELL_HEIGHT * rows + 0.4),
                             squeeze=False, gridspec_kw={"height_ratios": [1.2, 1] * rows}, layout="constrained")
    for index in range(rows * columns):
        row, column = divmod(index, columns)
        top, bottom = axes[2 * row, column], axes[2 * row + 1, column]
        if index >= len(series):
            top.set_visible(False)
            bottom.set_visible(False)
            continue
        steps = np.arange(len(series[index].torch))
        bottom.sharex(top)
        _draw_values(top, series[index], steps)
        _draw_relative(bottom, series[index], steps)
    fig.suptitle(title)
    return fig


def loss_curves(runs: list[CaseRun], path: Path, title: str) -> None:
    """:func:`loss_figure` of ``runs`` saved as a PNG at ``path``."""
    fig = loss_figure([LossSeries.from_run(run) for run in runs], title)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
