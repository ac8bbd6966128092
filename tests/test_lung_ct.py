"""The lung_ct preset: HU of the anatomy, COVID-19 extent and distribution, nodule size and
Lung-RADS, emphysema, effusion, label geometry (LPS), noise against mAs."""

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage

from synthmed.phantoms.lung_findings3d import lung_rads
from synthmed.physics.ct import scan_volume
from synthmed.presets.lung_ct import (FINDINGS, LABEL_TABLE, LungCtParams, lung_ct,
                                      lung_ct_phantom)
from synthmed.registry import PRESETS
from synthmed.sample import assert_samples_equal

SMALL = dict(image_size=(96, 96), n_slices=24)
WHOLE = dict(image_size=(96, 96), n_slices=24, slice_thickness_mm=10.0)   # ~ both lungs


def erode(mask, k=1):
    return ndimage.binary_erosion(mask, iterations=k)


def median(volume, mask):
    assert mask.sum() > 20, "too few voxels to judge"
    return float(np.median(volume[mask]))


@pytest.fixture(scope="module")
def covid_truth():
    """Noiseless truth at the output slices, a noiseless and a noisy reconstruction."""
    p = LungCtParams(**SMALL, age_years=35, covid=True, covid_extent_percent=20)
    ph, thin, _, _ = lung_ct_phantom(p, np.random.default_rng(0))
    hu = ph.compose()
    truth = hu.reshape(-1, ph.sub_slices, *hu.shape[1:]).mean(1)
    scans = [scan_volume(hu, ph.grid.spacing, slice_thickness_mm=2.5, n_views=144,
                         kernel="lung", rng=rng)[0] for rng in (None, np.random.default_rng(1))]
    masks = {**ph.masks(), **{k: ph.output_mask(v) for k, v in thin.items()}}
    return masks, [truth, *scans]


def test_registered_with_description():
    preset = PRESETS.get("lung_ct")
    assert preset.params is LungCtParams and "CT" in preset.description


def test_params_are_bounded():
    for bad in (dict(image_size=(32, 256)), dict(kvp=150), dict(mas=5), dict(n_slices=4),
                dict(covid_pattern="tree_in_bud"), dict(nodule_type="calcified"), dict(foo=1)):
        with pytest.raises(ValidationError):
            LungCtParams(**bad)


def test_hu_of_anatomy_in_truth_and_reconstruction(covid_truth):
    m, volumes = covid_truth
    lung = erode((m["lung_right"] | m["lung_left"]) & ~m["vessels"] & ~m["airways"]
                 & ~m["ggo"])
    bone = m["spine"] | m["ribs"] | m["sternum"]
    for vol in volumes:
        assert median(vol, np.pad(np.ones((vol.shape[0], 5, 5), bool), (
            (0, 0), (0, vol.shape[1] - 5), (0, vol.shape[2] - 5)))) == pytest.approx(-1000, abs=20)
        assert -900 <= median(vol, lung) <= -750
        for soft in ("heart", "aorta"):
            assert 0 <= median(vol, erode(m[soft])) <= 80, soft
        assert median(vol, bone) > 300                 # thin bones: cortex-dominated
        assert 150 <= median(vol, erode(m["spine"])) <= 350     # cancellous core


def test_ggo_hu_and_extent(covid_truth):
    m, (truth, _, noisy) = covid_truth
    lung = m["lung_right"] | m["lung_left"]
    lesion = m["ggo"] | m["consolidation"] | m["crazy_paving"]
    assert 100 * lesion.sum() / lung.sum() == pytest.approx(20, abs=3)
    core = erode(m["ggo"]) & ~m["vessels"] & ~m["airways"]
    for vol in (truth, noisy):
        assert -700 <= median(vol, core) <= -300
    assert not (lesion & ~lung).any()


def covid_masks(distribution, seed=0, pattern="ggo"):
    p = LungCtParams(**WHOLE, covid=True, covid_pattern=pattern,
                     covid_distribution=distribution, covid_extent_percent=15)
    ph, thin, _, _ = lung_ct_phantom(p, np.random.default_rng(seed))
    m = ph.masks()
    lesion = np.logical_or.reduce([ph.output_mask(v) for v in thin.values()])
    return m["lung_right"] | m["lung_left"], lesion, p.slice_thickness_mm, ph


@pytest.mark.parametrize("seed", [0, 1])
def test_lower_distribution_favours_lower_half(seed):
    lung, lesion, _, _ = covid_masks("lower", seed)
    zs = np.flatnonzero(lung.any((1, 2)))
    z_mid = (zs[0] + zs[-1] + 1) / 2                       # slice 0 is inferior
    assert (np.nonzero(lesion)[0] + 0.5 < z_mid).mean() >= 0.6


def test_peripheral_distribution_is_subpleural():
    lung, lesion, thickness, ph = covid_masks("peripheral")
    spacing = (thickness, *ph.grid.spacing[1:])
    depth = ndimage.distance_transform_edt(lung, sampling=spacing)
    peripheral = (depth[lesion] <= 20).mean()
    lung_c, lesion_c, _, _ = covid_masks("central")
    central = (ndimage.distance_transform_edt(lung_c, sampling=spacing)[lesion_c] <= 20).mean()
    assert peripheral >= 0.8 and peripheral > central + 0.1


def test_patterns_hu_and_bilateral_lesions():
    p = LungCtParams(**SMALL, covid=True, covid_pattern="mixed", covid_extent_percent=30)
    ph, thin, _, _ = lung_ct_phantom(p, np.random.default_rng(3))
    hu = ph.compose()
    truth = hu.reshape(-1, ph.sub_slices, *hu.shape[1:]).mean(1)
    m = {k: ph.output_mask(v) for k, v in thin.items()}
    assert all(m[k].any() for k in ("ggo", "consolidation", "crazy_paving"))
    assert not (m["ggo"] & m["consolidation"]).any()
    assert -100 <= median(truth, erode(m["consolidation"])) <= 50
    lung = ph.masks()
    assert (m["ggo"] & lung["lung_right"]).any() and (m["ggo"] & lung["lung_left"]).any()


@pytest.mark.parametrize("kind, diameter, category", [
    ("solid", 7.0, "3"), ("solid", 16.0, "4B"), ("ground_glass", 12.0, "2"),
    ("part_solid", 5.0, "2")])
def test_nodule_size_and_lung_rads(kind, diameter, category):
    s = lung_ct(LungCtParams(image_size=(160, 160), n_slices=12, nodule=True,
                             nodule_type=kind, nodule_diameter_mm=diameter),
                np.random.default_rng(5))
    a = s.labels.attributes
    voxel = float(np.prod(s.spacing_mm))
    # measured diameter: the sphere with the volume of the nodule's output mask
    measured = (6 * s.labels.masks["nodule"].sum() * voxel / np.pi) ** (1 / 3)
    assert measured == pytest.approx(diameter, abs=max(1.0, s.spacing_mm[1]))
    assert a["nodule_1_measured_diameter_mm"] == pytest.approx(measured, abs=0.01)
    assert a["nodule_1_lung_rads"] == category == a["lung_rads"]
    assert s.labels.instances is not None and s.labels.instance_classes == {1: "nodule"}
    (box,) = s.labels.boxes
    assert box.label == "nodule" and len(box.bbox) == 6
    lung = s.labels.masks["lung_right"] | s.labels.masks["lung_left"]
    assert not (s.labels.masks["nodule"] & ~lung).any()


def test_part_solid_category_follows_its_solid_component():
    s = lung_ct(LungCtParams(image_size=(128, 128), n_slices=12, nodule=True, nodule_count=3,
                             nodule_type="part_solid", nodule_diameter_mm=14),
                np.random.default_rng(2))
    a = s.labels.attributes
    assert a["nodule_count"] == 3 and len(s.labels.boxes) == 3
    for k in (1, 2, 3):
        assert a[f"nodule_{k}_lung_rads"] == lung_rads(
            "part_solid", a[f"nodule_{k}_diameter_mm"], a[f"nodule_{k}_solid_component_mm"])
    assert a["nodule_1_diameter_mm"] == 14.0


@pytest.fixture(scope="module")
def sick():
    return lung_ct(LungCtParams(**SMALL, covid=True, covid_pattern="crazy_paving",
                                emphysema=True, emphysema_extent_percent=12, effusion=True,
                                effusion_side="right", nodule=True), np.random.default_rng(4))


def test_masks_are_aligned_3d_and_lesions_in_lungs(sick):
    shape = sick.image.shape
    assert len(shape) == 3 and sick.image.dtype == np.float32
    assert sick.units == {"ct": "HU"} and sick.modality == "CT"
    assert sick.spacing_mm[0] == 2.5 and sick.spacing_mm[1] == sick.spacing_mm[2]
    m = sick.labels.masks
    for name, mask in m.items():
        assert mask.shape == shape and mask.dtype == bool and mask.any(), name
        assert name in LABEL_TABLE
    lung = m["lung_right"] | m["lung_left"]
    for name in ("crazy_paving", "emphysema", "nodule"):
        assert not (m[name] & ~lung).any(), name
    lobes = sum(m[k].astype(int) for k in ("right_upper_lobe", "right_middle_lobe",
                                           "right_lower_lobe", "left_upper_lobe",
                                           "left_lower_lobe") if k in m)
    assert (lobes[lung] == 1).all() and not lobes[~lung].any()   # lobes partition the lungs
    assert not (m["effusion"] & lung).any()


def test_findings_attributes_and_report(sick):
    a, c = sick.labels.attributes, sick.labels.classes
    assert set(c) == set(FINDINGS) and all(c.values())
    assert a["emphysema_extent_percent"] == pytest.approx(12, abs=3)
    assert 0 <= a["covid_severity_score"] <= 25
    assert a["covid_severity_score"] == sum(a[f"covid_severity_{k}"]
                                            for k in ("RUL", "RML", "RLL", "LUL", "LLL"))
    assert a["effusion_side"] == "right" and a["effusion_volume_ml"] > 0
    for key in ("age_years", "sex", "kvp", "mas", "kernel", "covid_extent_percent"):
        assert key in a
    report = sick.report.lower()
    for word in ("crazy paving", "emphysema", "nodule", "right pleural effusion"):
        assert word in report


def test_effusion_is_dependent_and_fluid():
    p = LungCtParams(**WHOLE, effusion=True, effusion_side="left")
    ph, thin, _, _ = lung_ct_phantom(p, np.random.default_rng(6))
    hu = ph.compose()
    truth = hu.reshape(-1, ph.sub_slices, *hu.shape[1:]).mean(1)
    eff, m = ph.output_mask(thin["effusion"]), ph.masks()
    in_plane = np.ones((1, 3, 3), bool)                     # 10 mm slices: erode in-plane
    assert 0 <= median(truth, ndimage.binary_erosion(eff, in_plane)) <= 20
    rows = np.nonzero(eff)[1].mean(), np.nonzero(m["lung_left"])[1].mean()
    assert rows[0] > rows[1]                                # posterior (rows run backwards)
    cols = np.nonzero(eff)[2].mean(), np.nonzero(m["lung_right"])[2].mean()
    assert cols[0] > cols[1]                                # on the patient's left


def test_emphysema_is_low_attenuation():
    p = LungCtParams(**SMALL, emphysema=True, emphysema_type="panlobular",
                     emphysema_extent_percent=20)
    ph, thin, _, _ = lung_ct_phantom(p, np.random.default_rng(7))
    hu = ph.compose()
    truth = hu.reshape(-1, ph.sub_slices, *hu.shape[1:]).mean(1)
    emph = ph.output_mask(thin["emphysema"])
    assert median(truth, erode(emph) & ~ph.masks()["vessels"]) < -950


def test_orientation_is_lps():
    s = lung_ct(LungCtParams(**WHOLE), np.random.default_rng(8))
    m = s.labels.masks
    centre = {k: np.array(np.nonzero(m[k])).mean(1) for k in ("lung_right", "lung_left",
                                                             "heart", "spine", "sternum",
                                                             "airways")}
    assert centre["lung_right"][2] < centre["lung_left"][2]   # columns run to the left
    assert centre["heart"][2] > centre["spine"][2]            # heart left of the midline
    assert centre["spine"][1] > centre["sternum"][1]          # rows run posterior
    assert centre["airways"][0] > centre["heart"][0]          # slices run up


def test_noise_falls_with_mas():
    """Standard kernel: the lung kernel's edge overshoot would dominate a small region."""
    def blood_std(mas):
        s = lung_ct(LungCtParams(image_size=(160, 160), n_slices=8, mas=mas,
                                 kernel="standard"), np.random.default_rng(9))
        m = s.labels.masks
        return float(s.image[erode(m["heart"] | m["aorta"], 2)].std())
    stds = [blood_std(mas) for mas in (20, 80, 320)]
    assert stds[0] > stds[1] > stds[2]
    assert stds[2] < 0.4 * stds[0]       # sigma ~ 1/sqrt(mAs): ideally 0.25


def test_same_seed_same_sample():
    a = lung_ct(LungCtParams(image_size=(64, 64), n_slices=8, covid=True),
                np.random.default_rng(3))
    b = lung_ct(LungCtParams(image_size=(64, 64), n_slices=8, covid=True),
                np.random.default_rng(3))
    assert_samples_equal(a, b)
