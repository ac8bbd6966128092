"""Exporters: PNG (base), npz, NIfTI and COCO, each checked by reading the files back.

The helpers :func:`make_sample` and :func:`write_dataset` (a stand-in for the runner) are
also used by ``test_dataset_reader.py`` and ``test_inspect.py``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from skimage import data
from skimage.draw import disk, ellipse

from synthmed._io import atomic_write_text
from synthmed.dataset import open_dataset
from synthmed.errors import SynthmedError
from synthmed.registry import EXPORTERS
from synthmed.sample import Box, Labels, Provenance, Sample, assert_samples_equal

pytestmark = pytest.mark.filterwarnings(  # inside pycocotools' annToMask, not ours
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

ALL = ("png", "npz", "nifti", "coco")
PNG_ATOL = 0.5 / 65535 + 1e-7


# --------------------------------------------------------------------------- helpers
def make_sample(index: int = 0, shape=(128, 100), spacing=(0.5, 0.7)) -> Sample:
    """A hand-made 2D sample: camera image, overlapping masks, two instances, boxes, ..."""
    cam = data.camera()[::4, ::4][: shape[0], : shape[1]].astype(np.float32) / 255.0
    img = np.roll(cam, 7 * index, axis=1)
    rows, cols = shape
    lung = np.zeros(shape, bool)
    lung[ellipse(rows // 2, cols // 2, rows * 0.4, cols * 0.35, shape)] = True
    heart = np.zeros(shape, bool)
    heart[ellipse(rows // 2 + 10, cols // 2 + 5, 18, 14, shape)] = True  # overlaps the lung
    instances = np.zeros(shape, np.int32)
    instances[disk((30, 30 + index), 6, shape=shape)] = 1
    instances[disk((80, 60), 4 + index, shape=shape)] = 2
    nodule = instances > 0
    soft = (1.0 - img) ** 2
    return Sample(
        images={"xray": img, "soft": soft.astype(np.float32)},
        spacing_mm=spacing, modality="DX",
        labels=Labels(
            masks={"lung": lung, "heart": heart, "nodule": nodule},
            label_table={"lung": 1, "heart": 2, "nodule": 3, "marker": 4},
            instances=instances, instance_classes={1: "nodule", 2: "nodule"},
            boxes=[Box.from_mask("heart", heart), Box.from_mask("nodule", instances == 1, 1),
                   Box.from_mask("nodule", instances == 2, 2),
                   Box("marker", (2.0, 3.0, 9.0, 12.5))],
            classes={"nodule": True, "effusion": False},
            attributes={"age_years": 40 + index, "cardiothoracic_ratio": 0.48, "view": "PA"},
            landmarks={"carina": (30.5, 50.25)},
        ),
        report="Two pulmonary nodules.",
        provenance=Provenance(preset="hand_made", params={"a": 1}, seed=7, index=index,
                              versions={"synthmed": "0.1.0"}),
    )


def make_ct(index: int = 0, shape=(6, 20, 24)) -> Sample:
    """A 3D CT-like volume in integer HU with a mask."""
    rng = np.random.default_rng(index)
    vol = rng.integers(-1024, 3000, size=shape).astype(np.float32)
    liver = np.zeros(shape, bool)
    liver[1:5, 4:12, 6:20] = True
    return Sample(images={"ct": vol}, spacing_mm=(2.5, 0.8, 0.6), modality="CT",
                  units={"ct": "HU"},
                  labels=Labels(masks={"liver": liver}, label_table={"liver": 1},
                                boxes=[Box.from_mask("liver", liver)]),
                  provenance=Provenance(preset="hand_made", index=index))


def write_dataset(root: Path, samples, formats=ALL) -> list[dict]:
    """Do what the runner does: exporters per sample, labels/{id}.json, then finalize."""
    root = Path(root)
    records = []
    for i, s in enumerate(samples):
        sid = f"{i:06d}"
        files: dict[str, str] = {}
        for fmt in formats:
            files.update(EXPORTERS.get(fmt).write_sample(s, root, sid))
        rec = {**s.metadata(), "id": sid, "files": files}
        # sort_keys as the runner does: the record keeps no order of roles or images
        atomic_write_text(root / "labels" / f"{sid}.json",
                          json.dumps(rec, indent=1, sort_keys=True))
        records.append(rec)
    for fmt in formats:
        exporter = EXPORTERS.get(fmt)
        if exporter.finalize:
            exporter.finalize(root, records)
    return records


def all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def sample() -> Sample:
    return make_sample()


# --------------------------------------------------------------------------- PNG
def test_png_layout_and_roles(tmp_path, sample):
    files = EXPORTERS.get("png").write_sample(sample, tmp_path, "000003")
    assert files == {
        "image/xray": "images/000003.png", "image/soft": "images/000003_soft.png",
        "mask/lung": "masks/000003/lung.png", "mask/heart": "masks/000003/heart.png",
        "mask/nodule": "masks/000003/nodule.png", "instances": "masks/000003/instances.png",
    }
    assert not list(tmp_path.rglob(".tmp-*"))
    with Image.open(tmp_path / "images/000003.png") as im:
        assert im.mode == "I;16" and im.size == (100, 128)  # (width, height)
        assert im.text["Software"].startswith("synthmed ")
        assert im.text["Description"] == "SYNTHETIC IMAGE - not from a patient"
        dpi = im.info["dpi"]
        assert dpi[0] == pytest.approx(25.4 / 0.7, rel=1e-3)  # x = columns
        assert dpi[1] == pytest.approx(25.4 / 0.5, rel=1e-3)
        np.testing.assert_array_equal(np.asarray(im), np.rint(sample.image * 65535))
    with Image.open(tmp_path / "masks/000003/heart.png") as im:
        assert im.mode == "L" and "SYNTHETIC" in im.text["Description"]
        m = np.asarray(im)
        assert set(np.unique(m)) == {0, 255}
        np.testing.assert_array_equal(m == 255, sample.labels.masks["heart"])
    with Image.open(tmp_path / "masks/000003/instances.png") as im:
        assert im.mode == "I;16"
        np.testing.assert_array_equal(np.asarray(im), sample.labels.instances)


def test_png_round_trip_within_quantisation(tmp_path, sample):
    write_dataset(tmp_path, [sample], formats=("png",))
    back = open_dataset(tmp_path)[0]
    assert back.image.dtype == np.float32 and list(back.images) == ["xray", "soft"]
    assert_samples_equal(sample, back, atol=PNG_ATOL)
    assert back.labels.masks["heart"].dtype == bool
    assert back.labels.instances.dtype == np.int32


def test_png_clips_out_of_range_values(tmp_path):
    img = np.array([[-0.2, 0.0, 1.0, 1.5]], np.float32)
    s = Sample(images={"x": img}, spacing_mm=(1, 1), modality="DX")
    write_dataset(tmp_path, [s], formats=("png",))
    np.testing.assert_array_equal(open_dataset(tmp_path)[0].image, [[0, 0, 1, 1]])


def test_rgb_png_round_trip(tmp_path):
    rgb = data.retina()[::16, ::16].astype(np.float32) / 255.0
    m = np.zeros(rgb.shape[:2], bool)
    m[10:20, 5:30] = True
    s = Sample(images={"fundus": rgb}, spacing_mm=(0.1, 0.1), modality="OP",
               labels=Labels(masks={"disc": m}, label_table={"disc": 1}))
    write_dataset(tmp_path, [s], formats=("png", "coco"))
    with Image.open(tmp_path / "images/000000.png") as im:
        assert im.mode == "RGB"
    back = open_dataset(tmp_path)[0]
    assert back.image.shape == rgb.shape
    assert_samples_equal(s, back, atol=0.5 / 255 + 1e-7)


def test_hu_png_round_trip_is_exact_for_integer_hu(tmp_path):
    hu = np.arange(-1024, 3072, 4, dtype=np.float32).reshape(32, 32)
    hu[0, 0], hu[0, 1] = -32768, 32767  # the ends of the encodable range
    s = Sample(images={"ct": hu}, spacing_mm=(0.7, 0.7), modality="CT", units={"ct": "HU"})
    write_dataset(tmp_path, [s], formats=("png",))
    with Image.open(tmp_path / "images/000000.png") as im:
        assert np.asarray(im)[0, 2] == -1024 + 4 * 2 + 32768
    back = open_dataset(tmp_path)[0]
    assert_samples_equal(s, back, atol=0)


@pytest.mark.parametrize("units", ["1/cm", "mm", "HU_rgb"])
def test_png_refuses_units_it_cannot_store(tmp_path, units):
    if units == "HU_rgb":
        s = Sample(images={"x": np.zeros((4, 4, 3), np.float32)}, spacing_mm=(1, 1),
                   modality="OT", units={"x": "HU"})
    else:
        s = Sample(images={"x": np.zeros((4, 4), np.float32)}, spacing_mm=(1, 1),
                   modality="OT", units={"x": units})
    with pytest.raises(SynthmedError, match="npz.*nifti|nifti.*npz"):
        EXPORTERS.get("png").write_sample(s, tmp_path, "000000")
    assert not list(tmp_path.rglob("*.png"))  # nothing half-written


def test_png_refuses_volumes_and_bad_names(tmp_path):
    with pytest.raises(SynthmedError, match="PNG export is 2D only; use nifti"):
        EXPORTERS.get("png").write_sample(make_ct(), tmp_path, "000000")
    s = Sample(images={"../x": np.zeros((4, 4), np.float32)}, spacing_mm=(1, 1), modality="DX")
    with pytest.raises(SynthmedError, match="file name"):
        EXPORTERS.get("png").write_sample(s, tmp_path, "000000")


# --------------------------------------------------------------------------- npz
def test_npz_round_trip_is_exact(tmp_path, sample):
    files = EXPORTERS.get("npz").write_sample(sample, tmp_path, "000000")
    assert files == {"npz": "npz/000000.npz"}
    assert_samples_equal(sample, Sample.load_npz(tmp_path / "npz/000000.npz"))
    write_dataset(tmp_path / "ds", [sample, make_sample(1)], formats=("png", "npz"))
    back = open_dataset(tmp_path / "ds")[1]  # the reader prefers the lossless npz
    assert_samples_equal(make_sample(1), back, atol=0)


# --------------------------------------------------------------------------- determinism
def test_two_writes_are_byte_identical(tmp_path):
    samples = [make_sample(0), make_sample(1)]
    write_dataset(tmp_path / "a", samples)
    write_dataset(tmp_path / "b", samples)
    a, b = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert {k for k in a if a[k] != b[k]} == set()
    assert "coco/annotations.json" in a and "nifti/000001_labels.nii.gz" in a
    for name, blob in a.items():
        if name.endswith(".gz"):
            assert blob[4:8] == b"\0\0\0\0", name  # gzip mtime 0
    ct = make_ct()
    write_dataset(tmp_path / "c", [ct], formats=("nifti", "npz"))
    write_dataset(tmp_path / "d", [ct], formats=("nifti", "npz"))
    assert all_files(tmp_path / "c") == all_files(tmp_path / "d")


# --------------------------------------------------------------------------- NIfTI
def test_nifti_2d_affine_values_and_labels(tmp_path, sample):
    files = EXPORTERS.get("nifti").write_sample(sample, tmp_path, "000000")
    assert files == {"nifti/xray": "nifti/000000_xray.nii.gz",
                     "nifti/soft": "nifti/000000_soft.nii.gz",
                     "nifti_labels": "nifti/000000_labels.nii.gz",
                     "nifti_labels_meta": "nifti/000000_labels.json",
                     "nifti_labelmap": "nifti/000000_labelmap.nii.gz",
                     "nifti_instances": "nifti/000000_instances.nii.gz"}
    img = nib.load(tmp_path / files["nifti/xray"])
    rows, cols = sample.spatial_shape
    assert img.shape == (cols, rows, 1)  # (x, y, 1)
    assert img.header.get_zooms() == pytest.approx((0.7, 0.5, 1.0))  # (col, row) spacing
    np.testing.assert_allclose(img.affine, np.diag([0.7, 0.5, 1.0, 1.0]))
    assert img.header["sform_code"] == 2 and img.header["qform_code"] == 2
    assert img.header.get_xyzt_units()[0] == "mm"
    assert b"SYNTHETIC" in img.header["descrip"].tobytes()
    data_ = img.get_fdata(dtype=np.float32)
    assert img.get_data_dtype() == np.float32
    np.testing.assert_array_equal(data_[:, :, 0], sample.image.T)
    assert data_[7, 3, 0] == sample.image[3, 7]  # data[i, j] = array[row j, col i]

    lab = nib.load(tmp_path / files["nifti_labels"])
    assert lab.shape == (cols, rows, 1, 4) and lab.get_data_dtype() == np.uint8
    assert lab.header.get_zooms()[:3] == pytest.approx((0.7, 0.5, 1.0))
    side = json.loads((tmp_path / files["nifti_labels_meta"]).read_text())
    assert [(e["volume"], e["name"], e["id"], e["has_mask"]) for e in side["labels"]] == [
        (0, "lung", 1, True), (1, "heart", 2, True), (2, "nodule", 3, True),
        (3, "marker", 4, False)]
    stack = np.asarray(lab.dataobj)
    for e in side["labels"]:
        want = sample.labels.masks.get(e["name"], np.zeros(sample.spatial_shape, bool))
        np.testing.assert_array_equal(stack[:, :, 0, e["volume"]].T == 1, want)
    overlap = sample.labels.masks["lung"] & sample.labels.masks["heart"]
    assert overlap.any()  # both one-hot volumes keep the overlapping pixels
    assert stack[:, :, 0, 0].T[overlap].all() and stack[:, :, 0, 1].T[overlap].all()
    labelmap = nib.load(tmp_path / files["nifti_labelmap"])
    assert labelmap.get_data_dtype() == np.uint8
    np.testing.assert_allclose(labelmap.affine, img.affine)
    want = np.zeros(sample.spatial_shape, np.uint8)          # smallest id wins
    for name, label_id in sorted(sample.labels.label_table.items(), key=lambda kv: -kv[1]):
        want[sample.labels.masks.get(name, np.zeros_like(want, bool))] = label_id
    np.testing.assert_array_equal(np.asarray(labelmap.dataobj)[:, :, 0].T, want)
    assert (want[overlap] == 1).all()
    inst = nib.load(tmp_path / files["nifti_instances"])
    np.testing.assert_array_equal(np.asarray(inst.dataobj)[:, :, 0].T, sample.labels.instances)


def test_nifti_3d_hu_is_int16_and_round_trips(tmp_path):
    ct = make_ct()
    files = EXPORTERS.get("nifti").write_sample(ct, tmp_path, "000000")
    img = nib.load(tmp_path / files["nifti/ct"])
    assert img.shape == (24, 20, 6)  # (x, y, z) from (z, y, x)
    assert img.get_data_dtype() == np.int16
    assert img.header.get_zooms() == pytest.approx((0.6, 0.8, 2.5))
    vol = np.asarray(img.dataobj)
    np.testing.assert_array_equal(vol, ct.image.transpose(2, 1, 0))
    assert vol[5, 3, 2] == ct.image[2, 3, 5]
    # RAS mm = affine @ (i, j, k): voxel (x=5, y=3, z=2) sits at LPS (3.0, 2.4, 5.0) mm
    np.testing.assert_allclose(img.affine @ [5, 3, 2, 1], [-3.0, -2.4, 5.0, 1.0])
    lab = nib.load(tmp_path / files["nifti_labels"])
    assert lab.shape == (24, 20, 6, 1)
    np.testing.assert_array_equal(np.asarray(lab.dataobj)[..., 0].transpose(2, 1, 0) == 1,
                                  ct.labels.masks["liver"])


# --------------------------------------------------------------------------- COCO
def test_coco_loads_and_masks_are_exact(tmp_path):
    samples = [make_sample(0), make_sample(1), make_sample(2)]
    records = write_dataset(tmp_path, samples, formats=("png", "coco"))
    assert records[0]["files"]["coco_part"] == "coco/parts/000000.json"
    coco = COCO(str(tmp_path / "coco/annotations.json"))
    assert [c["id"] for c in coco.dataset["categories"]] == [1, 2, 3, 4]
    assert [c["name"] for c in coco.dataset["categories"]] == ["lung", "heart", "nodule", "marker"]
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    assert sorted(coco.getAnnIds()) == list(range(1, len(coco.dataset["annotations"]) + 1))
    for index, s in enumerate(samples):
        info = coco.loadImgs(index + 1)[0]
        assert info["file_name"] == f"images/{index:06d}.png"
        assert (tmp_path / info["file_name"]).is_file()
        assert (info["height"], info["width"]) == s.spatial_shape
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[index + 1]))
        # lung, heart, and each nodule instance separately (no semantic nodule annotation)
        assert [(a["category_id"], a.get("instance_id")) for a in anns] == [
            (1, None), (2, None), (3, 1), (3, 2)]
        for a in anns:
            want = (s.labels.instances == a["instance_id"] if "instance_id" in a
                    else s.labels.masks[coco.cats[a["category_id"]]["name"]])
            got = coco.annToMask(a)
            assert got.shape == want.shape
            np.testing.assert_array_equal(got.astype(bool), want)
            r0, c0, r1, c1 = Box.from_mask("x", want).bbox
            assert a["bbox"] == [c0, r0, c1 - c0, r1 - r0]  # x = column
            assert a["area"] == int(want.sum()) and a["iscrowd"] == 0
            assert isinstance(a["segmentation"]["counts"], str)
    # boxes made by Box.from_mask for the instances match the COCO boxes
    a = coco.loadAnns(coco.getAnnIds(imgIds=[1], catIds=[3]))[0]
    b = samples[0].labels.boxes[1]
    assert a["bbox"] == [b.bbox[1], b.bbox[0], b.bbox[3] - b.bbox[1], b.bbox[2] - b.bbox[0]]


def test_coco_refuses_volumes_and_unstable_ids(tmp_path):
    with pytest.raises(SynthmedError, match="2D only"):
        EXPORTERS.get("coco").write_sample(make_ct(), tmp_path, "000000")
    a, b = make_sample(0), make_sample(1)
    b.labels.label_table["heart"] = 9
    with pytest.raises(SynthmedError, match="stable"):
        write_dataset(tmp_path / "x", [a, b], formats=("coco",))


def test_coco_finalize_names_a_missing_part(tmp_path):
    write_dataset(tmp_path, [make_sample(0)], formats=("coco",))
    with pytest.raises(SynthmedError, match="000001"):
        EXPORTERS.get("coco").finalize(tmp_path, ["000000", "000001"])


def test_all_exporters_are_registered():
    assert set(ALL) <= set(EXPORTERS.names())
    for name in ALL:
        assert EXPORTERS.get(name).description


def test_nifti_gzip_is_plain_gzip(tmp_path, sample):
    EXPORTERS.get("nifti").write_sample(sample, tmp_path, "000000")
    raw = gzip.decompress((tmp_path / "nifti/000000_xray.nii.gz").read_bytes())
    assert raw[344:348] == b"n+1\0"  # single-file NIfTI-1 magic
