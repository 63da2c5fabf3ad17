"""The registry of concept cases.

Adding a concept is one module per side (``scratch/X.py``, ``torch_ref/X.py``) plus one module
``compare/cases/X.py`` that calls :func:`register` for each variant. Every module in ``compare.cases``
is imported on first use, so no central list needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from compare.core.problem import Problem, Trainer
from compare.names import unknown_name


@dataclass(frozen=True)
class Case:
    """One concept variant, run identically on both sides.

    ``make_problem(seed, dtype)`` draws data and initial parameters deterministically.
    ``scratch(problem)`` and ``torch(problem, device)`` build fresh trainers. ``couple(scratch, torch)``,
    when given, is called after each torch step and before the matching scratch step (e.g. to hand the
    dropout masks torch drew to the scratch side). ``gradient_check(problem)`` returns the course's
    relative error of the scratch gradients against two-sided differences (float64).
    ``tolerance_factor`` widens the dtype/device tolerance for a case whose trajectory is known to
    amplify rounding (the reason goes in ``notes``). ``equations`` (LaTeX), ``notes`` and the
    ``*_source`` objects feed the study pages.
    """

    concept: str
    variant: str
    summary: str
    make_problem: Callable[[int, np.dtype], Problem]
    scratch: Callable[[Problem], Trainer]
    torch: Callable[[Problem, torch.device], Trainer]
    steps: int = 200
    couple: Callable[[Trainer, Trainer], None] | None = None
    gradient_check: Callable[[Problem], float] | None = None
    tolerance_factor: float = 1.0
    devices: tuple[str, ...] = ("cpu", "cuda")
    equations: tuple[str, ...] = ()
    notes: str = ""
    scratch_source: tuple[object, ...] = field(default=())
    torch_source: tuple[object, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"{self.concept}/{self.variant}"


#: The plug-in package whose modules register the cases.
CASES_PACKAGE = "compare.cases"
_CASES: dict[str, Case] = {}
_DISCOVERED = False


def register(case: Case) -> Case:
    """Add ``case``; a second case with the same ``concept/variant`` is a programming error."""
    if case.name in _CASES:
        raise ValueError(f"case {case.name!r} is registered twice")
    _CASES[case.name] = case
    return case


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    package = importlib.import_module(CASES_PACKAGE)  # by name: the core imports no case
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{CASES_PACKAGE}.{module.name}")
    _DISCOVERED = True


def all_cases() -> list[Case]:
    """Every registered case, sorted by concept then variant."""
    _discover()
    return sorted(_CASES.values(), key=lambda c: (c.concept, c.variant))


def concepts() -> list[str]:
    return sorted({case.concept for case in all_cases()})


def name_index() -> dict[str, list[str]]:
    """``concept -> variants`` of every registered case (what ``compare/case_index.py`` must hold)."""
    index: dict[str, list[str]] = {}
    for case in all_cases():
        index.setdefault(case.concept, []).append(case.variant)
    return index


def select(names: Sequence[str] = ()) -> list[Case]:
    """Cases matching ``names`` (a concept, or ``concept/variant``); all cases when ``names`` is empty.

    An unknown name raises ``ValueError``: the message of :func:`compare.names.unknown_name` (a near miss, the
    concept's variants or the known concepts), here against the live registry.
    """
    cases = all_cases()
    if not names:
        return cases
    chosen: list[Case] = []
    for name in names:
        matches = [c for c in cases if name in (c.concept, c.name)]
        if not matches:
            raise ValueError(unknown_name(name, name_index()))
        chosen.extend(c for c in matches if c not in chosen)
    return chosen
