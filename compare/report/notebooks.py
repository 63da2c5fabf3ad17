"""One Jupyter notebook per concept (``results/notebooks/<concept>.ipynb``), from the sources of the study pages.

A notebook holds, in reading order: the variants and a link to the concept's study page; the prose of the
concept's ``scratch`` and ``torch_ref`` modules (their docstrings); the equations (``Case.equations``, drawn by
Jupyter's MathJax); the notes on real differences; the code of both sides **paired by stage** (``Case.stages``:
forward, cost, backward, update, taken from the code itself); a parity cell that runs the featured variant on
both sides from the same data and initial weights through :func:`compare.core.runner.run_case` and prints the
measured max relative difference per category; and a plot cell of both loss curves and their relative
difference. The notebooks are written unexecuted (no outputs), hold no path of the machine that built them,
and import the project as installed (``make`` installs it into ``.venv``), so they run wherever the study runs.
"""

from __future__ import annotations

import importlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from compare.core.registry import Case
from compare.report.io import atomic_write_text
from compare.report.site import SITE_DIR, featured_case, page_name, source_code, unique_objects

NOTEBOOK_DIR = "notebooks"
#: Training steps of the parity cell: enough for a trajectory, few enough to run in seconds.
NOTEBOOK_STEPS = 20
KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def notebook_name(concept: str) -> str:
    return page_name(concept).removesuffix(".html") + ".ipynb"


def _code_block(obj: object) -> str:
    name, where, code = source_code(obj)
    heading = f"`{name}`" + (f" ({where})" if where else "")
    return f"{heading}\n\n```python\n{code.rstrip()}\n```"


def _side(title: str, objects: Iterable[object]) -> str:
    blocks = [_code_block(obj) for obj in objects]
    return f"**{title}**\n\n" + ("\n\n".join(blocks) if blocks else "_nothing to do on this side_")


def _module_prose(concept: str) -> list[str]:
    """The docstrings of ``scratch/<concept>.py`` and ``torch_ref/<concept>.py`` (the fixed layout of a concept)."""
    parts = []
    for package, title in (("scratch", "scratch (NumPy)"), ("torch_ref", "torch_ref (PyTorch)")):
        try:
            doc = importlib.import_module(f"{package}.{concept}").__doc__
        except ModuleNotFoundError:
            continue
        if doc and doc.strip():
            parts.append(f"### {title}: `{package}/{concept}.py`\n\n{_rst_to_markdown(doc.strip())}")
    return parts


def _rst_to_markdown(text: str) -> str:
    """Docstring reST read as markdown: ``code`` to `code`, roles dropped, and the docstring's line breaks kept
    (two trailing spaces), since its aligned lines (``Forward: ...``, ``Cost: ...``) are meant to be read so."""
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    text = re.sub(r":(?:func|class|mod|meth|attr):`~?([^`]+)`", r"`\1`", text)
    text = re.sub(r"::\n", ":\n", text)
    return "\n".join(f"{line}  " if line.strip() else line for line in text.splitlines())


def _stage_cells(case: Case) -> list:
    if case.stages:
        cells = [new_markdown_cell(
            "## The two implementations, stage by stage\n\n"
            f"The code of the variant `{case.variant}`, taken from the files themselves: for each stage of a "
            "training step, the scratch function(s) and the torch code that does the same.")]
        for stage in case.stages:
            cells.append(new_markdown_cell(f"### {stage.name}\n\n{_side('scratch (NumPy)', stage.scratch)}\n\n"
                                           f"{_side('torch (PyTorch)', stage.torch)}"))
        return cells
    if not (case.scratch_source or case.torch_source):
        return []
    return [new_markdown_cell("## The two implementations\n\n"
                              f"{_side('scratch (NumPy)', unique_objects(case.scratch_source))}\n\n"
                              f"{_side('torch (PyTorch)', unique_objects(case.torch_source))}")]


PARITY_CODE = '''\
from compare.core.registry import load_case
from compare.core.runner import run_case

case = load_case("{name}")
STEPS = {steps}
runs = {{}}
for dtype in ("float64", "float32"):
    run = run_case(case, seed=0, dtype=dtype, device="cpu", steps=STEPS)
    runs[dtype] = run
    verdict = "pass" if run.passed else "FAIL"
    print(f"{{case.name}} {{dtype}}, {{STEPS}} steps, tolerance {{run.parity.tolerance:.0e}}: {{verdict}}")
    for category, value in run.parity.max_rel.items():
        print(f"  max relative difference {{category:6s}} {{value:.2e}}")
    if not run.passed:
        print("  " + run.summary())'''

PLOT_CODE = '''\
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

run = runs["float64"]
scratch_loss, torch_loss = np.array(run.scratch.losses), np.array(run.torch.losses)
steps = np.arange(len(scratch_loss))
relative = np.abs(scratch_loss - torch_loss) / np.abs(torch_loss).max()  # the tables' max|torch| scale
floor = run.parity.tolerance * 1e-6  # where an exact zero is drawn
fig, (top, bottom) = plt.subplots(1, 2, figsize=(10, 3.6))
top.plot(steps, torch_loss, lw=3, alpha=0.5, label="torch")
top.plot(steps, scratch_loss, "k--", lw=1, label="scratch")
top.set(xlabel="step", ylabel="loss", title=f"{run.case.name} (float64)")
top.legend()
bottom.semilogy(steps, np.where(relative > 0, relative, np.nan), "o", ms=3, label="|scratch - torch| / max|torch|")
zeros = relative == 0
bottom.semilogy(steps[zeros], np.full(zeros.sum(), floor), "s", ms=3, color="tab:green", label="exactly 0")
bottom.axhline(run.parity.tolerance, color="tab:red", lw=1, label=f"tolerance {run.parity.tolerance:.0e}")
bottom.set(xlabel="step", ylabel="relative difference of the loss", title="loss: scratch vs torch")
bottom.legend(fontsize=8)
fig.tight_layout()
plt.show()'''


def concept_notebook(concept: str, cases: Sequence[Case], *, steps: int = NOTEBOOK_STEPS) -> nbformat.NotebookNode:
    """The notebook of ``concept`` from its registered ``cases`` (at least one)."""
    if not cases:
        raise ValueError(f"concept {concept!r} has no case to make a notebook of")
    case = featured_case(cases)
    title = concept.replace("_", " ")
    variants = "\n".join(f"- **{c.variant}**: {c.summary}" for c in cases)
    cells = [new_markdown_cell(
        f"# {title}: scratch (NumPy) vs torch (PyTorch)\n\n"
        f"Every concept of dlparity is built twice, from scratch in NumPy in the course's layout and in idiomatic "
        f"PyTorch, and both are trained from the same data and initial weights. This notebook shows the "
        f"math and the code of both sides, then runs the variant `{case.variant}` on both and measures how "
        f"far apart they are. The concept's [study page](../{SITE_DIR}/{page_name(concept)}) has the results "
        f"of the last full report and the studies.\n\nVariants:\n\n{variants}\n\n"
        f"Run it with the project's environment (`make` creates `.venv`; the kernel must import `compare`).")]
    cells += [new_markdown_cell(text) for text in _module_prose(concept)]
    equations = list(dict.fromkeys(eq for c in cases for eq in c.equations))
    if equations:
        cells.append(new_markdown_cell("## Equations\n\n" + "\n\n".join(f"$$\n{eq}\n$$" for eq in equations)))
    notes = list(dict.fromkeys(c.notes.strip() for c in cases if c.notes.strip()))
    if notes:
        cells.append(new_markdown_cell("## Course vs torch: real differences\n\n" + "\n\n".join(notes)))
    cells += _stage_cells(case)
    cells += [
        new_markdown_cell(
            "## Parity: both sides, same data, same initial weights\n\n"
            f"`run_case` draws the problem once (data and initial parameters from the seed), trains the torch "
            f"side and the scratch side in lock step for {min(steps, case.steps)} steps and compares losses, "
            "gradients, parameters and optimizer state at every snapshot. A difference is "
            "`max|scratch - torch| / max|torch|` over the trajectory: float64 agrees at rounding level, "
            "float32 within its documented tolerance."),
        new_code_cell(PARITY_CODE.format(name=case.name, steps=min(steps, case.steps))),
        new_markdown_cell("## The loss of both sides\n\nLeft: the two loss curves (they lie on each other). "
                          "Right: their relative difference at each step, exact zeros drawn as green squares, "
                          "and the float64 tolerance."),
        new_code_cell(PLOT_CODE),
    ]
    for index, cell in enumerate(cells):
        cell.id = f"cell-{index:02d}"  # nbformat draws random ids: an unchanged notebook must give identical bytes
    notebook = new_notebook(cells=cells, metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return notebook


def write_notebooks(out_dir: Path, cases: Sequence[Case], *, steps: int = NOTEBOOK_STEPS) -> dict[str, Path]:
    """Write ``out_dir/notebooks/<concept>.ipynb`` for every concept of ``cases``; return ``concept -> path``."""
    by_concept: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_concept[case.concept].append(case)
    paths = {}
    for concept, concept_cases in sorted(by_concept.items()):
        path = Path(out_dir) / NOTEBOOK_DIR / notebook_name(concept)
        atomic_write_text(path, nbformat.writes(concept_notebook(concept, concept_cases, steps=steps)) + "\n")
        paths[concept] = path
    return paths
