"""Check a learner's own course functions against PyTorch: ``check(path_or_module_or_namespace)``.

From a notebook, one line::

    from compare.check import check; check(globals())

From a shell: ``python -m compare check my_solution.py`` (``--json`` for graders). The learner's
functions run in a child process with a time limit per function (:mod:`compare.check.runner`); the
expected values are computed with torch (:mod:`compare.check.expected`); a failing function gets its
first wrong number and, when the numbers show one, a diagnosis (:mod:`compare.check.diagnosis`).
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterable, Mapping
from pathlib import Path

from compare.check import course1, course2, gradcheck  # noqa: F401  (they register the course's functions)
from compare.check.catalogue import WEEKS, file_week, known_names, resolve
from compare.check.report import Report
from compare.check.runner import UserError, discover, learner_functions, run
from compare.check.training import TRAINING_WEEKS, check_training
from compare.check.verdict import judge

__all__ = ["check", "Report", "UserError"]

#: Seconds per function (all its inputs together): a safety net against loops that never end, far above
#: what any course function needs.
DEFAULT_TIME_LIMIT = 60.0


def _source(target: object) -> Path | Mapping[str, object]:
    if isinstance(target, (str, Path)):
        path = Path(target)
        if not path.is_file():
            raise UserError(f"{path} is not a file")
        if path.suffix != ".py":
            raise UserError(f"{path} is not a Python file (.py); in a notebook use check(globals())")
        return path.resolve()
    if isinstance(target, types.ModuleType):
        return vars(target)
    if isinstance(target, Mapping):
        return target
    raise UserError(f"check() takes a .py path, a module or a namespace dict, got {type(target).__name__}")


def check(target: object, *, functions: Iterable[str] | None = None, week: str | None = None,
          time_limit: float = DEFAULT_TIME_LIMIT, training: bool = True, plot_dir: Path | None = None) -> Report:
    """Check every course function ``target`` defines (or only ``functions``) and return the report.

    ``target`` is a ``.py`` path, an imported module or a namespace (``globals()`` in a notebook).
    ``plot_dir`` receives the loss overlay of each training check (``<name>_loss.png``).
    ``week`` (``c1w2`` ... ``c2w2``) is the assignment the functions are checked as; by default the week
    whose own function names the file defines most. Functions of other weeks are listed as not checked.
    Raises :class:`UserError` when nothing can be checked.
    """
    if week is not None and week not in WEEKS:
        raise UserError(f"week must be one of {', '.join(WEEKS)}, got {week!r}")
    if isinstance(functions, str):  # iterating it would check one-letter names
        raise UserError(f"functions must be a list of function names, got the string {functions!r}")
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not 0 < time_limit < math.inf:
        raise UserError(f"time_limit must be a number of seconds > 0, got {time_limit!r}")
    source = _source(target)
    names = known_names() | set(TRAINING_WEEKS)
    if isinstance(source, Path):
        found = discover(source, names, time_limit)
    else:
        found = learner_functions(source, names)
    week = week or file_week(found, TRAINING_WEEKS)
    if functions is not None:
        wanted = set(functions)
        unknown = wanted - names
        if unknown:
            raise UserError(f"not a course function the checker knows: {', '.join(sorted(unknown))}")
        found = {k: v for k, v in found.items() if k in wanted}
    if not found:
        raise UserError("no course function found (names such as propagate, L_model_backward, "
                        "update_parameters_with_adam); define them at the top level of the file")
    specs = resolve(found, week)
    trained = {name for name, weeks in TRAINING_WEEKS.items() if week in weeks}
    skipped = sorted(set(found) - {spec.name for spec in specs} - trained)
    jobs = [(spec.name, spec.cases()) for spec in specs]
    calls = run(source, jobs, time_limit)
    results = [judge(spec, cases, calls[spec.name]) for spec, (_, cases) in zip(specs, jobs, strict=True)]
    trainings = check_training(source, found, week, time_limit, plot_dir) if training else []
    return Report(str(target) if isinstance(source, Path) else "namespace", week, results, trainings, skipped)
