"""Random expression graphs, built at once with the scratch engine and with torch.autograd, and compared.

A :class:`Program` is a list of leaf values and a list of :class:`Instruction`; each instruction applies one
operation to earlier nodes, picked by how far back they are (``0`` = the newest node), so small offsets
make long chains (deep graphs) and repeated offsets make shared subexpressions (a node feeding several
others, whose gradient must accumulate). The program's output is its last node.

Programs are kept inside every operation's domain and away from its kinks, so that both sides compute
the same function with the same derivative: an instruction whose operation would leave the safe region at
the engine's current values (log of a value < 0.01, division by |x| < 0.1, exp of x > 5, relu within
1e-3 of 0, tanh or sigmoid of |x| > 6 where they saturate, a result beyond 1e4 in magnitude, ...) is
replaced by the negation of its first operand, which is always safe. The same
decision is applied to both sides, which is why they are built in lock step.

Hypothesis draws programs in ``tests/test_autodiff.py``; :func:`random_program` draws them from a NumPy
generator for the report's study.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from unittest.mock import patch

import numpy as np
import torch

from scratch.autodiff import Value, zero_grad

BINARY_OPS = ("add", "sub", "mul", "div")
CONSTANT_OPS = ("add_const", "sub_const", "rsub_const", "mul_const", "div_const", "rdiv_const", "pow")
UNARY_OPS = ("neg", "exp", "log", "tanh", "sigmoid", "relu")
OPS = BINARY_OPS + CONSTANT_OPS + UNARY_OPS
EXPONENTS = (2, 3, -1, -2, 0.5, 1.5)
LEAF_RANGE = 3.0
CONSTANT_MIN, CONSTANT_MAX = 0.25, 3.0  # magnitudes of constants: never 0, so x / c is always defined
MAX_MAGNITUDE = 1e4
SATURATION = 6.0  # tanh and sigmoid only where their derivative is >= 2e-5, so gradients keep flowing


@dataclass(frozen=True)
class Instruction:
    """``op`` applied to the nodes ``left`` and ``right`` steps back from the newest one."""

    op: str
    left: int
    right: int
    constant: float = 1.0
    exponent: float = 2


@dataclass(frozen=True)
class Program:
    leaves: tuple[float, ...]
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Comparison:
    """Engine vs torch on one program, relative differences normalised by the whole graph (see docs).

    ``value_rel``/``grad_rel``: ``max_k |ours_k - torch_k| / max_k |torch_k|`` over every node ``k`` of the
    graph (forward values, gradients). ``leaf_grad_rel``: the same over the leaves' gradients only, which
    is large when a leaf's true gradient cancels to ~0 (e.g. through ``x / x``) while each side keeps a
    different rounding residue. ``leaf_scale``: ``max|leaf gradient| / max|node gradient|`` (torch's),
    which says whether the leaves' gradients are of the graph's size or cancelled to almost nothing.
    ``scaled_grad_diff``: ``max_k |ours_k - torch_k| / S_k`` with ``S_k`` from :func:`gradient_scales`,
    node by node, however small a node's gradient has become.
    """

    value_rel: float
    grad_rel: float
    leaf_grad_rel: float
    leaf_scale: float
    scaled_grad_diff: float
    depth: int
    nodes: int


_APPLY: dict[str, Callable[[object, object, Instruction], object]] = {
    "add": lambda a, b, i: a + b,
    "sub": lambda a, b, i: a - b,
    "mul": lambda a, b, i: a * b,
    "div": lambda a, b, i: a / b,
    "add_const": lambda a, b, i: a + i.constant,
    "sub_const": lambda a, b, i: a - i.constant,
    "rsub_const": lambda a, b, i: i.constant - a,
    "mul_const": lambda a, b, i: i.constant * a,
    "div_const": lambda a, b, i: a / i.constant,
    "rdiv_const": lambda a, b, i: i.constant / a,
    "pow": lambda a, b, i: a ** i.exponent,
    "neg": lambda a, b, i: -a,
    "exp": lambda a, b, i: a.exp(),
    "log": lambda a, b, i: a.log(),
    "tanh": lambda a, b, i: a.tanh(),
    "sigmoid": lambda a, b, i: a.sigmoid(),
    "relu": lambda a, b, i: a.relu(),
}


def _exact_result(op: str, a: float, b: float, instruction: Instruction) -> float:
    with np.errstate(all="ignore"):
        return float(_APPLY[op](np.float64(a), np.float64(b), instruction)) if op in _ARITHMETIC else 0.0


_ARITHMETIC = {"add", "sub", "mul", "div", "add_const", "sub_const", "rsub_const", "mul_const", "div_const",
               "rdiv_const", "pow", "neg"}


def _is_safe(instruction: Instruction, a: float, b: float) -> bool:
    """Whether ``instruction`` at operand values ``a``, ``b`` stays in the domain, off kinks, bounded."""
    op, p = instruction.op, instruction.exponent
    domain_ok = {
        "div": abs(b) >= 0.1,
        "rdiv_const": abs(a) >= 0.1,
        "log": a >= 0.01,
        "exp": a <= 5.0,
        "relu": abs(a) >= 1e-3,
        "tanh": abs(a) <= SATURATION,
        "sigmoid": abs(a) <= SATURATION,
        "pow": (a >= 0.01 if p != int(p) else True) and (abs(a) >= 0.1 if p < 0 else True),
    }.get(op, True)
    if not domain_ok:
        return False
    return abs(_exact_result(op, a, b, instruction)) <= MAX_MAGNITUDE


def _pick(nodes: list, offset: int) -> int:
    return max(0, len(nodes) - 1 - offset)


@dataclass
class Built:
    """Both graphs of one program: outputs, leaves, and the engine graph's depth and size."""

    engine: list[Value]
    tensors: list[torch.Tensor]
    n_leaves: int
    depth: int


def build(program: Program) -> Built:
    """Run ``program`` with engine Values and float64 torch tensors side by side."""
    engine = [Value(v, label=f"x{k}") for k, v in enumerate(program.leaves)]
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in program.leaves]
    depth = [0] * len(engine)
    for instruction in program.instructions:
        i, j = _pick(engine, instruction.left), _pick(engine, instruction.right)
        a, b = engine[i].item(), engine[j].item()
        op = instruction.op if _is_safe(instruction, a, b) else "neg"
        engine.append(_APPLY[op](engine[i], engine[j], instruction))
        tensors.append(_APPLY[op](tensors[i], tensors[j], instruction))
        tensors[-1].retain_grad()  # torch keeps only leaves' .grad unless asked
        uses_right = op in BINARY_OPS
        depth.append(1 + max(depth[i], depth[j] if uses_right else 0))
    return Built(engine, tensors, len(program.leaves), depth[-1])


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max|b|`` (``max|a - b|`` when ``b`` is all zero), as in compare/core/parity.py."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    difference, scale = float(np.max(np.abs(a - b))), float(np.max(np.abs(b)))
    return difference / scale if scale > 0 else difference


def gradient_scales(out: Value, nodes: list[Value]) -> np.ndarray:
    """``S_k`` = the sum over all paths from node ``k`` to ``out`` of the product of |local derivatives|.

    The gradient is the same sum without the absolute values, so ``S_k`` is the scale of the rounding
    error of ``dout/dnode_k`` (about depth x unit roundoff x ``S_k``), and ``S_k`` >= |gradient|; the two
    differ where contributions cancel. Computed by running the engine's own backward rules with every
    contribution replaced by its absolute value (scalar graphs). Overwrites the nodes' ``.grad``.
    """

    def add_absolute(node: Value, contribution: np.ndarray) -> None:
        if node.requires_grad:
            node.grad = node.grad + np.abs(contribution)

    zero_grad(nodes)
    with patch.object(Value, "_accumulate", staticmethod(add_absolute)):
        out.backward()
    return np.array([float(node.grad) for node in nodes])


def compare_program(program: Program) -> Comparison:
    """Build, backpropagate on both sides, and compare every node's value and gradient."""
    built = build(program)
    built.engine[-1].backward()
    built.tensors[-1].backward()
    values_e = np.array([node.item() for node in built.engine])
    values_t = np.array([t.item() for t in built.tensors])
    grads_e = np.array([node.grad for node in built.engine])
    grads_t = np.array([0.0 if t.grad is None else t.grad.item() for t in built.tensors])
    leaves = slice(0, built.n_leaves)
    scale = np.max(np.abs(grads_t))
    leaf_scale = float(np.max(np.abs(grads_t[leaves])) / scale) if scale > 0 else 0.0
    paths = gradient_scales(built.engine[-1], built.engine)
    difference = np.abs(grads_e - grads_t)
    if np.any(difference[paths == 0] != 0):  # no path to the output: both sides must give exactly 0
        raise AssertionError("a node with no path to the output has a nonzero gradient")
    scaled = float(np.max(difference[paths > 0] / paths[paths > 0]))
    return Comparison(relative(values_e, values_t), relative(grads_e, grads_t),
                      relative(grads_e[leaves], grads_t[leaves]), leaf_scale, scaled, built.depth,
                      len(built.engine))


LEFT_OFFSETS = (0, 0, 0, 0, 0, 0, 1, 2, 3)  # mostly the newest node: deep chains


def random_program(rng: np.random.Generator, *, max_instructions: int = 80, max_leaves: int = 6) -> Program:
    """A program drawn like the hypothesis strategy of the tests, from a NumPy generator."""
    leaves = tuple(float(v) for v in rng.uniform(-LEAF_RANGE, LEAF_RANGE, rng.integers(1, max_leaves + 1)))
    instructions = tuple(
        Instruction(op=str(rng.choice(OPS)), left=int(rng.choice(LEFT_OFFSETS)), right=int(rng.integers(0, 7)),
                    constant=float(rng.choice([-1, 1]) * rng.uniform(CONSTANT_MIN, CONSTANT_MAX)),
                    exponent=float(rng.choice(EXPONENTS)))
        for _ in range(int(rng.integers(1, max_instructions + 1)))
    )
    return Program(leaves, instructions)
