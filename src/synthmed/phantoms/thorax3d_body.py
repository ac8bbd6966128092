"""Body wall, mediastinum and upper abdomen of :mod:`synthmed.phantoms.thorax3d`.

Centre lines of the great vessels, airways and oesophagus (:func:`_central_lines`), the heart
(four chambers, pericardial sac; :func:`_heart`), the mediastinal band between the lungs,
and the painters that blend tissues into a HU volume: couch, skin, fat and muscle, breasts,
diaphragm, liver, stomach, spleen and kidneys, mediastinal fat, thymus, heart, vessels,
oesophagus, trachea and bronchi, lymph nodes, thyroid, aortic calcification. Positions are
adult-male millimetres (``x`` left, ``y`` posterior) and heights as fractions of the lung
height ``H``, scaled to the subject.

Example
-------
>>> import numpy as np
>>> from synthmed.phantoms.thorax3d import thorax3d
>>> ph = thorax3d((64, 64), 4, 5.0, age_years=30, sex="F", rng=np.random.default_rng(2))
>>> sorted(k for k in ph.thin_masks if k in ("heart", "aorta"))
['aorta', 'heart']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from synthmed.phantoms._shapes3d import (Grid, _box, _frac, _paint, _smoothstep, _sub_mesh,
                                         _superellipse_sd, curve_points, tube_box,
                                         tube_coverage)
from synthmed.phantoms.thorax3d_bones import spine_y, vertebra_halfwidth

if TYPE_CHECKING:
    from synthmed.phantoms.thorax3d import _Anatomy

__all__ = ["HU"]

#: CT numbers (HU) of the tissues, non-contrast.
HU = {"air": -1000.0, "lung": -860.0, "fat": -100.0, "muscle": 45.0, "blood": 40.0,
      "skin": 25.0, "liver": 58.0, "spleen": 48.0, "kidney": 32.0, "csf": 8.0, "cord": 35.0,
      "disc": 85.0, "cartilage": 120.0, "fluid": 12.0, "wall": 35.0, "thyroid": 100.0,
      "gland": 30.0, "node": 35.0, "table": 300.0, "foam": -930.0}


def _unit(*v):
    v = np.array(v, float)
    return v / np.linalg.norm(v)


# --------------------------------------------------------------------------- mediastinum
# Centre lines (x mm, y mm, z as a fraction of H; adult man) and radii (mm) of the great
# vessels and the oesophagus. Non-contrast: all blood reads ~40 HU.
_VESSELS = {
    "aorta": (((4, -30, .46), (-2, -40, .56), (-4, -40, .66), (2, -28, .73), (14, -5, .75),
               (22, 18, .72), (24, 32, .66), (24, 36, .55), (22, 38, .35), (14, 40, .12),
               (8, 40, -.3)), (13, 15, 15, 14, 13, 12.5, 12, 12, 11.5, 11, 10.5)),
    "pulmonary_trunk": (((18, -48, .44), (20, -40, .52), (16, -28, .58)), (13, 13, 13)),
    "pa_left": (((16, -28, .58), (30, -14, .62), (44, 4, .62), (50, 16, .58)), (11, 11, 10, 9)),
    "pa_right": (((16, -28, .58), (0, -14, .585), (-24, -10, .58), (-46, -6, .56)),
                 (11, 11, 10.5, 10)),
    "svc": (((-30, -30, 1.08), (-29, -33, .8), (-30, -32, .6), (-32, -26, .48)), (10,) * 4),
    "bcv_left": (((60, -33, .95), (20, -45, .85), (-22, -38, .80), (-30, -31, .78)), (7,) * 4),
    "bcv_right": (((-55, -22, 1.02), (-33, -30, .86), (-30, -31, .8)), (8,) * 3),
    "brachiocephalic_artery": (((-2, -30, .73), (-12, -24, .85), (-18, -15, 1.08)), (6.5,) * 3),
    "carotid_left": (((6, -18, .75), (14, -10, .9), (20, -5, 1.12)), (4.5,) * 3),
    "subclavian_left": (((14, -6, .75), (28, 0, .86), (45, 5, .95), (70, 5, .98)), (5.5,) * 4),
    "azygos": (((-14, 40, .1), (-14, 40, .58), (-20, 20, .645), (-25, -5, .64),
                (-28, -26, .62)), (4,) * 5),
    "ivc": (((-22, 15, .4), (-20, 22, .2), (-18, 28, -.1), (-18, 30, -.5)), (11,) * 4),
}
_OESOPHAGUS = (((2, 22, 1.3), (4, 24, .7), (6, 33, .5), (10, 36, .35), (20, 32, .15),
                (40, 18, .03), (55, 5, -.04)), (7,) * 7)
# Heart chambers: offset (mm, adult) from the heart centre, semi-axes (mm), long axis
# (None: axis-aligned). LV and RV point to the apex (left, anterior, inferior).
_CHAMBERS = (((20, 10, -10), (50, 33, 33), (0.55, -0.45, -0.70)),
             ((-5, -22, -8), (48, 30, 20), (0.75, -0.30, -0.55)),
             ((-50, 0, 11), (28, 26, 34), None),
             ((-11, 18, 29), (30, 16, 20), None))


def _central_lines(an: _Anatomy) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Control points (mm) and radii (mm) of the mediastinal tubes, airways included."""
    s, H = an.s, an.H

    def path(pts, radii, scale=1.0):
        a = np.array(pts, float)
        return (np.c_[a[:, 0] * s, a[:, 1] * s, a[:, 2] * H],
                np.asarray(radii, float) * s * scale)

    lines = {k: path(p, r, an.aorta_scale if k == "aorta" else 1.0)
             for k, (p, r) in _VESSELS.items()}
    lines["oesophagus"] = path(*_OESOPHAGUS)
    aw = an.airway
    top = np.array([[0, 6 * s, 1.35 * H], [0, 6 * s, 1.0 * H], [0.5 * s, 7 * s, 0.85 * H]])
    lines["trachea"] = (np.vstack([top, aw["carina"]]), np.full(4, aw["r_trachea"]))
    rt = aw["r_trachea"]
    lines["bronchus_right"] = (np.vstack([aw["carina"], aw["rmb_end"]]), np.array([0.8, 0.78]) * rt)
    lines["bronchus_intermedius"] = (np.vstack([aw["rmb_end"], aw["bi_end"]]),
                                     np.array([0.66, 0.62]) * rt)
    lines["bronchus_left"] = (np.vstack([aw["carina"], aw["lmb_end"]]), np.array([0.74, 0.7]) * rt)
    return lines


def _heart_centre(an: _Anatomy) -> np.ndarray:
    return np.array([15 * an.s, -20 * an.s, 0.36 * an.H])


def _heart_fields(an: _Anatomy, X, Y, Z):
    """For points X, Y, Z (mm): signed distances (mm) to the chambers' union and to the
    pericardial sac (a smooth union that bridges the grooves, where epicardial fat lies),
    both resting on the diaphragm, and the pericardium's coverage (0..1; not drawn where
    the sac lies on the diaphragm)."""
    c0, k = _heart_centre(an), an.s * an.heart_scale
    ds = []
    for off, semi, axis in _CHAMBERS:
        c = c0 + np.array(off) * k
        u = _unit(*axis) if axis else np.array([1.0, 0, 0])
        v = _unit(*np.cross(u, [0, 0, 1.0])) if axis else np.array([0, 1.0, 0])
        w = np.cross(u, v)
        p = [(X - c[0]) * e[0] + (Y - c[1]) * e[1] + (Z - c[2]) * e[2] for e in (u, v, w)]
        a = np.array(semi) * k
        f = sum((pi / ai) ** 2 for pi, ai in zip(p, a)) - 1
        g = 2 * np.sqrt(sum((pi / ai ** 2) ** 2 for pi, ai in zip(p, a)))
        ds.append(f / np.maximum(g, 1e-3))
    floor = an.dome_z(X, Y) - Z                     # the heart rests on the diaphragm
    sac = _soft_min(ds, 12.0 * an.s) - 1.5 * an.s
    line = _frac(np.abs(sac) - 0.7, 1.0) * _frac(floor + 2.0, 1.0)
    return np.maximum(_soft_min(ds, 4.0 * an.s), floor + 4.0 * an.s), np.maximum(sac, floor), line


def _soft_min(ds, k):
    """Smooth union of signed distances (mm) with blend radius ``k`` mm."""
    m = np.minimum.reduce(ds)
    return m - k * np.log(sum(np.exp((m - d) / k) for d in ds))


def _heart(an: _Anatomy, grid: Grid):
    """``(box, chambers_sd, sac_sd, pericardium)`` of :func:`_heart_fields` in the slices
    ``box`` of ``grid`` around the heart, or None if the scan misses it."""
    c0, k = _heart_centre(an), an.s * an.heart_scale
    box = _box(grid, c0 + np.array([-95, -72, -75]) * k, c0 + np.array([80, 70, 70]) * k)
    if box is None:
        return None
    return (box, *_heart_fields(an, *_sub_mesh(grid, box)))


def _band_sd(an: _Anatomy, X, Y, h):
    """Signed distance (mm) to the mediastinal band between the lungs: narrow behind the
    sternum (wide with a child's thymus, and in front of the heart), wider above the carina,
    wrapped round the vertebral bodies and widening behind them along the rib necks."""
    s = an.s
    ys = np.array([-100, -45, -20, 140]) * s
    thymus = 22 * s * max(0.0, 1 - an.age / 14) * np.exp(-0.5 * ((h - 0.7) / 0.1) ** 2)
    bare = 22 * s * np.exp(-0.5 * ((h - 0.3) / 0.1) ** 2)    # heart against the sternum
    w_a = 1.5 * s + thymus + bare
    w_m = (1.5 + 5 * _smoothstep((h - 0.62) / 0.1)) * s
    values = (w_a, w_a, w_m, w_m)
    yv = np.asarray(Y, np.float32).ravel()
    weights = [np.interp(yv, ys, np.eye(len(ys))[i]).astype(np.float32).reshape(np.shape(Y))
               for i in range(len(ys))]
    w = sum(wi * vi for wi, vi in zip(weights, values))
    band = np.abs(X - an.xm - 5 * s * an.waves["wall"](Y, h * an.H)) - w
    return np.minimum(band, _paraspinal_sd(an, X, Y, h))


def _paraspinal_sd(an: _Anatomy, X, Y, h):
    """Signed distance (mm) to the vertebral bodies (with a 4 mm margin) and the
    paravertebral soft tissue behind them, widening (concavely) back along the rib necks."""
    dy = (Y - spine_y(an, h)).astype(np.float32)
    front = np.minimum(dy, 0)
    r = vertebra_halfwidth(an, h) + 4 * an.s
    back = np.sqrt(np.maximum(dy, 0) / (10 * an.s))           # along the rib heads and necks
    return np.sqrt(X * X + front * front) - r - 6 * an.s * back


def _mediastinal_envelope(an: _Anatomy, grid: Grid, lines, margin_mm: float) -> np.ndarray:
    """Coverage of the tubes (vessels, airways, oesophagus) dilated by ``margin_mm``."""
    env = np.zeros(grid.shape, np.float32)
    step = 0.5 * grid.voxel_mm
    for name, (ctrl, r) in lines.items():
        pts, rr = curve_points(ctrl, r + margin_mm, step)
        tube_coverage(grid, pts, rr, out=env)
    return env


def _body_extent(an: _Anatomy, h) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Body outline at heights ``h``: half-width, front y, back y and centre y (mm)."""
    s = an.s
    p = an.prof(np.minimum(h, 0.8))
    half_w = np.maximum(p["cx_a"] + p["ax_a"], p["cx_p"] + p["ax_p"]) + 20 * s + 1.2 * an.fat
    front = p["cy"] - p["ay_a"] - 14 * s - 0.8 * an.fat
    back = p["cy"] + p["ay_p"] + 36 * s + 1.1 * an.fat
    neck = _smoothstep((np.asarray(h) - 1.0) / 0.12)
    return (half_w + neck * (55 * s - half_w), front + neck * (-45 * s - front),
            back + neck * (70 * s - back), p["cy"])


# --------------------------------------------------------------------------- painting
def _paint_table(an: _Anatomy, grid: Grid, hu: np.ndarray) -> None:
    """The scanner couch under the back: a curved carbon-fibre sandwich (two 2.5 mm skins
    round a 25 mm foam core)."""
    X, Y, _ = grid.mesh()
    _, _, back, _ = _body_extent(an, np.linspace(-0.1, 1.1, 25))
    d = Y - (float(back.max()) + 2.0 - 0.0004 * X ** 2)
    w = grid.voxel_mm
    inside = _frac(np.abs(X) - 230.0, w) * _frac(np.abs(d - 15.0) - 15.0, w)
    skins = _frac(np.abs(d - 15.0) - 15.0, w) - _frac(np.abs(d - 15.0) - 12.5, w)
    value = HU["foam"] + skins / np.maximum(inside, 1e-6) * (HU["table"] - HU["foam"])
    _paint(hu, inside, value)


def _breasts_sd(an: _Anatomy, X, Y, Z, front):
    """Signed distance (mm) to the breasts: two soft mounds on the anterior chest wall."""
    s, b = an.s, an.breast
    out = None
    for sgn in (-1, 1):
        c = (sgn * 80 * s, front + 6 * s, 0.34 * an.H)             # supine: flattened
        a = np.array([66 * b ** 0.3, 32 * b, 58 * b ** 0.3]) * s
        q = np.sqrt(((X - c[0]) / a[0]) ** 2 + ((Y - c[1]) / a[1]) ** 2 + ((Z - c[2]) / a[2]) ** 2)
        sd = (q - 1) * a.min()
        out = sd if out is None else np.minimum(out, sd)
    return out


def _paint_body(an: _Anatomy, grid: Grid, hu, tex, cav) -> None:
    """Skin, subcutaneous fat and chest-wall muscle (with an intermuscular fat plane);
    breasts of fat and fibroglandular tissue."""
    X, Y, Z = grid.mesh()
    s, w, h = an.s, grid.voxel_mm, Z / an.H
    half_w, front, back, cy = _body_extent(an, h)
    dy = Y - cy
    torso = _superellipse_sd(X, dy, half_w, np.where(dy < 0, cy - front, back - cy), 2.0)
    torso = np.minimum(np.maximum(torso, Y - (back - 3 * s)), cav - 22 * s)
    skin = torso
    if an.breast > 0:
        breast = _breasts_sd(an, X, Y, Z, front)
        skin = np.minimum(torso, breast)
    fat_local = an.fat * (1 + 0.3 * an.waves["fat"](X, Y))
    _paint(hu, _frac(skin, w), HU["fat"] + 8 * tex)
    if an.breast > 0:
        gland = _frac(breast + 6 * s, w) * _frac(0.2 - tex, 0.3) * _frac(-torso - 2, w)
        _paint(hu, gland, HU["gland"])
    depth = -torso
    fascia = _frac(np.abs(depth - fat_local - 10 * s) - 0.5, w) * _frac(8 * s - cav, w) * \
        _frac(-an.waves["wall"](X, Y), 0.5)
    _paint(hu, _frac(fat_local - depth, w) * (1 - fascia), HU["muscle"] + 5 * tex)
    _paint(hu, _frac(-skin - 1.8, w) * _frac(skin, w), HU["skin"])


def _ellipsoid_sd(X, Y, Z, c, a):
    q = np.sqrt(((X - c[0]) / a[0]) ** 2 + ((Y - c[1]) / a[1]) ** 2 + ((Z - c[2]) / a[2]) ** 2)
    return (q - 1) * min(a)


def _paint_abdomen(an: _Anatomy, grid: Grid, hu, tex, cav, zd) -> None:
    """Below the diaphragm (a 4 mm muscle sheet): liver, stomach (air anteriorly when
    supine, fluid behind), spleen, kidneys, in retroperitoneal and omental fat."""
    n = int(np.searchsorted(grid.z, float(np.max(zd))))
    if n == 0:
        return
    X, Y, Z = grid.mesh()
    Z, cav_b, hu_b, tex_b = Z[:n], cav[:n], hu[:n], tex[:n]
    s, w, t_dia = an.s, grid.voxel_mm, 4 * an.s
    inside = _frac(cav_b, w)
    abd = inside * _frac(Z - (zd - t_dia), w)
    _paint(hu_b, abd, HU["fat"] + 10 * tex_b)
    _paint(hu_b, inside * _frac(np.abs(Z - zd + t_dia / 2) - t_dia / 2, w), HU["muscle"])
    liver_x = an.xm + 25 * s - 0.55 * (Y + 10 * s) + 8 * s * an.waves["wall"](Y, Z)
    _paint(hu_b, abd * _frac(X - liver_x, w), HU["liver"] + 4 * tex_b)
    zl = an.dome[1]
    organs = (((86 * s, 48 * s, zl - 0.16 * an.H), np.array([26, 46, 48]) * s, HU["spleen"]),
              ((-62 * s, 64 * s, -0.28 * an.H), np.array([28, 22, 50]) * s, HU["kidney"]),
              ((62 * s, 60 * s, -0.22 * an.H), np.array([28, 22, 50]) * s, HU["kidney"]))
    for c, a, value in organs:
        _paint(hu_b, abd * _frac(_ellipsoid_sd(X, Y, Z, c, a), w), value + 3 * tex_b)
    c, a = (58 * s, -8 * s, zl - 0.14 * an.H), np.array([48, 42, 45]) * s
    sd = _ellipsoid_sd(X, Y, Z, c, a)
    _paint(hu_b, abd * _frac(sd, w), HU["muscle"])
    content = np.where(Y < c[1] - 0.25 * a[1], HU["air"], HU["fluid"] + 15 * tex_b)
    _paint(hu_b, abd * _frac(sd + 4 * s, w), content)


def _paint_tube(grid: Grid, hu, ctrl, radii, value, mask=None):
    box = tube_box(grid, *curve_points(ctrl, radii, 0.45 * grid.voxel_mm))
    if box is not None:
        _paint(hu, box[1], value, box[0])
        if mask is not None:
            mask[box[0]] |= box[1] >= 0.5


_NODES = ((-16, -2, .74), (12, -14, .67), (2, 26, .60), (5, -52, .72), (-40, 0, .56),
          (42, 10, .57))


def _paint_mediastinum(an: _Anatomy, grid: Grid, hu, lines, tex, cav, zd, heart,
                       rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Mediastinal fat, thymus, heart with pericardium and epicardial fat, great vessels,
    oesophagus, trachea and main bronchi, lymph nodes, thyroid; returns thin masks
    ``heart``, ``aorta``, ``pulmonary_central`` and ``airways_central``."""
    X, Y, Z = grid.mesh()
    s, w = an.s, grid.voxel_mm
    masks = {k: np.zeros(grid.shape, bool) for k in ("heart", "aorta", "pulmonary_central",
                                                       "airways_central")}
    _paint(hu, _frac(cav, w) * _frac(zd - Z, w), HU["fat"] + 6 + 10 * tex)
    behind = Y > spine_y(an, Z / an.H)
    _paint(hu, _frac(_paraspinal_sd(an, X, Y, Z / an.H) + 3 * s, w) * behind * _frac(cav, w),
           HU["muscle"] + 5 * tex)
    if an.age < 20:
        thymus = _frac(_band_sd(an, X, Y, Z / an.H) + 2, w) * _frac(Y + 25 * s, w)
        _paint(hu, thymus * _frac(cav, w), 40 - 140 * np.clip((an.age - 10) / 12, 0, 1))
    if heart is not None:
        box, union, sac, line = heart
        _paint(hu, _frac(sac, w), HU["fat"] + 10, box)
        _paint(hu, line, HU["wall"], box)
        _paint(hu, _frac(union, w), HU["blood"], box)
        masks["heart"][box] = union < 0
    for name, (ctrl, r) in lines.items():
        if name in _VESSELS:
            target = {"aorta": masks["aorta"]}.get(name)
            if name in ("pulmonary_trunk", "pa_left", "pa_right"):
                target = masks["pulmonary_central"]
            _paint_tube(grid, hu, ctrl, r, HU["blood"], target)
    if an.age > 50 and rng.random() < 0.3 + 0.6 * min((an.age - 50) / 30, 1):
        _aortic_plaques(an, grid, hu, lines["aorta"], rng)
    over = np.zeros(grid.shape, bool)       # drawn over the heart and aorta afterwards
    ctrl, r = lines["oesophagus"]
    _paint_tube(grid, hu, ctrl, r, HU["muscle"] - 5, over)
    if rng.random() < 0.5:
        _paint_tube(grid, hu, ctrl, 0.25 * r, HU["air"])
    wall_hu = HU["wall"] + 25 + 150 * np.clip((an.age - 45) / 45, 0, 1)   # ring cartilage
    for name in ("trachea", "bronchus_right", "bronchus_intermedius", "bronchus_left"):
        ctrl, r = lines[name]
        _paint_tube(grid, hu, ctrl, r + 1.6 * s, wall_hu, over)
    for name in ("trachea", "bronchus_right", "bronchus_intermedius", "bronchus_left"):
        ctrl, r = lines[name]
        _paint_tube(grid, hu, ctrl, r, HU["air"], masks["airways_central"])
    for x, y, hz in _NODES:
        box = tube_box(grid, np.array([[x * s, y * s, hz * an.H]]), rng.uniform(2.5, 4.5) * s)
        if box is not None:
            _paint(hu, box[1] * (hu[box[0]] < -40), HU["node"], box[0])
    for sgn in (-1, 1):
        sd = _ellipsoid_sd(X, Y, Z, (sgn * 17 * s, 2 * s, 1.1 * an.H), (9 * s, 12 * s, 22 * s))
        _paint(hu, _frac(sd, w), HU["thyroid"])
    masks["heart"] &= ~over
    masks["aorta"] &= ~over
    return masks


def _aortic_plaques(an: _Anatomy, grid: Grid, hu, aorta, rng: np.random.Generator) -> None:
    """Calcified atheroma: small bright plaques in the aortic wall (older subjects)."""
    pts, r = curve_points(*aorta, 2.0)
    pick = rng.choice(len(pts), size=int(rng.integers(3, 14)), replace=False)
    d = rng.standard_normal((len(pick), 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    centres = pts[pick] + d * (r[pick] - 0.6)[:, None]
    box = tube_box(grid, centres, rng.uniform(1.0, 2.2, len(pick)) * an.s)
    if box is not None:
        _paint(hu, box[1], rng.uniform(500, 900), box[0])
