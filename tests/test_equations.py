"""Every equation a study page shows is drawn (never raw LaTeX), and each cross-entropy cost brackets its sum."""

from __future__ import annotations

import re

import pytest

from compare.core.registry import all_cases
from compare.report.site import equation_lines, latex_to_svg

LINES = sorted({(case.concept, line) for case in all_cases() for eq in case.equations for line in equation_lines(eq)})


@pytest.mark.parametrize("concept, line", LINES)
def test_every_equation_line_renders_as_an_image(concept: str, line: str) -> None:
    assert latex_to_svg(line) is not None, f"{concept}: mathtext cannot draw {line!r} (shown as raw LaTeX)"


@pytest.mark.parametrize("concept, line", [(c, line) for c, line in LINES
                                           if line.startswith("J =") and r"\log" in line and r"\sum" in line])
def test_a_cross_entropy_cost_brackets_what_it_sums(concept: str, line: str) -> None:
    """``J = -1/m sum [y log a + (1 - y) log(1 - a)]``: without brackets the sum would cover the first term only."""
    summand = re.sub(r"^(_\{[^}]*\}|_\w)(\^\{[^}]*\}|\^\w)?\s*", "", line.split(r"\sum", 1)[1])
    assert summand.startswith((r"\left[", r"\log")), f"{concept}: {line!r} sums several terms without brackets"
