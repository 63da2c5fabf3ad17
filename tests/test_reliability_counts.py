"""The counts in docs/reliability-tests.md are the registries' own, not typed by hand."""

from __future__ import annotations

from pathlib import Path

import argument_sensitivity
import test_aggregates
import test_mutants
import test_validation_positions

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability-tests.md"


def counts_line() -> str:
    c = argument_sensitivity.counts()
    return (f"Counts: {c['differs'] + c['same']} of {c['parameters']} defaulted parameters varied ({c['differs']} must "
            f"change the result, {c['same']} must not), {c['allowed']} allowed unvaried; "
            f"{len(test_aggregates.AGGREGATES)} aggregates tested with the odd item first, in the middle and last; "
            f"{len(test_validation_positions.VALIDATION_CHECKS)} validation checks tested by position "
            f"({len(test_validation_positions.CASES)} position cases for the scanning checks).")


def test_the_documented_counts_are_the_registries() -> None:
    c = argument_sensitivity.counts()
    assert c["differs"] + c["same"] + c["allowed"] == c["parameters"]
    assert counts_line() in DOC.read_text().splitlines(), f"docs/reliability-tests.md should say:\n{counts_line()}"


def test_the_documented_mutant_count_is_the_registry() -> None:
    assert f"{len(test_mutants.MUTANTS)} mutants, all caught" in DOC.read_text()
