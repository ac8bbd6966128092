"""Preset ``histopathology``: H&E tiles of colon or breast with every nucleus labelled.

A tile is drawn in micrometres (glands, stroma, fat, vessels and nuclei of typed cells;
:mod:`synthmed.phantoms.histology`), then stained and scanned
(:mod:`synthmed.physics.stain`): Beer-Lambert mixing of haematoxylin, eosin and
haemoglobin with a staining site's own stain vectors and amounts, objective blur,
out-of-focus patches, sensor noise and JPEG. Nuclei sizes are in µm, so they scale with
``microns_per_pixel``.

Labels: ``instances`` (one id per nucleus) with ``instance_classes`` (cell type), a box per
nucleus, a mask per nucleus type and per tissue class, and attributes (counts per type,
mean nuclear area in µm², site).

Example
-------
>>> import numpy as np
>>> from synthmed.presets.histopathology import HistopathologyParams, histopathology
>>> s = histopathology(HistopathologyParams(image_size=(128, 128), tumour_grade=3),
...                    np.random.default_rng(0))
>>> s.image.shape, s.modality, s.units["he"], s.labels.classes["tumour"]
((128, 128, 3), 'SM', '1', True)
>>> s.labels.attributes["n_nuclei"] == int(s.labels.instances.max())
True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import ndimage

from synthmed.phantoms.histology import (NUCLEUS_CLASSES, TISSUE_CLASSES, histology_tile,
                                         section_artefacts, smooth_patches)
from synthmed.physics import stain
from synthmed.presets._params import ImageSize
from synthmed.registry import register_preset
from synthmed.sample import Box, Labels, Sample

__all__ = ["HistopathologyParams", "histopathology", "histopathology_report", "LABEL_TABLE"]

_NAMES = TISSUE_CLASSES + ("fold", "out_of_focus") + NUCLEUS_CLASSES
LABEL_TABLE = {name: i for i, name in enumerate(_NAMES, start=1)}
_GRADE_WORDS = {1: "well differentiated (grade 1)", 2: "moderately differentiated (grade 2)",
                3: "poorly differentiated (grade 3)"}


class HistopathologyParams(BaseModel):
    """Parameters of ``histopathology``; those left ``None`` are drawn per tile."""

    model_config = ConfigDict(extra="forbid")

    image_size: ImageSize(2048) = Field((512, 512), description="Tile (rows, cols) in "
                                        "pixels, each 64..2048")
    microns_per_pixel: float = Field(0.5, ge=0.2, le=2.0, description="Pixel size in µm at the "
                                     "slide (0.25 = 40x, 0.5 = 20x, 1.0 = 10x objective)")
    tissue: Literal["colon", "breast"] = Field("colon", description="'colon': mucosa with "
                                               "crypts, goblet cells and lamina propria; "
                                               "'breast': lobules, ducts, collagen and fat")
    tumour_grade: int = Field(0, ge=0, le=3, description="0: no tumour; 1-3: carcinoma, well / "
                              "moderately / poorly differentiated (colon adenocarcinoma; "
                              "breast invasive carcinoma NST, Nottingham grade)")
    tumour_fraction: float | None = Field(None, ge=0.05, le=1.0, description="Area fraction "
                                          "of the tile given to carcinoma (dimensionless; "
                                          "None: drawn 0.4-1.0 when tumour_grade > 0)")
    cellularity: float = Field(1.0, ge=0.3, le=3.0, description="Multiplier of stromal and "
                               "inflammatory cell densities (dimensionless, 1 = typical)")
    site: int | None = Field(None, ge=0, le=9999, description="Staining site (lab, protocol "
                             "and scanner) number; the same number always stains alike "
                             "(None: drawn 0-99)")
    stain_variation: float = Field(1.0, ge=0.0, le=2.0, description="Scale of between-site "
                                   "stain differences (dimensionless; 0: all sites alike)")
    glass_fraction: float | None = Field(None, ge=0.0, le=0.8, description="Area fraction of "
                                         "bare glass beyond the tissue edge (None: none in 3 "
                                         "of 4 tiles, else 0.05-0.35)")
    fold: bool | None = Field(None, description="A tissue fold (section lying double) across "
                              "the tile (None: in 1 tile of 10)")
    out_of_focus: float | None = Field(None, ge=0.0, le=1.0, description="Area fraction of "
                                       "out-of-focus patches (None: none in 4 of 5 tiles, "
                                       "else 0.1-0.4)")
    defocus_um: float = Field(1.5, ge=0.5, le=6.0, description="Blur (Gaussian SD) in µm "
                              "inside out-of-focus patches")
    thickness_variation: float = Field(0.1, ge=0.0, le=0.5, description="Relative SD of "
                                       "section thickness (and so of stain amount)")
    noise: float = Field(0.008, ge=0.0, le=0.05, description="Scanner sensor noise, SD of "
                         "intensity (in [0, 1] units) at full brightness")
    jpeg_quality: int | None = Field(80, ge=10, le=100, description="JPEG quality of the "
                                     "scanned tile, as in whole-slide formats (None: no "
                                     "compression)")

    @model_validator(mode="after")
    def _tumour_needs_grade(self):
        if self.tumour_grade == 0 and self.tumour_fraction is not None:
            raise ValueError("tumour_fraction is set but tumour_grade is 0; give a "
                             "tumour_grade of 1-3, or leave tumour_fraction unset")
        return self


def _cellularity_word(density: float) -> str:
    return "low" if density < 30 else ("moderate" if density < 60 else "high")


def histopathology_report(classes: dict, attributes: dict) -> str:
    """A short pathology-style description of a tile from its labels.

    >>> print(histopathology_report({"tumour": False}, {"tissue": "colon", "n_nuclei": 120,
    ...     "nuclei_per_10000_um2": 45.0, "microns_per_pixel": 0.5, "site": 3,
    ...     "mean_nuclear_area_um2": 41.2, "tumour_grade": 0, "mitotic_figures": 0}))
    ... # doctest: +NORMALIZE_WHITESPACE
    SPECIMEN: colon, H&E, 0.50 µm/pixel (site 3).
    MICROSCOPY: Colonic mucosa with regular crypts, goblet cells and lamina propria with
    lymphocytes and plasma cells. Cellularity moderate (45 nuclei per 10,000 µm²; mean
    nuclear area 41 µm²).
    DIAGNOSIS: No tumour in this field.
    """
    a = attributes
    tissue = a.get("tissue", "colon")
    normal = {"colon": "Colonic mucosa with regular crypts, goblet cells and lamina propria "
                       "with lymphocytes and plasma cells.",
              "breast": "Breast tissue with lobules of two-layered acini, ducts, collagenous "
                        "stroma and fat."}[tissue]
    dens = float(a.get("nuclei_per_10000_um2", 0.0))
    lines = [f"SPECIMEN: {tissue}, H&E, {a.get('microns_per_pixel', 0.5):.2f} µm/pixel "
             f"(site {a.get('site', 0)})."]
    micro = []
    grade = int(a.get("tumour_grade", 0))
    if classes.get("tumour"):
        pattern = {("colon", 1): "irregular glands lined by stratified, elongated nuclei",
                   ("colon", 2): "cribriform glands with dirty necrosis",
                   ("colon", 3): "solid nests with little gland formation",
                   ("breast", 1): "small tubules",
                   ("breast", 2): "nests and cords with few tubules",
                   ("breast", 3): "solid sheets without tubules"}[(tissue, grade)]
        micro.append(f"Invasive carcinoma forming {pattern} in desmoplastic stroma; nuclei "
                     f"{'markedly pleomorphic' if grade == 3 else 'enlarged and crowded'}, "
                     f"{a.get('mitotic_figures', 0)} mitotic figure(s) in the field.")
        if float(a.get("tumour_area_fraction", 1.0)) < 0.95:
            micro.append(normal.replace(" with ", ", adjacent, with ", 1))
    else:
        micro.append(normal)
    micro.append(f"Cellularity {_cellularity_word(dens)} ({dens:.0f} nuclei per 10,000 µm²; "
                 f"mean nuclear area {a.get('mean_nuclear_area_um2', 0.0):.0f} µm²).")
    lines.append("MICROSCOPY: " + " ".join(micro))
    site = {"colon": "Adenocarcinoma", "breast": "Invasive carcinoma of no special type"}
    lines.append("DIAGNOSIS: " + (f"{site[tissue]}, {_GRADE_WORDS[grade]}." if
                                  classes.get("tumour") else "No tumour in this field."))
    return "\n".join(lines)


@register_preset("histopathology", params=HistopathologyParams)
def histopathology(params: HistopathologyParams, rng: np.random.Generator) -> Sample:
    """H&E tiles (colon or breast, normal or carcinoma grade 1-3) with every nucleus labelled.

    Tissue architecture and typed nuclei drawn in µm (:mod:`synthmed.phantoms.histology`),
    stained by Beer-Lambert with per-site stain vectors, amounts and scanner colour, blurred,
    noised and JPEG-compressed (:mod:`synthmed.physics.stain`). Image ``"he"``: RGB float32
    in [0, 1], ``(rows, cols, 3)``. Labels: nuclei instances with cell-type classes and
    boxes, masks per nucleus type and tissue class.
    """
    p = params
    draw_rng, tissue_rng, art_rng, scan_rng = rng.spawn(4)
    grade = p.tumour_grade
    frac = (p.tumour_fraction if p.tumour_fraction is not None else
            float(draw_rng.uniform(0.4, 1.0))) if grade else 0.0
    glass = p.glass_fraction if p.glass_fraction is not None else (
        float(draw_rng.uniform(0.05, 0.35)) if draw_rng.random() < 0.25 else 0.0)
    fold = p.fold if p.fold is not None else bool(draw_rng.random() < 0.1)
    blur = p.out_of_focus if p.out_of_focus is not None else (
        float(draw_rng.uniform(0.1, 0.4)) if draw_rng.random() < 0.2 else 0.0)
    site_no = p.site if p.site is not None else int(draw_rng.integers(0, 100))
    shape, mpp = tuple(p.image_size), float(p.microns_per_pixel)

    ph = histology_tile(shape, mpp, p.tissue, grade, frac, glass, p.cellularity, tissue_rng)
    fold_mask = section_artefacts(ph, p.thickness_variation, fold, art_rng)
    defocus = smooth_patches(shape, mpp, blur, art_rng)
    site = stain.site_stains(site_no, p.stain_variation)
    rgb = stain.stain_image(ph.haematoxylin, ph.eosin, ph.haemoglobin, site, scan_rng)
    rgb = stain.optics(rgb, mpp, defocus, defocus_um=p.defocus_um)
    img = stain.scanner(rgb, site, scan_rng, noise=p.noise, jpeg_quality=p.jpeg_quality)

    masks = {k: v for k, v in ph.masks.items() if v.any()}
    if fold_mask.any():
        masks["fold"] = fold_mask
    if defocus.any():
        masks["out_of_focus"] = defocus
    inst, classes = ph.instances, ph.instance_classes
    boxes = [Box(classes[k], (float(sl[0].start), float(sl[1].start), float(sl[0].stop),
                              float(sl[1].stop)), instance_id=k)   # = Box.from_mask, faster
             for k, sl in enumerate(ndimage.find_objects(inst), start=1) if sl is not None]
    areas = np.bincount(inst.ravel(), minlength=len(classes) + 1)[1:] * mpp ** 2
    tissue_um2 = float((~ph.masks["background"]).sum()) * mpp ** 2
    attrs = {"tissue": p.tissue, "tumour_grade": grade, "microns_per_pixel": mpp,
             "magnification": f"{10 / mpp:.0f}x", "site": site_no,
             "n_nuclei": len(classes),
             "mean_nuclear_area_um2": float(areas.mean()) if len(areas) else 0.0,
             "nuclei_per_10000_um2": len(classes) / max(tissue_um2, 1.0) * 1e4,
             "tumour_area_fraction": float(ph.masks["tumour"].mean()),
             "mitotic_figures": sum(v == "mitotic_figure" for v in classes.values()),
             "glass_fraction": float(ph.masks["background"].mean()), "fold": bool(fold),
             "out_of_focus_fraction": float(defocus.mean()),
             "haematoxylin_scale": site.haematoxylin_scale, "eosin_scale": site.eosin_scale}
    for kind in NUCLEUS_CLASSES:
        attrs[f"n_{kind}"] = sum(v == kind for v in classes.values())
    cls = {"tumour": bool(grade > 0 and ph.masks["tumour"].any())}
    labels = Labels(masks=masks, label_table=dict(LABEL_TABLE),
                    instances=inst if classes else None, instance_classes=dict(classes),
                    boxes=boxes, classes=cls, attributes=attrs)
    return Sample(images={"he": img}, spacing_mm=(mpp / 1000, mpp / 1000), modality="SM",
                  labels=labels, units={"he": "1"}, report=histopathology_report(cls, attrs))
