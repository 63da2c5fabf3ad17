"""Compare a function's outputs with torch's, case by case, and name the bug when the numbers show one.

Tolerance (float64): an entry passes when ``|got - expected| <= RTOL |expected| + ATOL * max(1, max|expected|)``
with ``RTOL = 1e-7`` and ``ATOL = 1e-9``: far above the rounding differences of a correct float64
implementation written in another order (measured ~1e-15 relative on these inputs; the cost's
``log`` of a near-0.5 probability and sums of m terms stay below 1e-13), far below any real bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compare.check.catalogue import Case, Spec, WrongReturn
from compare.check.diagnosis import Diagnosis, combine, pattern
from compare.check.runner import TIMEOUT, Call

RTOL, ATOL = 1e-7, 1e-9


@dataclass
class Wrong:
    """The first wrong number of a failing call."""

    case: str
    output: str
    index: tuple[int, ...] | None
    got: object
    expected: object
    note: str = ""


@dataclass
class FunctionResult:
    name: str
    week: str
    status: str  # "pass" | "fail"
    cases: int = 0
    failed: int = 0
    worst_relative_error: float = 0.0
    first_wrong: Wrong | None = None
    diagnosis: Diagnosis | None = None
    detail: str = ""
    warnings: list[str] = field(default_factory=list)


def as_array(value: object) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array


def _close(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    with np.errstate(invalid="ignore"):
        return np.abs(got - expected) <= RTOL * np.abs(expected) + ATOL * scale


def _aligned(got: object, expected: object) -> tuple[np.ndarray | None, np.ndarray]:
    """Both as float arrays; a size-1 answer is compared as the scalar the course's tests compare."""
    expected_array = np.asarray(expected, dtype=float)
    got_array = as_array(got)
    if got_array is not None and got_array.size == 1 and expected_array.size == 1:
        return got_array.reshape(()), expected_array.reshape(())
    return got_array, expected_array


def first_wrong(case: Case, got: dict, expected: dict) -> tuple[Wrong | None, float]:
    """The first output (in the course's order) that differs, and the worst relative error of the call."""
    worst, wrong = 0.0, None
    order = [k for k in got if k in expected] + [k for k in expected if k not in got]  # the course's order
    for name in order:
        want = expected[name]
        if name not in got:
            wrong = wrong or Wrong(case.label, name, None, None, _show(want), "missing")
            continue
        got_array, want_array = _aligned(got[name], want)
        if got_array is None:
            wrong = wrong or Wrong(case.label, name, None, repr(got[name])[:80], _show(want), "not a number")
            continue
        if got_array.shape != want_array.shape:
            wrong = wrong or Wrong(case.label, name, None, f"shape {got_array.shape}", f"shape {want_array.shape}",
                                   "wrong shape")
            continue
        scale = max(1.0, float(np.max(np.abs(want_array)))) if want_array.size else 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.abs(got_array - want_array) / (np.abs(want_array) + ATOL * scale)
        relative = np.where(np.isnan(relative), np.inf, relative)
        worst = max(worst, float(np.max(relative, initial=0.0)))
        ok = _close(got_array, want_array)
        if not ok.all() and wrong is None:
            index = tuple(int(i) for i in np.argwhere(~ok)[0]) if got_array.ndim else ()
            wrong = Wrong(case.label, name, index, float(got_array[index]), float(want_array[index]))
    return wrong, worst


def _show(value: object) -> object:
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else f"array of shape {array.shape}"


def _matches(got: dict, hypothesis: dict | None) -> bool:
    """Every output the hypothesis predicts is what the learner's function returned."""
    if not hypothesis:
        return False
    for name, want in hypothesis.items():
        if name not in got:
            return False
        got_array, want_array = _aligned(got[name], want)
        if got_array is None or got_array.shape != want_array.shape or not _close(got_array, want_array).all():
            return False
    return True


def explained_by(spec: Spec, failing: list[tuple[Case, dict, dict, Wrong]]) -> str | None:
    """The bug hypothesis of ``spec`` that reproduces every failing call, if one does."""
    for hypothesis in spec.hypotheses:
        try:
            if all(_matches(got, hypothesis.outputs(case)) for case, got, _, _ in failing):
                return hypothesis.diagnosis
        except Exception:  # a hypothesis that does not apply to these inputs (shapes) is no evidence
            continue
    return None


def diagnose(spec: Spec, failing: list[tuple[Case, dict, dict, Wrong]]) -> Diagnosis | None:
    """A hypothesis that reproduces every failing call, else a pattern shared by all of them."""
    bug = explained_by(spec, failing)
    if bug is not None:
        return Diagnosis(bug, f"your outputs equal torch's computation with this bug on all {len(failing)} failing "
                              "input(s)")
    signatures = []
    for case, got, expected, wrong in failing:
        if wrong.output not in got or wrong.note == "not a number":
            signatures.append(None)
            continue
        signatures.append(pattern(got[wrong.output], expected[wrong.output], case.m, case.zeros.get(wrong.output),
                                  case.integer_inputs))
    return combine(signatures)


def judge(spec: Spec, cases: list[Case], calls: list[Call] | str) -> FunctionResult:
    """Pass/fail of one function over its cases, with the first wrong number and a diagnosis."""
    result = FunctionResult(spec.name, spec.week, "pass", cases=len(cases))
    if isinstance(calls, str):
        kind = "timeout" if calls == TIMEOUT else "raised"
        return FunctionResult(spec.name, spec.week, "fail", len(cases), len(cases),
                              diagnosis=Diagnosis(kind, calls), detail=calls)
    failing, raised = [], []
    for case, call in zip(cases, calls, strict=True):
        result.warnings += [w for w in call.warnings if w not in result.warnings]
        if call.signature_error:
            text = f"the course calls {spec.signature}: {call.signature_error}"
            result.status, result.failed = "fail", len(cases)
            result.diagnosis = Diagnosis("wrong_signature", text.strip().splitlines()[-1])
            result.detail = f"on input '{case.label}':\n{text}"
            return result
        if call.error:
            raised.append((case, call.error))
            continue
        try:
            got = spec.read(call.value, case)
        except WrongReturn as error:
            result.status, result.failed = "fail", len(cases)
            result.diagnosis = Diagnosis("wrong_return", str(error))
            result.detail = f"on input '{case.label}': {error}"
            return result
        expected = spec.expected(case)
        wrong, worst = first_wrong(case, got, expected)
        result.worst_relative_error = max(result.worst_relative_error, worst)
        if wrong is not None:
            failing.append((case, got, expected, wrong))
    if raised:
        return _raised(spec, result, raised, failing)
    if failing:
        result.status, result.failed = "fail", len(failing)
        result.first_wrong = failing[0][3]
        result.diagnosis = diagnose(spec, failing)
    return result


def _raised(spec: Spec, result: FunctionResult, raised: list[tuple[Case, str]],
            failing: list[tuple[Case, dict, dict, Wrong]]) -> FunctionResult:
    """A function that raised on some inputs: the traceback of the first, and, when the inputs on which it did
    return are all explained by one bug hypothesis, that bug (e.g. a cache indexed off by one layer raises on
    nets of unequal widths and returns shifted gradients where every layer has the same width)."""
    case, text = raised[0]
    error = text.strip().splitlines()[-1]
    result.status, result.failed = "fail", len(raised) + len(failing)
    result.detail = f"on input '{case.label}':\n{text}"
    result.first_wrong = failing[0][3] if failing else None
    bug = explained_by(spec, failing) if failing else None
    result.diagnosis = Diagnosis("raised", error) if bug is None else Diagnosis(
        bug, f"raised on {len(raised)} input(s) ('{case.label}': {error}); on the {len(failing)} input(s) where it "
             "returned, your outputs equal torch's computation with this bug")
    return result
