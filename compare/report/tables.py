"""The one table formatter: a cell rule shared by the markdown tables (the CLI's run table, ``report.md``,
``speed.md``) and the HTML tables of the study site.

A cell is missing when it is ``None``, pandas' ``NA`` or a float NaN (pandas' marker for "not measured");
a float is formatted with ``float_spec``; anything else is ``str(value)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

#: The one marker for "not measured / not applicable", in every table.
MISSING = "—"


def cell(value: object, float_spec: str = ".3g", *, missing: str = MISSING, nan: str | None = None,
         escape: Callable[[str], str] = str) -> str:
    """One table cell. ``nan`` (default: ``missing``) is shown for a float NaN, where NaN is a result
    (a diverged run) rather than a gap; ``escape`` is applied to non-float text (``html.escape`` for HTML)."""
    if value is None or value is pd.NA:
        return missing
    if isinstance(value, float):
        if math.isnan(value):
            return missing if nan is None else nan
        return format(value, float_spec)
    return escape(str(value))


def markdown_table(frame: pd.DataFrame, float_spec: str = ".3g", *, missing: str = MISSING) -> str:
    """``frame`` as a GitHub-flavoured markdown table, one line per row, cells by :func:`cell`."""
    header = "| " + " | ".join(str(column) for column in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(_python(value), float_spec, missing=missing) for value in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def text_table(frame: pd.DataFrame, float_spec: str = ".3g", *, missing: str = MISSING,
               right: Sequence[str] = ()) -> str:
    """``frame`` as aligned plain text for a terminal: two spaces between columns, a dashed rule under the
    header, cells by :func:`cell`; the ``right`` columns are right-aligned (numbers)."""
    rows = [[str(column) for column in frame.columns]]
    rows += [[cell(_python(value), float_spec, missing=missing) for value in row]
             for row in frame.itertuples(index=False)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(frame.columns))]
    aligned = [[text.rjust(width) if column in right else text.ljust(width)
                for text, width, column in zip(row, widths, frame.columns, strict=True)] for row in rows]
    lines = ["  ".join(row).rstrip() for row in aligned]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:]])


def ratio(value: float | None) -> str | None:
    """A speed ratio as ``25.9×`` (three significant figures), or ``None`` when not measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return f"{value:.3g}×" if value < 1000 else f"{value:.0f}×"


def html_table(header: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """An HTML table of ready cells (each already made by :func:`cell` with ``escape=html.escape``, or markup)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _python(value: object) -> object:
    """NumPy scalars as Python values, so a float32 or int64 cell formats like a float or an int."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
