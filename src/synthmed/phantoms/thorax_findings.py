"""Findings and devices added to a :class:`~synthmed.phantoms.thorax.ThoraxPhantom` in place.

Each ``add_*`` function changes the phantom's material path lengths and returns the finding's
mask (or a small description): :func:`add_consolidation`, :func:`add_nodule`,
:func:`add_effusion`, :func:`add_pneumothorax`, :func:`add_ecg_leads`,
:func:`add_central_line`, :func:`add_side_marker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from synthmed.phantoms._shapes import _fbm, _Lines, _noise1d, _noise2d, _smoothstep

if TYPE_CHECKING:
    from synthmed.phantoms.thorax import ThoraxPhantom

__all__ = ["add_consolidation", "add_nodule", "add_effusion", "add_pneumothorax",
           "add_ecg_leads", "add_central_line", "add_side_marker", "LOBES"]

LOBES = ("RUL", "RML", "RLL", "LUL", "lingula", "LLL")


# --------------------------------------------------------------------------- findings
def _lung_coords(ph, side):
    """Normalised height t (0 apex .. 1 CP angle) and lateral v (0 medial .. 1 lateral)."""
    g = ph.geom
    sd = g.side[side]
    t = (g.Y - g.y_apex) / (sd["y_cp"] - g.y_apex)
    v = np.clip(sd["d_med"] / np.maximum(sd["d_med"] + sd["d_lat"], 1e-3), 0, 1)
    return t, v


def add_consolidation(ph: ThoraxPhantom, rng: np.random.Generator, lobe: str | None = None,
                      pattern: str = "lobar") -> tuple[np.ndarray, str]:
    """Fill part of a lobe with fluid (pneumonia); returns (mask, lobe).

    ``lobar``: a confluent, fluffy airspace opacity filling a segment or most of a lobe, sharp
    only against a fissure that bounds the lobe (the minor fissure for RUL/RML), often with air
    bronchograms; ``patchy``: several ill-defined, coalescing opacities in the same lobe.
    Borders are noise-modulated level sets of smooth fields, so nothing is box- or line-shaped.
    """
    g = ph.geom
    lobe = lobe or str(rng.choice(LOBES))
    side = "right" if lobe.startswith("R") else "left"
    sd = g.side[side]
    t, v = _lung_coords(ph, side)
    inside = ph.masks[f"lung_{side}"]  # the visible lung field (behind-heart part excluded)
    px = g.px
    # warp the lung coordinates so that no lobe border is a straight line
    warp = _noise2d(g.shape, 30 / px, rng)
    t = t + 0.05 * warp
    v = v + 0.07 * warp.T if warp.shape[0] == warp.shape[1] else v + 0.07 * warp[::-1]
    soft = lambda x, w=0.12: _smoothstep(x / w + 0.5)  # noqa: E731
    # minor fissure: gently curved, slightly irregular, higher laterally (sharp border)
    tf = (g.Y - g.y_apex) / (sd["y_cp"] - g.y_apex) + 0.006 * warp
    fiss = 0.45 + 0.03 * rng.standard_normal() + 0.08 * (v - 0.5) ** 2 - 0.04 * v
    below = _smoothstep((tf - fiss) / 0.012 + 0.5)
    zones = {
        "RUL": (1 - below) * soft(0.98 - v, 0.2),
        "RML": below * soft(0.62 - v, 0.35) * soft(0.8 - t, 0.2),
        "RLL": soft(t - 0.6, 0.3) * soft(v - 0.05, 0.2),
        "LUL": soft(0.48 - t, 0.3),
        "lingula": soft(t - 0.48, 0.2) * soft(0.86 - t, 0.2) * soft(0.62 - v, 0.35),
        "LLL": soft(t - 0.62, 0.3),
    }
    zone = zones[lobe] * _smoothstep(sd["u"] / (0.03 * g.wt))  # this hemithorax only
    zone = zone * np.clip(ph.lung / max(float(ph.lung.max()), 1e-6) / 0.25, 0, 1)
    # a random centre inside the zone; the opacity spreads from it (segment to whole lobe)
    cand = np.flatnonzero((zone > 0.7) & inside)
    if cand.size == 0:
        cand = np.flatnonzero(zone >= zone.max() * 0.7)
    r0, c0 = np.unravel_index(cand[rng.integers(cand.size)], g.shape)
    cy, cx = (r0 + 0.5 - g.shape[0] / 2) * px, (c0 + 0.5 - g.shape[1] / 2) * px
    rho = np.hypot(g.X - cx, (g.Y - cy) * 0.85)
    cloud = _fbm(g.shape, (16 / px, 7 / px, 3 / px), rng, (1.0, 0.55, 0.3))
    if pattern == "patchy":
        reach = rng.uniform(0.25, 0.4) * g.wt
        field = 1 - rho / reach + 0.5 * cloud
        dens = _smoothstep(field / 0.6) * _smoothstep(cloud + 0.3)
        acinar = np.clip(1 + 0.25 * _noise2d(g.shape, 2.5 / px, rng), 0, None)
        dens = ndimage.gaussian_filter(dens * acinar, 2.0 / px) * rng.uniform(0.45, 0.65)
    else:
        reach = rng.uniform(0.22, 0.5) * g.wt  # segmental .. lobar extent
        field = 1 - rho / reach + 0.35 * cloud
        dens = _smoothstep(field / 0.5 + 0.3)
        dens = dens * (0.85 + 0.15 * _noise2d(g.shape, 4 / px, rng)) * rng.uniform(0.7, 0.88)
    dens = np.clip(dens * zone, 0, 0.95)
    # air bronchograms: air kept along the larger bronchovascular branches inside the opacity
    bronch = 0.0
    tree = g.extra.get("vessel_tree")
    if pattern == "lobar" and tree is not None and rng.random() < 0.7:
        ridge = np.clip(tree - ndimage.gaussian_filter(tree, 2.5 / px), 0, None)
        bronch = np.clip(ridge / (0.15 * float(ridge.max()) + 1e-6), 0, 1) * rng.uniform(0.2, 0.35)
    ph.lung = ph.lung * (1 - dens * (1 - bronch))
    ph.vessels = ph.vessels * (1 - dens)
    mask = (dens > 0.3) & inside
    if not mask.any():  # degenerate (tiny image): take the densest lung pixels
        mask = inside & (dens >= np.percentile(dens[inside], 90))
    return mask, lobe


def _pick_in_lung(ph, rng, radius_mm):
    inside = ph.masks["lung_left"] | ph.masks["lung_right"]
    dist = ndimage.distance_transform_edt(inside) * ph.spacing_mm
    ok = dist > radius_mm + 3
    if not ok.any():
        ok = dist >= dist.max() * 0.8
    rr, cc = np.nonzero(ok)
    i = rng.integers(len(rr))
    return rr[i], cc[i]


def add_nodule(ph: ThoraxPhantom, rng: np.random.Generator, diameter_mm: float = 15.0) -> np.ndarray:
    """A soft-tissue nodule (lobulated mass above 30 mm) inside a lung field; returns its mask."""
    g = ph.geom
    r_mm = diameter_mm / 2
    rr, cc = _pick_in_lung(ph, rng, r_mm)
    cy, cx = (rr + 0.5 - g.shape[0] / 2) * g.px, (cc + 0.5 - g.shape[1] / 2) * g.px
    ang = np.arctan2(g.Y - cy, g.X - cx)
    lob = 0.0
    if diameter_mm > 30:
        for k in (3, 5, 7):
            lob = lob + rng.uniform(0.02, 0.07) * np.cos(k * ang + rng.uniform(0, 2 * np.pi))
    else:
        lob = 0.03 * np.cos(2 * ang + rng.uniform(0, 2 * np.pi))
    rad = r_mm * (1 + lob)
    rho = np.hypot(g.X - cx, g.Y - cy)
    chord = 2 * np.sqrt(np.clip(rad ** 2 - rho ** 2, 0, None)) / 10
    chord = ndimage.gaussian_filter(chord, 0.6)
    ph.lung = np.maximum(ph.lung - chord, 0)
    ph.body = np.maximum(ph.body, ph.lung + 0.1)
    # a nodule's chord exceeding the lung depth still adds tissue
    ph.vessels = ph.vessels * (rho > rad)
    return rho <= rad


def add_effusion(ph: ThoraxPhantom, rng: np.random.Generator, side: str = "right",
                 size: float | None = None) -> np.ndarray:
    """Pleural fluid at a lung base: blunted costophrenic angle, meniscus; returns its mask."""
    g = ph.geom
    sd = g.side[side]
    size = rng.uniform(0.12, 0.35) if size is None else size
    wh = sd["wh"]
    u = np.clip(sd["u"] / wh, 0, 1.2)
    level = sd["y_cp"] - size * g.hl + 0.3 * g.hl * (1 - u ** 2) * (0.3 + size)
    ramp = 0.12 * g.hl
    f = _smoothstep((g.Y - level) / ramp + 0.2) ** 1.5
    lateral = np.exp(-np.clip(sd["d_lat"], 0, None) / (0.02 * g.wt)) * _smoothstep((g.Y - level + 0.1 * g.hl) / ramp)
    f = np.clip(f + 0.6 * lateral, 0, 1) * (sd["u"] > 0)
    ph.lung = ph.lung * (1 - f)
    ph.vessels = ph.vessels * (1 - f)
    region = (sd["d_lat"] > 0) & (sd["d_med"] > -0.02 * g.wt) & (sd["u"] > 0) & (g.Y < sd["y_cp"] + 0.02 * g.hl)
    mask = (f > 0.5) & region & ~ph.masks["heart"]
    return mask


def add_pneumothorax(ph: ThoraxPhantom, rng: np.random.Generator, side: str = "right",
                     size: float | None = None) -> np.ndarray:
    """Apical-lateral pneumothorax: pleural air, visceral pleural line; returns its mask."""
    g = ph.geom
    sd = g.side[side]
    size = rng.uniform(0.06, 0.16) if size is None else size
    t = np.clip((g.Y - g.y_apex) / g.hl, 0, 1)
    gap = size * g.wt * (1 - t) ** 1.3 * (1 + 0.1 * _noise1d(g.shape[0], 20, rng))[:, None]
    d_wall = np.minimum(sd["d_lat"], sd["d_top"] * 0.8)
    edge = d_wall - gap  # <0: pleural space (air)
    keep = _smoothstep(edge / (0.8 * g.px) + 0.5)
    region = sd["inside"] | ((sd["d_lat"] > 0) & (sd["d_top"] > 0) & (sd["u"] > 0) & (sd["d_dia"] > 0))
    air = np.where(region, 1 - keep, 0)
    removed = ph.lung * air
    ph.lung = ph.lung - removed
    ph.gas = ph.gas + removed * 0.95
    ph.vessels = ph.vessels * (1 - air)
    line = np.exp(-0.5 * (edge / (0.35 * g.px + 0.15)) ** 2) * region * (gap > 1.0)
    ph.vessels = ph.vessels + 0  # pleural line is tissue that replaces lung on the ray
    ph.lung = np.maximum(ph.lung - 0.35 * line, 0)
    return (air > 0.5) & sd["inside"]


# --------------------------------------------------------------------------- devices
def _to_mm(g, r, c):
    return (c + 0.5 - g.shape[1] / 2) * g.px, (r + 0.5 - g.shape[0] / 2) * g.px


def _wire(g, x, y, rng, n=60):
    """Random smooth wire from (x, y) to beyond the image edge."""
    ang = rng.uniform(0, 2 * np.pi)
    step = 0.02 * g.wt
    xs, ys = [x], [y]
    for _ in range(n):
        ang += 0.15 * rng.standard_normal()
        x, y = x + step * np.cos(ang), y + step * np.sin(ang)
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


def add_ecg_leads(ph: ThoraxPhantom, rng: np.random.Generator) -> None:
    """ECG electrodes (metal snaps) and their lead wires."""
    g = ph.geom
    cu = np.zeros(g.shape, np.float32)
    wires = _Lines(g)
    spots = [(-0.42, 0.08), (0.42, 0.08), (0.35, 0.85), (-0.35, 0.9), (0.05, 0.7)]
    for sx, sy in spots[: rng.integers(3, 6)]:
        x = g.xm + sx * g.wt + 0.03 * g.wt * rng.standard_normal()
        y = g.y_apex + sy * g.hl + 0.03 * g.hl * rng.standard_normal()
        r = 0.02 * g.wt * g.extra["g"] ** 0.5 / g.extra["g"]
        r = min(r, 6.0)
        rho = np.hypot(g.X - x, g.Y - y)
        cu += 0.08 * np.exp(-0.5 * ((rho - r) / (0.18 * r)) ** 2) + 0.12 * (rho < 0.35 * r)
        wires.add(*_wire(g, x, y, rng), 1.0)
    cu += wires.render(max(0.4 / g.px, 0.5)) * g.px / 10 * 0.15
    ph.added["copper"] = ph.added.get("copper", 0) + cu


def add_central_line(ph: ThoraxPhantom, rng: np.random.Generator) -> tuple[float, float]:
    """Right-sided central venous catheter with its tip at the cavoatrial junction.

    Returns the tip position (row, col).
    """
    g = ph.geom
    x_c, y_c = g.extra["carina"]
    y_cl = g.extra["y_clavicle"]
    tip = (g.xm - 0.06 * g.wt, y_c + (0.12 + 0.03 * rng.standard_normal()) * g.hl)
    ctrl = np.array([(g.xm - 0.42 * g.wt, y_cl - 0.03 * g.hl), (g.xm - 0.2 * g.wt, y_cl + 0.02 * g.hl),
                     (g.xm - 0.08 * g.wt, y_cl + 0.05 * g.hl), (tip[0] - 0.005 * g.wt, (y_cl + tip[1]) / 2), tip])
    t = np.linspace(0, 1, 120)
    from scipy.interpolate import make_interp_spline
    sp = make_interp_spline(np.linspace(0, 1, len(ctrl)), ctrl, k=3)
    pts = sp(t)
    lines = _Lines(g)
    lines.add(pts[:, 0], pts[:, 1], 1.0)
    cath = lines.render(max(1.0 / g.px, 0.7), max(0.3 / g.px, 0.3), 0.15)
    ph.added["copper"] = ph.added.get("copper", 0) + cath * g.px / 10 * 0.05
    return (tip[1] / g.px + g.shape[0] / 2, tip[0] / g.px + g.shape[1] / 2)


def add_side_marker(ph: ThoraxPhantom, rng: np.random.Generator, letter: str | None = None) -> str:
    """A lead "L" or "R" marker in an upper corner on the patient's side; returns the letter."""
    g = ph.geom
    letter = letter or ("L" if rng.random() < 0.75 else "R")
    size = rng.uniform(10, 14)  # letter height, mm
    x0 = (1 if letter == "L" else -1) * g.shape[1] * g.px * rng.uniform(0.3, 0.42) - size * 0.3
    y0 = -g.shape[0] * g.px * rng.uniform(0.32, 0.44)
    if letter == "L":
        strokes = [[(0, 0), (0, 1)], [(0, 1), (0.6, 1)]]
    else:
        arc = [(0.05 + 0.3 * np.sin(a), 0.27 - 0.27 * np.cos(a)) for a in np.linspace(0, np.pi, 12)]
        strokes = [[(0, 0), (0, 1)], [(0, 0), (0.05, 0)] + arc + [(0, 0.54)], [(0.1, 0.54), (0.5, 1)]]
    half = 0.09 * size
    d = np.full(g.shape, np.inf, np.float32)
    for st in strokes:
        for (ax, ay), (bx, by) in zip(st[:-1], st[1:]):
            ax, ay, bx, by = x0 + ax * size, y0 + ay * size, x0 + bx * size, y0 + by * size
            vx, vy = bx - ax, by - ay
            tt = np.clip(((g.X - ax) * vx + (g.Y - ay) * vy) / max(vx * vx + vy * vy, 1e-9), 0, 1)
            d = np.minimum(d, np.hypot(g.X - ax - tt * vx, g.Y - ay - tt * vy))
    ink = np.clip((half - d) / g.px + 0.5, 0, 1)
    ph.added["lead"] = ph.added.get("lead", 0) + (0.15 * ink).astype(np.float32)
    return letter
