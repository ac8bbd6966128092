"""Utility metrics: TSTR/TRTS/mixing, C2ST, metric helpers and the cached feature extractor.

Images are tiny (32 x 32) discs on noise drawn here with scikit-image; training runs for a
few epochs on the CPU, so the whole file takes well under a minute.
"""

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from skimage.draw import disk, rectangle  # noqa: E402

from synthmed.errors import SynthmedError  # noqa: E402
from synthmed.evaluate.data import ImageSet  # noqa: E402
from synthmed.evaluate.utility import (  # noqa: E402
    ClassTarget, ExtractorParams, SegTarget, TrainParams, accuracy, bootstrap_ci,
    cached_feature_extractor, classifier_two_sample_test, dice, mixing_curve, predict_masks,
    predict_proba, roc_auc, train_classifier, train_segmenter, train_test_split, trtr, trts,
    tstr)

SIZE = 32


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These networks are tiny: one thread is as fast, and immune to OpenMP spin-waiting
    when the CI machine's cores are shared (two threads ran 10x slower under contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

FAST = TrainParams(epochs=8, batch_size=16, learning_rate=3e-3)


def shapes(n, seed, p=0.5, shape="disc", finding=False, radius=(4, 8)) -> ImageSet:
    """Noisy background; class 1 images get a bright disc (or square) at a random place."""
    rng = np.random.default_rng(seed)
    images = 0.3 + 0.08 * rng.standard_normal((n, SIZE, SIZE))
    lesion = rng.random(n) < p
    masks = np.zeros((n, SIZE, SIZE), bool)
    for i in np.flatnonzero(lesion):
        r = int(rng.integers(*radius))
        centre = rng.integers(r + 1, SIZE - r - 1, size=2)
        if shape == "disc":
            rr, cc = disk(tuple(centre), r, shape=(SIZE, SIZE))
        else:
            rr, cc = rectangle(tuple(centre - r), extent=(2 * r, 2 * r), shape=(SIZE, SIZE))
        masks[i, rr, cc] = True
    images = np.clip(images + 0.4 * masks, 0, 1).astype(np.float32)
    attrs = {"lesion": [bool(v) for v in lesion]}
    if finding:  # a real-style column: strings, two of them positive
        attrs = {"finding": [("Disc" if i % 2 else "Large disc") if v else "Normal"
                             for i, v in enumerate(lesion)]}
    ids = [f"{seed}-{i}" for i in range(n)]
    return ImageSet(images, ids, attrs, {"disc": masks}, f"seed {seed}")


# ------------------------------------------------------------------ metric helpers
def test_roc_auc_equals_pairwise_count():
    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.3
    s = np.round(rng.random(200) + 0.5 * y, 1)  # rounding makes ties
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        pos.size * neg.size)
    assert roc_auc(y, s) == pytest.approx(brute, abs=1e-12)
    assert roc_auc(y, -s) == pytest.approx(1 - brute, abs=1e-12)
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))
    assert accuracy([0, 1, 1, 0], [0.1, 0.5, 0.2, 0.9]) == 0.5


def test_bootstrap_ci_contains_estimate_and_narrows_with_n():
    def estimate(n):
        rng = np.random.default_rng(n)
        y = rng.random(n) < 0.5
        return bootstrap_ci(roc_auc, y, rng.normal(size=n) + y, n=500, rng=0)

    small, large = estimate(40), estimate(800)
    for e in (small, large):
        assert e.ci_low <= e.value <= e.ci_high
        assert e.level == 0.95 and e.n_bootstrap == 500
    assert large.ci_high - large.ci_low < 0.5 * (small.ci_high - small.ci_low)
    assert bootstrap_ci(roc_auc, [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], n=50, rng=3) == \
        bootstrap_ci(roc_auc, [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], n=50, rng=3)


def test_dice_matches_closed_form():
    a = np.zeros((3, 20, 20), bool)
    b = np.zeros((3, 20, 20), bool)
    a[0, 0:10, 0:10] = True
    b[0, 0:10, 5:15] = True  # overlap 50 of 100 + 100 -> 0.5
    a[1, 2:6, 2:6] = True  # no prediction -> 0
    # image 2: both empty -> 1
    np.testing.assert_allclose(dice(a, b), [0.5, 0.0, 1.0])


def test_targets_map_labels_and_say_what_is_wrong():
    real = shapes(10, 0, finding=True)
    target = ClassTarget("lesion", "finding", real_positive=("Disc", "Large disc"))
    assert target.labels(real, "real").tolist() == [v != "Normal" for v in
                                                    real.attributes["finding"]]
    grades = ImageSet(np.zeros((4, 4, 4), np.float32), list("abcd"), {"kl_grade": [0., 2., 4., 1.]})
    assert ClassTarget("x", "kl_grade", real_positive=(2, 3, 4)).labels(grades, "real").tolist() \
        == [0, 1, 1, 0]
    with pytest.raises(SynthmedError, match="no attribute 'nope'.*finding"):
        ClassTarget("nope").labels(real, "real")
    with pytest.raises(SynthmedError, match="not a yes/no label.*real_positive"):
        ClassTarget("finding").labels(real, "real")
    with pytest.raises(SynthmedError, match="one class only"):
        ClassTarget("lesion").labels(shapes(6, 0, p=0.0), "synthetic")
    with pytest.raises(SynthmedError, match="no mask 'lung'.*disc"):
        SegTarget("lung").labels(real, "synthetic")


# ------------------------------------------------------------------ networks
def test_classifier_finds_discs_and_not_random_labels():
    train, test = shapes(160, 1), shapes(100, 2)
    model = train_classifier(train.images, train.attributes["lesion"], params=FAST, progress=False)
    assert roc_auc(test.attributes["lesion"], predict_proba(model, test.images)) > 0.9

    noise = np.random.default_rng(3).random(160) < 0.5
    model = train_classifier(train.images, noise, params=FAST, progress=False)
    assert abs(roc_auc(test.attributes["lesion"], predict_proba(model, test.images)) - 0.5) < 0.2


def test_segmenter_reaches_dice():
    train, test = shapes(96, 4, p=0.9), shapes(40, 5, p=0.9)
    model = train_segmenter(train.images, train.masks["disc"],
                            params=TrainParams(epochs=15, batch_size=8, learning_rate=1e-2),
                            progress=False)
    assert dice(test.masks["disc"], predict_masks(model, test.images) >= 0.5).mean() > 0.7


# ------------------------------------------------------------------ protocols
def test_tstr_across_label_names_and_results_serialise():
    synth, real_test = shapes(160, 6), shapes(80, 7, finding=True)
    target = ClassTarget("lesion", "finding", real_positive=["Disc", "Large disc"])
    result = tstr(synth, None, real_test, target, params=FAST, n_bootstrap=200, progress=False)
    auc = result.metrics["auc"]
    assert auc.value > 0.9 and auc.ci_low <= auc.value <= auc.ci_high
    assert 0 <= result.metrics["accuracy"].value <= 1
    assert (result.n_train_synthetic, result.n_train_real, result.n_test) == (160, 0, 80)
    again = json.loads(json.dumps(result.to_dict()))
    assert again["target"]["real_positive"] == ["Disc", "Large disc"]
    assert again["network"]["name"] == "monai.networks.nets.DenseNet"

    back = trts(synth, real_test, None, target, params=TrainParams(epochs=1), n_bootstrap=20,
                progress=False)
    assert (back.protocol, back.test_set, back.n_test) == ("trts", "synthetic", 160)


def test_segmentation_protocol_reports_dice():
    synth, real = shapes(48, 8, p=0.9), shapes(24, 9, p=0.9)
    result = trtr(None, synth, real, SegTarget("disc"), params=TrainParams(epochs=2),
                  n_bootstrap=50, progress=False)
    assert set(result.metrics) == {"dice"} and 0 <= result.metrics["dice"].value <= 1


def test_mixing_curve_training_set_sizes():
    synth, real = shapes(40, 10), shapes(60, 11)
    real_train, real_test = train_test_split(real, 1 / 3, seed=0, target=ClassTarget("lesion"))
    assert (len(real_train), len(real_test)) == (40, 20)
    curve = mixing_curve(synth, real_train, real_test, ClassTarget("lesion"),
                         params=TrainParams(epochs=1), n_bootstrap=20, progress=False)
    assert [r.synthetic_fraction for r in curve] == [0, 0.25, 0.5, 1.0]
    assert [r.n_train_synthetic for r in curve] == [0, 10, 20, 40]
    assert all(r.n_train_real == 40 and r.n_test == 20 for r in curve)
    with pytest.raises(SynthmedError, match="needs 80 synthetic images"):
        mixing_curve(synth, real_train, real_test, ClassTarget("lesion"), fractions=(2,),
                     params=TrainParams(epochs=1), progress=False)


def test_same_seed_same_numbers():
    synth, real = shapes(48, 12), shapes(32, 13)
    run = dict(params=TrainParams(epochs=2), n_bootstrap=50, progress=False)
    a = tstr(synth, None, real, ClassTarget("lesion"), seed=5, **run).to_dict()
    b = tstr(synth, None, real, ClassTarget("lesion"), seed=5, **run).to_dict()
    c = tstr(synth, None, real, ClassTarget("lesion"), seed=6, **run).to_dict()
    assert a == b
    assert a["metrics"] != c["metrics"]


# ------------------------------------------------------------------ C2ST
def test_c2st_same_generator_is_near_chance():
    a, b = shapes(60, 14), shapes(60, 15)
    cnn = classifier_two_sample_test(a, b, k=3, params=TrainParams(epochs=3), n_bootstrap=100,
                                     progress=False)
    assert cnn["auc"]["value"] < 0.7 and cnn["n_per_set"] == 60
    logistic = classifier_two_sample_test(a, b, model="logistic", n_bootstrap=100)
    assert logistic["auc"]["value"] < 0.7 and logistic["features"] == "pixels 16x16"
    json.dumps(cnn)


def test_c2st_separates_discs_from_squares():
    big = dict(p=1.0, radius=(8, 12))  # the DenseNet stem downsamples 4x: corners must show
    discs, squares = shapes(80, 16, **big), shapes(80, 17, shape="square", **big)
    result = classifier_two_sample_test(discs, squares, k=3, params=FAST, n_bootstrap=100,
                                        progress=False)
    assert result["auc"]["value"] > 0.9
    feats = classifier_two_sample_test(discs, squares, model="logistic", k=4, n_bootstrap=100,
                                       features=lambda x: x.reshape(len(x), -1).max(1)[:, None])
    assert 0 <= feats["auc"]["value"] <= 1 and feats["features"] == "given"


# ------------------------------------------------------------------ feature extractor
def test_cached_feature_extractor_reloads_and_keys_on_the_real_set(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHMED_CACHE_DIR", str(tmp_path))
    real, other = shapes(24, 18), shapes(24, 19)
    params = ExtractorParams(epochs=2, dim=16, input_size=32)
    first = cached_feature_extractor(real, params=params, progress=False)
    assert not first.from_cache and first.torchscript_path.parent == tmp_path / "features"
    weights = tmp_path / "features" / f"{first.key}.pt"
    mtime = weights.stat().st_mtime_ns

    second = cached_feature_extractor(real, params=params, progress=False)
    assert second.from_cache and second.key == first.key
    assert weights.stat().st_mtime_ns == mtime
    probe = shapes(5, 20).images
    emb = first(probe)
    assert emb.shape == (5, 16)
    np.testing.assert_allclose(second(probe), emb, rtol=1e-6, atol=1e-6)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(first.torchscript_path))
    with torch.no_grad():
        out = scripted(torch.from_numpy(probe[:, None])).numpy()
    np.testing.assert_allclose(out, emb, rtol=1e-5, atol=1e-5)

    third = cached_feature_extractor(other, tmp_path / "elsewhere", params=params, progress=False)
    assert third.key != first.key and not third.from_cache
    assert (tmp_path / "elsewhere" / f"{third.key}.json").is_file()
