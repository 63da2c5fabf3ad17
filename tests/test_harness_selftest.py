"""The harness proves itself: a table of deliberately broken scratch trainers that ``run_case`` must fail.

Each row wraps a registered case's scratch trainer in :class:`Broken`, which delegates everything to the real
trainer except one defect: what a side reports (stale gradients, a perturbed category, the last step only,
only the dev-set statistics, an early stop one epoch late, a learning rate one step behind) or what it does
(never updates; copies the torch side's parameters after a wrong update of its own). The run (with the
scratch side's solo replay, ``run_case(..., replay=True)``, as ``make report`` runs it) must fail, and in the
category the defect lives in ("replay" for a side that cannot train alone); the same case unbroken passes
(``test_the_unbroken_cases_pass``), so each failure is the defect's doing.
A relative perturbation of 1e-8 is four orders above the float64 tolerance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from compare.core.problem import Observation
from compare.core.registry import Case, select
from compare.core.runner import CaseRun, run_case, torch_parameters

PERTURB = 1e-8


def _case(name: str) -> Case:
    (case,) = [c for c in select([]) if f"{c.concept}/{c.variant}" == name]
    return case


class Broken:
    """A scratch trainer with one defect; ``step_index`` counts the steps taken (0-based after the first)."""

    def __init__(self, inner: object, defect: Callable[[Broken, Observation], Observation] | None = None,
                 after_step: Callable[[Broken], None] | None = None, last_step: int = -1):
        self.inner, self.defect, self.after_step, self.last_step = inner, defect, after_step, last_step
        self.step_index = -1
        self.previous: Observation | None = None
        self.channel: dict[str, object] = {}

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def step(self) -> None:
        self.inner.step()
        self.step_index += 1
        if self.after_step is not None:
            self.after_step(self)

    def observe(self) -> Observation:
        real = self.inner.observe()
        shown = real if self.defect is None else self.defect(self, real)
        self.previous = real
        return shown


def _scaled(observation: Observation, prefix: str, factor: float = 1 + PERTURB) -> Observation:
    arrays = {key: value * factor if key.startswith(prefix) else value for key, value in observation.arrays.items()}
    return Observation(observation.loss, arrays)


def stale_gradients(side: Broken, real: Observation) -> Observation:
    """Reports the previous step's gradients (the gradients of step k-1 shown at step k)."""
    if side.previous is None:
        return real
    arrays = dict(real.arrays)
    arrays.update({key: value for key, value in side.previous.arrays.items() if key.startswith("grad.")})
    return Observation(real.loss, arrays)


class NeverUpdates(Broken):
    """Computes loss and gradients, then puts the parameters back: the update never happens."""

    def step(self) -> None:
        self.snapshot = {name: value.copy() for name, value in self.inner.params.items()}
        super().step()
        for name, value in self.snapshot.items():
            self.inner.params[name][...] = value


class CopiesTorch(Broken):
    """Takes a wrong step of its own (half the update), then overwrites its parameters with torch's.

    It reaches the torch side through a channel outside the harness (``broken_case``'s shared holder, as
    parameter memory shared by ``torch.from_numpy`` would be), not through ``Case.couple``.
    """

    def step(self) -> None:
        before = {name: value.copy() for name, value in self.inner.params.items()}
        super().step()
        for name, value in self.inner.params.items():
            value[...] = (value + before[name]) / 2
        self.inner.adopt_parameters(torch_parameters(self.channel["torch"]))


def last_step_only(side: Broken, real: Observation) -> Observation:
    return _scaled(real, "param.") if side.step_index == side.last_step else real


def state_only(side: Broken, real: Observation) -> Observation:
    return _scaled(real, "state.")


def dev_set_only(side: Broken, real: Observation) -> Observation:
    return _scaled(real, "state.input.dev_")


def stops_one_epoch_late(side: Broken, real: Observation) -> Observation:
    arrays = dict(real.arrays)
    stopped = arrays["state.stop.stopped_epoch"]
    arrays["state.stop.stopped_epoch"] = np.where(stopped >= 0, stopped + 1, stopped)
    return Observation(real.loss, arrays)


def lr_one_step_behind(side: Broken, real: Observation) -> Observation:
    if side.previous is None:
        return real
    return Observation(real.loss, {**real.arrays, "state.lr": side.previous.arrays["state.lr"]})


@dataclass(frozen=True)
class Row:
    name: str
    case: str
    steps: int
    make: Callable[[object, int], Broken]
    category: str  # where the failure must show: the ParityResult's worst category, or "diverged"


ROWS = [
    Row("stale gradients", "deep_net/tanh_depth4", 5, lambda t, n: Broken(t, stale_gradients), "grad"),
    Row("never updates", "deep_net/tanh_depth4", 5, lambda t, n: NeverUpdates(t), "param"),
    Row("copies torch's parameters after a wrong step", "deep_net/tanh_depth4", 5, lambda t, n: CopiesTorch(t),
        "replay"),
    Row("copies torch's parameters, with momentum state", "optim/sgd_momentum", 5, lambda t, n: CopiesTorch(t),
        "state"),
    Row("differs at the last step only", "deep_net/tanh_depth4", 7,
        lambda t, n: Broken(t, last_step_only, last_step=n - 1), "param"),
    Row("differs in the optimizer state only", "optim/sgd_momentum", 5, lambda t, n: Broken(t, state_only), "state"),
    Row("differs on the dev set only", "normalization/features", 3, lambda t, n: Broken(t, dev_set_only), "state"),
    Row("stops one epoch late", "regularization/early_stopping", 100, lambda t, n: Broken(t, stops_one_epoch_late),
        "state"),
    Row("reports the learning rate one step behind", "optim/lr_decay_scheduled", 20,  # lr first decays at step 15
        lambda t, n: Broken(t, lr_one_step_behind), "state"),
]


def broken_case(row: Row) -> Case:
    """``row.case`` with its scratch side broken; the last torch side built is left in a shared channel."""
    case = _case(row.case)
    channel: dict[str, object] = {}

    def scratch(problem):
        side = row.make(case.scratch(problem), row.steps)
        side.channel = channel
        return side

    def torch_side(problem, device):
        channel["torch"] = case.torch(problem, device)
        return channel["torch"]

    couple = None if case.couple is None else (lambda s, t: case.couple(s.inner, t))
    return dataclasses.replace(case, scratch=scratch, torch=torch_side, couple=couple)


def _fails_in(run: CaseRun, category: str) -> bool:
    if run.passed:
        return False
    if category == "replay":
        return run.replay_problem is not None
    return run.parity.worst_category == category or any(category in problem for problem in run.parity.problems)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_the_harness_fails_the_broken_trainer(row: Row) -> None:
    run = run_case(broken_case(row), steps=row.steps, replay=True)
    assert not run.passed, f"{row.name}: the harness passed a broken trainer ({run.summary()})"
    assert _fails_in(run, row.category), f"{row.name}: failed, but not in {row.category}: {run.summary()}"


@pytest.mark.parametrize("name", sorted({(row.case, row.steps) for row in ROWS}), ids=str)
def test_the_unbroken_cases_pass(name: tuple[str, int]) -> None:
    case_name, steps = name
    run = run_case(_case(case_name), steps=steps, replay=True)
    assert run.passed, run.summary()
