"""The bony thorax of :mod:`synthmed.phantoms.thorax3d`, painted into a HU volume.

Vertebrae (C5-L3: body with a cortical shell and cancellous core, intervertebral discs,
pedicles, laminae, transverse and spinous processes, spinal canal with CSF and cord),
12 pairs of ribs (curved tubes from the costovertebral joint round the chest wall, sloping
down anteriorly, cortex and marrow) with costal cartilage to the sternum, the sternum
(manubrium, body, xiphoid), scapulae and clavicles. Levels: T1 at the lung apex, T12 at the
deepest costophrenic recess, one vertebra (body + disc) every ``H / 11`` mm.

Each ``_paint_*`` function blends its bone into ``hu`` (cortex first, then marrow) and
returns its thin-slice mask (voxels at least half inside the bone).

Example
-------
>>> import numpy as np
>>> from synthmed.phantoms.thorax3d import thorax3d
>>> ph = thorax3d((64, 64), 4, 5.0, age_years=40, sex="F", rng=np.random.default_rng(1))
>>> sorted(k for k in ph.thin_masks if k in ("ribs", "spine", "sternum"))
['ribs', 'spine', 'sternum']
"""

from __future__ import annotations

import numpy as np

from synthmed.phantoms._shapes3d import (Grid, _frac, _paint, curve_points, segment_points,
                                         tube_box)

__all__ = ["paint_skeleton", "spine_y", "canal_y", "vertebra_halfwidth"]

HU_DISC, HU_CSF, HU_CORD, HU_CARTILAGE = 85.0, 8.0, 35.0, 120.0
# Anterior descent of ribs 1-12 from head to costochondral junction, in vertebral levels
_RIB_DROP = (1.4, 2.4, 3.2, 3.8, 4.2, 4.4, 4.4, 4.2, 3.8, 3.2, 1.8, 0.9)
# Side-frame angle (rad; 0 lateral, -pi/2 anterior) of each rib's costochondral junction
_RIB_END = (-1.0, -1.15, -1.2, -1.2, -1.2, -1.15, -1.1, -0.95, -0.8, -0.6, -0.2, 0.6)


def vertebra_halfwidth(an, h) -> np.ndarray:
    """Half-width (mm) of the vertebral bodies at heights ``h``: 13 mm at T1 to 20 at T12."""
    return (13 + 6.6 * np.clip(1 - np.asarray(h), -0.3, 1.3)) * an.s


def canal_y(an, h) -> np.ndarray:
    """y (mm) of the spinal canal's centre at heights ``h``."""
    return spine_y(an, h) + 0.82 * vertebra_halfwidth(an, h) + 8.5 * an.s


def spine_y(an, h) -> np.ndarray:
    """y (mm) of the vertebral bodies' centre at heights ``h`` (fractions of H); thoracic
    kyphosis brings the mid-thoracic spine back, more with age."""
    kyph = (4 + 6 * np.clip((an.age - 50) / 40, 0, 1)) * an.s
    return 52 * an.s + kyph * np.clip(1 - ((np.asarray(h) - 0.55) / 0.55) ** 2, 0, None)


def paint_skeleton(an, grid: Grid, hu: np.ndarray) -> dict[str, np.ndarray]:
    """Paint vertebrae, ribs, costal cartilage, sternum, scapulae and clavicles into ``hu``
    (thin slices); return thin masks ``spine``, ``ribs``, ``sternum``."""
    masks = {"spine": _paint_spine(an, grid, hu)}
    _paint_cartilage(an, grid, hu)
    masks["ribs"] = _paint_ribs(an, grid, hu)
    masks["sternum"] = _paint_sternum(an, grid, hu)
    _paint_scapulae(an, grid, hu)
    _paint_clavicles(an, grid, hu)
    return masks


def _paint_bone(an, grid: Grid, hu, pts, r, cortex_mm, mask=None):
    """Tube bone: cortex (``an.cortical_hu``) then marrow (``an.cancellous_hu``)."""
    outer = tube_box(grid, pts, r)
    if outer is None:
        return
    sl, cov = outer
    _paint(hu, cov, an.cortical_hu, sl)
    inner = tube_box(grid, pts, np.maximum(r - cortex_mm, 0.05))
    if inner is not None:
        _paint(hu, inner[1], an.cancellous_hu, inner[0])
    if mask is not None:
        mask[sl] |= cov >= 0.5


def _level_z(an, k):
    """Centre height (mm) of vertebra ``k`` (0 = T1, 11 = T12, negative = cervical)."""
    return an.H * (1.0 - k / 11.0)


def _levels(an, grid):
    p = an.H / 11.0
    return [k for k in range(-3, 16) if grid.z[0] - 2 * p < _level_z(an, k) < grid.z[-1] + 2 * p]


def _paint_spine(an, grid: Grid, hu):
    """Vertebral bodies and discs, spinal canal, posterior elements; returns the mask."""
    mask = np.zeros(grid.shape, bool)
    X, Y, Z = grid.mesh()
    s, p, w = an.s, an.H / 11.0, grid.voxel_mm
    h = Z / an.H
    yc = canal_y(an, h)
    r_canal = 7.5 * s
    box = (slice(None), _index_range(grid.y, yc.min() - 12 * s, yc.max() + 12 * s),
           _index_range(grid.x, -12 * s, 12 * s))
    rho = np.sqrt(X[:, :, box[2]] ** 2 + (Y[:, box[1]] - yc) ** 2)
    _paint(hu, _frac(rho - r_canal, w), HU_CSF, box)
    _paint(hu, _frac(rho - 0.55 * r_canal, w), HU_CORD, box)
    pts, rad = [], []
    for k in _levels(an, grid):
        zc = _level_z(an, k)
        a = float(vertebra_halfwidth(an, zc / an.H)) * (0.8 if k < 0 else 1.0)
        y0 = float(spine_y(an, zc / an.H))
        for z_mid, half_h, value in ((zc - p / 2, 0.11 * p, HU_DISC), (zc, 0.39 * p, None)):
            sl = (_index_range(grid.z, z_mid - half_h - 2, z_mid + half_h + 2),
                  _index_range(grid.y, y0 - a - 2, y0 + a + 2), _index_range(grid.x, -a - 3, a + 3))
            xx, yy, zz = X[:, :, sl[2]], Y[:, sl[1]], Z[sl[0]]
            sd_xy = np.sqrt((xx / a) ** 2 + ((yy - y0) / (0.82 * a)) ** 2) * 0.9 * a - 0.9 * a
            sd = np.maximum(sd_xy, np.abs(zz - z_mid) - half_h)
            if value is not None:
                _paint(hu, _frac(sd, w), value, sl)
                continue
            _paint(hu, _frac(sd, w), an.cortical_hu, sl)
            _paint(hu, _frac(sd + 1.1 * s, w), an.cancellous_hu, sl)
            mask[sl] |= sd < 0
        ends = _posterior_elements(a, float(canal_y(an, zc / an.H)), zc, s, p)
        for (q0, q1, r0, r1) in ends:
            pp, rr = segment_points(np.array([q0]), np.array([q1]), np.array([r0]),
                                    np.array([r1]), 0.4 * grid.voxel_mm)
            pts.append(pp)
            rad.append(rr)
    if pts:
        _paint_bone(an, grid, hu, np.vstack(pts), np.concatenate(rad), 1.0 * s, mask)
    return mask


def _posterior_elements(a, ycan, zc, s, p):
    """Segments (start, end, r0, r1) in mm of a vertebra's pedicles, laminae, transverse
    processes and spinous process around a canal centred at (0, ycan)."""
    rc = 7.5 * s
    segs = []
    for sg in (-1, 1):
        segs.append(((sg * 0.55 * a, ycan - rc - 6 * s, zc), (sg * (rc + 2 * s), ycan, zc),
                     4.0 * s, 3.5 * s))
        segs.append(((sg * (rc + 2 * s), ycan, zc), (0.0, ycan + rc + 4 * s, zc - 2 * s),
                     3.5 * s, 3.5 * s))
        segs.append(((sg * (rc + 2 * s), ycan + 1 * s, zc + 2 * s),
                     (sg * 28 * s, ycan + 9 * s, zc + 3 * s), 4.0 * s, 3.2 * s))
    segs.append(((0.0, ycan + rc + 4 * s, zc - 2 * s), (0.0, ycan + rc + 28 * s, zc - 0.9 * p),
                 3.5 * s, 2.6 * s))
    return segs


def _index_range(axis, lo, hi):
    return slice(int(np.searchsorted(axis, lo)), max(int(np.searchsorted(axis, hi)), 0))


def _rib_path(an, sgn, i):
    """Control points (mm) of rib ``i`` (1..12) on side ``sgn`` from its head to the
    costochondral junction, and the junction's side-frame angle."""
    s, p = an.s, an.H / 11.0
    z_head = _level_z(an, i - 1) + 0.3 * p
    y0 = float(spine_y(an, z_head / an.H))
    a = float(vertebra_halfwidth(an, z_head / an.H))
    drop = _RIB_DROP[i - 1] * p * (0.6 + 0.4 * an.adult)
    theta = np.linspace(1.9, _RIB_END[i - 1], 12)
    t = (1.9 - theta) / (1.9 - _RIB_END[i - 1])
    z = z_head - drop * t ** 0.9
    r_rib = (5.0 if i == 1 else 3.6 if i > 10 else 4.2) * s
    wx, wy = an.wall_point(sgn, theta, np.minimum(z, 0.88 * an.H), r_rib + 3 * s)
    tubercle = (sgn * (a + 20 * s), float(canal_y(an, z_head / an.H)) + 6 * s, z_head - 0.05 * p)
    head = [(sgn * (a + 3 * s), y0 + 4 * s, z_head), tubercle]
    ctrl = np.vstack([np.array(head), np.c_[wx, wy, z][1:]])
    return ctrl, r_rib


def _paint_ribs(an, grid: Grid, hu):
    mask = np.zeros(grid.shape, bool)
    pts, rad = [], []
    for sgn in (-1, 1):
        for i in range(1, 13):
            ctrl, r = _rib_path(an, sgn, i)
            if ctrl[:, 2].max() < grid.z[0] - 20 or ctrl[:, 2].min() > grid.z[-1] + 20:
                continue
            pp, rr = curve_points(ctrl, r, 0.4 * grid.voxel_mm, n_fine=120)
            pts.append(pp)
            rad.append(rr)
    if pts:
        _paint_bone(an, grid, hu, np.vstack(pts), np.concatenate(rad), 1.2 * an.s, mask)
    return mask


def _sternum_geometry(an, h):
    """Half-width, half-thickness and centre y (mm) of the sternum at heights ``h``."""
    s = an.s
    hw = s * np.interp(h, [0.26, 0.33, 0.37, 0.7, 0.75, 0.83, 0.87], [4, 9, 13, 15, 18, 26, 24])
    ht = s * np.interp(h, [0.26, 0.37, 0.74, 0.76, 0.87], [3, 5.5, 6, 7.5, 8])
    pr = an.prof(np.minimum(h, 0.8))
    u = pr["cx_a"] / pr["ax_a"]
    front = pr["cy"] - pr["ay_a"] * np.clip(1 - u ** 2.5, 0, 1) ** 0.4
    return hw, ht, front - ht - 2.5 * s


def _paint_sternum(an, grid: Grid, hu):
    mask = np.zeros(grid.shape, bool)
    X, Y, Z = grid.mesh()
    h = Z / an.H
    zr = _index_range(grid.z, 0.26 * an.H, 0.87 * an.H)
    if zr.stop <= zr.start:
        return mask
    hw, ht, yc = _sternum_geometry(an, h[zr])
    sl = (zr, _index_range(grid.y, yc.min() - 12 * an.s, yc.max() + 12 * an.s),
          _index_range(grid.x, -30 * an.s, 30 * an.s))
    xx, yy = X[:, :, sl[2]] - an.xm * 0.3, Y[:, sl[1]]
    q = np.sqrt((xx / hw) ** 2 + ((yy - yc) / ht) ** 2)
    sd = (q - 1) * np.minimum(hw, ht)
    w = grid.voxel_mm
    _paint(hu, _frac(sd, w), an.cortical_hu, sl)
    _paint(hu, _frac(sd + 1.0 * an.s, w), an.cancellous_hu, sl)
    mask[sl] = sd < 0
    return mask


def _paint_cartilage(an, grid: Grid, hu):
    """Costal cartilage: ribs 1-7 to the sternum, 8-10 up to the cartilage above."""
    pts, rad = [], []
    s = an.s
    for sgn in (-1, 1):
        for i in range(1, 11):
            ctrl, r = _rib_path(an, sgn, i)
            cc = ctrl[-1]
            if i <= 7:
                z_att = an.H * (0.86 if i == 1 else 0.76 if i == 2 else 0.66 - 0.075 * (i - 3))
                hw, ht, yc = _sternum_geometry(an, np.array(z_att / an.H))
                end = np.array([sgn * float(hw), float(yc), z_att])
            else:
                end = cc + np.array([-sgn * 35 * s, -10 * s, 0.45 * an.H / 11])
            mid = 0.5 * (cc + end) + np.array([0, -6 * s, 0])
            pp, rr = curve_points(np.vstack([cc, mid, end]), 0.85 * r, 0.4 * grid.voxel_mm, 40)
            pts.append(pp)
            rad.append(rr)
    box = tube_box(grid, np.vstack(pts), np.concatenate(rad))
    if box is not None:
        value = HU_CARTILAGE + 140 * np.clip((an.age - 40) / 40, 0, 1)   # calcifies with age
        _paint(hu, box[1], value, box[0])


def _paint_scapulae(an, grid: Grid, hu):
    """Thin blades on the posterolateral chest wall (T2-T7) with a thicker lateral border,
    the scapular spine and the glenoid."""
    s = an.s
    a, b = np.meshgrid(np.linspace(0, 1, 28), np.linspace(0, 1, 48))
    z = (0.45 + 0.47 * b) * an.H
    th_m = 1.75 - 0.1 * b
    theta = th_m - a * (0.15 + 0.75 * b)
    offset = 14 * s + 6 * s * b
    r = np.where(a > 0.92, 3.5 * s, 1.5 * s)
    pts, rad = [], []
    for sgn in (-1, 1):
        wx, wy = an.wall_point(sgn, theta, np.minimum(z, 0.88 * an.H), offset)
        pts.append(np.c_[wx.ravel(), wy.ravel(), z.ravel()])
        rad.append(r.ravel())
        spine = (b > 0.72) & (b < 0.8)
        sx, sy = an.wall_point(sgn, theta[spine], np.minimum(z[spine], 0.88 * an.H),
                               offset[spine] + 6 * s)
        pts.append(np.c_[sx, sy, z[spine]])
        rad.append(np.full(spine.sum(), 3.0 * s))
        gx, gy = an.wall_point(sgn, theta[-2, -1], 0.88 * an.H, offset[-2, -1] + 4 * s)
        gp, gr = segment_points(np.array([[gx, gy, z[-2, -1] - 10 * s]]),
                                np.array([[gx + sgn * 8 * s, gy, z[-2, -1] + 10 * s]]),
                                np.array([11.0 * s]), np.array([11.0 * s]), 2.0)
        pts.append(gp)
        rad.append(gr)
    _paint_bone(an, grid, hu, np.vstack(pts), np.concatenate(rad), 1.2 * s)


def _paint_clavicles(an, grid: Grid, hu):
    s, H = an.s, an.H
    _, _, yst = _sternum_geometry(an, np.array(0.86))
    y = float(yst)
    for sgn in (-1, 1):
        ctrl = np.array([[22, -2, 0.86], [55, -10, 0.89], [100, 5, 0.93], [128, 35, 0.96]])
        ctrl = np.c_[sgn * ctrl[:, 0] * s, y + ctrl[:, 1] * s, ctrl[:, 2] * H]
        pts, r = curve_points(ctrl, np.array([7.5, 6.5, 6.0, 6.5]) * s, 0.4 * grid.voxel_mm, 80)
        _paint_bone(an, grid, hu, pts, r, 1.5 * s)
