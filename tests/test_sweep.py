"""Sweeps spread over processes (compare.core.sweep): the shares, the records, and what a failing rank leaves.

The two-rank tests start real processes on gloo (``torch.multiprocessing`` spawn, the environment torchrun would
set), so they pay two interpreter starts and are marked slow. Each rank is pinned to one thread, and the
single-process reference too: OpenBLAS and torch may split a product or a sum differently with another thread
count, so only runs with the same threads per process are expected to agree bit for bit.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st

from compare.cli import main
from compare.core.problem import Problem
from compare.core.registry import Case, load_case, register, select
from compare.core.sweep import Ranks, SweepFailed, deal_by_cost
from compare.perf.microbench import ConceptBench, register_concept_bench
from compare.perf.timing import pinned_threads
from compare.report.build import make_report, run_all, run_studies

#: A small grid of cheap cases: two concepts, both dtypes, two seeds.
GRID = {"dtypes": ("float64", "float32"), "devices": ["cpu"], "seeds": [0, 1], "steps": 20, "timed": False}
NAMES = ["logistic_regression", "normalization"]
#: Two concepts whose studies are quick in a quick report.
STUDY_CONCEPTS = ["augmentation", "normalization"]
#: The fields that carry no time: they must be bit-identical between a spread and a single-process run.
TIMED_FIELDS = {"scratch_seconds_per_step", "torch_seconds_per_step", "scratch_seconds_spread",
                "torch_seconds_spread", "load_per_core"}
#: A quick bench of these concepts has every kind of section: peak, dispatch, concepts, vectorization, dense.
BENCH = ["bench", "--quick", "--device", "cpu", "--dtype", "float64", "logistic_regression", "deep_net"]
#: What identifies a bench row (the rest is measured).
ROW_KEY = ["section", "name", "backend", "device", "dtype", "m", "width", "depth"]
ROOT = Path(__file__).resolve().parents[1]


@settings(deadline=None)  # no test depends on the machine's speed
@given(count=st.integers(0, 50), world=st.integers(1, 6))
def test_the_shares_deal_every_job_to_exactly_one_rank(count: int, world: int) -> None:
    shares = [list(Ranks(rank, world, rank, world).share(count)) for rank in range(world)]
    assert sorted(index for share in shares for index in share) == list(range(count))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


@settings(deadline=None)
@given(cases=st.integers(1, 40), world=st.integers(2, 4), heavy=st.floats(1.0, 100.0))
def test_the_rotating_deal_spreads_a_grid_of_alike_rounds(cases: int, world: int, heavy: float) -> None:
    # Each case's first job is the heavy one (its float64 run with the gradient check): round-robin would give
    # all of them to rank 0; the rotating deal leaves the ranks' loads within one heavy job of each other.
    costs = [heavy if index % world == 0 else 1.0 for index in range(cases * world)]
    loads = [sum(costs[i] for i in Ranks(rank, world, rank, world).share(len(costs))) for rank in range(world)]
    assert max(loads) - min(loads) <= heavy


@settings(deadline=None)
@given(available=st.sets(st.integers(0, 63), max_size=20), local_world=st.integers(1, 6))
def test_local_ranks_take_disjoint_equal_shares_of_the_cores(available: set[int], local_world: int) -> None:
    shares = [Ranks(rank, local_world, rank, local_world).cores(available) for rank in range(local_world)]
    if len(available) < local_world:  # not a core each: nobody is pinned, they share all of them
        assert shares == [None] * local_world
        return
    assert len({len(share) for share in shares}) == 1 and len(shares[0]) == len(available) // local_world
    pinned = [core for share in shares for core in share]
    assert len(pinned) == len(set(pinned)) and set(pinned) <= available


def test_ranks_come_from_torchruns_environment() -> None:
    assert Ranks.from_environment({}) == Ranks() and not Ranks().spread
    ranks = Ranks.from_environment({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert ranks == Ranks(3, 4, 1, 2) and ranks.spread and not ranks.leader
    assert ranks.threads(cores=2) == 1 and ranks.threads(cores=7) == 3 and Ranks().threads(cores=2) == 2
    assert ranks.label() == "rank 3/4: " and Ranks().label() == ""
    with pytest.raises(ValueError, match="rank 4 of 4"):
        Ranks.from_environment({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="must be integers"):
        Ranks.from_environment({"RANK": "one", "WORLD_SIZE": "4"})


def test_a_case_travels_between_processes_by_name() -> None:
    case = load_case("logistic_regression/loop")
    assert pickle.loads(pickle.dumps(case)) is case


def test_jobs_under_torchrun_must_match_its_processes(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(key, value)
    assert main(["run", "logistic_regression/loop", "--jobs", "3"]) == 2
    assert "--jobs 3: this process is one of 2 that torchrun started" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_rank(rank: int, world: int, port: int) -> Ranks:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    return Ranks.from_environment()


def _records_rank(rank: int, port: int, out: Path) -> None:
    """One rank of the two-rank grid; rank 0 pickles the gathered records into ``out``."""
    from compare.core.sweep import sweep_group

    ranks = _as_rank(rank, 2, port)
    with sweep_group(ranks), pinned_threads(1):
        runs = run_all(select(NAMES), **GRID, ranks=ranks)
    assert (runs is None) == (rank != 0)
    if runs is not None:
        out.write_bytes(pickle.dumps([run.record() for run in runs]))


def _spawn(target: object, *args: object) -> list[int | None]:
    context = mp.get_context("spawn")
    port = _free_port()
    processes = [context.Process(target=target, args=(rank, port, *args)) for rank in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=900)  # a safety net against a hung test, far beyond the few seconds it takes
    return [process.exitcode for process in processes]


@pytest.mark.slow
def test_two_ranks_write_the_same_records_as_one_process(tmp_path: Path) -> None:
    assert _spawn(_records_rank, tmp_path / "records.pkl") == [0, 0]
    spread = pickle.loads((tmp_path / "records.pkl").read_bytes())
    with pinned_threads(1):
        single = [run.record() for run in run_all(select(NAMES), **GRID)]
    assert len(spread) == len(single) == 4 * 2 * 2  # 2 variants each of 2 concepts, 2 dtypes, 2 seeds
    for index, (a, b) in enumerate(zip(spread, single, strict=True)):
        assert a.keys() == b.keys()
        for field in sorted(a.keys() - TIMED_FIELDS):
            assert a[field] == b[field] or (a[field] != a[field] and b[field] != b[field]), (index, field)


def _studies_rank(rank: int, port: int, out: Path) -> None:
    """One rank of two running the quick studies of two concepts; rank 0 writes them into ``out``."""
    from compare.core.sweep import sweep_group

    ranks = _as_rank(rank, 2, port)
    out.mkdir(exist_ok=True)
    with sweep_group(ranks), pinned_threads(1):
        outputs = run_studies(select(STUDY_CONCEPTS), out if ranks.leader else None, quick=True, ranks=ranks)
    if outputs is not None:
        (out / "outputs.pkl").write_bytes(pickle.dumps(outputs))


@pytest.mark.slow
def test_two_ranks_share_the_studies_and_rank_0_writes_their_files(tmp_path: Path) -> None:
    assert _spawn(_studies_rank, tmp_path / "spread") == [0, 0]
    spread = pickle.loads((tmp_path / "spread" / "outputs.pkl").read_bytes())
    with pinned_threads(1):
        single = run_studies(select(STUDY_CONCEPTS), tmp_path / "single", quick=True)
    assert len(single) >= 2 and spread == single
    files = {path.relative_to(tmp_path / "single").as_posix() for path in (tmp_path / "single").rglob("*.png")}
    assert files and files == {path.relative_to(tmp_path / "spread").as_posix()
                               for path in (tmp_path / "spread").rglob("*.png")}
    assert files == {image for _, _, output in single for image in output.images}


def _fails(problem_seed: int, dtype: np.dtype) -> Problem:
    raise RuntimeError("a case that fails on purpose")


def _dies(problem_seed: int, dtype: np.dtype) -> Problem:
    os._exit(3)  # as a rank killed by the machine: no exception, no goodbye


def _terminated(problem_seed: int, dtype: np.dtype) -> Problem:
    os.kill(os.getpid(), signal.SIGTERM)  # as torchrun stops the survivors when another rank has failed
    raise AssertionError("SIGTERM must stop the rank before this line")


def _failing_rank(rank: int, port: int, out: Path, make_problem: object) -> None:
    """One rank of a report whose second job (rank 1's first) fails; rank 0 pickles the error it raised."""
    from compare.core.sweep import sweep_group

    failing = Case("sweep_test", "broken", "a test-only case", make_problem, scratch=None, torch=None)  # type: ignore[arg-type]
    register(failing)
    ranks = _as_rank(rank, 2, port)
    try:
        with sweep_group(ranks):
            make_report(out, names=["logistic_regression/loop", "sweep_test/broken"], seeds=range(1), quick=True,
                        ranks=ranks)
    except SweepFailed as error:
        (out.parent / f"error-{rank}.txt").write_text(str(error))


@pytest.mark.slow
@pytest.mark.parametrize(("make_problem", "how"), [(_fails, "raises"), (_dies, "dies"), (_terminated, "stopped")])
def test_a_failing_rank_leaves_the_previous_report_untouched(tmp_path: Path, make_problem: object,
                                                             how: str) -> None:
    out = tmp_path / "results"
    out.mkdir()
    previous = {"report.md": b"# the previous report\n", "report.json": b'{"kind": "partial"}\n',
                "runs.json": b"[]\n"}
    for name, data in previous.items():
        (out / name).write_bytes(data)
    exitcodes = _spawn(_failing_rank, out, make_problem)
    assert sorted(path.name for path in out.iterdir()) == sorted(previous)  # no staging folder left either
    assert {name: (out / name).read_bytes() for name in previous} == previous
    error = (tmp_path / "error-0.txt").read_text()
    if how == "raises":
        assert exitcodes == [0, 0]
        for rank in (0, 1):  # rank 0 broadcasts the failure, so rank 1 stops too instead of going on alone
            assert ("sweep_test/broken cpu float64 seed=0 failed on rank 1: RuntimeError: a case that fails on "
                    "purpose") in (tmp_path / f"error-{rank}.txt").read_text()
    elif how == "dies":
        assert exitcodes == [0, 3]
        assert "rank 1 had not finished (last started: sweep_test/broken cpu float64 seed=0)" in error
    else:
        assert exitcodes == [0, 0]
        assert "rank 1 had not finished (last started: sweep_test/broken cpu float64 seed=0)" in error
        assert "rank 1 was stopped by SIGTERM" in (tmp_path / "error-1.txt").read_text()


@settings(deadline=None)
@given(costs=st.lists(st.floats(0.0, 1000.0), max_size=20), world=st.integers(1, 4))
def test_dealing_by_cost_gives_every_job_to_one_rank(costs: list[float], world: int) -> None:
    deal = deal_by_cost(costs, world)
    assert sorted(index for share in deal for index in share) == list(range(len(costs)))
    assert all(share == sorted(share) for share in deal) and deal == deal_by_cost(costs, world)


def test_dealing_by_cost_counts_the_work_a_rank_already_has() -> None:
    # Rank 0 draws the loss figures (about 64 s) before its studies; the deal gives it less to make up for it.
    seconds = [3, 1, 14, 20, 13, 7, 11, 25, 9, 27, 4, 52, 12]
    deal = deal_by_cost(seconds, 2, preload=[64.0])
    loads = [64.0 + sum(seconds[i] for i in deal[0]), sum(seconds[i] for i in deal[1])]
    assert abs(loads[0] - loads[1]) <= max(seconds) and sum(seconds[i] for i in deal[0]) < sum(seconds) / 2


def test_dealing_by_cost_separates_the_two_longest_studies() -> None:
    # The full report's study seconds in study order (measured 2026-12-02): round-robin gives rank 1 both giants.
    seconds = [3.6, 0.5, 11.3, 19.6, 10.9, 46.2, 15.7, 10.4, 25.8, 218.1, 5.6, 187.7]
    assert {9, 11} <= set(range(1, len(seconds), 2))  # round-robin's share of rank 1
    deal = deal_by_cost(seconds, 2)
    loads = [sum(seconds[i] for i in share) for share in deal]
    assert (9 in deal[0]) != (11 in deal[0]) and max(loads) < 0.55 * sum(seconds)


def _rows(out: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    data = json.loads((out / "speed.json").read_text())
    return data["rows"], data.get("ranks", [])


@pytest.mark.slow
def test_two_ranks_bench_the_same_rows_as_one_process(tmp_path: Path) -> None:
    assert main([*BENCH, "--jobs", "2", "--out", str(tmp_path / "spread")]) == 0  # torchrun, two processes
    assert main([*BENCH, "--jobs", "1", "--out", str(tmp_path / "single")]) == 0  # this process, as today
    spread, ranks = _rows(tmp_path / "spread")
    single, no_ranks = _rows(tmp_path / "single")
    assert no_ranks == [] and {row["rank"] for row in single} == {None}
    keys = Counter(tuple(row[k] for k in ROW_KEY) for row in spread)
    peak_rows = Counter(tuple(row[k] for k in ROW_KEY) for row in single if row["section"] == "matmul_peak")
    assert keys == Counter(tuple(row[k] for k in ROW_KEY) for row in single) + peak_rows  # each rank's own peak
    assert [rank["rank"] for rank in ranks] == [0, 1] and {row["rank"] for row in spread} == {0, 1}
    titles = [title for rank in ranks for title in rank["sections"]]
    assert titles.count("matmul peak") == 2 and len(set(titles)) == len(titles) - 1
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if available >= 2:  # a core of its own each, one thread per core
        assert not set(ranks[0]["cores"]) & set(ranks[1]["cores"])
        assert all(rank["threads"] == len(rank["cores"]) for rank in ranks)
    else:
        assert [rank["cores"] for rank in ranks] == [None, None] and all(rank["threads"] == 1 for rank in ranks)
    for row in spread:  # every fraction of peak is against the peak of the rank that measured the row
        if row["peak_gflops"] is not None:
            own = [other["gflops"] for other in spread if other["rank"] == row["rank"]
                   and (other["section"] == "matmul_peak" or (other["section"] == "targets"
                                                               and other["name"].startswith("matmul")))
                   and (other["backend"], other["dtype"]) == (row["backend"], row["dtype"])]
            assert row["peak_gflops"] == max(own), row["name"]
    assert "### Spread over 2 processes" in (tmp_path / "spread" / "speed.md").read_text()


def _bench_section_fails(plan: object) -> list[dict[str, object]]:
    raise RuntimeError("a section that fails on purpose")


def _bench_section_dies(plan: object) -> list[dict[str, object]]:
    os._exit(3)


def _failing_bench_rank(rank: int, port: int, out: Path, measure: object) -> None:
    """One rank of a quick bench with a section that fails; the deal (by declared seconds) gives it to rank 1."""
    register_concept_bench(ConceptBench("logistic_regression", "a failing section", measure, quick_seconds=0.1))
    _as_rank(rank, 2, port)
    with (out.parent / f"stderr-{rank}.txt").open("w") as stderr, contextlib.redirect_stderr(stderr):
        status = main(["bench", "--quick", "--device", "cpu", "--dtype", "float64", "logistic_regression",
                       "--out", str(out)])
    (out.parent / f"status-{rank}.txt").write_text(str(status))


@pytest.mark.slow
@pytest.mark.parametrize(("measure", "how"), [(_bench_section_fails, "raises"), (_bench_section_dies, "dies")])
def test_a_failing_bench_rank_leaves_the_previous_speed_files_untouched(tmp_path: Path, measure: object,
                                                                       how: str) -> None:
    out = tmp_path / "results"
    (out / "plots").mkdir(parents=True)
    previous = {"speed.csv": b"section,name\n", "speed.json": b'{"rows": []}\n', "speed.md": b"## Speed\n",
                "plots/speed_gflops.png": b"not a png"}
    for name, data in previous.items():
        (out / name).write_bytes(data)
    exitcodes = _spawn(_failing_bench_rank, out, measure)
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()) == sorted(previous)
    assert {name: (out / name).read_bytes() for name in previous} == previous
    assert (tmp_path / "status-0.txt").read_text() == "1"  # rank 0 says the bench failed
    error = (tmp_path / "stderr-0.txt").read_text()
    assert "the sweep failed, nothing was written" in error
    if how == "raises":
        assert exitcodes == [0, 0]
        assert "a failing section failed on rank 1: RuntimeError: a section that fails on purpose" in error
    else:
        assert exitcodes == [0, 3]
        assert "rank 1 had not finished (last started: a failing section)" in error


#: The quick report that two emulated machines share.
LOOPBACK = ["normalization"]


def _stop_group(process: subprocess.Popen) -> None:
    """Kill a launcher and its workers (its own session) if a failed test left it running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.slow
def test_two_machines_on_loopback_write_the_same_records_as_one_process(tmp_path: Path) -> None:
    """Two torchrun agents, each a "machine" with one process, meet through a c10d rendezvous on 127.0.0.1 (node 0
    hosts its store), as on a cluster: whichever gets rank 0 writes its ``--out``; the other writes nothing."""
    port = _free_port()
    nodes = []
    with contextlib.ExitStack() as logs_open:
        for node in (0, 1):
            command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                       "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"loop{port}",
                       "--rdzv-conf", f"is_host={int(node == 0)}", "--local-addr", "127.0.0.1", "--max-restarts",
                       "0", "-m", "compare", "report", *LOOPBACK, "--quick", "--out", str(tmp_path / f"node{node}")]
            log = logs_open.enter_context((tmp_path / f"node{node}.log").open("w"))
            nodes.append(subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
            logs_open.callback(_stop_group, nodes[-1])
        exitcodes = [node.wait(timeout=900) for node in nodes]  # a guard against a hang, not a deadline
    logs = [(tmp_path / f"node{node}.log").read_text() for node in (0, 1)]
    assert exitcodes == [0, 0], logs
    written = [node for node in (0, 1) if (tmp_path / f"node{node}" / "runs.json").is_file()]
    assert len(written) == 1 and not (tmp_path / f"node{1 - written[0]}").exists()
    assert "rank 0/2" in logs[written[0]] and "rank 1/2" in logs[1 - written[0]]
    spread = json.loads((tmp_path / f"node{written[0]}" / "runs.json").read_text())
    with pinned_threads(1):  # a quick report runs on one thread
        runs = run_all(select(LOOPBACK), dtypes=["float64"], devices=["cpu"], seeds=[0], quick=True)
    single = json.loads(json.dumps([run.record() for run in runs], default=str))  # as runs.json holds them
    assert len(spread) == len(single) == 2
    for index, (a, b) in enumerate(zip(spread, single, strict=True)):
        assert a.keys() == b.keys()
        for field in sorted(a.keys() - TIMED_FIELDS):
            assert a[field] == b[field] or (a[field] != a[field] and b[field] != b[field]), (index, field)
