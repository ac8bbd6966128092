"""The brain_mri preset: labels voxel-exact in every contrast and modality, contrast as in
real scans, BraTS labels, pathologies, slice geometry, NIfTI round trip, dataset card."""

import json

import nibabel as nib
import numpy as np
import pytest
from pydantic import ValidationError

from synthmed.cli import main
from synthmed.presets.brain_mri import LABEL_TABLE, BrainMriParams, brain_mri
from synthmed.registry import PRESETS

SMALL = dict(image_size=(64, 64), slice_thickness_mm=4.0)


def render(seed=0, **params):
    return brain_mri(BrainMriParams(**{**SMALL, **params}), np.random.default_rng(seed))


def median(image, mask):
    assert mask.sum() > 10, "too few voxels to judge"
    return float(np.median(image[mask]))


@pytest.fixture(scope="module")
def exact():
    """No partial volume, noise, bias or blur: each voxel shows its own tissue only."""
    return render(oversampling=1, snr=None, bias_field=0.0, pathology="glioma",
                  contrasts=["t1", "t1c", "t2", "flair", "pd"], pet_fwhm_mm=0.0,
                  slice_thickness_mm=3.75)


def test_labels_are_voxel_exact_in_every_contrast(exact):
    """Each voxel's value is its own tissue's: the brightest ventricle voxel on T1 is darker
    than the darkest white-matter voxel (1 % tails), and the reverse on T2. A one-voxel
    shift between labels and images would put boundary voxels of the other tissue in."""
    m, im = exact.labels.masks, exact.images
    for image in im.values():
        assert image.shape == exact.spatial_shape
    wm, ventricles = m["white_matter"], m["ventricles"]
    assert np.percentile(im["t1"][ventricles], 99) < np.percentile(im["t1"][wm], 1)
    assert np.percentile(im["t2"][ventricles], 1) > np.percentile(im["t2"][wm], 99)
    assert np.percentile(im["flair"][m["edema"]], 1) > np.percentile(im["flair"][wm], 99)


def test_contrast_ordering_as_in_real_scans(exact):
    m, im = exact.labels.masks, exact.images
    gm, wm, csf = m["grey_matter"], m["white_matter"], m["ventricles"]
    t1, t2, flair = (im[k] for k in ("t1", "t2", "flair"))
    assert median(t1, wm) > median(t1, gm) > median(t1, csf)             # T1
    assert median(t2, csf) > median(t2, gm) > median(t2, wm)             # T2
    assert median(flair, csf) < 0.3 * median(flair, wm)                  # FLAIR nulls CSF
    assert median(flair, gm) > median(flair, wm)
    et = m["enhancing_tumor"]
    assert median(im["t1c"], et) > 1.3 * median(t1, et)                  # gadolinium
    assert median(im["t1c"], et) > median(im["t1c"], wm)
    assert median(im["t1c"], wm) == pytest.approx(median(t1, wm), rel=0.01)  # BBB intact
    assert median(flair, m["edema"]) > median(flair, gm)


def test_paired_ct_and_pet(exact):
    m, ct, pet = exact.labels.masks, exact.images["ct"], exact.images["pet"]
    assert exact.units["ct"] == "HU" and exact.units["pet"] == "SUV"
    skull_core = m["skull"] & (ct > 300)
    assert skull_core.sum() > 0.3 * m["skull"].sum()                     # thin tables blur
    assert median(ct, m["skull"]) > 300
    assert median(ct, m["ventricles"]) < median(ct, m["white_matter"]) - 3
    assert median(ct, m["grey_matter"]) > median(ct, m["white_matter"]) + 4
    assert median(pet, m["grey_matter"]) > 2 * median(pet, m["white_matter"])
    assert median(pet, m["necrotic_core"]) < median(pet, m["white_matter"])


def test_brats_labels_and_tumour_attributes(exact):
    lab = exact.labels
    assert (LABEL_TABLE["necrotic_core"], LABEL_TABLE["edema"],
            LABEL_TABLE["enhancing_tumor"]) == (1, 2, 3)
    m = lab.masks
    assert not (m["necrotic_core"] & m["edema"]).any()
    assert not (m["enhancing_tumor"] & (m["necrotic_core"] | m["edema"])).any()
    np.testing.assert_array_equal(m["tumor_core"], m["necrotic_core"] | m["enhancing_tumor"])
    np.testing.assert_array_equal(m["whole_tumor"], m["tumor_core"] | m["edema"])
    assert (m["whole_tumor"] <= m["brain"]).all()
    voxel_ml = np.prod(exact.spacing_mm) / 1000
    assert lab.attributes["edema_volume_ml"] == pytest.approx(m["edema"].sum() * voxel_ml,
                                                              abs=0.01)
    assert lab.classes == {"glioma": True, "metastases": False, "ms": False, "stroke": False}
    assert "glioma" in exact.report and "IMPRESSION" in exact.report
    assert lab.boxes and lab.boxes[0].label == "whole_tumor"


@pytest.mark.parametrize("pathology, label, params", [
    ("metastases", "metastasis", dict(lesion_count=3)),
    ("ms", "ms_lesion", dict(lesion_count=8)),
    ("stroke", "infarct", dict(stroke_territory="MCA", side="left")),
])
def test_pathologies(pathology, label, params):
    s = render(seed=2, pathology=pathology, contrasts=["flair"], paired_ct=False,
               paired_pet=False, **params)
    m, a = s.labels.masks, s.labels.attributes
    assert s.labels.classes[pathology] and m[label].any()
    assert (m[label] <= m["brain"]).all()
    flair = s.images["flair"]
    assert median(flair, m[label]) > median(flair, m["white_matter"])
    if "lesion_count" in params:
        assert 1 <= a["lesion_count"] <= params["lesion_count"]
        assert len(s.labels.boxes) == a["lesion_count"]
    if pathology == "stroke":       # left hemisphere: the high column indices (LPS x)
        cols = np.nonzero(m["infarct"])[2]
        assert cols.mean() > s.spatial_shape[2] / 2
    if pathology != "metastases":        # metastases use the BraTS(-METS) tumour labels too
        assert "whole_tumor" not in m


def test_healthy_ageing_enlarges_ventricles():
    young, old = (render(seed=4, pathology="none", age_years=age, contrasts=["t1"],
                         paired_ct=False, paired_pet=False) for age in (25, 85))
    assert not young.labels.classes["glioma"] and "Normal" in young.report
    assert old.labels.masks["ventricles"].sum() > 1.5 * young.labels.masks["ventricles"].sum()
    parenchyma = [s.labels.masks["grey_matter"] | s.labels.masks["white_matter"]
                  for s in (young, old)]
    assert parenchyma[1].sum() < 0.95 * parenchyma[0].sum()


def test_slice_geometry_and_orientation():
    s = render(seed=1, slice_thickness_mm=5.0, slice_gap_mm=1.0, contrasts=["t2"],
               paired_ct=True, paired_pet=False, pathology="none")
    dz, a = s.spacing_mm[0], s.labels.attributes
    assert a["slice_thickness_mm"] == 5.0 and abs(a["slice_gap_mm"] - 1.0) <= 5.0 / 4 / 2
    assert dz == pytest.approx(5.0 + a["slice_gap_mm"]) and s.spacing_mm[1:] == (3.75, 3.75)
    assert s.images["ct"].shape == s.images["t2"].shape == s.spatial_shape
    assert s.spatial_shape[0] == round(200 / dz)
    m = s.labels.masks
    centroid = {k: np.array(np.nonzero(m[k])).mean(axis=1) for k in ("cerebellum", "ventricles")}
    assert centroid["cerebellum"][0] < centroid["ventricles"][0]     # inferior: low slices
    assert centroid["cerebellum"][1] > centroid["ventricles"][1]     # posterior: high rows


def test_random_contrast_and_validation():
    s = render(seed=3, contrasts=["random"], paired_ct=False, paired_pet=False)
    img = s.images["random"]
    assert 0 <= img.min() and img.max() <= 1.0 + 1e-6
    other = render(seed=5, contrasts=["random"], paired_ct=False, paired_pet=False)
    assert not np.allclose(img, other.images["random"])
    with pytest.raises(ValidationError, match="repeat"):
        BrainMriParams(contrasts=["t1", "t1"])
    with pytest.raises(ValidationError):
        BrainMriParams(partial_fourier=0.5)
    assert PRESETS.get("brain_mri").sources.startswith("MNI") or \
        "ICBM" in PRESETS.get("brain_mri").sources


def test_nifti_round_trip_and_card(tmp_path, capsys):
    spec = tmp_path / "brain.yaml"
    spec.write_text("preset: brain_mri\ncount: 1\nseed: 3\nimage_size: [48, 48]\n"
                    "params: {slice_thickness_mm: 5.0, contrasts: [t1c, flair],\n"
                    "         paired_pet: false}\nexport: [nifti]\n")
    out = tmp_path / "out"
    main(["generate", str(spec), "-o", str(out), "--workers", "1", "--quiet"])
    label = json.loads((out / "labels" / "000000.json").read_text())
    files = label["files"]
    assert {"nifti/t1c", "nifti/flair", "nifti/ct", "nifti_labelmap"} <= set(files)
    spacing = label["spacing_mm"]
    affines = []
    for role in ("nifti/t1c", "nifti/flair", "nifti/ct", "nifti_labelmap"):
        img = nib.load(out / files[role])
        assert img.shape == (48, 48, 40)                              # (x, y, z)
        assert img.header.get_zooms()[:3] == pytest.approx(spacing[::-1])
        affines.append(img.affine)
        assert nib.aff2axcodes(img.affine) == ("L", "P", "S")         # LPS voxel order
    for a in affines[1:]:
        np.testing.assert_array_equal(a, affines[0])
    labelmap = np.asarray(nib.load(out / files["nifti_labelmap"]).dataobj)
    assert set(np.unique(labelmap)) >= {1, 2, 3}                      # BraTS ids
    card = (out / "dataset_card.md").read_text()
    assert "ICBM" in card and "Fonov" in card and "Sources and licences" in card
