"""Data parallelism: the scratch ring all-reduce (on paper and against ``dist.all_reduce`` in a real gloo group),
the data-parallel gradient against the full batch, and real DDP processes against scratch.

The tests that start processes share one 2-rank gloo group (:func:`compare.cases.data_parallel.acquire_group`
hands the same group to each in turn): starting a rank imports torch, about 10 s of CPU per rank. Ranks are
waited for through their pipes and process sentinels, never slept for.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compare.cases.data_parallel as dpc
import scratch.data_parallel as sdp
import scratch.deep_net as dn
import torch_ref.data_parallel as tdp
from compare.core.parity import rounding_floor
from compare.core.registry import select
from compare.core.runner import run_case

SETTINGS = dict(deadline=None, derandomize=True, max_examples=40)
#: 16 roundoffs of terms of scale 1: how far two summation orders of a gradient may differ (compare.core.parity).
FLOOR = rounding_floor("float64")


def _fold_in_ring_order(buffers: list[np.ndarray], chunk: int) -> np.ndarray:
    """Chunk ``chunk``'s sum as the ring forms it: ``g_c``, then ``g_{c+1} + that``, ..., round the ring."""
    n = len(buffers)
    total = buffers[chunk].copy()
    for step in range(1, n):
        total = buffers[(chunk + step) % n] + total
    return total


# ------------------------------------------------------------------ the ring on paper (no processes)


@settings(**SETTINGS)
@given(length=st.integers(0, 200), n=st.integers(1, 9))
def test_chunks_cover_the_vector_and_differ_by_at_most_one(length: int, n: int) -> None:
    bounds = sdp.chunk_bounds(length, n)
    sizes = [stop - start for start, stop in bounds]
    assert len(bounds) == n and bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@settings(**SETTINGS)
@given(length=st.integers(0, 60), n=st.integers(1, 7), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float64", "float32"]))
def test_ring_sums_in_its_documented_order_and_every_worker_gets_the_same_sum(length: int, n: int, seed: int,
                                                                              dtype: str) -> None:
    rng = np.random.default_rng(seed)
    buffers = [rng.standard_normal(length).astype(dtype) for _ in range(n)]
    reduced, traffic = sdp.ring_all_reduce(buffers)
    for k in range(1, n):
        assert reduced[k].tobytes() == reduced[0].tobytes()
    for c, (start, stop) in enumerate(sdp.chunk_bounds(length, n)):
        expected = _fold_in_ring_order([b[start:stop] for b in buffers], c)
        assert reduced[0][start:stop].tobytes() == expected.tobytes(), f"chunk {c}"
    np.testing.assert_allclose(reduced[0], np.sum(buffers, axis=0), rtol=0, atol=n * 8 * np.finfo(dtype).eps)
    assert traffic.rounds == 2 * (n - 1)


@settings(**SETTINGS)
@given(length=st.integers(0, 300), n=st.integers(1, 8))
def test_each_worker_sends_two_n_minus_one_chunks(length: int, n: int) -> None:
    buffers = [np.full(length, float(k)) for k in range(n)]
    reduced, traffic = sdp.ring_all_reduce(buffers)
    assert np.array_equal(reduced[0], np.full(length, float(sum(range(n)))))  # small integers: exact in any order
    sizes = [stop - start for start, stop in sdp.chunk_bounds(length, n)]
    for k in range(n):  # every chunk but (k+1) in the reduce-scatter, every chunk but (k+2) in the all-gather
        assert traffic.sent_bytes[k] == 8 * (2 * length - sizes[(k + 1) % n] - sizes[(k + 2) % n]) * (n > 1)
    if n > 1 and length % n == 0 and length:
        assert traffic.per_worker_fraction == pytest.approx(2 * (n - 1) / n, rel=0, abs=1e-15)


def test_ring_rejects_mismatched_buffers_and_an_empty_ring() -> None:
    with pytest.raises(ValueError, match=r"buffers\[1\] is float32 \(3,\)"):
        sdp.ring_all_reduce([np.zeros(3), np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match="one array per worker"):
        sdp.ring_all_reduce([])
    with pytest.raises(ValueError, match="n_workers \\(5\\) must not exceed"):
        sdp.shard_indices(4, 5)
    with pytest.raises(ValueError, match="weighting must be one of workers, examples"):
        sdp.worker_weights([2, 2], "mean")


def _flower_problem(m: int):
    """The case's net and data, with ``m`` examples."""
    return dpc.deep_problem(0, np.dtype("float64"), layer_dims=dpc.LAYER_DIMS,
                            dataset=dpc.datasets.planar_flower(m=m, seed=1), hidden_activation="tanh", init="xavier")


@pytest.mark.parametrize("n", [2, 3, 4])
def test_equal_shards_give_the_full_batch_gradient_to_rounding(n: int) -> None:
    problem = _flower_problem(600)
    X, Y, params = problem.data["X"], problem.data["Y"], problem.params
    cost, grads = dn.loss_and_grads(params, X, Y, hidden_activation="tanh")
    for weighting in sdp.WEIGHTINGS:
        dp_cost, dp_grads, _ = sdp.data_parallel_loss_and_grads(params, X, Y, n, hidden_activation="tanh",
                                                                weighting=weighting)
        assert dp_cost == pytest.approx(float(cost), rel=1e-14)
        for name, value in grads.items():  # db3 is a cancellation: measured on the scale of its terms (1/2)
            assert np.max(np.abs(dp_grads[name] - value)) <= max(1e-14 * np.max(np.abs(value)), FLOOR), (
                weighting, name)


def test_uneven_shards_need_example_weights() -> None:
    """602 examples on 4 workers: shards of 151, 151, 150, 150. DDP's 1/N weights average the workers' means,
    which overweights the small shards' examples; ``m_k / m`` weights give the full-batch gradient."""
    problem = _flower_problem(602)
    X, Y, params = problem.data["X"], problem.data["Y"], problem.params
    _, grads = dn.loss_and_grads(params, X, Y, hidden_activation="tanh")
    errors = {}
    for weighting in sdp.WEIGHTINGS:
        _, dp_grads, _ = sdp.data_parallel_loss_and_grads(params, X, Y, 4, hidden_activation="tanh",
                                                          weighting=weighting)
        errors[weighting] = max(np.max(np.abs(dp_grads[k] - v)) for k, v in grads.items())
    assert errors["examples"] <= FLOOR
    assert errors["workers"] > 1e3 * FLOOR  # a real difference, far above rounding


# ------------------------------------------------------------------ real processes: a 2-rank gloo group


@pytest.fixture
def gloo_pair():
    with dpc.borrowed_group(2) as group:
        yield group


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ring_all_reduce_matches_dist_all_reduce_on_awkward_sizes(gloo_pair, dtype: str) -> None:
    """Two ranks: a + b does not depend on the order, so the ring and gloo's all-reduce agree bit for bit."""
    rng = np.random.default_rng(7)
    for length in (1, 3, 7, 101, 1001):
        buffers = [(rng.standard_normal(length) * 10.0 ** rng.integers(-3, 4, length)).astype(dtype)
                   for _ in range(2)]
        replies = gloo_pair.request_each([("all_reduce", buffer) for buffer in buffers])
        reduced, _ = sdp.ring_all_reduce(buffers)
        for rank, (kind, value) in enumerate(replies):
            assert kind == "reduced" and value.dtype == np.dtype(dtype)
            assert value.tobytes() == reduced[rank].tobytes(), (length, rank)


def test_ddp_on_two_gloo_processes_follows_the_scratch_ring() -> None:
    """20 steps of real DDP against the scratch ring (the run borrows the pooled pair the tests above used)."""
    (case,) = select(["data_parallel/ring_2workers"])
    run = run_case(case, seed=3, steps=20)
    assert run.passed, run.summary()
    assert run.parity.max_rel_overall < 1e-12
    assert run.scratch.losses[-1] < run.scratch.losses[0]  # it trains


def test_a_rank_that_dies_does_not_hang_its_peer(gloo_pair) -> None:
    """Rank 0 waits in an all-reduce for rank 1, which is killed: the next request fails naming a dead rank (from
    a process sentinel or a broken pipe, not from a deadline: waiting out the group's timeout would raise "did not
    answer within", which the match rejects), and the whole group is shut down. Which rank is named is a race:
    gloo may fail rank 0's collective, and rank 0 exit, before the request reaches it. No wall-clock bound: on a
    loaded machine any fixed one can fail. (Last of the tests on the pooled pair.)"""
    gloo_pair.conns[0].send(("all_reduce", np.ones(5)))  # rank 0 now blocks in the collective
    gloo_pair.processes[1].kill()
    gloo_pair.processes[1].join(gloo_pair.timeout)
    with pytest.raises(tdp.RankFailed, match=r"rank [01] (died|cannot be reached)"):
        gloo_pair.request("observe")
    assert not gloo_pair.alive and all(not p.is_alive() for p in gloo_pair.processes)


@pytest.mark.slow
def test_a_rank_that_raises_is_reported_and_the_group_shut_down(gloo_pair) -> None:
    """The error reply names the rank and its traceback (a hang would raise "did not answer within" instead)."""
    with pytest.raises(tdp.RankFailed, match=r"rank [01] raised:(.|\n)*unknown command 'no_such_command'"):
        gloo_pair.request("no_such_command")
    assert not gloo_pair.alive and all(not p.is_alive() for p in gloo_pair.processes)
    with pytest.raises(tdp.RankFailed, match="closed"):
        gloo_pair.request("step")


# ------------------------------------------------------------------ slow: 4 ranks, full runs, mp.spawn


@pytest.mark.slow
@pytest.mark.parametrize("n", [3, 4])
def test_ring_and_gloo_agree_to_rounding_on_more_ranks(n: int) -> None:
    with dpc.borrowed_group(n) as group:
        _agree_to_rounding(group, n)


def _agree_to_rounding(group: tdp.RankGroup, n: int) -> None:
    rng = np.random.default_rng(n)
    for length in (1, n + 1, 2 * n - 1, 1001):
        integers = [rng.integers(-1000, 1000, length).astype(np.float64) for _ in range(n)]
        exact, _ = sdp.ring_all_reduce(integers)
        assert all(r[1].tobytes() == exact[0].tobytes()
                   for r in group.request_each([("all_reduce", b) for b in integers]))
        floats = [rng.standard_normal(length) for _ in range(n)]
        ring, _ = sdp.ring_all_reduce(floats)
        bound = (n - 1) * np.finfo(np.float64).eps * np.sum(np.abs(floats), axis=0)
        for _, value in group.request_each([("all_reduce", b) for b in floats]):
            assert np.all(np.abs(value - ring[0]) <= 2 * bound)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", ["ring_4workers", "full_batch_4workers", "full_batch_2workers"])
def test_ddp_cases_pass_over_their_hundred_steps(variant: str, dtype: str) -> None:
    (case,) = select([f"data_parallel/{variant}"])
    run = run_case(case, seed=1, dtype=dtype, gradient_check=dtype == "float64", replay=True)
    assert run.passed, run.summary()
    assert len(run.scratch.losses) == 100


@pytest.mark.slow
def test_spawned_training_equals_the_stepped_group() -> None:
    """``torch.multiprocessing.spawn(train)`` and the rank group driven step by step are the same DDP run."""
    (case,) = select(["data_parallel/ring_2workers"])
    problem = case.make_problem(2, np.dtype("float64"))
    spec = dpc.TorchDataParallel(problem, dpc.torch.device("cpu")).spec
    losses, params = tdp.spawn_training(spec, 2, 15)
    side = dpc.TorchDataParallel(problem, dpc.torch.device("cpu"))
    stepped = []
    for _ in range(15):
        side.step()
        stepped.append(side.group.request("observe")[0])
    assert losses == [reply[1] for reply in stepped]
    for name, value in params.items():
        assert value.tobytes() == stepped[-1][2][name].tobytes(), name



# ------------------------------------------------------------------ the study's own figures (no processes)


def test_study_counts_the_rings_traffic_and_draws_the_ring(tmp_path) -> None:
    from compare.studies import data_parallel_ring as study

    problem = dpc.make_problem(0, np.dtype("float64"), n_workers=2)
    rows = study.traffic_rows(problem.params, problem.data["X"], problem.data["Y"])
    assert [row["N"] for row in rows] == [2, 3, 4, 8]
    for row in rows:  # 337 elements, a prime: chunks differ by one element, so the fraction is within 2/337
        assert row["gradient bytes"] == 8 * 337
        assert abs(row["sent / gradient"] - row["2 (N - 1) / N"]) <= 2 / 337
    assert "| reduce-scatter (add) 1 | chunk 0 | chunk 1 | chunk 2 | chunk 3 |" in study.schedule_table(4)
    study.draw_ring(str(tmp_path / "ring.png"))
    assert (tmp_path / "ring.png").stat().st_size > 1000
