"""Ultrasound physics and the ``ultrasound`` preset: speckle statistics, attenuation, shadowing,
enhancement, geometry, labels and biometry."""

import numpy as np
import pytest
from pydantic import ValidationError

from synthmed.phantoms.us_scenes import ellipse_perimeter
from synthmed.physics.ultrasound import (RAYLEIGH_LOG_STD_DB, RAYLEIGH_SNR, TISSUES, Tissue,
                                         reflection_coefficient, speckle_snr)
from synthmed.physics.us_scan import PROBES, cartesian_grid, simulate_bmode
from synthmed.presets.ultrasound import UltrasoundParams, ultrasound


def _homogeneous(tissue, **kw):
    args = dict(probe=PROBES["linear"], frequency_mhz=7.5, depth_mm=40.0, focus_mm=20.0,
                image_size=(128, 128), rng=np.random.default_rng(1))
    args.update(kw)
    return simulate_bmode(lambda x, z: np.zeros(np.shape(x), int), [tissue], **args)


def _render(seed=0, **kw):
    kw.setdefault("image_size", (128, 128))
    return ultrasound(UltrasoundParams(**kw), np.random.default_rng(seed))


def test_speckle_is_rayleigh():
    """Fully developed speckle: envelope mean/std = 1.91 and log-envelope std = 5.57 dB."""
    b = _homogeneous(Tissue(1540, 1.6, 0.0, 1.0, 30.0))
    band = b.envelope[(b.depths_mm > 17) & (b.depths_mm < 23)]
    assert speckle_snr(band) == pytest.approx(RAYLEIGH_SNR, abs=0.15)       # Wagner 1983
    assert np.std(20 * np.log10(band)) == pytest.approx(RAYLEIGH_LOG_STD_DB, abs=0.3)
    assert np.mean(band ** 2) == pytest.approx(1.0, rel=0.25)               # reference echo


def test_few_scatterers_give_spikier_speckle():
    sparse = _homogeneous(Tissue(1540, 1.6, 0.0, 1.0, 1.0))
    band = sparse.envelope[(sparse.depths_mm > 17) & (sparse.depths_mm < 23)]
    assert speckle_snr(band) < RAYLEIGH_SNR - 0.3


def test_attenuation_slope_without_tgc():
    """With TGC off the echo falls by 2 alpha f0 dB/cm (round trip), within 15 %."""
    f0, alpha = 5.0, 0.5
    lossy = _homogeneous(Tissue(1540, 1.6, alpha, 1.0), frequency_mhz=f0, tgc=False)
    clear = _homogeneous(Tissue(1540, 1.6, 0.0, 1.0), frequency_mhz=f0, tgc=False)
    d = lossy.depths_mm
    sel = (d > 5) & (d < 35)
    ratio_db = 10 * np.log10(np.mean(lossy.envelope[sel] ** 2, axis=1)
                             / np.mean(clear.envelope[sel] ** 2, axis=1))
    slope_db_per_cm = np.polyfit(d[sel] / 10.0, ratio_db, 1)[0]
    assert slope_db_per_cm == pytest.approx(-2 * alpha * f0, rel=0.15)
    # and TGC takes the average slope out again
    on = _homogeneous(Tissue(1540, 1.6, alpha, 1.0), frequency_mhz=f0)
    prof = 10 * np.log10(np.mean(on.envelope[sel] ** 2, axis=1))
    assert abs(np.polyfit(d[sel] / 10.0, prof, 1)[0]) < 1.0


def _column_means(b, x_behind, x_beside, z0, z1):
    """Mean grey level behind a structure and beside it (mm)."""
    x, z = b.grid.centres()
    rows = (z > z0) & (z < z1)
    behind = b.image[rows & (np.abs(x - x_behind) < 1.0)].mean()
    beside = b.image[rows & (np.abs(np.abs(x - x_behind) - x_beside) < 1.0)].mean()
    return behind, beside


def test_calcification_casts_a_shadow_and_cyst_enhances():
    tissues = [TISSUES["liver"], TISSUES["calcification"], TISSUES["water"]]

    def labels(x, z):
        lab = np.zeros(np.shape(x), int)
        lab[(x + 8) ** 2 + (z - 12) ** 2 < 1.5 ** 2] = 1       # calcification, 3 mm
        lab[(x - 8) ** 2 + (z - 12) ** 2 < 4.0 ** 2] = 2       # cyst, 8 mm
        return lab

    b = simulate_bmode(labels, tissues, probe=PROBES["linear"], frequency_mhz=7.5,
                       depth_mm=40.0, focus_mm=15.0, image_size=(160, 160),
                       rng=np.random.default_rng(2))
    behind, beside = _column_means(b, -8.0, 6.0, 20, 34)
    assert behind < beside - 0.15                  # > 9 dB darker at 60 dB dynamic range
    behind, beside = _column_means(b, 8.0, 7.0, 20, 34)
    assert behind > beside + 0.03                  # posterior acoustic enhancement


def test_reflection_at_bone_and_air():
    r, t = reflection_coefficient(1.63, 7.38)
    assert r == pytest.approx(0.638, abs=0.01) and t == pytest.approx(1 - r ** 2)
    r, t = reflection_coefficient(1.66, 0.0004)
    assert r == pytest.approx(-1.0, abs=1e-3) and t < 1e-3


def test_same_rng_same_image_and_gain_keeps_speckle():
    a, b = _render(3, lesion="malignant"), _render(3, lesion="malignant")
    assert np.array_equal(a.image, b.image)
    brighter = _render(3, lesion="malignant", gain_db=12.0, dynamic_range_db=60.0)
    base = _render(3, lesion="malignant", gain_db=6.0, dynamic_range_db=60.0)
    ok = (base.image > 0.02) & (base.image < 0.85)
    np.testing.assert_allclose((brighter.image - base.image)[ok], 6.0 / 60.0, atol=1e-4)


def test_changing_the_lesion_keeps_the_breast():
    cyst, none = _render(4, lesion="cyst"), _render(4, lesion="none")
    for name in ("skin", "subcutaneous_fat"):
        np.testing.assert_array_equal(cyst.labels.masks[name], none.labels.masks[name])
    assert "lesion" in cyst.labels.masks and "lesion" not in none.labels.masks


@pytest.mark.parametrize("kind", ["cyst", "benign", "malignant"])
def test_lesion_mask_aligns_and_birads_matches(kind):
    s = _render(5, lesion=kind)
    a, m = s.labels.attributes, s.labels.masks["lesion"]
    from scipy import ndimage
    ring = ndimage.binary_dilation(m, iterations=6) & ~ndimage.binary_dilation(m, iterations=2)
    ring &= ~s.labels.masks.get("echogenic_halo", np.zeros_like(m))
    assert s.image[m].mean() < s.image[ring].mean() - 0.05     # lesion darker than around it
    if kind == "cyst":
        assert s.image[ndimage.binary_erosion(m, iterations=2)].mean() < 0.1   # anechoic
    low, high = {"cyst": (2, 2), "benign": (3, 3), "malignant": (4, 5)}[kind]
    assert low <= a["birads"] <= high
    assert s.labels.classes == {"cyst": kind == "cyst", "benign": kind == "benign",
                                "malignant": kind == "malignant"}
    r0, c0, r1, c1 = s.labels.boxes[0].bbox
    tall = (r1 - r0) > (c1 - c0)
    assert (a["lesion_orientation"] == "not parallel") == tall or abs((r1 - r0) - (c1 - c0)) <= 2
    width_px = a["lesion_width_mm"] / s.spacing_mm[1]                   # analytic extent
    left, right = s.labels.landmarks["lesion_left"][1], s.labels.landmarks["lesion_right"][1]
    assert right - left == pytest.approx(width_px)
    assert left - 1 <= c0 and c1 <= right + 1                           # mask box within it
    assert c1 - c0 >= 0.9 * width_px                                    # (spicule tips thin)
    if kind == "cyst":
        assert a["posterior_features"] == "enhancement"
    assert s.report.startswith("FINDINGS") and "BI-RADS" in s.report


@pytest.mark.parametrize("ga", [16.0, 36.0])
def test_head_circumference_matches_the_drawn_ellipse(ga):
    s = _render(6, scene="fetal_head", gestational_age_weeks=ga, image_size=(256, 256))
    a = s.labels.attributes
    expected = ellipse_perimeter(a["ofd_mm"] / 2, a["bpd_mm"] / 2)     # Ramanujan
    assert a["head_circumference_mm"] == pytest.approx(expected, rel=0.01)
    (r0, c0), (r1, c1) = s.labels.landmarks["bpd_near"], s.labels.landmarks["bpd_far"]
    assert np.hypot(r1 - r0, c1 - c0) * s.spacing_mm[0] == pytest.approx(a["bpd_mm"], rel=1e-6)
    need = {"skull", "head", "midline_falx", "thalami", "cavum_septi_pellucidi"}
    assert need <= set(s.labels.masks)


def test_sector_geometry_and_masks_inside_it():
    curved = _render(7, scene="abdomen")
    img, masks, depth = curved.image, curved.labels.masks, curved.labels.attributes["depth_mm"]
    grid = cartesian_grid(PROBES["curvilinear"], depth, img.shape)
    assert grid.spacing_mm == curved.spacing_mm[0]
    fan = PROBES["curvilinear"].inside(*grid.centres(), depth)            # analytic sector
    assert not img[~fan].any() and img[fan].mean() > 0.2                  # 0 outside the fan
    assert img[0, 0] == 0 and img[0, -1] == 0 and img[-1, 0] == 0
    assert not any((m & ~fan).any() for m in masks.values())             # no mask outside
    assert {"liver", "kidney", "renal_sinus", "renal_cortex"} <= set(masks)
    linear = _render(7, lesion="none", depth_mm=60.0)                     # 40 mm wide, 60 deep
    assert linear.image[:, :5].max() == 0 and linear.image[:, 60:68].min() >= 0
    assert linear.image[:, 60:68].mean() > 0.2
    assert not any(m[:, :5].any() for m in linear.labels.masks.values())


@pytest.mark.parametrize("bad", [dict(scene="abdomen", lesion="cyst"),
                                 dict(probe="curvilinear", compounding=3),
                                 dict(depth_mm=30.0, focus_mm=40.0),
                                 dict(frequency_mhz=30.0), dict(steatosis_grade=2),
                                 dict(gain=3.0)])
def test_params_are_validated(bad):
    with pytest.raises(ValidationError):
        UltrasoundParams(**bad)
