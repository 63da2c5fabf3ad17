"""The LeNet variants on MNIST and CIFAR-10 cat vs non-cat: run where the files are present, named otherwise.

Their parity is checked here on small files written in the formats torchvision reads (random pixels and
labels: parity needs no real images); nothing is downloaded.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_datasets import skip_cifar_md5, write_cifar, write_mnist

from compare import cli
from compare.core.registry import name_index, select, unavailable
from compare.core.runner import run_case
from compare.data import datasets

REAL = ("conv/lenet_mnist", "conv/lenet_cifar_cat")


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    return tmp_path


def test_without_their_files_they_are_named_but_not_run(empty_data_dir):
    assert not {case.name for case in select(["conv"])} & set(REAL)
    reasons = unavailable(["conv"])
    assert set(reasons) == set(REAL)
    for name, dataset in zip(REAL, ("mnist", "cifar10"), strict=True):
        assert f"python -m compare.data.datasets {dataset} --data-dir $DLPARITY_DATA --download" in reasons[name]
        assert str(empty_data_dir) not in reasons[name]  # reasons go into reports: no machine path
        with pytest.raises(ValueError, match=f"{name} cannot run here: {dataset} not found"):
            select([name])
    assert {"lenet_mnist", "lenet_cifar_cat"} <= set(name_index()["conv"])  # the light index never varies


def test_the_cli_says_which_cases_it_did_not_run(empty_data_dir, capsys):
    assert cli.main(["run", "conv/lenet_mnist", "--no-timing"]) == 2
    assert "error: conv/lenet_mnist cannot run here: mnist not found" in capsys.readouterr().err
    for names in (["conv"], [], ["conv", "deep_net/relu_depth2"]):  # what `run` and `report` print first
        lines = cli.not_run_lines(names)
        assert [line.split(":")[0] for line in lines] == [f"not run {name}" for name in sorted(REAL)]
    assert cli.not_run_lines(["conv/lenet_sgd"]) == []  # cases asked for by name: nothing else is mentioned


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lenet_on_mnist_files_matches_torch(tmp_path, monkeypatch, dtype):
    write_mnist(tmp_path, "MNIST", np.random.default_rng(0), train=300)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    assert datasets.missing_files("mnist") is None and "conv/lenet_mnist" not in unavailable()
    (case,) = select(["conv/lenet_mnist"])
    problem = case.make_problem(0, np.dtype(dtype))
    assert problem.data["X"].shape == (256, 1, 28, 28) and problem.params["W3"].shape == (16, 8 * 7 * 7)
    run = run_case(case, seed=0, dtype=dtype, steps=5, replay=dtype == "float64")
    assert run.passed, run.summary()
    if dtype == "float64":
        assert run.parity.max_rel["grad"] < 1e-12


def test_lenet_on_cifar_files_matches_torch_on_balanced_cats(tmp_path, monkeypatch):
    write_cifar(tmp_path, np.random.default_rng(1), per_batch=80)
    skip_cifar_md5(monkeypatch)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    (case,) = select(["conv/lenet_cifar_cat"])
    problem = case.make_problem(1, np.dtype("float64"))
    assert problem.data["X"].shape == (256, 3, 32, 32) and np.bincount(problem.data["labels"]).tolist() == [128, 128]
    run = run_case(case, seed=1, steps=5)
    assert run.passed, run.summary()
    assert run.parity.max_rel["grad"] < 1e-12
