"""Input normalization and data augmentation: NumPy vs torch on the same data and decisions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.augmentation as aug
import scratch.normalization as norm
import torch_ref.augmentation as taug
import torch_ref.normalization as tnorm
from compare.core.parity import relative_difference
from compare.core.registry import select
from compare.core.runner import run_case
from compare.data import datasets

DTYPES = ["float64", "float32"]
# Transformed data (no trajectory to amplify rounding): a few ulps.
DATA_TOL = {"float64": 1e-14, "float32": 1e-5}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_feature_normalization_parity_train_and_dev(dtype, seed):
    rng = np.random.default_rng(seed)
    scales = np.array([[1e-3], [1.0], [1e3]])
    X_train = (rng.standard_normal((3, 50)) * scales + 5).astype(dtype)
    X_dev = (rng.standard_normal((3, 20)) * scales + 5).astype(dtype)
    fitted = norm.fit_normalizer(X_train)
    mean, std = tnorm.fit_feature_normalization(torch.from_numpy(X_train.T.copy()))
    assert relative_difference(fitted.mean.ravel(), mean.numpy())[1] < DATA_TOL[dtype]
    assert relative_difference(fitted.std.ravel(), std.numpy())[1] < DATA_TOL[dtype]
    # The two sides sum the mean in different orders, so mu may differ by an ulp of |mu|; (x - mu) / sigma
    # then differs by ~eps |mu| / sigma: the bound scales with that condition number (here 5 / 1e-3).
    eps = np.finfo(dtype).eps
    bound = 16 * eps * float(np.max(1 + np.abs(fitted.mean) / fitted.std))
    for X in (X_train, X_dev):
        scratch_out = fitted.apply(X)
        torch_out = tnorm.normalize_features(torch.from_numpy(X.T.copy()), mean, std).numpy().T
        assert np.max(np.abs(scratch_out - torch_out)) < bound
    train_norm = fitted.apply(X_train)
    np.testing.assert_allclose(train_norm.mean(axis=1), 0, atol=bound)
    np.testing.assert_allclose(train_norm.std(axis=1), 1, rtol=bound)
    assert abs(fitted.apply(X_dev).mean()) > 0  # dev uses train statistics, so it is not exactly centred


@pytest.mark.parametrize("dtype", DTYPES)
def test_image_normalization_matches_v2_normalize(dtype):
    rng = np.random.default_rng(3)
    images = (rng.uniform(0, 1, (10, 3, 5, 5)) * np.array([1, 2, 3]).reshape(1, 3, 1, 1)).astype(dtype)
    scratch_out = norm.fit_image_normalizer(images).apply(images)
    torch_out = tnorm.fit_image_normalize(torch.from_numpy(images))(torch.from_numpy(images)).numpy()
    assert scratch_out.dtype == torch_out.dtype == np.dtype(dtype)
    assert relative_difference(scratch_out, torch_out)[1] < DATA_TOL[dtype]


def test_normalization_constant_feature_and_bad_input():
    X = np.vstack([np.full(4, 7.0), np.arange(4.0)])
    out = norm.fit_normalizer(X).apply(X)
    np.testing.assert_array_equal(out[0], 0)
    _, std = tnorm.fit_feature_normalization(torch.from_numpy(X.T.copy()))
    assert std[0] == 1
    with pytest.raises(ValueError, match="NaN/Inf"):
        norm.fit_normalizer(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="X must have shape"):
        norm.fit_normalizer(X).apply(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="X_train has dtype float16"):
        norm.fit_normalizer(np.ones((2, 3), dtype=np.float16))


def _digit_batch(m: int = 32) -> np.ndarray:
    return np.ascontiguousarray(datasets.digits().images()[:m])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding", [0, 1, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_augmentation_identical_batches(dtype, padding, seed):
    images = _digit_batch().astype(dtype)
    decisions = aug.draw_decisions(np.random.default_rng(seed), images.shape[0], padding=padding)
    scratch_out = aug.augment(images, decisions)
    flip, top, left = (torch.from_numpy(a) for a in (decisions.flip, decisions.top, decisions.left))
    torch_out = taug.augment_with_decisions(torch.from_numpy(images), flip, top, left, padding=padding).numpy()
    np.testing.assert_array_equal(scratch_out, torch_out)  # pure data movement: bit-identical


def test_augmentation_semantics():
    images = np.arange(2 * 1 * 3 * 4, dtype=np.float64).reshape(2, 1, 3, 4)
    decisions = aug.AugmentationDecisions(np.array([True, False]), np.array([1, 0]), np.array([1, 2]), 1)
    out = aug.augment(images, decisions)
    np.testing.assert_array_equal(out[0], images[0, :, :, ::-1])  # centre crop of the flipped image
    expected = np.pad(images[1], ((0, 0), (1, 1), (1, 1)))[:, 0:3, 2:6]
    np.testing.assert_array_equal(out[1], expected)
    assert out[1, 0, 0, 0] == 0  # the zero padding entered the window


def test_augmentation_rejects_bad_decisions():
    with pytest.raises(ValueError, match="top offsets must lie in 0..2"):
        aug.AugmentationDecisions(np.array([True]), np.array([3]), np.array([0]), 1)
    with pytest.raises(ValueError, match="padding"):
        aug.draw_decisions(np.random.default_rng(0), 3, padding=-1)
    with pytest.raises(ValueError, match="flip_prob"):
        aug.draw_decisions(np.random.default_rng(0), 3, padding=1, flip_prob=1.5)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 6), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       padding=st.integers(0, 3), seed=st.integers(0, 100))
def test_augmentation_property_shape_and_values(m, c, h, w, padding, seed):
    rng = np.random.default_rng(seed)
    images = rng.uniform(1, 2, (m, c, h, w))
    out = aug.augment(images, aug.draw_decisions(rng, m, padding=padding))
    assert out.shape == images.shape
    assert np.isin(out, np.append(images.ravel(), 0.0)).all()  # only original pixels or padding zeros


def test_torch_pipeline_is_the_random_v2_compose():
    pipeline = taug.make_augmentation((8, 8), padding=2)
    out = pipeline(torch.from_numpy(_digit_batch(1)[0]))
    assert out.shape == (1, 8, 8)


@pytest.mark.parametrize("name", ["normalization/features", "normalization/images", "augmentation/flip_crop"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_registered_cases_pass(name, dtype):
    (case,) = select([name])
    run = run_case(case, seed=1, dtype=dtype, steps=10)
    assert run.parity.passed, run.parity.summary()
