"""The timing measures real steps only: a finished trainer (early stopping) is renewed with the clock stopped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compare.core.registry import select
from compare.perf.timing import RenewingSteps, time_step


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class StoppingTrainer:
    """A real step costs 1 s of the fake clock, a step after the stop 0 s, building a trainer 100 s."""

    def __init__(self, clock: FakeClock, stop_after: int) -> None:
        clock.now += 100.0
        self.clock, self.left = clock, stop_after

    @property
    def finished(self) -> bool:
        return self.left == 0

    def step(self) -> None:
        if self.left:
            self.clock.now += 1.0
            self.left -= 1


def test_a_finished_trainer_is_renewed_outside_the_clock() -> None:
    clock = FakeClock()
    steps = RenewingSteps(lambda: StoppingTrainer(clock, stop_after=3))
    timing = time_step(steps, block_seconds=10.0, samples=4, clock=clock)
    assert timing.median == timing.q25 == timing.q75 == 1.0  # neither no-ops (0 s) nor rebuilding (100 s) counted
    assert timing.per_block == 10 and steps.renewals >= 10


def test_without_renewal_the_no_ops_would_be_timed() -> None:
    clock = FakeClock()
    trainer = StoppingTrainer(clock, stop_after=3)
    assert time_step(trainer.step, block_seconds=10.0, samples=4, clock=clock).median < 1.0


@pytest.mark.parametrize("side", ["scratch", "torch"])
def test_the_early_stopping_trainers_say_when_they_have_finished(side: str) -> None:
    (case,) = select(["regularization/early_stopping"])
    problem = case.make_problem(3, np.dtype("float64"))
    trainer = case.scratch(problem) if side == "scratch" else case.torch(problem, torch.device("cpu"))
    steps = 0
    while not trainer.finished and steps < case.steps:
        trainer.step()
        steps += 1
    assert trainer.finished and 0 < steps < case.steps
    assert trainer.stopper.stopped_epoch == steps - 1
