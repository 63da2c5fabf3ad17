"""Recording a trajectory: the loss at every step, arrays at snapshot steps.

Both sides of a run share one snapshot schedule, so their records line up step for step. Small problems
are snapshotted at every step; large ones at ``max_snapshots`` evenly spaced steps (always including the
first and the last), which bounds memory at about ``SNAPSHOT_BUDGET`` elements per side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from compare.core.kinks import KinkCrossing
from compare.core.problem import Observation

SNAPSHOT_BUDGET = 20_000_000


def snapshot_steps(steps: int, n_param_elements: int, *, budget: int = SNAPSHOT_BUDGET) -> frozenset[int]:
    """Steps at which arrays are kept: all of them if ``steps * 4 * n_params`` fits the budget."""
    per_step = max(1, 4 * n_param_elements)  # grads + params + up to two state arrays per parameter
    count = max(2, min(steps, budget // per_step))
    return frozenset(int(round(s)) for s in np.linspace(0, steps - 1, count))


@dataclass
class Trajectory:
    """What one side did: ``losses[k]`` for every step, ``snapshots[k][key]`` at snapshot steps.

    ``diverged_at`` is the first step whose loss or arrays were NaN/Inf (then the run stopped there);
    ``kink_crossings`` the steps left out of the comparison (:mod:`compare.core.kinks`). ``scalars[k]`` holds
    step ``k``'s one-number state entries (``state.total_norm``, ``state.lr``, ...) at every step: small
    enough to travel with the losses where the snapshots do not (a spread sweep), for studies that read them.
    """

    losses: list[float] = field(default_factory=list)
    scalars: list[dict[str, float]] = field(default_factory=list)
    snapshots: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    diverged_at: int | None = None
    kink_crossings: list[KinkCrossing] = field(default_factory=list)

    def record(self, step: int, observe: Callable[[], Observation], keep_arrays: bool) -> None:
        observation = observe()
        self.losses.append(float(observation.loss))
        self.scalars.append({key: float(np.asarray(value).reshape(())) for key, value in observation.arrays.items()
                             if key.startswith("state.") and np.size(value) == 1})
        finite = np.isfinite(observation.loss)
        if keep_arrays:
            arrays = {key: np.array(value, copy=True) for key, value in observation.arrays.items()}
            self.snapshots[step] = arrays
            finite = finite and all(np.isfinite(a).all() for a in arrays.values())
        if not finite and self.diverged_at is None:
            self.diverged_at = step

    @property
    def final_arrays(self) -> dict[str, np.ndarray]:
        return self.snapshots[max(self.snapshots)] if self.snapshots else {}


@dataclass(frozen=True)
class Timing:
    """Seconds per step: median and interquartile range over ``samples`` blocks of ``per_block`` calls."""

    median: float
    q25: float
    q75: float
    samples: int
    per_block: int
    #: The 1-minute load average per core when the timing ended (None where the OS gives none): above 1, more
    #: threads wanted a core than there were cores.
    load_per_core: float | None = None

    @property
    def spread(self) -> float:
        """The interquartile range relative to the median: large when the machine was busy while timing."""
        return (self.q75 - self.q25) / self.median if self.median > 0 else float("inf")
