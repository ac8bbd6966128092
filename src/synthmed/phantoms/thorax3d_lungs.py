"""Lungs of :mod:`synthmed.phantoms.thorax3d`: where the lung is (:func:`_lung_fraction`),
its bronchial and vascular trees (:func:`_lung_trees`, drawn by :func:`_render_trees`) and
the parenchyma with its fissures (:func:`_parenchyma`).

Example
-------
>>> import numpy as np
>>> from synthmed.phantoms.thorax3d import thorax3d
>>> ph = thorax3d((64, 64), 4, 5.0, age_years=30, sex="M", rng=np.random.default_rng(3))
>>> bool(ph.vessels.max() > 0.9 and ph.airway_lumen.max() > 0.9)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthmed.phantoms._shapes3d import (Grid, _frac, _paint, _smoothstep, grow_tree,
                                         segment_points, smooth_noise, tube_coverage)
from synthmed.phantoms.thorax3d_body import (HU, _CHAMBERS, _band_sd, _heart, _heart_centre,
                                             _mediastinal_envelope)

if TYPE_CHECKING:
    from synthmed.phantoms.thorax3d import Thorax3D, _Anatomy

def _lung_fraction(an: _Anatomy, grid: Grid, lines, cav=None, zd=None, heart=None
                   ) -> np.ndarray:
    """Fraction of each voxel that is lung: inside the cavity, above the diaphragm, outside
    the mediastinum (band, pericardial sac and tubes with a 5 mm fat margin)."""
    X, Y, Z = grid.mesh()
    w = grid.voxel_mm
    cav = an.cavity_sd(X, Y, Z / an.H) if cav is None else cav
    zd = an.dome_z(X, Y) if zd is None else zd
    lung = _frac(cav, w) * _frac(zd - Z, w)
    med = np.maximum(_frac(_band_sd(an, X, Y, Z / an.H), w),
                     _mediastinal_envelope(an, grid, lines, 5.0 * an.s))
    heart = _heart(an, grid) if heart is None else heart
    if heart is not None:
        box, _, sac, _ = heart
        med[box] = np.maximum(med[box], _frac(sac, w))
    return lung * (1 - med)


# --------------------------------------------------------------------------- lung trees
# Pulmonary vein ostia: offsets (mm, adult) from the left atrium's centre, lobes drained.
_OSTIA = (((-30, -2, 8), (1, 2)), ((-28, 6, -12), (3,)), ((30, -2, 8), (4,)),
          ((28, 6, -12), (5,)))
_N_ATTRACTORS = 2200        # per lung: terminal branches of each tree
_R_TERMINAL = 0.65          # mm (adult): arteries ~1.3 mm across at the end of the tree
_MURRAY = 2.7               # r^2.7 conserved at branch points (measured for arteries)


def _lung_trees(an: _Anatomy, lines, rng: np.random.Generator) -> dict[str, tuple]:
    """Bronchi, arteries and veins of both lungs: per tree ``(starts, ends, radii, depth)``
    (mm). Bronchi and arteries share one tree per lobe (bronchovascular bundles: the artery
    runs beside the bronchus, about as wide as its outer wall); veins are separate trees
    from the four ostia of the left atrium, interleaved between them."""
    s = an.s
    coarse = Grid((int((an.H + 10) / (3.5 * s)), int(220 / 3.5), int(310 / 3.5)),
                  (3.5 * s, 3.5 * s, 3.5 * s), (-155 * s, -110 * s, -5.0))
    lobes = an.lobes(coarse, _lung_fraction(an, coarse, lines) >= 0.5)[0]
    counts = np.bincount(lobes.ravel(), minlength=6)[1:].astype(float)
    per_side = np.array([counts[:3].sum()] * 3 + [counts[3:].sum()] * 2)
    n_pts = np.maximum((_N_ATTRACTORS * counts / np.maximum(per_side, 1)).astype(int), 4)
    aw = an.airway
    origins = (aw["rmb_end"], aw["bi_end"], aw["bi_end"], aw["lmb_end"], aw["lmb_end"])
    pa_end = {-1: lines["pa_right"][0][-1], 1: lines["pa_left"][0][-1]}
    r_t = _R_TERMINAL * s
    bundles, veins = [], []
    for k in range(5):
        pts = _attractors(coarse, lobes == k + 1, n_pts[k], rng)
        root = origins[k] + 0.3 * (pts.mean(0) - origins[k])
        tree = grow_tree(origins[k], root, pts)
        r_art = tree.radius(r_t, _MURRAY)
        r_lumen = 0.7 * r_art
        r_outer = r_lumen + 0.24 * r_lumen + 0.25 * s
        a_start, a_end = _beside(tree, r_art + r_outer, pa_end[-1 if k < 3 else 1])
        bundles.append((tree, r_art, r_lumen, r_outer, a_start, a_end))
    la = _heart_centre(an) + np.array(_CHAMBERS[3][0]) * s * an.heart_scale
    for off, drained in _OSTIA:
        ostium = la + np.array(off) * s * an.heart_scale
        pts = np.vstack([_attractors(coarse, lobes == k, n_pts[k - 1], rng) for k in drained])
        tree = grow_tree(ostium, ostium + 0.35 * (pts.mean(0) - ostium), pts)
        veins.append((tree.start, tree.end, tree.radius(1.08 * r_t, _MURRAY), tree.depth))
    cat = np.concatenate
    return {
        "artery": _wiggle(*(cat(v) for v in zip(*[(b[4], b[5], b[1], b[0].depth)
                                                   for b in bundles])), rng),
        "vein": _wiggle(*(cat(v) for v in zip(*veins)), rng),
        "airway": tuple(cat(v) for v in zip(*[(b[0].start, b[0].end, b[2], b[0].depth)
                                              for b in bundles])),
        "airway_outer": cat([b[3] for b in bundles]),
    }


def _wiggle(starts, ends, radii, depth, rng: np.random.Generator):
    """Gently curved vessels: each branch becomes two segments through a midpoint moved
    sideways by ~7 % of its length (ends, so the tree's joints, stay in place)."""
    d = ends - starts
    side = rng.standard_normal(d.shape)
    side -= (np.sum(side * d, 1) / np.maximum(np.sum(d * d, 1), 1e-9))[:, None] * d
    mid = 0.5 * (starts + ends) + 0.07 * side * np.linalg.norm(d, axis=1, keepdims=True)
    two = np.repeat
    return (np.concatenate([starts, mid]), np.concatenate([mid, ends]),
            two(radii[None], 2, 0).ravel(), two(depth[None], 2, 0).ravel())


def _attractors(grid: Grid, mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random points (mm) spread uniformly over the voxels of ``mask``."""
    idx = np.flatnonzero(mask)
    pick = rng.choice(idx, size=min(n, idx.size), replace=False)
    k, j, i = np.unravel_index(pick, grid.shape)
    jitter = rng.uniform(-0.5, 0.5, (pick.size, 3)) * np.array(grid.spacing[::-1])
    return np.c_[grid.x[i], grid.y[j], grid.z[k]] + jitter


def _beside(tree, gap: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Companion branches that run ``gap`` mm beside each branch of ``tree`` (the offset
    direction carried down the tree by parallel transport); the root starts at ``start``."""
    n = len(tree.start)
    a_start, a_end = np.zeros((n, 3)), np.zeros((n, 3))
    offset = np.zeros((n, 3))
    root_dir = np.array([0.0, -1.0, 0.3])
    for b in range(n):
        d = tree.end[b] - tree.start[b]
        d = d / (np.linalg.norm(d) + 1e-9)
        prev = root_dir if tree.parent[b] < 0 else offset[tree.parent[b]]
        o = prev - (prev @ d) * d
        if np.linalg.norm(o) < 1e-6:
            o = np.cross(d, [0.0, 0.0, 1.0])
        offset[b] = o / np.linalg.norm(o)
        a_start[b] = start if tree.parent[b] < 0 else a_end[tree.parent[b]]
        a_end[b] = tree.end[b] + offset[b] * gap[b]
    return a_start, a_end


def _parenchyma(an: _Anatomy, grid: Grid, box, fissures, tex, rng: np.random.Generator
                ) -> np.ndarray:
    """Lung parenchyma HU: -860 on average, denser posteriorly (gravity, supine), with a
    mottled texture; the fissures (distances ``fissures`` in ``box``) as thin, slightly
    dense sheets, the minor fissure incomplete medially."""
    X, Y, Z = grid.mesh()
    s, w = an.s, grid.voxel_mm
    grav = 55 * _smoothstep((Y + 80 * s) / (170 * s))
    par = HU["lung"] - 25 + grav + 12 * smooth_noise(grid, 14 * s, rng) + 6 * tex
    if box is None:
        return par.astype(np.float32)
    X = X[:, :, box[2]]
    ob_r, ob_l, minor = fissures

    def sheet(sd):
        return np.clip(1 - np.abs(sd) / w, 0, 1) * (0.5 / w)

    right = X < an.xm
    fis = np.where(right, sheet(ob_r), sheet(ob_l))
    fis += right * (ob_r > 0) * sheet(minor) * _smoothstep((-X - 55 * s) / (25 * s))
    _paint(par, np.minimum(fis, 1), HU["wall"], box)
    return par.astype(np.float32)


def _render_trees(ph: Thorax3D, trees) -> None:
    """Draw the lung trees: vessel coverage, bronchial walls (lumens >= 0.9 mm radius) and
    lumens (>= 0.45 mm: air bronchograms when the lung around them fills); the lobar
    trunks also into ``hu`` so they continue through hilar fat. Adds thin masks
    ``vessels`` and ``airways``."""
    g, s = ph.grid, ph.anatomy.s
    step = 0.45 * min(g.spacing)
    central = np.zeros(g.shape, np.float32)
    for kind in ("artery", "vein"):
        st, en, r, depth = trees[kind]
        pts, rr = segment_points(st, en, r, r, step)
        tube_coverage(g, pts, rr, out=ph.vessels)
        trunk = depth == 0
        tube_coverage(g, *segment_points(st[trunk], en[trunk], r[trunk], r[trunk], step),
                      out=central)
    _paint(ph.hu, central, HU["blood"])
    st, en, r_l, depth = trees["airway"]
    walls, lumen = r_l >= 0.9 * s, r_l >= 0.45 * s
    outer = tube_coverage(g, *segment_points(st[walls], en[walls], trees["airway_outer"][walls],
                                             trees["airway_outer"][walls], step))
    visible = tube_coverage(g, *segment_points(st[walls], en[walls], r_l[walls], r_l[walls], step))
    tube_coverage(g, *segment_points(st[lumen], en[lumen], r_l[lumen], r_l[lumen], step),
                  out=ph.airway_lumen)
    ph.airway_wall = np.clip(outer - ph.airway_lumen, 0, 1)
    ph.thin_masks["pulmonary_central"] |= central >= 0.5
    ph.thin_masks["airways_visible"] = visible >= 0.5
