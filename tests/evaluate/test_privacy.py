"""Privacy checks: planted copies are found, attack AUCs behave at their extremes."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from skimage import data
from skimage.color import rgb2gray
from skimage.transform import resize

from synthmed.evaluate.privacy import (
    auc, distance_ratio, membership_inference_auc, memorisation, nearest_neighbour_distances)

NAMES = ("camera", "moon", "coins", "text", "page", "clock", "horse", "grass", "gravel",
         "brick", "astronaut", "coffee", "chelsea", "cell")


def skimage_images(size=(64, 64)):
    out = []
    for n in NAMES:
        im = getattr(data, n)()
        im = rgb2gray(im[..., :3]) if im.ndim == 3 else im / 255.0
        out.append(resize(im.astype(float), size, anti_aliasing=True))
    return np.stack(out)


def test_nearest_neighbour_distances_brute_force():
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(30, 5)), rng.normal(size=(40, 5))
    d, i = nearest_neighbour_distances(q, r)
    full = np.linalg.norm(q[:, None] - r[None], axis=2)
    assert np.allclose(d, full.min(1)) and np.array_equal(i, full.argmin(1))


def test_distance_ratio_copying_vs_fresh_generator():
    rng = np.random.default_rng(1)
    train, holdout = rng.normal(size=(300, 6)), rng.normal(size=(300, 6))
    copies = train[:100] + 0.01 * rng.normal(size=(100, 6))
    r = distance_ratio(copies, train, holdout)
    assert r["ratios"].shape == (100,)
    assert r["median"] < 0.1 and r["fraction_below_1"] == 1.0
    fresh = distance_ratio(rng.normal(size=(300, 6)), train, holdout)
    assert fresh["median"] == pytest.approx(1.0, abs=0.15)
    assert fresh["fraction_below_1"] == pytest.approx(0.5, abs=0.1)


def test_memorisation_finds_exactly_the_planted_copies():
    train = skimage_images()
    rng = np.random.default_rng(2)
    # synthetic set: 6 novel images (flipped/transposed originals and noise) + 3 near copies
    novel = [train[0].T[::-1], train[3][:, ::-1], train[5][::-1], rng.random((64, 64)),
             np.full((64, 64), 0.5), train[8].T]
    planted = {6: 4, 7: 9, 8: 11}
    copies = [np.clip(train[j] + 0.01 * rng.normal(size=(64, 64)), 0, 1) for j in planted.values()]
    synth = np.stack(novel + copies)
    found = memorisation(synth, train, threshold=0.9)
    assert {(c.synthetic_index, c.train_index) for c in found} == set(planted.items())
    assert all(c.score >= 0.9 for c in found)
    by_rmse = memorisation(synth, train, metric="rmse", threshold=0.02)
    assert {(c.synthetic_index, c.train_index) for c in by_rmse} == set(planted.items())
    assert memorisation(synth[:6], train) == []


def test_auc_matches_mann_whitney_and_sklearn():
    rng = np.random.default_rng(3)
    pos, neg = rng.normal(0.5, size=40), rng.normal(size=55)
    pos[:5] = neg[:5]  # ties
    expected = mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg))
    assert auc(pos, neg) == pytest.approx(expected)
    try:
        from sklearn.metrics import roc_auc_score
    except ImportError:
        return
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    assert auc(pos, neg) == pytest.approx(roc_auc_score(y, np.r_[pos, neg]))


def test_membership_inference_auc_extremes():
    rng = np.random.default_rng(4)
    members, non_members = rng.normal(size=(100, 8)), rng.normal(size=(100, 8))
    leaking = np.concatenate([members, rng.normal(size=(50, 8))])
    assert membership_inference_auc(leaking, members, non_members) == 1.0
    independent = rng.normal(size=(200, 8))
    value = membership_inference_auc(independent, members, non_members)
    assert value == pytest.approx(0.5, abs=0.15)
