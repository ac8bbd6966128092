"""A 3D head phantom (tissue label map) from the MNI ICBM152 2009a template, and random
subjects that differ in size, shape and age-related atrophy.

* The **atlas** (built once in ~15 s, cached in memory and as ``.npz`` under
  ``synthmed._io.cache_dir("brain")``): grey/white matter and CSF from the template's
  probability maps; ventricles (CSF components at seeds inside smooth priors); deep grey
  nuclei (grey-ish voxels in ellipsoids at the MNI coordinates of thalamus, caudate,
  putamen, pallidum); cerebellar cortex (grey matter below the tentorium, found as the CSF
  gap near a tent-shaped guess); brainstem (a tube from the midbrain to the cord). Around
  a smoothed brain hull (the template has no skull): CSF, skull tables and diploe (6.5 mm;
  9 at the occiput and skull base, 3.5 over the temporal squama), temporalis, fat and skin,
  closed at the vertex; below, a face/neck block with airways and sinuses, cervical spine
  and cord. Vessels: superior sagittal (triangular), straight, transverse and sigmoid
  sinuses, jugular veins; carotid, vertebral, basilar arteries, circle of Willis, M1, ACA
  and PCA trunks.
* :func:`brain_phantom` — a random subject: scale, rotation, smooth random displacement and
  atrophy with age (sulci widen, ventricles enlarge); its volumes in ``attributes``.

Axes: ``(z, y, x)`` in DICOM's LPS frame: column 0 is the patient's right, row 0 anterior,
slice 0 inferior. The template's index i runs to the patient's right (RAS), j anterior, k
superior, so it is read as ``template.transpose(2, 1, 0)[:, ::-1, ::-1]``.

>>> import numpy as np
>>> ph = brain_phantom(np.random.default_rng(0), spacing_mm=(6.0, 6.0, 6.0))
>>> ph.tissue.shape, 900 < ph.attributes["brain_volume_ml"] < 1700
((34, 40, 34), True)
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from synthmed._io import atomic_path, cache_dir
from synthmed.phantoms._shapes3d import Grid, curve_points, resample_linear, tube_coverage

__all__ = ["TISSUES", "TEMPLATE_NAME", "TEMPLATE_LICENCE", "FOV_MM", "PARENCHYMA",
           "BrainPhantom", "brain_phantom", "grid_shape", "structure_mask", "atrophy"]

TEMPLATE_NAME = "MNI ICBM152 2009a Nonlinear Symmetric (1 mm, nilearn)"
TEMPLATE_LICENCE = (
    "ICBM 2009a Nonlinear Symmetric template. Copyright (C) 1993-2009 Louis Collins, McConnell "
    "Brain Imaging Centre, Montreal Neurological Institute, McGill University. Permission to "
    "use, copy, modify, and distribute this software and its documentation for any purpose "
    "and without fee is hereby granted, provided that the above copyright notice appear in "
    "all copies. Cite: Fonov V, Evans AC, Botteron K, Almli CR, McKinstry RC, Collins DL. "
    "Unbiased average age-appropriate atlases for pediatric studies. NeuroImage "
    "2011;54(1):313-327; Fonov VS, Evans AC, McKinstry RC, Almli CR, Collins DL. Unbiased "
    "nonlinear average age-appropriate brain templates from birth to adulthood. NeuroImage "
    "2009;47(Suppl 1):S102.")
TISSUES: dict[str, int] = {
    "background": 0, "scalp": 1, "fat": 2, "skull": 3, "diploe": 4, "csf": 5,
    "grey_matter": 6, "white_matter": 7, "ventricles": 8, "deep_grey": 9, "cerebellum": 10,
    "brainstem": 11, "vessels": 12, "necrosis": 13, "oedema": 14, "enhancing_tumour": 15,
    "ms_lesion": 16, "infarct": 17}
FOV_MM = (200.0, 240.0, 200.0)          # (z, y, x): inferior-superior, AP, LR
PARENCHYMA = (6, 7, 9, 10, 11, 13, 14, 15, 16, 17)
_VERSION = "brain-atlas-v5"              # change it whenever the atlas changes
_PAD = 72                                # 1 mm slices added below the template (neck)
_ADULT_SCALE = 0.92     # the MNI152 average brain is ~9 % larger (linear) than a typical adult
_CTRL_N, _CTRL_MM = (9, 10, 9), 30.0     # displacement control points (z, y, x), spacing
_FILES = "datasets/data/mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"


def grid_shape(spacing_mm=(1.0, 1.0, 1.0), fov_mm=FOV_MM) -> tuple[int, int, int]:
    """Voxels ``(nz, ny, nx)`` covering ``fov_mm`` (mm, z/y/x) at ``spacing_mm`` (mm, z/y/x).

    >>> grid_shape((5.0, 1.0, 1.0))
    (40, 240, 200)
    """
    return tuple(int(np.ceil(f / s - 1e-6)) for f, s in zip(fov_mm, spacing_mm))


def atrophy(age_years: float) -> tuple[float, float]:
    """``(brain_loss, ventricle_factor)`` at ``age_years`` relative to the young-adult template:
    the fraction of parenchymal volume lost (0.2 %/yr after 35, 0.5 %/yr after 65) and the
    factor on ventricular volume (x1.27 at 45, x2.6 at 80).

    >>> [round(v, 2) for v in atrophy(80.0)]
    [0.14, 2.59]
    """
    a = float(age_years)
    loss = 0.002 * max(a - 35, 0) + 0.003 * max(a - 65, 0)
    return loss, float(np.exp(0.016 * max(a - 30, 0) + 0.010 * max(a - 65, 0)))


def structure_mask(tissue: np.ndarray, name: str) -> np.ndarray:
    """Boolean mask of a structure in a tissue map: a :data:`TISSUES` name, ``brain`` (all
    intracranial tissue and the cord: CSF, ventricles, parenchyma, lesions), ``parenchyma``,
    ``skull`` (tables and diploe), ``lesion`` (ids 13-17), ``tumour`` (13-15) or ``head``.

    >>> structure_mask(np.array([3, 4, 6, 0], np.uint8), "skull").tolist()
    [True, True, False, False]
    """
    groups = {"brain": (5, 8) + PARENCHYMA, "parenchyma": PARENCHYMA, "skull": (3, 4),
              "lesion": (13, 14, 15, 16, 17), "tumour": (13, 14, 15)}
    if name == "head":
        return tissue > 0
    if name in groups:
        return np.isin(tissue, groups[name])
    if name not in TISSUES:
        raise ValueError(f"unknown structure {name!r}; choose a TISSUES name or one of "
                         f"{', '.join(sorted(groups))}, head")
    return tissue == TISSUES[name]


def brain_phantom(rng: np.random.Generator, *, spacing_mm=(1.0, 1.0, 1.0), shape=None,
                  age_years: float = 45.0, deformation_mm: float = 3.0,
                  head_scale: float | None = None) -> BrainPhantom:
    """A random subject: the atlas under a random affine and smooth deformation, with
    atrophy for ``age_years``, sampled on a grid centred on the head.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness (the same state gives the same subject at any spacing).
    spacing_mm : (float, float, float)
        Voxel size ``(z, y, x)`` in mm; may be anisotropic (e.g. 5 mm slices).
    shape : (int, int, int), optional
        Grid ``(nz, ny, nx)`` centred on the head; default :func:`grid_shape` of :data:`FOV_MM`.
    age_years : float
        Age (years): the parenchyma lost by :func:`atrophy` comes from the cortex at the pial
        surface (sulci widen) and around the ventricles (they enlarge by the age factor times
        a subject factor ``exp(N(0, 0.2))``).
    deformation_mm : float
        RMS size (mm) of a smooth random displacement (cubic B-spline, knots 30 mm apart).
    head_scale : float, optional
        Linear head size relative to a typical adult (all axes); default random 0.92-1.08 per
        axis. Rotations are random, up to 4 degrees about each axis.

    Returns
    -------
    BrainPhantom
        ``attributes``: ``age_years``, ``scale_z/y/x`` (vs the template), ``rotation_*_deg``,
        volumes in ml: ``brain_volume_ml`` (parenchyma), ``grey_matter_ml`` (cortex, deep
        grey, cerebellar cortex), ``white_matter_ml``, ``ventricle_volume_ml``,
        ``csf_volume_ml`` (not ventricles), ``icv_ml`` (CSF, ventricles, parenchyma; with the
        cervical canal in view); ``brain_parenchymal_fraction``, ``template``.

    >>> a, b = (brain_phantom(np.random.default_rng(1), spacing_mm=(8.0, 8.0, 8.0))
    ...         for _ in range(2))
    >>> bool(np.array_equal(a.tissue, b.tissue))
    True
    """
    at = _atlas()
    spacing = tuple(float(v) for v in spacing_mm)
    shape = tuple(int(v) for v in (shape if shape is not None else grid_shape(spacing)))
    scale = np.full(3, float(head_scale)) if head_scale is not None else \
        rng.uniform(0.92, 1.08, 3)
    angles = rng.uniform(-4.0, 4.0, 3)
    ctrl = rng.standard_normal((3,) + _CTRL_N) * (deformation_mm / np.sqrt(3))
    ctrl = np.stack([ndimage.spline_filter(c, order=3, mode="nearest") for c in ctrl])
    loss, vent_factor = atrophy(age_years)
    vent_factor *= float(np.exp(0.2 * rng.standard_normal()))
    warp = {"centre": at["centre"], "matrix": _rotation(angles) / (_ADULT_SCALE * scale),
            "ctrl": ctrl, "shape": shape, "spacing": spacing}
    # thresholds (0.1 mm codes) of ventricular growth and cortical erosion for these volumes
    v0, edges = at["ventricles_ml"] * 1000, np.arange(256) - 127.0
    grow = float(np.interp(v0 * vent_factor, np.cumsum(at["vent_hist"]), edges))
    eroded = loss * at["parenchyma_ml"] * 1000 - v0 * (vent_factor - 1)
    above = np.cumsum(at["pial_hist"][::-1])[::-1]          # voxels with a code >= k - 128
    erode = float(np.interp(-eroded, -above, edges - 1)) if eroded > 0 else 127.0
    tissue = _sample(at, warp, grow, erode)
    ph = BrainPhantom(tissue=tissue, spacing_mm=spacing, transform=warp)
    ml = float(np.prod(spacing)) / 1000
    vol = {k: float(np.count_nonzero(ph.mask(k))) * ml
           for k in ("parenchyma", "brain", "ventricles", "csf", "white_matter")}
    ph.attributes = {
        "age_years": float(age_years),
        **{f"scale_{a}": float(s * _ADULT_SCALE) for a, s in zip("zyx", scale)},
        **{f"rotation_{a}_deg": float(v) for a, v in zip("zyx", angles)},
        "brain_volume_ml": vol["parenchyma"],
        "grey_matter_ml": float(np.isin(tissue, (6, 9, 10)).sum()) * ml,
        "white_matter_ml": vol["white_matter"], "ventricle_volume_ml": vol["ventricles"],
        "csf_volume_ml": vol["csf"], "icv_ml": vol["brain"],
        "brain_parenchymal_fraction": vol["parenchyma"] / max(vol["brain"], 1e-9),
        "template": TEMPLATE_NAME}
    return ph


# --------------------------------------------------------------------------- the atlas
def _ras(shape, z0):
    """RAS coordinates (mm, broadcastable) of the voxels of a 1 mm LPS-ordered array whose
    voxel (0, 0, 0) is at RAS (98, 98, z0)."""
    return (98.0 - np.arange(shape[2], dtype=np.float32)[None, None],
            98.0 - np.arange(shape[1], dtype=np.float32)[None, :, None],
            z0 + np.arange(shape[0], dtype=np.float32)[:, None, None])


def _ellipsoid(xyz, centre, axes, mirror=True):
    """Inside an axis-aligned ellipsoid (RAS mm), and its mirror image in x."""
    x, y, z = xyz
    out = False
    for sx in ((1, -1) if mirror else (1,)):
        out = out | (((x - sx * centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2
                     + ((z - centre[2]) / axes[2]) ** 2 <= 1)
    return out


def _smoothstep(a):
    a = np.clip(a, 0.0, 1.0)
    return a * a * (3 - 2 * a)


def _load_template() -> dict[str, np.ndarray]:
    """The template's t1, gm and wm maps (0..1) in LPS order ``(z, y, x)``."""
    import nibabel
    out = {}
    for name in ("t1", "gm", "wm"):
        with importlib.resources.as_file(importlib.resources.files("nilearn")
                                         / _FILES.format(name)) as path:
            img = nibabel.load(path)
            if not np.allclose(img.affine, [[1, 0, 0, -98], [0, 1, 0, -134],
                                            [0, 0, 1, -72], [0, 0, 0, 1]]):
                raise RuntimeError(f"{path}: unexpected affine; nilearn's template changed")
            data = np.asarray(img.dataobj, np.float32) / 255.0
        out[name] = np.ascontiguousarray(data.transpose(2, 1, 0)[:, ::-1, ::-1])
    return out


def _sd(mask: np.ndarray) -> np.ndarray:
    """Signed distance (mm, 1 mm voxels; negative inside) to the surface of ``mask``."""
    out = ndimage.distance_transform_edt(~mask).astype(np.float32) - 0.5
    out[mask] = 0.5 - ndimage.distance_transform_edt(mask)[mask]
    return out


def _seeded(comp: np.ndarray, seeds) -> np.ndarray:
    """Union of the labelled components within 3 voxels of the seeds (RAS mm, mirrored in
    x) of a template-shaped label array."""
    keep = set()
    for sx, sy, sz in seeds:
        for c in {int(round(98 - sx)), int(round(98 + sx))}:
            r, s = int(round(98 - sy)), int(round(sz + 72))
            win = comp[s - 3:s + 4, r - 3:r + 4, c - 3:c + 4]
            keep.update(int(v) for v in np.unique(win[win > 0]))
    return np.isin(comp, sorted(keep))


def _tentorium(tissue: np.ndarray) -> np.ndarray:
    """Height (RAS z, mm) of the tentorium over each (row, column) of the template: the
    lowest tissue density within -10..+8 mm of a tent-shaped guess, smoothed (sigma 3 mm)."""
    yy, xx = 98.0 - np.arange(tissue.shape[1]), np.abs(98.0 - np.arange(tissue.shape[2]))
    knots = [-110, -90, -75, -60, -45, -30, -15]
    guess = (np.interp(yy, knots, [-18, -12, -8, -5, -3, -3, -3])[:, None]
             - np.interp(yy, knots, [0.25, 0.25, 0.3, 0.45, 0.6, 0.7, 0.7])[:, None] * xx)
    best, z_gap = np.full(guess.shape, np.inf), guess.copy()
    rows, cols = np.ogrid[:guess.shape[0], :guess.shape[1]]
    for off in range(-10, 9):
        s = np.clip(np.rint(guess + off + 72).astype(int), 0, tissue.shape[0] - 1)
        v = tissue[s, rows, cols] + 0.004 * abs(off)
        better = v < best
        best[better], z_gap[better] = v[better], guess[better] + off
    return ndimage.gaussian_filter(z_gap, 3.0)[None].astype(np.float32)


_BRAINSTEM = np.array([  # z, y centre, x radius, y radius (RAS mm): medulla to midbrain
    [-75, -44, 8, 8], [-60, -41, 9, 9], [-45, -35, 11, 10], [-30, -27, 15, 13],
    [-18, -25, 15, 13], [-8, -24, 14, 13], [-3, -24, 12, 12]], np.float32)


def _brain_labels(t: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Tissue labels of the template (ids 0, 5-11) and its brain mask."""
    xyz = x, y, z = _ras(t["t1"].shape, -72.0)
    brain = ndimage.binary_fill_holes(t["t1"] > 0)
    gm, wm = t["gm"], t["wm"]
    csf = np.clip(1 - gm - wm, 0, 1) * brain
    lab = np.where(wm >= np.maximum(gm, csf), 7, np.where(gm >= csf, 6, 5)).astype(np.uint8)
    lab[~brain] = 0
    e = _ellipsoid                      # ventricles: lateral (C shape), third, fourth
    prior = (e(xyz, (12, 18, 12), (14, 22, 18)) | e(xyz, (16, -15, 20), (15, 25, 16))
             | e(xyz, (27, -42, 14), (14, 20, 16)) | e(xyz, (22, -70, 10), (10, 18, 10))
             | e(xyz, (32, -20, -15), (8, 22, 12)) | e(xyz, (0, -12, 2), (4.5, 17, 11), False)
             | e(xyz, (0, -46, -30), (12, 10, 13), False))
    comp, _ = ndimage.label(brain & (csf > 0.5) & prior)
    lab[_seeded(comp, [(13, -10, 20), (14, 14, 12), (0, -12, 2), (0, -45, -28)])] = 8
    nuclei = (e(xyz, (11.5, -19, 7), (8.5, 15, 10)) | e(xyz, (13, 12, 9), (6, 10, 10))
              | e(xyz, (17, -8, 20), (5, 13, 5)) | e(xyz, (25, 0, 3), (7, 19, 12)))
    pallidum = e(xyz, (19, -3, 0), (4.5, 9, 6.5))        # thalamus, caudate, putamen above
    lab[((nuclei & (gm > 0.35)) | pallidum) & np.isin(lab, (6, 7))] = 9
    yc, rx, ry = (np.interp(z[:, 0, 0], _BRAINSTEM[:, 0], _BRAINSTEM[:, k])[:, None, None]
                  for k in (1, 2, 3))
    tube = ((x / rx) ** 2 + ((y - yc) / ry) ** 2 <= 1) & (z <= -3) & np.isin(lab, (6, 7, 9))
    below = (z < _tentorium(ndimage.gaussian_filter((gm + wm) * brain, 1.0))) & (y < -20)
    comp, _ = ndimage.label(below & np.isin(lab, (6, 7)) & ~tube)
    lab[_seeded(comp, [(25, -65, -35)]) & (lab == 6)] = 10
    lab[tube] = 11
    return lab, brain


def _head(lab: np.ndarray, brain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The template labels padded down to the neck with the head around the brain hull;
    and the signed distance (mm) to the inner skull table."""
    shape = (lab.shape[0] + _PAD,) + lab.shape[1:]
    out = np.zeros(shape, np.uint8)
    out[_PAD:] = lab
    xyz = x, y, z = _ras(shape, -72.0 - _PAD)
    ax = np.abs(x)
    inner = np.zeros(shape, bool)
    inner[_PAD:] = brain & ~((lab == 11) & (z[_PAD:] < -50))      # the medulla leaves
    d = _sd((ndimage.gaussian_filter(inner.astype(np.float32), 3.0) > 0.5) | inner) - 1.5
    occ = np.exp(-((y + 100) / 30) ** 2 - (z / 30) ** 2 - (x / 35) ** 2)
    temporal = _smoothstep((ax - 45) / 15) * _smoothstep((40 - z) / 20) \
        * _smoothstep((z + 20) / 10)
    thick = 6.5 + 2.5 * occ - 3.0 * temporal + 3.0 * _smoothstep((-25 - z) / 15)
    table = np.clip(0.28 * thick, 1.3, 2.1)
    muscle = 7.0 * _smoothstep((ax - 40) / 20) * _smoothstep((45 - z) / 25) \
        * _smoothstep((z + 30) / 10) * _smoothstep((y + 55) / 20) * _smoothstep((35 - y) / 20)
    skin = thick + muscle + 3.0                          # outer surface of the fat
    layers = np.select([d <= 0, d <= table, d <= thick - table, d <= thick,
                        d <= thick + muscle, d <= skin, d <= skin + 3.0], [5, 3, 4, 3, 1, 2, 1])
    out[out == 0] = layers[out == 0]
    kb = _PAD + 72 - 10                  # below z = -10 the hull bridges the skull base:
    far = ndimage.distance_transform_edt(~inner[:kb]) > 4      # bone where it is far from
    out[:kb][far & (out[:kb] == 5)] = 4                          # the brain (sella, clivus)
    # face and neck: the head's outline over z -30..-12 blended into a neck ellipse below
    k0, k1 = -30 + 72 + _PAD, -12 + 72 + _PAD
    outline = (d[k0:k1] <= (skin + 3.0)[k0:k1]).any(0)
    sd2 = ndimage.distance_transform_edt(~outline) - ndimage.distance_transform_edt(outline)
    w = _smoothstep((-60 - z) / 50)
    low = ((1 - w) * sd2 + w * (np.sqrt((x / 55) ** 2 + ((y + 25) / 60) ** 2) - 1) * 57)[:k1]
    part = out[:k1]
    deep = (low <= -6) & (part <= 2)
    part[(low <= 0) & (part == 0)] = np.where(low[(low <= 0) & (part == 0)] > -2.5, 1, 2)
    part[deep] = 1
    # cervical spine (arch, body with marrow), cord in its CSF sleeve, airways (RAS mm)
    yc = np.interp(z, [-150, -72, -45], [-50, -45, -35]).astype(np.float32)
    canal = (x / 9) ** 2 + ((y - yc) / 8) ** 2
    out[((z < -60) & (canal <= 2.6) & (y < yc + 4))
        | ((z < -78) & ((x / 10) ** 2 + ((y - yc - 19) / 8.5) ** 2 <= 1))] = 3
    out[(z < -78) & ((x / 8.5) ** 2 + ((y - yc - 19) / 7) ** 2 <= 1)] = 4
    out[(z < -45) & (canal <= 1) & ~np.isin(out, PARENCHYMA)] = 5
    out[(z < -72) & ((x / 6) ** 2 + ((y - yc) / 4.5) ** 2 <= 1)] = 11
    air = (_ellipsoid(xyz, (0, 45, -62), (10, 32, 20), False) & (ax > 1)) \
        | _ellipsoid(xyz, (22, 45, -68), (11, 14, 15)) \
        | _ellipsoid(xyz, (0, 12, -50), (11, 10, 8), False) \
        | _ellipsoid(xyz, (0, 15, -66), (14, 28, 7), False) \
        | ((z < -66) & ((x / 13) ** 2 + ((y - yc - 37) / 6) ** 2 <= 1))
    out[air & (out >= 1) & (out <= 4)] = 0
    return out, d


_VESSELS = [  # RAS control points (mm), radius (mm), mirrored in x, snapped to the skull
    ([(0, -96, -12), (25, -98, -17), (45, -85, -22), (55, -65, -28), (55, -48, -36)], 3.5, 1, 1),
    ([(55, -48, -36), (48, -38, -46), (42, -32, -58), (38, -28, -72), (35, -20, -100),
      (33, -15, -150)], 4.5, 1, 0),                              # sigmoid sinus, jugular
    ([(0, -50, 3), (0, -75, -4), (0, -96, -12)], 2.5, 0, 0),      # straight sinus
    ([(24, -10, -150), (22, -5, -100), (20, 0, -70), (18, 5, -50), (16, 3, -35), (15, 6, -25),
      (14, 2, -16)], 2.3, 1, 0),                                 # internal carotid
    ([(14, 2, -16), (25, 4, -14), (36, 3, -10), (42, -2, -2)], 1.6, 1, 0),     # MCA M1
    ([(14, 2, -16), (6, 12, -12), (2, 14, -10), (2, 25, 0), (2, 35, 15), (2, 30, 32),
      (2, 10, 42)], 1.2, 1, 0),                                  # ACA
    ([(-2, 14, -10), (2, 14, -10)], 1.0, 0, 0),                   # anterior communicating
    ([(14, 2, -16), (12, -8, -15), (9, -17, -14)], 0.9, 1, 0),     # posterior communicating
    ([(22, -28, -150), (22, -28, -90), (28, -42, -78), (12, -35, -62), (3, -22, -56),
      (0, -18, -52)], 1.8, 1, 0),                                # vertebral
    ([(0, -18, -52), (0, -9, -40), (0, -7, -28), (0, -10, -18)], 1.6, 0, 0),   # basilar
    ([(0, -10, -18), (8, -14, -16), (18, -26, -12), (26, -42, -6), (24, -62, 0)], 1.2, 1, 0),
]


def _vessels(out: np.ndarray, d: np.ndarray) -> None:
    """Draw the sinuses and large arteries (id 12) into the padded atlas; ``d`` is the
    signed distance (mm) to the inner skull table."""
    x, y, z = _ras(out.shape, -72.0 - _PAD)
    grid = Grid(out.shape, (1.0, 1.0, 1.0), (-98.0, -98.0, -72.0 - _PAD))
    cov = np.zeros(out.shape, np.float32)
    for ctrl, radius, mirror, snap in _VESSELS:
        for sx in ((1, -1) if mirror else (1,)):
            c = np.asarray(ctrl, float) * [sx, 1, 1]
            if snap:               # along the ray from (0, -20, 0) to `radius` inside the skull
                for q in c:
                    u = (q - (0.0, -20.0, 0.0)) / np.linalg.norm(q - (0.0, -20.0, 0.0))
                    ray = q + np.arange(-30.0, 30.0, 0.5)[:, None] * u
                    v = ndimage.map_coordinates(d, [ray[:, 2] + 72 + _PAD, 98 - ray[:, 1],
                                                    98 - ray[:, 0]], order=1, mode="nearest")
                    q[:] = ray[np.argmin(np.abs(v + radius))]
            pts, r = curve_points(c * [-1, -1, 1], radius, step_mm=0.5)
            tube_coverage(grid, pts, r, out=cov)
    half = np.interp(y, [-110, 60], [5.0, 2.5])         # superior sagittal sinus: a triangle
    sss = (d > -7) & (d < 0.5) & (np.abs(x) <= half * (d + 7) / 7) \
        & (z > -14 + (y + 104) * 25 / 164)
    out[(cov >= 0.5) | sss] = 12


def _build_atlas() -> dict[str, np.ndarray]:
    """The atlas (1 mm, LPS order, padded to the neck): ``label`` (uint8); ``vent_sd`` and
    ``pial_sd`` (int8, 0.1 mm codes of the signed distance to the ventricles and to the
    outer surface of the parenchyma) and their histograms (atrophy thresholds)."""
    lab, brain = _brain_labels(_load_template())
    full, d = _head(lab, brain)
    _vessels(full, d)
    x, y, z = _ras(lab.shape, -72.0)
    vent = _sd(lab == 8)
    vent[(np.abs(x) < 0.5) & (z > 8) & (lab != 8)] = 99.0     # the septum pellucidum stays
    out = {"label": full}
    for name, sd in (("vent_sd", vent), ("pial_sd", _sd(np.isin(lab, (6, 7, 8, 9, 10, 11))))):
        out[name] = np.full(full.shape, 120, np.int8)
        out[name][_PAD:] = np.clip(np.rint(sd * 10), -120, 120)
    for name, ids in (("vent", (6, 7, 8, 9)), ("pial", (6, 10))):
        # counts per code bin [k - 128, k - 127) as a warped grid samples them (order 1)
        idx = np.array(np.nonzero(np.isin(full, ids)), np.float32)
        out[name + "_hist"] = sum(np.histogram(ndimage.map_coordinates(
            out[name + "_sd"], idx + s, order=1, mode="nearest"), np.arange(-128, 129))[0] / 4
            for s in (0.0, 0.25, 0.5, 0.75))
    return out


@functools.lru_cache(maxsize=1)
def _atlas() -> dict[str, Any]:
    """The atlas from the disk cache (or built and saved there), with its head centre
    (atlas voxel indices; the vertex 90 mm above it) and template volumes (ml)."""
    path = cache_dir("brain") / f"{_VERSION}.npz"
    keys = ("label", "vent_sd", "pial_sd", "vent_hist", "pial_hist")
    try:
        with np.load(path) as f:
            at = {k: f[k] for k in keys}
    except (OSError, KeyError, ValueError):
        at = _build_atlas()
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **at)
    lab = at["label"]
    rows = np.flatnonzero(lab.any(axis=(0, 2)))
    top = np.flatnonzero(lab.any(axis=(1, 2)))[-1]
    at["centre"] = np.array([top - 90.0, (rows[0] + rows[-1]) / 2, 98.0])
    at["ventricles_ml"] = float((lab == 8).sum()) / 1000
    at["parenchyma_ml"] = float(np.isin(lab, PARENCHYMA).sum()) / 1000
    return at


# --------------------------------------------------------------------------- subjects
def _rotation(angles_deg) -> np.ndarray:
    """Rotation matrix on (z, y, x) vectors: angles (degrees) about the z, y and x axes."""
    return Rotation.from_euler("xyz", angles_deg, degrees=True).as_matrix()


def _warp(warp: dict, p: np.ndarray) -> np.ndarray:
    """Atlas voxel indices (s, r, c) of subject points ``p`` (3, ...): mm (z, y, x) from
    the grid centre."""
    q = np.tensordot(warp["matrix"], p, axes=1)
    ci = p / _CTRL_MM + ((np.array(_CTRL_N) - 1) / 2).reshape((3,) + (1,) * (p.ndim - 1))
    for k in range(3):
        q[k] += warp["centre"][k] + ndimage.map_coordinates(
            warp["ctrl"][k], ci, order=3, mode="nearest", prefilter=False)
    return q


def _sample(at: dict, warp: dict, grow: float, erode: float) -> np.ndarray:
    """Tissue on the subject grid, in slabs of ~2 M voxels: warped atlas labels (nearest),
    ventricles grown (or shrunk) to ``vent_sd < grow``, cortex turned to CSF where
    ``pial_sd > erode``. The warp is evaluated on a 4 mm lattice and interpolated."""
    shape, spacing = warp["shape"], np.array(warp["spacing"])
    ext = (np.array(shape) - 1) * spacing
    m = [max(2, int(np.ceil(e / 4.0)) + 1) for e in ext]
    nodes = np.stack(np.meshgrid(*[np.linspace(-e / 2, e / 2, k) for e, k in zip(ext, m)],
                                 indexing="ij"))
    lattice = _warp(warp, nodes).astype(np.float32)
    frac = [np.arange(n) * (k - 1) / max(n - 1, 1) for n, k in zip(shape, m)]
    out = np.empty(shape, np.uint8)
    step = max(1, (1 << 21) // (shape[1] * shape[2]))
    for z0 in range(0, shape[0], step):
        zs = slice(z0, z0 + step)
        c = np.stack([resample_linear(f, [frac[0][zs], frac[1], frac[2]]) for f in lattice])
        lab = ndimage.map_coordinates(at["label"], c, order=0, mode="nearest",
                                      output=np.uint8)
        sel = np.isin(lab, (6, 7, 8, 9, 10))
        pts, sub = c[:, sel], lab[sel]
        v = ndimage.map_coordinates(at["vent_sd"], pts, order=1, mode="nearest",
                                    output=np.float32)
        sub[(v < grow) & (sub != 10)] = 8
        sub[(v >= grow) & (sub == 8)] = 7
        p = ndimage.map_coordinates(at["pial_sd"], pts, order=1, mode="nearest",
                                    output=np.float32)
        sub[(p > erode) & ((sub == 6) | (sub == 10))] = 5
        lab[sel] = sub
        out[zs] = lab
    return out


@dataclass
class BrainPhantom:
    """A subject's head: ``tissue`` (uint8 :data:`TISSUES` ids, (z, y, x) LPS order),
    ``spacing_mm`` (z, y, x), ``lesions`` (one record per instance,
    :mod:`~synthmed.phantoms.brain_lesions`), ``instances`` (int16 map: 0 none, k the record
    with ``instance == k``; None before any lesion), ``attributes`` (scalars, see
    :func:`brain_phantom`) and ``transform`` (the warp to the template)."""

    tissue: np.ndarray
    spacing_mm: tuple[float, float, float]
    lesions: list[dict] = field(default_factory=list)
    instances: np.ndarray | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    transform: dict[str, Any] = field(default_factory=dict, repr=False)

    def mask(self, name: str) -> np.ndarray:
        """Boolean mask of a structure (:func:`structure_mask`)."""
        return structure_mask(self.tissue, name)

    def template_coordinates(self, index) -> np.ndarray:
        """MNI coordinates (RAS mm), shape (n, 3) as (x, y, z), of voxel indices ``index``
        (n, 3) in (z, y, x) order: where each voxel came from in the template."""
        idx = np.asarray(index, float).reshape(-1, 3).T
        centre = ((np.array(self.tissue.shape) - 1) / 2)[:, None]
        q = _warp(self.transform, (idx - centre) * np.array(self.spacing_mm)[:, None])
        return np.stack([98.0 - q[2], 98.0 - q[1], q[0] - 72.0 - _PAD], axis=1)
