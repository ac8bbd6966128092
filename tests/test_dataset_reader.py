"""open_dataset: lazy reading back of what the exporters wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest

import synthmed
from synthmed.dataset import Dataset, open_dataset
from synthmed.errors import SynthmedError
from synthmed.sample import assert_samples_equal
from test_export import PNG_ATOL, make_ct, make_sample, write_dataset


@pytest.fixture
def png_dataset(tmp_path):
    samples = [make_sample(i) for i in range(3)]
    write_dataset(tmp_path, samples, formats=("png", "coco"))
    return tmp_path, samples


def test_len_ids_index_and_iteration(png_dataset):
    root, samples = png_dataset
    ds = synthmed.open_dataset(root)
    assert isinstance(ds, Dataset)
    assert len(ds) == 3 and ds.ids == ["000000", "000001", "000002"]
    assert_samples_equal(ds[1], ds["000001"])
    assert_samples_equal(ds[-1], ds["000002"])
    for want, got in zip(samples, ds, strict=True):
        assert_samples_equal(want, got, atol=PNG_ATOL)
    rec = ds.record(0)
    assert rec["id"] == "000000" and rec["files"]["image/xray"] == "images/000000.png"
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(KeyError):
        ds["999999"]


def test_reader_is_lazy(png_dataset):
    root, _ = png_dataset
    ds = open_dataset(root)
    (root / "images/000002.png").unlink()  # only a read of sample 2 notices
    assert ds[0].image.shape == (128, 100)
    with pytest.raises(SynthmedError, match=r"images/000002\.png.*missing"):
        ds[2]


def test_not_a_dataset(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(SynthmedError, match="not a synthmed dataset.*labels/"):
        open_dataset(tmp_path)
    with pytest.raises(SynthmedError, match="not a synthmed dataset"):
        open_dataset(tmp_path / "does-not-exist")


def test_unreadable_files_give_clear_errors(png_dataset):
    root, _ = png_dataset
    (root / "masks/000000/heart.png").write_bytes(b"not a png")
    with pytest.raises(SynthmedError, match="cannot read PNG.*heart.png"):
        open_dataset(root)[0]
    (root / "labels/000001.json").write_text("{broken")
    with pytest.raises(SynthmedError, match="000001.json"):
        open_dataset(root)[1]
    (root / "labels/000002.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(SynthmedError, match="not a synthmed label record"):
        open_dataset(root)[2]


def test_reads_npz_first_then_png(tmp_path):
    s = make_sample(0)
    write_dataset(tmp_path, [s], formats=("png", "npz"))
    assert_samples_equal(s, open_dataset(tmp_path)[0], atol=0)  # exact: from npz
    (tmp_path / "npz/000000.npz").unlink()
    with pytest.raises(SynthmedError, match="npz/000000.npz"):  # listed, so it must exist
        open_dataset(tmp_path)[0]


def test_reads_3d_from_nifti_when_there_is_no_npz(tmp_path):
    ct = make_ct()
    write_dataset(tmp_path, [ct], formats=("nifti",))
    back = open_dataset(tmp_path)[0]
    assert back.image.dtype == np.float32 and back.image.shape == (6, 20, 24)
    assert_samples_equal(ct, back, atol=0)


def test_reads_2d_from_nifti(tmp_path):
    s = make_sample(0)
    write_dataset(tmp_path, [s], formats=("nifti",))
    assert_samples_equal(s, open_dataset(tmp_path)[0], atol=0)


def test_reads_rgb_from_nifti(tmp_path):
    from skimage import data

    from synthmed.sample import Sample

    rgb = data.retina()[::32, ::32].astype(np.float32) / 255.0
    s = Sample(images={"fundus": rgb}, spacing_mm=(0.2, 0.1), modality="OP")
    write_dataset(tmp_path, [s], formats=("nifti",))
    back = open_dataset(tmp_path)[0]
    assert back.image.shape == rgb.shape
    assert_samples_equal(s, back, atol=0)
