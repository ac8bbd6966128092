"""Findings added in place to a :class:`~synthmed.phantoms.thorax3d.Thorax3D` (thin slices).

Each ``add_*`` function edits the phantom's layers (``hu``, ``lung_frac``, ``parenchyma``,
``vessels``, ``solid_cov``/``solid_hu``) and returns thin-slice masks with the finding's
measured facts. Call them in the order effusion, emphysema, COVID-19, nodules (each later
finding is placed in the lung that the earlier ones left).

* :func:`add_effusion` — free pleural fluid (0-20 HU) layering in the dependent, posterior
  pleural space of a supine patient, thickest in the posterior costophrenic recess, with a
  meniscus climbing the lateral wall and compressive atelectasis of the lung next to it.
* :func:`add_emphysema` — centrilobular (small holes, upper zones) or panlobular (confluent,
  lower zones) low-attenuation areas below -950 HU with pruned vessels; the extent is a
  fraction of lung volume, hit by choosing a threshold on a random field.
* :func:`add_covid` — COVID-19 pneumonia: ground-glass opacity (-700..-300 HU, vessels seen
  through it), consolidation (-100..+50 HU, air bronchograms), crazy paving (ground glass
  with thickened interlobular septa) or a mix, with peripheral/subpleural, lower-lobe,
  typical (both), diffuse or central distributions; the CT severity score per lobe after
  Pan et al., Radiology 295 (2020) 715 (0-5 per lobe, 0-25 in all).
* :func:`add_nodules` — solid, part-solid or ground-glass nodules of given diameter with
  their Lung-RADS v2022 category (:func:`lung_rads`).

Example
-------
>>> import numpy as np
>>> from synthmed.phantoms.thorax3d import thorax3d
>>> ph = thorax3d((64, 64), 8, 5.0, age_years=60, sex="M", rng=np.random.default_rng(0))
>>> masks = add_covid(ph, np.random.default_rng(1), "ggo", "peripheral", 10.0)
>>> bool(masks["ggo"].any()), bool((masks["ggo"] & ~ph.lung_mask()).any())
(True, False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from synthmed.phantoms._shapes3d import Wave, _frac, resample_linear, smooth_noise

if TYPE_CHECKING:
    from synthmed.phantoms.thorax3d import Thorax3D

__all__ = ["add_effusion", "add_emphysema", "add_covid", "add_nodules", "lung_rads",
           "pleural_distance", "severity_score", "COVID_PATTERNS", "COVID_DISTRIBUTIONS",
           "NODULE_TYPES"]

COVID_PATTERNS = ("ggo", "consolidation", "crazy_paving", "mixed")
COVID_DISTRIBUTIONS = ("peripheral_lower", "peripheral", "lower", "diffuse", "central")
NODULE_TYPES = ("solid", "part_solid", "ground_glass")
_HU_FLUID = 12.0


def pleural_distance(ph: Thorax3D) -> np.ndarray:
    """Distance (mm) from each lung voxel to the lung's surface (costal, mediastinal and
    diaphragmatic pleura; fissures do not count), computed on a ~3 mm grid and interpolated
    linearly; 0 outside the lungs (thin slices)."""
    lung = ph.lung_mask()
    dz, dy, dx = ph.grid.spacing
    f = (max(1, int(round(3.0 / dz))), max(1, int(round(3.0 / dy))))
    small = lung[::f[0], ::f[1], ::f[1]]
    d = ndimage.distance_transform_edt(small, sampling=(dz * f[0], dy * f[1], dx * f[1]))
    coords = [np.arange(n) / fk for n, fk in zip(lung.shape, (f[0], f[1], f[1]))]
    return resample_linear(d, coords) * lung


def _relative_height(ph: Thorax3D) -> np.ndarray:
    """Height within the lungs (0 at the deepest recess, 1 at the apices), per slice."""
    return (ph.grid.z / ph.anatomy.H)[:, None, None]


# --------------------------------------------------------------------------- effusion
def add_effusion(ph: Thorax3D, rng: np.random.Generator, side: str = "right") -> dict:
    """Free pleural effusion on one side (``"right"`` / ``"left"``), supine: a crescent of
    fluid along the posterior chest wall, 2-5 cm deep in the recess and tapering upwards and
    laterally (a thin meniscus up the lateral wall, concave towards the lung); the lung next
    to it is collapsed (denser rim). Returns ``{"mask": thin bool, "volume_ml": float}``."""
    an, g = ph.anatomy, ph.grid
    X, Y, Z = g.mesh()
    sgn = -1 if side == "right" else 1
    h = Z / an.H
    p = an.prof(h)
    t0 = rng.uniform(20, 50) * an.s
    top = rng.uniform(0.45, 0.8) * an.H
    t_z = t0 * np.clip(1 - Z / top, 0, 1) ** 0.6
    wall = -an.side_sd(X, Y, h, sgn)                       # mm inside the hemithorax
    back = np.clip(((Y - p["cy"]) / p["ay_p"] + 0.35) / 1.35, 0, 1)   # 1: wall faces up
    sd = wall - t_z * back * back                           # crescent, meniscus laterally
    side_mask = (X < an.xm) if sgn < 0 else (X >= an.xm)
    frac = _frac(sd, g.voxel_mm) * side_mask * (t_z > 0.5)
    region = (frac > 0) & (ph.lung_frac > 0)
    mask = frac * ph.lung_frac >= 0.5
    ph.hu[region] = _HU_FLUID + 4 * rng.standard_normal()
    rim = np.clip(1 - sd / (6 * an.s), 0, 1) * (sd > 0) * side_mask * (t_z > 0.5)
    ph.parenchyma += rim * (-150.0 - ph.parenchyma)        # compressive atelectasis
    ph.lung_frac *= 1 - frac
    ph.lobes[ph.lung_frac < 0.5] = 0
    return {"mask": mask, "volume_ml": float(mask.sum() * np.prod(g.spacing) / 1000)}


# --------------------------------------------------------------------------- emphysema
def add_emphysema(ph: Thorax3D, rng: np.random.Generator, kind: str = "centrilobular",
                  extent_percent: float = 10.0) -> np.ndarray:
    """Low-attenuation areas (-990..-955 HU) over ``extent_percent`` % of the lung volume:
    centrilobular (3-10 mm holes, upper zones) or panlobular (confluent, lower zones);
    small vessels inside are pruned to a third. Returns the thin mask."""
    lung = ph.lung_mask()
    hr = _relative_height(ph)
    fine = smooth_noise(ph.grid, 2.5, rng)
    if kind == "centrilobular":
        score = fine + 1.5 * hr
    else:
        score = 0.6 * smooth_noise(ph.grid, 10.0, rng) + 0.4 * fine - 1.2 * hr
    mask = _top_fraction(score, lung, extent_percent / 100)
    low = np.clip(-975 - 8 * fine, -995, -958)
    ph.parenchyma = np.where(mask, low, ph.parenchyma).astype(np.float32)
    ph.vessels[mask & (ph.vessels < 0.9)] *= 0.35
    return mask


def _top_fraction(score: np.ndarray, within: np.ndarray, fraction: float) -> np.ndarray:
    """Mask of the ``fraction`` of voxels of ``within`` with the highest ``score``."""
    values = score[within]
    if not values.size or fraction <= 0:
        return np.zeros(score.shape, bool)
    t = np.quantile(values, 1 - min(fraction, 1.0))
    return (score > t) & within


# --------------------------------------------------------------------------- COVID-19
def _covid_prior(ph: Thorax3D, distribution: str) -> np.ndarray:
    """Log-odds-like weight of where lesions go (unitless, added to a unit random field)."""
    d = pleural_distance(ph)
    hr = _relative_height(ph)
    lower = np.isin(ph.lobes, (3, 5)) * 1.0
    Y = ph.grid.y[None, :, None]
    post = (Y - Y.mean()) / (Y.max() - Y.min())
    periph = 1.4 * np.exp(-d / 12.0)
    prior = {
        "peripheral": periph,
        "lower": 0.8 * lower - 1.4 * hr,
        "peripheral_lower": periph + 0.4 * lower - 0.7 * hr + 0.6 * post,
        "diffuse": 0.0 * d,
        "central": d / 15.0,
    }[distribution]
    return np.asarray(prior, np.float32)


def add_covid(ph: Thorax3D, rng: np.random.Generator, pattern: str = "ggo",
              distribution: str = "peripheral_lower", extent_percent: float = 15.0
              ) -> dict[str, np.ndarray]:
    """COVID-19 pneumonia over ``extent_percent`` % of the lung volume.

    Lesions are level sets of a smooth random field (rounded, patchy, confluent when
    extensive) weighted by the distribution. Patterns: ``ggo`` (-700..-300 HU, vessels and
    bronchi visible through it), ``consolidation`` (-100..+50 HU, vessels effaced, air
    bronchograms), ``crazy_paving`` (ground glass with a 10-20 mm polygonal net of
    thickened interlobular septa), ``mixed`` (ground glass with consolidated cores and
    patches of crazy paving). Returns thin masks ``ggo``, ``consolidation`` and
    ``crazy_paving`` (disjoint; their union is the lesion; empty ones included).
    """
    g = ph.grid
    lung = ph.lung_mask()
    score = 0.75 * smooth_noise(g, 9.0, rng) + 0.5 * smooth_noise(g, 22.0, rng) + \
        _covid_prior(ph, distribution)
    lesion = _top_fraction(score, lung, extent_percent / 100)
    t = score[lesion].min() if lesion.any() else 0.0
    edge = np.clip((score - t) / 0.25 + 0.5, 0, 1) * lung
    masks = {k: np.zeros(g.shape, bool) for k in ("ggo", "consolidation", "crazy_paving")}
    if not lesion.any():
        return masks
    kind = np.zeros(g.shape, np.uint8)                     # 1 ggo, 2 consolidation, 3 paving
    kind[lesion] = {"ggo": 1, "consolidation": 2, "crazy_paving": 3, "mixed": 1}[pattern]
    if pattern == "mixed":
        kind[_top_fraction(score, lesion, 0.3)] = 2
        patch = smooth_noise(g, 15.0, rng)
        kind[_top_fraction(patch, lesion & (kind == 1), 0.35)] = 3
    vary = smooth_noise(g, 6.0, rng)
    ggo_hu = np.clip(rng.uniform(-620, -420) + 90 * vary, -690, -310)
    cons_hu = np.clip(rng.uniform(-30, 25) + 20 * vary, -95, 45)
    target = np.where(kind == 2, cons_hu, ggo_hu)
    near = ndimage.binary_dilation(lesion, iterations=2) & lung
    ph.parenchyma[near] += edge[near] * (target[near] - ph.parenchyma[near])
    if (kind == 3).any():
        _septal_net(ph, kind == 3, rng)
    for k, name in ((1, "ggo"), (2, "consolidation"), (3, "crazy_paving")):
        masks[name] = kind == k
    return masks


def _septal_net(ph: Thorax3D, region: np.ndarray, rng: np.random.Generator) -> None:
    """Thickened interlobular septa: the walls (1-2 mm) of Voronoi cells 10-20 mm across
    (secondary pulmonary lobules), drawn into the parenchyma of ``region``."""
    g = ph.grid
    idx = np.nonzero(region)
    pts = np.c_[g.x[idx[2]], g.y[idx[1]], g.z[idx[0]]]
    lo, hi = pts.min(0) - 15, pts.max(0) + 15
    cell = rng.uniform(11.0, 16.0)
    n = int(np.prod(hi - lo) / cell ** 3) + 8
    seeds = rng.uniform(lo, hi, (n, 3))
    d, _ = cKDTree(seeds).query(pts, k=2)
    wall = np.clip(1.0 - (d[:, 1] - d[:, 0]) / (1.2 + g.voxel_mm), 0, 1)
    ph.parenchyma[idx] += wall * (-60.0 - ph.parenchyma[idx])


def severity_score(percent: float) -> int:
    """CT severity score of one lobe from its involved volume (%), after Pan et al.,
    Radiology 295 (2020) 715: 0 none, 1 < 5 %, 2 5-25 %, 3 26-49 %, 4 50-75 %, 5 > 75 %.

    >>> [severity_score(p) for p in (0, 3, 20, 40, 60, 90)]
    [0, 1, 2, 3, 4, 5]
    """
    if percent <= 0:
        return 0
    return 1 if percent < 5 else 2 if percent <= 25 else 3 if percent < 50 else \
        4 if percent <= 75 else 5


# --------------------------------------------------------------------------- nodules
def lung_rads(kind: str, diameter_mm: float, solid_mm: float = 0.0) -> str:
    """Lung-RADS v2022 category of a nodule at a baseline screening CT.

    ACR Lung-RADS v2022 (American College of Radiology, 2022), baseline rules by mean
    diameter rounded to one decimal: solid < 6 mm -> 2, 6 to < 8 -> 3, 8 to < 15 -> 4A,
    >= 15 -> 4B; part-solid < 6 mm total -> 2, >= 6 mm with a solid component < 6 -> 3,
    solid component 6 to < 8 -> 4A, >= 8 -> 4B; ground-glass (non-solid) < 30 mm -> 2,
    >= 30 mm -> 3. (Category 4X needs features this model does not draw.)

    >>> [lung_rads("solid", d) for d in (5.9, 6.0, 7.9, 8.0, 14.9, 15.0)]
    ['2', '3', '3', '4A', '4A', '4B']
    >>> [lung_rads("part_solid", 12, s) for s in (5, 7, 9)], lung_rads("ground_glass", 30)
    (['3', '4A', '4B'], '3')
    """
    d, sd = round(float(diameter_mm), 1), round(float(solid_mm), 1)
    if kind == "solid":
        return "2" if d < 6 else "3" if d < 8 else "4A" if d < 15 else "4B"
    if kind == "part_solid":
        if d < 6:
            return "2"
        return "3" if sd < 6 else "4A" if sd < 8 else "4B"
    if kind == "ground_glass":
        return "2" if d < 30 else "3"
    raise ValueError(f"unknown nodule type {kind!r}; choose one of {', '.join(NODULE_TYPES)}")


def add_nodules(ph: Thorax3D, rng: np.random.Generator, kind: str = "solid",
                diameter_mm: float = 8.0, count: int = 1) -> list[dict]:
    """``count`` nodules of type ``kind``: the first ``diameter_mm`` across, others 3 mm to
    that size; gently lobulated spheres of that volume, inside the lung at least 3 mm from
    the pleura, centred on an output slice. Solid nodules (+20..+50 HU) hide the vessels
    they meet; ground-glass ones (-650..-450 HU) let them show through; part-solid ones have
    a solid core of 30-70 % of the diameter. Returns one dict per nodule: ``mask`` (thin),
    ``type``, ``diameter_mm``, ``solid_mm``, ``lobe`` (index into LOBES), ``centre_mm``
    (x, y, z) and ``lung_rads``."""
    g = ph.grid
    if ph.solid_cov is None:
        ph.solid_cov = np.zeros(g.shape, np.float32)
        ph.solid_hu = np.zeros(g.shape, np.float32)
    free = pleural_distance(ph)
    out = []
    for k in range(count):
        d = float(diameter_mm) if k == 0 else round(float(rng.uniform(3.0, diameter_mm)), 1)
        centre = _place(ph, free, d / 2, rng)
        if centre is None:
            break
        nod = _nodule(ph, kind, d, centre, rng)
        out.append(nod)
        X, Y, Z = g.mesh()
        far = np.sqrt((X - centre[0]) ** 2 + (Y - centre[1]) ** 2 + (Z - centre[2]) ** 2)
        free = np.minimum(free, np.maximum(far - d / 2 - 4, 0))
    return out


def _place(ph: Thorax3D, free: np.ndarray, r: float, rng: np.random.Generator):
    """A random centre (x, y, z mm) with ``free`` >= r + 3 mm, on an output-slice centre
    at least r from the scan's ends; None if the lung has no such room."""
    g, n = ph.grid, ph.sub_slices
    mid = np.arange(n // 2, g.shape[0], n)                 # thin slices at output centres
    zc = g.z[mid]
    ok_z = (zc - r >= g.z[0]) & (zc + r <= g.z[-1])
    room = free[mid[ok_z]] >= r + 3.0
    cand = np.flatnonzero(room)
    if not cand.size:
        return None
    k, j, i = np.unravel_index(rng.choice(cand), room.shape)
    return np.array([g.x[i], g.y[j], zc[ok_z][k]])


def _nodule(ph: Thorax3D, kind: str, d: float, centre, rng: np.random.Generator) -> dict:
    g = ph.grid
    r = d / 2
    lob = Wave(rng, 1.0, n=5, dims=3)
    amp = 0.07 if kind != "ground_glass" else 0.04
    reach = r * 1.3 + 3
    sl = tuple(slice(int(np.searchsorted(a, c - reach)), int(np.searchsorted(a, c + reach)))
               for a, c in ((g.z, centre[2]), (g.y, centre[1]), (g.x, centre[0])))
    X, Y, Z = g.x[sl[2]][None, None] - centre[0], g.y[sl[1]][None, :, None] - centre[1], \
        g.z[sl[0]][:, None, None] - centre[2]
    rho = np.sqrt(X ** 2 + Y ** 2 + Z ** 2) + 1e-6
    shape = 1 + amp * lob(X / rho, Y / rho, Z / rho)
    shape *= (1.0 / np.mean(shape ** 3)) ** (1 / 3)        # same volume as the sphere
    sd = rho - r * shape
    w = g.voxel_mm
    lung = ph.lung_mask()[sl]
    mask = np.zeros(g.shape, bool)
    mask[sl] = (sd < 0) & lung
    solid_mm = 0.0
    if kind in ("ground_glass", "part_solid"):
        hu = rng.uniform(-650, -450)
        par = ph.parenchyma[sl]
        par += _frac(sd, w) * lung * (hu - par)
    if kind in ("solid", "part_solid"):
        core = 1.0 if kind == "solid" else rng.uniform(0.3, 0.7)
        solid_mm = d * core
        cov = _frac(rho - r * core * shape, w) * lung
        ph.solid_hu[sl] = np.where(cov > 0, rng.uniform(20, 50), ph.solid_hu[sl])
        np.maximum(ph.solid_cov[sl], cov, out=ph.solid_cov[sl])
    lobes = np.bincount(ph.lobes[mask], minlength=6)[1:]
    return {"mask": mask, "type": kind, "diameter_mm": d, "solid_mm": solid_mm,
            "lobe": int(np.argmax(lobes)), "centre_mm": tuple(float(c) for c in centre),
            "lung_rads": lung_rads(kind, d, solid_mm)}
