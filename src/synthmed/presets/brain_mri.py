"""Preset ``brain_mri``: multi-contrast brain MRI with exactly paired CT and FDG PET-like
volumes, tumour labels in BraTS convention, MS lesions and strokes.

The truth is one subject's tissue map (:func:`synthmed.phantoms.brain.brain_phantom`: the
MNI ICBM152 2009a template, randomly deformed, aged, with procedural skull, scalp and
sinuses) with pathology from :mod:`synthmed.phantoms.brain_lesions`. Every image is made
from the same map on the same grid, so a voxel's label holds for every contrast and
modality:

- MRI (:mod:`synthmed.physics.mri`): relaxation times and proton density per tissue at 1.5
  or 3 T, signal equations of each sequence (TR/TE/TI/flip of :func:`~synthmed.physics.mri.
  protocol`), gadolinium T1 shortening for ``t1c``, then k-space: resolution and Gibbs
  ringing, partial Fourier, undersampling, motion ghosts, bias field, Rician noise at the
  requested SNR. ``"random"`` is a SynthSeg-style domain-randomised contrast.
- CT (:func:`synthmed.physics.ct.scan_volume`): CT numbers per tissue
  (:mod:`synthmed.physics.ct_tissue`), projected and reconstructed by filtered
  back-projection with Poisson noise from the mAs.
- PET-like (:mod:`synthmed.physics.pet`): FDG uptake per tissue (SUV), PSF blur,
  Poisson counts, post-filter.

Grid: the truth is simulated on a finer grid than the image: ``oversampling``² pixels
in-plane and ``n_sub`` thin sub-slices per slice (at most 1.5 mm apart).
MR signal is averaged over the slice profile and band-limited to the image matrix (an ideal
acquisition: partial volume, Gibbs ringing), CT and PET average their fine voxels. A
voxel's tissue label is the most frequent one among its fine voxels. Slice gaps are whole
sub-slices.

Axes: ``(z, y, x)`` in DICOM's LPS frame (column 0 the patient's right, row 0 anterior,
slice 0 inferior), axial slices; the NIfTI export writes the matching RAS affine.

Label ids (``LABEL_TABLE``) begin with BraTS 2023's: necrotic core 1, oedema 2,
enhancing tumour 3.

Example
-------
>>> import numpy as np
>>> from synthmed.presets.brain_mri import BrainMriParams, brain_mri
>>> p = BrainMriParams(image_size=(48, 48), slice_thickness_mm=5.0, contrasts=["t1", "flair"],
...                    paired_ct=False, paired_pet=False)
>>> s = brain_mri(p, np.random.default_rng(0))
>>> sorted(s.images), s.modality, s.spacing_mm
(['flair', 't1'], 'MR', (5.0, 5.0, 5.0))
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthmed.phantoms import brain_lesions as lesions
from synthmed.phantoms.brain import TEMPLATE_LICENCE, TISSUES, brain_phantom
from synthmed.physics import mri
from synthmed.physics.ct import scan_volume
from synthmed.physics.ct_tissue import hu_map
from synthmed.physics.pet import fdg_suv, pet_acquire
from synthmed.presets._params import ImageSize
from synthmed.presets._reports import brain_mri_report
from synthmed.registry import register_preset
from synthmed.sample import Box, Labels, Sample

__all__ = ["BrainMriParams", "brain_mri", "LABEL_TABLE", "CONTRASTS"]

CONTRASTS = ("t1", "t1c", "t2", "flair", "pd", "t2star", "random")
PATHOLOGIES = ("none", "glioma", "metastases", "ms", "stroke")
NAMES = [name for name, _ in sorted(TISSUES.items(), key=lambda kv: kv[1])]

# Structure masks made from the tissue map: label name -> tissue names it covers.
STRUCTURES = {
    "scalp": ("scalp", "fat"), "skull": ("skull", "diploe"), "csf": ("csf",),
    "grey_matter": ("grey_matter",), "white_matter": ("white_matter",),
    "ventricles": ("ventricles",), "deep_grey": ("deep_grey",), "cerebellum": ("cerebellum",),
    "brainstem": ("brainstem",), "vessels": ("vessels",),
    "necrotic_core": ("necrosis",), "edema": ("oedema",),
    "enhancing_tumor": ("enhancing_tumour",), "ms_lesion": ("ms_lesion",),
    "infarct": ("infarct",),
}
_TUMOUR = ("necrosis", "oedema", "enhancing_tumour")
_BRAIN = ("csf", "grey_matter", "white_matter", "ventricles", "deep_grey", "cerebellum",
          "brainstem", "vessels", *_TUMOUR, "ms_lesion", "infarct")

LABEL_TABLE = {name: k + 1 for k, name in enumerate((
    "necrotic_core", "edema", "enhancing_tumor",          # BraTS 2023 ids 1, 2, 3
    "tumor_core", "whole_tumor", "ms_lesion", "infarct", "brain", "scalp", "skull", "csf",
    "grey_matter", "white_matter", "ventricles", "deep_grey", "cerebellum", "brainstem",
    "vessels", "metastasis"))}

_UNITS = {"ct": "HU", "pet": "SUV"}


class BrainMriParams(BaseModel):
    """Parameters of the ``brain_mri`` preset (all optional; out-of-range values fail)."""

    model_config = ConfigDict(extra="forbid")

    image_size: ImageSize(512, low=32) = Field(
        (160, 160), description="In-plane matrix (rows = anterior-posterior, cols = "
        "right-left) in pixels, each 32..512, over the square field of view fov_mm")
    fov_mm: float = Field(240.0, ge=180, le=320, description="In-plane field of view in mm")
    slice_thickness_mm: float | None = Field(
        None, ge=0.5, le=10.0, description="Axial slice thickness in mm; default: the "
        "in-plane pixel size (isotropic voxels)")
    slice_gap_mm: float = Field(0.0, ge=0, le=10.0, description="Gap between slices in mm "
                                "(rounded to whole sub-slices of the slice profile)")
    coverage_mm: float = Field(200.0, ge=20, le=240, description="Head coverage from the "
                               "skull base to the vertex in mm (sets the number of slices)")
    contrasts: list[Literal[CONTRASTS]] = Field(
        ["t1", "t1c", "t2", "flair"], min_length=1, description="MR images to make: t1, t1c "
        "(after gadolinium), t2, flair, pd, t2star and random (SynthSeg-style random "
        "contrast per tissue, for contrast-agnostic training)")
    field_strength_t: Literal[1.5, 3.0] = Field(3.0, description="Main field in tesla "
                                                "(relaxation times and protocols)")
    snr: float | None = Field(30.0, ge=3, le=1000, description="Signal-to-noise ratio of "
                              "brain tissue (Rician noise); null: noiseless")
    oversampling: int = Field(2, ge=1, le=3, description="The truth is simulated on an "
                              "in-plane grid this many times finer than the image (partial "
                              "volume; band-limiting to the image matrix rings at edges)")
    acquired_resolution_mm: float | None = Field(
        None, ge=0.5, le=6.0, description="Acquired in-plane and through-plane resolution "
        "in mm (k-space truncation, Gibbs ringing; zero-filled back to the voxel grid); "
        "default: the voxel size")
    partial_fourier: float = Field(1.0, gt=0.5, le=1.0, description="Fraction of "
                                   "phase-encode lines acquired (zero-filled)")
    acceleration: int = Field(1, ge=1, le=6, description="Undersampling factor along the "
                              "phase-encode direction (zero-filled, aliasing)")
    motion: float = Field(0.0, ge=0, le=3, description="Peak periodic head displacement "
                          "during the scan in mm (ghosts along the phase axis); 0: none")
    bias_field: float = Field(0.2, ge=0, le=1, description="Receive-coil intensity "
                              "non-uniformity, peak-to-peak fraction")
    age_years: float = Field(45.0, ge=18, le=95, description="Age in years (atrophy: brain "
                             "volume, ventricles, sulci)")
    deformation_mm: float = Field(3.0, ge=0, le=8, description="Typical size of the "
                                  "random smooth deformation of the template, mm")
    pathology: Literal[PATHOLOGIES] = Field("glioma", description="none, glioma (BraTS "
                                            "labels), metastases, ms (white-matter "
                                            "lesions) or stroke")
    tumour_radius_mm: float = Field(25.0, ge=8, le=40, description="Glioma radius in mm "
                                    "(enhancing rim included, oedema beyond)")
    tumour_enhancing: bool = Field(True, description="High-grade glioma with necrosis and "
                                   "an enhancing rim; false: non-enhancing (low-grade)")
    tumour_location: Literal["random", "frontal", "temporal", "parietal", "occipital"] = \
        Field("random", description="Lobe of the glioma")
    lesion_count: int = Field(3, ge=1, le=40, description="Number of metastases or MS "
                              "lesions")
    stroke_territory: Literal["MCA", "ACA", "PCA"] = Field("MCA", description="Arterial "
                                                           "territory of the infarct")
    stroke_stage: Literal["acute", "chronic"] = Field("acute", description="Infarct age")
    side: Literal["random", "left", "right"] = Field("random", description="Hemisphere of "
                                                     "the glioma or stroke")
    paired_ct: bool = Field(True, description="Also make the subject's head CT (HU)")
    ct_mas: float = Field(250.0, ge=20, le=500, description="CT tube current-time product, "
                          "mAs (noise)")
    ct_kernel: Literal["soft", "standard", "sharp"] = Field("soft", description="CT "
                                                            "reconstruction kernel")
    paired_pet: bool = Field(True, description="Also make an FDG PET-like volume (SUV)")
    pet_fwhm_mm: float = Field(5.0, ge=0, le=12, description="PET point-spread function "
                               "FWHM in mm")

    @model_validator(mode="after")
    def _distinct_contrasts(self):
        if len(set(self.contrasts)) != len(self.contrasts):
            raise ValueError(f"contrasts must not repeat, got {self.contrasts}")
        return self


def _grid(p: BrainMriParams) -> tuple[int, int, int, tuple[float, float, float]]:
    """``(n_slices, n_sub, step, fine spacing (dz, dy, dx))`` of the simulated truth: each
    output slice is ``n_sub`` thin slices (``step`` apart with the gap), each output pixel
    ``oversampling``² fine pixels."""
    dy, dx = (p.fov_mm / n for n in p.image_size)
    thickness = p.slice_thickness_mm or dy
    n_sub = int(np.ceil(thickness / 1.5 - 1e-9))
    dz = thickness / n_sub
    step = n_sub + int(round(p.slice_gap_mm / dz))
    n_slices = max(1, int(round(p.coverage_mm / (step * dz))))
    return n_slices, n_sub, step, (dz, dy / p.oversampling, dx / p.oversampling)


class _Blocks:
    """The fine voxels that make each output voxel: ``n_sub`` thin slices (``step`` apart
    with the gap) times ``factor`` x ``factor`` fine pixels."""

    def __init__(self, n_slices: int, n_sub: int, step: int, factor: int):
        self.slices = np.arange(n_slices)[:, None] * step + np.arange(n_sub)[None, :]
        self.step, self.factor = step, factor

    def _split(self, volume: np.ndarray) -> np.ndarray:       # (n, n_sub, Y, f, X, f)
        n, k = self.slices.shape
        f = self.factor
        v = volume[self.slices]
        return v.reshape(n, k, v.shape[2] // f, f, v.shape[3] // f, f)

    def slabs(self, volume: np.ndarray) -> np.ndarray:
        """Mean over each output slice's thin slices (in-plane grid kept), float32."""
        return mri.slice_profile(volume[:self.slices[-1, -1] + 1], self.slices.shape[1],
                                 step=self.step)

    def mean(self, volume: np.ndarray) -> np.ndarray:
        """Mean over each output voxel's fine voxels, float32."""
        return self._split(volume).mean(axis=(1, 3, 5), dtype=np.float32)

    def mode(self, labels: np.ndarray) -> np.ndarray:
        """Most frequent label among each output voxel's fine voxels (ties: lower id)."""
        block = self._split(labels)
        n, k, rows, f, cols, _ = block.shape
        block = block.transpose(0, 2, 4, 1, 3, 5).reshape(n, rows, cols, k * f * f)
        out = block[..., 0].copy()
        mixed = (block != out[..., None]).any(axis=-1)         # the rest are uniform
        votes = block[mixed]
        values = np.unique(votes)
        counts = np.stack([(votes == v).sum(axis=-1) for v in values])
        out[mixed] = values[np.argmax(counts, axis=0)]
        return out


def _add_pathology(ph, p: BrainMriParams, rng: np.random.Generator) -> list[dict]:
    side = p.side if p.side != "random" else str(rng.choice(["left", "right"]))
    if p.pathology == "glioma":
        location = None if p.tumour_location == "random" else p.tumour_location
        return [lesions.add_glioma(ph, rng, radius_mm=p.tumour_radius_mm, location=location,
                                   enhancing=p.tumour_enhancing, side=side)]
    if p.pathology == "metastases":
        return lesions.add_metastases(ph, rng, count=p.lesion_count)
    if p.pathology == "ms":
        return lesions.add_ms_lesions(ph, rng, count=p.lesion_count)
    if p.pathology == "stroke":
        return [lesions.add_stroke(ph, rng, territory=p.stroke_territory, side=side,
                                   stage=p.stroke_stage)]
    return []


def _mr_images(tissue: np.ndarray, p: BrainMriParams, fine, blocks: _Blocks, spacing,
               streams) -> tuple[dict[str, np.ndarray], dict]:
    """Each requested MR contrast on the output grid, and its protocol attributes: the
    signal of the fine truth, averaged over the slice profile, band-limited to the output
    matrix (:func:`~synthmed.physics.mri.fourier_downsample`), then acquired."""
    texture, *contrast_rngs = streams

    def maps(gadolinium: bool):       # the same tissue texture with and without contrast
        return mri.relaxation_maps(tissue, NAMES, p.field_strength_t, gadolinium=gadolinium,
                                   spacing_mm=fine,
                                   rng=np.random.default_rng(texture.bit_generator.seed_seq))

    plain = maps(False) if set(p.contrasts) - {"t1c", "random"} else None
    images, attrs = {}, {}
    for name, rng in zip(CONTRASTS, contrast_rngs):
        if name not in p.contrasts:
            continue
        if name == "random":
            signal = mri.random_contrast(tissue, rng, spacing_mm=fine)
        else:
            seq = mri.protocol(name, p.field_strength_t)
            signal = mri.synthesize(maps(True) if name == "t1c" else plain, seq)
            attrs.update({f"{name}_{k}": "\\".join(v) if isinstance(v, list) else v
                          for k, v in seq.attributes().items()})
        ideal = mri.fourier_downsample(blocks.slabs(signal), p.oversampling)
        resolution = p.acquired_resolution_mm
        images[name] = mri.acquire(
            np.maximum(ideal, 0), spacing, rng, snr=p.snr if name != "random" else None,
            resolution_mm=None if resolution is None else (resolution,) * 3,
            partial_fourier=p.partial_fourier, acceleration=p.acceleration,
            motion=p.motion, bias_field=p.bias_field if name != "random" else 0.0)
    return images, attrs


@register_preset("brain_mri", params=BrainMriParams, sources=TEMPLATE_LICENCE,
                 base_format="nifti")
def brain_mri(params: BrainMriParams, rng: np.random.Generator) -> Sample:
    """Brain MRI (T1, T1c, T2, FLAIR, PD, T2*, random contrast) of a deformed MNI152 subject
    with paired CT and FDG PET-like volumes, tissue masks and glioma (BraTS labels),
    metastases, MS lesions or stroke.

    Images share one grid and one tissue map; MR values are signal relative to fully
    relaxed water (``a.u.``), CT in HU, PET in SUV. Volumes ``(z, y, x)``, LPS order.
    """
    p = params
    n_slices, n_sub, step, fine = _grid(p)
    f = p.oversampling
    blocks = _Blocks(n_slices, n_sub, step, f)
    anatomy_rng, lesion_rng, acq_rng = rng.spawn(3)
    ph = brain_phantom(anatomy_rng, spacing_mm=fine,
                       shape=((n_slices - 1) * step + n_sub, p.image_size[0] * f,
                              p.image_size[1] * f),
                       age_years=p.age_years, deformation_mm=p.deformation_mm)
    found = _add_pathology(ph, p, lesion_rng)
    spacing = (step * fine[0], fine[1] * f, fine[2] * f)
    streams = acq_rng.spawn(len(CONTRASTS) + 3)
    images, attrs = _mr_images(ph.tissue, p, fine, blocks, spacing,
                               streams[:len(CONTRASTS) + 1])
    ct_rng, pet_rng = streams[-2:]
    if p.paired_ct:               # partial volume in-plane; scan_volume makes the slabs
        hu = hu_map(ph.tissue, NAMES)
        hu = hu.reshape(hu.shape[0], p.image_size[0], f, p.image_size[1], f).mean((2, 4))
        images["ct"], _ = scan_volume(hu, (fine[0], spacing[1], spacing[2]),
                                      slice_thickness_mm=n_sub * fine[0],
                                      slice_increment_mm=step * fine[0], kvp=120.0,
                                      mas=p.ct_mas, kernel=p.ct_kernel, rng=ct_rng,
                                      n_views=int(round(1.5 * max(p.image_size))))
    if p.paired_pet:
        images["pet"] = pet_acquire(blocks.mean(fdg_suv(ph.tissue, NAMES)), spacing, pet_rng,
                                    fwhm_mm=p.pet_fwhm_mm)
    tissue = blocks.mode(ph.tissue)
    instances = None if ph.instances is None else blocks.mode(ph.instances)
    labels = _labels(tissue, instances, found, p, spacing, {**ph.attributes, **attrs})
    return Sample(images={k: v.astype(np.float32, copy=False) for k, v in images.items()},
                  spacing_mm=spacing, modality="MR",
                  units={k: _UNITS.get(k, "a.u.") for k in images}, labels=labels,
                  report=brain_mri_report(labels.classes, labels.attributes))


def _labels(tissue, instances, found, p: BrainMriParams, spacing, attrs) -> Labels:
    ids = {name: TISSUES[name] for name in NAMES}

    def covers(names):
        return np.isin(tissue, [ids[n] for n in names])

    masks = {label: covers(names) for label, names in STRUCTURES.items()}
    masks["brain"] = covers(_BRAIN)
    masks["tumor_core"] = masks["necrotic_core"] | masks["enhancing_tumor"]
    masks["whole_tumor"] = covers(_TUMOUR)
    ml = float(np.prod(spacing)) / 1000.0
    thickness = p.slice_thickness_mm or spacing[1]
    attrs = {"slice_thickness_mm": float(thickness),
             "slice_gap_mm": round(float(spacing[0] - thickness), 4),
             "age_years": float(p.age_years), "field_strength_t": float(p.field_strength_t),
             "pathology": p.pathology, "snr": float(p.snr or 0.0), **attrs}
    if p.paired_ct:
        attrs.update(kvp=120.0, ct_mas=float(p.ct_mas), ct_kernel=p.ct_kernel)
    if p.paired_pet:
        attrs["pet_fwhm_mm"] = float(p.pet_fwhm_mm)
    for label in ("necrotic_core", "edema", "enhancing_tumor", "tumor_core", "whole_tumor",
                  "ms_lesion", "infarct"):
        if masks[label].any():
            attrs[f"{label}_volume_ml"] = round(float(masks[label].sum()) * ml, 2)
    boxes, classes_of = [], {}
    kind_label = {"glioma": "whole_tumor", "metastasis": "metastasis",
                  "ms_lesion": "ms_lesion", "infarct": "infarct"}
    for rec in found:
        k = int(rec["instance"])
        m = instances == k if instances is not None else None
        if m is None or not m.any():
            continue
        label = kind_label.get(rec["kind"], "whole_tumor")
        classes_of[k] = label
        boxes.append(Box.from_mask(label, m, instance_id=k))
        attrs.update({f"lesion_{k}_{key}": rec[key] for key in ("kind", "location",
                                                                  "radius_mm")
                      if key in rec})
    if p.pathology == "metastases" and classes_of:
        masks["metastasis"] = np.isin(instances, list(classes_of))
    attrs["lesion_count"] = len(classes_of)
    classes = {"glioma": p.pathology == "glioma", "metastases": p.pathology == "metastases",
               "ms": p.pathology == "ms", "stroke": p.pathology == "stroke"}
    return Labels(masks={k: v for k, v in masks.items() if v.any()},
                  label_table=dict(LABEL_TABLE), instances=instances,
                  instance_classes=classes_of, boxes=boxes, classes=classes,
                  attributes=attrs)
