"""Studies: report sections beyond the parity table (plots, tables, explanations).

A concept module registers a :class:`Study` next to its cases. ``make report`` runs every study with a
:class:`StudyContext` that hands out file paths inside the report's staging folder, so a study never
writes into ``results/`` directly and an interrupted report leaves the old one intact.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from compare.core.progress import tracked
from compare.core.runner import CaseRun

T = TypeVar("T")


#: ``report --quick`` runs every study loop for this fraction of its full length (a smoke test, not a result).
QUICK_FRACTION = 50


@dataclass
class StudyContext:
    """Where a study writes: ``plot(name)`` is a path under ``plots/`` of the staging folder. ``quick``: the
    smoke test of ``report --quick``, whose studies take ``steps(n)``, 1/:data:`QUICK_FRACTION` of their length."""

    out_dir: Path
    quick: bool = False
    written: list[str] = field(default_factory=list)
    #: The report's own runs, for a study that declares ``reads_runs`` (empty for the others).
    runs: Sequence[CaseRun] = ()

    def run_of(self, name: str, *, dtype: str = "float64", seed: int = 0, device: str = "cpu") -> CaseRun | None:
        """The report's run of case ``name`` (``"rnn/lstm_chars"``) in that mode, or None if it made none."""
        return next((run for run in self.runs if (run.case.name, run.dtype, run.seed, run.device)
                     == (name, dtype, seed, device)), None)

    def steps(self, full: int) -> int:
        """``full`` steps (or items), or in a quick report ``full // QUICK_FRACTION`` (at least 2)."""
        return max(2, full // QUICK_FRACTION) if self.quick else full

    def track(self, items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
        """``items`` with a progress bar on a terminal (a study's long loop: racers, settings, steps)."""
        return tracked(items, desc=desc, total=total, nested=True)

    def plot(self, filename: str) -> Path:
        path = self.out_dir / "plots" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(f"plots/{filename}")
        return path


@dataclass(frozen=True)
class StudyOutput:
    """Markdown for ``report.md`` (image links relative to ``results/``) and the files written."""

    markdown: str
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class Study:
    """A report section. ``seconds``: roughly what its full run takes on one core of the quiet 2-core machine
    (the figures were measured in a full report of 2026-12-02), used only to deal
    the studies out to the processes of a spread report (longest first); a wrong figure costs balance, never
    a result. ``reads_runs``: the study reads the report's own runs (:attr:`StudyContext.runs`) instead of
    training again, so it runs in the process that holds them, after them."""

    name: str
    concept: str
    title: str
    run: Callable[[StudyContext], StudyOutput]
    seconds: float = 10.0
    reads_runs: bool = False


#: The plug-in package whose modules register the studies.
STUDIES_PACKAGE = "compare.studies"
_STUDIES: dict[str, Study] = {}


def register_study(study: Study) -> Study:
    if study.name in _STUDIES:
        raise ValueError(f"study {study.name!r} is registered twice")
    _STUDIES[study.name] = study
    return study


def all_studies() -> list[Study]:
    """Every registered study, sorted by concept: the modules of ``compare.studies`` are imported on first use."""
    package = importlib.import_module(STUDIES_PACKAGE)  # by name: studies sit above the report layer
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{STUDIES_PACKAGE}.{module.name}")
    return sorted(_STUDIES.values(), key=lambda s: (s.concept, s.name))
