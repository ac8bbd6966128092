"""The knee_xray preset: measurable KL controls, counterfactual edits, growth plates, labels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from synthmed.edit import edit
from synthmed.phantoms.knee_oa import CONTROLS, KL_GRADES, control_range
from synthmed.presets.knee_xray import LABEL_TABLE, KneeXrayParams, knee_xray
from synthmed.registry import PRESETS
from synthmed.run.task import render
from synthmed.sample import assert_samples_equal
from synthmed.seeding import sample_streams

SIZE = (256, 256)


def make(seed=0, index=0, **kw):
    kw.setdefault("image_size", SIZE)
    kw.setdefault("field_of_view", "joint")
    return knee_xray(KneeXrayParams(**kw), sample_streams(seed, index)[1])


def landmark_jsw_mm(s, compartment):
    (r0, c0), (r1, c1) = (s.labels.landmarks[f"{compartment}_{b}"] for b in ("femur", "tibia"))
    return float(np.hypot(r1 - r0, c1 - c0)) * s.spacing_mm[0]


def mask_jsw_mm(s, compartment):
    """Gap between the femur and tibia masks in the landmark's column, in mm (±1 pixel)."""
    col = int(s.labels.landmarks[f"{compartment}_femur"][1])
    femur, tibia = s.labels.masks["femur"][:, col], s.labels.masks["tibia"][:, col]
    last_femur = np.nonzero(femur)[0].max()
    first_tibia = np.nonzero(tibia)[0].min()
    return max(first_tibia - last_femur - 1, 0) * s.spacing_mm[0]


def test_registered_with_description():
    p = PRESETS.get("knee_xray")
    assert p.params is KneeXrayParams and "radiograph" in p.description.lower()


def test_same_stream_same_sample_other_stream_differs():
    a, b = make(3, kl_grade=2), make(3, kl_grade=2)
    assert_samples_equal(a, b)
    assert not np.array_equal(a.image, make(4, kl_grade=2).image)


@pytest.mark.parametrize("grade, medial, lateral", [(4, 0.5, 2.5), (4, 1.0, 6.0), (3, 2.0, 3.0),
                                                    (2, 3.5, 5.0), (0, 6.0, 7.0), (0, 4.0, 5.0)])
@pytest.mark.parametrize("seed", [0, 1])
def test_jsw_in_the_image_is_the_requested_width(grade, medial, lateral, seed):
    s = make(seed, kl_grade=grade, medial_jsw_mm=medial, lateral_jsw_mm=lateral,
             rotation_deg=5.0 * seed, laterality="LR"[seed])
    assert s.spacing_mm[0] < 0.5
    for comp, want in (("medial", medial), ("lateral", lateral)):
        assert landmark_jsw_mm(s, comp) == pytest.approx(want, abs=0.5)
        assert mask_jsw_mm(s, comp) == pytest.approx(want, abs=0.5)   # independent: masks
        assert s.labels.attributes[f"{comp}_jsw_mm"] == want


def test_medial_landmarks_are_on_the_medial_side():
    for lat in ("L", "R"):
        s = make(0, laterality=lat)
        fib = np.nonzero(s.labels.masks["fibula"])[1].mean()
        med = s.labels.landmarks["medial_femur"][1]
        lateral = s.labels.landmarks["lateral_femur"][1]
        assert abs(fib - lateral) < abs(fib - med)                  # fibula is lateral
        assert (fib < SIZE[1] / 2) == (lat == "R")                 # R knee: lateral = image left


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), grade=st.integers(0, 4))
def test_drawn_controls_lie_inside_the_grade(seed, grade):
    s = make(seed, kl_grade=grade, image_size=(64, 64))
    attrs = s.labels.attributes
    for name in CONTROLS:
        lo, hi = KL_GRADES[grade][name]
        if name == "osteophyte_size_mm" and attrs["osteophyte_count"] == 0:
            assert attrs[name] == 0.0
            continue
        assert lo - 1e-9 <= attrs[name] <= hi + 1e-9, (name, attrs[name], (lo, hi))
    assert s.labels.classes["osteoarthritis"] == (grade >= 2)


@pytest.mark.parametrize("grade", range(5))
def test_twenty_samples_per_grade_inside_ranges_and_monotone(grade):
    jsw = []
    for i in range(20):
        a = make(7, i, kl_grade=grade, image_size=(64, 64)).labels.attributes
        for name in CONTROLS:
            lo, hi = KL_GRADES[grade][name]
            if not (name == "osteophyte_size_mm" and a["osteophyte_count"] == 0):
                assert lo - 1e-9 <= a[name] <= hi + 1e-9, (name, a[name])
        jsw.append(a["medial_jsw_mm"])
    assert np.ptp(jsw) > 0  # drawn, not fixed


@pytest.mark.parametrize("kw, words", [
    (dict(kl_grade=1, medial_jsw_mm=2.0), ["KL grade 1's range 3.5–5.0 mm", "KL 3 allows it"]),
    (dict(kl_grade=0, medial_jsw_mm=0.5), ["4.0–6.0 mm", "KL 4 allows it"]),
    (dict(kl_grade=2, osteophyte_count=5), ["1–3", "KL 3 or 4 allow it"]),
    (dict(kl_grade=3, sclerosis=0.9), ["0.2–0.6", "KL 4 allows it"]),
    (dict(kl_grade=4, cyst_count=0), ["1–4", "KL 0 or 1 or 2 or 3 allow it"]),
    (dict(kl_grade=2, age_years=12), ["children", "age_years"]),
    (dict(kl_grade=0, age_years=8, medial_jsw_mm=4.5), ["6.0–8.0 mm"]),
])
def test_controls_outside_the_grade_fail_with_the_range(kw, words):
    with pytest.raises(ValidationError) as exc:
        KneeXrayParams(**kw)
    for w in words:
        assert w in str(exc.value)


@pytest.mark.parametrize("bad", [dict(age_years=4), dict(age_years=95), dict(kvp=40),
                                 dict(mas=30), dict(flexion_deg=25), dict(rotation_deg=-12),
                                 dict(kl_grade=5), dict(image_size=(32, 64)), dict(view="LAT"),
                                 dict(field_of_view="hip"), dict(sclerosis=1.5), dict(colour=1)])
def test_out_of_range_params_fail(bad):
    with pytest.raises(ValidationError):
        KneeXrayParams(**bad)


def test_every_field_documented_with_default():
    for name, f in KneeXrayParams.model_fields.items():
        assert f.description and not f.is_required(), name


def test_children_have_darker_physes_adults_none():
    for age in (7, 11, 14):
        s = make(2, age_years=age, sex="M")
        img = s.image
        for bone, name, up in (("femur", "femoral_physis", True), ("tibia", "tibial_physis", False)):
            phys = s.labels.masks[name]
            # the metaphysis is the bone just above (femur) / below (tibia) the plate
            shift = 1 + int(round(1.5 / s.spacing_mm[0]))
            meta = np.zeros_like(phys)
            for k in range(shift, shift + 4):
                meta |= np.roll(phys, -k if up else k, axis=0)
            meta &= s.labels.masks[bone] & ~phys
            assert img[phys].mean() < img[meta].mean() - 0.02, (age, name)
    adult = make(2, age_years=30)
    assert not {"femoral_physis", "tibial_physis", "fibular_physis"} & set(adult.labels.masks)
    assert not adult.labels.attributes["open_physes"]


def test_physes_close_by_sex():
    assert "femoral_physis" in make(1, age_years=15.5, sex="M").labels.masks
    assert "femoral_physis" not in make(1, age_years=16.5, sex="F").labels.masks


def test_youngest_children_have_small_knees():
    small, adult = make(0, age_years=5, sex="M"), make(0, age_years=40, sex="M")
    w = lambda s: np.nonzero(s.labels.masks["tibia"].any(0))[0].size * s.spacing_mm[0]  # noqa
    assert w(small) < 0.8 * w(adult)


def test_external_rotation_increases_tibiofibular_overlap():
    def overlap(rot):
        m = make(4, rotation_deg=rot).labels.masks
        return (m["tibia"] & m["fibula"]).sum()
    assert overlap(-10) < overlap(0) < overlap(10)


@pytest.mark.parametrize("seed, index, processing", [(11, 2, "standard"), (0, 1, "standard"),
                                                     (2, 1, "standard"), (11, 2, "clahe"),
                                                     (0, 1, "clahe")])
def test_counterfactual_grade_edit_changes_only_the_joint(seed, index, processing):
    # CLAHE is local but takes its mapping from the disease-free reference: still local
    params = KneeXrayParams(image_size=SIZE, field_of_view="knee", kl_grade=0, age_years=62,
                            processing=processing)
    a = render("knee_xray", params, seed=seed, index=index)
    b = edit(a, kl_grade=3)
    assert b.labels.attributes["kl_grade"] == 3 and a.spacing_mm == b.spacing_mm
    assert b.labels.attributes["medial_jsw_mm"] < a.labels.attributes["medial_jsw_mm"]
    px = a.spacing_mm[0]
    rows = [lm[0] for s in (a, b) for lm in s.labels.landmarks.values()]
    joint = np.zeros(a.image.shape, bool)
    joint[max(int(min(rows) - 15 / px), 0): int(max(rows) + 15 / px) + 1] = True
    margin = int(np.ceil(3 / px))
    for box in b.labels.boxes:  # osteophytes, with a margin
        r0, c0, r1, c1 = (int(v) for v in box.bbox)
        joint[max(r0 - margin, 0): r1 + margin, max(c0 - margin, 0): c1 + margin] = True
    for name in ("femur", "tibia", "fibula", "patella"):
        assert np.array_equal(a.labels.masks[name] & ~joint, b.labels.masks[name] & ~joint), name
    diff = np.abs(a.image - b.image)
    assert diff[~joint].mean() < 0.005
    assert np.percentile(diff[~joint], 99) < 0.02
    assert diff[joint].mean() > 0.01
    assert b.labels.boxes and len(b.labels.boxes) == b.labels.attributes["osteophyte_count"]


def test_edit_grade_keeps_quantile_so_disease_grows():
    base = KneeXrayParams(image_size=(64, 64), kl_grade=1)
    s = render("knee_xray", base, seed=3, index=0)
    prev = s.labels.attributes
    for g in (2, 3, 4):
        cur = edit(s, kl_grade=g).labels.attributes
        q = lambda a, k: (a[k] - control_range(k, a["kl_grade"])[0]) / np.ptp(  # noqa: E731
            control_range(k, a["kl_grade"]))
        assert q(cur, "medial_jsw_mm") == pytest.approx(q(prev, "medial_jsw_mm"), abs=1e-3)
        assert cur["medial_jsw_mm"] <= prev["medial_jsw_mm"]
        prev = cur


def test_labels_are_well_formed():
    s = make(5, kl_grade=4, cyst_count=3, osteophyte_size_mm=6.0)
    assert s.labels.label_table == LABEL_TABLE
    assert {"femur", "tibia", "fibula", "patella", "osteophyte", "subchondral_cyst"} <= set(s.labels.masks)
    inst = s.labels.instances
    assert inst is not None and set(np.unique(inst)) - {0} == set(s.labels.instance_classes)
    big = max((b.bbox[2] - b.bbox[0], b.bbox[3] - b.bbox[1]) for b in s.labels.boxes)
    assert 3.0 < max(big) * s.spacing_mm[0] < 14.0   # largest spur: ~6 mm beyond the margin
    cyst = s.labels.masks["subchondral_cyst"]
    assert (cyst & (s.labels.masks["tibia"] | s.labels.masks["femur"])).sum() == cyst.sum()
    for k in ("kl_grade", "medial_jsw_mm", "lateral_jsw_mm", "osteophyte_count", "sclerosis",
              "cyst_count", "deformity", "age_years", "sex", "laterality", "view", "flexion_deg"):
        assert k in s.labels.attributes
    assert s.modality == "DX"


def test_osteoarthritis_narrows_and_brightens_the_medial_joint():
    a, b = make(6, kl_grade=0, medial_jsw_mm=5.5), make(6, kl_grade=4, medial_jsw_mm=0.5, sclerosis=1.0)
    r, c = (int(v) for v in a.labels.landmarks["medial_tibia"])
    below = slice(r + 2, r + 2 + int(6 / a.spacing_mm[0]))
    cols = slice(c - 8, c + 8)
    assert b.image[below, cols].mean() > a.image[below, cols].mean() + 0.03  # sclerosis


def test_report_states_grade_and_widths():
    s = make(0, kl_grade=3, medial_jsw_mm=2.2)
    assert "Kellgren-Lawrence grade 3" in s.report and "2.2 mm" in s.report
    assert "grade 0" in make(0, age_years=9).report and "Growth plates open" in make(0, age_years=9).report


def test_field_of_view_and_size():
    k, j = make(0, field_of_view="knee"), make(0, field_of_view="joint")
    assert k.spacing_mm[0] > 1.3 * j.spacing_mm[0]
    assert make(0, image_size=(96, 160)).image.shape == (96, 160)


def test_clahe_processing_by_field_of_view():
    crop, std = make(1), make(1, processing="standard")
    assert not np.array_equal(crop.image, std.image)                 # 'auto' = clahe for crops
    assert np.array_equal(make(1, field_of_view="knee").image,
                          make(1, field_of_view="knee", processing="standard").image)
    assert crop.image.dtype == np.float32 and 0 <= crop.image.min() and crop.image.max() <= 1


def _width_mm(s, bone, y_mm):
    """Width (mm) of a bone's mask at ``y_mm`` below the medial femoral landmark."""
    row = int(round(s.labels.landmarks["medial_femur"][0] + y_mm / s.spacing_mm[0]))
    return s.labels.masks[bone][row].sum() * s.spacing_mm[0]


@pytest.mark.parametrize("seed", [0, 3])
def test_bone_outlines_flare_concavely(seed):
    s = make(seed, field_of_view="knee")
    # femur: the metaphysis widens faster and faster towards the epicondyles (trumpet)
    f = [_width_mm(s, "femur", y) for y in (-30, -50, -70)]
    assert f[0] - f[1] > f[1] - f[2] > 0
    # tibia ("wine glass"): plateau wider than the shaft, narrowing more slowly downwards
    t = [_width_mm(s, "tibia", y) for y in (20, 40, 60)]
    assert t[0] - t[1] > t[1] - t[2] > 0 and t[0] > 1.5 * t[2]


def test_physes_are_grey_not_black():
    s = make(2, age_years=9, sex="M", field_of_view="knee", processing="standard")
    phys = s.labels.masks["tibial_physis"]
    rows = np.nonzero(phys.any(1))[0]
    bone = s.labels.masks["tibia"] | s.labels.masks["fibula"] | phys
    outside = np.zeros_like(phys)
    outside[rows] = ~bone[rows]
    outside &= s.image > 0.05                                         # soft tissue, not air
    assert s.image[phys].mean() > np.median(s.image[outside])        # cartilage: soft-tissue grey
