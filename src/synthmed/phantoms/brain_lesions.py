"""Pathology added in place to a :class:`~synthmed.phantoms.brain.BrainPhantom`, in the BraTS
convention (tissue ids 13-17 of :data:`~synthmed.phantoms.brain.TISSUES`).

Lesion tissue goes only into parenchyma (grey and white matter, deep grey, cerebellum,
brainstem) that no earlier instance holds: never into skull, scalp or ventricles, never
overlapping. Each instance (with its oedema) is numbered in ``ph.instances`` (int16) and
recorded in ``ph.lesions``: ``instance``, ``kind``, ``centre_voxel`` (z, y, x),
``centre_mni`` (x, y, z RAS mm), ``radius_mm``, ``volume_ml`` (oedema excluded),
``hemisphere``, ``lobe``, ``location`` (e.g. ``"left frontal"``) and kind-specific facts.

* :func:`add_glioma` — high grade (``enhancing=True``): necrosis (13) in an irregular
  enhancing rim (15, 2-6 mm), oedema (14) 1-2.5 cm along the white matter (finger-like,
  sparing the cortex), mass effect (tissue pushed away, sulci and the ipsilateral ventricle
  effaced; ``midline_shift_mm``). Low grade (``enhancing=False``), by convention: a solid
  non-enhancing core in the ``necrosis`` id (13: BraTS label 1, "necrotic / non-enhancing
  tumour core") with infiltrative T2/FLAIR-bright tissue 0.5-1.5 cm around it in ``oedema``
  (14: BraTS label 2), no enhancement.
* :func:`add_metastases` — round, at the grey-white junction: ring-enhancing around
  necrosis from a radius of 5 mm, solid-enhancing below; oedema 1-2 radii plus 5-12 mm (up
  to 3 cm) along the white matter, large for the lesion's size.
* :func:`add_ms_lesions` — ovoid plaques (16): periventricular and perpendicular to the
  ventricles (Dawson's fingers), juxtacortical, infratentorial.
* :func:`add_stroke` — a wedge of cortex and underlying white matter in the MCA, ACA or PCA
  territory (17); acute, or chronic (the same id, the cortex-side half turned to CSF:
  encephalomalacia); ``stage`` is in the record.
* :func:`brats_label_map` — BraTS 2023 labels (:data:`BRATS_LABELS`: 1 necrotic core,
  2 oedema, 3 enhancing tumour; BraTS 2017-2021 numbered enhancing tumour 4).

Example
-------
>>> import numpy as np
>>> from synthmed.phantoms.brain import brain_phantom
>>> ph = brain_phantom(np.random.default_rng(0), spacing_mm=(4.0, 4.0, 4.0))
>>> rec = add_glioma(ph, np.random.default_rng(1), radius_mm=20.0)
>>> sorted(np.unique(brats_label_map(ph.tissue)).tolist()), rec["kind"]
([0, 1, 2, 3], 'glioma')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from synthmed.phantoms._shapes3d import Wave, resample_linear

if TYPE_CHECKING:
    from synthmed.phantoms.brain import BrainPhantom

__all__ = ["BRATS_LABELS", "LOBES", "TERRITORIES", "add_glioma", "add_metastases",
           "add_ms_lesions", "add_stroke", "brats_label_map", "lobe_of"]

BRATS_LABELS = {"necrotic_core": 1, "edema": 2, "enhancing_tumor": 3}
LOBES = ("frontal", "temporal", "parietal", "occipital")
TERRITORIES = ("MCA", "ACA", "PCA")
_FREE = (6, 7, 9, 10, 11)                # parenchyma a new lesion may take
_NEC, _OED, _ENH, _MS, _INF = 13, 14, 15, 16, 17


def brats_label_map(tissue: np.ndarray) -> np.ndarray:
    """BraTS 2023 label map (uint8): 1 necrotic core, 2 oedema, 3 enhancing tumour, else 0.

    >>> brats_label_map(np.array([6, 13, 14, 15, 16], np.uint8)).tolist()
    [0, 1, 2, 3, 0]
    """
    lut = np.zeros(256, np.uint8)
    lut[[_NEC, _OED, _ENH]] = [1, 2, 3]
    return lut[tissue]


def lobe_of(mni) -> tuple[str, str]:
    """``(hemisphere, region)`` of an MNI point ``(x, y, z)`` (RAS mm): hemisphere ``left``,
    ``right`` or ``midline``; region a :data:`LOBES` name, ``deep`` (basal ganglia,
    thalamus, internal capsule) or ``infratentorial`` (cerebellum, brainstem).

    >>> lobe_of((-30.0, 30.0, 30.0)), lobe_of((20.0, -90.0, 10.0))
    (('left', 'frontal'), ('right', 'occipital'))
    """
    x, y, z = (float(v) for v in mni)
    side = "midline" if abs(x) < 2 else "right" if x > 0 else "left"
    if (z < -8 - 0.4 * abs(x) and y < -30) or (abs(x) < 16 and z < -12 and y < -5):
        return side, "infratentorial"
    if abs(x) < 28 and -35 < y < 20 and -15 < z < 22:
        return side, "deep"
    if y < -70:
        return side, "occipital"
    if abs(x) > 20 and -70 <= y < 25 and z < np.interp(y, [-70, -40, 0, 25], [5, 15, 0, -10]):
        return side, "temporal"
    return side, "frontal" if y > -15 - 0.6 * (z - 40) else "parietal"


def add_glioma(ph: BrainPhantom, rng: np.random.Generator, *, radius_mm=(15.0, 35.0),
               location: str | None = None, enhancing: bool = True, side: str | None = None,
               mass_effect: bool = True) -> dict:
    """An irregular glioma centred in hemispheric white matter (see the module notes).

    Parameters
    ----------
    radius_mm : float or (float, float)
        Mean radius of the tumour core in mm (drawn uniformly from a range).
    location : {None, 'frontal', 'temporal', 'parietal', 'occipital'}
        Lobe of the centre (None: any lobe).
    enhancing : bool
        High grade (necrosis, enhancing rim, oedema) or low grade (non-enhancing).
    side : {None, 'left', 'right'}
        Hemisphere (None: either).
    mass_effect : bool
        Push the surrounding brain away (up to 10-25 % of the radius at the tumour edge,
        falling off as 1/r^2).

    Returns
    -------
    dict
        The record, with ``enhancing``, ``necrosis_ml``, ``enhancing_ml``, ``oedema_ml`` and
        ``midline_shift_mm``.
    """
    r = _draw(rng, radius_mm)
    wm, depth, centre = ph.tissue == 7, _depth(ph), None
    for need in (min(0.5 * r, 15.0), 8.0, 3.0):        # as deep in the white matter as fits
        centre = centre or _pick(ph, rng, wm, need, depth=depth, side=side,
                                 regions=(location,) if location else LOBES)
    if centre is None:
        raise ValueError(f"no white matter deep enough for a {r:.0f} mm glioma in "
                         f"{side or 'either'} {location or 'hemisphere'}")
    shift = _push(ph, centre, r, rng.uniform(0.1, 0.25) if enhancing else
                  rng.uniform(0.03, 0.1)) if mass_effect else 0.0
    reach = 1.3 * r + 35.0
    box, rho, unit = _local(ph, centre, reach)
    free = _free(ph, box, centre)
    shape = r * _radial(rng, unit, 0.13, 1.1)
    rim = np.clip(4.0 + 1.5 * Wave(rng, 0.7, n=6, dims=3)(*unit), 2.0, 6.0)
    core = (rho < shape) & free
    spread = rng.uniform(10.0, 25.0) if enhancing else rng.uniform(5.0, 15.0)
    extent = np.maximum(spread * (1 + 0.35 * Wave(rng, 0.8, n=6, dims=3)(*unit)), 3.0)
    oedema = _white_matter_spread(ph, box, core, extent, free)
    iid = _new_instance(ph)
    t = ph.tissue[box]
    t[oedema] = _OED
    if enhancing and r > 8:
        t[core] = _ENH
        t[core & (rho < shape - rim)] = _NEC
    else:
        t[core] = _NEC if not enhancing else _ENH
    ph.instances[box][core | oedema] = iid
    ml = float(np.prod(ph.spacing_mm)) / 1000
    counts = {k: float(np.count_nonzero((t == v) & (core | oedema))) * ml
              for k, v in (("necrosis_ml", _NEC), ("enhancing_ml", _ENH), ("oedema_ml", _OED))}
    return _record(ph, "glioma", iid, centre, r, core,
                   enhancing=bool(enhancing), midline_shift_mm=round(shift, 2), **counts)


def add_metastases(ph: BrainPhantom, rng: np.random.Generator, *, count: int | None = None,
                   radius_mm=(3.0, 15.0)) -> list[dict]:
    """``count`` metastases (default random 1-5; fewer if the brain has no room), radius
    log-uniform in ``radius_mm`` (mm; most are small), at the grey-white junction of the
    cerebrum or cerebellum; records add ``ring_enhancing`` and ``oedema_ml``."""
    count = int(rng.integers(1, 6)) if count is None else count
    grey = np.isin(ph.tissue, (6, 10))
    junction = (ph.tissue == 7) & ndimage.binary_dilation(grey, iterations=1)
    depth = _depth(ph)
    out = []
    for _ in range(int(count)):
        r = _draw(rng, radius_mm, log=True)
        centre = _pick(ph, rng, junction, min(0.6 * r, 6.0), depth=depth, clear_mm=r + 3.0)
        if centre is None:
            break
        extent = min(r * rng.uniform(1.0, 2.0) + rng.uniform(5.0, 12.0), 30.0)
        box, rho, unit = _local(ph, centre, 1.2 * r + extent + 2.0)
        free = _free(ph, box, centre)
        shape = r * _radial(rng, unit, 0.06, 1.0)
        core = (rho < shape) & free
        oedema = _white_matter_spread(ph, box, core, np.float32(extent), free)
        iid = _new_instance(ph)
        t = ph.tissue[box]
        t[oedema] = _OED
        t[core] = _ENH
        ring = r >= 5.0
        if ring:
            t[core & (rho < shape - rng.uniform(1.5, 3.0))] = _NEC
        ph.instances[box][core | oedema] = iid
        ml = float(np.prod(ph.spacing_mm)) / 1000
        out.append(_record(ph, "metastasis", iid, centre, r, core, ring_enhancing=ring,
                           oedema_ml=round(float(oedema.sum()) * ml, 3)))
    return out


def add_ms_lesions(ph: BrainPhantom, rng: np.random.Generator, *, count: int | None = None,
                   size_mm=(3.0, 15.0)) -> list[dict]:
    """``count`` (default random 5-20) ovoid MS plaques, long axis ``size_mm`` (mm), 40-70 %
    as wide: 60 % periventricular (long axis along the gradient of the distance to the
    ventricles: perpendicular to their wall), 25 % juxtacortical, 15 % infratentorial
    (brainstem above the tonsils, cerebellar white matter). Records add ``site``,
    ``length_mm``."""
    count = int(rng.integers(5, 21)) if count is None else count
    t = ph.tissue
    sp = np.array(ph.spacing_mm)
    dvent = _distance_to(t == 8, sp, 10.0)
    wm = t == 7
    sites = {"periventricular": wm & (dvent >= 1.0) & (dvent <= 6.0),
             "juxtacortical": wm & ndimage.binary_dilation(t == 6),
             "infratentorial": (t == 11) | (wm & ndimage.binary_dilation(t == 10, iterations=2))}
    low = np.argmax((t == 10).any(axis=(1, 2)))      # no cord below the cerebellar tonsils
    sites["infratentorial"][:low] = False
    depth = _depth(ph)
    out = []
    for _ in range(int(count)):
        site = str(rng.choice(list(sites), p=[0.6, 0.25, 0.15]))
        length = _draw(rng, size_mm)
        centre = _pick(ph, rng, sites[site], 0.0, depth=depth, clear_mm=0.5 * length + 2.0)
        if centre is None:
            continue
        box, rho, unit = _local(ph, centre, 0.6 * length + 2.0)
        axis = _gradient(dvent, centre, sp) if site == "periventricular" else \
            rng.standard_normal(3)
        axis /= np.linalg.norm(axis) + 1e-9
        a, b = length / 2, length / 2 * rng.uniform(0.4, 0.7)
        along = (unit[0] * axis[2] + unit[1] * axis[1] + unit[2] * axis[0]) * rho
        across = np.sqrt(np.maximum(rho ** 2 - along ** 2, 0))
        core = ((along / a) ** 2 + (across / b) ** 2 <= 1) & np.isin(t[box], _FREE) \
            & (ph.instances[box] == 0)
        if not core.any():
            continue
        iid = _new_instance(ph)
        t[box][core] = _MS
        ph.instances[box][core] = iid
        out.append(_record(ph, "ms_lesion", iid, centre, a, core, site=site,
                           length_mm=round(length, 1)))
    return out


def add_stroke(ph: BrainPhantom, rng: np.random.Generator, *, territory: str = "MCA",
               side: str = "left", stage: str = "acute") -> dict:
    """A wedge-shaped infarct in one arterial territory of one hemisphere: the cone from a
    deep apex (MCA: insula/M1; ACA: pericallosal; PCA: ambient cistern) to a random cortical
    point of the territory, 15-30 degrees wide, taking cortex and underlying white matter
    (and deep grey). ``stage='chronic'``: the cortex-side half of the wedge becomes CSF
    (encephalomalacia), the rest stays ``infarct`` (gliosis). Record: ``territory``,
    ``stage``, ``volume_ml`` (infarct plus encephalomalacia)."""
    if territory not in TERRITORIES or side not in ("left", "right") or \
            stage not in ("acute", "chronic"):
        raise ValueError(f"territory must be one of {TERRITORIES}, side 'left'/'right' and "
                         f"stage 'acute'/'chronic'; got {territory!r}, {side!r}, {stage!r}")
    t = ph.tissue
    _ensure_instances(ph)
    idx = np.argwhere(np.isin(t, (6, 7, 9)) & (ph.instances == 0))
    mni = ph.template_coordinates(idx)
    sx = 1.0 if side == "right" else -1.0
    x, y, z = (mni * [sx, 1, 1]).T
    hemi = (x > 1.0) & ((z > -8 - 0.4 * x) | (y > -30))            # supratentorial
    terr = {"ACA": (x < 22) & (y > -50) & (z > -5),
            "PCA": ((y < -62) & (z < 30)) | ((z < -8) & (y < -25) & (x < 42)),
            "MCA": (x > 22) & (y > -62) & (z > -35)}[territory] & hemi
    apex = np.array({"MCA": (30, 2, 2), "ACA": (6, 20, 15), "PCA": (18, -28, -5)}[territory],
                    float) * [sx, 1, 1]
    cortex = np.flatnonzero(terr & (t[tuple(idx.T)] == 6))
    d = mni - apex
    dist = np.linalg.norm(d, axis=1) + 1e-6
    wedge = np.zeros(len(idx), bool)
    for _ in range(8):                  # a target whose wedge holds at least ~1 ml
        if not cortex.size or wedge.sum() * np.prod(ph.spacing_mm) > 1000:
            break
        target = mni[rng.choice(cortex)]
        axis = (target - apex) / np.linalg.norm(target - apex)
        wedge = terr & (d @ axis / dist >= np.cos(np.radians(rng.uniform(15.0, 30.0)))) \
            & (dist > 8.0)
    if not wedge.any():
        raise ValueError(f"no {side} {territory} territory in the field of view")
    soft = wedge & (dist > np.quantile(dist[wedge], 0.5)) & (t[tuple(idx.T)] != 7) \
        if stage == "chronic" else np.zeros_like(wedge)
    sel = tuple(idx[wedge].T)
    iid = _new_instance(ph)
    t[sel] = _INF
    t[tuple(idx[soft].T)] = 5
    ph.instances[sel] = iid
    n = int(wedge.sum())
    r = float(np.cbrt(3 * n * np.prod(ph.spacing_mm) / (4 * np.pi)))
    centre = tuple(int(v) for v in np.round(idx[wedge].mean(0)))
    return _record(ph, "infarct", iid, centre, r, n, territory=territory, stage=stage)


# --------------------------------------------------------------------------- helpers
def _draw(rng: np.random.Generator, value, log: bool = False) -> float:
    """A float, or uniform (log-uniform) from a (low, high) range."""
    if np.ndim(value):
        lo, hi = (float(v) for v in value)
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if log else \
            float(rng.uniform(lo, hi))
    return float(value)


def _ensure_instances(ph: BrainPhantom) -> None:
    if ph.instances is None:
        ph.instances = np.zeros(ph.tissue.shape, np.int16)


def _new_instance(ph: BrainPhantom) -> int:
    _ensure_instances(ph)
    return max([int(r["instance"]) for r in ph.lesions], default=0) + 1


def _depth(ph: BrainPhantom) -> tuple[np.ndarray, list[int]]:
    """Distance (mm) from each voxel to the nearest non-parenchyma voxel (lesions count as
    parenchyma), on a grid of about 2 mm, and the subsampling factors."""
    sp = ph.spacing_mm
    f = [max(1, int(round(2.0 / s))) for s in sp]
    small = np.isin(ph.tissue[::f[0], ::f[1], ::f[2]], _FREE + (13, 14, 15, 16, 17))
    return ndimage.distance_transform_edt(small, sampling=np.array(sp) * f), f


def _distance_to(mask: np.ndarray, spacing, margin_mm: float) -> np.ndarray:
    """Distance (mm) to ``mask``, exact within ``margin_mm`` of its bounding box, inf
    elsewhere."""
    out = np.full(mask.shape, np.inf, np.float32)
    hit = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != k))) for k in range(3)]
    if not hit[0].size:
        return out
    pad = [int(np.ceil(margin_mm / s)) for s in spacing]
    box = tuple(slice(max(h[0] - p, 0), h[-1] + p + 1) for h, p in zip(hit, pad))
    out[box] = ndimage.distance_transform_edt(~mask[box], sampling=spacing)
    return out


def _pick(ph: BrainPhantom, rng: np.random.Generator, cand: np.ndarray, depth_mm: float,
          depth=None, side: str | None = None, regions=None, clear_mm: float = 0.0,
          tries: int = 3000):
    """A random voxel (z, y, x) of ``cand`` at least ``depth_mm`` inside the parenchyma
    (``depth`` from :func:`_depth`) and with no other instance within ``clear_mm``, in
    ``side`` and one of ``regions`` (:func:`lobe_of`); None if there is none."""
    _ensure_instances(ph)
    d, f = depth if depth is not None else _depth(ph)
    idx = np.argwhere(cand)
    if not len(idx):
        return None
    idx = idx[rng.integers(0, len(idx), tries)]
    idx = idx[d[tuple((idx // f).T)] >= depth_mm]
    if len(idx) and (side or regions):
        where = [lobe_of(m) for m in ph.template_coordinates(idx)]
        ok = [(side is None or h == side) and (regions is None or g in regions)
              for h, g in where]
        idx = idx[np.array(ok, bool)]
    reach = [int(np.ceil(clear_mm / s)) for s in ph.spacing_mm]
    for c in idx:
        box = tuple(slice(max(v - k, 0), v + k + 1) for v, k in zip(c, reach))
        if not ph.instances[box].any():
            return tuple(int(v) for v in c)
    return None


def _free(ph: BrainPhantom, box, centre) -> np.ndarray:
    """Voxels of ``box`` a new lesion at ``centre`` may take: parenchyma of no instance, in
    the centre's hemisphere unless it lies below the tentorium."""
    return np.isin(ph.tissue[box], _FREE) & (ph.instances[box] == 0) & _same_side(ph, box, centre)


def _same_side(ph: BrainPhantom, box, centre) -> np.ndarray:
    """Voxels of ``box`` in the hemisphere of ``centre`` (MNI x on a ~4 mm lattice,
    interpolated); all of them for a centre on the midline or below the tentorium."""
    hemi, region = lobe_of(ph.template_coordinates([centre])[0])
    if region == "infratentorial" or hemi == "midline":
        return np.ones(tuple(b.stop - b.start for b in box), bool)
    axes = [np.linspace(b.start, b.stop - 1, max(2, int(np.ceil((b.stop - b.start) * s / 4)) + 1))
            for b, s in zip(box, ph.spacing_mm)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    x = ph.template_coordinates(pts)[:, 0].reshape([len(a) for a in axes])
    frac = [(np.arange(b.start, b.stop) - a[0]) / max(a[1] - a[0], 1e-9)
            for b, a in zip(box, axes)]
    return resample_linear(x, frac) * (1 if hemi == "right" else -1) > 0.5


def _local(ph: BrainPhantom, centre, reach_mm: float):
    """Box of voxels within ``reach_mm`` of ``centre`` (slices), their distance ``rho`` (mm)
    and unit direction ``(ux, uy, uz)`` from it."""
    sp = ph.spacing_mm
    half = [int(np.ceil(reach_mm / s)) for s in sp]
    box = tuple(slice(max(0, c - h), min(n, c + h + 1))
                for c, h, n in zip(centre, half, ph.tissue.shape))
    dz, dy, dx = ((np.arange(b.start, b.stop) - c).astype(np.float32) * s
                  for b, c, s in zip(box, centre, sp))
    dz, dy, dx = dz[:, None, None], dy[None, :, None], dx[None, None, :]
    rho = np.sqrt(dz ** 2 + dy ** 2 + dx ** 2) + np.float32(1e-3)
    return box, rho, (dx / rho, dy / rho, dz / rho)


def _radial(rng: np.random.Generator, unit, amp: float, length: float) -> np.ndarray:
    """A smooth random radius factor ``1 + amp * wave(direction)``."""
    return 1.0 + amp * Wave(rng, length, n=6, dims=3)(*unit)


def _gradient(dist: np.ndarray, centre, spacing) -> np.ndarray:
    """Central-difference gradient (z, y, x) of ``dist`` at voxel ``centre``."""
    g = np.zeros(3)
    for k in range(3):
        lo, hi = list(centre), list(centre)
        lo[k], hi[k] = max(centre[k] - 1, 0), min(centre[k] + 1, dist.shape[k] - 1)
        g[k] = (dist[tuple(hi)] - dist[tuple(lo)]) / max(hi[k] - lo[k], 1) / spacing[k]
    return g


def _white_matter_spread(ph: BrainPhantom, box, core: np.ndarray, extent: np.ndarray,
                         free: np.ndarray) -> np.ndarray:
    """Oedema around ``core`` (box-local): white matter within ``extent`` mm, deep grey
    within half of it, cortex within 2 mm, connected to the core (so it runs along the
    white matter into the gyri, finger-like, and spares the cortex)."""
    if not core.any():
        return np.zeros_like(core)
    t = ph.tissue[box]
    dist = ndimage.distance_transform_edt(~core, sampling=ph.spacing_mm)
    near = free & ~core & (((t == 7) & (dist <= extent)) | ((t == 9) & (dist <= 0.5 * extent))
                           | (np.isin(t, (6, 10, 11)) & (dist <= 2.0)))
    comp, _ = ndimage.label(near | core)
    keep = np.unique(comp[core])
    return near & np.isin(comp, keep[keep > 0])


def _push(ph: BrainPhantom, centre, r: float, strength: float) -> float:
    """Mass effect: move brain tissue (ids 5-11) radially away from ``centre`` by
    ``strength * r * (r / rho)^2`` mm (tapering to 0 at 2.5 r + 5 mm; divergence-free, so
    tissue keeps its volume), then efface the CSF spaces of the same hemisphere within
    ``(1 + 2.4 strength) r``: sulci close (CSF to grey matter) and the ventricle is
    compressed (to white matter). Returns the shift (mm) of the midline on the tumour's row
    and slice."""
    reach = 2.5 * r + 5.0
    box, rho, _ = _local(ph, centre, reach)
    sp = np.array(ph.spacing_mm, np.float32)
    t = ph.tissue

    def magnitude(rho):
        a = np.clip((reach - rho) / (0.35 * reach), 0, 1)
        return strength * r * (r / np.maximum(rho, r)) ** 2 * a * a * (3 - 2 * a)

    for z0 in range(box[0].start, box[0].stop, 8):
        sub = (slice(z0, min(z0 + 8, box[0].stop)), box[1], box[2])
        grid = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in sub],
                                    indexing="ij")).astype(np.float32)
        d = (grid - np.array(centre, np.float32)[:, None, None, None]) * sp[:, None, None, None]
        dist = np.sqrt((d ** 2).sum(0)) + 1e-3
        src = grid - magnitude(dist) * d / dist / sp[:, None, None, None]
        moved = ndimage.map_coordinates(t, src, order=0, mode="nearest")
        old = t[sub]
        ok = (old >= 5) & (old <= 11) & (moved >= 5) & (moved <= 11)
        old[ok] = moved[ok]
    local = t[box]
    near = (rho < (1 + 2.4 * strength) * r) & _same_side(ph, box, centre)
    local[near & (local == 5)] = 6
    local[near & (local == 8)] = 7
    line = np.stack([np.full(t.shape[2], centre[0]), np.full(t.shape[2], centre[1]),
                     np.arange(t.shape[2])], 1)
    col = int(np.argmin(np.abs(ph.template_coordinates(line)[:, 0])))
    return float(magnitude(max(abs(col - centre[2]) * sp[2], 1e-3)))


def _record(ph: BrainPhantom, kind: str, iid: int, centre, r: float, voxels, **extra) -> dict:
    """Append and return the record of instance ``iid`` whose lesion has ``voxels`` voxels
    (a count or a mask)."""
    mni = ph.template_coordinates([centre])[0]
    hemi, region = lobe_of(mni)
    rec = {"instance": int(iid), "kind": kind, "centre_voxel": tuple(int(c) for c in centre),
           "centre_mni": tuple(round(float(v), 1) for v in mni), "radius_mm": round(r, 2),
           "volume_ml": round(float(np.sum(voxels)) * float(np.prod(ph.spacing_mm)) / 1000, 3),
           "hemisphere": hemi, "lobe": region,
           "location": region if hemi == "midline" else f"{hemi} {region}", **extra}
    ph.lesions.append(rec)
    return rec
