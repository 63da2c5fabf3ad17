"""The checker's verdict: text for a learner, JSON for a grader, exit status 0 (all pass) or 1."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from compare.check.training import TrainingResult
from compare.check.verdict import FunctionResult

JSON_VERSION = 1
#: Diagnoses that stop a function's check at the input where they happened.
STOPPED = ("raised", "wrong_signature", "wrong_return", "timeout")


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _index(index: tuple[int, ...] | None) -> str:
    return "" if not index else "[" + ", ".join(map(str, index)) + "]"


@dataclass
class Report:
    target: str
    week: str
    functions: list[FunctionResult]
    trainings: list[TrainingResult] = field(default_factory=list)
    #: Course names the file defines that belong to another week (the course's helpers, usually).
    not_checked: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.status == "pass" for r in self.functions) and all(t.status == "pass" for t in self.trainings)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def failing(self) -> list[FunctionResult]:
        return [r for r in self.functions if r.status != "pass"]

    def to_json(self) -> dict:
        def plain(value: object) -> object:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, (np.floating, np.integer)):
                value = value.item()
            if isinstance(value, float) and not np.isfinite(value):
                return str(value)  # JSON has no NaN or Infinity
            return value

        functions = []
        for result in self.functions:
            entry = asdict(result)
            entry["diagnosis"] = None if result.diagnosis is None else {
                "id": result.diagnosis.id, "title": result.diagnosis.title, "evidence": result.diagnosis.evidence,
                "advice": result.diagnosis.advice}
            functions.append(entry)
        return plain({"version": JSON_VERSION, "target": self.target, "week": self.week, "passed": self.passed,
                      "functions": functions, "trainings": [asdict(t) for t in self.trainings],
                      "not_checked": self.not_checked})

    def __str__(self) -> str:
        n_pass = sum(r.status == "pass" for r in self.functions)
        lines = [f"Checked {self.target} as {self.week.upper()} against PyTorch (float64): "
                 f"{len(self.functions)} function(s), {n_pass} passed, {len(self.functions) - n_pass} failed."]
        width = max((len(r.name) for r in self.functions), default=10)
        for result in self.functions:
            lines += self._function_lines(result, width)
        if self.trainings:
            lines.append("Whole training, from the same initial parameters:")
            for training in self.trainings:
                lines += [f"  {training.status.upper():4}  {training.name}: {training.summary}"]
                lines += [f"        {line}" for line in training.detail.splitlines()]
        if self.not_checked:
            lines.append("Not checked (the course's given helpers: names of other weeks, or a helper's parameters; "
                         f"--week chooses): {', '.join(self.not_checked)}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython shows the text, not the dataclass
        printer.text(str(self))

    @staticmethod
    def _function_lines(result: FunctionResult, width: int) -> list[str]:
        if result.status == "pass":
            return [f"  PASS  {result.name:<{width}}  {result.cases} inputs, worst relative error "
                    f"{result.worst_relative_error:.1e}"]
        stopped = result.diagnosis is not None and result.diagnosis.id in STOPPED
        headline = result.diagnosis.title if stopped else f"wrong on {result.failed} of {result.cases} inputs"
        lines = [f"  FAIL  {result.name:<{width}}  {headline}"]
        wrong = result.first_wrong
        if wrong is not None:
            where = f"{wrong.output}{_index(wrong.index)}"
            note = f" ({wrong.note})" if wrong.note else ""
            lines.append(f"        first wrong: {where} on input '{wrong.case}': got {_number(wrong.got)}, "
                         f"expected {_number(wrong.expected)}{note}")
        if result.diagnosis is not None:
            lines.append(f"        diagnosis: {result.diagnosis.title} -- {result.diagnosis.evidence}")
            lines.append(f"        hint: {result.diagnosis.advice}")
        elif wrong is not None:
            lines.append("        diagnosis: none of the known bug signatures fits these numbers")
        if result.detail and stopped and result.diagnosis.id != "timeout":
            lines += [f"        | {line}" for line in result.detail.rstrip().splitlines()[-12:]]
        return lines
