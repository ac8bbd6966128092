"""histopathology preset: stain physics, nuclei labels, magnification, COCO, sites."""

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage
from skimage import color, filters, morphology

from synthmed.export.coco import export_coco, finalize_coco
from synthmed.physics import stain
from synthmed.presets.histopathology import (LABEL_TABLE, HistopathologyParams,
                                             histopathology)
from synthmed.sample import Box

pytestmark = pytest.mark.filterwarnings(  # inside pycocotools' annToMask, not ours
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

CLEAN = dict(fold=False, out_of_focus=0.0, glass_fraction=0.0)


def make(seed=0, **kw):
    return histopathology(HistopathologyParams(**{"image_size": (256, 256), **kw}),
                          np.random.default_rng(seed))


def nuclei_from_haematoxylin(image, microns_per_pixel):
    """Colour deconvolution baseline: Otsu on skimage's H channel, then clean-up.

    ``rgb2hed`` (Ruifrok-Johnston vectors) -> H channel -> Otsu threshold -> opening with a
    radius-1 disk -> fill holes -> drop objects of 6 µm² or less.
    """
    h = color.rgb2hed(image)[..., 0]
    m = ndimage.binary_opening(h > filters.threshold_otsu(h), morphology.disk(1))
    m = ndimage.binary_fill_holes(m)
    lab, _ = ndimage.label(m)
    size = np.bincount(lab.ravel())
    return m & (size[lab] > 6 / microns_per_pixel ** 2)


def dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


@pytest.mark.parametrize("kw", [dict(), dict(tumour_grade=3), dict(tissue="breast"),
                                dict(tissue="breast", tumour_grade=2, site=7, fold=True)])
def test_colour_deconvolution_recovers_the_nuclei(kw):
    s = make(seed=1, **kw)     # defaults: stain of a random site, blur, noise, JPEG 80
    found = nuclei_from_haematoxylin(s.image, s.labels.attributes["microns_per_pixel"])
    assert dice(found, s.labels.instances > 0) >= 0.8


def test_beer_lambert_optical_density():
    site = stain.site_stains(0, variation=0.0)
    conc = np.array([[[0.5, 0.0], [0.0, 0.3], [0.0, 0.0]]])
    rgb = stain.beer_lambert(conc, site.vectors[:2], np.ones(3))
    np.testing.assert_allclose(-np.log10(rgb[0, 0]), 0.5 * site.vectors[0], rtol=1e-5)
    np.testing.assert_allclose(-np.log10(rgb[0, 1]), 0.3 * site.vectors[1], rtol=1e-5)
    np.testing.assert_allclose(rgb[0, 2], 1.0)
    # with Ruifrok's vectors, skimage's colour deconvolution separates the stains exactly
    ruifrok = np.stack([stain.RUIFROK_HAEMATOXYLIN, stain.RUIFROK_EOSIN])
    hed = color.rgb2hed(stain.beer_lambert(conc, ruifrok, np.ones(3)))
    assert hed[0, 0, 0] > 0.05 and abs(hed[0, 0, 1]) < 1e-3
    assert hed[0, 1, 1] > 0.03 and abs(hed[0, 1, 0]) < 1e-3


def test_nuclear_area_in_microns_does_not_depend_on_magnification():
    # the same 128 µm field at 40x, 20x and 10x: same tissue, nuclei sampled by 4x fewer px
    areas = {}
    for mpp, n in ((0.25, 512), (0.5, 256), (1.0, 128)):
        s = make(seed=3, image_size=(n, n), microns_per_pixel=mpp, **CLEAN)
        a = s.labels.attributes
        assert a["microns_per_pixel"] == mpp and s.spacing_mm == (mpp / 1000, mpp / 1000)
        inst, cls = s.labels.instances, s.labels.instance_classes
        px = np.bincount(inst.ravel())[1:]
        lymph = [k for k, v in cls.items() if v == "lymphocyte"]
        assert 25 < np.mean(px[np.array(lymph) - 1]) * mpp ** 2 < 45   # ~7 µm round
        areas[mpp] = a["mean_nuclear_area_um2"]
        assert areas[mpp] == pytest.approx(px.mean() * mpp ** 2)
    for mpp in (0.25, 1.0):
        assert areas[mpp] == pytest.approx(areas[0.5], rel=0.15), areas


def test_instances_are_unique_typed_and_inside_their_masks():
    s = make(seed=4, tumour_grade=2, tumour_fraction=0.6)
    lab = s.labels
    inst = lab.instances
    assert inst.dtype == np.int32 and inst.shape == s.spatial_shape
    ids = set(np.unique(inst)) - {0}
    assert ids == set(lab.instance_classes) == set(range(1, len(ids) + 1))
    assert lab.attributes["n_nuclei"] == len(ids)
    for k, kind in lab.instance_classes.items():
        assert kind in LABEL_TABLE
        assert lab.masks[kind][inst == k].all()
    counts = {kind: lab.attributes[f"n_{kind}"] for kind in set(lab.instance_classes.values())}
    assert counts["tumour_cell"] > 20 and counts["lymphocyte"] > 0
    assert sum(counts.values()) == len(ids)
    assert {b.instance_id for b in lab.boxes} == ids
    for b in lab.boxes[::25]:
        assert b == Box.from_mask(b.label, inst == b.instance_id, instance_id=b.instance_id)
    # tumour nuclei lie in the tumour; epithelial nuclei (normal crypts) in the epithelium
    tumour_px = np.isin(inst, [k for k, v in lab.instance_classes.items() if v == "tumour_cell"])
    assert lab.masks["tumour"][tumour_px].mean() > 0.95
    normal = make(seed=4).labels   # basal crypt nuclei lie inside the basement membrane
    assert normal.masks["epithelium"][normal.masks["epithelial_cell"]].mean() > 0.98
    assert lab.classes == {"tumour": True} and "adenocarcinoma" in s.report.lower()
    assert s.modality == "SM" and s.units == {"he": "1"}
    assert s.image.shape == (256, 256, 3) and s.image.dtype == np.float32


def test_coco_export_round_trip(tmp_path):
    from pycocotools.coco import COCO

    s = make(seed=5, tissue="breast", tumour_grade=1)
    export_coco(s, tmp_path, "000000")
    finalize_coco(tmp_path, ["000000"])
    coco = COCO(str(tmp_path / "coco/annotations.json"))
    nucleus_cats = {LABEL_TABLE[k] for k in set(s.labels.instance_classes.values())}
    anns = [a for a in coco.dataset["annotations"] if a["category_id"] in nucleus_cats]
    assert len(anns) == s.labels.attributes["n_nuclei"]
    for a in anns[:: max(1, len(anns) // 8)]:
        k = a["instance_id"]
        np.testing.assert_array_equal(coco.annToMask(a).astype(bool), s.labels.instances == k)
        assert coco.cats[a["category_id"]]["name"] == s.labels.instance_classes[k]


def test_sites_differ_and_macenko_normalisation_brings_them_together():
    a, b, target = (make(seed=6, site=site, **CLEAN).image for site in (11, 42, 3))
    assert np.abs(a.mean((0, 1)) - b.mean((0, 1))).max() > 0.02    # sites look different
    na, nb = stain.normalise_macenko(a, target), stain.normalise_macenko(b, target)
    assert na.dtype == np.float32 and na.shape == a.shape

    def od(img):
        return -np.log10(np.clip(img, 1e-3, 1)).mean((0, 1))

    assert np.abs(od(na) - od(nb)).sum() < 0.5 * np.abs(od(a) - od(b)).sum()

    def angles(x, y):   # degrees between the H and between the E vector estimates
        u, v = stain.macenko_stain_vectors(x), stain.macenko_stain_vectors(y)
        return np.degrees(np.arccos(np.clip((u * v).sum(1), -1, 1)))

    assert angles(na, nb).sum() < angles(a, b).sum()


def test_site_is_deterministic_and_within_site_slides_vary_less():
    s1, s1b, s2 = stain.site_stains(5), stain.site_stains(5), stain.site_stains(6)
    np.testing.assert_array_equal(s1.vectors, s1b.vectors)
    assert not np.allclose(s1.vectors, s2.vectors)
    same = stain.site_stains(5, variation=0.0)
    assert np.allclose(same.vectors, stain.site_stains(6, variation=0.0).vectors)
    for s in (s1, s2):
        np.testing.assert_allclose(np.linalg.norm(s.vectors, axis=1), 1.0)
        assert (s.vectors >= 0).all() and (s.illuminant <= 1).all()


def test_tumour_grade_changes_nuclei():
    normal = make(seed=8, **CLEAN).labels.attributes
    g3 = make(seed=8, tumour_grade=3, tumour_fraction=1.0, **CLEAN).labels.attributes
    assert normal["n_tumour_cell"] == 0 and g3["n_tumour_cell"] > 50
    assert g3["mean_nuclear_area_um2"] > 1.3 * normal["mean_nuclear_area_um2"]
    assert "poorly differentiated" in make(seed=8, tumour_grade=3).report


def test_artefact_masks():
    s = make(seed=9, fold=True, out_of_focus=0.3, glass_fraction=0.3)
    m = s.labels.masks
    assert m["fold"].any() and abs(m["out_of_focus"].mean() - 0.3) < 0.05
    assert 0.2 < m["background"].mean() < 0.4
    glass = s.image[m["background"] & ~m["out_of_focus"]]
    assert glass.mean() > 0.85                                 # near-white glass
    h = color.rgb2hed(s.image)[..., 0]
    assert np.median(h[m["fold"] & m["stroma"]]) > np.median(h[~m["fold"] & m["stroma"]])


def test_params_are_validated():
    with pytest.raises(ValidationError):
        HistopathologyParams(magnification=20)                 # unknown key
    with pytest.raises(ValidationError, match="tumour_grade"):
        HistopathologyParams(tumour_fraction=0.5)              # tumour without a grade
    with pytest.raises(ValidationError):
        HistopathologyParams(microns_per_pixel=5.0)
    with pytest.raises(ValidationError):
        HistopathologyParams(tissue="liver")
    with pytest.raises(ValidationError):
        HistopathologyParams(image_size=(32, 32))
    assert HistopathologyParams().image_size == (512, 512)
