"""The fundus preset: exact cup-to-disc ratio, Murray's law, vessel contrast, DR grading
rules, laterality, the field of view, and parameter validation."""

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage
from skimage.morphology import skeletonize

from synthmed.phantoms.retina_lesions import QUADRANTS
from synthmed.phantoms.retina_vessels import grow_tree, murray_angles
from synthmed.presets.fundus import FundusParams, fundus
from synthmed.seeding import sample_streams

SIZE = (256, 256)
LESIONS = ("microaneurysm", "haemorrhage", "hard_exudate", "cotton_wool_spot",
           "neovascularisation", "preretinal_haemorrhage")


def make(seed=0, index=0, **kw):
    kw.setdefault("image_size", SIZE)
    return fundus(FundusParams(**kw), sample_streams(seed, index)[1])


def rows(mask):
    return int(mask.any(axis=1).sum())


@pytest.mark.parametrize("cdr", [0.15, 0.4, 0.65, 0.9])
def test_vertical_cdr_from_masks_matches_request(cdr):
    for index in range(2):
        s = make(index=index, cdr=cdr, disc_diameter_mm=1.8, laterality="RL"[index])
        m = s.labels.masks
        measured = rows(m["optic_cup"]) / rows(m["optic_disc"])
        assert abs(measured - cdr) <= 0.02, (cdr, measured)
        assert s.labels.attributes["cdr"] == pytest.approx(measured, abs=1e-4)
        assert not (m["optic_cup"] & ~m["optic_disc"]).any()          # cup inside the disc
    assert s.labels.classes["glaucoma_suspect"] == (cdr >= 0.6)


def test_murray_law_holds_in_the_rendered_tree():
    rng = np.random.default_rng(4)
    tree = grow_tree((4.5, -0.4), 0.9, (0.0, 0.0), 6.48, 0.3, 1.2, rng)
    assert len(tree.bifurcations) > 100
    for b in tree.bifurcations:
        assert (b.r1 ** 3 + b.r2 ** 3) / b.r0 ** 3 == pytest.approx(1.0, rel=0.05)
    # the radii actually drawn: a parent's last radius vs its two children's first radii
    children = {}
    for v in tree.vessels:
        if v.parent >= 0:
            children.setdefault(v.parent, []).append(v)
    errors, angle_err = [], []
    for parent, kids in children.items():
        assert len(kids) == 2
        p = tree.vessels[parent]
        r0, (r1, r2) = p.radius[-1], sorted((k.radius[0] for k in kids), reverse=True)
        errors.append(abs((r1 ** 3 + r2 ** 3) / r0 ** 3 - 1))
        d0 = p.xy[-1] - p.xy[-2]
        got = sum(math.acos(np.clip(np.dot(d0, k.xy[1] - k.xy[0]) / np.linalg.norm(d0)
                                    / np.linalg.norm(k.xy[1] - k.xy[0]), -1, 1)) for k in kids)
        angle_err.append(abs(math.degrees(got - sum(murray_angles(r0, r1, r2)))))
    assert max(errors) < 0.05
    assert np.median(angle_err) < 5.0                    # Murray's minimum-work angles


def test_artery_vein_masks_and_calibre():
    s = make(index=1, vein_artery_ratio=1.25)
    m = s.labels.masks
    assert (m["vessel"] == (m["artery"] | m["vein"])).all()
    # arteries and veins overlap (both labelled) only where they cross, and in the disc where
    # the central vessels emerge side by side: small, scattered patches
    away = ~ndimage.binary_dilation(m["optic_disc"], iterations=3)
    lab, n = ndimage.label(m["artery"] & m["vein"] & away)
    sizes = np.bincount(lab.ravel())[1:]
    assert sizes.sum() < 0.12 * m["artery"].sum() and np.median(sizes) <= 4
    width = {k: m[k].sum() / skeletonize(m[k]).sum() for k in ("artery", "vein")}  # px
    assert width["vein"] > 1.05 * width["artery"]         # veins are wider


def test_vessels_are_darker_than_background_in_green():
    s = make(index=2)
    m, g = s.labels.masks, s.image[..., 1]
    away = ~ndimage.binary_dilation(m["optic_disc"], iterations=6) & m["field_of_view"]
    core = ndimage.binary_erosion(m["vessel"]) & away
    ring = ndimage.binary_dilation(m["vessel"], iterations=4) \
        & ~ndimage.binary_dilation(m["vessel"], iterations=2) & away
    assert g[core].mean() < 0.9 * g[ring].mean()
    # green carries the vessel contrast better than red (red is near saturation)
    r = s.image[..., 0]
    assert g[core].mean() / g[ring].mean() < r[core].mean() / r[ring].mean()


def test_lesions_grow_with_icdr_grade_and_appear_from_their_grade():
    totals = []
    for grade in range(5):
        s = make(index=3, icdr_grade=grade)
        a, kinds = s.labels.attributes, set(s.labels.instance_classes.values())
        totals.append(len(s.labels.instance_classes))
        assert ("microaneurysm" in kinds) == (grade >= 1)
        assert ("haemorrhage" in kinds) == (grade >= 2)
        assert not kinds & {"hard_exudate", "cotton_wool_spot"} or grade >= 2
        assert (a["venous_beading_quadrants"] > 0) <= (grade >= 3)
        assert ("neovascularisation" in kinds) == (grade == 4)
        assert (a["nvd"] or a["nve"]) == (grade == 4)
        per_q = [int(n) for n in a["haemorrhages_per_quadrant"].split(",")]
        assert len(per_q) == len(QUADRANTS)
        if grade == 2:
            assert max(per_q) <= 20                      # not severe
        if grade >= 3:                                   # the 4-2-1 rule
            assert min(per_q) > 20 or a["venous_beading_quadrants"] >= 2
        for k in kinds:
            assert s.labels.masks[k].any()
        assert s.labels.classes["referable_dr"] == (grade >= 2)
        assert f"ICDR grade {grade}" in s.report
    assert totals[0] == 0 and all(b > a for a, b in zip(totals, totals[1:])), totals


def test_grade_edit_keeps_the_same_eye():
    a, b = make(index=5, icdr_grade=0), make(index=5, icdr_grade=2)
    for k in ("artery", "vein", "optic_disc", "optic_cup", "field_of_view"):
        assert (a.labels.masks[k] == b.labels.masks[k]).all(), k


def test_laterality_puts_the_disc_on_the_nasal_side():
    for lat in "RL":
        s = make(index=6, laterality=lat)
        (_, c_disc), (_, c_fovea) = s.labels.landmarks["disc_centre"], s.labels.landmarks["fovea"]
        assert (c_disc > c_fovea) == (lat == "R")        # OD: disc on the image's right
        cols = np.nonzero(s.labels.masks["optic_disc"].any(axis=0))[0]
        assert (cols.mean() > SIZE[1] / 2) == (lat == "R")


@pytest.mark.parametrize("kw", [dict(icdr_grade=4), dict(amd="geographic_atrophy", age_years=75,
                                                         fixation="disc")])
def test_outside_the_field_of_view_is_black_and_unlabelled(kw):
    s = make(index=7, **kw)
    fov = s.labels.masks["field_of_view"]
    assert (s.image[~fov] == 0).all()
    assert s.image[fov].mean() > 0.2
    for name, mask in s.labels.masks.items():
        assert not (mask & ~fov).any(), name
    if s.labels.instances is not None:
        assert not s.labels.instances[~fov].any()
    r, c = np.nonzero(fov)
    for box in s.labels.boxes:
        r0, c0, r1, c1 = box.bbox
        assert r0 >= r.min() and c0 >= c.min() and r1 <= r.max() + 1 and c1 <= c.max() + 1


def test_amd_stages_draw_drusen_and_atrophy():
    none, early = make(index=8, age_years=70), make(index=8, age_years=70, amd="early")
    ga = make(index=8, age_years=70, amd="geographic_atrophy")
    assert "drusen" not in none.labels.masks and early.labels.attributes["n_drusen"] > 0
    assert "geographic_atrophy" not in early.labels.masks
    assert 0.5 < ga.labels.attributes["ga_area_mm2"] < 12
    assert ga.labels.classes["amd"] and "geographic atrophy" in ga.report


@pytest.mark.parametrize("bad", [dict(cdr=0.95), dict(icdr_grade=5), dict(colour="red"),
                                 dict(amd="wet"), dict(amd="early", age_years=40),
                                 dict(image_size=(32, 32)), dict(field_of_view_deg=90),
                                 dict(pigmentation=1.5), dict(laterality="OD")])
def test_params_are_validated(bad):
    with pytest.raises(ValidationError):
        FundusParams(**bad)
