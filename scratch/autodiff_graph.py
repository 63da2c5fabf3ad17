"""Pictures of a computation graph built with :mod:`scratch.autodiff`, as on the lecture slides.

Inputs on the left, the output on the right; each node shows its operation, its forward value
(``value = ...``, above, green) and the gradient of the output with respect to it (``grad = ...``, below, red)
after ``backward()``: named in words, so the colours are a help, not the only key. Drawn with matplotlib only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scratch.autodiff import Value  # noqa: E402


@dataclass(frozen=True)
class Layout:
    """Node positions: ``column`` is the longest path from an input, ``row`` a vertical coordinate."""

    nodes: list[Value]
    position: dict[int, tuple[float, float]]  # id(node) -> (column, row)
    edges: list[tuple[Value, Value]]  # (parent, child)


def layout(root: Value) -> Layout:
    """Columns by longest path from the inputs; rows: inputs in order, others at their parents' mean row."""
    nodes = root.topological_order()
    column: dict[int, int] = {}
    for node in nodes:
        column[id(node)] = 1 + max((column[id(p)] for p in node._parents), default=-1)
    row: dict[int, float] = {}
    leaves = [n for n in nodes if n.is_leaf]
    for index, leaf in enumerate(leaves):
        row[id(leaf)] = -float(index)
    for depth in range(1, max(column.values()) + 1):
        in_column = [n for n in nodes if column[id(n)] == depth]
        wanted = sorted((float(np.mean([row[id(p)] for p in n._parents])), k) for k, n in enumerate(in_column))
        previous = np.inf
        for target, k in sorted(wanted, reverse=True):  # top to bottom, at least one row apart
            row[id(in_column[k])] = previous = min(target, previous - 1.0)
    edges = [(parent, node) for node in nodes for parent in node._parents]
    return Layout(nodes, {id(n): (float(column[id(n)]), row[id(n)]) for n in nodes}, edges)


def _number(value: np.ndarray) -> str:
    array = np.asarray(value)
    return f"{array.item():.2f}" if array.size == 1 else f"shape {array.shape}"


def graph_figure(root: Value, *, title: str = "") -> plt.Figure:
    """The figure of ``root``'s graph (after ``root.backward()``): operations, values and gradients in text."""
    graph = layout(root)
    columns = max(x for x, _ in graph.position.values()) + 1
    rows = max(1.0, -min(y for _, y in graph.position.values()) + 1)
    fig, ax = plt.subplots(figsize=(1.9 * columns + 1, 1.25 * rows + 1.2))
    for parent, child in graph.edges:
        ax.annotate("", xy=graph.position[id(child)], xytext=graph.position[id(parent)],
                    arrowprops={"arrowstyle": "-|>", "color": "0.5", "shrinkA": 16, "shrinkB": 16})
    for node in graph.nodes:
        x, y = graph.position[id(node)]
        text = node.label if node.is_leaf else (node.op or "?")
        box = "round,pad=0.35" if node.is_leaf else "circle,pad=0.3"
        ax.text(x, y, text, ha="center", va="center", fontsize=10, zorder=3,
                bbox={"boxstyle": box, "facecolor": "#fff5d6" if node.is_leaf else "white", "edgecolor": "0.3"})
        ax.text(x, y + 0.3, f"value = {_number(node.data)}", ha="center", va="bottom", color="tab:green",
                fontsize=8)
        if node.grad is not None:
            ax.text(x, y - 0.3, f"grad = {_number(node.grad)}", ha="center", va="top", color="tab:red", fontsize=8)
    ax.set_xlim(-0.6, columns - 0.4)
    ax.set_ylim(-rows + 0.4, 0.8)
    ax.axis("off")
    ax.set_title((title + "\n" if title else "") + "value = the node's forward value; grad = d(output)/d(node), "
                 "from backward()", fontsize=10)
    fig.tight_layout()
    return fig


def draw_graph(root: Value, path: Path, *, title: str = "") -> Path:
    """Draw ``root``'s graph (after ``root.backward()``) into ``path`` (PNG or SVG by its suffix)."""
    fig = graph_figure(root, title=title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
