"""Smoke test of ``python -m compare bench --quick``, unit tests of the bench's arithmetic, the speed report's
round trip through ``speed.json``, and thread pinning."""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_info

from compare.cases import rnn as rnn_cases
from compare.cases.conv import BENCH_LAYERS, GEMM_NOTE, conv_layer_name, conv_verdicts
from compare.cli import main
from compare.core.registry import select
from compare.perf.bench import (
    COLUMNS,
    MAX_SCRATCH_OVER_TORCH,
    MIN_FRACTION_OF_PEAK,
    BenchResult,
    DensePoint,
    Section,
    add_fractions,
    bench_deal,
    bench_frame,
    dense_flops,
    interleaved_timings,
    peak_candidates,
    plan,
    target_verdicts,
)
from compare.perf.microbench import CONCEPT_BENCHES, MICROBENCH, concept_benches
from compare.perf.timing import numpy_blas, pinned_cores, pinned_threads, portable_library_path, thread_settings
from compare.report.speed import SpeedReport, base_point, crossover, load_speed, seconds_text, speed_markdown, sweep


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
    assert set(matmul["backend"]) == {"scratch", "torch"} and set(matmul["dtype"]) == {"float32", "float64"}
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
    assert set(dense["backend"]) == {"scratch", "torch"}
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
        ("dense", "scratch"), ("dense", "torch"), ("matmul", "scratch"), ("matmul", "torch")]
    verdicts = json.loads((out / "speed.json").read_text())["targets"]
    fraction = verdicts[0]
    step = targets[(targets["name"] == "dense training step") & (targets["backend"] == "scratch")].iloc[0]
    assert fraction["measured"] == pytest.approx(step["fraction_of_peak"], rel=1e-5)
    assert fraction["verdict"] == ("PASS" if step["fraction_of_peak"] >= MIN_FRACTION_OF_PEAK else "MISS")
    text = (out / "speed.md").read_text()
    assert "### Targets" in text and f"| {fraction['verdict']} |" in text


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    full = [dict(dict.fromkeys(COLUMNS), **row) for row in rows]
    return add_fractions(pd.DataFrame(full, columns=COLUMNS))


def _target_frame(scratch_step: float, torch_step: float, square_gflops: float) -> pd.DataFrame:
    """A 1 GFLOP step and a 1 GFLOP target-shaped matmul taking 10 ms (100 GFLOP/s) on both backends."""
    rows = []
    for backend, step_seconds in (("scratch", scratch_step), ("torch", torch_step)):
        common = dict(backend=backend, device="cpu", dtype="float32", m=4096, width=1024, depth=4, flops=1e9)
        rows.append(dict(common, section="matmul_peak", name="matmul 1024x1024", seconds=1e9 / square_gflops / 1e9,
                         gflops=square_gflops))
        rows.append(dict(common, section="targets", name="matmul (1024x1024) @ (1024x4096)", seconds=0.01,
                         gflops=100.0))
        rows.append(dict(common, section="targets", name="dense training step", seconds=step_seconds,
                         gflops=1.0 / step_seconds))
    return _frame(rows)


THREADS = {"torch_threads": 2, "blas": [{"library": "openblas", "threads": 2, "numpy": True},
                                        {"library": "openblas", "threads": 7, "numpy": False}]}


@pytest.mark.parametrize(("scratch_step", "torch_step", "square", "verdicts"), [
    (0.0125, 0.0125, 90.0, ("PASS", "PASS")),    # 80% of the 100 GFLOP/s target-shaped peak, ratio 1
    (0.0125, 0.0100, 90.0, ("PASS", "MISS")),    # ratio 1.25
    (0.0125, 0.0125, 200.0, ("MISS", "PASS")),   # the square peak is higher: 40% of it
    (0.0200, 0.0190, 90.0, ("MISS", "PASS")),    # 50% of peak, ratio 1.05
])
def test_target_verdicts_are_computed_from_the_rows(scratch_step, torch_step, square, verdicts) -> None:
    found = target_verdicts(_target_frame(scratch_step, torch_step, square), THREADS)
    fraction, ratio, threads, suite = found
    assert fraction["measured"] == pytest.approx(1.0 / scratch_step / max(100.0, square))
    assert ratio["measured"] == pytest.approx(scratch_step / torch_step)
    assert (fraction["verdict"], ratio["verdict"]) == verdicts
    assert threads["verdict"] == "PASS" and suite["verdict"] == "n/a"  # the BLAS NumPy does not call is ignored
    assert ratio["goal"].endswith(str(MAX_SCRATCH_OVER_TORCH))


def test_target_verdicts_flag_unequal_threads_and_a_slow_parity_suite() -> None:
    frame = pd.concat([_target_frame(0.0125, 0.0125, 90.0),
                       _frame([dict(section="parity_suite", name="suite", backend="both", seconds=75.0,
                                    note="54/54 passed")])])
    unequal = {"torch_threads": 2, "blas": [{"library": "openblas", "threads": 1, "numpy": True}]}
    _, _, threads, suite = target_verdicts(frame, unequal)
    assert threads["verdict"] == "MISS" and suite["verdict"] == "MISS" and suite["measured"] == 75.0
    assert "in-process" in suite["target"]  # what it measures, not the `python -m compare run` command


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
    settings = thread_settings()
    found = numpy_blas(settings)
    assert found and all(isinstance(entry["threads"], int) and entry["threads"] >= 1 for entry in found)
    loaded = {portable_library_path(info["filepath"]) for info in threadpool_info() if info.get("user_api") == "blas"}
    assert {entry["filepath"] for entry in settings["blas"]} == loaded
    assert not any(Path(entry["filepath"]).is_absolute() for entry in settings["blas"])
    assert settings["torch_threads"] == torch.get_num_threads()


def test_library_paths_name_no_folder_of_the_machine() -> None:
    assert portable_library_path("/home/u/.venv/lib/python3.11/site-packages/numpy.libs/libblas.so") == \
        "numpy.libs/libblas.so"
    assert portable_library_path("/usr/lib/x86_64-linux-gnu/libopenblas.so.0") == "libopenblas.so.0"
    assert portable_library_path(None) is None


def test_pinned_threads_sets_both_libraries_and_restores_the_previous_settings() -> None:
    before = thread_settings()
    pinned = 3 if before["torch_threads"] != 3 else 2
    with pinned_threads(pinned) as threads:
        inside = thread_settings()
    assert threads == pinned and inside["torch_threads"] == pinned
    assert {entry["threads"] for entry in inside["blas"]} == {pinned}
    assert thread_settings() == before


def test_pinned_threads_restores_the_settings_when_the_block_raises() -> None:
    before = thread_settings()
    with pytest.raises(RuntimeError), pinned_threads(2 if before["torch_threads"] != 2 else 3):
        raise RuntimeError("interrupted")
    assert thread_settings() == before


def test_sweeps_are_found_around_the_base_point_when_each_point_is_measured_once() -> None:
    full = plan(quick=False, dtypes=["float32"], devices=["cpu"])
    rows = [dict(section="dense", name="sweep", backend="scratch", device="cpu", dtype="float32", m=p.m,
                 width=p.width, depth=p.depth, seconds=1.0) for p in full.dense_points() if p != full.target]
    frame = _frame(rows)
    assert base_point(frame) == (full.base.m, full.base.width, full.base.depth)
    assert list(sweep(frame, "width")["width"]) == sorted(full.width_sweep)
    assert list(sweep(frame, "depth")["depth"]) == sorted(full.depth_sweep)
    assert list(sweep(frame, "m")["m"]) == sorted(full.m_sweep)


def test_target_verdicts_say_when_the_target_point_was_not_measured() -> None:
    fraction, ratio, threads, _ = target_verdicts(_frame([]), THREADS)
    assert fraction["verdict"] == ratio["verdict"] == "n/a" and "not measured" in fraction["shown"]
    assert threads["verdict"] == "PASS"


def test_speed_json_holds_the_data_that_speed_md_is_rendered_from(quick_bench) -> None:
    """The report and the site render the speed section from ``speed.json``; it gives speed.md exactly."""
    _, out = quick_bench
    report = load_speed(out)
    assert report is not None
    assert speed_markdown(report) == (out / "speed.md").read_text()
    csv = pd.read_csv(out / "speed.csv")
    assert list(report.bench.frame.columns) == COLUMNS and len(report.bench.frame) == len(csv)
    timed = report.bench.frame["seconds"].notna()
    assert report.bench.frame.loc[timed, "seconds"].to_numpy() == pytest.approx(csv.loc[timed, "seconds"], rel=1e-5)
    assert report.bench.verdicts == json.loads((out / "speed.json").read_text())["targets"]
    assert all((out / image).is_file() for image in report.images)


def test_bench_result_round_trips_through_json() -> None:
    frame = bench_frame([dict(section="dispatch", name="x + y", backend="scratch", device="cpu", dtype="float32",
                              m=64, seconds=1.5e-6, q25=1.4e-6, q75=1.6e-6, samples=5, per_block=1000),
                         dict(section="optimizer", name="SGD fused", backend="torch", device="cpu", dtype="float32",
                              note="unavailable: RuntimeError")])
    result = BenchResult(frame, [{"target": "t", "verdict": "n/a"}], {"torch_threads": 1, "blas": []}, 1, 2.0,
                         True, "cpu", (0.5, 0.25, 0.125))
    again = BenchResult.from_json(json.loads(json.dumps(result.to_json())))
    pd.testing.assert_frame_equal(again.frame, frame)
    assert again.frame["m"].isna().tolist() == [False, True]
    assert (again.verdicts, again.threads, again.threads_pinned, again.seconds, again.quick, again.clock,
            again.load_average) == (result.verdicts, result.threads, 1, 2.0, True, "cpu", (0.5, 0.25, 0.125))


def test_a_speed_json_that_is_not_bench_data_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "speed.json").write_text('{"environment": {}}\n')
    with pytest.raises(ValueError, match="speed.json is not the data of a `python -m compare bench` run"):
        load_speed(tmp_path)
    assert load_speed(tmp_path / "nothing here") is None


def test_quick_bench_runs_each_concepts_own_section(quick_bench) -> None:
    _, out = quick_bench
    frame = pd.read_csv(out / "speed.csv")
    micro = frame[frame["section"] == MICROBENCH]
    conv = micro[micro["name"].str.startswith("conv ")]
    assert set(conv["note"]) == {"loops", "im2col", "fast", GEMM_NOTE, "F.conv2d + autograd"}
    assert (conv["seconds"] > 0).all() and (conv["gflops"] > 0).all()
    lstm = micro[micro["name"].str.startswith("LSTM")]
    assert set(lstm["note"]) == {rnn_cases.SCRATCH_NOTE, rnn_cases.MATMUL_NOTE, rnn_cases.TORCH_NOTE}
    assert (lstm["seconds"] > 0).all()
    text = (out / "speed.md").read_text()
    for name in set(micro["name"]):
        assert f"### {name}: forward + backward" in text
    targets = {line["target"] for line in json.loads((out / "speed.json").read_text())["targets"]}
    assert any(target.startswith("fast conv vs torch CPU") for target in targets)
    assert any(target.startswith("scratch LSTM vs torch CPU") for target in targets)


def test_every_concept_bench_belongs_to_a_registered_concept() -> None:
    concepts = {case.concept for case in select([])}
    assert CONCEPT_BENCHES and {bench.concept for bench in CONCEPT_BENCHES.values()} <= concepts
    assert concept_benches({"conv"}) == [bench for bench in CONCEPT_BENCHES.values() if bench.concept == "conv"]


def _conv_frame(fast: float, torch_cpu: float, gemm_fraction: float, name: str) -> pd.DataFrame:
    rows = [dict(section=MICROBENCH, name=name, backend="scratch", device="cpu", dtype="float32", seconds=s,
                 note=note, fraction_of_peak=fraction)
            for note, s, fraction in (("loops", 9.0, 0.0), ("fast", fast, 0.2), (GEMM_NOTE, fast / 2, gemm_fraction))]
    rows.append(dict(section=MICROBENCH, name=name, backend="torch", device="cpu", dtype="float32",
                     seconds=torch_cpu, note="F.conv2d + autograd"))
    rows.append(dict(section=MICROBENCH, name="conv 3x32x32 -> 32, 3x3", backend="torch", device="cpu",
                     dtype="float32", seconds=100.0, note="F.conv2d + autograd"))  # the other layer is not judged
    return _frame(rows)


@pytest.mark.parametrize(("fast", "torch_cpu", "gemm", "expected"), [
    (1.2, 1.0, 0.7, ["PASS", "PASS"]),
    (1.6, 1.0, 0.7, ["MISS", "PASS"]),
    (1.0, 1.0, 0.5, ["PASS", "MISS"]),
])
def test_conv_verdicts_judge_the_gemm_heavy_layer(fast, torch_cpu, gemm, expected) -> None:
    lines = conv_verdicts(_conv_frame(fast, torch_cpu, gemm, conv_layer_name(*BENCH_LAYERS[-1])))
    assert [line["verdict"] for line in lines] == expected
    assert lines[0]["measured"] == pytest.approx(fast / torch_cpu) and lines[1]["measured"] == gemm


def test_conv_verdicts_say_when_nothing_was_measured() -> None:
    assert [line["verdict"] for line in conv_verdicts(_frame([]))] == ["n/a", "n/a"]


def _lstm_frame(scratch: float, matmuls: float, torch_cpu: float) -> pd.DataFrame:
    name = rnn_cases.lstm_name(*rnn_cases.LSTM_POINT[1:])
    return _frame([dict(section=MICROBENCH, name=name, backend=backend, device="cpu", dtype="float32", seconds=s,
                        note=note)
                   for backend, note, s in (("scratch", rnn_cases.SCRATCH_NOTE, scratch),
                                            ("scratch", rnn_cases.MATMUL_NOTE, matmuls),
                                            ("torch", rnn_cases.TORCH_NOTE, torch_cpu))])


@pytest.mark.parametrize(("scratch", "torch_cpu", "expected"), [(1.5, 1.0, "PASS"), (2.5, 1.0, "MISS")])
def test_lstm_verdict_judges_the_ratio_and_shows_the_matmul_share(scratch: float, torch_cpu: float,
                                                                  expected: str) -> None:
    (line,) = rnn_cases.lstm_verdicts(_lstm_frame(scratch, scratch / 4, torch_cpu))
    assert line["verdict"] == expected and line["measured"] == pytest.approx(scratch / torch_cpu)
    assert "25% of scratch's time in its matmuls" in line["shown"]
    assert [line["verdict"] for line in rnn_cases.lstm_verdicts(_frame([]))] == ["n/a"]


def test_lstm_matmuls_are_the_products_of_the_counted_flops(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timed matmuls make exactly the products :func:`lstm_matmul_flops` counts (quick point)."""
    m, n_h, T = rnn_cases.QUICK_LSTM_POINT
    net = rnn_cases.sr.RecurrentNet(cell="lstm", n_x=n_h, n_h=n_h, n_y=10, head="many_to_one")
    rng = np.random.default_rng(0)
    params = net.init_params(rng, "float32")
    matmuls = rnn_cases.lstm_matmuls(net, params, rng.standard_normal((n_h, m, T)).astype(np.float32))
    counted: list[int] = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda a, b: counted.append(2 * a.shape[0] * a.shape[1] * b.shape[1]) or
                        real(a, b))
    matmuls()
    assert len(counted) == 2 * T + 4 + 3 and sum(counted) == rnn_cases.lstm_matmul_flops(m, n_h, n_h, T, 10)


# --- a bench spread over ranks (``bench --jobs N``) ---------------------------------------------------------------

def test_each_rank_s_rows_are_divided_by_that_rank_s_own_peak() -> None:
    rows = []
    for rank, peak in ((0, 100.0), (1, 50.0)):
        common = dict(backend="scratch", device="cpu", dtype="float32", rank=rank)
        rows += [dict(common, section="matmul_peak", name="matmul 256x256", gflops=peak),
                 dict(common, section="dense", name="sweep", gflops=25.0)]
    frame = _frame(rows)
    dense = frame[frame["section"] == "dense"]
    assert list(dense["peak_gflops"]) == [100.0, 50.0] and list(dense["fraction_of_peak"]) == [0.25, 0.5]


def test_the_deal_gives_each_rank_its_own_peak_and_every_other_section_once() -> None:
    sections = [Section(title, list, seconds) for title, seconds in
                (("matmul peak", 1.0), ("a", 47.0), ("b", 12.0), ("c", 4.0), ("d", 3.0), ("e", 1.0))]
    deal = bench_deal(sections, 2)
    assert [share[0] for share in deal] == [0, 1]  # jobs 0 and 1 are the peaks of ranks 0 and 1
    assert sorted(index for share in deal for index in share) == list(range(2 + len(sections) - 1))
    loads = [sum(sections[index - 1].seconds for index in share[1:]) for share in deal]
    assert sorted(loads) == [20.0, 47.0]  # the longest alone on one rank, the rest on the other


def test_a_spread_bench_result_says_how_each_rank_ran() -> None:
    frame = bench_frame([dict(section="matmul_peak", name="matmul 256x256", backend="scratch", device="cpu",
                              dtype="float32", seconds=1e-3, gflops=33.0, rank=rank) for rank in (0, 1)])
    settings = {"torch_threads": 1, "blas": [{"library": "openblas", "version": "0", "threads": 1, "numpy": True}]}
    ranks = tuple({"rank": rank, "node": 0, "local_rank": rank, "local_world": 2, "threads": 1, "cores": [rank],
                   "available_cores": 2, "sections": {"matmul peak": 0.5}, "seconds": 0.5,
                   "thread_settings": settings} for rank in (0, 1))
    result = BenchResult(frame, [], settings, 1, 2.0, True, "wall", (0.5, 0.25, 0.125), ranks)
    again = BenchResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.ranks == ranks and list(again.frame["rank"]) == [0, 1]
    assert "ranks" not in BenchResult(frame, [], settings, 1, 2.0, True, "wall", (0, 0, 0)).to_json()
    text = speed_markdown(SpeedReport(result, {"cpu": "a CPU", "cpu_count": 2}))
    assert "spread over 2 processes" in text and "### Spread over 2 processes" in text
    assert "| 1 | 0 | 1 | 1 | matmul peak (0.5 s) |" in text  # rank 1 on machine 0, 1 thread, core 1
    assert "| rank | backend | device | dtype |" in text  # one matmul peak per rank


def test_pinned_cores_pins_the_threads_already_running_and_restores_them() -> None:
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this OS")
    before = os.sched_getaffinity(0)
    core = min(before)
    started, release = threading.Event(), threading.Event()
    worker = threading.Thread(target=lambda: (started.set(), release.wait()))
    worker.start()
    started.wait()
    try:
        with pinned_cores([core]) as cores:
            assert cores == [core] and os.sched_getaffinity(worker.native_id) == {core}
            assert os.sched_getaffinity(0) == {core}
        assert os.sched_getaffinity(worker.native_id) == before and os.sched_getaffinity(0) == before
        with pinned_cores(None) as cores:
            assert cores is None and os.sched_getaffinity(0) == before
    finally:
        release.set()
        worker.join()
