"""Progress of the long phases (the runs of a report, the steps of a long case, the studies) on stderr, via tqdm.

On a terminal, each phase is a tqdm bar with its count, rate and an estimate of the time left; a bar nested in
another (the steps of one case) appears only when its phase lasts longer than :data:`INNER_DELAY` seconds and
is erased when done. Off a terminal (a log file, CI, a test capturing stderr) no bar is drawn, so no carriage
return or ANSI code reaches the log: an outer phase prints one plain line per finished item (:func:`note`),
and a nested one prints nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

#: Seconds before a nested bar appears: short cases and studies do not flash one.
INNER_DELAY = 1.0


def on_terminal() -> bool:
    """Whether stderr is a terminal (bars are drawn only then)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def tracked(items: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it",
            nested: bool = False, line: int | None = None) -> Iterator[T]:
    """``items`` one by one, with a bar on a terminal (``nested``: delayed by :data:`INNER_DELAY`, then erased).

    ``line`` fixes the bar's terminal line: the processes of a spread sweep share one terminal, one line each.
    Off a terminal the items pass through untouched; callers report finished items with :func:`note`.
    """
    if not on_terminal():
        yield from items
        return
    bar = tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True,
               leave=not nested, delay=INNER_DELAY if nested else 0.0, position=line)
    try:
        yield from bar
    finally:
        bar.close()


def note(message: str) -> None:
    """One line on stderr, printed above any bar on a terminal, plainly elsewhere."""
    if on_terminal():
        tqdm.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr, flush=True)
