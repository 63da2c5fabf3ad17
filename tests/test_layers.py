"""The import rules that make ``ls compare/`` read as the pipeline (docs/architecture.md).

Read from the source (AST), so an import inside a function counts as much as one at the top:

- ``scratch/`` imports neither torch nor ``torch_ref`` nor ``compare``; ``torch_ref/`` imports neither ``scratch``
  nor ``compare``.
- ``compare``'s packages form layers, each importing only from the layers below it:
  core < data < perf < report < cases < studies < check < cli. The core knows no concept: of ``scratch`` and
  ``torch_ref`` it may import only the generic modules in :data:`GENERIC_SIDE_MODULES`.
- A case module imports no other case module, except the shared ones that ``compare.cases.SHARED`` declares.
- No import cycle between the project's modules, and no module uses another module's ``_private`` name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import compare.cases

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scratch", "torch_ref", "compare")
LAYERS = ("core", "data", "perf", "report", "cases", "studies", "check", "cli")
#: Side modules that are not a concept: validation helpers, the gradient check, the standard torch step.
GENERIC_SIDE_MODULES = frozenset({"scratch.validation", "scratch.gradient_check", "torch_ref.training"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = project_modules()


def imported_names(tree: ast.Module, module: str) -> list[tuple[str, str | None]]:
    """``(module, name)`` pairs: ``import a.b`` gives ``("a.b", None)``, ``from a import b`` ``("a", "b")``."""
    found: list[tuple[str, str | None]] = []
    package = module if MODULES.get(module, Path()).name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found += [(base, alias.name) for alias in node.names]
    return found


def project_imports(module: str) -> set[str]:
    """The project modules ``module`` imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    tree = ast.parse(MODULES[module].read_text())
    targets = set()
    for base, name in imported_names(tree, module):
        if name is not None and f"{base}.{name}" in MODULES:
            targets.add(f"{base}.{name}")
        elif base in MODULES:
            targets.add(base)
    targets.discard(module)
    return targets


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "compare" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def test_the_walk_finds_every_layer_and_side() -> None:
    layers = {layer_of(m) for m in MODULES}
    assert set(LAYERS) <= layers
    assert any(m.startswith("scratch.") for m in MODULES) and any(m.startswith("torch_ref.") for m in MODULES)


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("scratch")])
def test_scratch_imports_neither_torch_nor_the_harness(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text())
    roots = {base.split(".")[0] for base, _ in imported_names(tree, module)}
    assert not roots & {"torch", "torchvision", "torch_ref", "compare"}, f"{module} imports {roots}"


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("torch_ref")])
def test_torch_ref_imports_neither_scratch_nor_the_harness(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text())
    roots = {base.split(".")[0] for base, _ in imported_names(tree, module)}
    assert not roots & {"scratch", "compare"}, f"{module} imports {roots}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(m)])
def test_each_layer_imports_only_the_layers_below(module: str) -> None:
    rank = LAYERS.index(layer_of(module))
    above = [target for target in project_imports(module)
             if layer_of(target) and LAYERS.index(layer_of(target)) > rank]
    assert not above, f"{module} (layer {layer_of(module)}) imports higher layers: {above}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(m) == "core"])
def test_the_core_imports_no_concept(module: str) -> None:
    sides = {t for t in project_imports(module) if t.split(".")[0] in ("scratch", "torch_ref")}
    assert sides <= GENERIC_SIDE_MODULES, f"{module} imports concept modules {sorted(sides - GENERIC_SIDE_MODULES)}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer_of(m) == "cases"])
def test_a_case_imports_no_other_case_but_the_declared_shared_ones(module: str) -> None:
    shared = {f"compare.cases.{name}" for name in compare.cases.SHARED}
    others = {t for t in project_imports(module) if layer_of(t) == "cases" and t != "compare.cases"} - shared
    assert not others, f"{module} imports case modules {sorted(others)}; share code through {sorted(shared)}"


def test_no_import_cycle() -> None:
    graph = {module: project_imports(module) for module in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def private_uses(module: str) -> list[str]:
    """``from x import _y`` and ``alias._y`` where ``alias`` names another project module."""
    tree = ast.parse(MODULES[module].read_text())
    uses = [f"from {base} import {name}" for base, name in imported_names(tree, module)
            if name and name.startswith("_") and not name.startswith("__") and base.split(".")[0] in PACKAGES]
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update({(a.asname or a.name.split(".")[0]): a.name for a in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module:
            aliases.update({(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names
                            if f"{node.module}.{a.name}" in MODULES})
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and aliases[node.value.id].split(".")[0] in PACKAGES):
            uses.append(f"{node.value.id}.{node.attr}")
    return uses


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_uses_another_modules_private_names(module: str) -> None:
    assert not private_uses(module), f"{module} uses private names: {private_uses(module)}"
