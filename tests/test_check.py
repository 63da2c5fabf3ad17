"""The checker (``compare.check``): correct solutions pass, every gallery bug fails with its diagnosis.

The default run checks the course API, the five independent learner solutions and a representative
subset of the gallery (one bug per kind of diagnosis family); ``-m slow`` runs the whole gallery.
"""

from __future__ import annotations

import json
import multiprocessing.connection
import os
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import reference_vectors
from check_gallery.bugs import BUGS, TRAJECTORIES_PART, apply
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.course.c1w2
import scratch.course.c1w3
import scratch.course.c1w4
import scratch.course.c2w1
import scratch.course.c2w2
from compare.check import UserError, check, runner
from compare.check import gradcheck as gradient_checking
from compare.check.catalogue import REGISTRY, Case
from compare.check.diagnosis import CATALOGUE, pattern
from compare.check.report import Report
from compare.cli import main

#: The checker's time limit in every test that is not about time-outs: a correct function must not fail a test
#: because a loaded machine made it slow (the checker's default, 60 s, is what a learner's solution gets on
#: their own machine), so the bound only ends a hang.
HANG_GUARD = 600.0
UNHURRIED = ("--time-limit", f"{HANG_GUARD:g}")

GALLERY = Path(__file__).parent / "check_gallery"
SOLUTIONS = ("c1w2", "c1w3", "c1w4", "c2w1", "c2w2")
COURSE_API = {"c1w2": scratch.course.c1w2, "c1w3": scratch.course.c1w3, "c1w4": scratch.course.c1w4,
              "c2w1": scratch.course.c2w1, "c2w2": scratch.course.c2w2}

#: One bug per diagnosis family, for the default run (the whole gallery runs with -m slow).
DEFAULT_BUGS = {"sigmoid_int_truncation", "softmax_axis0", "propagate_dw_not_averaged", "propagate_cost_sign",
                "cache_off_by_one",
                "predict_inclusive", "tanh_prime_of_Z", "db1_no_keepdims", "dAL_fused_then_sigmoid",
                "relu_grad_at_zero", "he_as_xavier", "l2_grad_half", "dropout_not_inverted",
                "dropout_backward_no_mask", "minibatch_drop_last", "momentum_no_dampening", "adam_eps_in_sqrt",
                "propagate_signature", "gradients_to_vector_dict_order", "gradcheck_one_sided",
                "model_adam_t_per_epoch"}


def check_unhurried(target: object, **options: object) -> Report:
    """``check`` with :data:`HANG_GUARD` as its time limit."""
    return check(target, time_limit=HANG_GUARD, **options)


def _buggy_file(tmp_path: Path, bug) -> Path:
    path = tmp_path / f"{bug.id}.py"
    path.write_text(apply((GALLERY / f"{bug.solution}.py").read_text(), bug))
    return path


def _check_bug(tmp_path: Path, bug) -> None:
    if bug.diagnosis == TRAJECTORIES_PART:
        return _check_training_bug(tmp_path, bug)
    report = check_unhurried(_buggy_file(tmp_path, bug), functions=[bug.function], training=False)
    (result,) = report.functions
    assert result.status == "fail", f"{bug.id}: {bug.function} passed"
    assert result.diagnosis is not None, f"{bug.id}: no diagnosis\n{report}"
    assert result.diagnosis.id == bug.diagnosis, f"{bug.id}: diagnosed {result.diagnosis.id}\n{report}"
    assert report.exit_code == 1


def _check_training_bug(tmp_path: Path, bug) -> None:
    """The training parts from torch's in the bug's configuration (and in no other), where it parts is said."""
    report = check_unhurried(_buggy_file(tmp_path, bug), functions=[bug.function])
    failing = [t for t in report.trainings if t.status == "fail"]
    assert failing, f"{bug.id}: the training passed\n{report}"
    assert {t.run for t in failing} == {bug.run}, f"{bug.id}\n{report}"
    assert all(" part " in t.detail for t in failing), str(report)
    assert report.exit_code == 1


# --- correct solutions: no false alarms --------------------------------------------------------------

@pytest.mark.parametrize("week", SOLUTIONS)
def test_course_api_passes_every_function(week):
    module = COURSE_API[week]
    namespace = {name: getattr(module, name) for name in dir(module) if not name.startswith("_")}
    report = check_unhurried(namespace, week=week, training=False)
    assert report.passed, str(report)
    checked = {r.name for r in report.functions}
    assert checked == set(REGISTRY[week]) & set(namespace), checked  # every function the checker knows
    assert all(r.worst_relative_error < 1e-10 for r in report.functions), str(report)


@pytest.mark.parametrize("week", SOLUTIONS)
def test_independent_learner_solution_passes(week):
    report = check_unhurried(GALLERY / f"{week}.py", training=False)
    assert report.week == week
    assert report.passed, str(report)
    assert len(report.functions) >= 6


def test_whole_training_follows_torch_for_a_correct_L_layer_model(tmp_path):
    report = check_unhurried(GALLERY / "c1w4.py", functions=["L_layer_model"], plot_dir=tmp_path)
    (training,) = report.trainings
    assert training.status == "pass", str(report)
    assert len(training.costs_learner) == 6  # every 100th of 600 iterations
    np.testing.assert_allclose(training.costs_learner, training.costs_torch, rtol=1e-10)
    assert Path(training.plot).is_file()


# --- the gallery ---------------------------------------------------------------------------------------

def test_gallery_size_and_spread():
    assert len(BUGS) >= 25
    assert {bug.solution for bug in BUGS} == set(SOLUTIONS)
    assert {bug.diagnosis for bug in BUGS} - {TRAJECTORIES_PART} <= set(CATALOGUE)
    gradient_checking_names = {"gradient_check", "forward_propagation_n", "backward_propagation_n",
                               "dictionary_to_vector", "vector_to_dictionary", "gradients_to_vector",
                               "gradient_check_n"}
    with_bugs = {(bug.solution, bug.function) for bug in BUGS}
    assert {("c2w1", name) for name in gradient_checking_names} <= with_bugs
    assert {("c1w4", "two_layer_model"), ("c2w1", "model"), ("c2w2", "model")} <= with_bugs
    assert len({bug.diagnosis for bug in BUGS}) >= 25


@pytest.mark.parametrize("bug", [b for b in BUGS if b.id in DEFAULT_BUGS], ids=lambda b: b.id)
def test_gallery_bug_is_diagnosed(tmp_path, bug):
    _check_bug(tmp_path, bug)


@pytest.mark.slow
@pytest.mark.parametrize("bug", [b for b in BUGS if b.id not in DEFAULT_BUGS], ids=lambda b: b.id)
def test_gallery_bug_is_diagnosed_full(tmp_path, bug):
    _check_bug(tmp_path, bug)


def test_report_names_the_first_wrong_number_and_the_evidence(tmp_path):
    bug = next(b for b in BUGS if b.id == "dW_not_averaged")
    report = check_unhurried(_buggy_file(tmp_path, bug), functions=["linear_backward"], training=False)
    (result,) = report.functions
    wrong = result.first_wrong
    assert (wrong.case, wrong.output) == ("published", "dW")
    assert wrong.got == pytest.approx(4 * wrong.expected)  # m = 4 examples in the published input
    assert "= m on every entry" in result.diagnosis.evidence
    text = str(report)
    assert "first wrong: dW[0, 0] on input 'published'" in text and "the 1/m average is missing" in text


def test_whole_training_of_the_course_2_models_follows_torch():
    """c2w1's model with L2 and with dropout, c2w2's with gd, momentum and adam: every checkpoint equal."""
    for week in ("c2w1", "c2w2"):
        report = check_unhurried(GALLERY / f"{week}.py", functions=["model"])
        assert report.passed, str(report)
        assert len(report.trainings) == (2 if week == "c2w1" else 3)
        for training in report.trainings:
            np.testing.assert_allclose(training.costs_learner, training.costs_torch, rtol=1e-9)
            assert training.costs_learner[0] != pytest.approx(training.costs_learner[-1], rel=1e-3)  # it learns


@pytest.mark.slow
def test_whole_training_follows_torch_for_a_correct_two_layer_model():
    report = check_unhurried(GALLERY / "c1w4.py", functions=["two_layer_model"])
    (training,) = report.trainings
    assert training.status == "pass", str(report)
    np.testing.assert_allclose(training.costs_learner, training.costs_torch, rtol=1e-10)


def test_torch_reproduces_the_published_gradient_checks():
    """The checker's torch references give the course's published differences (2021 and 2017/18 tests)."""
    published = {c["id"]: c for c in reference_vectors.cases("dlai_2021_public_tests.json")}
    legacy = {c["id"]: c for c in reference_vectors.cases("dlai_legacy_2017_2018.json")}
    for case, args in ((published["c2w1a3.gradient_check_scalar"], (3, 4)),
                       (legacy["legacy.c2w1.gradient_check_scalar_x2"], (2, 4))):
        got = gradient_checking._scalar_check_expected(Case("published", args))["difference"]
        assert got == pytest.approx(case["expected"]["difference"], rel=1e-6)
    planted = gradient_checking._gradient_check_n_cases()[0]
    got = gradient_checking._gradient_check_n_expected(planted)["difference"]
    want = published["c2w1a3.gradient_check_n.buggy_backprop"]["expected"]["difference"]
    assert planted.args[4] == 1e-7 and got == pytest.approx(want, rel=1e-6)


def test_whole_training_shows_where_the_trajectories_part(tmp_path):
    bug = next(b for b in BUGS if b.id == "dW_not_averaged")
    report = check_unhurried(_buggy_file(tmp_path, bug), functions=["L_layer_model"])
    (training,) = report.trainings
    assert training.status == "fail"
    assert "the costs part at iteration 100" in training.detail
    assert report.exit_code == 1


# --- errors: the rest is still checked ------------------------------------------------------------------

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "solution.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_function_that_never_returns_is_a_timeout():
    """The real time limit. A function that never returns times out however loaded the machine (the test bounds
    nothing else), and a namespace has no file to import, so nothing before the call races the short limit."""
    def update_lr(learning_rate0, epoch_num, decay_rate):
        while True:
            pass

    (result,) = check({"update_lr": update_lr}, time_limit=0.5, training=False).functions
    assert (result.status, result.diagnosis.id) == ("fail", "timeout")


def test_after_a_timeout_the_rest_of_the_file_is_still_checked(tmp_path, monkeypatch):
    """The checker's restart after a time-out, with the time-out signalled instead of timed: the never-returning
    function writes a byte on a pipe as its endless loop starts, and the checker's receive takes that byte as
    its time limit running out. With a real short limit, the correct function's own process (fork, import the
    file, call it) would have to finish within it, which a loaded machine does not promise."""
    entered_read, entered_write = os.pipe()
    path = _write(tmp_path, f"""
        import os

        def update_lr(learning_rate0, epoch_num, decay_rate):
            os.write({entered_write}, b"x")
            while True:
                pass

        def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
            return learning_rate0 / (1 + decay_rate * (epoch_num // time_interval))
    """)
    receive = runner._receive

    def receive_or_time_out(receiver, process, time_limit):
        if receiver in multiprocessing.connection.wait([receiver, entered_read]):
            return receive(receiver, process, time_limit)  # a message sent before the loop comes first
        os.read(entered_read, 1)
        return None  # what the real receive returns when the limit runs out

    monkeypatch.setattr(runner, "_receive", receive_or_time_out)
    try:
        report = check_unhurried(path, training=False)
    finally:
        os.close(entered_read)
        os.close(entered_write)
    results = {r.name: r for r in report.functions}
    assert (results["update_lr"].status, results["update_lr"].diagnosis.id) == ("fail", "timeout")
    assert results["schedule_lr_decay"].status == "pass"


def test_a_function_that_raises_shows_its_traceback(tmp_path):
    path = _write(tmp_path, """
        def update_lr(learning_rate0, epoch_num, decay_rate):
            return learning_rate0 / (1 + decay_rate * epoch)

        def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
            return learning_rate0 / (1 + decay_rate * (epoch_num // time_interval))
    """)
    report = check_unhurried(path, training=False)
    results = {r.name: r for r in report.functions}
    assert results["update_lr"].diagnosis.id == "raised"
    assert "NameError: name 'epoch' is not defined" in results["update_lr"].diagnosis.evidence
    assert "solution.py" in results["update_lr"].detail
    assert results["schedule_lr_decay"].status == "pass"
    assert "| NameError" in str(report)


def test_a_crashing_function_does_not_take_the_checker_down(tmp_path):
    path = _write(tmp_path, """
        import os

        def update_lr(learning_rate0, epoch_num, decay_rate):
            os._exit(3)

        def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
            return learning_rate0 / (1 + decay_rate * (epoch_num // time_interval))
    """)
    results = {r.name: r for r in check_unhurried(path, training=False).functions}
    assert results["update_lr"].diagnosis.evidence == "crashed (exit code 3)"
    assert results["schedule_lr_decay"].status == "pass"


def test_notebook_namespace_in_one_line():
    namespace = {"__name__": "__main__"}
    exec(textwrap.dedent("""
        import numpy as np

        def sigmoid(x):
            return 1 / (1 + np.exp(-x))

        def L1(yhat, y):
            return np.sum(np.abs(y - yhat)) / len(y)
    """), namespace)
    report = check_unhurried(namespace)
    results = {r.name: r for r in report.functions}
    assert results["sigmoid"].status == "pass"
    assert results["L1"].diagnosis.id == "extra_1_over_m"
    assert "np" not in results  # only the namespace's own functions


def test_the_regularization_notebooks_3_layer_helpers_are_not_checked_as_gradient_checking(tmp_path):
    """c2w1 gives ``forward_propagation(X, parameters)`` and ``backward_propagation(X, Y, cache)`` (3 layers) in
    two notebooks and asks for ``forward_propagation(x, theta)`` (``J = theta * x``) in the third: a learner's
    file that copies the helpers must not fail as a wrong gradient-checking function."""
    helpers = textwrap.dedent("""
        import numpy as np

        def forward_propagation(X, parameters):
            Z1 = parameters["W1"] @ X + parameters["b1"]
            A1 = np.maximum(0, Z1)
            Z2 = parameters["W2"] @ A1 + parameters["b2"]
            A2 = np.maximum(0, Z2)
            Z3 = parameters["W3"] @ A2 + parameters["b3"]
            A3 = 1 / (1 + np.exp(-Z3))
            return A3, (Z1, A1, parameters["W1"], parameters["b1"], Z2, A2, parameters["W2"], parameters["b2"],
                        Z3, A3, parameters["W3"], parameters["b3"])

        def backward_propagation(X, Y, cache):
            raise NotImplementedError("the notebook's helper; the checker must not call it")
    """)
    solution = (GALLERY / "c2w1.py").read_text()
    copied = _write(tmp_path, solution.split("def forward_propagation(x, theta)")[0] + helpers)
    report = check_unhurried(copied, training=False)
    assert report.week == "c2w1"
    assert report.passed, str(report)
    assert {"forward_propagation", "backward_propagation"} <= set(report.not_checked)
    assert {r.name for r in report.functions}.isdisjoint({"forward_propagation", "backward_propagation"})

    scalar = _write(tmp_path, "def forward_propagation(x, theta):\n    return theta + x\n")
    (result,) = check_unhurried(scalar, week="c2w1").functions  # gradient checking's own: still checked
    assert (result.name, result.status) == ("forward_propagation", "fail")


@pytest.mark.parametrize(("text", "message"), [
    ("def propagate(w, b, X, Y):\n    return (\n", "does not import"),
    ("import numpy as np\nx = 1\n", "no course function found"),
])
def test_user_errors(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        check_unhurried(_write(tmp_path, text))


# --- the command line ---------------------------------------------------------------------------------

def test_cli_exit_codes_and_json(tmp_path, capsys):
    assert main(["check", str(GALLERY / "c2w2.py"), "--no-training", *UNHURRIED]) == 0
    assert "8 passed, 0 failed" in capsys.readouterr().out
    bug = next(b for b in BUGS if b.id == "adam_no_bias_correction")
    assert main(["check", str(_buggy_file(tmp_path, bug)), "--json", "--only", bug.function, *UNHURRIED]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["passed"] is False and verdict["week"] == "c2w2"
    (function,) = verdict["functions"]
    assert function["diagnosis"]["id"] == "adam_no_bias_correction"
    assert function["first_wrong"]["output"].startswith("W")
    assert main(["check", str(tmp_path / "missing.py"), *UNHURRIED]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert main(["check", str(_write(tmp_path, "def f(:\n")), *UNHURRIED]) == 2


# --- the diagnosis patterns on their own ----------------------------------------------------------------

@pytest.mark.parametrize(("factor", "diagnosis"), [(7, "missing_1_over_m"), (1 / 7, "extra_1_over_m"),
                                                   (-1, "sign_flipped"), (2.5, "constant_factor")])
def test_pattern_of_a_constant_ratio(factor, diagnosis):
    expected = np.random.default_rng(0).standard_normal((3, 7))
    found = pattern(expected * factor, expected, m=7)
    assert found.id == diagnosis
    assert ("-expected" if factor == -1 else f"{factor:.6g}") in found.evidence


def test_pattern_needs_the_same_ratio_everywhere():
    expected = np.random.default_rng(1).standard_normal((3, 4))
    got = expected * 4
    got[0, 0] += 1.0
    assert pattern(got, expected, m=4) is None


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 6), m=st.integers(2, 300), seed=st.integers(0, 2**32 - 1),
       missing=st.booleans())
def test_pattern_finds_the_factor_m_at_any_shape(rows, m, seed, missing):
    expected = np.random.default_rng(seed).standard_normal((rows, min(m, 9))) + 0.1
    got = expected * m if missing else expected / m
    found = pattern(got, expected, m=m)
    assert found.id == ("missing_1_over_m" if missing else "extra_1_over_m")


def test_the_worked_example_in_docs_is_the_checkers_real_output(tmp_path, monkeypatch, capsys):
    """docs/check.md shows the output for the gallery's dW_not_averaged solution saved as my_solution.py; the
    worst relative errors of passing functions (rounding, which BLAS may change) are compared as numbers < 1e-12."""
    bug = next(b for b in BUGS if b.id == "dW_not_averaged")
    (tmp_path / "my_solution.py").write_text(apply((GALLERY / f"{bug.solution}.py").read_text(), bug))
    monkeypatch.chdir(tmp_path)
    assert main(["check", "my_solution.py", *UNHURRIED]) == 1
    printed = capsys.readouterr().out
    text = (Path(__file__).parents[1] / "docs" / "check.md").read_text()
    documented = text.split("```\nChecked my_solution.py", 1)[1].split("```", 1)[0]
    rounding = re.compile(r"worst relative error (\S+)")
    assert rounding.sub("~", "Checked my_solution.py" + documented) == rounding.sub("~", printed)
    assert all(float(value) < 1e-12 for value in rounding.findall(printed))
