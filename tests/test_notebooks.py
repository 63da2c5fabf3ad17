"""The concept notebooks (``python -m compare notebooks``, ``results/notebooks/`` of a report).

Generated into ``tmp_path`` and checked as files (every section, stages from the code, no absolute path), and
executed headless with nbclient in a kernel that imports this checkout: one fast notebook in the default suite
(about 15 s on a quiet machine), all of them under ``-m slow``.
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from compare.cli import main
from compare.core.registry import Excerpt, all_cases, load_case
from compare.report.notebooks import NOTEBOOK_DIR, featured_case, notebook_name, write_notebooks
from compare.report.site import source_code, write_site

nbformat = pytest.importorskip("nbformat")
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The notebook of the default suite: logistic regression imports no torchvision and trains in milliseconds.
FAST_CONCEPT = "logistic_regression"


def _by_concept() -> dict[str, list]:
    cases: dict[str, list] = defaultdict(list)
    for case in all_cases():
        cases[case.concept].append(case)
    return cases


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    out = tmp_path_factory.mktemp("notebooks")
    return out, write_notebooks(out, all_cases())


def _text(notebook) -> str:
    return "\n".join(cell.source for cell in notebook.cells)


def test_one_valid_unexecuted_notebook_per_concept(written: tuple[Path, dict[str, Path]]) -> None:
    out, paths = written
    assert set(paths) == set(_by_concept())
    assert sorted(p.name for p in (out / NOTEBOOK_DIR).iterdir()) == sorted(notebook_name(c) for c in paths)
    for path in paths.values():
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert len(code) == 2, path.name  # the parity cell and the plot cell
        assert all(not cell.outputs and cell.execution_count is None for cell in code), path.name


def test_an_unchanged_notebook_is_written_byte_for_byte_the_same(written: tuple[Path, dict[str, Path]],
                                                                 tmp_path: Path) -> None:
    _, paths = written
    again = write_notebooks(tmp_path, [case for case in all_cases() if case.concept == FAST_CONCEPT])
    assert again[FAST_CONCEPT].read_bytes() == paths[FAST_CONCEPT].read_bytes()


def test_no_generated_notebook_holds_a_path_of_the_building_machine(written: tuple[Path, dict[str, Path]]) -> None:
    out, paths = written
    machine_paths = {str(REPO_ROOT), str(out), str(Path.home()), sys.prefix, sys.executable}
    named = set()
    for path in paths.values():
        text = path.read_text()
        for machine_path in machine_paths:
            assert machine_path not in text, f"{path.name} holds {machine_path}"
        # every file named in a notebook is relative to the repository: scratch/x.py, compare/cases/x.py
        for quoted in re.findall(r"\(([^()\s]+\.py)\)", text):
            assert not Path(quoted).is_absolute(), f"{path.name} names {quoted}"
            assert (REPO_ROOT / quoted).is_file(), f"{path.name} names {quoted}, not a file of the checkout"
            named.add(quoted)
    assert {"scratch/logistic_regression.py", "torch_ref/training.py"} <= named


def test_each_notebook_pairs_the_featured_variants_code_stage_by_stage(written: tuple[Path, dict[str, Path]]
                                                                         ) -> None:
    _, paths = written
    for concept, cases in _by_concept().items():
        case = featured_case(cases)
        assert case.stages, f"{case.name} (featured in the {concept} notebook) declares no stages"
        text = _text(nbformat.read(paths[concept], as_version=4))
        assert f'load_case("{case.name}")' in text
        assert f"../study/{concept}.html" in text
        for equation in case.equations:
            assert equation in text
        for stage in case.stages:
            assert f"### {stage.name}\n" in text
            for obj in (*stage.scratch, *stage.torch):
                assert source_code(obj)[2].strip() in text, f"{concept} {stage.name}: {source_code(obj)[0]}"


def test_at_most_one_variant_per_concept_is_marked_for_its_notebook() -> None:
    for concept, cases in _by_concept().items():
        marked = [case.variant for case in cases if case.notebook]
        assert len(marked) <= 1, f"{concept}: {marked}"


def test_torch_stages_show_user_level_code_never_torchs_own_source() -> None:
    for case in all_cases():
        for stage in case.stages:
            for obj in stage.torch:
                source = obj.source if isinstance(obj, Excerpt) else obj
                module = getattr(source, "__module__", "") or ""
                assert not module.startswith("torch."), f"{case.name} {stage.name}: {module}"


def test_every_code_block_of_the_study_pages_is_the_projects_own_file() -> None:
    """Sources and stages of every case, as the study pages show them: a file of this repository (scratch/,
    torch_ref/, compare/), named relative to it, never torch's library source or a path of the machine."""
    shown: dict[int, tuple[str, object]] = {}  # each function or class once (an excerpt: its function)
    for case in all_cases():
        for obj in (*case.scratch_source, *case.torch_source,
                    *(obj for stage in case.stages for obj in (*stage.scratch, *stage.torch))):
            source = obj.source if isinstance(obj, Excerpt) else obj
            shown.setdefault(id(source), (case.name, source))
    assert len(shown) > 100
    for case_name, source in shown.values():
        name, where, _ = source_code(source)
        assert where.startswith(("scratch/", "torch_ref/", "compare/")), f"{case_name}: {name} in {where!r}"


def test_an_excerpt_of_a_line_that_is_not_in_the_code_is_an_error() -> None:
    from torch_ref.training import train_step

    assert source_code(Excerpt(train_step, ("loss.backward()",)))[2] == "loss.backward()\n"
    with pytest.raises(ValueError, match="loss.backwards"):
        source_code(Excerpt(train_step, ("loss.backwards()",)))


def test_load_case_imports_the_concept_and_rejects_bad_names() -> None:
    assert load_case("logistic_regression/vectorized").variant == "vectorized"
    with pytest.raises(ValueError, match="concept/variant"):
        load_case("logistic_regression")
    with pytest.raises(ValueError, match="unknown variant"):
        load_case("logistic_regression/vectorised")


def test_the_cli_writes_the_notebooks_of_the_named_concepts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["notebooks", "logistic_regression", "softmax", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / NOTEBOOK_DIR).iterdir()) == ["logistic_regression.ipynb",
                                                                           "softmax.ipynb"]
    assert "wrote 2 notebooks" in capsys.readouterr().out


def test_each_study_page_links_its_notebook(tmp_path: Path) -> None:
    cases = [case for case in all_cases() if case.concept in ("logistic_regression", "softmax")]
    notebooks = {concept: path.relative_to(tmp_path).as_posix()
                 for concept, path in write_notebooks(tmp_path, cases).items()}
    write_site(tmp_path, [], [], cases, notebooks=notebooks)
    for concept in ("logistic_regression", "softmax"):
        page = (tmp_path / "study" / f"{concept}.html").read_text()
        link = re.search(r'href="(\.\./notebooks/[^"]+)"', page)
        assert link, concept
        assert (tmp_path / "study" / link.group(1)).resolve() == (tmp_path / NOTEBOOK_DIR / f"{concept}.ipynb")


# --------------------------------------------------------------------------------------------- execution
def execute(path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``path`` top to bottom in a fresh kernel of this Python that imports this checkout; return it run."""
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, os.environ.get(variable, "1"))
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import sys, compare; print(sys.executable, compare.__file__)"))
    # The kernel spec's "python" is replaced by this interpreter (jupyter_client does so for the native kernel).
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return notebook


def _stream(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def check_executed(notebook, concept: str) -> None:
    """The parity cell printed a pass for both dtypes, with float64 at rounding level; the plot cell drew."""
    parity, plot, where = (cell for cell in notebook.cells if cell.cell_type == "code")
    printed = _stream(parity)
    assert re.search(r"float64, \d+ steps, tolerance 1e-10: pass", printed), printed
    assert re.search(r"float32, \d+ steps, tolerance [0-9.e-]+: pass", printed), printed
    float64 = printed.split("float32")[0]
    differences = [float(value) for value in re.findall(r"max relative difference \w+ +([0-9.e+-]+)", float64)]
    assert differences and max(differences) < 1e-12, printed
    assert any("image/png" in output.get("data", {}) for output in plot.outputs), f"{concept}: no figure drawn"
    executable, module = _stream(where).split()
    assert executable == sys.executable
    assert Path(module).resolve().is_relative_to(REPO_ROOT), f"the kernel imported {module}, not this checkout"


def test_the_fast_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_notebooks(tmp_path, [c for c in all_cases() if c.concept == FAST_CONCEPT])[FAST_CONCEPT]
    check_executed(execute(path, monkeypatch), FAST_CONCEPT)


@pytest.mark.slow
@pytest.mark.parametrize("concept", sorted(_by_concept()))
def test_every_notebook_runs_top_to_bottom(concept: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_notebooks(tmp_path, [c for c in all_cases() if c.concept == concept])[concept]
    check_executed(execute(path, monkeypatch), concept)
