"""Preset ``lung_ct``: chest CT in Hounsfield units with COVID-19 patterns, nodules,
emphysema and pleural effusion, with exact 3D labels.

The truth is a procedural thorax (:func:`synthmed.phantoms.thorax3d.thorax3d`) with findings
(:mod:`synthmed.phantoms.lung_findings3d`) made on thin slices (an odd number, at most 1 mm
apart, per output slice); :func:`synthmed.physics.ct.scan_volume` forward-projects each thin
slab, adds Poisson noise from the mAs and reconstructs it by filtered back-projection with
the named kernel. Masks are made at the output slice grid from the thin-slice truth: a
voxel belongs to a structure if most of its thin sub-slices do (>= 50 %, with an odd count a
strict majority), in-plane by the voxel centre.

Axes: ``(z, y, x)`` in DICOM's LPS frame: column 0 is the patient's right (columns run to
the left), row 0 anterior (rows run posterior), slice 0 inferior (slices run up);
``spacing_mm = (slice_thickness_mm, dy, dx)``.

Example
-------
>>> import numpy as np
>>> from synthmed.presets.lung_ct import LungCtParams, lung_ct
>>> s = lung_ct(LungCtParams(image_size=(64, 64), n_slices=8, slice_thickness_mm=5.0),
...             np.random.default_rng(0))
>>> s.image.shape, s.modality, s.units["ct"], s.spacing_mm[0]
((8, 64, 64), 'CT', 'HU', 5.0)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from synthmed.phantoms import lung_findings3d as fx
from synthmed.phantoms.thorax3d import LOBES, thorax3d
from synthmed.physics.ct import scan_volume
from synthmed.presets._reports import lung_ct_report
from synthmed.presets._params import ImageSize
from synthmed.registry import register_preset
from synthmed.sample import Box, Labels, Sample

__all__ = ["LungCtParams", "lung_ct", "lung_ct_phantom", "LABEL_TABLE", "FINDINGS",
           "LOBE_CODES"]

# Stable ids for every structure a lung_ct sample can have (the same table in every sample).
LABEL_TABLE = {name: k + 1 for k, name in enumerate((
    "lung_right", "lung_left", *LOBES, "airways", "vessels", "heart", "aorta", "spine", "ribs",
    "sternum", "ggo", "consolidation", "crazy_paving", "nodule", "emphysema", "effusion"))}
FINDINGS = ("covid", "nodule", "emphysema", "effusion")
LOBE_CODES = ("RUL", "RML", "RLL", "LUL", "LLL")


class LungCtParams(BaseModel):
    """Parameters of the ``lung_ct`` preset (all optional; out-of-range values fail)."""

    model_config = ConfigDict(extra="forbid")

    image_size: ImageSize(1024) = Field((256, 256), description="In-plane matrix (rows, cols) "
                                        "in pixels, each 64..1024; the field of view (about "
                                        "35-45 cm in adults) is fitted to the body")
    n_slices: int = Field(64, ge=8, le=512, description="Number of reconstructed axial "
                          "slices; the scan range (n_slices × slice_thickness_mm) is centred "
                          "on the lungs (~27 cm high in adults)")
    slice_thickness_mm: float = Field(2.5, ge=0.5, le=10.0, description="Reconstructed "
                                      "slice thickness in mm (contiguous slices)")
    age_years: float = Field(55.0, ge=1, le=95, description="Patient age in years (body and "
                             "organ size, thymus, bone mineral, calcifications)")
    sex: Literal["F", "M"] = Field("M", description="Patient sex (body size, fat, breasts)")
    covid: bool = Field(False, description="COVID-19 pneumonia")
    covid_pattern: Literal["ggo", "consolidation", "crazy_paving", "mixed"] = Field(
        "ggo", description="Ground-glass opacities (-700..-300 HU), consolidation "
        "(-100..+50 HU, air bronchograms), crazy paving (ground glass with septal "
        "thickening) or a mixture")
    covid_distribution: Literal["peripheral_lower", "peripheral", "lower", "diffuse",
                                "central"] = Field(
        "peripheral_lower", description="Where the opacities lie: peripheral_lower (typical: "
        "bilateral, subpleural, lower-lobe and posterior predominant), peripheral "
        "(subpleural), lower (lower lobes), diffuse, or central (peribronchovascular)")
    covid_extent_percent: float = Field(20.0, ge=1, le=80, description="Involved lung volume "
                                        "in % of the scanned lung")
    nodule: bool = Field(False, description="Pulmonary nodule(s)")
    nodule_type: Literal["solid", "part_solid", "ground_glass"] = Field(
        "solid", description="Nodule attenuation: solid, part-solid (solid core 30-70 % of "
        "the diameter) or ground-glass (non-solid)")
    nodule_diameter_mm: float = Field(8.0, ge=3, le=30, description="Diameter of the "
                                      "(first) nodule in mm; further nodules are 3 mm up to it")
    nodule_count: int = Field(1, ge=1, le=10, description="Number of nodules")
    emphysema: bool = Field(False, description="Emphysema (low-attenuation areas < -950 HU)")
    emphysema_type: Literal["centrilobular", "panlobular"] = Field(
        "centrilobular", description="Centrilobular (small holes, upper zones) or panlobular "
        "(confluent, lower zones)")
    emphysema_extent_percent: float = Field(10.0, ge=1, le=60, description="Emphysematous "
                                            "lung volume in % of the scanned lung")
    effusion: bool = Field(False, description="Free pleural effusion (dependent, 0-20 HU)")
    effusion_side: Literal["random", "right", "left", "bilateral"] = Field(
        "random", description="Side of the effusion")
    kvp: float = Field(120.0, ge=80, le=140, description="Tube voltage in kV")
    mas: float = Field(100.0, ge=10, le=400, description="Tube current-time product per "
                       "rotation in mAs (sets quantum noise)")
    kernel: Literal["soft", "standard", "lung", "sharp"] = Field(
        "lung", description="Reconstruction kernel (filtered back-projection)")


def _effusion_sides(p: LungCtParams, rng: np.random.Generator) -> tuple[str, ...]:
    side = p.effusion_side if p.effusion_side != "random" else \
        str(rng.choice(["right", "left", "bilateral"], p=[0.4, 0.3, 0.3]))
    return ("right", "left") if side == "bilateral" else (side,)


def _covid_attributes(masks: dict, lung: np.ndarray) -> dict:
    """Realised extent (% of lung volume, from the output masks), per-lobe involvement (%)
    and CT severity scores (Pan et al. 2020: 0-5 per lobe, 0-25 in all)."""
    lesion = masks["ggo"] | masks["consolidation"] | masks["crazy_paving"]
    lung_voxels = max(float(lung.sum()), 1.0)
    attrs = {"covid_extent_percent": round(100 * float(lesion.sum()) / lung_voxels, 2)}
    total = 0
    for code, name in zip(LOBE_CODES, LOBES):
        lobe = masks[name]
        pct = 100 * float((lesion & lobe).sum()) / max(float(lobe.sum()), 1.0)
        score = fx.severity_score(pct) if lobe.any() else 0
        attrs[f"covid_percent_{code}"] = round(float(pct), 2)
        attrs[f"covid_severity_{code}"] = score
        total += score
    attrs["covid_severity_score"] = total
    right, left = ((lesion & (masks[f"lung_{side}"])).any() for side in ("right", "left"))
    attrs["covid_laterality"] = "bilateral" if left and right else "right" if right else \
        "left" if left else "none"
    return attrs


def lung_ct_phantom(params: LungCtParams, rng: np.random.Generator):
    """The noiseless truth of a ``lung_ct`` sample, before the scan.

    Returns ``(phantom, findings, nodules, attributes)``: the
    :class:`~synthmed.phantoms.thorax3d.Thorax3D` with its findings drawn in, thin-slice
    finding masks by name, the nodules of
    :func:`~synthmed.phantoms.lung_findings3d.add_nodules` and the attributes known so far.
    :func:`lung_ct` draws from ``rng`` exactly as this does, then scans.
    """
    p = params
    ph = thorax3d(tuple(p.image_size), p.n_slices, p.slice_thickness_mm,
                  age_years=p.age_years, sex=p.sex, rng=rng)
    thin: dict[str, np.ndarray] = {}
    attrs: dict = {"age_years": float(p.age_years), "sex": p.sex, "kvp": float(p.kvp),
                   "mas": float(p.mas), "kernel": p.kernel,
                   "slice_thickness_mm": float(p.slice_thickness_mm), **ph.attributes}
    if p.effusion:
        sides = _effusion_sides(p, rng)
        eff = [fx.add_effusion(ph, rng, side) for side in sides]
        thin["effusion"] = np.logical_or.reduce([e["mask"] for e in eff])
        attrs.update(effusion_side=sides[0] if len(sides) == 1 else "bilateral",
                     effusion_volume_ml=round(sum(e["volume_ml"] for e in eff), 1))
    if p.emphysema:
        thin["emphysema"] = fx.add_emphysema(ph, rng, p.emphysema_type,
                                             p.emphysema_extent_percent)
        attrs["emphysema_type"] = p.emphysema_type
    if p.covid:
        thin.update(fx.add_covid(ph, rng, p.covid_pattern, p.covid_distribution,
                                 p.covid_extent_percent))
        attrs.update(covid_pattern=p.covid_pattern, covid_distribution=p.covid_distribution,
                     covid_extent_percent_requested=float(p.covid_extent_percent))
    nodules = fx.add_nodules(ph, rng, p.nodule_type, p.nodule_diameter_mm,
                             p.nodule_count) if p.nodule else []
    return ph, thin, nodules, attrs


@register_preset("lung_ct", params=LungCtParams, base_format="nifti")
def lung_ct(params: LungCtParams, rng: np.random.Generator) -> Sample:
    """Chest CT volume in HU of a procedural thorax, with lung, lobe, airway, vessel, heart,
    aorta, bone masks and COVID-19, nodule, emphysema and effusion findings.

    Anatomy from :func:`synthmed.phantoms.thorax3d.thorax3d` (airway and vessel trees grown
    into five lobes, fissures, mediastinum, skeleton), findings from
    :mod:`synthmed.phantoms.lung_findings3d`, acquisition by
    :func:`synthmed.physics.ct.scan_volume` (filtered back-projection, Poisson noise from
    the mAs). Image: float32 HU, ``(z, y, x)`` in LPS order.
    """
    p = params
    ph, thin, nodules, attrs = lung_ct_phantom(p, rng)
    ct, _ = scan_volume(ph.compose(), ph.grid.spacing, slice_thickness_mm=p.slice_thickness_mm,
                        kvp=p.kvp, mas=p.mas, kernel=p.kernel,
                        n_views=int(round(1.5 * max(p.image_size))), rng=rng)
    masks = ph.masks()
    lung = masks["lung_right"] | masks["lung_left"]
    masks.update({name: ph.output_mask(m) for name, m in thin.items()})
    if p.covid:
        attrs.update(_covid_attributes(masks, lung))
    if p.emphysema:
        attrs["emphysema_extent_percent"] = round(100 * float(masks["emphysema"].sum()) /
                                                  max(float(lung.sum()), 1.0), 2)
    instances, boxes, inst_classes = _nodule_labels(ph, nodules, masks, attrs, p)
    attrs["lung_volume_ml"] = round(float(lung.sum() * np.prod(_spacing(ph, p)) / 1000), 1)
    masks = {k: v for k, v in masks.items() if v.any()}
    classes = {"covid": p.covid, "nodule": bool(nodules), "emphysema": p.emphysema,
               "effusion": p.effusion}
    labels = Labels(masks=masks, label_table=dict(LABEL_TABLE), instances=instances,
                    instance_classes=inst_classes, boxes=boxes, classes=classes,
                    attributes=attrs)
    return Sample(images={"ct": ct.astype(np.float32)}, spacing_mm=_spacing(ph, p),
                  modality="CT", units={"ct": "HU"}, labels=labels,
                  report=lung_ct_report(classes, attrs))


def _spacing(ph, p: LungCtParams) -> tuple[float, float, float]:
    return (float(p.slice_thickness_mm), float(ph.grid.spacing[1]), float(ph.grid.spacing[2]))


def _nodule_labels(ph, nodules: list[dict], masks: dict, attrs: dict, p: LungCtParams):
    """Instance map, 3D boxes and per-nodule attributes (measured diameter: the diameter
    of the sphere with the output mask's volume)."""
    if not nodules:
        return None, [], {}
    instances = np.zeros(masks["lung_right"].shape, np.int32)
    boxes, classes = [], {}
    voxel_mm3 = float(np.prod(_spacing(ph, p)))
    union = np.zeros_like(instances, dtype=bool)
    for k, nod in enumerate(nodules, start=1):
        m = ph.output_mask(nod["mask"])
        if not m.any():
            continue
        instances[m & (instances == 0)] = k
        union |= m
        classes[k] = "nodule"
        boxes.append(Box.from_mask("nodule", m, instance_id=k))
        measured = (6 * m.sum() * voxel_mm3 / np.pi) ** (1 / 3)
        attrs.update({f"nodule_{k}_type": nod["type"],
                      f"nodule_{k}_diameter_mm": nod["diameter_mm"],
                      f"nodule_{k}_measured_diameter_mm": round(float(measured), 2),
                      f"nodule_{k}_solid_component_mm": round(nod["solid_mm"], 2),
                      f"nodule_{k}_lobe": LOBE_CODES[nod["lobe"]],
                      f"nodule_{k}_lung_rads": nod["lung_rads"]})
    masks["nodule"] = union
    order = ["2", "3", "4A", "4B"]
    attrs["nodule_count"] = len(classes)
    attrs["lung_rads"] = max((n["lung_rads"] for n in nodules), key=order.index)
    return instances, boxes, classes
