"""The worked example of docs/architecture.md ("Adding a concept") runs, and its case passes."""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path

import pytest

import compare.core.registry as registry
from compare.core.registry import Case
from compare.core.runner import run_case

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def example_blocks() -> dict[str, str]:
    """``{"scratch/linear_regression.py": source, ...}``: the page's python blocks, keyed by their first comment."""
    blocks = re.findall(r"```python\n# (\S+\.py):[^\n]*\n(.*?)```", DOC.read_text(), flags=re.S)
    return dict(blocks)


def load(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"{DOC}:{name}", "exec"), module.__dict__)
    return module


@pytest.fixture
def example_case(monkeypatch: pytest.MonkeyPatch) -> Case:
    blocks = example_blocks()
    assert set(blocks) == {"scratch/linear_regression.py", "torch_ref/linear_regression.py",
                           "compare/cases/linear_regression.py"}
    for path in ("scratch/linear_regression.py", "torch_ref/linear_regression.py"):
        name = path.removesuffix(".py").replace("/", ".")
        module = load(name, blocks[path])
        monkeypatch.setitem(sys.modules, name, module)
        package, _, attribute = name.partition(".")
        monkeypatch.setattr(importlib.import_module(package), attribute, module, raising=False)
    registered: list[Case] = []
    monkeypatch.setattr(registry, "register", registered.append)  # the example's register(), kept out of the suite
    load("compare.cases.linear_regression", blocks["compare/cases/linear_regression.py"])
    (case,) = registered
    return case


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_documented_new_concept_passes(example_case: Case, dtype: str) -> None:
    assert example_case.name == "linear_regression/blobs"
    run = run_case(example_case, seed=1, dtype=dtype, steps=50, gradient_check=True)
    assert run.passed, run.summary()
    assert run.record()["steps_compared"] == 50
    if dtype == "float64":
        assert run.parity.max_rel_overall < 1e-12
    assert run.scratch.losses[-1] < run.scratch.losses[0]  # it trains
