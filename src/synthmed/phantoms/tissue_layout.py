"""Tissue architecture of an H&E tile in micrometres: glands, stroma, fat, vessels.

A :class:`Layout` is pure geometry in µm (x along columns, y along rows, origin at the
tile's corner), so it does not depend on the magnification: :meth:`Layout.classify` gives
the tissue code of any points, whether pixel centres or candidate nucleus positions.

Architecture by tissue (sizes from standard histology texts):

* ``colon``: mucosa with crypts (half-width 24-34 µm, lumen 3.5-8 µm, cut across or
  along), goblet-cell mucin droplets (7-11 µm), lamina propria between them;
  adenocarcinoma replaces it with irregular, stratified glands (grade 1), cribriform
  glands with dirty necrosis (grade 2) or solid nests (grade 3) in desmoplastic stroma.
* ``breast``: lobules of small two-layered acini (half-width 11-20 µm) in loose
  intralobular stroma, ducts, dense collagenous stroma and fat (adipocytes 50-100 µm);
  invasive carcinoma of no special type forms tubules (grade 1), nests (2) or sheets (3).
* Vessels everywhere in stroma: capillaries (lumen 2.5-5 µm) and venules (6-18 µm) holding
  red blood cells (discs 7-8 µm).

>>> import numpy as np
>>> lay = build_layout("colon", 256.0, 256.0, 0, 0.0, 0.0, np.random.default_rng(0))
>>> codes, _ = lay.classify(np.array([1.0, 128.0]), np.array([1.0, 128.0]))
>>> codes.dtype == np.uint8 and len(lay.glands) > 3
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.spatial import cKDTree

from synthmed.phantoms.nuclei import star_distance

__all__ = ["CODES", "SmoothField", "Gland", "Layout", "build_layout"]

CODES = {"glass": 0, "stroma": 1, "dense_stroma": 2, "epithelium": 3, "lumen": 4, "mucin": 5,
         "fat": 6, "fat_membrane": 7, "vessel_wall": 8, "vessel_lumen": 9, "rbc": 10,
         "necrosis": 11}
C = CODES


class SmoothField:
    """Smooth random field (about unit SD) from random Fourier modes; wavelengths in µm.

    >>> f = SmoothField(np.random.default_rng(0), (50.0, 100.0))
    >>> bool(np.allclose(f(np.array([3.0]), np.array([4.0])), f.grid(1, 1, 1.0, 3.0, 4.0)))
    True
    """

    def __init__(self, rng: np.random.Generator, wavelength_um: tuple[float, float], n: int = 16):
        k = 2 * np.pi / rng.uniform(*wavelength_um, n)
        a = rng.uniform(0, 2 * np.pi, n)
        self.kx, self.ky = k * np.cos(a), k * np.sin(a)
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.gain = np.sqrt(2.0 / n)

    def __call__(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        out = np.zeros(np.broadcast(x, y).shape)
        for kx, ky, ph in zip(self.kx, self.ky, self.phase):
            out += np.cos(kx * x + ky * y + ph)
        return out * self.gain

    def grid(self, rows: int, cols: int, mpp: float, x0: float = 0.5, y0: float = 0.5):
        """The field at pixel centres ``((c + x0) * mpp, (r + y0) * mpp)``, separably."""
        x = (np.arange(cols) + x0) * mpp
        y = (np.arange(rows) + y0) * mpp
        out = np.zeros((rows, cols))
        for kx, ky, ph in zip(self.kx, self.ky, self.phase):
            out += (np.exp(1j * (ky * y + ph))[:, None] * np.exp(1j * kx * x)[None, :]).real
        return out * self.gain


@dataclass
class Gland:
    """A gland, duct, acinus, tumour nest or vessel: star-convex outline with lumina (µm)."""

    x: float
    y: float
    a: float
    b: float
    angle: float
    harmonics: np.ndarray
    kind: str                                    # crypt, acinus, duct, tumour, vessel
    lumina: list = field(default_factory=list)   # (x, y, a, b, angle, harmonics)
    necrosis: bool = False

    @cached_property
    def reach(self) -> float:
        """Half-size (µm) of a square around the centre that holds the whole outline."""
        return float(self.a * (1.0 + np.abs(self.harmonics[:, 1]).sum()) + 1.0)

    def outer(self, x, y):
        return star_distance(x - self.x, y - self.y, self.a, self.b, self.angle,
                             self.harmonics)[0]

    def lumen(self, x, y):
        d = np.full(np.broadcast(x, y).shape, -np.inf)
        for lx, ly, la, lb, lang, lh in self.lumina:
            d = np.maximum(d, star_distance(x - lx, y - ly, la, lb, lang, lh)[0])
        return d

    def boundary(self, n: int = 128, lumen: bool = False):
        """Points on the outline (or first lumen), inward normals and arc length (µm)."""
        x, y, a, b, ang, harm = (self.lumina[0] if lumen else
                                 (self.x, self.y, self.a, self.b, self.angle, self.harmonics))
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        r = 1.0 + sum(amp * np.cos(k * t + ph) for k, amp, ph in harm)
        u, v = a * r * np.cos(t), b * r * np.sin(t)
        px = x + u * np.cos(ang) - v * np.sin(ang)
        py = y + u * np.sin(ang) + v * np.cos(ang)
        tx, ty = np.roll(px, -1) - np.roll(px, 1), np.roll(py, -1) - np.roll(py, 1)
        nx, ny = -ty, tx
        flip = np.sign(nx * (x - px) + ny * (y - py) + 1e-12)
        norm = np.hypot(nx, ny) + 1e-12
        seg = np.hypot(np.diff(px, append=px[0]), np.diff(py, append=py[0]))
        return px, py, flip * nx / norm, flip * ny / norm, np.concatenate([[0], np.cumsum(seg)])


def _harm(rng, amp, kmax=6):
    ks = np.arange(2, kmax + 1, dtype=float)
    return np.stack([ks, rng.normal(0, amp, ks.size) / ks ** 0.7,
                     rng.uniform(0, 2 * np.pi, ks.size)], axis=1)


@dataclass
class Layout:
    """Tissue geometry of one tile (µm); :meth:`classify` maps points to :data:`CODES`."""

    width_um: float
    height_um: float
    tissue: str
    glands: list = field(default_factory=list)
    vessels: list = field(default_factory=list)
    goblets: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    rbcs: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    fat_seeds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    fat_is_fat: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    fat_warp: tuple | None = None   # two SmoothFields bending the adipocyte membranes
    lobules: list = field(default_factory=list)   # Gland outlines of loose-stroma lobules
    tumour: tuple | None = None     # (SmoothField, threshold): tumour where field > threshold
    edge: tuple | None = None       # (SmoothField, threshold): glass where field < threshold

    def in_tumour(self, x, y):
        if self.tumour is None:
            return np.zeros(np.broadcast(x, y).shape, bool)
        f, thr = self.tumour
        return f(x, y) > thr

    def classify(self, x, y):
        """Tissue codes (uint8) and a neoplastic flag for points ``(x, y)`` in µm (1-D)."""
        x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
        tum = self.in_tumour(x, y)
        code = np.full(x.shape, C["stroma"] if self.tissue == "colon" else C["dense_stroma"],
                       np.uint8)
        for lob in self.lobules:
            code[lob.outer(x, y) > 0] = C["stroma"]
        if len(self.fat_seeds) > 1:
            wx, wy = (x, y) if self.fat_warp is None else (
                x + 7.0 * self.fat_warp[0](x, y), y + 7.0 * self.fat_warp[1](x, y))
            d, i = cKDTree(self.fat_seeds).query(np.stack([wx, wy], 1), k=2)
            fat = self.fat_is_fat[i[:, 0]] & (code == C["dense_stroma"]) & ~tum
            code[fat] = np.where(d[fat, 1] - d[fat, 0] < 2.0, C["fat_membrane"], C["fat"])
        code[tum & (code == C["stroma"])] = C["dense_stroma"]
        neo = tum.copy()
        buckets = _Buckets(x, y)
        for g in self.glands + self.vessels:
            sel = buckets.within(g.x, g.y, g.reach)
            if not sel.size:
                continue
            xs, ys = x[sel], y[sel]
            inside = g.outer(xs, ys) > 0
            lum = g.lumen(xs, ys) > 0
            vessel = g.kind == "vessel"
            wall, hole = (C["vessel_wall"], C["vessel_lumen"]) if vessel else (
                C["epithelium"], C["necrosis"] if g.necrosis else C["lumen"])
            code[sel[inside]] = wall
            code[sel[inside & lum]] = hole
            if g.kind == "tumour":
                neo[sel[inside]] = True
        for discs, inside_code, new in ((self.goblets, C["epithelium"], C["mucin"]),
                                        (self.rbcs, C["vessel_lumen"], C["rbc"])):
            if len(discs):
                d, i = cKDTree(discs[:, :2]).query(np.stack([x, y], 1))
                code[(d < discs[i, 2]) & (code == inside_code)] = new
        if self.edge is not None:
            f, thr = self.edge
            code[f(x, y) < thr] = C["glass"]
        return code, neo & (code != C["glass"])


class _Buckets:
    """Points sorted into square cells, to find those near a place without a full scan."""

    def __init__(self, x, y, cell: float = 32.0):
        self.x, self.y, self.cell = x, y, cell
        self.x0, self.y0 = (float(x.min()), float(y.min())) if x.size else (0.0, 0.0)
        self.ncol = int((x.max() - self.x0) // cell) + 1 if x.size else 1
        key = ((y - self.y0) // cell).astype(np.int64) * self.ncol + ((x - self.x0) // cell)
        self.order = np.argsort(key, kind="stable")
        self.sorted_key = key[self.order].astype(np.int64)

    def within(self, cx, cy, r):
        """Indices of the points with ``|x - cx| < r`` and ``|y - cy| < r``."""
        c0 = max(int((cx - r - self.x0) // self.cell), 0)
        c1 = min(int((cx + r - self.x0) // self.cell), self.ncol - 1)
        if c1 < c0:
            return np.zeros(0, np.int64)
        r0, r1 = max(int((cy - r - self.y0) // self.cell), 0), int((cy + r - self.y0) // self.cell)
        rows = np.arange(r0, r1 + 1)
        lo = np.searchsorted(self.sorted_key, rows * self.ncol + c0, "left")
        hi = np.searchsorted(self.sorted_key, rows * self.ncol + c1, "right")
        if not (hi > lo).any():
            return np.zeros(0, np.int64)
        idx = self.order[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])]
        return idx[(np.abs(self.x[idx] - cx) < r) & (np.abs(self.y[idx] - cy) < r)]


def _quantile_threshold(f: SmoothField, w, h, fraction):
    """Threshold of ``f`` above which ``fraction`` of the tile lies (on a coarse grid)."""
    gx, gy = np.meshgrid(np.linspace(0, w, 48), np.linspace(0, h, 48))
    return float(np.quantile(f(gx, gy), 1.0 - fraction))


def _place(lay: Layout, make, rng, region, n_try: int, gap: float, target: float, into: list,
           max_count: int | None = None):
    """Dart-throw glands from ``make(x, y)`` whose outline stays in ``region`` and ``gap`` µm
    from every gland placed before; stop at ``target`` area fraction of the tile (or
    ``max_count`` glands)."""
    w, h = lay.width_um, lay.height_um
    covered, count = 0.0, 0
    for _ in range(n_try):
        if covered >= target or (max_count is not None and count >= max_count):
            break
        x, y = rng.uniform(-20, w + 20), rng.uniform(-20, h + 20)
        g = make(x, y)
        px, py, *_ = g.boundary(48)
        if not region(px, py, g):
            continue
        ok = True
        for o in lay.glands + lay.vessels:
            if np.hypot(o.x - g.x, o.y - g.y) > o.reach + g.reach + gap:
                continue
            qx, qy, *_ = o.boundary(48)
            if (o.outer(px, py) > -gap).any() or (g.outer(qx, qy) > -gap).any():
                ok = False
                break
        if ok:
            into.append(g)
            covered += np.pi * g.a * g.b / (w * h)
            count += 1


def _crypt(rng, x, y, angle, aspect):
    b = rng.uniform(24, 34)
    a = b * aspect
    bl = rng.uniform(3.5, 8.0)
    lumen = (x, y, max(bl, a - (b - bl)), bl, angle, _harm(rng, 0.10))
    return Gland(x, y, a, b, angle, _harm(rng, 0.05), "crypt", [lumen])


def _tumour_gland(rng, x, y, tissue, grade):
    ang = rng.uniform(0, np.pi)
    if tissue == "breast":
        b = {1: (10, 22), 2: (15, 45), 3: (40, 110)}[grade]
        rough, p_lumen, thick = {1: 0.12, 2: 0.18, 3: 0.25}[grade], (1.0, 0.4, 0.0)[grade - 1], 7
    else:
        b = {1: (28, 50), 2: (30, 65), 3: (25, 90)}[grade]
        rough, p_lumen, thick = {1: 0.10, 2: 0.16, 3: 0.22}[grade], (1.0, 1.0, 0.25)[grade - 1], 16
    b = rng.uniform(*b)
    a = b * rng.uniform(1.0, 2.0 if grade == 1 else 1.7)
    g = Gland(x, y, a, b, ang, _harm(rng, rough), "tumour")
    if rng.random() < p_lumen:
        cribriform = grade == 2 and tissue == "colon" and rng.random() < 0.35
        n_lum = rng.integers(2, 5) if cribriform else 1
        for i in range(n_lum):
            if n_lum == 1:
                glandular = grade == 1 or (grade == 2 and tissue == "colon")
                lb = max(3.0, b - rng.uniform(thick, thick + 8)) if glandular else \
                    rng.uniform(3, min(12, b / 2))
                g.lumina.append((x, y, max(lb, a - (b - lb)) if glandular else lb * 1.3,
                                 lb, ang, _harm(rng, 0.15)))
            else:   # cribriform: several punched-out lumina
                r = rng.uniform(4, 10)
                t, s = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.55)
                g.lumina.append((x + s * a * np.cos(t), y + s * b * np.sin(t), r, r * 0.9,
                                 rng.uniform(0, np.pi), _harm(rng, 0.1)))
        g.necrosis = tissue == "colon" and rng.random() < 0.35
    elif grade == 3 and b > 50 and rng.random() < 0.3:   # comedo necrosis
        g.lumina.append((x, y, b * 0.35, b * 0.3, ang, _harm(rng, 0.2)))
        g.necrosis = True
    return g


def _acinus(rng, x, y, duct=False):
    b = rng.uniform(30, 55) if duct else rng.uniform(11, 20)
    a = b * (rng.uniform(1.0, 2.2) if duct else rng.uniform(1.0, 1.3))
    ang = rng.uniform(0, np.pi)
    bl = b - (rng.uniform(10, 14) if duct else rng.uniform(8, 11))
    return Gland(x, y, a, b, ang, _harm(rng, 0.05), "duct" if duct else "acinus",
                 [(x, y, max(bl, a - (b - bl)), max(bl, 1.5), ang, _harm(rng, 0.08))])


def _vessel(rng, x, y, big):
    r = rng.uniform(6, 18) if big else rng.uniform(2.5, 5.0)
    wall = rng.uniform(3, 8) if big else rng.uniform(1.2, 2.0)
    asp, ang = rng.uniform(1.0, 1.8), rng.uniform(0, np.pi)
    return Gland(x, y, (r + wall) * asp, r + wall, ang, _harm(rng, 0.04), "vessel",
                 [(x, y, r * asp + wall * (asp - 1), r, ang, _harm(rng, 0.08))])


def build_layout(tissue: str, width_um: float, height_um: float, tumour_grade: int,
                 tumour_fraction: float, glass_fraction: float,
                 rng: np.random.Generator) -> Layout:
    """Draw the architecture of a ``width_um`` x ``height_um`` tile of ``tissue``.

    ``tumour_grade`` 0 is normal tissue; 1-3 put carcinoma of that grade over about
    ``tumour_fraction`` of the tile; ``glass_fraction`` of the tile is left as bare glass
    beyond a smooth tissue edge.
    """
    w, h = width_um, height_um
    lay = Layout(w, h, tissue)
    if glass_fraction > 0:
        tilt, f = rng.uniform(0, 2 * np.pi), SmoothField(rng, (250.0, 600.0), 8)
        span = 0.5 * (abs(np.cos(tilt)) * w + abs(np.sin(tilt)) * h)

        def edge(x, y):
            return ((x - w / 2) * np.cos(tilt) + (y - h / 2) * np.sin(tilt)) / span + 0.15 * f(x, y)
        lay.edge = (edge, _quantile_threshold(edge, w, h, 1.0 - glass_fraction))
    if tumour_grade and tumour_fraction > 0:
        f = SmoothField(rng, (0.8 * max(w, h), 2.5 * max(w, h)), 12)
        lay.tumour = (f, _quantile_threshold(f, w, h, tumour_fraction)
                      if tumour_fraction < 1 else -np.inf)

    def normal_region(px, py, g):
        return not lay.in_tumour(px, py).any()

    def tumour_region(px, py, g):
        return lay.in_tumour(px, py).mean() > 0.6

    if tissue == "colon":
        theta0 = rng.uniform(0, np.pi)
        aspect = (1.0, 1.4) if rng.random() < 0.5 else (1.6, 4.0)
        _place(lay, lambda x, y: _crypt(rng, x, y, theta0 + rng.normal(0, 0.12),
                                        rng.uniform(*aspect)),
               rng, normal_region, 600, rng.uniform(8, 20), rng.uniform(0.45, 0.6), lay.glands)
        gob = []
        for g in lay.glands:
            px, py, nx, ny, s = g.boundary(256)
            step = rng.uniform(12, 20)
            for t in np.arange(rng.uniform(0, step), s[-1], step):
                i = int(np.searchsorted(s, t, side="right") - 1) % len(px)
                r = rng.uniform(3.5, 5.5)
                for depth in np.arange(10.0, 30.0, 1.0):   # apical: just short of the lumen
                    gx, gy = px[i] + depth * nx[i], py[i] + depth * ny[i]
                    if g.lumen(gx, gy) > -(r + 1.5):
                        break
                if g.outer(gx, gy) > r + 8 and g.lumen(gx, gy) < -1:
                    gob.append((gx, gy, r))
        lay.goblets = np.array(gob).reshape(-1, 3)
    else:
        fat_frac = rng.uniform(0.15, 0.55)
        ff = SmoothField(rng, (200.0, 500.0), 12)
        thr = _quantile_threshold(ff, w, h, fat_frac)
        cell = rng.uniform(55, 95)
        n = int((w + 200) * (h + 200) / cell ** 2 * 1.3)
        seeds = np.stack([rng.uniform(-100, w + 100, n), rng.uniform(-100, h + 100, n)], 1)
        keep = []
        for p in seeds:   # Poisson-disk thinning: adipocytes of similar size
            if all(np.hypot(*(p - q)) > 0.75 * cell for q in keep[-400:]):
                keep.append(p)
        lay.fat_seeds = np.array(keep)
        lay.fat_is_fat = ff(lay.fat_seeds[:, 0], lay.fat_seeds[:, 1]) > thr
        lay.fat_warp = (SmoothField(rng, (40.0, 120.0), 8), SmoothField(rng, (40.0, 120.0), 8))
        n_lob = rng.integers(0 if tumour_grade else 1, 3)
        for _ in range(n_lob):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(70, 160)
            if lay.in_tumour(x, y) or ff(x, y) >= thr:
                continue
            lob = Gland(x, y, r * rng.uniform(1.0, 1.5), r, rng.uniform(0, np.pi),
                        _harm(rng, 0.25), "lobule")
            lay.lobules.append(lob)

            def in_lobule(px, py, g, lob=lob):
                return (lob.outer(px, py) > 3).all() and normal_region(px, py, g)
            _place(lay, lambda x, y, lob=lob: _acinus(rng, rng.normal(lob.x, lob.b / 2),
                                                      rng.normal(lob.y, lob.b / 2)),
                   rng, in_lobule, 300, rng.uniform(5, 12), 1.0, lay.glands)
        if rng.random() < 0.6:
            not_fat = lambda px, py, g: (normal_region(px, py, g)  # noqa: E731
                                         and (ff(px, py) < thr).all())
            _place(lay, lambda x, y: _acinus(rng, x, y, duct=True), rng, not_fat, 40, 15,
                   0.08, lay.glands)
    if lay.tumour is not None:
        target = {1: 0.35, 2: 0.45, 3: 0.55}[tumour_grade] * tumour_fraction
        gap = {1: 10.0, 2: 8.0, 3: 6.0}[tumour_grade]
        _place(lay, lambda x, y: _tumour_gland(rng, x, y, tissue, tumour_grade), rng,
               tumour_region, 800, gap, target, lay.glands)
    n_cap = rng.poisson(w * h * (4.0 if tissue == "colon" else 1.5) / 1e4)
    n_big = rng.poisson(w * h * 0.25 / 1e4)
    for big, n in ((True, n_big), (False, n_cap)):
        _place(lay, lambda x, y, big=big: _vessel(rng, x, y, big), rng,
               lambda px, py, g: True, n * 3, 3.0, np.inf, lay.vessels, max_count=n)
    rbc = []
    for v in lay.vessels:
        lx, ly, la, lb, lang, _ = v.lumina[0]
        fill = rng.uniform(0.3, 0.9)
        for _ in range(int(fill * la * lb / 3.7 ** 2 * 1.5) + 1):
            t, s = rng.uniform(0, 2 * np.pi), np.sqrt(rng.random())
            u, q = s * la * np.cos(t), s * lb * np.sin(t)
            rbc.append((lx + u * np.cos(lang) - q * np.sin(lang),
                        ly + u * np.sin(lang) + q * np.cos(lang), rng.uniform(3.4, 4.0)))
    lay.rbcs = np.array(rbc).reshape(-1, 3)
    return lay
