"""Preset ``fundus``: colour retinal photographs with exact vessel, disc/cup and lesion labels.

A procedural retina (:mod:`synthmed.phantoms.retina`): artery and vein trees grown under
Murray's law from the optic disc (:mod:`synthmed.phantoms.retina_vessels`), disc and cup
with an exact vertical cup-to-disc ratio, macula and fovea, choroidal background; diabetic
retinopathy by ICDR grade and AMD by Beckman stage (:mod:`synthmed.phantoms.retina_lesions`);
photographed by :mod:`synthmed.physics.fundus_camera`.

Image: ``images["fundus"]``, RGB channel-last ``(rows, cols, 3)`` float32 in [0, 1]
(units "1"), modality ``OP`` (DICOM ophthalmic photography). ``spacing_mm`` is the size of a
pixel on the retina (0.288 mm per degree of field). Upright, seen from the front: the optic
disc is nasal, on the image's right for a right eye (``laterality="R"``), on its left for a
left eye. Masks may overlap (a haemorrhage under a vessel keeps its outline) and are empty
outside the circular field of view, where the image is exactly 0.

Stream split: anatomy (geometry, vessels, disc), texture, DR lesions, AMD lesions and camera
each have their own stream, so :func:`synthmed.edit.edit` of ``icdr_grade``, ``amd`` or
``cdr`` gives the same eye with only that finding changed.

Example
-------
>>> import numpy as np
>>> from synthmed.presets.fundus import FundusParams, fundus
>>> s = fundus(FundusParams(image_size=(128, 128), cdr=0.6, icdr_grade=2),
...            np.random.default_rng(0))
>>> s.image.shape, s.modality, s.labels.attributes["icdr_grade"]
((128, 128, 3), 'OP', 2)
>>> abs(s.labels.attributes["cdr"] - 0.6) <= 0.5 / 14      # exact up to one pixel row
True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtri

from synthmed.phantoms import retina_lesions as rl
from synthmed.phantoms.retina import draw_geometry, render_retina
from synthmed.phantoms.retina_vessels import grow_tree
from synthmed.physics.fundus_camera import acquire
from synthmed.presets._params import ImageSize
from synthmed.registry import register_preset
from synthmed.sample import Box, Labels, Sample

__all__ = ["FundusParams", "fundus", "fundus_report", "LABEL_TABLE"]

LABEL_TABLE = {"field_of_view": 1, "artery": 2, "vein": 3, "vessel": 4, "optic_disc": 5,
               "optic_cup": 6, "macula": 7, "fovea": 8, "microaneurysm": 9, "haemorrhage": 10,
               "hard_exudate": 11, "cotton_wool_spot": 12, "neovascularisation": 13,
               "preretinal_haemorrhage": 14, "drusen": 15, "geographic_atrophy": 16}
AMD_STAGES = ("none", "early", "intermediate", "geographic_atrophy")


class FundusParams(BaseModel):
    """Parameters of ``fundus``; ``None`` fields are drawn per eye."""

    model_config = ConfigDict(extra="forbid")

    image_size: ImageSize(2048) = Field((512, 512), description="Image (rows, cols) in pixels, "
                                        "each 64..2048")
    laterality: Literal["R", "L"] = Field("R", description="Right (OD) or left (OS) eye; the "
                                          "optic disc is nasal: image right for R, left for L")
    field_of_view_deg: float = Field(45.0, ge=30, le=60, description="Camera field of view in "
                                     "degrees (45 = standard; 0.288 mm of retina per degree)")
    fixation: Literal["macula", "disc"] = Field("macula", description="Field centre: 'macula' "
                                                "(fovea centred, disc kept inside) or 'disc'")
    age_years: float = Field(55.0, ge=18, le=90, description="Age in years (nerve-fibre sheen "
                             "and foveal reflex fade, choroid shows more with age; AMD >= 50)")
    pigmentation: float = Field(0.5, ge=0, le=1, description="Fundus pigmentation, 0 light "
                                "(orange, tigroid choroid shows) to 1 dark (brown) "
                                "(dimensionless)")
    tortuosity: float = Field(0.3, ge=0, le=1, description="Vessel tortuosity, 0 straight to "
                              "1 very tortuous (scales the random curvature, dimensionless)")
    vessel_density: float = Field(1.0, ge=0.7, le=1.3, description="How closely vessels of "
                                  "one kind pack, relative to normal (dimensionless)")
    vein_artery_ratio: float | None = Field(None, ge=1.1, le=1.3, description="Vein/artery "
                                            "calibre ratio (None: drawn in 1.1-1.3)")
    cdr: float | None = Field(None, ge=0.1, le=0.9, description="Vertical cup-to-disc ratio, "
                              "0.1-0.9 (glaucoma >= ~0.6; None: drawn from N(0.35, 0.1) "
                              "clipped to 0.1-0.65)")
    disc_diameter_mm: float | None = Field(None, ge=1.4, le=2.1, description="Vertical optic "
                                           "disc diameter in mm (None: drawn, ~1.75)")
    icdr_grade: int = Field(0, ge=0, le=4, description="Diabetic retinopathy, ICDR grade 0-4 "
                            "(0 none, 1 mild, 2 moderate, 3 severe NPDR, 4 PDR)")
    amd: Literal["none", "early", "intermediate", "geographic_atrophy"] = Field(
        "none", description="Age-related macular degeneration, Beckman stage: early (medium "
        "drusen 63-125 um), intermediate (large drusen), geographic_atrophy (late, dry)")
    illumination_unevenness: float = Field(0.3, ge=0, le=1, description="Uneven illumination "
                                           "strength, 0 flat to 1 strong (dimensionless)")
    vignetting: float = Field(0.35, ge=0, le=0.7, description="Fraction of light lost at the "
                              "edge of the field (dimensionless)")
    blur_um: float = Field(12.0, ge=0, le=60, description="Gaussian blur sigma on the retina "
                           "in micrometres (optics, focus, compression softness)")
    noise: float = Field(0.012, ge=0, le=0.05, description="Sensor noise s.d. at full scale in "
                         "the green channel (image units 0-1)")
    artefacts: float = Field(0.3, ge=0, le=1, description="Probability and strength of lens "
                             "artefacts: flare haze and dust spots (dimensionless 0-1)")

    @model_validator(mode="after")
    def _amd_needs_age(self):
        if self.amd != "none" and self.age_years < 50:
            raise ValueError(f"amd={self.amd!r} needs age_years >= 50 (got "
                             f"{self.age_years:g}): AMD is staged in people over 50")
        return self


def _vertical_ratio(cup, disc):
    n_d = int(disc.any(axis=1).sum())
    return int(cup.any(axis=1).sum()) / n_d if n_d else 0.0


@register_preset("fundus", params=FundusParams, sources="procedural (no template or data)")
def fundus(params: FundusParams, rng: np.random.Generator) -> Sample:
    """Colour fundus photograph: artery/vein trees, optic disc/cup, macula; DR (ICDR 0-4),
    glaucomatous cupping and AMD, with exact masks.

    Vessels branch by Murray's law (r0^3 = r1^3 + r2^3, minimum-work angles), curve with a
    set tortuosity, form temporal arcades around the macula and stop short of the fovea;
    veins are wider and darker than arteries, which show a central light reflex. The
    vertical cup-to-disc ratio measured from the masks equals ``cdr`` up to one pixel row.
    DR lesions follow the ICDR grade (4-2-1 rule for grade 3, new vessels for grade 4);
    AMD the Beckman stage. A 45-degree camera adds vignetting, uneven light, lens
    artefacts, blur and noise. RGB float32 in [0, 1], modality OP.
    """
    p = params
    anat_rng, tex_rng, dr_rng, amd_rng, cam_rng = rng.spawn(5)
    geo_rng, tree_rng, bead_rng = anat_rng.spawn(3)
    qa = geo_rng.random(4)
    cam = dict(fill=cam_rng.uniform(0.9, 0.97), exposure=cam_rng.uniform(0.9, 1.1),
               gains=(cam_rng.uniform(0.92, 1.1), cam_rng.uniform(0.82, 1.15),
                      cam_rng.uniform(0.7, 1.2)))
    shape = tuple(p.image_size)
    geom = draw_geometry(shape, p.field_of_view_deg, p.laterality, p.fixation,
                         p.disc_diameter_mm, cam["fill"], geo_rng)
    cdr = p.cdr if p.cdr is not None else float(np.clip(0.35 + 0.1 * ndtri(qa[0]), 0.1, 0.65))
    v_ratio = p.vein_artery_ratio or float(1.1 + 0.2 * qa[1])
    tree = grow_tree(geom.disc_centre, geom.disc_v_mm / 2, geom.fov_centre, geom.fov_radius_mm,
                     p.tortuosity, v_ratio, tree_rng, geom.arcade_b_mm, p.vessel_density)
    dr = rl.draw_dr(p.icdr_grade, geom, dr_rng)
    amd = rl.draw_amd(p.amd, geom, amd_rng)
    tree.vessels = rl.apply_beading(tree.vessels, dr.beading_quadrants, bead_rng)
    lesions = amd + dr.lesions
    eye = render_retina(geom, tree, cdr, p.pigmentation, p.age_years, tex_rng, lesions, dr.nv)
    albedo = eye.albedo
    if dr.vitreous_haemorrhage:                   # diffuse red haze over part of the field
        haze = np.exp(-((geom.X - cam_rng.normal(0, 2)) ** 2 + (geom.Y - cam_rng.normal(2, 1.5))
                        ** 2) / (2 * 2.5 ** 2))[..., None] * cam_rng.uniform(0.3, 0.6)
        albedo = albedo * (1 - haze) + haze * np.array([0.55, 0.12, 0.08], np.float32)
    fov = eye.masks["field_of_view"]
    img = acquire(albedo, geom.fov_radius_px, cam_rng, vignetting=p.vignetting,
                  unevenness=p.illumination_unevenness, gains=cam["gains"],
                  exposure=cam["exposure"], blur_px=p.blur_um / 1000 / geom.px_mm,
                  noise=p.noise, artefacts=p.artefacts, fov_mask=fov)

    masks = dict(eye.masks)
    instances = np.zeros(shape, np.int32)
    inst_classes, boxes, counts = {}, [], {k: 0 for k in rl.LESION_KINDS}
    groups = [(les.kind, les.window, les.mask) for les in lesions]
    if "neovascularisation" in masks:
        for c, r in dr.nv_sites:
            sl = geom.window(c, r * 1.2)
            groups.append(("neovascularisation", sl, masks["neovascularisation"][sl]))
    ga = [g for g in groups if g[0] == "geographic_atrophy"]
    if ga:                                        # overlapping GA blobs: one lesion
        full = np.zeros(shape, bool)
        for _, sl, m in ga:
            full[sl] |= m
        groups = [g for g in groups if g[0] != "geographic_atrophy"]
        groups.append(("geographic_atrophy", (slice(None), slice(None)), full))
    for kind, sl, m in groups:                    # all in the lesion's own pixel window
        m = m & fov[sl]
        if not m.any():
            continue
        k = len(inst_classes) + 1
        view = instances[sl]
        view[m & (view == 0)] = k
        inst_classes[k] = kind
        r, c = np.nonzero(m)
        r0, c0 = sl[0].start or 0, sl[1].start or 0
        boxes.append(Box(kind, (float(r0 + r.min()), float(c0 + c.min()), float(r0 + r.max() + 1),
                                float(c0 + c.max() + 1)), instance_id=k))
        if kind != "neovascularisation":          # (its mask is the new vessels themselves)
            masks.setdefault(kind, np.zeros(shape, bool))[sl] |= m
        counts[kind] += 1
    for name in ("optic_disc", "optic_cup"):
        boxes.append(Box.from_mask(name, masks[name]))
    masks = {k: v for k, v in masks.items() if v.any()}

    px = geom.px_mm
    attrs = {"icdr_grade": p.icdr_grade, "cdr": round(_vertical_ratio(masks["optic_cup"],
                                                                        masks["optic_disc"]), 4),
             "cdr_requested": round(float(cdr), 4), "laterality": p.laterality,
             "field_of_view_deg": float(p.field_of_view_deg), "fixation": p.fixation,
             "age_years": float(p.age_years), "pigmentation": float(p.pigmentation),
             "tortuosity": float(p.tortuosity), "vein_artery_ratio": round(v_ratio, 3),
             "disc_diameter_mm": round(int(masks["optic_disc"].any(axis=1).sum()) * px, 3),
             "amd": p.amd, "n_microaneurysms": counts["microaneurysm"],
             "n_haemorrhages": counts["haemorrhage"], "n_hard_exudates": counts["hard_exudate"],
             "n_cotton_wool_spots": counts["cotton_wool_spot"],
             "n_neovascular_complexes": counts["neovascularisation"],
             "n_drusen": counts["drusen"], "n_bifurcations": len(tree.bifurcations),
             "ga_area_mm2": round(float(masks.get("geographic_atrophy", np.zeros(1)).sum())
                                  * px * px, 3), **dr.attributes}
    classes = {"diabetic_retinopathy": p.icdr_grade >= 1, "referable_dr": p.icdr_grade >= 2,
               "proliferative_dr": p.icdr_grade == 4, "glaucoma_suspect": attrs["cdr"] >= 0.6,
               "amd": p.amd != "none"}
    landmarks = {"fovea": geom.landmark((0.0, 0.0)), "disc_centre": geom.landmark(
        geom.disc_centre)}
    labels = Labels(masks=masks, label_table=dict(LABEL_TABLE),
                    instances=instances if inst_classes else None,
                    instance_classes=inst_classes, boxes=boxes, classes=classes,
                    attributes=attrs, landmarks=landmarks)
    return Sample(images={"fundus": img}, spacing_mm=(px, px), modality="OP", labels=labels,
                  units={"fundus": "1"}, report=fundus_report(classes, attrs))


_DR_WORDS = {0: "No diabetic retinopathy", 1: "Mild non-proliferative diabetic retinopathy",
             2: "Moderate non-proliferative diabetic retinopathy",
             3: "Severe non-proliferative diabetic retinopathy",
             4: "Proliferative diabetic retinopathy"}


def fundus_report(classes: dict, attributes: dict) -> str:
    """FINDINGS / IMPRESSION text for a colour fundus photograph.

    >>> print(fundus_report({"glaucoma_suspect": False}, {"laterality": "R",
    ...     "field_of_view_deg": 45.0, "fixation": "macula", "cdr": 0.3, "icdr_grade": 0,
    ...     "amd": "none"}))  # doctest: +NORMALIZE_WHITESPACE
    FINDINGS: Colour fundus photograph, right eye, 45-degree field centred on the macula.
    Optic disc: well-defined margins, healthy neuroretinal rim, vertical cup-to-disc ratio
    0.30. Vessels: normal calibre and course. Macula: foveal reflex present, no exudates,
    haemorrhages or drusen.
    IMPRESSION: No diabetic retinopathy (ICDR grade 0). No glaucomatous cupping. No AMD.
    """
    a = attributes
    eye = "right" if a.get("laterality") == "R" else "left"
    centre = "the macula" if a.get("fixation") == "macula" else "the optic disc"
    cdr = float(a.get("cdr", 0.0))
    f = [f"Colour fundus photograph, {eye} eye, {a.get('field_of_view_deg', 45):.0f}-degree "
         f"field centred on {centre}."]
    rim = "thinned neuroretinal rim" if classes.get("glaucoma_suspect") else \
        "healthy neuroretinal rim"
    f.append(f"Optic disc: well-defined margins, {rim}, vertical cup-to-disc ratio {cdr:.2f}.")
    if a.get("nvd"):
        f.append("Fine new vessels on the optic disc (NVD).")
    g = int(a.get("icdr_grade", 0))
    ves = ["Vessels: normal calibre and course."]
    if a.get("venous_beading_quadrants", 0):
        ves = [f"Venous beading in {a['venous_beading_quadrants']} quadrant(s)."]
    if a.get("nve"):
        ves.append("Neovascularisation elsewhere along the vascular arcades (NVE).")
    f.extend(ves)
    ret = []
    if a.get("n_microaneurysms"):
        ret.append(f"{a['n_microaneurysms']} microaneurysms")
    if a.get("n_haemorrhages"):
        per_q = a.get("haemorrhages_per_quadrant", "")
        ret.append(f"{a['n_haemorrhages']} intraretinal haemorrhages (per quadrant ST,IT,SN,IN:"
                   f" {per_q})")
    if a.get("n_hard_exudates"):
        ret.append(f"{a['n_hard_exudates']} hard exudates")
    if a.get("n_cotton_wool_spots"):
        ret.append(f"{a['n_cotton_wool_spots']} cotton-wool spots")
    if ret:
        f.append("Retina: " + ", ".join(ret) + ".")
    if a.get("vitreous_haemorrhage"):
        f.append("Vitreous haemorrhage hazes part of the view.")
    mac = {"none": "no drusen." if g >= 1 else "foveal reflex present, no exudates, "
                   "haemorrhages or drusen.",
           "early": "scattered medium-sized drusen.",
           "intermediate": "large soft drusen around the fovea.",
           "geographic_atrophy": f"drusen and a sharply demarcated area of geographic atrophy "
                                 f"({a.get('ga_area_mm2', 0):.1f} mm^2) with visible choroidal "
                                 "vessels."}[a.get("amd", "none")]
    f.append("Macula: " + mac)
    imp = [f"{_DR_WORDS[g]} (ICDR grade {g})."]
    imp.append("Glaucomatous cupping suspected; refer for glaucoma assessment."
               if classes.get("glaucoma_suspect") else "No glaucomatous cupping.")
    imp.append({"none": "No AMD.", "early": "Early AMD.", "intermediate": "Intermediate AMD.",
                "geographic_atrophy": "Late dry AMD with geographic atrophy."}[a.get("amd",
                                                                                    "none")])
    if g >= 2:
        imp.append("Refer to ophthalmology" + (" urgently." if g >= 3 else "."))
    return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + " ".join(imp)
