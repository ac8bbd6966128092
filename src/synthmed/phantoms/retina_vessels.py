"""Retinal artery and vein trees: growth under Murray's law, and anti-aliased rasterisation.

Frame: millimetres on the retina in a canonical *right-eye* frame, fovea at the origin,
``x`` towards the image right (nasal for a right eye), ``y`` down (inferior); a left eye is
drawn mirrored by :class:`synthmed.phantoms.retina.EyeGeometry`.

Each tree (arteries, veins) starts at the central retinal vessel in the optic disc, splits
into superior and inferior papillary branches and then into temporal (arcade) and nasal
branches, and keeps branching. At every bifurcation the children's radii obey **Murray's
law**, ``r0**3 == r1**3 + r2**3``, with an asymmetry ``r2 / r1`` drawn per split, and the
children leave at Murray's minimum-work angles (Murray 1926; Zamir 1978):
``cos(theta1) = (r0**4 + r1**4 - r2**4) / (2 r0**2 r1**2)`` (and 1 <-> 2), so a small side
branch leaves almost at right angles and the larger child barely turns. Vessels taper
slightly between splits, wander with a smooth random curvature (an Ornstein-Uhlenbeck
process whose size is ``tortuosity``), keep apart from vessels of their own kind (a density
grid sensed ahead of the tip), bend around and stop short of the foveal avascular zone, do
not cross the temporal raphe, and end below a visible calibre. The temporal trunks follow
a quarter-ellipse over and under the macula and then fan out temporally (the vascular
arcades). Calibres are photographic blood-column widths (temporal arcade artery ~170 um,
vein 1.1-1.3x wider, twigs end at ~40 um), chosen so that vessel pixel fraction and width
resemble the DRIVE manual annotations.

>>> import numpy as np
>>> tree = grow_tree((4.5, -0.3), 0.85, (0.0, 0.0), 6.5, 0.3, 1.2, np.random.default_rng(0))
>>> b = tree.bifurcations[0]
>>> round(b.r1 ** 3 + b.r2 ** 3, 12) == round(b.r0 ** 3, 12)       # Murray's law
True
>>> sorted({v.kind for v in tree.vessels})
['artery', 'vein']
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Vessel", "Bifurcation", "VesselTree", "murray_split", "murray_angles",
           "grow_tree", "rasterise_vessels", "VesselMaps"]

DS_MM = 0.025            # growth step along a vessel
R_MIN_MM = 0.02          # vessels end below ~40 um diameter (visible twigs at 45 degrees)
FAZ_STOP_MM = 0.45       # visible vessels end this far from the foveal centre
ARTERY_ROOT_MM = 0.115   # central retinal artery at the disc: photographic column radius
_CELL_MM = 0.1           # density grid cell


@dataclass
class Vessel:
    """One unbranched vessel: centreline ``xy`` (n, 2) in mm and lumen ``radius`` (n,) in mm."""

    kind: str
    xy: np.ndarray
    radius: np.ndarray
    parent: int
    generation: int


@dataclass(frozen=True)
class Bifurcation:
    """A split of a parent (radius ``r0``, mm) into children ``r1 >= r2`` at ``xy`` (mm)."""

    kind: str
    xy: tuple[float, float]
    r0: float
    r1: float
    r2: float
    angle1_deg: float
    angle2_deg: float


@dataclass
class VesselTree:
    vessels: list[Vessel]
    bifurcations: list[Bifurcation]


def murray_split(r0: float, asymmetry: float) -> tuple[float, float]:
    """Children radii ``(r1, r2)`` with ``r1**3 + r2**3 == r0**3`` and ``r2 / r1 == asymmetry``.

    >>> r1, r2 = murray_split(1.0, 1.0)
    >>> round(r1, 4), round(r1 ** 3 + r2 ** 3, 6)
    (0.7937, 1.0)
    """
    r1 = r0 / (1.0 + asymmetry ** 3) ** (1.0 / 3.0)
    return r1, asymmetry * r1


def murray_angles(r0: float, r1: float, r2: float) -> tuple[float, float]:
    """Minimum-work branch angles (radians) of children ``r1`` and ``r2`` from the parent axis.

    >>> [round(math.degrees(a), 1) for a in murray_angles(1.0, *murray_split(1.0, 1.0))]
    [37.5, 37.5]
    """
    c1 = (r0 ** 4 + r1 ** 4 - r2 ** 4) / (2 * r0 ** 2 * r1 ** 2)
    c2 = (r0 ** 4 + r2 ** 4 - r1 ** 4) / (2 * r0 ** 2 * r2 ** 2)
    return math.acos(min(1.0, max(-1.0, c1))), math.acos(min(1.0, max(-1.0, c2)))


def _wrap(a):
    return (a + math.pi) % (2 * math.pi) - math.pi


class _Density:
    """Vessel length per area (mm/mm^2) per kind, averaged over 3 x 3 cells of 0.1 mm (kept
    pre-summed, so that sensing at a growing tip is one lookup)."""

    def __init__(self, centre, half):
        self.x0, self.y0 = centre[0] - half, centre[1] - half
        self.n = int(2 * half / _CELL_MM) + 1
        self.grid = {k: np.zeros((self.n + 2, self.n + 2)) for k in ("artery", "vein")}

    def add(self, kind, xy, weight):
        i = ((xy[:, 1] - self.y0) / _CELL_MM).astype(int) + 1
        j = ((xy[:, 0] - self.x0) / _CELL_MM).astype(int) + 1
        ok = (i >= 1) & (i <= self.n) & (j >= 1) & (j <= self.n)
        w = weight[ok] * DS_MM / _CELL_MM ** 2 / 9.0
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                np.add.at(self.grid[kind], (i[ok] + di, j[ok] + dj), w)

    def sense(self, kind, x, y, other=0.7):
        i, j = int((y - self.y0) / _CELL_MM) + 1, int((x - self.x0) / _CELL_MM) + 1
        if not (1 <= i <= self.n and 1 <= j <= self.n):
            return 0.0
        own = self.grid[kind][i, j]
        return own + other * self.grid["vein" if kind == "artery" else "artery"][i, j] \
            if other else own


@dataclass
class _Tip:
    x: float
    y: float
    theta: float
    r: float
    kind: str
    guide: str          # "papillary", "arcade", "nasal" or "free"
    hemi: float         # -1 superior, +1 inferior
    parent: int
    generation: int
    pref: float         # preferred heading of a free vessel (radians)
    inner_first: bool = False


def grow_tree(disc_xy, disc_radius_mm, fov_centre_xy, fov_radius_mm, tortuosity, vein_ratio,
              rng, arcade_b_mm=3.3, density=1.0) -> VesselTree:
    """Grow the artery and vein trees (see the module docstring); all lengths in mm.

    ``tortuosity`` (0-1) scales the random curvature, ``vein_ratio`` (1.1-1.3) the vein/artery
    calibre, ``arcade_b_mm`` the half-height of the temporal arcades at the fovea and
    ``density`` (about 0.7-1.3) how closely vessels of one kind may pack.
    """
    dx, dy = disc_xy
    a_arc = abs(dx) + 0.1
    arc = {(k, h): (arcade_b_mm + rng.uniform(-0.7, 0.7), -rng.uniform(0.3, 2.0),
                    dx + rng.uniform(-0.15, 0.35))
           for k in ("artery", "vein") for h in (-1.0, 1.0)}   # companion arcades differ
    dens = _Density(fov_centre_xy, fov_radius_mm + 1.0)
    reach2 = (fov_radius_mm + 0.4) ** 2
    fx, fy = fov_centre_xy
    sigma_k = 0.2 + 2.5 * tortuosity              # curvature s.d. (1/mm) of a 50 um radius vessel
    ell = 0.6                                     # curvature correlation length (mm)
    decay = math.exp(-DS_MM / ell)
    kick = math.sqrt(1 - decay ** 2)
    crowd = 1.1 * density                         # mm/mm^2 where free tips stop

    vessels: list[Vessel] = []
    bifs: list[Bifurcation] = []
    queue: deque[_Tip] = deque()
    for kind in ("artery", "vein"):
        r_root = ARTERY_ROOT_MM * (vein_ratio if kind == "vein" else 1.0)
        ox = dx + (0.1 if kind == "artery" else -0.1) + rng.normal(0, 0.03)
        oy = dy + rng.normal(0, 0.04)
        r_s, r_i = murray_split(r_root, rng.uniform(0.8, 1.0))
        if rng.random() < 0.5:
            r_s, r_i = r_i, r_s
        t1, t2 = murray_angles(r_root, max(r_s, r_i), min(r_s, r_i))
        bifs.append(Bifurcation(kind, (ox, oy), r_root, max(r_s, r_i), min(r_s, r_i),
                                math.degrees(t1), math.degrees(t2)))
        for hemi, r in ((-1.0, r_s), (1.0, r_i)):
            tilt = 0.15 if kind == "artery" else -0.15     # artery nasal, vein temporal
            th = math.atan2(hemi, 0.0) - hemi * tilt + rng.normal(0, 0.1)
            queue.append(_Tip(ox, oy, th, r, kind, "papillary", hemi, -1, 1, th))

    steps_cap = 80000
    while queue and steps_cap > 0:
        tip = queue.popleft()
        x, y, th, r = tip.x, tip.y, tip.theta, tip.r
        kind, guide, hemi, pref = tip.kind, tip.guide, tip.hemi, tip.pref
        trunk = guide != "free"
        pts, rads = [(x, y)], [r]
        kappa = rng.normal(0, 0.5) * sigma_k
        s = 0.0
        seg_len = disc_radius_mm * rng.uniform(0.2, 0.45) if guide == "papillary" \
            else _segment_length(r, rng, trunk)
        taper = math.exp(-DS_MM * rng.uniform(0.01, 0.04) / 0.8)
        n_split = 0
        while True:
            s_seg, ended = 0.0, False
            while s_seg < seg_len:
                steps_cap -= 1
                sk = sigma_k * (0.05 / max(r, 0.012)) ** 0.25
                kappa = kappa * decay + sk * kick * rng.standard_normal()
                turn = kappa
                if guide == "arcade":
                    b_k, x_apex, x_end = arc[kind, hemi]
                    turn += 2.5 * _wrap(_arcade_dir(x, y, x_end, x_apex, b_k, hemi, th) - th)
                elif guide == "nasal":
                    turn += 1.5 * _wrap(math.atan2(y - dy, x - dx) - th)
                elif s > 0.1:
                    pref = pref + 0.5 * DS_MM * _wrap(_free_dir(x, y, dx, dy, a_arc, arcade_b_mm)
                                                       - pref)
                    turn += 1.0 * _wrap(pref - th)
                rho = math.hypot(x, y)
                r_avoid = 0.5 + 25 * r
                if r > 0.025 and rho < r_avoid and guide != "papillary":  # clear of the macula
                    away = math.atan2(y, x)
                    if math.cos(th - away) < 0.3:
                        side = 1.0 if _wrap(away - th) > 0 else -1.0
                        turn += side * 15.0 * (r_avoid - rho) / r_avoid
                if s > 0.12 and guide != "papillary":
                    p = 0.3
                    dl = dens.sense(kind, x + p * math.cos(th - 0.6), y + p * math.sin(th - 0.6))
                    dr = dens.sense(kind, x + p * math.cos(th + 0.6), y + p * math.sin(th + 0.6))
                    turn += (0.4 if trunk else 1.2) * (dl - dr)
                    if not trunk and s > 0.25 and dens.sense(
                            kind, x + 0.2 * math.cos(th), y + 0.2 * math.sin(th), 0.0) > crowd:
                        ended = True
                        break
                th += turn * DS_MM
                x += DS_MM * math.cos(th)
                y += DS_MM * math.sin(th)
                r *= taper
                s += DS_MM
                s_seg += DS_MM
                pts.append((x, y))
                rads.append(r)
                rho = math.hypot(x, y)
                if ((x - fx) ** 2 + (y - fy) ** 2 > reach2 or rho < FAZ_STOP_MM + 3 * r
                        or (x < -0.6 and y * hemi < -0.05 and guide != "papillary")
                        or (guide == "free" and s > 0.2
                            and (x - dx) ** 2 + (y - dy) ** 2 < disc_radius_mm ** 2)):
                    ended = True
                    break
            if ended:
                break
            if r < R_MIN_MM and guide != "papillary":     # terminal twig: fade out, stop
                for _ in range(int(rng.uniform(0.15, 0.5) / DS_MM)):
                    kappa = kappa * decay + sigma_k * 1.3 * kick * rng.standard_normal()
                    th += (kappa + _wrap(pref - th)) * DS_MM
                    x, y = x + DS_MM * math.cos(th), y + DS_MM * math.sin(th)
                    r *= 0.985
                    pts.append((x, y))
                    rads.append(r)
                    if math.hypot(x, y) < FAZ_STOP_MM + 3 * r:
                        break
                break
            # bifurcate (Murray), unless the side branch would start in a crowded spot
            side = 1.0 if rng.random() < 0.5 else -1.0
            if guide == "papillary":
                alpha = rng.uniform(0.55, 0.85)
            elif trunk:   # side branches into the macula are small, outwards larger
                inner = (n_split == 0 and tip.inner_first) or rng.random() < 0.5
                alpha = rng.uniform(0.3, 0.6) if inner else rng.uniform(0.35, 0.8)
            else:
                alpha = rng.uniform(0.35, 0.7) if rng.random() < 0.6 else rng.uniform(0.7, 1.0)
            r1, r2 = murray_split(r, alpha)
            t1, t2 = murray_angles(r, r1, r2)
            if guide == "papillary":   # the larger child is the temporal (arcade) trunk
                side = 1.0 if math.cos(th + t1) < math.cos(th - t1) else -1.0
            elif trunk:                # small child towards the fovea when ``inner``
                to_f = math.hypot(x + math.cos(th - t2), y + math.sin(th - t2)) \
                    < math.hypot(x + math.cos(th + t2), y + math.sin(th + t2))
                side = 1.0 if to_f == inner else -1.0
            th1, th2 = th + side * t1, th - side * t2
            px2, py2 = x + 0.3 * math.cos(th2), y + 0.3 * math.sin(th2)
            n_split += 1
            if guide != "papillary" and (dens.sense(kind, px2, py2, 0.0) > 0.8 * crowd
                                         or math.hypot(px2, py2) < FAZ_STOP_MM + 0.3
                                         or (px2 - fx) ** 2 + (py2 - fy) ** 2 > reach2):
                seg_len = _segment_length(r, rng, trunk)   # no room: carry on unbranched
                continue
            idx = len(vessels)
            g1 = "arcade" if guide == "papillary" else guide
            g2 = "nasal" if guide == "papillary" else "free"
            bifs.append(Bifurcation(kind, (x, y), r, r1, r2, math.degrees(t1), math.degrees(t2)))
            queue.append(_Tip(x, y, th1, r1, kind, g1, hemi, idx, tip.generation + 1, th1,
                              guide == "papillary"))
            queue.append(_Tip(x, y, th2, r2, kind, g2, hemi, idx, tip.generation + 1, th2))
            break
        xy = np.asarray(pts, float)
        rad = np.asarray(rads, float)
        vessels.append(Vessel(kind, xy, rad, tip.parent, tip.generation))
        dens.add(kind, xy, np.clip(rad / 0.025, 0.6, 2.5))
    return VesselTree(vessels, bifs)


def _segment_length(r, rng, trunk=True):
    """Length (mm) between visible branchings: ~0.5-1.4 mm along a 50 um trunk, 0.8-2 mm along
    other vessels; shorter when thinner."""
    lo, hi = (0.5, 1.4) if trunk else (0.8, 2.0)
    return max(0.3, rng.uniform(lo, hi) * (r / 0.05) ** 0.3)


def _arcade_dir(x, y, dx, xc, b, hemi, th):
    """Heading along a temporal arcade: a quarter-ellipse from the disc (``x ~ dx``) to its apex
    ``b`` mm above/below the fovea at ``x = xc``, then temporally, diverging (slope 0.4); with a
    pull back onto that curve."""
    a = dx - xc + 0.1
    if x > xc:
        u = min((x - xc) / a, 0.995)
        root = math.sqrt(1 - u * u)
        yc, slope = hemi * b * root, -hemi * b * u / (a * root)
    else:
        yc, slope = hemi * (b + 0.4 * (xc - x)), -hemi * 0.4
    hx, hy = -1.0, -slope
    n = math.hypot(hx, hy)
    return math.atan2(hy / n + 1.5 * (yc - y), hx / n)


def _free_dir(x, y, dx, dy, a, b):
    """Preferred heading of side branches: towards the fovea inside the arcades (they end at
    the avascular zone), away from the disc and the fovea outside them."""
    nd = math.hypot(x - dx, y - dy) + 1e-9
    nf = math.hypot(x, y) + 1e-9
    e = math.hypot((x - (dx - a)) / a, y / b)
    w = min(1.0, max(0.0, (e - 0.75) / 0.3))       # 0 inside the arcades, 1 outside
    ox, oy = (x - dx) / nd + 0.8 * x / nf, (y - dy) / nd + 0.8 * y / nf
    no = math.hypot(ox, oy) + 1e-9
    return math.atan2(w * oy / no - (1 - w) * y / nf, w * ox / no - (1 - w) * x / nf)


@dataclass
class VesselMaps:
    """Rasters of one kind: blood path ``blood_mm`` (mm), ``mask``, light ``reflex`` (0-1)."""

    blood_mm: np.ndarray
    mask: np.ndarray
    reflex: np.ndarray


def rasterise_vessels(vessels, to_px, shape, px_mm, min_mask_radius_px=0.5) -> VesselMaps:
    """Render vessels (all of one kind) on a pixel grid, anti-aliased from the centreline.

    ``to_px(xy_mm) -> (rows, cols)`` maps the canonical frame to continuous pixel
    coordinates. Every pixel takes its nearest centreline sample (exact Euclidean distance
    transform over samples at <= 0.5 px spacing; the larger vessel wins a shared pixel) and
    its distance ``d`` to the local tangent line. The blood path length is the cylinder's
    chord ``2 sqrt(r^2 - d^2)`` for vessels wider than ~3 px, blending (below ~2 px radius)
    into the Gaussian of the same integral and variance (``r^2/4`` plus the pixel's
    ``1/12``), so thin vessels fade instead of aliasing. The mask is ``d <= r`` (the
    half-width threshold of the rendered profile), except that vessels thinner than a pixel
    are labelled ``2 * min_mask_radius_px`` (one pixel) wide so that they stay connected, as
    in manual annotations.
    """
    rows, cols, tr, tc, rad = [], [], [], [], []
    for v in vessels:
        r, c = to_px(v.xy)
        seg = np.hypot(np.diff(r), np.diff(c))
        s = np.concatenate([[0.0], np.cumsum(seg)])
        if s[-1] < 0.5:
            continue
        n = int(np.ceil(s[-1] / 0.45)) + 1
        t = np.linspace(0, s[-1], n)
        rr, cc = np.interp(t, s, r), np.interp(t, s, c)
        rv = np.interp(t, s, v.radius) / px_mm
        gr, gc = np.gradient(rr), np.gradient(cc)
        nn = np.hypot(gr, gc) + 1e-12
        skip = t >= min(rv[0] * 1.2, s[-1] * 0.5) if v.parent >= 0 else np.ones(n, bool)
        rows.append(rr[skip]), cols.append(cc[skip]), rad.append(rv[skip])
        tr.append((gr / nn)[skip]), tc.append((gc / nn)[skip])
    h, w = shape
    if not rows:
        z = np.zeros(shape, np.float32)
        return VesselMaps(z, np.zeros(shape, bool), z.copy())
    rows, cols, rad = np.concatenate(rows), np.concatenate(cols), np.concatenate(rad)
    tr, tc = np.concatenate(tr), np.concatenate(tc)
    i, j = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    ok = (i >= 0) & (i < h) & (j >= 0) & (j < w)
    order = np.argsort(rad[ok], kind="stable")
    idx = np.nonzero(ok)[0][order]
    owner = np.full(h * w, -1, np.int64)
    np.maximum.at(owner, i[idx] * w + j[idx], np.arange(idx.size))
    owner = owner.reshape(shape)
    if (owner < 0).all():
        z = np.zeros(shape, np.float32)
        return VesselMaps(z, np.zeros(shape, bool), z.copy())
    near = ndimage.distance_transform_edt(owner < 0, return_distances=False, return_indices=True)
    k = idx[owner[near[0], near[1]]]
    pr = np.arange(h)[:, None] + 0.5 - rows[k]
    pc = np.arange(w)[None, :] + 0.5 - cols[k]
    along = pr * tr[k] + pc * tc[k]
    perp = pr * tc[k] - pc * tr[k]
    d2 = perp ** 2 + np.maximum(np.abs(along) - 0.6, 0.0) ** 2
    r = rad[k]
    var = r ** 2 / 4 + 1 / 12
    gauss = np.pi * r ** 2 / np.sqrt(2 * np.pi * var) * np.exp(-d2 / (2 * var))
    chord = 2 * np.sqrt(np.maximum(r ** 2 + 0.25 - d2, 0.0))
    w = np.clip(r - 0.8, 0.0, 1.0)
    blood = (w * chord + (1 - w) * gauss) * px_mm
    mask = d2 <= np.maximum(r, min_mask_radius_px) ** 2
    reflex = np.exp(-d2 / (2 * (0.2 * r + 0.25) ** 2)) * np.clip((r - 0.8) / 1.5, 0, 1)
    return VesselMaps(blood.astype(np.float32), mask, reflex.astype(np.float32))
