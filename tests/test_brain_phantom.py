"""The MNI152 head phantom and its pathology: orientation, volumes, layers, determinism,
lesion placement and BraTS labels (2-3 mm grids, so the whole file runs in seconds)."""

import numpy as np
import pytest

from synthmed.phantoms import brain_lesions as bl
from synthmed.phantoms.brain import (FOV_MM, TISSUES, brain_phantom, grid_shape,
                                     structure_mask)

T = TISSUES


def make(seed=0, spacing=(3.0, 3.0, 3.0), **kw):
    return brain_phantom(np.random.default_rng(seed), spacing_mm=spacing, **kw)


def centroid(mask):
    return np.argwhere(mask).mean(0)


@pytest.fixture(scope="module")
def ph3():
    return make()


def test_axes_follow_lps(ph3):
    """Row 0 anterior, slice 0 inferior, column 0 the patient's right."""
    vent, cereb = centroid(ph3.mask("ventricles")), centroid(ph3.mask("cerebellum"))
    assert cereb[1] > vent[1] + 10          # cerebellum posterior (rows run posterior) ...
    assert cereb[0] < vent[0] - 5           # ... and inferior (slices run up)
    frontal_horn = centroid(ph3.mask("deep_grey"))
    assert frontal_horn[1] < cereb[1]
    brain = np.argwhere(ph3.mask("brain"))
    mni = ph3.template_coordinates(brain[[brain[:, 2].argmin(), brain[:, 1].argmin(),
                                          brain[:, 0].argmax()]])
    assert mni[0, 0] > 50 and mni[1, 1] > 40 and mni[2, 2] > 50   # right, anterior, vertex


def test_volumes_plausible_and_atrophy_with_age():
    young, old = make(1, spacing=(2.0, 2.0, 2.0)), make(1, spacing=(2.0, 2.0, 2.0),
                                                       age_years=85)
    a, b = young.attributes, old.attributes
    assert 1000 < a["brain_volume_ml"] < 1600
    assert 10 < a["ventricle_volume_ml"] < 60
    assert 1200 < a["icv_ml"] < 1900
    assert 1.5 < b["ventricle_volume_ml"] / a["ventricle_volume_ml"] < 4
    assert 0.80 < b["brain_volume_ml"] / a["brain_volume_ml"] < 0.93   # ~0.2-0.5 %/yr
    assert b["csf_volume_ml"] > a["csf_volume_ml"]                      # sulci widen
    assert a["icv_ml"] == pytest.approx(b["icv_ml"])                     # the skull stays
    for name in ("grey_matter", "white_matter", "deep_grey", "cerebellum", "brainstem",
                 "vessels", "skull", "diploe", "fat", "scalp"):
        assert young.mask(name).any(), name


def test_layers_around_the_brain(ph3):
    """Along rays from the ventricles (up, forwards, backwards, to both sides) the brain
    is followed by skull, then fat or scalp, then air."""
    t = ph3.tissue
    c = np.round(centroid(ph3.mask("ventricles"))).astype(int)
    rays = [t[c[0]:, c[1], c[2]], t[c[0], c[1]::-1, c[2]], t[c[0], c[1]:, c[2]],
            t[c[0], c[1], c[2]::-1], t[c[0], c[1], c[2]:]]
    for ray in rays:
        brain = structure_mask(ray, "brain")
        last = np.flatnonzero(brain)[-1]
        outside = ray[last + 1:]
        skull = np.flatnonzero(structure_mask(outside, "skull"))
        assert skull.size and 1 <= skull.size <= 4, ray          # 3-12 mm of bone
        assert np.isin(outside[skull[-1] + 1:], (T["fat"], T["scalp"])).any()
        assert outside[-1] == T["background"]
    assert not ph3.tissue[-1].any()                               # the head closes on top


def test_determinism_and_variety():
    a, b, c = make(5), make(5), make(6)
    assert np.array_equal(a.tissue, b.tissue) and a.attributes == b.attributes
    assert not np.array_equal(a.tissue, c.tissue)


def test_anisotropic_spacing_and_shape():
    ph = make(2, spacing=(5.0, 2.0, 2.5))
    assert ph.tissue.shape == grid_shape((5.0, 2.0, 2.5)) == (40, 120, 80)
    iso = make(2, spacing=(2.5, 2.5, 2.5))
    assert ph.attributes["brain_volume_ml"] == pytest.approx(iso.attributes["brain_volume_ml"],
                                                            rel=0.05)
    small = make(2, shape=(30, 50, 40))
    assert small.tissue.shape == (30, 50, 40) and small.mask("brain").sum() > 0.5 * 30 * 50 * 40
    assert grid_shape((1.0, 1.0, 1.0)) == tuple(int(f) for f in FOV_MM)


def test_glioma_brats_layers_oedema_in_white_matter():
    ph = make(3, spacing=(2.0, 2.0, 2.0))
    before = ph.tissue.copy()
    rec = bl.add_glioma(ph, np.random.default_rng(0), radius_mm=20.0, location="frontal",
                        side="left", mass_effect=False)
    assert rec["kind"] == "glioma" and rec["lobe"] == "frontal" and rec["hemisphere"] == "left"
    assert set(np.unique(bl.brats_label_map(ph.tissue))) == {0, 1, 2, 3}
    lesion = ph.mask("lesion")
    assert np.isin(before[lesion], (6, 7, 9, 10, 11)).all()        # parenchyma only
    oedema = ph.tissue == T["oedema"]
    assert (before[oedema] == T["white_matter"]).mean() > 0.6
    assert np.array_equal(ph.instances > 0, lesion)
    core_ml = ((ph.tissue == 13) | (ph.tissue == 15)).sum() * 8 / 1000
    assert 0.4 * 4 / 3 * np.pi * 20 ** 3 / 1000 < core_ml < 1.5 * 4 / 3 * np.pi * 20 ** 3 / 1000
    assert np.argwhere(lesion)[:, 2].mean() > ph.tissue.shape[2] / 2     # left: high columns


def test_glioma_mass_effect_compresses_the_ventricle():
    kw = {"radius_mm": 30.0, "location": "parietal", "side": "right"}
    flat, pushed = make(4, spacing=(2.0, 2.0, 2.0)), make(4, spacing=(2.0, 2.0, 2.0))
    bl.add_glioma(flat, np.random.default_rng(1), mass_effect=False, **kw)
    rec = bl.add_glioma(pushed, np.random.default_rng(1), mass_effect=True, **kw)
    right = slice(0, flat.tissue.shape[2] // 2)
    assert pushed.mask("ventricles")[..., right].sum() < flat.mask("ventricles")[..., right].sum()
    assert rec["midline_shift_mm"] > 0.5


def test_low_grade_glioma_does_not_enhance():
    ph = make(5, spacing=(2.0, 2.0, 2.0))
    rec = bl.add_glioma(ph, np.random.default_rng(2), radius_mm=18.0, enhancing=False)
    assert not (ph.tissue == T["enhancing_tumour"]).any() and rec["enhancing"] is False
    assert set(np.unique(bl.brats_label_map(ph.tissue))) == {0, 1, 2}


def test_metastases_count_size_and_no_overlap():
    ph = make(6, spacing=(2.0, 2.0, 2.0))
    before = ph.tissue.copy()
    recs = bl.add_metastases(ph, np.random.default_rng(3), count=4, radius_mm=(4.0, 10.0))
    assert len(recs) == 4 and [r["instance"] for r in recs] == [1, 2, 3, 4]
    for r in recs:
        assert 4.0 <= r["radius_mm"] <= 10.0 and r["oedema_ml"] > r["volume_ml"] * 0.5
        mine = ph.instances == r["instance"]
        assert mine.any() and (ph.tissue[mine] != T["ms_lesion"]).all()
        assert r["volume_ml"] < 2 * 4 / 3 * np.pi * r["radius_mm"] ** 3 / 1000
    assert np.isin(before[ph.instances > 0], (6, 7, 9, 10, 11)).all()
    assert (ph.tissue == T["enhancing_tumour"]).any()


def test_ms_lesions_in_white_matter_near_ventricles():
    ph = make(7, spacing=(2.0, 2.0, 2.0))
    before = ph.tissue.copy()
    recs = bl.add_ms_lesions(ph, np.random.default_rng(4), count=12)
    assert 8 <= len(recs) <= 12
    ms = ph.tissue == T["ms_lesion"]
    assert ms.any() and np.isin(before[ms], (6, 7, 9, 10, 11)).all()
    assert (before[ms] == T["white_matter"]).mean() > 0.6
    assert all(3.0 <= r["length_mm"] <= 15.0 for r in recs)
    assert {r["site"] for r in recs} <= {"periventricular", "juxtacortical", "infratentorial"}


@pytest.mark.parametrize("territory", ["MCA", "ACA", "PCA"])
def test_stroke_territory_side_and_stage(territory):
    ph = make(8, spacing=(2.0, 2.0, 2.0))
    before = ph.tissue.copy()
    rec = bl.add_stroke(ph, np.random.default_rng(5), territory=territory, side="left",
                        stage="chronic")
    inf = ph.tissue == T["infarct"]
    assert inf.any() and rec["stage"] == "chronic" and rec["territory"] == territory
    assert np.isin(before[inf], (6, 7, 9)).all()
    mni = ph.template_coordinates(np.argwhere(inf))
    assert (mni[:, 0] < 0).mean() > 0.95                          # left hemisphere
    assert (ph.tissue == T["csf"]).sum() > (before == T["csf"]).sum()   # encephalomalacia


def test_lesions_are_deterministic():
    a, b = make(9), make(9)
    for ph in (a, b):
        bl.add_metastases(ph, np.random.default_rng(7), count=2)
        bl.add_ms_lesions(ph, np.random.default_rng(8), count=3)
    assert np.array_equal(a.tissue, b.tissue) and a.lesions == b.lesions
