"""Preset ``knee_xray``: weight-bearing AP/PA knee radiographs graded Kellgren–Lawrence 0–4.

Osteoarthritis is set by ``kl_grade`` and, optionally, by named and measurable controls
(joint-space widths in mm, osteophyte count and size, sclerosis, cysts, deformity); each
control left ``None`` is drawn inside the grade's published definition
(:data:`synthmed.phantoms.knee_oa.KL_GRADES`). The preset splits its stream into anatomy,
disease and acquisition streams, so re-rendering with another grade (``synthmed.edit.edit``)
gives the same knee with different disease, changed only around the joint.

Example
-------
>>> import numpy as np
>>> from synthmed.presets.knee_xray import KneeXrayParams, knee_xray
>>> s = knee_xray(KneeXrayParams(image_size=(128, 128), kl_grade=3, medial_jsw_mm=2.0),
...               np.random.default_rng(0))
>>> s.image.shape, s.modality, s.labels.classes["osteoarthritis"]
((128, 128), 'DX', True)
>>> (r0, c0), (r1, c1) = s.labels.landmarks["medial_femur"], s.labels.landmarks["medial_tibia"]
>>> round(float(np.hypot(r1 - r0, c1 - c0)) * s.spacing_mm[0], 3)   # JSW in mm
2.0
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import ndimage

from synthmed.phantoms import knee_oa
from synthmed.phantoms.knee import draw_knee_anatomy, knee
from synthmed.physics import xray
from synthmed.presets._reports import knee_xray_report
from synthmed.presets._params import ImageSize
from synthmed.registry import register_preset
from synthmed.sample import Box, Labels, Sample

__all__ = ["KneeXrayParams", "knee_xray", "LABEL_TABLE"]

LABEL_TABLE = {"femur": 1, "tibia": 2, "fibula": 3, "patella": 4, "femoral_physis": 5,
               "tibial_physis": 6, "fibular_physis": 7, "osteophyte": 8, "subchondral_cyst": 9}
_FOV_MM = {"knee": 160.0, "joint": 100.0}


class KneeXrayParams(BaseModel):
    """Parameters of ``knee_xray``; OA controls left ``None`` are drawn within ``kl_grade``."""

    model_config = ConfigDict(extra="forbid")

    image_size: ImageSize(2048) = Field((512, 512), description="Image (rows, cols) in pixels, "
                                        "each 64..2048")
    field_of_view: Literal["knee", "joint"] = Field(
        "knee", description="'knee': whole-knee film ~160 mm wide; 'joint': ~100 mm square crop "
        "centred on the joint (as in OAI-derived KL datasets); both scale with knee size")
    age_years: float = Field(60.0, ge=5, le=90, description="Patient age in years (under 18: "
                             "open growth plates, KL grade 0 only)")
    sex: Literal["F", "M"] = Field("F", description="Patient sex (knee size, fat, physis closure)")
    laterality: Literal["L", "R"] = Field("R", description="Left or right knee (the fibula is "
                                          "lateral: image left for R, image right for L)")
    view: Literal["AP", "PA"] = Field("PA", description="AP standing, or PA weight-bearing with a "
                                      "10-degree caudal beam (plateau rims superimposed)")
    flexion_deg: float = Field(10.0, ge=0, le=20, description="Knee flexion in degrees (patella "
                               "lower, notch taller, plateau rims apart)")
    rotation_deg: float = Field(0.0, ge=-10, le=10, description="Leg rotation about its long "
                                "axis in degrees; + = external (more tibiofibular overlap)")
    processing: Literal["auto", "standard", "clahe"] = Field(
        "auto", description="Image processing: 'standard' (log, dynamic-range compression, "
        "unsharp mask, film curve), 'clahe' (then contrast-limited adaptive histogram "
        "equalisation, strength drawn per image, as in the OAI-derived KL datasets), or "
        "'auto': clahe for the 'joint' field of view, standard for 'knee'")
    kvp: float = Field(65.0, ge=50, le=90, description="Tube voltage in kV")
    mas: float = Field(5.0, ge=1, le=20, description="Tube current-time product in mAs "
                       "(sets quantum noise)")
    kl_grade: int = Field(0, ge=0, le=4, description="Kellgren-Lawrence grade 0-4 (0 none, "
                          "1 doubtful, 2 minimal, 3 moderate, 4 severe osteoarthritis)")
    medial_jsw_mm: float | None = Field(None, ge=0, le=12, description="Minimum medial "
                                        "joint-space width in mm (None: drawn within the grade)")
    lateral_jsw_mm: float | None = Field(None, ge=0, le=12, description="Minimum lateral "
                                         "joint-space width in mm (None: drawn within the grade)")
    osteophyte_count: int | None = Field(None, ge=0, le=5, description="Number of marginal "
                                         "osteophytes, 0-5 (None: drawn within the grade)")
    osteophyte_size_mm: float | None = Field(None, ge=0, le=10, description="Protrusion of the "
                                             "largest osteophyte beyond the bone margin in mm")
    sclerosis: float | None = Field(None, ge=0, le=1, description="Subchondral sclerosis, 0 "
                                    "none to 1 severe (dimensionless)")
    cyst_count: int | None = Field(None, ge=0, le=4, description="Number of subchondral cysts, "
                                   "0-4 (None: drawn within the grade)")
    deformity: float | None = Field(None, ge=0, le=1, description="Bone-end deformity (condyle "
                                    "and plateau flattening), 0 none to 1 marked (dimensionless)")

    @model_validator(mode="after")
    def _controls_within_grade(self):
        if self.age_years < 18 and self.kl_grade > 0:
            raise ValueError(f"kl_grade={self.kl_grade} needs age_years >= 18 (got "
                             f"{self.age_years:g}): children's knees are KL grade 0")
        errors = knee_oa.control_errors(self.kl_grade, self.age_years, **self.controls())
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def controls(self) -> dict:
        """The OA controls as given (``None`` = draw within the grade)."""
        return {k: getattr(self, k) for k in knee_oa.CONTROLS}


def _clahe_from_reference(img, ref_img, clip, tiles=8, spread=0.05, nbins=128):
    """Contrast-limited adaptive histogram equalisation of ``img`` with ``ref_img``'s mappings.

    As ``skimage.exposure.equalize_adapthist`` (``tiles`` × ``tiles`` contextual regions,
    histograms clipped at ``clip`` × a uniform histogram's height and the excess spread
    evenly, mappings interpolated bilinearly between region centres), except that each
    region's mapping is the cumulative histogram of the *reference* image (grey levels in
    [0, 1], any size), blurred by ``spread`` grey levels for the texture and noise a
    noiseless, untextured reference lacks. A disease-free reference keeps the mapping fixed
    when only the joint changes. Returns float32 in [0, 1].

    >>> stripes = np.where(np.arange(64)[:, None] % 4 < 2, 0.45, 0.55) * np.ones((1, 64))
    >>> out = _clahe_from_reference(stripes, stripes, clip=3.0)   # low contrast is stretched
    >>> bool(np.ptp(out) > 3 * np.ptp(stripes) and 0 <= out.min() and out.max() <= 1)
    True
    """
    h, w = ref_img.shape
    region = (np.arange(h)[:, None] * tiles // h) * tiles + np.arange(w)[None, :] * tiles // w
    level = np.minimum((np.clip(ref_img, 0, 1) * nbins).astype(np.int64), nbins - 1)
    hist = np.bincount((region * nbins + level).ravel(), minlength=tiles * tiles * nbins)
    hist = ndimage.gaussian_filter1d(hist.reshape(tiles, tiles, nbins).astype(np.float64),
                                     spread * nbins, axis=2, mode="nearest")
    hist /= hist.sum(axis=2, keepdims=True)
    excess = np.clip(hist - clip / nbins, 0, None).sum(axis=2, keepdims=True)
    lut = np.cumsum(np.minimum(hist, clip / nbins) + excess / nbins, axis=2)
    lut = np.concatenate([np.zeros((tiles, tiles, 1)), lut], axis=2)  # value at level edges

    def centres(n):  # the two region centres around each row (column) and the weight
        f = np.clip((np.arange(n) + 0.5) * tiles / n - 0.5, 0, tiles - 1)
        i0 = np.minimum(f.astype(np.int64), tiles - 2)
        return i0, (f - i0).astype(np.float32)

    (r0, wr), (c0, wc) = centres(img.shape[0]), centres(img.shape[1])
    r0, wr, c0, wc = r0[:, None], wr[:, None], c0[None, :], wc[None, :]
    x = np.clip(img, 0, 1) * nbins
    k = np.minimum(x.astype(np.int64), nbins - 1)
    fx = (x - k).astype(np.float32)
    flat = lut.ravel().astype(np.float32)
    out = np.zeros(img.shape, np.float32)
    for dr, dc, wgt in ((0, 0, (1 - wr) * (1 - wc)), (0, 1, (1 - wr) * wc),
                        (1, 0, wr * (1 - wc)), (1, 1, wr * wc)):
        i = ((r0 + dr) * tiles + c0 + dc) * (nbins + 1) + k
        out += wgt * (flat[i] * (1 - fx) + flat[i + 1] * fx)
    return out.astype(np.float32)


def _reference_window(ref_signal, ref_px, drc_amount, drc_sigma_mm):
    """Dynamic-range compression map (reference grid) and window, from a pathology-free render.

    Computing both from the disease-free knee of the same anatomy keeps the grey scale fixed
    when only the joint changes, so an edit changes pixels only near the joint.
    """
    p = -np.log(np.maximum(ref_signal, 1e-6))
    low = ndimage.gaussian_filter(p, drc_sigma_mm / ref_px, mode="nearest")
    body = p > 0.15 * np.percentile(p, 95)
    low = low - float(np.median(low[body]))
    lo, hi = np.percentile((p - drc_amount * low)[body], (0.5, 99.5))
    return low.astype(np.float32), (float(lo), float(hi))


def _upsample(low, shape):
    """A smooth map resized to ``shape`` (linear interpolation)."""
    zoom = (shape[0] / low.shape[0], shape[1] / low.shape[1])
    full = ndimage.zoom(low, zoom, order=1, mode="nearest", grid_mode=True)
    return full[: shape[0], : shape[1]].astype(np.float32)


@register_preset("knee_xray", params=KneeXrayParams)
def knee_xray(params: KneeXrayParams, rng: np.random.Generator) -> Sample:
    """Weight-bearing AP/PA knee radiograph graded Kellgren-Lawrence 0-4, adults and children.

    Distal femur, proximal tibia, fibular head and patella are solids with cortex and textured
    trabecular bone (:mod:`synthmed.phantoms.knee`); joint-space narrowing, osteophytes,
    sclerosis, cysts and deformity follow the KL grade or explicit controls
    (:mod:`synthmed.phantoms.knee_oa`); imaging is polychromatic X-ray physics
    (:mod:`synthmed.physics.xray`), then standard or CLAHE processing (``processing``; the
    adaptive mapping comes from the disease-free reference render, so edits stay local).
    Image values: float32 in [0, 1], bright = attenuating.
    ``spacing_mm`` is the pixel size at the knee (parallel projection, no magnification), so
    landmark distances × ``spacing_mm`` are the joint-space widths in mm.
    """
    p = params
    anatomy_rng, oa_rng, acq_rng = rng.spawn(3)
    anat = draw_knee_anatomy(age_years=p.age_years, sex=p.sex, laterality=p.laterality,
                             view=p.view, flexion_deg=p.flexion_deg,
                             rotation_deg=p.rotation_deg, rng=anatomy_rng)
    oa = knee_oa.draw_oa_features(p.kl_grade, p.age_years, oa_rng.random(knee_oa.N_QUANTILES),
                                  oa_rng.random(knee_oa.N_SHAPE_QUANTILES), **p.controls())
    shape = tuple(p.image_size)
    fov = _FOV_MM[p.field_of_view] * float(np.clip(anat.scale, 0.6, 1.15))
    ph = knee(shape, fov, anat, oa)
    ref_shape = tuple(max(64, n // 4) for n in shape)
    ref = knee(ref_shape, fov, anat, knee_oa.normal_features(p.age_years), texture=False)
    # acquisition and processing vary between departments (own stream: grade-independent)
    drc, drc_sigma = acq_rng.uniform(0.6, 0.85), acq_rng.uniform(8.0, 14.0)
    disp = dict(contrast=acq_rng.uniform(3.0, 3.8), level=acq_rng.uniform(-0.05, 0.12),
                gamma=acq_rng.uniform(0.85, 1.1), unsharp_amount=acq_rng.uniform(0.2, 0.8),
                unsharp_sigma_mm=acq_rng.uniform(1.0, 2.2))
    clahe = dict(clip=acq_rng.uniform(1.1, 2.0), blend=acq_rng.uniform(0.6, 1.0),
                 gamma=float(np.exp(acq_rng.normal(-0.15, 0.3))))
    colli = xray.collimation(shape, acq_rng) if p.field_of_view == "knee" else None
    # knee technique: 100 cm SID, 2.5 mm Al, grid, CsI flat panel (PSF sigma ~0.12 mm)
    tech = dict(sid_mm=1000.0, filtration_mm_al=2.5, grid=True, blur_mm=0.12)
    ref_signal = xray.project(ref.path_lengths, ref.spacing_mm, p.kvp, p.mas, None,
                              noise=False, **tech)
    low, window = _reference_window(ref_signal, ref.spacing_mm, drc, drc_sigma)
    signal = xray.project(ph.path_lengths, ph.spacing_mm, p.kvp, p.mas, acq_rng, **tech)
    signal = signal * np.exp(drc * _upsample(low, shape))  # compression from the reference
    img = xray.display(signal, ph.spacing_mm, drc_amount=0.0, window=window, **disp)
    clahe_on = p.processing == "clahe" or (p.processing == "auto" and p.field_of_view == "joint")
    if clahe_on:
        ref_img = xray.display(ref_signal * np.exp(drc * low), ref.spacing_mm, drc_amount=0.0,
                               window=window, **disp)
        eq = _clahe_from_reference(img, ref_img, clahe["clip"])
        img = (clahe["blend"] * eq + (1 - clahe["blend"]) * img) ** clahe["gamma"]
    if colli is not None:  # unexposed margins: white with a soft penumbra
        img = (img * colli[0] + colli[1] * (1 - colli[0])).astype(np.float32)

    masks = dict(ph.masks)
    instances = np.zeros(shape, np.int32)
    boxes, inst_classes = [], {}
    for k, (_, m) in enumerate(ph.osteophyte_masks, start=1):
        instances[m & (instances == 0)] = k
        inst_classes[k] = "osteophyte"
        boxes.append(Box.from_mask("osteophyte", m, instance_id=k))
    if ph.osteophyte_masks:
        masks["osteophyte"] = instances > 0
    attrs = {"kl_grade": p.kl_grade, "medial_jsw_mm": oa.medial_jsw_mm,
             "lateral_jsw_mm": oa.lateral_jsw_mm, "osteophyte_count": len(oa.osteophytes),
             "osteophyte_size_mm": oa.osteophyte_size_mm, "sclerosis": oa.sclerosis,
             "cyst_count": len(oa.cysts), "deformity": oa.deformity,
             "osteophyte_sites": ",".join(o.site for o in oa.osteophytes),
             "age_years": float(p.age_years), "sex": p.sex, "laterality": p.laterality,
             "view": p.view, "flexion_deg": float(p.flexion_deg),
             "rotation_deg": float(p.rotation_deg), "kvp": float(p.kvp), "mas": float(p.mas),
             "field_of_view_mm": ph.attributes["field_of_view_mm"],
             "open_physes": bool(anat.physis_mm > 0),
             "processing": "clahe" if clahe_on else "standard"}
    classes = {"osteoarthritis": p.kl_grade >= 2}
    labels = Labels(masks=masks, label_table=dict(LABEL_TABLE),
                    instances=instances if inst_classes else None, instance_classes=inst_classes,
                    boxes=boxes, classes=classes, attributes=attrs, landmarks=ph.landmarks)
    return Sample(images={"xray": img}, spacing_mm=(ph.spacing_mm, ph.spacing_mm), modality="DX",
                  labels=labels, report=knee_xray_report(classes, attrs))
