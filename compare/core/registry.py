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
class Excerpt:
    """The lines of ``source``'s code that contain one of ``lines`` (e.g. ``loss.backward()`` of a training step).

    For a stage that is one line of a larger function: the lines are taken from the code itself when a page or
    notebook is written, so a line that is no longer there is an error there, not a stale quote.
    """

    source: object
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    """One stage of a training step and the code that does it on each side.

    ``name`` is ``forward``, ``cost``, ``backward`` or ``update`` for a training step (or a concept's own stage:
    ``fit`` and ``apply`` of a normalization); ``scratch`` and ``torch`` hold functions, classes, methods or
    :class:`Excerpt` s. The torch side is the user-level code (the module's ``forward``, ``loss.backward()``,
    ``optimizer.step()``), never torch's own library source.
    """

    name: str
    scratch: tuple[object, ...]
    torch: tuple[object, ...]


@dataclass(frozen=True)
class LossPlot:
    """How a case's per-step ``loss`` is drawn on its study page: the ``value`` and ``x`` axis labels, and
    ``markers`` (separate points, not a curve) when the steps are unrelated evaluations rather than training."""

    value: str = "loss"
    x: str = "step"
    markers: bool = False


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
    ``*_source`` objects feed the study pages. ``stages`` pair the two sides' code stage by stage on the concept's
    study page and in its notebook, which feature the variant marked ``notebook`` (else the concept's first).
    ``loss_plot`` says what the per-step loss is, for its figure (:class:`LossPlot`).
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
    stages: tuple[Stage, ...] = field(default=())
    notebook: bool = False
    loss_plot: LossPlot = LossPlot()

    @property
    def name(self) -> str:
        return f"{self.concept}/{self.variant}"

    def __reduce__(self) -> tuple[Callable[[str], Case], tuple[str]]:
        """Pickled by name, as a function is: the process that unpickles it (rank 0 of a spread sweep, gathering
        the runs) takes the case from its own registry, which holds the same cases."""
        return load_case, (self.name,)


#: The plug-in package whose modules register the cases.
CASES_PACKAGE = "compare.cases"
_CASES: dict[str, Case] = {}
#: Cases that need files this machine may lack, with a function saying why they cannot run (None: they can).
_OPTIONAL: dict[str, tuple[Case, Callable[[], str | None]]] = {}
_DISCOVERED = False


def register(case: Case) -> Case:
    """Add ``case``; a second case with the same ``concept/variant`` is a programming error."""
    if case.name in _CASES or case.name in _OPTIONAL:
        raise ValueError(f"case {case.name!r} is registered twice")
    _CASES[case.name] = case
    return case


def register_optional(case: Case, missing: Callable[[], str | None]) -> Case:
    """Add ``case``, run only where ``missing()`` is None (e.g. a data set that must be downloaded first).

    Elsewhere it is left out of :func:`all_cases` and a concept's selection, :func:`unavailable` says why, and
    selecting it by its full name is an error carrying that reason. It is always in :func:`name_index`, so the
    light name index does not depend on the machine.
    """
    if case.name in _CASES or case.name in _OPTIONAL:
        raise ValueError(f"case {case.name!r} is registered twice")
    _OPTIONAL[case.name] = (case, missing)
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
    """Every registered case that can run here, sorted by concept then variant."""
    _discover()
    runnable = [*_CASES.values(), *(case for case, missing in _OPTIONAL.values() if missing() is None)]
    return sorted(runnable, key=lambda c: (c.concept, c.variant))


def unavailable(names: Sequence[str] = ()) -> dict[str, str]:
    """``case name -> reason`` of the optional cases matching ``names`` (all when empty) that cannot run here."""
    _discover()
    reasons = {}
    for name, (case, missing) in sorted(_OPTIONAL.items()):
        reason = missing() if not names or any(n in (case.concept, name) for n in names) else None
        if reason is not None:
            reasons[name] = reason
    return reasons


def concepts() -> list[str]:
    return sorted({case.concept for case in all_cases()})


def name_index() -> dict[str, list[str]]:
    """``concept -> variants`` of every registered case (what ``compare/case_index.py`` must hold)."""
    _discover()
    index: dict[str, list[str]] = {}
    for case in sorted([*_CASES.values(), *(case for case, _ in _OPTIONAL.values())],
                       key=lambda c: (c.concept, c.variant)):
        index.setdefault(case.concept, []).append(case.variant)
    return index


def load_case(name: str) -> Case:
    """The case ``concept/variant``, importing only its concept's module ``compare.cases.<concept>`` when that
    registers it: a notebook runs one case and need not import every concept's dependencies (torchvision's
    alone take seconds). Any other name is looked up in the whole registry (:func:`select`'s errors)."""
    concept, _, variant = name.partition("/")
    if not variant:
        raise ValueError(f"expected concept/variant, got {name!r}")
    module = f"{CASES_PACKAGE}.{concept}"
    if name not in _CASES and concept.isidentifier():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:  # a dependency of the module is missing: that is the user's error to see
                raise
    return _CASES[name] if name in _CASES else select([name])[0]


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
        reason = unavailable([name]).get(name)
        if reason is not None:
            raise ValueError(f"{name} cannot run here: {reason}")
        if not matches and name not in name_index():  # a concept whose cases all need missing data selects none
            raise ValueError(unknown_name(name, name_index()))
        chosen.extend(c for c in matches if c not in chosen)
    return chosen
