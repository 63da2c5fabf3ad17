"""Smoke test of ``python -m compare bench --quick`` and unit tests of the bench's arithmetic."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from compare.bench import COLUMNS, DensePoint, dense_flops, plan
from compare.cli import main
from compare.speed_report import crossover, seconds_text


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
    # each backend's best matmul defines its own peak, so the peak row is exactly at fraction 1
    best = matmul.loc[matmul.groupby(["backend", "dtype"])["gflops"].idxmax()]
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
