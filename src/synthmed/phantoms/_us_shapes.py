"""Building blocks of the ultrasound scenes: the :class:`UsScene` container and shapes that
can be evaluated at any point in mm (so the same model is sampled along the beams and at
the pixel centres): smooth random fields and curves, ellipses, segments and star-shaped
blobs with lobulations, angles and spicules.

Coordinates: x lateral (mm, 0 on the probe's central line), z depth (mm, 0 at the centre
of the probe face, increasing downwards).

>>> import numpy as np
>>> b = Blob(0.0, 10.0, 4.0, 2.0)
>>> b.inside(np.array([0.0, 0.0, 3.9]), np.array([10.0, 12.5, 10.0])).tolist()
[True, False, True]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from synthmed.physics.ultrasound import Tissue

__all__ = ["UsScene", "Raster", "Field", "Curve", "Blob", "Lobules", "Cells", "ellipse_q",
           "segment_distance", "wrap_angle"]


@dataclass
class UsScene:
    """A tissue model for :func:`synthmed.physics.us_scan.simulate_bmode` and its labels.

    Attributes
    ----------
    name : str
    regions : list of (str, Tissue)
        Region name and acoustic properties; the list index is the label value.
    labels_at : callable
        ``labels_at(x_mm, z_mm) -> int array`` of region indices.
    echo_at : callable or None
        ``echo_at(x_mm, z_mm, labels) -> float array``: echogenicity texture (multiplier).
    structures : dict of str to tuple of str
        Mask name -> the region names it unites.
    landmarks_mm : dict of str to (x, z)
        Named points in mm.
    attributes : dict
        Scalar facts (sizes in mm, descriptors).
    boxes : list of str
        Structures that get a bounding box.
    focus_mm, depth_mm : float
        Suggested transmit focus and imaging depth (mm).
    """

    name: str
    regions: list[tuple[str, Tissue]]
    labels_at: Callable[[np.ndarray, np.ndarray], np.ndarray]
    echo_at: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None
    structures: dict[str, tuple[str, ...]]
    landmarks_mm: dict[str, tuple[float, float]] = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)
    boxes: list[str] = field(default_factory=list)
    focus_mm: float = 20.0
    depth_mm: float = 40.0

    @property
    def tissues(self) -> list[Tissue]:
        return [t for _, t in self.regions]

    def region_ids(self, names) -> list[int]:
        """Label values of the named regions."""
        index = {n: i for i, (n, _) in enumerate(self.regions)}
        return [index[n] for n in names]


def wrap_angle(a):
    """Angle wrapped to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


class Raster:
    """A 2-D array over a box in mm, sampled anywhere by bilinear interpolation."""

    def __init__(self, values: np.ndarray, x0: float, z0: float, spacing_mm: float):
        self.values = np.ascontiguousarray(values, np.float32)
        self.x0, self.z0, self.spacing = float(x0), float(z0), float(spacing_mm)

    def __call__(self, x, z) -> np.ndarray:
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        coords = [((z - self.z0) / self.spacing).ravel(), ((x - self.x0) / self.spacing).ravel()]
        out = ndimage.map_coordinates(self.values, coords, order=1, mode="nearest")
        return out.reshape(x.shape)


class Field(Raster):
    """Smooth Gaussian random field, zero mean and unit std, correlation lengths
    ``sigma_mm = (lateral, axial)`` (mm), over ``bounds_mm = (x0, x1, z0, z1)``.

    >>> import numpy as np
    >>> f = Field(np.random.default_rng(0), (-10, 10, 0, 20), (2.0, 0.5))
    >>> round(float(f.values.std()), 3)
    1.0
    """

    def __init__(self, rng: np.random.Generator, bounds_mm, sigma_mm, spacing_mm=None):
        sx, sz = (sigma_mm, sigma_mm) if np.isscalar(sigma_mm) else sigma_mm
        sp = spacing_mm or max(min(sx, sz) / 2.0, 0.03)
        x0, x1, z0, z1 = bounds_mm
        nx, nz = int(np.ceil((x1 - x0) / sp)) + 1, int(np.ceil((z1 - z0) / sp)) + 1
        a = ndimage.gaussian_filter(rng.standard_normal((nz, nx), dtype=np.float32),
                                    (sz / sp, sx / sp), mode="wrap")
        a = (a - a.mean()) / (a.std() + 1e-12)
        super().__init__(a, x0, z0, sp)

    def level_distance(self) -> Raster:
        """Approximate signed distance (mm) to the field's zero level set: F / |grad F|."""
        gz, gx = np.gradient(self.values, self.spacing)
        d = self.values / np.maximum(np.hypot(gx, gz), 1e-6)
        return Raster(d, self.x0, self.z0, self.spacing)


class Curve:
    """Smooth random function of x (unit std, correlation length ``sigma_mm``).

    >>> import numpy as np
    >>> c = Curve(np.random.default_rng(0), -20, 20, 5.0)
    >>> c(np.array([0.0, 1.0])).shape
    (2,)
    """

    def __init__(self, rng: np.random.Generator, x0: float, x1: float, sigma_mm: float,
                 spacing_mm: float = 0.1):
        self.xs = np.arange(x0, x1 + spacing_mm, spacing_mm)
        a = ndimage.gaussian_filter1d(rng.standard_normal(self.xs.size), sigma_mm / spacing_mm,
                                      mode="wrap")
        self.values = (a - a.mean()) / (a.std() + 1e-12)

    def __call__(self, x) -> np.ndarray:
        return np.interp(x, self.xs, self.values)


class Lobules:
    """Lens-shaped lobules packed in staggered rows that follow a warped layer coordinate.

    Rows about ``height_mm`` thick run along ``w = d + warp_mm * F(x, d)`` (d: depth below
    the skin); each row is cut into cells about ``length_mm`` long, staggered and stretched
    per row; each cell holds an elliptical lobule filling a random fraction of its width
    (``fill[0]`` to 100 %) and height (``fill[1]`` to 96 %): fat islands within glandular
    tissue.

    >>> import numpy as np
    >>> lob = Lobules(np.random.default_rng(0), (-20, 20, 0, 40), 6.0, 3.0)
    >>> x, d = np.meshgrid(np.linspace(-10, 10, 200), np.linspace(5, 30, 200))
    >>> inside, u = lob(x, d)
    >>> bool(0.5 < inside.mean() < 0.95), bool(0 <= u.min() and u.max() < 1)
    (True, True)
    """

    def __init__(self, rng: np.random.Generator, bounds_mm, length_mm: float, height_mm: float,
                 warp_mm: float = 2.0, fill: tuple[float, float] = (0.88, 0.8)):
        self.length, self.height, self.warp_mm = float(length_mm), float(height_mm), warp_mm
        self.warp = Field(rng, bounds_mm, (8.0, 3.0))
        self.rows = rng.random((3, 97))          # per row: offset, stretch, spare
        self.cells = rng.random((3, 97, 89))     # per cell: width fill, height fill, category
        self.fill = fill

    def __call__(self, x, d) -> tuple[np.ndarray, np.ndarray]:
        """``(inside, u)``: inside a lobule, and a uniform random number per cell."""
        x, d = np.asarray(x, np.float64), np.asarray(d, np.float64)
        w = d + self.warp_mm * self.warp(x, d)
        row = np.floor(w / self.height).astype(np.int64)
        fr = w / self.height - row
        ri = row % 97
        xs = (x / (0.5 + self.rows[1, ri]) / self.length + 7.0 * self.rows[0, ri])
        cell = np.floor(xs).astype(np.int64)
        fc = xs - cell
        ci = cell % 89
        fx, fz = self.fill
        sx = 0.5 * (fx + (1 - fx) * self.cells[0, ri, ci])
        sz = 0.5 * (fz + (0.96 - fz) * self.cells[1, ri, ci])
        inside = ((fc - 0.5) / sx) ** 2 + ((fr - 0.5) / sz) ** 2 < 1.0
        return inside, self.cells[2, ri, ci]


class Cells:
    """Voronoi cells, wider than tall, in warped depth: packed fat lobules and their septa.

    Seeds on a jittered grid ``cell_mm = (width, height)`` apart in (x, w) with
    ``w = d + warp_mm * F(x, d)`` (x is warped too, so walls curve); distances are measured
    with x scaled down by width / height, so cells are that much wider than tall.
    ``__call__`` returns the distance (mm) to the wall between the nearest and
    second-nearest seed (the bisector in scaled space, mapped back to mm) and the nearest
    seed's index.

    >>> import numpy as np
    >>> c = Cells(np.random.default_rng(0), (-20, 20, 0, 40), (10.0, 4.0))
    >>> gap, idx = c(np.linspace(-10, 10, 500), np.full(500, 10.0))
    >>> bool(gap.min() < 0.2 and gap.max() > 1.0)
    True
    """

    def __init__(self, rng: np.random.Generator, bounds_mm, cell_mm, warp_mm: float = 1.5):
        x0, x1, z0, z1 = bounds_mm
        self.aspect = cell_mm[0] / cell_mm[1]
        h = cell_mm[1]
        gx = np.arange(x0 / self.aspect - h, x1 / self.aspect + h, h)
        gz = np.arange(z0 - h, z1 + h, h)
        sx, sz = np.meshgrid(gx, gz)
        stagger = 0.5 * h * (np.arange(gz.size)[:, None] % 2)
        sx = sx + (rng.random(sx.shape) - 0.5) * 0.8 * h + stagger
        sz = sz + (rng.random(sz.shape) - 0.5) * 0.8 * h
        self.tree = cKDTree(np.column_stack([sx.ravel(), sz.ravel()]))
        self.warp, self.warp_mm = Field(rng, bounds_mm, (8.0, 3.0)), warp_mm
        self.warp_x = Field(rng, bounds_mm, (4.0, 2.0))

    def __call__(self, x, d) -> tuple[np.ndarray, np.ndarray]:
        x, d = np.asarray(x, np.float64), np.asarray(d, np.float64)
        w = d + self.warp_mm * self.warp(x, d)
        x = x + self.aspect * self.warp_mm * self.warp_x(x, d)     # curved walls
        dist, idx = self.tree.query(np.column_stack([(x / self.aspect).ravel(), w.ravel()]), k=2)
        p = self.tree.data[idx[:, 1]] - self.tree.data[idx[:, 0]]
        sep = np.maximum(np.hypot(p[:, 0], p[:, 1]), 1e-9)
        gap = (dist[:, 1] ** 2 - dist[:, 0] ** 2) / (2 * sep)      # to the bisector, scaled
        gap /= np.hypot(p[:, 0] / sep / self.aspect, p[:, 1] / sep)
        return gap.reshape(x.shape), idx[:, 0].reshape(x.shape)


def ellipse_q(x, z, cx, cz, a, b, angle=0.0):
    """``(u / a)^2 + (v / b)^2`` in the ellipse's frame (u lateral rotated by ``angle``
    radians, clockwise on screen); < 1 inside."""
    dx, dz = np.asarray(x) - cx, np.asarray(z) - cz
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = dx * ca + dz * sa, -dx * sa + dz * ca
    return (u / a) ** 2 + (v / b) ** 2


def segment_distance(x, z, p0, p1):
    """Distance (mm) from points to the segment p0-p1 (each ``(x, z)``)."""
    x, z = np.asarray(x), np.asarray(z)
    vx, vz = p1[0] - p0[0], p1[1] - p0[1]
    t = np.clip(((x - p0[0]) * vx + (z - p0[1]) * vz) / max(vx * vx + vz * vz, 1e-12), 0, 1)
    return np.hypot(x - p0[0] - t * vx, z - p0[1] - t * vz)


@dataclass
class Blob:
    """Star-shaped region: an ellipse (semi-axes ``a`` lateral, ``b`` axial before rotating
    by ``angle`` radians) whose radius in direction phi is multiplied by
    ``1 + sum amp cos(k phi + phase)`` (lobulations) ``+ sum height * tri(dphi / width)^power``
    (angles with power 1, spicules with narrow widths), and by ``1 + roughness(phi)``.
    """

    cx: float
    cz: float
    a: float
    b: float
    angle: float = 0.0
    harmonics: tuple = ()        # (k, amplitude, phase)
    bumps: tuple = ()            # (phi, half_width_rad, height_fraction, power)

    def radius(self, phi) -> np.ndarray:
        """Boundary radius (mm) in direction ``phi`` (radians, local frame)."""
        phi = np.asarray(phi, np.float64)
        r = self.a * self.b / np.sqrt((self.b * np.cos(phi)) ** 2 + (self.a * np.sin(phi)) ** 2)
        mod = np.ones_like(phi)
        for k, amp, ph in self.harmonics:
            mod += amp * np.cos(k * phi + ph)
        for p0, w, h, pw in self.bumps:
            mod += h * np.clip(1.0 - np.abs(wrap_angle(phi - p0)) / w, 0.0, None) ** pw
        return r * mod

    def r_max(self) -> float:
        return float(self.radius(np.linspace(-np.pi, np.pi, 2048)).max())

    def polar(self, x, z):
        """Local polar coordinates ``(rho, phi)`` of points."""
        dx, dz = np.asarray(x) - self.cx, np.asarray(z) - self.cz
        ca, sa = np.cos(self.angle), np.sin(self.angle)
        u, v = dx * ca + dz * sa, -dx * sa + dz * ca
        return np.hypot(u, v), np.arctan2(v, u)

    def ratio(self, x, z) -> np.ndarray:
        """rho / radius(phi): < 1 inside; evaluated only near the blob (inf elsewhere)."""
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        out = np.full(np.broadcast(x, z).shape, np.inf)
        near = (np.abs(x - self.cx) < 1.05 * self.r_max() + 3) & \
            (np.abs(z - self.cz) < 1.05 * self.r_max() + 3)
        if near.any():
            xb, zb = np.broadcast_to(x, out.shape)[near], np.broadcast_to(z, out.shape)[near]
            rho, phi = self.polar(xb, zb)
            out[near] = rho / self.radius(phi)
        return out

    def inside(self, x, z, scale: float = 1.0) -> np.ndarray:
        return self.ratio(x, z) < scale

    def boundary(self, n: int = 1440, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(x, z) of ``n`` boundary points (mm)."""
        phi = np.linspace(-np.pi, np.pi, n, endpoint=False)
        r = scale * self.radius(phi)
        u, v = r * np.cos(phi), r * np.sin(phi)
        ca, sa = np.cos(self.angle), np.sin(self.angle)
        return self.cx + u * ca - v * sa, self.cz + u * sa + v * ca
