"""Comparing two trajectories, and the tolerances that say when they agree.

Relative difference of one array ``a`` (scratch) against ``b`` (torch, the reference), over the whole
trajectory (all snapshot steps stacked, or all losses)::

    rel(a, b) = max|a - b| / max|b|        (= max|a - b| when b is all zeros)

Dividing by the largest magnitude of the whole array, not entry by entry, keeps entries that are near
zero from blowing the ratio up: this is the norm-wise relative error of numerical analysis with the
max-norm. A category's figure (loss, grad, param, state) is the maximum over its arrays.

This is deliberately stricter than ``torch.testing.assert_close``'s elementwise
``|a - b| <= atol + rtol |b|``: there is no absolute floor, so a tiny gradient that is wrong by 100% is
still caught when it dominates its array. Tolerances, as relative differences:

- ``float64`` on CPU, the reference mode: ``1e-10``. Unit roundoff is 1.1e-16; the measured agreement
  over 200 training steps is ~1e-15 to 1e-13 (``results/parity.csv``). The bound leaves room for the
  growth of rounding differences along a trajectory while any real bug (a missing ``/ m``, a wrong
  derivative, a misplaced eps) shows up at 1e-6 or far above.
- ``float32`` on CPU: ``2e-4``. Unit roundoff is 6e-8; the two sides sum in different orders (BLAS
  blocking, reduction trees), and each step feeds its rounding into the next, so over 200 steps the
  difference grows to 1e-6..1e-5; the bound is an order of magnitude above the worst case measured.
- CUDA: ``1e-9`` (float64) and ``1e-3`` (float32); cuBLAS picks other reduction orders than the CPU
  run the scratch side makes, and TF32 is disabled for parity runs so float32 means IEEE float32.

A case may multiply its tolerance by ``Case.tolerance_factor`` and must say why in its notes.

One floor, for gradients and parameters: the rounding of a cancellation. A gradient entry is a mean over the
examples of terms whose size is set by the derivative of the loss with respect to the output (``|a - y| <= 1``
for the course's losses). Summed in any order, such a mean carries an absolute rounding error of up to about
``log2(m) u`` times the terms, whatever the size of the result: where the terms cancel (``db = mean(a - y)``
with balanced labels at near-zero weights is ~3e-9 from terms of 1/2), two correct results differ by an ulp
of the terms, 1e-8 *relative to the result*, and a bias that starts at 0 inherits the same difference
through its update. So an array of those categories whose relative difference exceeds the tolerance still
agrees when ``max|a - b| <= floor = ROUNDING_ULPS * u`` (16 units of roundoff of terms of scale 1;
inputs larger than 1 make the true floor larger, so this one errs strict); its figure is then
``max|a - b| * tol / floor`` (at most the tolerance) and a note names it. An array within the relative
tolerance keeps its relative figure, so no run that passes without the floor changes its figures. Losses and
optimizer state have no floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compare.core.kinks import MAX_CROSSINGS_PER_100_STEPS, too_many_crossings
from compare.core.problem import CATEGORIES
from compare.core.record import Trajectory

#: ``log2`` of the largest number of examples a gradient here averages (2**16): the rounding of such a mean.
ROUNDING_ULPS = 16

TOLERANCES: dict[tuple[str, str], float] = {
    ("float64", "cpu"): 1e-10,
    ("float32", "cpu"): 2e-4,
    ("float64", "cuda"): 1e-9,
    ("float32", "cuda"): 1e-3,
}


def tolerance(dtype: str, device: str, factor: float = 1.0) -> float:
    """The relative tolerance for ``dtype`` on ``device`` (``"cuda:0"`` counts as ``"cuda"``)."""
    key = (str(dtype), str(device).split(":")[0])
    if key not in TOLERANCES:
        dtypes = sorted({d for d, _ in TOLERANCES})
        devices = sorted({d for _, d in TOLERANCES})
        raise ValueError(f"no tolerance for dtype {dtype!r} on device {device!r}; "
                         f"expected dtype in {dtypes} and device in {devices}")
    return TOLERANCES[key] * factor


def rounding_floor(dtype: str) -> float:
    """The absolute difference below which gradients and parameters agree whatever their size: 16 roundoffs."""
    return ROUNDING_ULPS * float(np.finfo(np.dtype(dtype)).eps) / 2


def relative_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``(max|a - b|, max|a - b| / max|b|)`` in float64; shapes must be equal."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0, 0.0
    abs_diff = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(b)))
    return abs_diff, abs_diff / scale if scale > 0 else abs_diff


@dataclass(frozen=True)
class WorstEntry:
    """Where an array differs most: its key, the step, the index within the array and both values; and
    ``first_step``, the first recorded step at which the array left the tolerance (``None`` when it never did)."""

    key: str
    step: int
    index: tuple[int, ...]
    scratch: float
    torch: float
    first_step: int | None = None

    def describe(self) -> str:
        where = f"{self.key}[{', '.join(map(str, self.index))}]" if self.index else self.key
        text = f"{where} at step {self.step}: scratch {self.scratch:.17g} vs torch {self.torch:.17g}"
        if self.first_step is not None and self.first_step != self.step:
            text += f" (first beyond tolerance at step {self.first_step})"
        return text

    def record(self) -> dict[str, object]:
        return {"array": self.key, "step": self.step, "index": list(self.index), "scratch": self.scratch,
                "torch": self.torch, "first_step": self.first_step}


@dataclass
class ParityResult:
    """Max absolute and relative differences per category, where each category differs most, and the verdict."""

    tolerance: float
    max_abs: dict[str, float] = field(default_factory=dict)
    max_rel: dict[str, float] = field(default_factory=dict)
    worst: dict[str, WorstEntry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(v <= self.tolerance for v in self.max_rel.values())

    @property
    def max_rel_overall(self) -> float:
        return max(self.max_rel.values(), default=0.0)

    @property
    def worst_category(self) -> str | None:
        """The category with the largest relative difference (``None`` when nothing was compared)."""
        return max(self.max_rel, key=self.max_rel.__getitem__, default=None)

    def where(self) -> str:
        """``"grad 3.1e-03 > tol 1e-10 in grad.W2[3, 0] at step 17: scratch ... vs torch ..."`` or ``""``."""
        category = self.worst_category
        if category is None or category not in self.worst:
            return ""
        relation = ">" if self.max_rel[category] > self.tolerance else "<="
        return (f"{category} {self.max_rel[category]:.1e} {relation} tol {self.tolerance:.0e} in "
                f"{self.worst[category].describe()}")

    def summary(self) -> str:
        if self.problems:
            return "; ".join(self.problems)
        parts = [f"{cat} {self.max_rel[cat]:.1e}" for cat in self.max_rel]
        text = ", ".join(parts) + f" (tol {self.tolerance:.0e})"
        if not self.passed:
            text += f"; worst {self.where()}"
        return text + "".join(f"; {note}" for note in self.notes)


def worst_entry(key: str, steps: list[int], a: np.ndarray, b: np.ndarray, tol: float | None = None) -> WorstEntry:
    """The entry of ``a`` (stacked over ``steps``) farthest from ``b``'s, with its step and index; with ``tol``,
    also the first step whose ``max|a - b|`` exceeds ``tol * max|b|`` (the whole trajectory's scale)."""
    difference = np.abs(a.astype(np.float64) - b.astype(np.float64))
    position = np.unravel_index(int(np.argmax(difference)), difference.shape)
    first = None
    if tol is not None:
        scale = float(np.max(np.abs(b))) or 1.0
        beyond = np.flatnonzero(difference.reshape(len(steps), -1).max(axis=1) > tol * scale)
        first = steps[int(beyond[0])] if beyond.size else None
    return WorstEntry(key, steps[position[0]], tuple(int(i) for i in position[1:]), float(a[position]),
                      float(b[position]), first)


def _update(result: ParityResult, category: str, entry: WorstEntry, abs_diff: float, rel_diff: float) -> None:
    if rel_diff >= result.max_rel.get(category, -1.0):
        result.max_rel[category] = rel_diff
        result.worst[category] = entry
    result.max_abs[category] = max(abs_diff, result.max_abs.get(category, 0.0))


def category_of(key: str) -> str:
    """``"loss"``, or the prefix of an observation key (``"grad.W1"`` -> ``"grad"``), which must be a category."""
    category = key.split(".", 1)[0]
    if key != "loss" and category not in CATEGORIES:
        raise ValueError(f"observation key {key!r} must start with one of {CATEGORIES}")
    return category


def _compare_array(result: ParityResult, key: str, steps: list[int], a: np.ndarray, b: np.ndarray,
                   floor: float) -> None:
    abs_diff, rel_diff = relative_difference(a, b)
    if a.size == 0:
        return
    if rel_diff > result.tolerance and abs_diff <= floor:
        result.notes.append(f"{key}: {rel_diff:.1e} relative, but {abs_diff:.1e} absolute is within the rounding "
                            f"floor {floor:.1e} of terms of scale 1 (a cancellation)")
        rel_diff = abs_diff * result.tolerance / floor
    tol = result.tolerance if rel_diff > result.tolerance else None  # a passing array never left it
    _update(result, category_of(key), worst_entry(key, steps, a, b, tol), abs_diff, rel_diff)


def compare_trajectories(scratch: Trajectory, torch: Trajectory, tol: float, *, rounding_floor: float = 0.0
                         ) -> ParityResult:
    """Compare ``scratch`` against ``torch`` (the reference) over every recorded step.

    ``rounding_floor`` is the absolute difference below which gradient and parameter arrays agree whatever
    their size (:func:`rounding_floor`; 0 compares them like everything else).
    """
    result = ParityResult(tolerance=tol)
    for side, trajectory in (("scratch", scratch), ("torch", torch)):
        if trajectory.diverged_at is not None:
            result.problems.append(f"{side} diverged at step {trajectory.diverged_at}")
    if result.problems:
        return result
    crossed = {crossing.step for crossing in scratch.kink_crossings}
    result.notes += [crossing.describe() for crossing in scratch.kink_crossings]
    if too_many_crossings(len(crossed), len(scratch.losses)):
        result.problems.append(f"{len(crossed)} kink crossings in {len(scratch.losses)} steps: more than rounding "
                               f"explains (at most {MAX_CROSSINGS_PER_100_STEPS} per 100 steps)")
        return result
    if len(scratch.losses) != len(torch.losses):
        result.problems.append(f"step counts differ: scratch {len(scratch.losses)}, torch {len(torch.losses)}")
        return result
    compared = [k for k in range(len(scratch.losses)) if k not in crossed]
    if not compared:
        result.problems.append("no step left to compare: every step had a kink crossing")
        return result
    _compare_array(result, "loss", compared, np.array(scratch.losses)[compared], np.array(torch.losses)[compared],
                   0.0)
    if scratch.snapshots.keys() != torch.snapshots.keys():
        result.problems.append("the two sides recorded different snapshot steps")
        return result
    keys_s = set().union(*(s.keys() for s in scratch.snapshots.values())) if scratch.snapshots else set()
    keys_t = set().union(*(s.keys() for s in torch.snapshots.values())) if torch.snapshots else set()
    if keys_s != keys_t:
        result.problems.append(f"recorded arrays differ: only scratch {sorted(keys_s - keys_t)}, "
                               f"only torch {sorted(keys_t - keys_s)}")
        return result
    steps = sorted(set(scratch.snapshots) - crossed)
    for key in sorted(keys_s):
        floor = rounding_floor if category_of(key) in ("grad", "param") else 0.0
        try:
            a = np.stack([scratch.snapshots[s][key] for s in steps])
            b = np.stack([torch.snapshots[s][key] for s in steps])
            _compare_array(result, key, steps, a, b, floor)
        except ValueError as error:
            result.problems.append(f"{key}: {error}")
    return result
