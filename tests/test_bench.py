"""Smoke test of ``python -m compare bench --quick`` and unit tests of the bench's arithmetic."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from compare.cli import main
from compare.perf.bench import (
    COLUMNS,
    MAX_NUMPY_OVER_TORCH,
    MIN_FRACTION_OF_PEAK,
    DensePoint,
    add_fractions,
    dense_flops,
    interleaved_timings,
    numpy_blas,
    peak_candidates,
    plan,
    target_verdicts,
)
from compare.perf.speed_report import base_point, crossover, seconds_text, sweep


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("bench")
    status = main(["bench", "--quick", "--device", "cpu", "--out", str(out)])
    return status, out


def test_quick_bench_writes_its_files(quick_bench) -> None:
    status, out = quick_bench
    assert status == 0
    for name in ("speed.csv", "speed.md", "speed.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".tmp-*")), "staging folder left behind"


def test_quick_bench_csv_has_sane_timings(quick_bench) -> None:
    _, out = quick_bench
    frame = pd.read_csv(out / "speed.csv")
    assert list(frame.columns) == COLUMNS
    timed = frame.dropna(subset=["seconds"])
    assert (timed["seconds"] > 0).all()
    assert (timed["q25"] <= timed["seconds"]).all() and (timed["seconds"] <= timed["q75"]).all()
    assert {"matmul_peak", "dispatch", "concept", "vectorization"} <= set(frame["section"])
    matmul = frame[frame["section"] == "matmul_peak"]
    assert set(matmul["backend"]) == {"numpy", "torch"} and set(matmul["dtype"]) == {"float32", "float64"}
    # each backend's best matmul (square or the targets' shape) defines its own peak: that row is at fraction 1
    candidates = peak_candidates(frame)
    best = candidates.loc[candidates.groupby(["backend", "dtype"])["gflops"].idxmax()]
    assert best["fraction_of_peak"].to_numpy() == pytest.approx(1.0)


def test_quick_bench_markdown_and_plots(quick_bench) -> None:
    _, out = quick_bench
    text = (out / "speed.md").read_text()
    assert text.startswith("## Speed")
    assert "Matmul peak" in text and "Loop vs vectorized" in text and "threads" in text
    for link in [line.split("(")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]:
        assert (out / link).is_file(), link


def test_bench_rejects_unknown_concept(tmp_path, capsys) -> None:
    assert main(["bench", "--quick", "no_such_concept", "--out", str(tmp_path)]) == 2
    assert "no_such_concept" in capsys.readouterr().err
    assert not (tmp_path / "speed.csv").exists()


def test_dense_flops_counts_forward_and_backward_matmuls() -> None:
    dims, m = [3, 5, 1], 7
    matmul = 6 * m * (3 * 5 + 5 * 1) - 2 * m * 5 * 3  # no gradient for the input
    elementwise = 5 * m * (5 + 1) + 2 * (3 * 5 + 5 + 5 * 1 + 1)
    assert dense_flops(dims, m) == matmul + elementwise


def test_full_plan_sweeps_one_factor_at_a_time_around_the_base() -> None:
    full = plan(quick=False, dtypes=["float32"], devices=["cpu"])
    points = full.dense_points()
    assert len(points) == len(set(points))
    assert full.target == DensePoint(4096, 1024, 4) and full.target in points
    for point in points:
        if point != full.target:
            differing = [f for f in ("m", "width", "depth") if getattr(point, f) != getattr(full.base, f)]
            assert len(differing) <= 1, point
    assert {p.m for p in points} >= {64, 256, 1024, 4096, 16384}
    assert {p.width for p in points} >= {16, 128, 512, 2048}
    assert {p.depth for p in points} >= {2, 4, 8}


def test_crossover_is_the_first_batch_where_cuda_beats_every_cpu_backend() -> None:
    rows = []
    for m, cpu, cuda in ((64, 1.0, 5.0), (256, 2.0, 3.0), (1024, 8.0, 3.0), (4096, 30.0, 4.0)):
        for backend, device, seconds in (("numpy", "cpu", cpu), ("torch", "cpu", cpu * 1.1), ("torch", "cuda", cuda)):
            rows.append(dict(section="dense", name="sweep", backend=backend, device=device, dtype="float32",
                             m=m, width=16, depth=2, seconds=seconds))
    assert crossover(pd.DataFrame(rows)) == {"float32": 1024}


@pytest.mark.parametrize(("seconds", "text"), [(2.5, "2.5 s"), (0.0123, "12.3 ms"), (4.2e-6, "4.2 µs"),
                                               (3e-8, "30 ns")])
def test_seconds_text(seconds: float, text: str) -> None:
    assert seconds_text(seconds) == text
    assert seconds_text(math.nan) == ""


def test_quick_bench_times_the_deep_net_when_it_is_registered(quick_bench) -> None:
    pytest.importorskip("compare.cases.deep_net")
    _, out = quick_bench
    frame = pd.read_csv(out / "speed.csv")
    dense = frame[frame["section"] == "dense"]
    assert set(dense["backend"]) == {"numpy", "torch"}
    assert (dense["fraction_of_peak"] > 0).all()
    optimizer = frame[(frame["section"] == "optimizer") & frame["seconds"].notna()]
    assert not optimizer.empty and optimizer["parity_passed"].all()
    assert "sweep over m" in (out / "speed.md").read_text()


def test_cpu_clock_refuses_cuda() -> None:
    with pytest.raises(ValueError, match="clock 'cpu'"):
        plan(quick=True, dtypes=["float32"], devices=["cpu", "cuda"], clock="cpu")
    with pytest.raises(ValueError, match="clock must be"):
        plan(quick=True, dtypes=["float32"], devices=["cpu"], clock="sundial")


def test_quick_bench_states_its_targets(quick_bench) -> None:
    _, out = quick_bench
    frame = pd.read_csv(out / "speed.csv")
    targets = frame[frame["section"] == "targets"]
    assert sorted(zip(targets["name"].str.split().str[0], targets["backend"], strict=True)) == [
        ("dense", "numpy"), ("dense", "torch"), ("matmul", "numpy"), ("matmul", "torch")]
    verdicts = json.loads((out / "speed.json").read_text())["targets"]
    fraction = verdicts[0]
    step = targets[(targets["name"] == "dense training step") & (targets["backend"] == "numpy")].iloc[0]
    assert fraction["measured"] == pytest.approx(step["fraction_of_peak"], rel=1e-5)
    assert fraction["verdict"] == ("PASS" if step["fraction_of_peak"] >= MIN_FRACTION_OF_PEAK else "MISS")
    text = (out / "speed.md").read_text()
    assert "### Targets" in text and f"| {fraction['verdict']} |" in text


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    full = [dict(dict.fromkeys(COLUMNS), **row) for row in rows]
    return add_fractions(pd.DataFrame(full, columns=COLUMNS))


def _target_frame(numpy_step: float, torch_step: float, square_gflops: float) -> pd.DataFrame:
    """A 1 GFLOP step and a 1 GFLOP target-shaped matmul taking 10 ms (100 GFLOP/s) on both backends."""
    rows = []
    for backend, step_seconds in (("numpy", numpy_step), ("torch", torch_step)):
        common = dict(backend=backend, device="cpu", dtype="float32", m=4096, width=1024, depth=4, flops=1e9)
        rows.append(dict(common, section="matmul_peak", name="matmul 1024x1024", seconds=1e9 / square_gflops / 1e9,
                         gflops=square_gflops))
        rows.append(dict(common, section="targets", name="matmul (1024x1024) @ (1024x4096)", seconds=0.01,
                         gflops=100.0))
        rows.append(dict(common, section="targets", name="dense training step", seconds=step_seconds,
                         gflops=1.0 / step_seconds))
    return _frame(rows)


ENV = {"threads": {"torch_threads": 2}, "numpy_blas": [{"threads": 2}]}


@pytest.mark.parametrize(("numpy_step", "torch_step", "square", "verdicts"), [
    (0.0125, 0.0125, 90.0, ("PASS", "PASS")),    # 80% of the 100 GFLOP/s target-shaped peak, ratio 1
    (0.0125, 0.0100, 90.0, ("PASS", "MISS")),    # ratio 1.25
    (0.0125, 0.0125, 200.0, ("MISS", "PASS")),   # the square peak is higher: 40% of it
    (0.0200, 0.0190, 90.0, ("MISS", "PASS")),    # 50% of peak, ratio 1.05
])
def test_target_verdicts_are_computed_from_the_rows(numpy_step, torch_step, square, verdicts) -> None:
    found = target_verdicts(_target_frame(numpy_step, torch_step, square), ENV)
    fraction, ratio, threads, suite = found
    assert fraction["measured"] == pytest.approx(1.0 / numpy_step / max(100.0, square))
    assert ratio["measured"] == pytest.approx(numpy_step / torch_step)
    assert (fraction["verdict"], ratio["verdict"]) == verdicts
    assert threads["verdict"] == "PASS" and suite["verdict"] == "n/a"
    assert ratio["goal"].endswith(str(MAX_NUMPY_OVER_TORCH))


def test_target_verdicts_flag_unequal_threads_and_a_slow_parity_suite() -> None:
    frame = pd.concat([_target_frame(0.0125, 0.0125, 90.0),
                       _frame([dict(section="parity_suite", name="suite", backend="both", seconds=75.0,
                                    note="54/54 passed")])])
    env = {"threads": {"torch_threads": 2}, "numpy_blas": [{"threads": 1}]}
    _, _, threads, suite = target_verdicts(frame, env)
    assert threads["verdict"] == "MISS" and suite["verdict"] == "MISS" and suite["measured"] == 75.0


def test_interleaved_timings_take_one_block_of_each_step_per_round() -> None:
    now, order = [0.0], []

    def step(name: str, cost: float):
        def run() -> None:
            now[0] += cost
            order.append(name)
        return run

    timings = interleaved_timings({"a": step("a", 0.01), "b": step("b", 0.03)}, rounds=4, block_seconds=0.06,
                                  clock=lambda: now[0], warmup=1)
    assert timings["a"].median == pytest.approx(0.01) and timings["b"].median == pytest.approx(0.03)
    assert (timings["a"].per_block, timings["b"].per_block) == (6, 2)
    assert timings["a"].samples == 4
    measured = order[4:]  # after warm-up and sizing (2 calls each)
    assert measured == (["a"] * 6 + ["b"] * 2) * 4


def test_numpy_blas_reports_the_library_numpy_loads() -> None:
    found = numpy_blas()
    assert found and all(isinstance(entry["threads"], int) and entry["threads"] >= 1 for entry in found)


def test_sweeps_are_found_around_the_base_point_when_each_point_is_measured_once() -> None:
    full = plan(quick=False, dtypes=["float32"], devices=["cpu"])
    rows = [dict(section="dense", name="sweep", backend="numpy", device="cpu", dtype="float32", m=p.m,
                 width=p.width, depth=p.depth, seconds=1.0) for p in full.dense_points() if p != full.target]
    frame = _frame(rows)
    assert base_point(frame) == (full.base.m, full.base.width, full.base.depth)
    assert list(sweep(frame, "width")["width"]) == sorted(full.width_sweep)
    assert list(sweep(frame, "depth")["depth"]) == sorted(full.depth_sweep)
    assert list(sweep(frame, "m")["m"]) == sorted(full.m_sweep)


def test_target_verdicts_say_when_the_target_point_was_not_measured() -> None:
    fraction, ratio, threads, _ = target_verdicts(_frame([]), ENV)
    assert fraction["verdict"] == ratio["verdict"] == "n/a" and "not measured" in fraction["shown"]
    assert threads["verdict"] == "PASS"
