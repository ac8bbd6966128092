"""Preset ``ultrasound``: physics-based B-mode images of the breast, the right upper abdomen
and the fetal head, with exact masks, BI-RADS descriptors and fetal biometry.

A scene (:mod:`synthmed.phantoms.us_scenes`) is a tissue model with acoustic properties;
:func:`synthmed.physics.us_scan.simulate_bmode` images it: random scatterers, a
depth-dependent pulse-echo PSF, attenuation, reflection and refraction at interfaces,
TGC, Hilbert envelope, log compression and scan conversion. Shadowing, enhancement, bright
interfaces and speckle follow from the physics; the masks are the same model sampled at
the pixel centres, so they align with the image exactly. The stream is split into
anatomy, lesion and acquisition streams: changing the lesion keeps the breast, changing
gain, dynamic range or TGC keeps even the speckle.

Example
-------
>>> import numpy as np
>>> from synthmed.presets.ultrasound import UltrasoundParams, ultrasound
>>> s = ultrasound(UltrasoundParams(image_size=(128, 128), lesion="cyst"),
...                np.random.default_rng(0))
>>> s.modality, s.units["us"], s.labels.attributes["birads"], s.labels.classes["cyst"]
('US', '1', 2, True)
"""

from __future__ import annotations

from math import erf, sqrt
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import ndimage

from synthmed.phantoms.us_breast import birads_assessment, posterior_features
from synthmed.phantoms.us_scenes import SCENES, ellipse_perimeter, intergrowth_head
from synthmed.physics.us_scan import PROBES, simulate_bmode
from synthmed.presets._params import ImageSize
from synthmed.registry import register_preset
from synthmed.sample import Box, Labels, Sample

__all__ = ["UltrasoundParams", "ultrasound", "ultrasound_report", "LABEL_TABLE",
           "SCENE_DEFAULTS"]

#: Stable ids for every structure of every scene.
LABEL_TABLE = {name: i for i, name in enumerate((
    "skin", "subcutaneous_fat", "coopers_ligaments", "fibroglandular_tissue",
    "pectoralis_muscle", "rib", "lung", "lesion", "echogenic_halo", "calcifications",
    "abdominal_wall_muscle", "liver", "hepatic_vessels", "diaphragm", "kidney", "renal_cortex",
    "renal_medulla", "renal_sinus", "perirenal_fat", "bowel_gas", "uterine_wall", "placenta",
    "amniotic_fluid", "skull", "head", "brain", "midline_falx", "cavum_septi_pellucidi",
    "thalami", "lateral_ventricles", "choroid_plexus"), start=1)}

#: Per scene: probe, centre frequency (MHz), spatial compounding frames and gain (dB)
#: when not given.
SCENE_DEFAULTS = {"breast": ("linear", 10.0, 3, 6.0), "abdomen": ("curvilinear", 3.5, 1, 0.0),
                  "fetal_head": ("curvilinear", 4.0, 1, 4.0)}


class UltrasoundParams(BaseModel):
    """Parameters of ``ultrasound``; acquisition settings left ``None`` follow the scene."""

    model_config = ConfigDict(extra="forbid")

    image_size: ImageSize(1024) = Field((256, 256), description="Image (rows, cols) in "
                                        "pixels, each 64..1024; square pixels, the whole "
                                        "field of view is shown")
    scene: Literal["breast", "abdomen", "fetal_head"] = Field(
        "breast", description="'breast' (linear probe, with a lesion), 'abdomen' (liver and "
        "right kidney, sagittal) or 'fetal_head' (transthalamic plane)")
    lesion: Literal["none", "cyst", "benign", "malignant"] | None = Field(
        None, description="Breast lesion: simple cyst (BI-RADS 2), benign fibroadenoma-like "
        "mass (3) or malignant carcinoma-like mass (4-5); None = 'benign' for the breast. "
        "Breast scene only")
    lesion_size_mm: float | None = Field(None, ge=3, le=30, description="Nominal lesion width "
                                         "in mm before margin features (None: drawn per kind)")
    gestational_age_weeks: float = Field(24.0, ge=14, le=40, description="Gestational age in "
                                         "weeks (fetal_head: INTERGROWTH-21st head size)")
    steatosis_grade: int = Field(0, ge=0, le=3, description="Hepatic steatosis grade 0-3 "
                                 "(abdomen: brighter, more attenuating liver)")
    probe: Literal["linear", "curvilinear"] | None = Field(
        None, description="Linear array (40 mm, rectangular image) or curvilinear array "
        "(50 mm radius, 70 degree sector); None: linear for breast, curvilinear otherwise")
    frequency_mhz: float | None = Field(None, ge=2, le=15, description="Pulse centre "
                                        "frequency in MHz (None: 10 breast, 3.5 abdomen, "
                                        "4 fetal head)")
    fractional_bandwidth: float = Field(0.6, ge=0.3, le=1.0, description="-6 dB pulse-echo "
                                        "bandwidth as a fraction of the centre frequency")
    depth_mm: float | None = Field(None, ge=20, le=250, description="Imaging depth in mm "
                                   "(None: 40 breast, 160 abdomen, below the head for fetal)")
    focus_mm: float | None = Field(None, ge=5, le=250, description="Transmit focal depth in "
                                   "mm (None: at the lesion, kidney or fetal head)")
    dynamic_range_db: float = Field(60.0, ge=30, le=90, description="Log-compression "
                                    "dynamic range in dB (black to white)")
    gain_db: float | None = Field(None, ge=-30, le=30, description="Overall receive gain in "
                                  "dB (None: +6 breast, 0 abdomen, +4 fetal head)")
    tgc: bool = Field(True, description="Time-gain compensation of the median soft-tissue "
                      "attenuation with depth")
    compounding: int | None = Field(None, ge=1, le=5, description="Spatial compounding: "
                                    "frames steered 10 degrees apart and averaged (linear "
                                    "probe only; None: 3 for linear, 1 for curvilinear)")

    @model_validator(mode="after")
    def _consistent(self):
        if self.lesion is not None and self.scene != "breast":
            raise ValueError(f"lesion={self.lesion!r} applies to scene='breast' only (scene is "
                             f"{self.scene!r}); leave lesion unset")
        if self.steatosis_grade and self.scene != "abdomen":
            raise ValueError("steatosis_grade applies to scene='abdomen' only; leave it 0")
        if (self.compounding or 1) > 1 and self.resolved()[0] != "linear":
            raise ValueError("compounding > 1 needs probe='linear' (steered linear frames)")
        if self.focus_mm is not None and self.depth_mm is not None and \
                self.focus_mm > self.depth_mm:
            raise ValueError(f"focus_mm ({self.focus_mm:g}) must not exceed depth_mm "
                             f"({self.depth_mm:g})")
        return self

    def resolved(self) -> tuple[str, float, int, float]:
        """``(probe, frequency_mhz, compounding, gain_db)`` with the scene defaults filled in."""
        probe, f0, comp, gain = SCENE_DEFAULTS[self.scene]
        probe = self.probe or probe
        comp = self.compounding or (comp if probe == "linear" else 1)
        gain = gain if self.gain_db is None else self.gain_db
        return probe, float(self.frequency_mhz or f0), int(comp), float(gain)


def _head_circumference(mask: np.ndarray, spacing_mm: float) -> float:
    """Perimeter (mm) of the ellipse with the head mask's second moments (Ramanujan).

    A uniform ellipse with semi-axes a, b has coordinate variances a^2/4 and b^2/4 along
    its axes; 1/12 px^2 is removed for the pixel grid.
    """
    r, c = np.nonzero(mask)
    cov = np.cov(np.vstack([r, c]).astype(np.float64))
    lam = np.clip(np.linalg.eigvalsh(cov) - 1.0 / 12.0, 0, None)
    b, a = 2.0 * np.sqrt(lam) * spacing_mm
    return ellipse_perimeter(a, b)


def _normal_centile(z: float) -> float:
    return 50.0 * (1.0 + erf(z / sqrt(2.0)))


@register_preset("ultrasound", params=UltrasoundParams)
def ultrasound(params: UltrasoundParams, rng: np.random.Generator) -> Sample:
    """B-mode ultrasound (breast with BI-RADS lesions, liver and kidney, fetal head) from
    scatterer physics, with exact masks, boxes, landmarks and biometry.

    Scenes (:mod:`synthmed.phantoms.us_scenes`) are tissue models; the physics
    (:mod:`synthmed.physics.ultrasound`, :mod:`synthmed.physics.us_scan`) adds speckle,
    a focused beam, attenuation with TGC, shadowing, enhancement, specular interfaces,
    mirror images beyond air and, on the linear probe, spatial compounding. Image ``us``:
    float32 in [0, 1] (display grey level, log-compressed); ``spacing_mm`` is the square
    pixel size of the scan-converted image; outside the field of view is 0 with no masks.
    """
    p = params
    probe_name, f0, compounding, gain = p.resolved()
    probe = PROBES[probe_name]
    anatomy_rng, lesion_rng, acq_rng = rng.spawn(3)
    radius = probe.radius_mm if probe.kind == "curvilinear" else 0.0
    if p.scene == "breast":
        scene = SCENES["breast"](anatomy_rng, lesion_rng, lesion=p.lesion or "benign",
                                 lesion_size_mm=p.lesion_size_mm, contact_radius_mm=radius)
    elif p.scene == "abdomen":
        scene = SCENES["abdomen"](anatomy_rng, steatosis_grade=p.steatosis_grade,
                                  contact_radius_mm=radius)
    else:
        scene = SCENES["fetal_head"](anatomy_rng, p.gestational_age_weeks,
                                     contact_radius_mm=radius,
                                     sector_deg=probe.sector_deg if radius else 0.0)
    depth = float(p.depth_mm or scene.depth_mm)
    focus = float(np.clip(p.focus_mm or scene.focus_mm, 5.0, depth))
    bm = simulate_bmode(scene.labels_at, scene.tissues, echo_at=scene.echo_at, probe=probe,
                        frequency_mhz=f0, depth_mm=depth, focus_mm=focus,
                        image_size=tuple(p.image_size), rng=acq_rng,
                        fractional_bandwidth=p.fractional_bandwidth,
                        dynamic_range_db=p.dynamic_range_db, gain_db=gain, tgc=p.tgc,
                        compounding=compounding)
    grid = bm.grid
    lab = scene.labels_at(*grid.centres())
    masks = {}
    for name, regions in scene.structures.items():
        m = np.isin(lab, scene.region_ids(regions)) & bm.inside
        if m.any():
            masks[name] = m
    boxes = [Box.from_mask(n, masks[n]) for n in scene.boxes if n in masks]
    landmarks = {n: tuple(float(v) for v in grid.to_index(x, z))
                 for n, (x, z) in scene.landmarks_mm.items()}
    attrs = {"scene": p.scene, "probe": probe_name, "frequency_mhz": f0, "depth_mm": depth,
             "focus_mm": focus, "dynamic_range_db": float(p.dynamic_range_db),
             "gain_db": gain, "tgc": bool(p.tgc), "compounding": compounding,
             **{k: (float(v) if isinstance(v, (float, np.floating)) else v)
                for k, v in scene.attributes.items()}}
    classes: dict[str, bool] = {}
    if p.scene == "breast":
        attrs["posterior_features"], attrs["posterior_change_db"] = posterior_features(attrs, f0)
        attrs["birads"], attrs["birads_category"], attrs["suspicious_features"] = \
            birads_assessment(attrs)
        kind = attrs["lesion_type"]
        classes = {k: kind == k for k in ("cyst", "benign", "malignant")}
    elif p.scene == "abdomen":
        classes = {"steatosis": p.steatosis_grade > 0}
    elif "head" in masks:
        edge = ndimage.binary_dilation(~bm.inside) | np.pad(
            np.zeros((grid.shape[0] - 2, grid.shape[1] - 2), bool), 1, constant_values=True)
        attrs["head_in_view"] = not (masks["head"] & edge).any()
        if attrs["head_in_view"]:          # HC measured on the image only when all of it shows
            attrs["head_circumference_mm"] = _head_circumference(masks["head"], grid.spacing_mm)
            hc_mean, hc_sd = intergrowth_head(p.gestational_age_weeks)["hc_mm"]
            attrs["head_circumference_centile"] = _normal_centile(
                (attrs["head_circumference_mm"] - hc_mean) / hc_sd)
    table = {n: LABEL_TABLE[n] for n in scene.structures}
    labels = Labels(masks=masks, label_table=table, boxes=boxes, classes=classes,
                    attributes=attrs, landmarks=landmarks)
    return Sample(images={"us": bm.image}, spacing_mm=(grid.spacing_mm, grid.spacing_mm),
                  modality="US", labels=labels, units={"us": "1"},
                  report=ultrasound_report(p.scene, classes, attrs))


_MARGIN_WORDS = {"circumscribed": "circumscribed margins", "indistinct": "indistinct margins",
                 "angular": "angular margins", "microlobulated": "microlobulated margins",
                 "spiculated": "spiculated margins"}
_BIRADS_WORDS = {
    "1": "BI-RADS 1: negative.", "2": "BI-RADS 2: benign.",
    "3": "BI-RADS 3: probably benign; short-interval (6-month) follow-up suggested.",
    "4A": "BI-RADS 4A: low suspicion for malignancy; tissue diagnosis recommended.",
    "4B": "BI-RADS 4B: moderate suspicion for malignancy; ultrasound-guided biopsy "
          "recommended.",
    "4C": "BI-RADS 4C: high suspicion for malignancy; ultrasound-guided biopsy recommended.",
    "5": "BI-RADS 5: highly suggestive of malignancy; ultrasound-guided biopsy recommended."}


def ultrasound_report(scene: str, classes: dict, attributes: dict) -> str:
    """FINDINGS / IMPRESSION text for an ultrasound image from its labels.

    >>> print(ultrasound_report("breast", {"cyst": True}, {"probe": "linear",
    ...     "frequency_mhz": 10.0, "lesion_type": "cyst", "lesion_shape": "oval",
    ...     "lesion_orientation": "parallel", "lesion_margin": "circumscribed",
    ...     "lesion_echo_pattern": "anechoic", "lesion_width_mm": 9.2,
    ...     "lesion_height_mm": 6.1, "lesion_depth_mm": 14.0,
    ...     "posterior_features": "enhancement", "lesion_boundary": "abrupt interface",
    ...     "calcifications": "none", "birads_category": "2"}))  # doctest: +NORMALIZE_WHITESPACE
    FINDINGS: Breast ultrasound, linear probe, 10 MHz. 9 x 6 mm oval, parallel, anechoic mass
    with circumscribed margins and posterior acoustic enhancement at 14 mm depth, in keeping
    with a simple cyst.
    IMPRESSION: Simple cyst. BI-RADS 2: benign.
    """
    a = attributes
    tech = f"{a.get('probe', 'linear')} probe, {float(a.get('frequency_mhz', 0)):g} MHz."
    if scene == "breast":
        f = ["Breast ultrasound, " + tech]
        kind = a.get("lesion_type", "none")
        cat = str(a.get("birads_category", "1"))
        if kind == "none":
            f.append("Normal fibroglandular and fatty tissue; no solid or cystic mass.")
            return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + _BIRADS_WORDS["1"]
        post = a.get("posterior_features", "no posterior features")
        post = {"enhancement": "posterior acoustic enhancement",
                "shadowing": "posterior acoustic shadowing"}.get(post, "no posterior features")
        extra = []
        if a.get("lesion_boundary") == "echogenic halo":
            extra.append("an echogenic halo")
        if a.get("calcifications", "none") != "none":
            extra.append("internal calcifications")
        desc = (f"{float(a['lesion_width_mm']):.0f} x {float(a['lesion_height_mm']):.0f} mm "
                f"{a['lesion_shape']}, {a['lesion_orientation']}, {a['lesion_echo_pattern']} "
                f"mass with {_MARGIN_WORDS[a['lesion_margin']]}"
                + "".join(f", {e}" for e in extra) + f" and {post} at "
                f"{float(a['lesion_depth_mm']):.0f} mm depth")
        if kind == "cyst":
            f.append(desc + ", in keeping with a simple cyst.")
            imp = "Simple cyst. " + _BIRADS_WORDS[cat]
        elif kind == "benign":
            f.append(desc + ", probably a fibroadenoma.")
            imp = "Probably benign solid mass. " + _BIRADS_WORDS[cat]
        else:
            f.append(desc + ".")
            imp = "Suspicious solid mass. " + _BIRADS_WORDS[cat]
        return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + imp
    if scene == "abdomen":
        grade = int(a.get("steatosis_grade", 0))
        liver = ("Normal liver echogenicity and echotexture" if grade == 0 else
                 f"{('Mildly', 'Moderately', 'Markedly')[grade - 1]} increased liver "
                 "echogenicity relative to the renal cortex" + (" with posterior beam "
                                                                "attenuation" if grade > 1 else ""))
        f = [f"Right upper quadrant ultrasound, sagittal, {tech}", liver + "; no focal lesion.",
             f"The right kidney measures {float(a.get('kidney_length_mm', 0)):.0f} mm in length, "
             "with preserved corticomedullary differentiation and no hydronephrosis."]
        imp = ("No abnormality." if grade == 0 else
               f"Hepatic steatosis, {('mild', 'moderate', 'severe')[grade - 1]} (grade {grade}).")
        return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + imp
    ga = float(a.get("gestational_age_weeks", 0))
    weeks, days = int(ga), int(round((ga - int(ga)) * 7)) % 7
    hc = float(a.get("head_circumference_mm", a.get("head_circumference_ellipse_mm", 0)))
    f = [f"Fetal head, transthalamic plane, {tech}",
         f"BPD {float(a.get('bpd_mm', 0)):.1f} mm, OFD {float(a.get('ofd_mm', 0)):.1f} mm, "
         f"HC {hc:.0f} mm, cephalic index {float(a.get('cephalic_index', 0)):.2f}.",
         "Midline echo, cavum septi pellucidi and thalami visualised; lateral ventricle atrium "
         f"{float(a.get('atrial_width_mm', 0)):.1f} mm."]
    centile = a.get("head_circumference_centile")
    imp = (f"Head biometry at {weeks}+{days} weeks" + (f": HC on the {float(centile):.0f}th "
           "centile (INTERGROWTH-21st)." if centile is not None else ".")
           + " Normal intracranial anatomy in this plane.")
    return "FINDINGS: " + " ".join(f) + "\nIMPRESSION: " + imp
