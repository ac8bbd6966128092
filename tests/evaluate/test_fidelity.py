"""Fidelity metrics checked against closed forms and scikit-image."""

import doctest
import importlib

import numpy as np
import pytest
from scipy import linalg
from skimage import data
from skimage.color import rgb2gray
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.transform import resize

from synthmed.evaluate.fidelity import (
    density_coverage, diversity, fid, frechet_distance, histogram_distances, kid, ms_ssim,
    precision_recall, psnr, ssim, standardise, compare_features)

NAMES = ("camera", "moon", "coins", "text", "page", "clock", "horse", "grass", "gravel",
         "brick", "astronaut", "coffee", "chelsea", "cell")


def skimage_images(size=(64, 64), names=NAMES):
    out = []
    for n in names:
        im = getattr(data, n)()
        im = rgb2gray(im[..., :3]) if im.ndim == 3 else im / 255.0
        out.append(resize(im.astype(float), size, anti_aliasing=True))
    return np.stack(out)


@pytest.mark.parametrize("module", ["features", "fidelity", "privacy", "bias"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"synthmed.evaluate.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# ---------------------------------------------------------------- Fréchet / FID

def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(300, 20))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_with_fewer_samples_than_features_is_finite_and_zero_with_itself():
    x = np.random.default_rng(1).normal(size=(30, 121))   # singular covariance
    y = np.random.default_rng(2).normal(size=(30, 121))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)
    assert np.isfinite(fid(x, y)) and fid(x, y) > 0


def test_frechet_distance_commuting_covariances_matches_closed_form():
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_non_commuting_matches_explicit_square_roots():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    assert not np.allclose(s1 @ s2, s2 @ s1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    # Tr((s1 s2)^1/2) = Tr((s1^1/2 s2 s1^1/2)^1/2), the latter symmetric: eigen-decomposition
    w, v = np.linalg.eigh(s1)
    r1 = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(r1 @ s2 @ r1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(inner))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # and the 1-D case: (m1-m2)^2 + (sd1 - sd2)^2
    assert frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9 + 1)
    assert np.allclose(linalg.sqrtm(r1 @ r1), r1)


def test_fid_from_samples_converges_to_closed_form():
    rng = np.random.default_rng(5)
    d = 4
    a = rng.normal(size=(d, d))
    s1, s2 = np.eye(d), a @ a.T / d + 0.5 * np.eye(d)
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    x = rng.multivariate_normal(mu1, s1, 50_000)
    y = rng.multivariate_normal(mu2, s2, 50_000)
    assert fid(x, y) == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=0.03)


# ---------------------------------------------------------------------------- KID

def test_kid_near_zero_for_same_distribution_and_positive_for_shifted():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(400, 10)), rng.normal(size=(400, 10))
    same = kid(x, y, n_subsets=50, subset_size=200, rng=1)
    assert abs(same.mean) < 3 * same.std
    shifted = kid(x, y + 0.7, n_subsets=50, subset_size=200, rng=1)
    assert shifted.mean > 10 * shifted.std and shifted.mean > 10 * abs(same.mean)


def test_kid_is_reproducible_with_default_rng():
    x = np.random.default_rng(7).normal(size=(60, 5))
    assert kid(x, x + 0.1, n_subsets=5) == kid(x, x + 0.1, n_subsets=5)


# ------------------------------------------------------- precision/recall, density/coverage

def test_precision_recall_identical_and_far_shifted():
    x = np.random.default_rng(8).normal(size=(200, 8))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(x, x + 50)
    assert far["precision"] == pytest.approx(0.0, abs=0.01)
    assert far["recall"] == pytest.approx(0.0, abs=0.01)


def test_precision_high_recall_low_for_collapsed_fake_set():
    rng = np.random.default_rng(9)
    real = rng.normal(size=(500, 2))
    fake = 0.05 * rng.normal(size=(500, 2))  # all near the mode
    pr = precision_recall(real, fake)
    assert pr["precision"] > 0.95 and pr["recall"] < 0.3


def test_density_and_coverage_about_one_for_same_distribution():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    dc = density_coverage(real, fake, k=5)
    assert dc["density"] == pytest.approx(1.0, abs=0.1)
    assert dc["coverage"] == pytest.approx(1 - 0.5 ** 5, abs=0.03)  # Naeem et al.: 1 - 2^-k


def test_standardise_uses_real_statistics_only():
    real = np.array([[0.0, 10], [2, 30]])
    r, f = standardise(real, np.array([[1.0, 20], [3, 50]]))
    assert np.allclose(r.mean(0), 0) and np.allclose(r.std(0), 1)
    assert np.allclose(f, [[0, 0], [2, 3]])


def test_compare_features_keys_and_identity():
    x = np.random.default_rng(11).normal(size=(50, 6))
    out = compare_features(x, x, kid_subsets=5)
    assert out["fid"] == pytest.approx(0, abs=1e-6)
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0
    assert set(out) >= {"fid", "kid_mean", "kid_std", "density", "n_real", "n_features"}


# --------------------------------------------------------------------- image metrics

def test_ssim_equals_scikit_image():
    ims = skimage_images(names=("camera", "moon", "coins"))
    a, b = ims[0], np.clip(ims[0] + 0.05 * np.random.default_rng(0).normal(size=ims[0].shape), 0, 1)
    assert ssim(a, b) == structural_similarity(a, b, data_range=1.0)
    assert ssim(a, b, gaussian_weights=True) == structural_similarity(
        a, b, data_range=1.0, gaussian_weights=True)
    stack = ssim(ims, ims[::-1])
    assert stack.shape == (3,)
    assert stack[1] == pytest.approx(1.0) and stack[0] == structural_similarity(
        ims[0], ims[2], data_range=1.0)


def test_ms_ssim_identity_and_monotone_in_noise():
    x = skimage_images((128, 128), ("camera",))[0]
    assert ms_ssim(x, x) == 1.0
    rng = np.random.default_rng(1)
    noise = rng.normal(size=x.shape)
    values = [ms_ssim(x, np.clip(x + s * noise, 0, 1)) for s in (0.01, 0.05, 0.1, 0.2, 0.4)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert 0 <= values[-1] < values[0] < 1


def test_ms_ssim_single_scale_equals_gaussian_ssim():
    ims = skimage_images((64, 64), ("camera", "coins"))
    expected = structural_similarity(ims[0], ims[1], data_range=1.0, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert ms_ssim(ims[0], ims[1], scales=1) == pytest.approx(expected, rel=1e-12)


def test_ms_ssim_uses_as_many_scales_as_fit():
    x = np.random.default_rng(2).random((2, 32, 32))
    assert ms_ssim(x[0], x[1]) == pytest.approx(ms_ssim(x[0], x[1], scales=2))
    with pytest.raises(Exception, match="scales"):
        ms_ssim(x[0], x[1], scales=3)
    stack = ms_ssim(x, x[::-1])
    assert stack.shape == (2,) and stack[0] == pytest.approx(ms_ssim(x[0], x[1]))


def test_psnr_of_known_mse():
    a = np.zeros((32, 32))
    b = a.copy()
    b[::2] = 0.2                                         # MSE = 0.5 * 0.04 = 0.02
    assert psnr(a, b) == pytest.approx(10 * np.log10(1 / 0.02))
    assert psnr(a, b) == peak_signal_noise_ratio(a, b, data_range=1.0)
    assert psnr(a, a) == np.inf


def test_histogram_distances():
    ims = skimage_images(names=("camera", "moon", "coins"))
    same = histogram_distances(ims, ims.copy())
    assert same == {"wasserstein_1": 0.0, "jensen_shannon": 0.0}
    shifted = histogram_distances(ims * 0.5, ims * 0.5 + 0.25)
    assert shifted["wasserstein_1"] == pytest.approx(0.25)
    assert 0 < shifted["jensen_shannon"] <= 1


def test_diversity_detects_mode_collapse():
    ims = skimage_images((64, 64))
    collapsed = np.repeat(ims[:1], 10, axis=0)
    assert diversity(collapsed) == pytest.approx(1.0)
    natural = diversity(ims, n_pairs=40)
    assert natural < 0.5
    near = np.clip(collapsed + 0.02 * np.random.default_rng(0).normal(size=collapsed.shape), 0, 1)
    assert diversity(near) > 0.9 > natural
