"""Feature extractors: radiomics features are deterministic, finite and see what they should."""

import sys

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from synthmed.errors import SynthmedError
from synthmed.evaluate.features import (
    FEATURE_EXTRACTORS, describe, extract_features, feature_names, radiomics_features)


def images(size=(64, 64)):
    names = ("camera", "moon", "coins", "text", "page", "clock")
    return np.stack([resize(getattr(data, n)() / 255.0, size, anti_aliasing=True)
                     for n in names]).astype(np.float32)


def columns(prefix):
    return [i for i, n in enumerate(feature_names("radiomics")) if n.startswith(prefix)]


def test_radiomics_shape_finite_deterministic():
    x = images()
    f = extract_features(x)
    assert f.shape == (len(x), len(feature_names("radiomics"))) and f.dtype == np.float64
    assert np.isfinite(f).all()
    assert np.array_equal(f, extract_features(x.copy()))
    assert np.isfinite(radiomics_features(np.zeros((2, 16, 16)))).all()  # constant images
    assert np.isfinite(radiomics_features(np.ones((1, 17, 23)))).all()    # odd sizes
    assert len(set(feature_names("radiomics"))) == f.shape[1]


def test_first_order_features_match_numpy():
    x = images()
    f = extract_features(x)
    flat = x.reshape(len(x), -1).astype(np.float64)
    names = feature_names("radiomics")
    assert np.allclose(f[:, names.index("s1_mean")], flat.mean(1))
    assert np.allclose(f[:, names.index("s1_std")], flat.std(1))
    assert np.allclose(f[:, names.index("s1_p50")], np.median(flat, 1))
    assert np.allclose(f[:, names.index("layout_0_0")], x[:, :16, :16].mean((1, 2)))


def test_rotation_changes_layout_but_not_first_order_or_texture():
    x = images()
    f, g = extract_features(x), extract_features(x[:, ::-1, ::-1])
    layout = columns("layout_")
    first_order = [i for i, n in enumerate(feature_names("radiomics"))
                   if not n.startswith("layout_") and "_lbp_" not in n]
    assert np.allclose(f[:, first_order], g[:, first_order], rtol=1e-9, atol=1e-9)
    lbp = columns("s1_lbp_")  # interpolated LBP samples: equal up to round-off ties
    assert np.allclose(f[:, lbp], g[:, lbp], atol=2e-3)
    assert not np.allclose(f[:, layout], g[:, layout], atol=1e-3)


def test_features_separate_texture():
    x = images()
    noisy = np.clip(x + 0.1 * np.random.default_rng(0).normal(size=x.shape), 0, 1)
    f, g = extract_features(x), extract_features(noisy)
    contrast = feature_names("radiomics").index("s1_glcm_contrast_d1")
    assert (g[:, contrast] > f[:, contrast]).all()


def test_speed_100_images_128px():
    import time
    x = np.random.default_rng(0).random((100, 128, 128)).astype(np.float32)
    t = time.perf_counter()
    extract_features(x)
    assert time.perf_counter() - t < 10


def test_unknown_method_and_small_images_say_what_to_do():
    with pytest.raises(SynthmedError, match="torchscript:<path>"):
        extract_features(images(), "inception")
    with pytest.raises(SynthmedError, match="at least 16"):
        extract_features(np.zeros((1, 8, 8)))


def test_registry_and_describe():
    assert "radiomics" in FEATURE_EXTRACTORS
    assert "comparable only with the same" in describe("radiomics")
    FEATURE_EXTRACTORS["mean_only"] = lambda ims: np.asarray(ims).mean(axis=(1, 2))[:, None]
    try:
        assert extract_features(images(), "mean_only").shape == (6, 1)
        assert describe("mean_only").startswith("mean_only")
    finally:
        del FEATURE_EXTRACTORS["mean_only"]


def test_torchscript_without_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(SynthmedError, match=r"pip install 'synthmed\[learned\]'"):
        extract_features(images(), "torchscript:model.pt")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated in 2.13
def test_torchscript_model_features(tmp_path):
    torch = pytest.importorskip("torch")

    class Pool(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.adaptive_avg_pool2d(x, 2)

    path = tmp_path / "pool.pt"
    torch.jit.save(torch.jit.script(Pool()), str(path))
    x = images()
    f = extract_features(x, f"torchscript:{path}", batch_size=4)
    assert f.shape == (6, 4)
    assert np.allclose(f[:, 0], x[:, :32, :32].mean((1, 2)), atol=1e-6)
    assert "sha256" in describe(f"torchscript:{path}")
    with pytest.raises(SynthmedError, match="no TorchScript model"):
        extract_features(x, f"torchscript:{tmp_path / 'missing.pt'}")
