"""The chest_xray preset: determinism, label alignment, anatomy and findings."""

import numpy as np
import pytest
from pydantic import ValidationError

from synthmed.presets.chest_xray import FINDINGS, LABEL_TABLE, ChestXrayParams, chest_xray
from synthmed.registry import PRESETS
from synthmed.sample import assert_samples_equal

SIZE = (160, 160)


def make(seed=0, **kw):
    return chest_xray(ChestXrayParams(image_size=kw.pop("image_size", SIZE), **kw),
                      np.random.default_rng(seed))


def test_registered_with_description():
    p = PRESETS.get("chest_xray")
    assert p.params is ChestXrayParams and "radiograph" in p.description.lower()


def test_same_seed_same_image_and_other_seed_differs():
    a, b = make(3, pneumonia=True, nodule=True), make(3, pneumonia=True, nodule=True)
    assert_samples_equal(a, b)
    c = make(4, pneumonia=True, nodule=True)
    assert not np.array_equal(a.image, c.image)


def test_image_and_masks_align_and_are_well_formed():
    s = make(1, image_size=(128, 192), pneumonia=True, nodule=True, effusion=True,
             pneumothorax=True, ecg_leads=True, central_line=True)
    img = s.image
    assert img.shape == (128, 192) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0
    assert s.spacing_mm[0] == s.spacing_mm[1] and 0.1 < s.spacing_mm[0] < 3.5
    for name, m in s.labels.masks.items():
        assert m.shape == img.shape and m.dtype == bool and m.any(), name
    assert {"consolidation", "nodule", "effusion", "pneumothorax"} <= set(s.labels.masks)
    for box in s.labels.boxes:
        r0, c0, r1, c1 = box.bbox
        assert 0 <= r0 < r1 <= 128 and 0 <= c0 < c1 <= 192


def test_label_table_and_classes_are_stable():
    plain, sick = make(0), make(0, effusion=True, cardiomegaly=True)
    assert plain.labels.label_table == sick.labels.label_table == LABEL_TABLE
    assert set(plain.labels.classes) == set(sick.labels.classes) == set(FINDINGS)
    assert not any(plain.labels.classes.values())
    assert sick.labels.classes["effusion"] and sick.labels.classes["cardiomegaly"]
    assert set(plain.labels.masks) == {"lung_left", "lung_right", "heart"}
    for key in ("cardiothoracic_ratio", "age_years", "sex", "view", "kvp", "mas"):
        assert key in plain.labels.attributes


def test_left_lung_is_on_image_right_for_pa():
    s = make(0)
    cl = np.nonzero(s.labels.masks["lung_left"])[1].mean()
    cr = np.nonzero(s.labels.masks["lung_right"])[1].mean()
    assert cl > cr


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("view, age", [("PA", 45), ("AP", 70), ("PA", 2)])
def test_ctr_above_half_iff_cardiomegaly(seed, view, age):
    for cm in (False, True):
        s = make(seed, cardiomegaly=cm, view=view, age_years=age)
        ctr = s.labels.attributes["cardiothoracic_ratio"]
        assert (ctr > 0.5) == cm, (ctr, cm)
        assert f"{ctr:.2f}" in s.report


def test_nodule_and_consolidation_lie_inside_the_lungs():
    for seed in range(3):
        s = make(seed, nodule=True, nodule_diameter_mm=12, pneumonia=True)
        lungs = s.labels.masks["lung_left"] | s.labels.masks["lung_right"]
        nod, cons = s.labels.masks["nodule"], s.labels.masks["consolidation"]
        assert (nod & lungs).sum() >= 0.9 * nod.sum()
        assert (cons & lungs).sum() == cons.sum()
        assert s.labels.attributes["nodule_diameter_mm"] == 12
        d_px = 2 * np.sqrt(nod.sum() / np.pi)
        assert d_px * s.spacing_mm[0] == pytest.approx(12, rel=0.25)


def test_effusion_sits_at_the_lung_base():
    for side in ("left", "right"):
        s = make(2, effusion=True, effusion_side=side)
        eff = s.labels.masks["effusion"]
        lung = s.labels.masks[f"lung_{side}"]
        lr = np.nonzero(lung)[0]
        er = np.nonzero(eff)[0]
        assert er.mean() > lr.min() + 0.6 * (lr.max() - lr.min())   # lower part of the lung
        assert (eff & lung).any()
        assert s.labels.attributes["effusion_side"] == side
        assert "effusion" in s.report.lower()


def test_pneumothorax_inside_one_hemithorax_without_markings():
    s = make(5, pneumothorax=True)
    side = s.labels.attributes["pneumothorax_side"]
    ptx = s.labels.masks["pneumothorax"]
    assert (ptx & s.labels.masks[f"lung_{side}"]).sum() == ptx.sum()


def test_lung_darker_than_heart_and_spine():
    s = make(0, image_size=(192, 192))
    img = s.image
    lungs = s.labels.masks["lung_left"] | s.labels.masks["lung_right"]
    heart = s.labels.masks["heart"]
    assert img[lungs].mean() < img[heart].mean() - 0.15
    # mediastinum/spine column between the lungs, at mid-lung height
    rows = np.nonzero(lungs.any(1))[0]
    r = int(rows.mean())
    cols = np.nonzero(lungs[r])[0]
    mid = (cols.min() + cols.max()) // 2
    assert img[r - 3: r + 3, mid - 2: mid + 3].mean() > img[lungs].mean() + 0.15


def test_child_thorax_is_smaller_in_mm():
    child = make(0, age_years=2)
    adult = make(0, age_years=40)
    assert child.labels.attributes["thoracic_width_mm"] < 0.7 * adult.labels.attributes["thoracic_width_mm"]
    assert child.spacing_mm[0] < adult.spacing_mm[0]


def test_more_mas_less_noise():
    a = make(0, mas=0.5, image_size=(128, 128))
    b = make(0, mas=40, image_size=(128, 128))
    hp = lambda x: x[1:, :] - x[:-1, :]  # noqa: E731
    assert hp(a.image).std() > hp(b.image).std()


@pytest.mark.parametrize("bad", [dict(age_years=0.5), dict(age_years=120), dict(kvp=30),
                                 dict(kvp=200), dict(mas=0.1), dict(rotation_deg=15),
                                 dict(nodule_diameter_mm=2), dict(image_size=(32, 512)),
                                 dict(image_size=(512, 4096)), dict(sex="X"), dict(view="LAT"),
                                 dict(body_size=2.0), dict(inspiration=1.5), dict(colour="red")])
def test_out_of_range_params_fail(bad):
    with pytest.raises(ValidationError):
        ChestXrayParams(**bad)


def test_every_field_documented_with_default():
    for name, f in ChestXrayParams.model_fields.items():
        assert f.description, name
        assert not f.is_required(), name


def test_report_mentions_findings():
    s = make(0, pneumonia=True, nodule=True, nodule_diameter_mm=40, pneumothorax=True)
    rep = s.report
    assert "FINDINGS" in rep and "IMPRESSION" in rep
    assert "pneumonia" in rep.lower() or "opacit" in rep.lower()
    assert "mass" in rep.lower() and "pneumothorax" in rep.lower()
