"""Preset ``chest_xray``: procedural thorax imaged by polychromatic X-ray physics.

Example
-------
>>> import numpy as np
>>> from synthmed.presets.chest_xray import ChestXrayParams, chest_xray
>>> s = chest_xray(ChestXrayParams(image_size=(128, 128)), np.random.default_rng(0))
>>> s.image.shape, s.modality, s.labels.classes["pneumonia"]
((128, 128), 'DX', False)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from synthmed.phantoms import thorax as tx
from synthmed.phantoms import thorax_findings as fx
from synthmed.physics import xray
from synthmed.presets._reports import chest_xray_report
from synthmed.presets._params import ImageSize
from synthmed.registry import register_preset
from synthmed.sample import Box, Labels, Sample

__all__ = ["ChestXrayParams", "chest_xray", "LABEL_TABLE", "FINDINGS"]

# Stable ids for every structure a chest_xray sample can have (same table in every sample).
LABEL_TABLE = {"lung_right": 1, "lung_left": 2, "heart": 3, "consolidation": 4, "nodule": 5,
               "effusion": 6, "pneumothorax": 7}
FINDINGS = ("pneumonia", "nodule", "effusion", "cardiomegaly", "pneumothorax")


class ChestXrayParams(BaseModel):
    """Parameters of the ``chest_xray`` preset (all optional; out-of-range values fail)."""

    model_config = ConfigDict(extra="forbid")

    image_size: ImageSize(2048) = Field((512, 512), description="Image (rows, cols) in pixels, "
                                        "each 64..2048; the field of view (~33-45 cm for adults) "
                                        "is mapped onto it")
    age_years: float = Field(45.0, ge=1, le=95, description="Patient age in years")
    sex: Literal["F", "M"] = Field("M", description="Patient sex (body size, breast shadows)")
    body_size: float = Field(1.0, ge=0.8, le=1.2, description="Relative habitus (1 = average; "
                             "scales frame and soft-tissue thickness), dimensionless")
    view: Literal["PA", "AP"] = Field("PA", description="Projection: PA (standing, detector in "
                                      "front) or AP (heart magnified, scapulae over the lungs)")
    inspiration: float = Field(0.8, ge=0, le=1, description="Depth of inspiration, 0 (poor, ~8 "
                               "posterior ribs above the right hemidiaphragm) to 1 (~10.5)")
    rotation_deg: float = Field(0.0, ge=-10, le=10, description="Patient rotation about the "
                                "vertical axis in degrees")
    kvp: float = Field(110.0, ge=40, le=150, description="Tube voltage in kV")
    mas: float = Field(2.0, ge=0.5, le=50, description="Tube current-time product in mAs "
                       "(sets quantum noise)")
    pneumonia: bool = Field(False, description="Airspace consolidation (lobe chosen at random)")
    pneumonia_pattern: Literal["lobar", "patchy"] = Field("lobar", description="Lobar "
                                                          "consolidation or patchy bronchopneumonia")
    nodule: bool = Field(False, description="A solitary pulmonary nodule / mass")
    nodule_diameter_mm: float = Field(15.0, ge=4, le=60, description="Nodule diameter in mm "
                                      "(> 30 mm is reported as a mass)")
    effusion: bool = Field(False, description="Pleural effusion (meniscus, blunted "
                           "costophrenic angle)")
    effusion_side: Literal["random", "left", "right", "bilateral"] = Field(
        "random", description="Side of the effusion")
    cardiomegaly: bool = Field(False, description="Enlarged heart (cardiothoracic ratio > 0.5); "
                               "otherwise CTR 0.40-0.49")
    pneumothorax: bool = Field(False, description="Apical-lateral pneumothorax (side at random)")
    ecg_leads: bool = Field(False, description="ECG electrodes and wires")
    central_line: bool = Field(False, description="Right central venous catheter")
    side_marker: bool = Field(True, description="Lead L/R side marker in an upper corner")


def _zone(mask: np.ndarray, lung_r: np.ndarray, lung_l: np.ndarray) -> str:
    rr, cc = np.nonzero(mask)
    r, c = rr.mean(), cc.mean()
    side = "right" if lung_r[int(r), int(c)] or c < mask.shape[1] / 2 else "left"
    lung = lung_r if side == "right" else lung_l
    lr = np.nonzero(lung)[0]
    t = (r - lr.min()) / max(lr.max() - lr.min(), 1)
    return f"{side} {'upper' if t < 0.33 else 'mid' if t < 0.66 else 'lower'} zone"


def _tilt(a: np.ndarray, deg: float, order: int) -> np.ndarray:
    """Rotate a map about the image centre (same shape; outside = 0 / False)."""
    if a.dtype == bool:
        return ndimage.rotate(a.view(np.uint8), deg, reshape=False, order=0) > 0
    return ndimage.rotate(a, deg, reshape=False, order=order, mode="constant", cval=0)


def _tilt_point(rc, deg, shape):
    """Where a (row, col) point goes under :func:`_tilt` (ndimage.rotate's convention)."""
    a = np.radians(deg)
    cy, cx = shape[0] / 2 - 0.5, shape[1] / 2 - 0.5
    dy, dx = rc[0] - cy, rc[1] - cx
    return (float(cy + dy * np.cos(a) - dx * np.sin(a)), float(cx + dy * np.sin(a) + dx * np.cos(a)))


@register_preset("chest_xray", params=ChestXrayParams)
def chest_xray(params: ChestXrayParams, rng: np.random.Generator) -> Sample:
    """Chest radiograph (PA/AP) of a procedural thorax, with lung/heart masks and findings.

    Anatomy (lungs with branching vessels, heart, mediastinum, airways, ribs, spine,
    clavicles, scapulae, soft tissue, breasts, gastric bubble) comes from
    :func:`synthmed.phantoms.thorax.thorax`; the image from polychromatic Beer-Lambert
    projection with NIST attenuation, Poisson noise and display processing
    (:mod:`synthmed.physics.xray`). Image values: float32 in [0, 1], bright = attenuating.
    """
    p = params
    # cardiothoracic ratio: normal adults 0.40-0.48, children/AP towards 0.49; enlarged > 0.53
    if p.cardiomegaly:
        ctr = rng.uniform(0.54, 0.68)
    else:
        lo = 0.40 + 0.05 * (p.age_years < 10) + 0.03 * (p.view == "AP")
        ctr = rng.uniform(lo, 0.48)
    ph = tx.thorax(tuple(p.image_size), age_years=p.age_years, sex=p.sex, body_size=p.body_size,
                   view=p.view, inspiration=p.inspiration, rotation_deg=p.rotation_deg,
                   cardiothoracic_ratio=ctr, rng=rng)
    masks = {k: ph.masks[k] for k in ("lung_right", "lung_left", "heart")}
    classes = {k: bool(getattr(p, k)) for k in FINDINGS}
    attrs: dict = {"cardiothoracic_ratio": ph.attributes["cardiothoracic_ratio"],
                   "thoracic_width_mm": ph.attributes["thoracic_width_mm"],
                   "age_years": float(p.age_years), "sex": p.sex, "view": p.view,
                   "kvp": float(p.kvp), "mas": float(p.mas),
                   "posterior_ribs_above_diaphragm": ph.attributes["posterior_ribs_above_diaphragm"]}
    box_specs: list[tuple[str, np.ndarray, int | None]] = []  # boxes built after the tilt
    instances = np.zeros(p.image_size, np.int32)
    inst_classes: dict[int, str] = {}

    def _add_instance(name, mask):
        k = len(inst_classes) + 1
        instances[mask & (instances == 0)] = k
        inst_classes[k] = name
        box_specs.append((name, mask, k))

    if p.pneumonia:
        m, lobe = fx.add_consolidation(ph, rng, pattern=p.pneumonia_pattern)
        masks["consolidation"] = m
        attrs.update(pneumonia_lobe=lobe, pneumonia_pattern=p.pneumonia_pattern)
        _add_instance("consolidation", m)
    if p.effusion:
        side = p.effusion_side if p.effusion_side != "random" else \
            str(rng.choice(["right", "left", "bilateral"], p=[0.45, 0.35, 0.2]))
        m = np.zeros(p.image_size, bool)
        for sd in (("right", "left") if side == "bilateral" else (side,)):
            ms = fx.add_effusion(ph, rng, side=sd)
            m |= ms
            box_specs.append(("effusion", ms, None))
        masks["effusion"] = m
        attrs["effusion_side"] = side
    if p.pneumothorax:
        side = str(rng.choice(["right", "left"]))
        m = fx.add_pneumothorax(ph, rng, side=side)
        masks["pneumothorax"] = m
        attrs["pneumothorax_side"] = side
        box_specs.append(("pneumothorax", m, None))
    if p.nodule:
        m = fx.add_nodule(ph, rng, diameter_mm=p.nodule_diameter_mm)
        masks["nodule"] = m
        attrs["nodule_diameter_mm"] = float(p.nodule_diameter_mm)
        attrs["nodule_location"] = _zone(m, masks["lung_right"], masks["lung_left"])
        _add_instance("nodule", m)
    if p.ecg_leads:
        fx.add_ecg_leads(ph, rng)
        attrs["ecg_leads"] = True
    if p.central_line:
        fx.add_central_line(ph, rng)
        attrs["central_line"] = True

    # acquisition: slight tilt of the patient on the detector (in-plane), applied to the
    # material maps and every label alike; the lead side marker is on the cassette (untilted)
    tilt = float(np.clip(rng.normal(0.0, 1.6), -4.0, 4.0))
    paths = ph.path_lengths()
    landmarks = dict(ph.landmarks)
    if abs(tilt) > 0.25 and min(p.image_size) >= 96:
        paths = {k: _tilt(v, tilt, 1) for k, v in paths.items()}
        # all boolean labels packed as bits of one map: a single nearest-neighbour rotation
        allm = list(masks.values()) + [m for _, m, _ in box_specs]
        bits = sum((m.astype(np.uint32) << i) for i, m in enumerate(allm))
        bits = _tilt(bits, tilt, 0)
        rot = [(bits >> i) & 1 > 0 for i in range(len(allm))]
        masks = dict(zip(masks, rot[:len(masks)]))
        box_specs = [(n, m, k) for (n, _, k), m in zip(box_specs, rot[len(masks):])]
        instances = _tilt(instances, tilt, 0)
        landmarks = {k: _tilt_point(v, tilt, p.image_size) for k, v in landmarks.items()}
    attrs["tilt_deg"] = round(tilt, 2) if abs(tilt) > 0.25 and min(p.image_size) >= 96 else 0.0
    if p.side_marker:
        letter = fx.add_side_marker(ph, rng)
        attrs["side_marker"] = letter
        paths["lead"] = paths.get("lead", 0) + ph.added["lead"]
    boxes = [Box.from_mask(n, m, instance_id=k) if k else Box.from_mask(n, m)
             for n, m, k in box_specs if m.any()]
    # detectors and image processing differ between departments: computed radiography plates
    # spread more light (glare, the MTF's low-frequency drop) than CsI flat panels
    glare = rng.uniform(0.12, 0.3)
    disp = dict(contrast=rng.uniform(2.8, 3.8), level=rng.uniform(-0.1, 0.12),
                drc_amount=rng.uniform(0.45, 0.72), gamma=rng.uniform(0.85, 1.2),
                unsharp_amount=rng.uniform(0.3, 0.7))
    colli = xray.collimation(p.image_size, rng)  # drawn before the quantum noise (stable streams)
    # chest technique: 180 cm SID, 3 mm Al + 0.1 mm Cu, 10:1 grid; anode towards the head
    signal = xray.project(paths, ph.spacing_mm, p.kvp, p.mas, rng, sid_mm=1800.0,
                          filtration_mm_al=3.0, filtration_mm_cu=0.1, grid=True, glare=glare)
    img = xray.display(signal, ph.spacing_mm, **disp)
    if colli is not None:  # unexposed margins: white with a soft penumbra
        img = (img * colli[0] + colli[1] * (1 - colli[0])).astype(np.float32)
    labels = Labels(masks=masks, label_table=dict(LABEL_TABLE),
                    instances=instances if inst_classes else None,
                    instance_classes=inst_classes, boxes=boxes, classes=classes,
                    attributes=attrs, landmarks=landmarks)
    return Sample(images={"xray": img}, spacing_mm=(ph.spacing_mm, ph.spacing_mm),
                  modality="DX", labels=labels, report=chest_xray_report(classes, attrs))
