"""DICOM export: every file passes dciodvfy; pixels, geometry and SEG masks round-trip.

dciodvfy (Debian's dicom3tools, installed by ``make test``) is the validator; the tests skip
without it only outside CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest

from skimage import data
from skimage.draw import ellipse

from synthmed.errors import SynthmedError
from synthmed.registry import EXPORTERS
from synthmed.sample import Labels, Provenance, Sample
from test_export import PNG_ATOL, all_files, make_sample

DCIODVFY = shutil.which("dciodvfy")
needs_dciodvfy = pytest.mark.skipif(DCIODVFY is None and not os.environ.get("CI"),
                                    reason="dciodvfy (Debian dicom3tools) is not installed")
CT_SPACING = (2.5, 0.8, 0.6)  # (dz, dy, dx) mm
CHEST_LABELS = {"lung_right": 1, "lung_left": 2, "heart": 3, "consolidation": 4, "nodule": 5,
                "effusion": 6, "pneumothorax": 7}  # as synthmed.presets.chest_xray


# --------------------------------------------------------------------------- helpers
def dx(index: int = 1, shape=(64, 80), spacing=(0.7, 0.5)) -> Sample:
    """A radiograph in [0, 1] with chest_xray's label table: lungs, heart, two findings."""
    img = data.camera()[::8, ::6][: shape[0], : shape[1]].astype(np.float32) / 255.0
    img[0, :3] = [-0.5, 1.0, 1.5]  # out of range: clipped like PNG
    masks = {}
    for name, (r, c, rr, cr) in {"lung_right": (30, 22, 20, 12), "lung_left": (30, 58, 20, 12),
                                 "heart": (42, 46, 10, 12), "nodule": (20, 20, 3, 3),
                                 "consolidation": (38, 24, 6, 8)}.items():
        masks[name] = np.zeros(shape, bool)
        masks[name][ellipse(r, c, rr, cr, shape)] = True
    return Sample(images={"xray": img}, spacing_mm=spacing, modality="DX",
                  labels=Labels(masks=masks, label_table=dict(CHEST_LABELS),
                                attributes={"age_years": 7.5, "sex": "F", "view": "AP",
                                            "kvp": 110.0, "mas": 2.0}),
                  provenance=Provenance(preset="hand_made", seed=3, index=index))


def ct(index: int = 0, shape=(8, 32, 32)) -> Sample:
    """8 slices of integer HU with a liver block, a nodule sphere inside it, a box-only label."""
    rng = np.random.default_rng(index)
    hu = rng.integers(-1024, 3000, size=shape).astype(np.float32)
    hu[0, 0, 0], hu[0, 0, 1] = -32768, 32767  # the ends of the int16 range
    z, y, x = np.indices(shape) * np.reshape(CT_SPACING, (3, 1, 1, 1))
    nodule = (z - 10) ** 2 + (y - 12) ** 2 + (x - 10) ** 2 < 6.0 ** 2  # 6 mm radius
    liver = np.zeros(shape, bool)
    liver[2:7, 8:24, 6:26] = True
    return Sample(images={"ct": hu}, spacing_mm=CT_SPACING, modality="CT", units={"ct": "HU"},
                  labels=Labels(masks={"nodule": nodule, "liver": liver},
                                label_table={"liver": 1, "nodule": 2, "marker": 3},
                                attributes={"age_years": 61.0, "sex": "M"}),
                  provenance=Provenance(preset="hand_made", seed=5, index=index))


def mr(index: int = 0) -> Sample:
    """An MR volume (arbitrary units) with its protocol attributes and a paired CT."""
    base = ct(index)
    t1 = np.abs(np.random.default_rng(9).normal(0.3, 0.1, base.image.shape)).astype(np.float32)
    attrs = {"t1_ScanningSequence": "SE\\IR", "t1_SequenceVariant": "SK",
             "t1_MRAcquisitionType": "2D", "t1_RepetitionTime": 9000.0,
             "t1_EchoTime": 120.0, "t1_InversionTime": 2467.0, "t1_FlipAngle": 90.0,
             "field_strength_t": 3.0, "age_years": 44.0}
    return Sample(images={"t1": t1, "ct": base.image}, spacing_mm=CT_SPACING, modality="MR",
                  units={"t1": "a.u.", "ct": "HU"},
                  labels=Labels(masks=base.labels.masks, label_table=base.labels.label_table,
                                attributes=attrs),
                  provenance=Provenance(preset="hand_made", seed=6, index=index))


def export(sample: Sample, root: Path, sid: str = "000001") -> dict[str, str]:
    return EXPORTERS.get("dicom").write_sample(sample, root, sid)


def validate(path: Path) -> tuple[list[str], list[str]]:
    """dciodvfy's error and warning lines for one file."""
    res = subprocess.run([DCIODVFY or "dciodvfy", str(path)], capture_output=True, text=True,
                         timeout=60)
    lines = (res.stdout + res.stderr).splitlines()
    return ([ln for ln in lines if ln.startswith("Error")],
            [ln for ln in lines if ln.startswith("Warning")])


def read_slices(root: Path, files: dict[str, str], name: str) -> list[pydicom.Dataset]:
    rels = [rel for role, rel in sorted(files.items()) if role.startswith(f"dicom/{name}/")]
    return [pydicom.dcmread(root / rel) for rel in rels]


def lps(ds: pydicom.Dataset, j: float, i: float) -> np.ndarray:
    """Patient position (mm) of pixel (row j, column i) of one image, from its header."""
    ipp = np.array(ds.ImagePositionPatient, float)
    iop = np.array(ds.ImageOrientationPatient, float)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    return ipp + i * col_mm * iop[:3] + j * row_mm * iop[3:]


def seg_masks(root: Path, files: dict[str, str], sources) -> tuple[list[str], np.ndarray]:
    """SEG segment labels (in number order) and masks ``(frames, rows, cols, segments)``."""
    seg = hd.seg.segread(root / files["dicom_seg"])
    numbers = [int(s.SegmentNumber) for s in seg.SegmentSequence]
    assert numbers == list(range(1, len(numbers) + 1))
    pixels = seg.get_pixels_by_source_instance([s.SOPInstanceUID for s in sources],
                                               segment_numbers=numbers)
    return [s.SegmentLabel for s in seg.SegmentSequence], pixels.astype(bool)


# --------------------------------------------------------------------------- dciodvfy
@needs_dciodvfy
@pytest.mark.parametrize("make", [dx, ct, mr], ids=["DX", "CT", "MR"])
def test_every_file_passes_dciodvfy_and_dcentvfy(tmp_path, make):
    files = export(make(), tmp_path)
    assert "dicom_seg" in files and len(files) == {dx: 2, ct: 9, mr: 17}[make]
    for rel in files.values():
        errors, _ = validate(tmp_path / rel)
        assert errors == [], (rel, errors)
    # dcentvfy: patient, study, series and frame of reference agree across the files
    res = subprocess.run(["dcentvfy", *(str(tmp_path / rel) for rel in files.values())],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), res.stderr


# --------------------------------------------------------------------------- DX
def test_dx_round_trip(tmp_path):
    s = dx()
    files = export(s, tmp_path)
    assert files == {"dicom/xray": "dicom/000001/xray.dcm", "dicom_seg": "dicom/000001/seg.dcm"}
    ds = pydicom.dcmread(tmp_path / files["dicom/xray"])
    assert ds.SOPClassUID == pydicom.uid.DigitalXRayImageStorageForPresentation
    assert (ds.Modality, ds.PresentationIntentType) == ("DX", "FOR PRESENTATION")
    assert (ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation) == \
        ("MONOCHROME2", 16, 0)
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx(s.spacing_mm, rel=1e-12)
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx(s.spacing_mm, rel=1e-12)
    assert (ds.RescaleSlope, ds.RescaleIntercept) == (1, 0)
    assert (ds.Rows, ds.Columns) == (64, 80)
    np.testing.assert_allclose(ds.pixel_array / 65535.0, np.clip(s.image, 0, 1),
                               atol=PNG_ATOL, rtol=0)
    assert (ds.PatientSex, ds.PatientAge, ds.ViewPosition) == ("F", "007Y", "AP")
    assert ds.ViewCodeSequence[0].CodeMeaning == "antero-posterior"
    assert (float(ds.KVP), ds.ExposureInuAs) == (110.0, 2000)
    assert list(ds.PatientOrientation) == ["L", "F"]

    labels, masks = seg_masks(tmp_path, files, [ds])
    assert labels == list(s.labels.label_table)  # ids 1..7 in order: segment number = id
    assert masks.shape == (1, 64, 80, 7)
    for n, name in enumerate(labels):
        want = s.labels.masks.get(name, np.zeros((64, 80), bool))
        np.testing.assert_array_equal(masks[0, ..., n], want, err_msg=name)
    assert not masks[0, ..., 5:].any()  # effusion, pneumothorax: no mask, empty segments


def test_dx_segment_codes(tmp_path):
    seg = pydicom.dcmread(tmp_path / export(dx(), tmp_path)["dicom_seg"])
    codes = {s.SegmentLabel: (s.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning,
                              s.SegmentedPropertyTypeCodeSequence[0].CodeValue)
             for s in seg.SegmentSequence}
    assert codes["lung_right"] == ("Anatomical Structure", "3341006")
    assert codes["lung_left"] == ("Anatomical Structure", "44029006")
    assert codes["heart"] == ("Anatomical Structure", "80891009")
    assert codes["nodule"] == ("Morphologically Abnormal Structure", "27925004")
    assert codes["consolidation"] == ("Morphologically Abnormal Structure", "95436008")


# --------------------------------------------------------------------------- CT
def test_ct_series_round_trip_and_geometry_match_nifti(tmp_path):
    s = ct()
    files = export(s, tmp_path)
    assert files["dicom/ct/0001"] == "dicom/000001/ct/0001.dcm"
    slices = read_slices(tmp_path, files, "ct")
    assert len(slices) == 8
    assert len({d.SeriesInstanceUID for d in slices}) == 1
    assert len({d.FrameOfReferenceUID for d in slices}) == 1
    assert [int(d.InstanceNumber) for d in slices] == list(range(1, 9))
    for d in slices:
        assert d.SOPClassUID == pydicom.uid.CTImageStorage and d.RescaleType == "HU"
        assert float(d.SliceThickness) == float(d.SpacingBetweenSlices) == 2.5
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
                   for d in slices])
    np.testing.assert_array_equal(hu, s.image)  # integer HU: exact, int16 ends included

    nifti = EXPORTERS.get("nifti").write_sample(s, tmp_path, "000001")
    affine = nib.load(tmp_path / nifti["nifti/ct"]).affine
    rng = np.random.default_rng(0)
    corners = [(k, j, i) for k in (0, 7) for j in (0, 31) for i in (0, 31)]
    for k, j, i in corners + [tuple(v) for v in rng.integers(0, [8, 32, 32], (20, 3))]:
        ras = affine @ [i, j, k, 1]  # NIfTI voxel (i, j, k) is array[k, j, i]
        np.testing.assert_allclose(lps(slices[k], j, i), ras[:3] * [-1, -1, 1], atol=1e-9)
    # LPS: columns to the patient's left, rows posterior, slices up
    assert lps(slices[3], 2, 5) == pytest.approx([5 * 0.6, 2 * 0.8, 3 * 2.5])

    labels, masks = seg_masks(tmp_path, files, slices)
    assert labels == ["liver", "nodule", "marker"]  # label_table order; marker has no mask
    assert masks.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(masks[..., 0], s.labels.masks["liver"])
    np.testing.assert_array_equal(masks[..., 1], s.labels.masks["nodule"])
    assert not masks[..., 2].any()
    seg = pydicom.dcmread(tmp_path / files["dicom_seg"])
    assert seg.FrameOfReferenceUID == slices[0].FrameOfReferenceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == slices[0].SeriesInstanceUID
    assert seg.StudyInstanceUID == slices[0].StudyInstanceUID


# --------------------------------------------------------------------------- identity
def test_marked_synthetic_with_a_synthetic_patient(tmp_path):
    files = export(ct(), tmp_path)
    for rel in files.values():
        ds = pydicom.dcmread(tmp_path / rel)
        assert str(ds.PatientName) == "SYNTHETIC^SYN-5-0" and ds.PatientID == "SYN-5-0"
        assert (ds.PatientSex, ds.PatientAge) == ("M", "061Y")
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethod == "synthetic data, no patient"
        assert "SYNTHETIC" in ds.SeriesDescription
        assert ds.ImageType[:1] == ["DERIVED"]
        equipment = {e.Manufacturer: e.PurposeOfReferenceCodeSequence[0].CodeMeaning
                     for e in ds.ContributingEquipmentSequence}
        assert equipment["synthmed"] in ("Synthesizing Equipment", "Acquisition Equipment")
        if ds.Modality == "SEG":
            assert "SYNTHETIC" in ds.ContentDescription
        else:
            assert ds.ImageType[1] == "SECONDARY" and "SYNTHETIC" in ds.ImageComments
            assert (ds.BurnedInAnnotation, ds.RecognizableVisualFeatures) == ("NO", "NO")
        assert ds.StudyDate == ds.ContentDate == ds.InstanceCreationDate
        assert "2000" <= ds.StudyDate < "2020"


def test_exports_are_byte_identical_and_uids_follow_provenance(tmp_path):
    for sid, make in (("000001", dx), ("000002", ct)):
        export(make(), tmp_path / "a", sid)
        export(make(), tmp_path / "b", sid)
    a, b = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert len(a) == 2 + 9 and a == b  # no clock, no random UID anywhere

    def study(sample, root):
        return pydicom.dcmread(root / export(sample, root)["dicom/ct/0001"])

    base = study(ct(), tmp_path / "c")
    other = study(ct(index=1), tmp_path / "d")
    edited = ct()
    edited.provenance.edits = {"kvp": 80}
    edit = study(edited, tmp_path / "e")
    assert other.StudyInstanceUID != base.StudyInstanceUID != edit.StudyInstanceUID
    assert edit.PatientID == base.PatientID  # an edit keeps the patient
    assert edit.SOPInstanceUID != base.SOPInstanceUID


# --------------------------------------------------------------------------- refusals
def _refused(**changes) -> Sample:
    s = make_sample()  # 2D DX with a second image
    for k, v in changes.items():
        setattr(s, k, v)
    return s


@pytest.mark.parametrize("sample, message", [
    (_refused(images={"x": np.zeros((8, 8, 3), np.float32)}), "grayscale"),
    (_refused(units={"xray": "1/cm", "soft": "1"}), "units"),
    (_refused(modality="CR"), "DX only"),
    (Sample(images={"t1": np.zeros((2, 4, 4), np.float32)}, spacing_mm=(1, 1, 1),
            modality="CT"), "HU"),
    (Sample(images={"pet": np.zeros((2, 4, 4), np.float32)}, spacing_mm=(1, 1, 1),
            modality="MR", units={"pet": "SUV"}), "PET"),
    (Sample(images={"us": np.zeros((2, 4, 4), np.float32)}, spacing_mm=(1, 1, 1),
            modality="US"), "CT or MR only"),
    (_refused(images={"seg": np.zeros((128, 100), np.float32)}), "clashes"),
    (_refused(images={"xray": np.full((128, 100), np.nan, np.float32)}), "NaN"),
], ids=["rgb", "units", "modality", "ct-units", "pet", "us-3d", "name", "nan"])
def test_refuses_what_dicom_cannot_hold(tmp_path, sample, message):
    with pytest.raises(SynthmedError, match=message):
        export(sample, tmp_path)
    assert not list(tmp_path.rglob("*.dcm"))


def test_mr_series_keeps_geometry_protocol_and_contrast(tmp_path):
    s = mr()
    files = export(s, tmp_path)
    t1, ct_ = read_slices(tmp_path, files, "t1"), read_slices(tmp_path, files, "ct")
    assert len(t1) == len(ct_) == s.image.shape[0]
    first = t1[3]
    assert first.Modality == "MR" and first.SOPClassUID == pydicom.uid.MRImageStorage
    assert ct_[3].Modality == "CT" and ct_[3].RescaleType == "HU"      # the paired CT
    assert list(first.ScanningSequence) == ["SE", "IR"] and first.SequenceVariant == "SK"
    assert (float(first.RepetitionTime), float(first.EchoTime), float(first.InversionTime),
            float(first.MagneticFieldStrength)) == (9000.0, 120.0, 2467.0, 3.0)
    np.testing.assert_allclose(lps(first, 2, 5), lps(ct_[3], 2, 5))   # same frame, same voxel
    assert first.FrameOfReferenceUID == ct_[3].FrameOfReferenceUID
    volume = np.stack([ds.pixel_array for ds in t1]).astype(float)
    assert volume.max() == 4095 and first.BitsStored == 12
    np.testing.assert_allclose(volume / 4095, s.images["t1"] / s.images["t1"].max(),
                               atol=0.5 / 4095 + 1e-7)                  # scaled, not clipped


def test_a_sample_without_masks_gets_no_seg(tmp_path):
    s = ct()
    s.labels = Labels()
    assert sorted(export(s, tmp_path)) == [f"dicom/ct/{k:04d}" for k in range(1, 9)]


def test_every_named_image_is_a_series_of_one_study(tmp_path):
    files = export(make_sample(), tmp_path)
    assert sorted(files) == ["dicom/soft", "dicom/xray", "dicom_seg"]
    xray, soft = (pydicom.dcmread(tmp_path / files[f"dicom/{n}"]) for n in ("xray", "soft"))
    assert xray.StudyInstanceUID == soft.StudyInstanceUID
    assert xray.SeriesInstanceUID != soft.SeriesInstanceUID
    assert (xray.SeriesNumber, soft.SeriesNumber) == (1, 2)
    seg = pydicom.dcmread(tmp_path / files["dicom_seg"])
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == xray.SeriesInstanceUID
