"""Lesions of diabetic retinopathy (ICDR grades 0-4) and age-related macular degeneration.

Quantitative mapping of the International Clinical Diabetic Retinopathy scale (Wilkinson et
al. 2003) used here. Quadrants are split by the horizontal and vertical lines through the
fovea (a single-field stand-in for the ETDRS quadrants); counts are drawn inside the field
of view.

====== ============================================ =========================================
grade  definition                                   drawn here
====== ============================================ =========================================
0      no abnormalities                             nothing
1      microaneurysms only                          1-8 microaneurysms (MA, 25-100 um)
2      more than MAs, less than severe              8-20 MAs; 2-14 dot/blot/flame
                                                    haemorrhages (< 20 in every quadrant);
                                                    0-25 hard exudates; 0-3 cotton-wool spots
3      4-2-1 rule: > 20 intraretinal haemorrhages   20-40 MAs; 21-30 haemorrhages in *each*
       in each of 4 quadrants, or venous beading    of the 4 quadrants; 5-40 hard exudates;
       in >= 2 quadrants, or IRMA in >= 1           1-6 cotton-wool spots; venous beading in
                                                    0-4 quadrants (>= 2 if a quadrant lies
                                                    mostly outside the field and holds <= 20
                                                    haemorrhages); no IRMA is drawn
4      neovascularisation and/or vitreous or        grade 3 findings plus new vessels at the
       preretinal haemorrhage                       disc (NVD) and/or elsewhere (NVE, 1-2
                                                    fronds on the arcades); a boat-shaped
                                                    preretinal haemorrhage (p = 0.5) and a
                                                    vitreous haze (p = 0.3, no mask)
====== ============================================ =========================================

Every count is ``lo + q * (hi - lo)`` for one uniform draw ``q`` per lesion type shared by all
grades, and positions are the first ``n`` of a candidate list drawn once, so the same eye at a
higher grade keeps its lesions and gains more (counts never fall as the grade rises).

AMD follows the Beckman classification (Ferris et al. 2013): ``early``: medium drusen
(63-125 um); ``intermediate``: large drusen (> 125 um, soft, fuzzy edges);
``geographic_atrophy``: intermediate findings plus a sharply demarcated atrophic area
(1-8 mm^2, near or at the fovea) through which the large choroidal vessels show.

>>> import numpy as np
>>> from synthmed.phantoms.retina import draw_geometry
>>> g = draw_geometry((128, 128), 45.0, "R", "macula", None, 0.94, np.random.default_rng(0))
>>> [len(draw_dr(k, g, np.random.default_rng(1)).lesions) > 0 for k in range(5)]
[False, True, True, True, True]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from synthmed.phantoms.retina_vessels import Vessel

__all__ = ["Lesion", "DRFindings", "draw_dr", "draw_amd", "apply_beading", "quadrant",
           "LESION_KINDS"]

LESION_KINDS = ("microaneurysm", "haemorrhage", "hard_exudate", "cotton_wool_spot",
                "neovascularisation", "preretinal_haemorrhage", "drusen", "geographic_atrophy")
QUADRANTS = ("superotemporal", "inferotemporal", "superonasal", "inferonasal")

# (layer, colour it tends to, opacity) or multiplicative darkening for the red lesions
_LOOK = {
    "microaneurysm": ("intra", "dark", (0.3, 0.72, 0.6)),
    "haemorrhage": ("intra", "dark", (0.28, 0.68, 0.55)),
    "hard_exudate": ("intra", (1.3, 1.08, 0.5), 0.85),
    "cotton_wool_spot": ("intra", (1.15, 1.0, 0.85), 0.8),
    "drusen": ("sub", (1.25, 0.95, 0.52), 0.75),
    "geographic_atrophy": ("sub", None, 1.0),
    "preretinal_haemorrhage": ("pre", (0.5, 0.1, 0.06), 0.92),
}


def quadrant(x, y) -> int:
    """Index into ``QUADRANTS`` of a canonical-frame point (mm; temporal = ``x < 0``)."""
    return (0 if y < 0 else 1) + (0 if x < 0 else 2)


@dataclass
class Lesion:
    """One lesion: an irregular ellipse (canonical mm) and how it looks.

    ``radius_mm`` is the semi-major axis, ``aspect`` minor/major, ``angle`` the major axis'
    direction, ``rough`` four harmonic amplitudes of the outline, ``edge`` the soft edge as
    a fraction of the radius (0: sharp), ``flat_top`` (preretinal) a horizontal upper border
    at that fraction of the height. The label is the outline itself; lesions smaller than a
    pixel are labelled as the one pixel under their centre.
    """

    kind: str
    centre: tuple[float, float]
    radius_mm: float
    aspect: float = 1.0
    angle: float = 0.0
    rough: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    phase: float = 0.0
    edge: float = 0.0
    strength: float = 1.0
    flat_top: float | None = None
    mask: np.ndarray | None = field(default=None, repr=False)
    window: tuple | None = field(default=None, repr=False)

    @property
    def layer(self) -> str:
        return _LOOK[self.kind][0]

    def coverage(self, geom):
        """Pixel window, soft coverage (0-1), exact mask and inner depth (1 at the centre, 0
        on the outline) of the lesion in it."""
        sl = geom.window(self.centre, self.radius_mm * (1.6 + self.edge))
        X, Y = geom.X[sl] - self.centre[0], geom.Y[sl] - self.centre[1]
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        u, v = X * ca + Y * sa, (-X * sa + Y * ca) / self.aspect
        rho = np.hypot(u, v) / self.radius_mm
        th = np.arctan2(v, u)
        bound = 1.0 + sum(a * np.cos((k + 2) * th + (k + 1) * self.phase)
                          for k, a in enumerate(self.rough))
        if self.flat_top is not None:
            bound = np.where(Y < -self.flat_top * self.radius_mm * self.aspect, 0.0, bound)
        mask = rho < bound
        px = geom.px_mm
        minor = self.radius_mm * self.aspect
        if minor < 1.2 * px:        # sub-pixel: area-preserving blur instead of an outline
            s2u, s2v = self.radius_mm ** 2 / 4 + px * px / 4, minor ** 2 / 4 + px * px / 4
            cov = self.radius_mm * minor / (2 * np.sqrt(s2u * s2v)) * np.exp(
                -0.5 * (u * u / s2u + (v * self.aspect) ** 2 / s2v))
            cov = np.minimum(cov, 1.0)
        else:
            soft = max(self.edge * self.radius_mm, 0.5 * px)
            cov = np.clip((bound - rho) * self.radius_mm / soft + 0.5, 0, 1)
        if not mask.any() and mask.size:
            r, c = geom.landmark(self.centre)
            i, j = int(r) - sl[0].start, int(c) - sl[1].start
            if 0 <= i < mask.shape[0] and 0 <= j < mask.shape[1]:
                mask[i, j] = True
        depth = np.clip(1 - rho / np.maximum(bound, 1e-3), 0, 1)
        return sl, cov.astype(np.float32), mask, depth.astype(np.float32)

    def paint(self, alb, geom, choroid):
        sl, cov, mask, depth = self.coverage(geom)
        self.window, self.mask = sl, mask
        layer, col, k = _LOOK[self.kind]
        if self.kind in ("haemorrhage", "drusen", "cotton_wool_spot"):  # denser centre
            cov = cov * (0.65 + 0.35 * np.sqrt(depth))
        if self.kind == "cotton_wool_spot" and cov.size:   # fluffy (swollen nerve fibres)
            tex = ndimage.gaussian_filter(np.random.default_rng(int(self.phase * 1e6))
                                          .standard_normal(cov.shape), 0.03 / geom.px_mm)
            cov = cov * np.clip(0.75 + 0.25 * tex / (tex.std() + 1e-9), 0, 1)
        a = (cov * self.strength)[..., None]
        if self.kind == "geographic_atrophy":  # RPE gone: pale, with large choroidal vessels
            ch = choroid[sl][..., None]
            bare = np.array([1.25, 0.85, 0.6], np.float32) * (1 - 0.6 * ch) \
                + np.array([1.1, 0.42, 0.25], np.float32) * 0.6 * ch
            alb[sl] = alb[sl] * (1 - a) + bare * a
        elif col == "dark":
            alb[sl] = alb[sl] * (1 - a * np.asarray(k, np.float32))
        else:
            alb[sl] = alb[sl] * (1 - k * a) + np.asarray(col, np.float32) * k * a


@dataclass
class DRFindings:
    """What :func:`draw_dr` placed: lesions, new vessels and their complexes, and facts."""

    lesions: list[Lesion]
    nv: list[Vessel]
    nv_sites: list[tuple[tuple[float, float], float]]   # (centre mm, radius mm) per complex
    beading_quadrants: tuple[int, ...]
    vitreous_haemorrhage: bool
    attributes: dict


def _lerp(lo, hi, q):
    return int(round(lo + q * (hi - lo)))


def _pool(geom, rng, n, sampler, min_fovea=0.3):
    """Up to ``n`` candidate points from ``sampler(rng)`` inside the FOV, off the disc."""
    out = []
    fx, fy = geom.fov_centre
    dx, dy = geom.disc_centre
    for _ in range(n * 4):
        x, y = sampler(rng)
        if ((x - fx) ** 2 + (y - fy) ** 2 < (geom.fov_radius_mm - 0.25) ** 2
                and ((x - dx) / (geom.disc_h_mm * 0.6)) ** 2
                + ((y - dy) / (geom.disc_v_mm * 0.6)) ** 2 > 1 and math.hypot(x, y) > min_fovea):
            out.append((x, y))
            if len(out) == n:
                break
    return out


def _in_fov(geom, c, margin):
    fx, fy = geom.fov_centre
    return (c[0] - fx) ** 2 + (c[1] - fy) ** 2 < (geom.fov_radius_mm - margin) ** 2


def _posterior(sd):
    return lambda r: (r.normal(-0.5, sd), r.normal(0, sd * 0.85))


def draw_dr(grade: int, geom, rng) -> DRFindings:
    """Diabetic-retinopathy lesions of ICDR ``grade`` (see the table in the module docstring)."""
    s_q, s_ma, s_h, s_h4, s_he, s_cws, s_nv, s_pre = rng.spawn(8)
    q = s_q.random(12)
    lesions: list[Lesion] = []
    attrs = {}
    n_ma = 0 if grade == 0 else _lerp(1, 8, q[0]) if grade == 1 else \
        _lerp(8, 20, q[0]) if grade == 2 else _lerp(20, 40, q[0])
    for (x, y) in _pool(geom, s_ma, 40, _posterior(2.2), 0.4)[:n_ma]:
        lesions.append(Lesion("microaneurysm", (x, y), float(s_ma.uniform(0.0125, 0.05)),
                              strength=float(s_ma.uniform(0.7, 1.0))))
    haem = []
    if grade == 2:
        haem = _pool(geom, s_h, 14, _posterior(2.5), 0.5)[:_lerp(2, 14, q[1])]
    elif grade >= 3:
        for k in range(4):
            sx, sy = (-1 if k < 2 else 1), (-1 if k % 2 == 0 else 1)
            samp = (lambda r, sx=sx, sy=sy: (sx * abs(r.uniform(0.4, 6.0)),
                                             sy * abs(r.uniform(0.4, 5.0))))
            pts = [p for p in _pool(geom, s_h4, 40, samp, 0.5) if quadrant(*p) == k]
            haem += pts[:_lerp(21, 30, 0.5 * (q[1] + q[8 + k]))]
    per_q = [0, 0, 0, 0]
    for (x, y) in haem:
        per_q[quadrant(x, y)] += 1
        kind = s_h.random()
        near_disc = math.hypot(x - geom.disc_centre[0], y - geom.disc_centre[1]) < 3.5
        if kind < 0.2 and near_disc:        # flame: along the nerve fibres, radial to the disc
            ang = math.atan2(y - geom.disc_centre[1], x - geom.disc_centre[0])
            lesions.append(Lesion("haemorrhage", (x, y), float(s_h.uniform(0.15, 0.35)),
                                  float(s_h.uniform(0.25, 0.4)), ang,
                                  tuple(s_h.uniform(-0.08, 0.08, 4)), s_h.uniform(0, 6.3), 0.3,
                                  float(s_h.uniform(0.6, 0.9))))
        elif kind < 0.7:                    # dot: 60-150 um
            lesions.append(Lesion("haemorrhage", (x, y), float(s_h.uniform(0.03, 0.075)),
                                  float(s_h.uniform(0.8, 1.0)), 0.0, (0, 0, 0, 0), 0.0, 0.2,
                                  float(s_h.uniform(0.7, 1.0))))
        else:                               # blot: 150-400 um, irregular
            rough = (*s_h.uniform(-0.1, 0.1, 2), 0.0, 0.0)
            lesions.append(Lesion("haemorrhage", (x, y), float(s_h.uniform(0.075, 0.2)),
                                  float(s_h.uniform(0.6, 1.0)), float(s_h.uniform(0, 3.2)),
                                  rough, s_h.uniform(0, 6.3), 0.3, float(s_h.uniform(0.6, 0.95))))
    n_he = 0 if grade < 2 else _lerp(0, 25, q[2]) if grade == 2 else _lerp(5, 40, q[2])
    if n_he:
        centres = _pool(geom, s_he, 4, _posterior(1.6), 0.8) or [(-0.8, 0.0)]
        for i in range(n_he):
            cx, cy = centres[i % len(centres)]
            ring = s_he.uniform(0.15, 0.7)
            a = s_he.uniform(0, 2 * math.pi)
            p = (cx + ring * math.cos(a), cy + ring * math.sin(a))
            lesions.append(Lesion("hard_exudate", p, float(s_he.uniform(0.015, 0.09)),
                                  float(s_he.uniform(0.6, 1.0)), float(s_he.uniform(0, 3.2)),
                                  tuple(s_he.uniform(-0.15, 0.15, 4)), s_he.uniform(0, 6.3),
                                  0.1, float(s_he.uniform(0.7, 1.0))))
    n_cws = 0 if grade < 2 else _lerp(0, 3, q[3]) if grade == 2 else _lerp(1, 6, q[3])
    dxc, dyc = geom.disc_centre
    cws_pts = _pool(geom, s_cws, 6, lambda r: (dxc + r.normal(-1.8, 1.6), r.choice([-1, 1])
                                               * abs(r.normal(1.6, 0.9))), 1.2)
    for p in cws_pts[:n_cws]:
        lesions.append(Lesion("cotton_wool_spot", p, float(s_cws.uniform(0.12, 0.35)),
                              float(s_cws.uniform(0.5, 0.85)), float(s_cws.uniform(0, 3.2)),
                              (*s_cws.uniform(-0.12, 0.12, 2), 0.0, 0.0), s_cws.uniform(0, 6.3),
                              0.6, float(s_cws.uniform(0.7, 1.0))))
    n_bead = 0 if grade < 3 else _lerp(0, 4, q[4])
    if grade >= 3 and min(per_q) <= 20:     # 4-2-1 met by venous beading instead
        n_bead = max(n_bead, 2)
    beading = tuple(int(k) for k in s_q.permutation(4)[:n_bead])
    nv, sites, vitreous = [], [], False
    if grade == 4:
        kind = ("NVD", "NVE", "both")[int(q[5] * 3)]
        if kind in ("NVD", "both"):
            sites.append(((dxc + s_nv.normal(0, 0.3), dyc + s_nv.normal(0, 0.3)),
                          float(s_nv.uniform(0.5, 0.9))))
        if kind in ("NVE", "both"):
            for _ in range(1 + int(s_nv.random() < 0.4)):
                hemi = s_nv.choice([-1.0, 1.0])
                sites.append(((float(s_nv.uniform(-1.5, 2.5)), hemi * geom.arcade_b_mm * 0.95),
                              float(s_nv.uniform(0.35, 0.7))))
        sites = [(c, r) for c, r in sites if _in_fov(geom, c, r)] or \
            [((dxc, dyc), float(s_nv.uniform(0.5, 0.9)))]        # NVE out of view: NVD
        for c, r in sites:
            nv += _nv_complex(c, r, s_nv)
        if q[6] < 0.5:
            c = (dxc - s_pre.uniform(1.0, 3.5), s_pre.uniform(0.3, 2.5) * s_pre.choice([-1, 1]))
            if _pool(geom, s_pre, 1, lambda _r: c, 1.0):
                lesions.append(Lesion("preretinal_haemorrhage", c,
                                      float(s_pre.uniform(0.6, 1.4)),
                                      float(s_pre.uniform(0.55, 0.8)), 0.0,
                                      tuple(s_pre.uniform(-0.05, 0.05, 4)), 0.0, 0.05, 0.95,
                                      flat_top=float(s_pre.uniform(0.0, 0.5))))
        vitreous = bool(q[7] < 0.3)
    attrs.update(haemorrhages_per_quadrant=",".join(str(n) for n in per_q),
                 venous_beading_quadrants=len(beading), nvd=any(
                     math.hypot(c[0] - dxc, c[1] - dyc) < 1.5 for c, _ in sites),
                 nve=any(math.hypot(c[0] - dxc, c[1] - dyc) >= 1.5 for c, _ in sites),
                 vitreous_haemorrhage=vitreous)
    return DRFindings(lesions, nv, sites, beading, vitreous, attrs)


def _nv_complex(centre, radius, rng) -> list[Vessel]:
    """A tangle of fine new vessels: 8-16 looping loops of 12-24 um calibre within ``radius``."""
    out = []
    for _ in range(int(rng.integers(8, 17))):
        a = rng.uniform(0, 2 * math.pi)
        x = centre[0] + rng.uniform(0, 0.5) * radius * math.cos(a)
        y = centre[1] + rng.uniform(0, 0.5) * radius * math.sin(a)
        th, k = rng.uniform(0, 2 * math.pi), rng.choice([-1, 1]) * rng.uniform(3, 9)
        pts = []
        for _ in range(int(rng.uniform(0.6, 1.6) * radius / 0.02)):
            k += rng.normal(0, 2.5)
            th += k * 0.02
            x, y = x + 0.02 * math.cos(th), y + 0.02 * math.sin(th)
            if math.hypot(x - centre[0], y - centre[1]) > radius:
                th += math.pi * 0.7
            pts.append((x, y))
        r = rng.uniform(0.006, 0.012)
        out.append(Vessel("nv", np.asarray(pts), np.full(len(pts), r), -1, 0))
    return out


def apply_beading(vessels, quadrants, rng) -> list[Vessel]:
    """Venous beading: sausage-like calibre changes (+-20-35 %, period 0.25-0.5 mm) along one
    0.8-2.5 mm stretch of each medium or large vein in the given quadrants; returns new
    :class:`Vessel` objects (their radii are what the masks show)."""
    if not quadrants:
        return list(vessels)
    out = []
    for v in vessels:
        if v.kind != "vein" or v.radius.max() < 0.03 or len(v.xy) < 8:
            out.append(v)
            continue
        s = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(v.xy, axis=0).T))])
        inq = np.array([quadrant(x, y) in quadrants and math.hypot(x, y) > 1.5
                        for x, y in v.xy])
        amp, period = rng.uniform(0.2, 0.35), rng.uniform(0.25, 0.5)
        s0, length = rng.uniform(-0.5, s[-1]), rng.uniform(0.8, 2.5)
        env = np.clip(np.minimum(s - s0, s0 + length - s) / 0.2, 0, 1)
        mod = 1 + amp * env * inq * np.sin(2 * np.pi * s / period + rng.uniform(0, 6.3))
        out.append(Vessel(v.kind, v.xy, v.radius * mod, v.parent, v.generation))
    return out


def draw_amd(stage: str, geom, rng) -> list[Lesion]:
    """Drusen and geographic atrophy for a Beckman ``stage`` (see the module docstring)."""
    s_q, s_d, s_ga = rng.spawn(3)
    q = s_q.random(4)
    if stage == "none":
        return []
    mac = lambda r: (r.normal(0, 1.1), r.normal(0, 0.9))  # noqa: E731
    out = []
    n_small, n_med = _lerp(5, 25, q[0]), _lerp(5, 20, q[1])
    n_large = 0 if stage == "early" else _lerp(8, 25, q[2])
    sizes = [(n_small, 0.015, 0.031, 0.1), (n_med, 0.032, 0.062, 0.3),
             (n_large, 0.063, 0.15, 0.6)]
    for n, lo, hi, edge in sizes:
        for p in _pool(geom, s_d, n, mac, 0.25):
            out.append(Lesion("drusen", p, float(s_d.uniform(lo, hi)),
                              float(s_d.uniform(0.75, 1.0)), float(s_d.uniform(0, 3.2)),
                              tuple(s_d.uniform(-0.06, 0.06, 4)), s_d.uniform(0, 6.3), edge,
                              float(s_d.uniform(0.5, 0.9))))
    if stage == "geographic_atrophy":           # multilobular: 2-5 overlapping lobes
        area = 1.0 + 7.0 * q[3]
        c = (s_ga.normal(-0.2, 0.4), s_ga.normal(0, 0.3))
        n = int(s_ga.integers(2, 6))
        r0 = math.sqrt(area / math.pi)
        for i in range(n):
            a, d = s_ga.uniform(0, 2 * math.pi), (0.0 if i == 0 else s_ga.uniform(0.3, 0.7) * r0)
            r = r0 * (0.75 if i == 0 else s_ga.uniform(0.35, 0.6))
            rough = (*s_ga.uniform(-0.06, 0.06, 2), 0.0, 0.0)
            centre = (c[0] + d * math.cos(a), c[1] + d * math.sin(a))
            out.append(Lesion("geographic_atrophy", centre, float(r),
                              float(s_ga.uniform(0.75, 1.0)),
                              float(s_ga.uniform(0, 3.2)), rough, s_ga.uniform(0, 6.3), 0.03))
    return out
