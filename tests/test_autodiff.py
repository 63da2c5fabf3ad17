"""The scratch autodiff engine against torch.autograd, central differences and published numbers."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import reference_vectors
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratch.autodiff as ad
import torch_ref.autodiff as tad
from compare.cases import autodiff as case
from compare.cases.logistic import breast_cancer_problem
from compare.core.registry import select
from compare.core.runner import run_case
from compare.data import expression_trees as et
from compare.report.studies import StudyContext
from compare.studies import autodiff_studies
from scratch.autodiff_graph import draw_graph, graph_figure, layout

ROUNDING = 1e-12  # float64 agreement required of values and gradients (the project's "rounding level")


def relative(a: object, b: object) -> float:
    return et.relative(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def central_difference(f, x: float, h: float = 1e-6) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


# -- the lecture examples ------------------------------------------------------------------------------------
# Published numbers: CS231n (2017) lecture 4 slides, printed with two decimals.
SLIDES = {
    "add_multiply": (ad.add_multiply, tad.add_multiply, case.ADD_MULTIPLY_POINT,
                     -12.0, {"x": -4.0, "y": -4.0, "z": 3.0}),
    "logistic_neuron": (ad.logistic_neuron, tad.logistic_neuron, case.LOGISTIC_NEURON_POINT,
                        0.73, {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}),
}


@pytest.mark.parametrize("name", sorted(SLIDES))
def test_lecture_example_matches_slides_torch_and_central_differences(name):
    scratch_out, torch_out, point, slide_value, slide_grads = SLIDES[name]
    out, grads = ad.value_and_grad(scratch_out, point)
    t_out, t_grads = tad.value_and_grad(torch_out, {n: torch.tensor(v, dtype=torch.float64) for n, v in point.items()})
    assert out.item() == pytest.approx(slide_value, abs=0.005)
    assert {n: round(float(g), 2) for n, g in grads.items()} == pytest.approx(slide_grads, abs=1e-12)
    assert relative(out.data, t_out.item()) <= ROUNDING
    assert relative([grads[n] for n in point], [t_grads[n].item() for n in point]) <= ROUNDING
    for n in point:
        def f(v, n=n):
            return scratch_out(**{k: ad.Value(v if k == n else x) for k, x in point.items()}).item()
        assert float(grads[n]) == pytest.approx(central_difference(f, point[n]), rel=1e-7, abs=1e-9)


def test_logistic_neuron_intermediate_gradients_follow_the_chain_rule():
    """Walking the slide's graph backwards: each node's gradient is its child's times the local derivative."""
    out, _ = ad.value_and_grad(ad.logistic_neuron, case.LOGISTIC_NEURON_POINT)
    plus_one = out._parents[0]
    exp_node = plus_one._parents[0]
    times_minus_one = exp_node._parents[0]
    dot = times_minus_one._parents[0]
    assert [out.op, plus_one.op, exp_node.op, times_minus_one.op] == ["1/x", "+1", "exp", "*-1"]
    assert float(plus_one.grad) == pytest.approx(-1 / float(plus_one.data) ** 2, rel=1e-15)  # d(1/x) = -1/x^2
    assert float(exp_node.grad) == float(plus_one.grad)  # d(c + x) = 1
    assert float(times_minus_one.grad) == pytest.approx(float(exp_node.grad) * math.exp(
        float(times_minus_one.data)), rel=1e-15)  # d(e^x) = e^x
    assert float(dot.grad) == -1 * float(times_minus_one.grad)  # d(ax) = a


# -- local derivative rules, and every operation, against torch and central differences ----------------------
LOCAL_RULES = {
    "d(1/x) = -1/x^2": (lambda x: 1 / x, lambda x: -1 / x**2),
    "d(c + x) = 1": (lambda x: 1.7 + x, lambda x: 1.0),
    "d(e^x) = e^x": (lambda x: x.exp(), math.exp),
    "d(ax) = a": (lambda x: -2.5 * x, lambda x: -2.5),
}
NONZERO = st.floats(0.2, 5.0) | st.floats(-5.0, -0.2)


@pytest.mark.parametrize("rule", sorted(LOCAL_RULES))
@settings(max_examples=25, deadline=None)
@given(x=NONZERO)
def test_local_derivative_rule_against_torch_and_central_differences(rule, x):
    expression, derivative = LOCAL_RULES[rule]
    leaf = ad.Value(x)
    expression(leaf).backward()
    tensor = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    expression(tensor).backward()
    assert relative(leaf.grad, tensor.grad.item()) <= ROUNDING
    assert float(leaf.grad) == pytest.approx(derivative(x), rel=1e-14)
    numeric = central_difference(lambda v: expression(ad.Value(v)).item(), x)
    assert float(leaf.grad) == pytest.approx(numeric, rel=1e-7, abs=1e-8)


UNARY = {
    "neg": lambda v: -v, "exp": lambda v: v.exp(), "log": lambda v: v.log(), "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(), "relu": lambda v: v.relu(), "square": lambda v: v**2,
    "cube": lambda v: v**3, "sqrt": lambda v: v**0.5, "inverse": lambda v: v**-1, "rsub": lambda v: 3 - v,
    "sub_const": lambda v: v - 3, "div_const": lambda v: v / 4, "rdiv": lambda v: 2 / v,
}
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}


@pytest.mark.parametrize("op", sorted(UNARY))
@settings(max_examples=20, deadline=None)
@given(x=st.floats(0.1, 4.0), sign=st.sampled_from([1.0, -1.0]))
def test_unary_operation_value_and_gradient_match_torch(op, x, sign):
    if op not in ("log", "sqrt"):
        x *= sign
    leaf, tensor = ad.Value(x), torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out, t_out = UNARY[op](leaf), UNARY[op](tensor)
    out.backward()
    t_out.backward()
    assert relative(out.data, t_out.item()) <= ROUNDING
    assert relative(leaf.grad, tensor.grad.item()) <= ROUNDING


@pytest.mark.parametrize("op", sorted(BINARY))
@settings(max_examples=20, deadline=None)
@given(a=NONZERO, b=NONZERO)
def test_binary_operation_value_and_gradients_match_torch(op, a, b):
    x, y = ad.Value(a), ad.Value(b)
    tx, ty = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (a, b))
    BINARY[op](x, y).backward()
    BINARY[op](tx, ty).backward()
    assert relative([x.grad, y.grad], [tx.grad.item(), ty.grad.item()]) <= ROUNDING


def test_relu_gradient_at_zero_is_zero_as_in_torch():
    x, t = ad.Value(0.0), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    x.relu().backward()
    t.relu().backward()
    assert float(x.grad) == t.grad.item() == 0.0


def test_sigmoid_and_exp_are_stable_for_large_arguments():
    z = ad.Value(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]))
    s = z.sigmoid()
    s.sum().backward()
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(z.grad))
    assert s.data[0] == 0.0 and s.data[-1] == 1.0
    assert ad.Value(-1e4).exp().item() == 0.0


# -- random expression graphs (hypothesis) --------------------------------------------------------------------
INSTRUCTION = st.builds(
    et.Instruction,
    op=st.sampled_from(et.OPS),
    left=st.sampled_from(et.LEFT_OFFSETS),
    right=st.integers(0, 6),
    constant=st.floats(et.CONSTANT_MIN, et.CONSTANT_MAX) | st.floats(-et.CONSTANT_MAX, -et.CONSTANT_MIN),
    exponent=st.sampled_from(et.EXPONENTS),
)
PROGRAM = st.builds(
    et.Program,
    leaves=st.lists(st.floats(-et.LEAF_RANGE, et.LEAF_RANGE), min_size=1, max_size=6).map(tuple),
    instructions=st.integers(1, 80).flatmap(lambda n: st.lists(INSTRUCTION, min_size=n, max_size=n)).map(tuple),
)
RANDOM_EXPRESSIONS = 300


def test_random_expression_graphs_match_torch(record_property):
    """Hundreds of random graphs: every node's value and gradient equal torch's to rounding level."""
    seen: list[et.Comparison] = []

    @settings(max_examples=RANDOM_EXPRESSIONS, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(program=PROGRAM)
    def check(program):
        comparison = et.compare_program(program)
        seen.append(comparison)
        assert comparison.value_rel <= ROUNDING, comparison
        assert comparison.grad_rel <= ROUNDING, comparison

    check()
    assert len(seen) >= RANDOM_EXPRESSIONS
    assert max(c.depth for c in seen) >= 40  # the generator does reach deep graphs
    worst = max(c.grad_rel for c in seen)
    record_property("random_expressions", len(seen))
    record_property("max_rel_grad_diff", worst)
    print(f"\n{len(seen)} random expressions, depth up to {max(c.depth for c in seen)}: "
          f"max rel value diff {max(c.value_rel for c in seen):.2e}, max rel grad diff {worst:.2e}, "
          f"leaves only {max(c.leaf_grad_rel for c in seen):.2e}, "
          f"node by node / path scale {max(c.scaled_grad_diff for c in seen):.2e}")


def test_shared_subexpression_gradient_accumulates():
    x = ad.Value(3.0)
    y = x * x + x  # x used three times
    a = y + y
    a.backward()
    assert float(x.grad) == 2 * (2 * 3.0 + 1)


# -- deep graphs ----------------------------------------------------------------------------------------------
def test_ten_thousand_node_chain_needs_no_recursion():
    x = ad.Value(0.5)
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y, ty = x, t
    for _ in range(5_000):
        y = (y * 0.9999).tanh()
        ty = (ty * 0.9999).tanh()
    assert len(y.topological_order()) == 10_001
    y.backward()
    ty.backward()
    assert relative(y.data, ty.item()) <= ROUNDING
    assert relative(x.grad, t.grad.item()) <= 1e-11  # 10,000 roundings in a product: ~1e4 ulp at worst
    assert float(x.grad) > 0


# -- zeroing rule ---------------------------------------------------------------------------------------------
def test_backward_twice_accumulates_leaves_and_resets_intermediates_like_torch():
    x, y = ad.Value(2.0), ad.Value(-3.0)
    hidden = x * y
    out = hidden.tanh() + x
    out.backward()
    once_x, once_hidden = float(x.grad), float(hidden.grad)
    out.backward()
    assert float(x.grad) == 2 * once_x
    assert float(hidden.grad) == once_hidden
    tx, ty = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (2.0, -3.0))
    t_out = (tx * ty).tanh() + tx
    t_out.backward(retain_graph=True)
    t_out.backward()
    assert relative([x.grad, y.grad], [tx.grad.item(), ty.grad.item()]) <= ROUNDING
    ad.zero_grad((x, y))
    out.backward()
    assert float(x.grad) == once_x


def test_changing_a_leaf_makes_the_graph_stale_until_rebuilt():
    x = ad.Value(2.0)
    out = (x * x).exp()
    x.data = 1.0
    with pytest.raises(RuntimeError, match="rebuild the expression"):
        out.backward()
    (x * x).exp().backward()
    assert float(x.grad) == pytest.approx(2 * 1.0 * math.exp(1.0), rel=1e-15)


# -- arrays ---------------------------------------------------------------------------------------------------
BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (3, 4)), ((), (2, 3)), ((2, 1, 3), (4, 1))]


@pytest.mark.parametrize(("shape_a", "shape_b"), BROADCAST_PAIRS)
@pytest.mark.parametrize("op", sorted(BINARY))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_broadcasting_gradients_are_reduced_to_each_input_shape(shape_a, shape_b, op, data):
    elements = st.floats(0.5, 3.0)
    a = data.draw(hnp.arrays(np.float64, shape_a, elements=elements))
    b = data.draw(hnp.arrays(np.float64, shape_b, elements=elements))
    weights = np.random.default_rng(0).standard_normal(np.broadcast_shapes(shape_a, shape_b))
    x, y = ad.Value(a), ad.Value(b)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (a, b))
    (BINARY[op](x, y) * weights).sum().backward()
    (BINARY[op](tx, ty) * torch.from_numpy(weights)).sum().backward()
    assert x.grad.shape == shape_a and y.grad.shape == shape_b
    assert relative(x.grad, tx.grad.numpy()) <= ROUNDING
    assert relative(y.grad, ty.grad.numpy()) <= ROUNDING


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize(("axis", "keepdims"), [(None, False), (0, False), (1, True), (1, False)])
def test_matmul_transpose_and_reductions_match_torch(reduce, axis, keepdims):
    rng = np.random.default_rng(1)
    a, b, c = rng.standard_normal((3, 5)), rng.standard_normal((4, 5)), rng.standard_normal((3, 1))
    values = [ad.Value(v) for v in (a, b, c)]
    tensors = [torch.tensor(v, requires_grad=True) for v in (a, b, c)]

    def expression(p, q, r, reduction):
        hidden = (p @ q.T + r).tanh()
        reduced = getattr(hidden, reduction)() if axis is None else getattr(hidden, reduction)(axis, keepdims)
        return (reduced * reduced).sum()

    expression(*values, reduce).backward()
    expression(*tensors, reduce).backward()
    for value, tensor in zip(values, tensors, strict=True):
        assert relative(value.grad, tensor.grad.numpy()) <= ROUNDING


def test_float32_stays_float32_with_python_constants():
    x = ad.Value(np.ones((2, 2), dtype=np.float32))
    out = (2 * x + 1.5).sigmoid().mean()
    out.backward()
    assert out.data.dtype == np.float32 and x.grad.dtype == np.float32


def test_numpy_array_on_the_left_is_a_constant():
    y = np.array([[1.0, 0.0]])
    z = ad.Value(np.array([[0.3, -0.2]]))
    out = (y * z + (1 - y)).sum()
    out.backward()
    np.testing.assert_array_equal(z.grad, y)


# -- errors -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("build", "message"), [
    (lambda: ad.Value(0.0).log(), "log: argument must be > 0"),
    (lambda: ad.Value(1.0) / ad.Value(0.0), "division: divisor must be nonzero"),
    (lambda: 1 / ad.Value(np.array([1.0, 0.0])), "division: divisor must be nonzero"),
    (lambda: ad.Value(800.0).exp(), "exp: argument 800.0 overflows"),
    (lambda: ad.Value(-2.0) ** 0.5, "power: base must be >= 0"),
    (lambda: ad.Value(0.0) ** -1, "power: base"),
    (lambda: ad.Value(np.ones((2, 3))) @ np.ones(3), "matmul: both operands must be 2-D"),
    (lambda: ad.Value(np.ones(3)).backward(), "grad must be given for a non-scalar output"),
    (lambda: ad.Value(1.0).backward(np.ones(2)), "grad must have the output's shape"),
])
def test_bad_input_raises_value_error_naming_the_problem(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_value_exponent_and_constant_backward_raise():
    with pytest.raises(TypeError, match="constant scalar exponent"):
        ad.Value(2.0) ** ad.Value(2.0)
    with pytest.raises(TypeError, match="Value as exponent"):
        2 ** ad.Value(2.0)
    with pytest.raises(RuntimeError, match="depends on no leaf"):
        (ad.Value(1.0, requires_grad=False) * 2).backward()


# -- published micrograd vectors --------------------------------------------------------------------------------
def _micrograd_cases() -> dict[str, dict]:
    return {c["id"]: c for c in reference_vectors.cases("micrograd.json")}


def test_micrograd_sanity_check():
    expected = _micrograd_cases()["micrograd.test_sanity_check"]["expected"]
    x = ad.Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.item() == pytest.approx(expected["y"], rel=1e-9, abs=1e-6)
    assert float(x.grad) == pytest.approx(expected["dy_dx"], rel=1e-9, abs=1e-6)


def test_micrograd_more_ops():
    expected = _micrograd_cases()["micrograd.test_more_ops"]["expected"]

    def graph(a, b):
        c = a + b
        d = a * b + b**3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e**2
        g = f / 2.0
        return g + 10.0 / f

    a, b = ad.Value(-4.0), ad.Value(2.0)
    g = graph(a, b)
    g.backward()
    assert [g.item(), float(a.grad), float(b.grad)] == pytest.approx(
        [expected["g"], expected["dg_da"], expected["dg_db"]], abs=5.1e-5)
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (-4.0, 2.0))
    tg = graph(ta, tb)
    tg.backward()
    assert relative([g.item(), a.grad, b.grad], [tg.item(), ta.grad.item(), tb.grad.item()]) <= ROUNDING


# -- the registered cases: engine-trained logistic regression and the lecture graphs -----------------------------
@pytest.mark.parametrize(("dtype", "seed"), [("float64", 0), ("float32", 1)])
def test_engine_logistic_regression_matches_torch_along_the_trajectory(dtype, seed):
    run = run_case(select(["autodiff/logistic_regression"])[0], seed=seed, dtype=dtype)
    assert run.parity.passed, run.parity.summary()
    assert run.steps == 200 and len(run.scratch.losses) == 200


@pytest.mark.parametrize(("dtype", "seed"), [("float64", 0), ("float64", 3), ("float32", 2)])
def test_engine_logistic_regression_matches_vectorized_scratch(dtype, seed):
    result = autodiff_studies.engine_vs_vectorized(seed, np.dtype(dtype), steps=200)
    assert result.passed, result.summary()
    if dtype == "float64":
        assert result.max_rel_overall <= ROUNDING


def test_engine_logistic_regression_gradient_check():
    problem = breast_cancer_problem(0, np.dtype(np.float64))
    assert case.check_engine_gradients(problem) < 1e-7


@pytest.mark.parametrize("variant", ["add_multiply", "logistic_neuron"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lecture_cases_pass_in_the_harness(variant, dtype):
    the_case = select([f"autodiff/{variant}"])[0]
    run = run_case(the_case, seed=1, dtype=dtype)
    assert run.parity.passed, run.parity.summary()
    assert the_case.gradient_check(the_case.make_problem(0, np.dtype(np.float64))) < 1e-8


# -- pictures ---------------------------------------------------------------------------------------------------
def test_layout_puts_inputs_left_and_output_right():
    out, _ = ad.value_and_grad(ad.logistic_neuron, case.LOGISTIC_NEURON_POINT)
    graph = layout(out)
    columns = {id(n): graph.position[id(n)][0] for n in graph.nodes}
    assert all(columns[id(n)] == 0 for n in graph.nodes if n.is_leaf)
    assert columns[id(out)] == max(columns.values()) == 7  # *, +, +, *-1, exp, +1, 1/x after the inputs
    assert all(columns[id(p)] < columns[id(c)] for p, c in graph.edges)
    assert len({graph.position[id(n)] for n in graph.nodes}) == len(graph.nodes)  # no two nodes overlap


def test_graph_study_writes_both_pictures(tmp_path):
    output = autodiff_studies.draw_lecture_graphs(StudyContext(tmp_path, quick=True))
    assert output.images == ("plots/graph_add_multiply.png", "plots/graph_logistic_neuron.png")
    for image in output.images:
        data = (tmp_path / image).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000
        assert image in output.markdown


def test_graph_labels_value_and_gradient_in_words_not_only_by_colour():
    """The logistic neuron at the slides' point: w0's value 2 and its gradient -0.20 are written out as such."""
    out, _ = ad.value_and_grad(ad.logistic_neuron, case.LOGISTIC_NEURON_POINT)
    fig = graph_figure(out, title="neuron")
    try:
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert "value = 2.00" in texts and "grad = -0.20" in texts  # w0 (a lecture number: dw0 = -0.20)
        assert "value = 0.73" in texts and "grad = 1.00" in texts  # the output
        nodes = len(out.topological_order())
        assert sum(t.startswith("value = ") for t in texts) == nodes == sum(t.startswith("grad = ") for t in texts)
        assert "grad = d(output)/d(node)" in fig.axes[0].get_title()
    finally:
        plt.close(fig)


def test_draw_graph_writes_svg(tmp_path):
    out, _ = ad.value_and_grad(ad.add_multiply, case.ADD_MULTIPLY_POINT)
    path = draw_graph(out, tmp_path / "g.svg")
    assert "<svg" in path.read_text()


def test_gradient_scales_bound_the_gradient_and_see_through_cancellation():
    x = ad.Value(2.0)
    out = x / x + x * 3
    scales = et.gradient_scales(out, [x])
    out = x / x + x * 3  # gradient_scales overwrote the grads: rebuild and differentiate normally
    ad.zero_grad([x])
    out.backward()
    assert float(x.grad) == pytest.approx(3.0, rel=1e-15)  # d(x/x) = 1/x - (x/x)/x cancels to 0
    assert scales[0] == pytest.approx(1 / 2 + 1 / 2 + 3, rel=1e-15)  # |1/x| + |-(x/x)/x| + 3
