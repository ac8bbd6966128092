"""3D building blocks of the CT phantoms: a voxel grid, anti-aliased tubes, branching trees,
smooth random fields and signed-distance helpers.

* :class:`Grid` — a ``(z, y, x)`` voxel grid placed in patient coordinates (mm): ``x`` to the
  patient's left, ``y`` posterior, ``z`` superior (DICOM LPS axes, origin where the phantom
  puts it).
* :func:`tube_coverage` — the fraction of each voxel covered by a union of balls (tubes are
  balls sampled densely along a centreline, :func:`segment_points`, :func:`curve_points`).
  Tubes thinner than a voxel keep their cross-section: they are drawn wider and fainter, so a
  0.4 mm vessel in a 1.5 mm voxel raises it by its partial volume, not to full density.
* :func:`grow_tree` — a space-filling branching tree grown into a cloud of attractor points by
  recursive bisection, after Tawhai et al. (Ann. Biomed. Eng. 28 (2000) 793; the algorithm
  of Kitaoka et al., J. Appl. Physiol. 87 (1999) 2207, in point form): each branch ends part
  of the way to the centre of mass of the points it supplies, which are split in two by a
  plane containing the branch. With radii by Murray's law (``r³`` proportional to the number
  of points supplied) it gives airway and vessel trees that taper and fill their lobe.
* :func:`smooth_noise`, :func:`resample_linear`, :class:`Wave` — smooth random fields (on a
  grid, or evaluable anywhere) and fast separable interpolation; ``_superellipse_sd``,
  ``_frac`` and ``_paint`` turn shapes into partial-volume coverage and blend it into a
  volume; ``_box``, ``_sub_mesh`` and ``_mask_box`` restrict work to bounding boxes.

Example
-------
>>> import numpy as np
>>> g = Grid((4, 16, 16), (1.0, 1.0, 1.0), (-7.5, -7.5, 0.0))
>>> pts, r = segment_points(np.array([[0, 0, -5.0]]), np.array([[0, 0, 10.0]]),
...                         np.array([3.0]), np.array([3.0]), step_mm=0.5)
>>> cov = tube_coverage(g, pts, r)
>>> round(float(cov.sum(axis=(1, 2)).mean() / (np.pi * 9)), 1)   # area of the cross-section
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Grid", "Tree", "tube_coverage", "tube_box", "segment_points", "curve_points",
           "grow_tree", "smooth_noise", "resample_linear", "Wave"]


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``shape`` and ``spacing`` (mm) in ``(z, y, x)`` order; ``origin`` is the
    patient position ``(x, y, z)`` in mm of the centre of voxel ``(0, 0, 0)``.

    >>> g = Grid((2, 3, 4), (2.0, 1.0, 0.5), (10.0, 0.0, -1.0))
    >>> g.x.tolist(), g.z.tolist()
    ([10.0, 10.5, 11.0, 11.5], [-1.0, 1.0])
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    @property
    def x(self) -> np.ndarray:
        return (self.origin[0] + self.spacing[2] * np.arange(self.shape[2])).astype(np.float32)

    @property
    def y(self) -> np.ndarray:
        return (self.origin[1] + self.spacing[1] * np.arange(self.shape[1])).astype(np.float32)

    @property
    def z(self) -> np.ndarray:
        return (self.origin[2] + self.spacing[0] * np.arange(self.shape[0])).astype(np.float32)

    def mesh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X, Y, Z`` broadcastable to ``shape``: (1, 1, nx), (1, ny, 1), (nz, 1, 1), mm."""
        return self.x[None, None, :], self.y[None, :, None], self.z[:, None, None]

    @property
    def voxel_mm(self) -> float:
        """Geometric-mean voxel size in mm (the width of anti-aliased edges)."""
        return float(np.prod(self.spacing) ** (1 / 3))


def tube_coverage(grid: Grid, points: np.ndarray, radii: np.ndarray,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Fraction (0..1) of each voxel inside a union of balls (max over balls).

    Parameters
    ----------
    grid : Grid
    points : (n, 3) float array
        Ball centres ``(x, y, z)`` in mm.
    radii : (n,) float array
        Ball radii in mm. A ball smaller than 0.6 voxel is drawn with radius 0.6 voxel and
        coverage scaled by ``(r / r_drawn)²`` (a thin tube keeps its cross-section area).
    out : float32 array of ``grid.shape``, optional
        Accumulated into (max) and returned.

    Returns
    -------
    float32 ndarray of ``grid.shape``
    """
    vol = np.zeros(grid.shape, np.float32) if out is None else out
    box = tube_box(grid, points, radii)
    if box is not None:
        np.maximum(vol[box[0]], box[1], out=vol[box[0]])
    return vol


def tube_box(grid: Grid, points: np.ndarray, radii: np.ndarray
             ) -> tuple[tuple[slice, slice, slice], np.ndarray] | None:
    """:func:`tube_coverage` restricted to the balls' bounding box: ``(slices, coverage)``
    with ``coverage`` of the shape ``grid.shape[slices]``, or None if no ball meets the grid.

    >>> g = Grid((8, 8, 8), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    >>> sl, cov = tube_box(g, np.array([[3.0, 3.0, 3.0]]), np.array([1.0]))
    >>> [(s.start, s.stop) for s in sl], cov.shape
    ([(1, 6), (1, 6), (1, 6)], (5, 5, 5))
    """
    pts = np.asarray(points, float).reshape(-1, 3)
    r = np.broadcast_to(np.asarray(radii, float), (len(pts),))
    if not len(pts):
        return None
    sp = np.array(grid.spacing[::-1], float)                 # (dx, dy, dz)
    w = grid.voxel_mm
    r_eff = np.maximum(r, 0.6 * w)
    half = np.floor((r_eff + 0.5 * w)[:, None] / sp + 0.5).astype(np.int64)
    frac = (pts - np.array(grid.origin, float)) / sp
    centre = np.rint(frac).astype(np.int64)
    nxyz = np.array(grid.shape[::-1])
    lo = np.maximum((centre - half).min(0), 0)
    hi = np.minimum((centre + half).max(0) + 1, nxyz)
    if np.any(hi <= lo):
        return None
    keep = np.all((centre + half >= lo) & (centre - half < hi), axis=1)
    if not keep.any():
        return None
    pad = 2 * half[keep].max(0)                 # a stencil may start outside the box
    cov = np.zeros(tuple(int(v) for v in (hi - lo + 2 * pad)[::-1]), np.float32)
    _balls(cov, frac[keep] - lo + pad, centre[keep] - lo + pad, half[keep], sp, w,
           r_eff[keep], (r[keep] / r_eff[keep]) ** 2)
    crop = tuple(slice(int(a), int(a + n)) for a, n in zip(pad[::-1], (hi - lo)[::-1]))
    return tuple(slice(int(a), int(b)) for a, b in zip(lo[::-1], hi[::-1])), cov[crop]


def _balls(vol, frac, centre, half, sp, w, r_eff, amp, chunk: int = 1 << 21) -> None:
    """Max-accumulate anti-aliased balls into ``vol`` (positions in its voxel indices; every
    stencil must lie inside it)."""
    flat = vol.reshape(-1)
    strides = np.array([1, vol.shape[2], vol.shape[1] * vol.shape[2]])
    keys = (half[:, 0] << 40) + (half[:, 1] << 20) + half[:, 2]
    for key in np.unique(keys):
        sel = np.nonzero(keys == key)[0]
        hx, hy, hz = half[sel[0]]
        off = np.stack(np.meshgrid(np.arange(-hx, hx + 1), np.arange(-hy, hy + 1),
                                   np.arange(-hz, hz + 1), indexing="ij"), -1).reshape(-1, 3)
        step = (off * sp).astype(np.float32)
        off_lin = off @ strides
        per = max(1, chunk // len(off))
        for i in range(0, len(sel), per):
            j = sel[i:i + per]
            resid = ((centre[j] - frac[j]) * sp).astype(np.float32)           # (n, 3) mm
            d2 = np.zeros((len(j), len(off)), np.float32)
            for a in range(3):
                d2 += (resid[:, a, None] + step[:, a]) ** 2
            cov = np.sqrt(d2)
            cov = np.clip((r_eff[j, None] - cov) / w + 0.5, 0.0, 1.0, out=cov)
            cov *= amp[j, None].astype(np.float32)
            ok = cov > 0
            lin = (centre[j] @ strides)[:, None] + off_lin
            np.maximum.at(flat, lin[ok], cov[ok])


def segment_points(starts: np.ndarray, ends: np.ndarray, r0: np.ndarray, r1: np.ndarray,
                   step_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Ball centres and radii along straight segments (radius linear from ``r0`` to ``r1``).

    Points are at most ``max(step_mm, 0.45 r)`` apart, so the union of balls is a tube with
    scallops below 3 % of its radius.

    >>> p, r = segment_points(np.zeros((1, 3)), np.array([[10.0, 0, 0]]), np.array([1.0]),
    ...                       np.array([2.0]), step_mm=1.0)
    >>> len(p), float(r[0]), float(r[-1])
    (11, 1.0, 2.0)
    """
    starts, ends = np.asarray(starts, float), np.asarray(ends, float)
    r0, r1 = np.asarray(r0, float), np.asarray(r1, float)
    length = np.linalg.norm(ends - starts, axis=1)
    step = np.maximum(step_mm, 0.45 * np.minimum(r0, r1))
    n = np.ceil(length / step).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(n)), n)
    t = (np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)) / np.maximum(n[seg] - 1, 1)
    pts = starts[seg] + t[:, None] * (ends - starts)[seg]
    return pts, r0[seg] + t * (r1 - r0)[seg]


def curve_points(control: np.ndarray, radii, step_mm: float, n_fine: int = 200
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Ball centres along a smooth curve through ``control`` points (Catmull-Rom), with
    radii interpolated from per-control-point ``radii`` (mm); points are
    ``max(step_mm, 0.45 r)`` apart along the curve.

    >>> p, r = curve_points(np.array([[0, 0, 0], [10, 0, 0], [20, 10, 0.0]]), 2.0, 1.0)
    >>> bool(np.allclose(p[0], 0) and np.allclose(p[-1], [20, 10, 0]))
    True
    """
    c = np.asarray(control, float)
    rad = np.broadcast_to(np.asarray(radii, float), (len(c),))
    ext = np.vstack([2 * c[0] - c[1], c, 2 * c[-1] - c[-2]])
    t = np.linspace(0, len(c) - 1, n_fine)
    k = np.minimum(t.astype(int), len(c) - 2)
    u = (t - k)[:, None]
    p0, p1, p2, p3 = ext[k], ext[k + 1], ext[k + 2], ext[k + 3]
    fine = 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                  + (3 * p1 - p0 - 3 * p2 + p3) * u ** 3)
    rf = np.interp(t, np.arange(len(c)), rad)
    seg = np.linalg.norm(np.diff(fine, axis=0), axis=1)
    steps = np.concatenate([[0.0], np.cumsum(seg / np.maximum(step_mm, 0.45 * rf[1:]))])
    at = np.linspace(0, steps[-1], int(np.ceil(steps[-1])) + 1)
    pts = np.stack([np.interp(at, steps, fine[:, a]) for a in range(3)], 1)
    return pts, np.interp(at, steps, rf)


@dataclass
class Tree:
    """Branches of a tree: ``start``/``end`` (n, 3) in mm, ``n_points`` supplied by each
    branch (sets its radius), ``parent`` index (-1 for the root) and ``depth`` (generation
    below the root)."""

    start: np.ndarray
    end: np.ndarray
    n_points: np.ndarray
    parent: np.ndarray
    depth: np.ndarray

    def radius(self, r_terminal: float, exponent: float = 3.0) -> np.ndarray:
        """Murray's law: ``r = r_terminal × n_points^(1/exponent)`` in mm."""
        return r_terminal * self.n_points.astype(float) ** (1.0 / exponent)


def grow_tree(start: np.ndarray, end: np.ndarray, points: np.ndarray, *, fraction: float = 0.4,
              max_angle_deg: float = 60.0) -> Tree:
    """Grow a tree from the root branch ``start -> end`` into ``points`` (n, 3), mm.

    At each branch end the points it supplies are split by the plane that contains the
    branch and is normal to their widest spread; each half gets a child branch reaching
    ``fraction`` of the way to its centre of mass (all the way when it holds one point),
    turned back to at most ``max_angle_deg`` from its parent.

    >>> pts = np.random.default_rng(0).uniform(-20, 20, (64, 3)) + [0, 0, 40]
    >>> t = grow_tree(np.zeros(3), np.array([0, 0, 15.0]), pts)
    >>> len(t.start), int(t.n_points[0]), int(t.depth.max()) >= 6
    (127, 64, True)
    """
    pts = np.asarray(points, float)
    cos_max = np.cos(np.radians(max_angle_deg))
    starts, ends = [np.asarray(start, float)], [np.asarray(end, float)]
    sets, parents, depths = [np.arange(len(pts))], [-1], [0]
    stack = [0]
    while stack:
        b = stack.pop()
        idx = sets[b]
        if len(idx) < 2:
            continue
        e = ends[b]
        d = e - starts[b]
        d = d / (np.linalg.norm(d) + 1e-9)
        for sub in _bisect(pts[idx], d):
            child = idx[sub]
            target = pts[child[0]] if len(child) == 1 else \
                e + fraction * (pts[child].mean(0) - e)
            starts.append(e)
            ends.append(e + _limit_angle(target - e, d, cos_max))
            sets.append(child)
            parents.append(b)
            depths.append(depths[b] + 1)
            stack.append(len(ends) - 1)
    return Tree(np.array(starts), np.array(ends), np.array([len(s) for s in sets]),
                np.array(parents), np.array(depths))


def _bisect(p: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split points by the plane through their centre that contains direction ``d`` and is
    normal to their widest spread across ``d``; boolean masks of the two halves."""
    if len(p) == 2:
        return np.array([True, False]), np.array([False, True])
    q = p - p.mean(0)
    q -= np.outer(q @ d, d)
    axis = np.linalg.eigh(q.T @ q)[1][:, -1]
    t = q @ axis
    side = t > 0
    if side.all() or not side.any():
        side = t > np.median(t)
        if side.all() or not side.any():
            side = np.arange(len(t)) < len(t) // 2
    return side, ~side


def _limit_angle(v: np.ndarray, d: np.ndarray, cos_max: float) -> np.ndarray:
    """``v`` turned towards the unit vector ``d`` until their angle is at most acos(cos_max)."""
    n = np.linalg.norm(v)
    if n < 1e-9 or v @ d >= cos_max * n:
        return v
    perp = v - (v @ d) * d
    perp /= np.linalg.norm(perp) + 1e-12
    return n * (cos_max * d + np.sqrt(1 - cos_max ** 2) * perp)


def smooth_noise(grid: Grid, sigma_mm: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth Gaussian random field on ``grid`` with unit variance and correlation length
    ``sigma_mm`` (mm), made on a coarse grid (``sigma_mm / 3`` apart, never finer than the
    grid) and interpolated linearly (fast at any size).

    >>> g = Grid((20, 30, 30), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    >>> f = smooth_noise(g, 4.0, np.random.default_rng(0))
    >>> f.shape, bool(0.5 < f.std() < 1.5)
    ((20, 30, 30), True)
    """
    axes = [grid.z, grid.y, grid.x]
    steps = [max(sigma_mm / 3.0, sp) for sp in grid.spacing]
    n = [int(np.ceil((a[-1] - a[0]) / st)) + 9 for a, st in zip(axes, steps)]
    field_ = ndimage.gaussian_filter(rng.standard_normal(n).astype(np.float32),
                                     [sigma_mm / st for st in steps], mode="wrap")
    field_ /= field_.std() + 1e-9
    return resample_linear(field_, [(a - a[0]) / st + 4 for a, st in zip(axes, steps)])


def resample_linear(values: np.ndarray, coords) -> np.ndarray:
    """Separable linear interpolation of a 3D array at fractional indices ``coords`` (one
    1D array per axis; clamped to the array), float32.

    >>> resample_linear(np.arange(8.0).reshape(2, 2, 2), [np.array([0.5])] * 3).tolist()
    [[[3.5]]]
    """
    out = np.asarray(values, np.float32)
    for k in np.argsort([len(c) / n for c, n in zip(coords, out.shape)]):
        t = np.clip(np.asarray(coords[k], float), 0, out.shape[k] - 1.001)
        i = t.astype(int)
        shape = [1, 1, 1]
        shape[k] = -1
        f = (t - i).astype(np.float32).reshape(shape)
        out = np.take(out, i, axis=k) * (1 - f) + np.take(out, i + 1, axis=k) * f
    return np.ascontiguousarray(out, dtype=np.float32)


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _frac(sd, width):
    """Partial-volume fraction from a signed distance (mm, negative inside)."""
    out = np.asarray(sd, np.float32) * np.float32(-1.0 / width)
    out += np.float32(0.5)
    return np.clip(out, 0.0, 1.0, out=out)


def _paint(hu, cov, value, where=None):
    """Blend ``value`` into ``hu`` in place by coverage ``cov`` (optionally a sub-box)."""
    target = hu if where is None else hu[where]
    target += cov * (np.asarray(value, np.float32) - target)


def _powabs(a, n):
    """``|a|**n`` and ``|a|**(n - 1)`` for n in {2, 2.5, 4} with cheap operations."""
    a = np.abs(a)
    if n == 2:
        return a * a, a
    if n == 4:
        a2 = a * a
        return a2 * a2, a2 * a
    r = np.sqrt(a)
    return a * a * r, a * r


def _superellipse_sd(dx, dy, ax, ay, n=2.0):
    """Approximate signed distance (mm; < 0 inside) to ``|dx/ax|^n + |dy/ay|^n = 1``
    (first order, exact on the boundary)."""
    pu, gu = _powabs(dx / ax, n)
    pv, gv = _powabs(dy / ay, n)
    grad = n * np.sqrt((gu / ax) ** 2 + (gv / ay) ** 2)
    return (pu + pv - 1.0) / np.maximum(grad, 1e-4)


class Wave:
    """A smooth random function of position (sum of random plane waves, unit variance):
    evaluates anywhere, so coarse and fine grids see the same surface."""

    def __init__(self, rng: np.random.Generator, length_mm: float, n: int = 6, dims: int = 2):
        k = rng.standard_normal((n, dims))
        self.k = k / np.linalg.norm(k, axis=1, keepdims=True) / length_mm * \
            rng.uniform(0.6, 1.4, (n, 1)) * 2 * np.pi
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.amp = np.sqrt(2.0 / n)

    def __call__(self, *coords):
        out = 0.0
        for k, ph in zip(self.k, self.phase):
            arg = sum(kk * c for kk, c in zip(k, coords)) + ph
            out = out + np.cos(arg)
        return (self.amp * out).astype(np.float32)


def _box(grid: Grid, lo, hi):
    """Index slices of the grid covering the mm box [lo, hi] (x, y, z), or None if empty."""
    sl = []
    for k, ax in enumerate((grid.x, grid.y, grid.z)):
        i0 = int(np.searchsorted(ax, lo[k]))
        i1 = int(np.searchsorted(ax, hi[k]))
        if i1 <= i0:
            return None
        sl.append(slice(i0, i1))
    return sl[2], sl[1], sl[0]


def _sub_mesh(grid: Grid, box):
    """``X, Y, Z`` (broadcastable) of the voxels in ``box`` (slices in z, y, x order)."""
    X, Y, Z = grid.mesh()
    return X[:, :, box[2]], Y[:, box[1]], Z[box[0]]


def _mask_box(mask: np.ndarray):
    """Slices of the bounding box of a 3D mask (None if empty)."""
    out = []
    for ax in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))
        if not hit.size:
            return None
        out.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)
