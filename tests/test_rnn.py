"""scratch.rnn against nn.RNN / nn.LSTM / nn.GRU: forward, BPTT gradients, final states, truncated BPTT, sampling.

Float64 agreement is asked at 1e-12 relative (measured: <= 1e-15 for every cell, stacked, both batch layouts,
T = 20): the same arithmetic in a different order, no training loop amplifying it. Float32 at 1e-4: torch's
float32 CPU path may call oneDNN's fused kernels, which sum in another order; measured <= 6e-7.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.optim as so
from compare.cases import rnn as rnn_cases
from compare.core.parity import relative_difference
from compare.core.registry import select
from compare.core.runner import run_case, run_trajectories
from compare.data.datasets import adding_problem, char_sequences, zen_of_python
from scratch import rnn as sr
from scratch.gradient_check import gradient_check_n
from torch_ref import rnn as tr

TOLERANCE = {"float64": 1e-12, "float32": 1e-4}
CELLS = sorted(sr.CELLS)


def _torch_model(net: sr.RecurrentNet, params: dict, *, batch_first: bool) -> tr.RecurrentModel:
    dtype = torch.float64 if params["Wy"].dtype == np.float64 else torch.float32
    model = tr.RecurrentModel(cell=net.cell, n_x=net.n_x, n_h=net.n_h, n_y=net.n_y, num_layers=net.num_layers,
                              head=net.head, vocab_size=net.vocab_size, batch_first=batch_first, dtype=dtype)
    with torch.no_grad():
        for name, value in params.items():
            parameter = model.get_parameter(tr.torch_name(name))
            parameter.copy_(torch.from_numpy(value.reshape(parameter.shape)))
    return model


def _sequence(array: np.ndarray, *, batch_first: bool, values: bool) -> torch.Tensor:
    """Scratch's ``(n, m, T)`` values or ``(m, T)`` indices in torch's batch-first or time-first layout."""
    if values:
        return torch.from_numpy(np.ascontiguousarray(array.transpose(1, 2, 0) if batch_first
                                                     else array.transpose(2, 1, 0)))
    return torch.from_numpy(np.ascontiguousarray(array if batch_first else array.T))


def _torch_targets(net: sr.RecurrentNet, targets: np.ndarray, *, batch_first: bool) -> torch.Tensor:
    if net.loss == "mse":
        return torch.from_numpy(np.ascontiguousarray(targets.T)) if targets.ndim == 2 else \
            _sequence(targets, batch_first=batch_first, values=True)
    return torch.from_numpy(targets) if targets.ndim == 1 else _sequence(targets, batch_first=batch_first,
                                                                         values=False)


def _torch_state(states: list[tuple[np.ndarray, ...]]):
    """Per-layer ``(n_h, m)`` arrays as torch's ``(num_layers, m, n_h)`` (a pair for LSTM)."""
    stacked = [torch.from_numpy(np.stack([state[k].T for state in states])) for k in range(len(states[0]))]
    return tuple(stacked) if len(stacked) == 2 else stacked[0]


def _problem(cell: str, *, layers: int = 2, head: str = "many_to_many", loss: str = "cross_entropy",
             vocab: int | None = None, T: int = 20, m: int = 3, seed: int = 0, dtype: str = "float64",
             random_state: bool = False):
    rng = np.random.default_rng(seed)
    n_y = 1 if loss == "mse" else 4
    net = sr.RecurrentNet(cell=cell, n_x=3, n_h=5, n_y=n_y, num_layers=layers, head=head, loss=loss,
                          vocab_size=vocab)
    params = net.init_params(rng, dtype)
    inputs = rng.integers(0, vocab, (m, T)) if vocab else rng.standard_normal((3, m, T)).astype(dtype)
    if loss == "mse":
        targets = rng.standard_normal((1, m) if head == "many_to_one" else (1, m, T)).astype(dtype)
    else:
        targets = rng.integers(0, n_y, (m,) if head == "many_to_one" else (m, T))
    states = None
    if random_state:
        states = [tuple(rng.standard_normal((5, m)).astype(dtype) for _ in state)
                  for state in net.zero_state(m, dtype)]
    return net, params, inputs, targets, states


def _compare(net, params, inputs, targets, states, *, batch_first: bool) -> float:
    """Worst relative difference of loss, every gradient and every final state, scratch vs torch."""
    loss, grads, final = net.loss_and_grads(params, inputs, targets, states)
    model = _torch_model(net, params, batch_first=batch_first)
    logits, torch_final = model(_sequence(inputs, batch_first=batch_first, values=not net.vocab_size),
                                None if states is None else _torch_state(states))
    torch_loss = tr.loss_fn(logits, _torch_targets(net, targets, batch_first=batch_first), net.loss)
    torch_loss.backward()
    worst = relative_difference(np.asarray(loss), torch_loss.detach().numpy())[1]
    for name in params:
        parameter = model.get_parameter(tr.torch_name(name))
        worst = max(worst, relative_difference(grads["d" + name].reshape(parameter.shape), parameter.grad.numpy())[1])
    torch_final = torch_final if isinstance(torch_final, tuple) else (torch_final,)
    for k, tensor in enumerate(torch_final):
        scratch_side = np.stack([state[k].T for state in final])
        worst = max(worst, relative_difference(scratch_side, tensor.detach().numpy())[1])
    return worst


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_matches_torch_in_float64(cell: str, layers: int, batch_first: bool) -> None:
    problem = _problem(cell, layers=layers, random_state=layers == 2)
    assert _compare(*problem, batch_first=batch_first) < TOLERANCE["float64"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("head", "loss", "vocab"), [("many_to_one", "cross_entropy", None),
                                                     ("many_to_one", "mse", None),
                                                     ("many_to_many", "mse", None),
                                                     ("many_to_many", "cross_entropy", 7)])
def test_heads_losses_and_embedding_match_torch(cell: str, head: str, loss: str, vocab: int | None) -> None:
    problem = _problem(cell, head=head, loss=loss, vocab=vocab, T=21)
    assert _compare(*problem, batch_first=head == "many_to_one") < TOLERANCE["float64"]


@pytest.mark.parametrize("cell", CELLS)
def test_float32_matches_torch_within_tolerance(cell: str) -> None:
    problem = _problem(cell, dtype="float32", random_state=True)
    assert _compare(*problem, batch_first=True) < TOLERANCE["float32"]


@settings(max_examples=15, deadline=None)
@given(cell=st.sampled_from(CELLS), layers=st.integers(1, 3), m=st.integers(1, 4), T=st.integers(1, 25),
       batch_first=st.booleans(), seed=st.integers(0, 2**16))
def test_random_shapes_match_torch(cell: str, layers: int, m: int, T: int, batch_first: bool, seed: int) -> None:
    problem = _problem(cell, layers=layers, m=m, T=T, seed=seed, random_state=seed % 2 == 0)
    assert _compare(*problem, batch_first=batch_first) < TOLERANCE["float64"]


@pytest.mark.parametrize("cell", CELLS)
def test_bptt_matches_centered_differences(cell: str) -> None:
    """Every parameter (embedding included) and the initial states, against (J(w + e) - J(w - e)) / 2e; the
    course's relative error ``||g - g_num|| / (||g|| + ||g_num||)`` (measured ~1e-10; a bug gives > 1e-5)."""
    net, params, inputs, targets, states = _problem(cell, layers=2, vocab=6, T=4, m=2, random_state=True)
    Z, _, cache = net.forward(params, inputs, states)
    _, dZ = sr.head_loss(Z, net.flat_targets(targets), net.loss)
    grads, dstates0 = net.backward(params, dZ, cache)
    point = params | {f"state{layer}.{k}": s for layer, state in enumerate(states) for k, s in enumerate(state)}

    def cost(values: dict) -> float:
        weights = {name: values[name] for name in params}
        initial = [tuple(values[f"state{layer}.{k}"] for k in range(len(state))) for layer, state in enumerate(states)]
        return float(net.loss_and_grads(weights, inputs, targets, initial)[0])

    analytic = {"d" + name: grads["d" + name] for name in params}
    analytic |= {f"dstate{layer}.{k}": d for layer, state in enumerate(dstates0) for k, d in enumerate(state)}
    assert gradient_check_n(cost, point, analytic, epsilon=1e-6) < 1e-8


def _course_rnn_cell_forward(xt, a_prev, parameters):
    """The course's ``rnn_cell_forward`` (Sequence Models, week 1), as written in the exercise."""
    a_next = np.tanh(parameters["Wax"] @ xt + parameters["Waa"] @ a_prev + parameters["ba"])
    return a_next, parameters["Wya"] @ a_next + parameters["by"]


def _course_lstm_cell_forward(xt, a_prev, c_prev, parameters):
    """The course's ``lstm_cell_forward``: gates on ``concat = [a_prev; xt]``, ``c~`` with ``Wc``."""
    p = parameters
    concat = np.concatenate([a_prev, xt])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    ft, it = sig(p["Wf"] @ concat + p["bf"]), sig(p["Wi"] @ concat + p["bi"])
    cct, ot = np.tanh(p["Wc"] @ concat + p["bc"]), sig(p["Wo"] @ concat + p["bo"])
    c_next = ft * c_prev + it * cct
    a_next = ot * np.tanh(c_next)
    return a_next, c_next, p["Wy"] @ a_next + p["by"]


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm"])
def test_course_names_map_onto_torch_layout(cell: str) -> None:
    """The course's cells, run with its own parameter names, equal scratch's run on the mapped arrays."""
    rng = np.random.default_rng(3)
    n_x, n_a, n_y, m, T = 3, 4, 2, 5, 20
    if cell == "lstm":
        course = {g: rng.standard_normal((n_a, n_a + n_x)) for g in ("Wf", "Wi", "Wc", "Wo")}
        course |= {b: rng.standard_normal((n_a, 1)) for b in ("bf", "bi", "bc", "bo")}
        course |= {"Wy": rng.standard_normal((n_y, n_a))}
    else:
        course = {"Wax": rng.standard_normal((n_a, n_x)), "Waa": rng.standard_normal((n_a, n_a)),
                  "ba": rng.standard_normal((n_a, 1)), "Wya": rng.standard_normal((n_y, n_a))}
    course["by"] = rng.standard_normal((n_y, 1))
    X = rng.standard_normal((n_x, m, T))
    a, c, expected = np.zeros((n_a, m)), np.zeros((n_a, m)), []
    for t in range(T):
        if cell == "lstm":
            a, c, y = _course_lstm_cell_forward(X[:, :, t], a, c, course)
        else:
            a, y = _course_rnn_cell_forward(X[:, :, t], a, course)
        expected.append(y)
    net = sr.RecurrentNet(cell=cell, n_x=n_x, n_h=n_a, n_y=n_y)
    Z, _, _ = net.forward(sr.course_to_torch(course, cell=cell), X)
    np.testing.assert_allclose(Z.reshape(n_y, m, T), np.stack(expected, axis=2), rtol=1e-12, atol=1e-12)


def test_course_gru_has_no_exact_mapping() -> None:
    with pytest.raises(ValueError, match="GRU"):
        sr.course_to_torch({}, cell="gru")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_truncated_bptt_with_clipping_matches_torch(cell: str) -> None:
    """Chunks of 8 over T = 40 with Adam and global norm clipping active: the same losses, norms, weights."""
    data = char_sequences(zen_of_python(), 40, name="zen")
    V = len(data.vocabulary)
    net = sr.RecurrentNet(cell=cell, n_x=6, n_h=12, n_y=V, num_layers=2, vocab_size=V)
    params = net.init_params(np.random.default_rng(0))
    model = _torch_model(net, params, batch_first=True)
    optimizer = so.Adam(params, lr=0.01)
    losses, norms = sr.train_truncated_bptt(net, params, optimizer.step, data.inputs[:8], data.targets[:8],
                                            chunk_length=8, max_norm=0.15)
    t_losses, t_norms = tr.train_truncated_bptt(model, torch.optim.Adam(model.parameters(), lr=0.01),
                                                torch.from_numpy(data.inputs[:8]), torch.from_numpy(data.targets[:8]),
                                                loss="cross_entropy", chunk_length=8, max_norm=0.15)
    assert len(losses) == 5 and sum(n > 0.15 for n in norms) >= 4  # clipping is active
    np.testing.assert_allclose(losses, t_losses, rtol=1e-12)
    np.testing.assert_allclose(norms, t_norms, rtol=1e-12)
    for name, value in params.items():
        parameter = model.get_parameter(tr.torch_name(name)).detach().numpy()
        assert relative_difference(value.reshape(parameter.shape), parameter)[1] < 1e-12, name


def test_truncation_changes_the_gradient_and_one_chunk_is_full_bptt() -> None:
    """Stopping the gradient at the chunk boundary is a real difference; with one chunk it is full BPTT."""
    net, params, inputs, targets, _ = _problem("lstm", layers=1, T=20)
    full = net.loss_and_grads(params, inputs, targets)[1]
    _, second_chunk_grads, _ = net.loss_and_grads(params, inputs[..., 10:], targets[..., 10:],
                                                  net.loss_and_grads(params, inputs[..., :10], targets[..., :10])[2])
    collected: list[dict] = []
    sr.train_truncated_bptt(net, {k: v.copy() for k, v in params.items()}, lambda p, g: collected.append(g),
                            inputs, targets, chunk_length=20)
    assert all(np.array_equal(collected[0][k], full[k]) for k in full)
    assert relative_difference(second_chunk_grads["dW_hh_l0"], full["dW_hh_l0"])[1] > 1e-3


def test_sampling_with_shared_uniforms_gives_the_same_characters() -> None:
    data = char_sequences(zen_of_python(), 25, name="zen")
    V = len(data.vocabulary)
    net = sr.RecurrentNet(cell="lstm", n_x=8, n_h=16, n_y=V, vocab_size=V)
    params = net.init_params(np.random.default_rng(1))
    optimizer = so.Adam(params, lr=0.02)
    for _ in range(5):
        optimizer.step(params, net.loss_and_grads(params, data.inputs, data.targets)[1])
    model = _torch_model(net, params, batch_first=True)
    uniforms = np.random.default_rng(7).uniform(size=60)
    first = data.vocabulary.index("B")
    scratch_side = sr.sample(net, params, first, uniforms)
    torch_side = tr.sample(model, first, torch.from_numpy(uniforms))
    assert scratch_side == torch_side and len(set(scratch_side)) > 5


@pytest.mark.slow
def test_lstm_learns_the_adding_problem() -> None:
    """The known answer: predicting 1 gives MSE 1/6; 300 Adam steps take an LSTM below half of it (measured
    0.059 at seed 0; the task needs thousands of steps to reach ~0)."""
    data = adding_problem(256, 20, seed=0)
    net = sr.RecurrentNet(cell="lstm", n_x=2, n_h=16, n_y=1, head="many_to_one", loss="mse")
    params = net.init_params(np.random.default_rng(0))
    optimizer = so.Adam(params, lr=0.01)
    for _ in range(300):
        loss, grads, _ = net.loss_and_grads(params, data.inputs, data.targets)
        optimizer.step(params, grads)
    baseline = float(np.mean((data.targets - 1.0) ** 2))
    assert baseline == pytest.approx(1 / 6, rel=0.15)
    assert loss < baseline / 2


@pytest.mark.parametrize(("kwargs", "word"), [
    (dict(cell="lstmx"), "cell"), (dict(n_h=0), "n_h"), (dict(head="one_to_many"), "head"),
    (dict(loss="hinge"), "loss"), (dict(vocab_size=-1), "vocab_size"), (dict(num_layers=1.5), "num_layers"),
])
def test_bad_architecture_is_named(kwargs: dict, word: str) -> None:
    base = dict(cell="gru", n_x=3, n_h=4, n_y=2)
    with pytest.raises(ValueError, match=word):
        sr.RecurrentNet(**(base | kwargs))


def test_bad_inputs_and_targets_are_named() -> None:
    net, params, inputs, targets, _ = _problem("gru", layers=1)
    with pytest.raises(ValueError, match="n_x=3"):
        net.loss_and_grads(params, inputs[:2], targets)
    with pytest.raises(ValueError, match="targets"):
        net.loss_and_grads(params, inputs, targets[:, :5])
    with pytest.raises(ValueError, match="W_hh_l0"):
        net.loss_and_grads(params | {"W_hh_l0": params["W_hh_l0"][:, :2]}, inputs, targets)
    with pytest.raises(ValueError, match="time step"):
        net.loss_and_grads(params, inputs[..., :0], targets[..., :0])
    lm = sr.RecurrentNet(cell="gru", n_x=3, n_h=4, n_y=5, vocab_size=5)
    lm_params = lm.init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"0\.\.4"):
        lm.loss_and_grads(lm_params, np.array([[0, 5]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="chunk_length"):
        sr.train_truncated_bptt(net, params, lambda p, g: None, inputs, targets, chunk_length=0)


# ---------------------------------------------------------------- the registered cases (python -m compare run rnn)

RNN_VARIANTS = sorted(rnn_cases.VARIANTS)


def _rnn_case(variant: str):
    (case,) = select([f"rnn/{variant}"])
    return case


@pytest.mark.parametrize("variant", RNN_VARIANTS)
def test_every_rnn_variant_agrees_to_rounding_over_its_first_steps(variant: str) -> None:
    run = run_case(_rnn_case(variant), seed=0, dtype="float64", steps=12)
    assert run.parity.passed, run.parity.summary()
    assert run.parity.max_rel_overall < 1e-12, run.parity.summary()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("variant", RNN_VARIANTS)
def test_every_rnn_variant_matches_torch_for_200_steps(variant: str, seed: int, dtype: str) -> None:
    run = run_case(_rnn_case(variant), seed=seed, dtype=dtype)
    assert run.steps == 200 and run.parity.passed, run.parity.summary()


@pytest.mark.slow
@pytest.mark.parametrize("variant", RNN_VARIANTS)
def test_clipping_is_active_on_most_steps(variant: str) -> None:
    """The total norm exceeds max_norm on more than half of the 200 steps, the same steps on both sides."""
    scratch_side, torch_side = run_trajectories(_rnn_case(variant), 0, "float64", torch.device("cpu"), 200)
    clipped = [float(scratch_side.snapshots[step]["state.clipped"]) for step in range(200)]
    assert clipped == [float(torch_side.snapshots[step]["state.clipped"]) for step in range(200)]
    assert sum(clipped) > 100, sum(clipped)


def test_the_case_gradient_check_passes() -> None:
    case = _rnn_case("gru_stacked")
    assert case.gradient_check(case.make_problem(0, np.dtype("float64"))) < 1e-7


def test_a_truncated_case_carries_the_state_and_restarts_each_pass() -> None:
    """lstm_tbptt: 5 chunks per pass; chunk 1 starts from chunk 0's final state, chunk 5 from zeros again."""
    problem = _rnn_case("lstm_tbptt").make_problem(0, np.dtype("float64"))
    side = rnn_cases.ScratchRnn(problem)
    side.step()
    carried = [state[0].copy() for state in side.states]
    side.step()
    assert side.index == 2 and not np.array_equal(carried[0], 0)
    for _ in range(3):
        side.step()
    assert side.chunks[side.index % len(side.chunks)].start == 0  # the next step starts a new pass


def test_clipping_study_counts_the_same_steps_on_both_sides() -> None:
    from compare.studies.rnn_clipping import clip_counts

    scratch_count, torch_count, low, high = clip_counts("lstm_tbptt", 10)
    spec = rnn_cases.VARIANTS["lstm_tbptt"][1]
    assert scratch_count == torch_count and 0 <= scratch_count <= 10
    assert (scratch_count == 10) == (low > spec.max_norm) and high >= low > 0


def test_clipping_study_reads_the_reports_run_as_if_it_trained_it(tmp_path) -> None:
    from compare.report.studies import StudyContext
    from compare.studies.rnn_clipping import total_norms

    (case,) = select(["rnn/lstm_tbptt"])
    run = run_case(case, seed=0, dtype="float64", steps=6)
    run.scratch.snapshots.clear()  # as a spread sweep sends it to rank 0: losses and scalars only
    run.torch.snapshots.clear()
    from_the_run = total_norms("lstm_tbptt", 6, StudyContext(tmp_path, runs=[run]))
    trained_again = total_norms("lstm_tbptt", 6)
    for read, trained in zip(from_the_run, trained_again, strict=True):
        assert read.shape == (6,)
        np.testing.assert_array_equal(read, trained)
    other_seed = StudyContext(tmp_path, runs=[run_case(case, seed=1, dtype="float64", steps=2)])
    assert other_seed.run_of("rnn/lstm_tbptt") is None  # the study reads seed 0 only, else trains it


def test_clipping_study_plots_the_norms_it_is_given(tmp_path) -> None:
    from compare.studies.rnn_clipping import norms_figure

    steps = np.arange(1.0, 6.0)
    norms_figure({"a": (steps, steps, 2.0), "b": (steps, steps, 3.0)}, tmp_path / "clipping.png")
    assert (tmp_path / "clipping.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
