"""Speed sections that a concept brings to ``make bench`` (its own layer, loop, cell...), and the row format.

A case module registers one with :func:`register_concept_bench`; :mod:`compare.perf.bench` runs it when the
concept is selected, and :mod:`compare.report.speed` renders every such section the same way (rows of
section :data:`MICROBENCH`: ``name`` the workload, ``note`` the implementation, ``m`` the batch timed, seconds,
GFLOP/s and the fraction of the backend's matmul peak when ``flops`` is given, and the time per example
against torch CPU's). The concept's module stays the only place that knows the concept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from compare.core.record import Timing
from compare.perf.timing import RenewingSteps, cuda_sync, time_step

COLUMNS = ["section", "name", "backend", "device", "dtype", "m", "width", "depth", "seconds", "q25", "q75",
           "samples", "per_block", "flops", "gflops", "peak_gflops", "fraction_of_peak", "parity_max_rel",
           "parity_passed", "note", "rank"]
#: The ``section`` of every row a concept's bench returns.
MICROBENCH = "microbench"
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


class TimingPlan(Protocol):
    """What a concept's bench reads of the run's plan (:class:`compare.perf.bench.Plan`)."""

    quick: bool
    devices: tuple[str, ...]
    block_seconds: float
    samples: int
    max_seconds: float
    clock: str


def bench_row(section: str, name: str, backend: str, device: str, dtype: str, timing: Timing | None, *,
              m: int | None = None, width: int | None = None, depth: int | None = None, flops: float | None = None,
              note: str = "") -> dict[str, object]:
    """One row of :data:`COLUMNS`; ``flops`` per timed step gives ``gflops``."""
    row: dict[str, object] = dict.fromkeys(COLUMNS)
    row.update(section=section, name=name, backend=backend, device=device, dtype=dtype, m=m, width=width,
               depth=depth, flops=flops, note=note)
    if timing is not None:
        row.update(seconds=timing.median, q25=timing.q25, q75=timing.q75, samples=timing.samples,
                   per_block=timing.per_block)
        if flops:
            row["gflops"] = flops / timing.median / 1e9
    return row


def time_on(plan: TimingPlan, step: Callable[[], None] | RenewingSteps, device: str = "cpu") -> Timing:
    """:func:`compare.perf.timing.time_step` with the plan's block length, samples, budget and clock."""
    return time_step(step, sync=cuda_sync(torch.device(device)), block_seconds=plan.block_seconds,
                     samples=plan.samples, max_seconds=plan.max_seconds, clock=CLOCKS[plan.clock])


def verdict(target: str, measured: float | None, goal: str, passed: bool | None, text: str) -> dict[str, object]:
    """One target line: PASS, MISS, or n/a when ``passed`` is None (not measured)."""
    outcome = "n/a" if passed is None else ("PASS" if passed else "MISS")
    return {"target": target, "measured": measured, "shown": text, "goal": goal, "verdict": outcome}


@dataclass(frozen=True)
class ConceptBench:
    """``measure(plan) -> rows`` (section :data:`MICROBENCH`) for ``concept``, shown under ``title``;
    ``verdicts(frame)`` (optional) adds the concept's speed goals as target lines (``target``, ``measured``,
    ``goal``, ``passed``, ``shown``, ``verdict``, as :func:`compare.perf.bench.target_verdicts` makes them);
    ``seconds`` and ``quick_seconds``, its rough cost in a full and a ``--quick`` bench, decide which rank of a
    spread bench measures it."""

    concept: str
    title: str
    measure: Callable[[TimingPlan], list[dict[str, object]]]
    verdicts: Callable[..., list[dict[str, object]]] | None = None
    seconds: float = 30.0
    quick_seconds: float = 1.0


CONCEPT_BENCHES: dict[str, ConceptBench] = {}


def register_concept_bench(bench: ConceptBench) -> ConceptBench:
    """Add ``bench`` under its title (a module imported again replaces its own); a case module calls this at
    import, next to its ``register`` calls."""
    CONCEPT_BENCHES[bench.title] = bench
    return bench


def concept_benches(concepts: set[str]) -> list[ConceptBench]:
    """The registered benches of the selected ``concepts``, in registration order."""
    return [bench for bench in CONCEPT_BENCHES.values() if bench.concept in concepts]
