"""Shared shape and smooth-noise helpers for the procedural phantoms (mm/px grids).

Edge profiles (:func:`_circ`, :func:`_smoothstep`), smooth random fields (:func:`_noise1d`,
:func:`_noise2d`, :func:`_fbm`), anti-aliased splatting of points and line segments, projected
tubes (:class:`_Lines`) and simple solids (:func:`_blob`, :func:`_triangle`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal


def _circ(q):
    """Circular edge profile: 0 at q<=0, rising steeply, 1 at q>=1 (a rounded border)."""
    q = np.clip(q, 0.0, 1.0)
    return np.sqrt(q * (2.0 - q))


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _noise1d(n, sigma, rng):
    """Smooth 1-D random function with unit standard deviation."""
    z = ndimage.gaussian_filter1d(rng.standard_normal(n + 8 * int(sigma) + 8), max(sigma, 0.5))
    z = z[4 * int(sigma) + 4: 4 * int(sigma) + 4 + n]
    return z / (z.std() + 1e-12)


def _noise2d(shape, sigma_px, rng):
    """Smooth 2-D random field (unit std), generated on a coarse grid and upsampled."""
    f = max(1, int(sigma_px / 3))
    small = (shape[0] // f + 4, shape[1] // f + 4)
    z = ndimage.gaussian_filter(rng.standard_normal(small), sigma_px / f, mode="wrap")
    if f > 1:
        z = ndimage.zoom(z, f, order=1)
    z = z[f: f + shape[0], f: f + shape[1]]
    return ((z - z.mean()) / (z.std() + 1e-12)).astype(np.float32)


def _splat(shape, rows, cols, w):
    """Bilinear splat of weights ``w`` at float pixel positions (pixel centre at +0.5)."""
    h, wd = shape
    r, c = rows - 0.5, cols - 0.5
    r0, c0 = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    fr, fc = r - r0, c - c0
    out = np.zeros(h * wd)
    for dr, dc, ww in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                       (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < wd)
        out += np.bincount(rr[ok] * wd + cc[ok], weights=(w * ww)[ok], minlength=h * wd)
    return out.reshape(shape)


def _disc(radius_px, sub=4):
    """Anti-aliased disc indicator (area coverage per pixel)."""
    n = int(np.ceil(radius_px)) + 1
    g = (np.arange(-n * sub, (n + 1) * sub) + 0.5) / sub - 0.5
    d = np.hypot(g[:, None], g[None, :]) <= radius_px
    k = d.reshape(2 * n + 1, sub, 2 * n + 1, sub).mean((1, 3))
    return k


def _splat_segments(geom, x0, y0, x1, y1, w):
    """Splat many straight segments (mm) with line weight ``w`` per px of length."""
    c0, r0 = x0 / geom.px + geom.shape[1] / 2, y0 / geom.px + geom.shape[0] / 2
    c1, r1 = x1 / geom.px + geom.shape[1] / 2, y1 / geom.px + geom.shape[0] / 2
    seg = np.hypot(r1 - r0, c1 - c0)
    n = np.maximum(1, np.ceil(seg / 0.5).astype(int))
    i = np.repeat(np.arange(len(seg)), n)
    start = np.cumsum(n) - n
    t = (np.arange(i.size) - start[i] + 0.5) / n[i]
    return _splat(geom.shape, r0[i] + t * (r1 - r0)[i], c0[i] + t * (c1 - c0)[i],
                  (w * seg / n)[i])


class _Lines:
    """Collects polylines (mm) and renders them as projected tubes."""

    def __init__(self, geom):
        self.g = geom
        self.rows, self.cols, self.w = [], [], []

    def add(self, x_mm, y_mm, weight=1.0):
        """Add a densely sampled curve; ``weight`` (scalar/array) multiplies the tube chord."""
        g = self.g
        c = np.asarray(x_mm, float) / g.px + g.shape[1] / 2
        r = np.asarray(y_mm, float) / g.px + g.shape[0] / 2
        seg = np.hypot(np.diff(r), np.diff(c))
        n = np.maximum(1, np.ceil(seg / 0.5).astype(int))
        t = np.concatenate([np.arange(k) / k for k in n])
        i = np.repeat(np.arange(len(seg)), n)
        ww = np.broadcast_to(np.asarray(weight, float), r.shape)
        self.rows.append(r[i] + t * np.diff(r)[i])
        self.cols.append(c[i] + t * np.diff(c)[i])
        self.w.append((ww[i] + t * np.diff(ww)[i]) * seg[i] / n[i])

    def render(self, radius_px, cortex_px=None, trabecular=0.35, blur_px=0.0):
        """Chord length in px through tubes of ``radius_px`` (hollow if ``cortex_px``)."""
        if not self.rows:
            return np.zeros(self.g.shape, np.float32)
        line = _splat(self.g.shape, np.concatenate(self.rows), np.concatenate(self.cols),
                      np.concatenate(self.w))
        k = _disc(radius_px)
        if cortex_px:
            inner = _disc(max(radius_px - cortex_px, 0.5))
            pad = (k.shape[0] - inner.shape[0]) // 2
            k = k - (1 - trabecular) * np.pad(inner, pad)
        out = signal.oaconvolve(line, k, mode="same")
        if blur_px > 0:
            out = ndimage.gaussian_filter(out, blur_px)
        return np.maximum(out, 0).astype(np.float32)


def _blob(X, Y, cx, cy, rx, ry, depth_cm):
    e = ((X - cx) / rx) ** 2 + ((Y - cy) / ry) ** 2
    return (depth_cm * np.sqrt(np.clip(1 - e, 0, None))).astype(np.float32)


def _triangle(X, Y, a, b, c, soft):
    """Soft-edged filled triangle (values 0..1)."""
    pts = [a, b, c]
    area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    sign = 1.0 if area > 0 else -1.0
    d = None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
        nx, ny = -(y1 - y0) * sign, (x1 - x0) * sign  # inward normal
        n = np.hypot(nx, ny)
        dist = ((X - x0) * nx + (Y - y0) * ny) / n
        d = dist if d is None else np.minimum(d, dist)
    return _smoothstep(d / soft + 0.5)


def _fbm(shape, sigmas_px, rng, gains=None):
    """Sum of smooth fields at several scales (unit std): cloud-like, boundary-free texture."""
    gains = gains or [1.0] * len(sigmas_px)
    z = sum(g * _noise2d(shape, s, rng) for g, s in zip(gains, sigmas_px))
    return (z / (z.std() + 1e-12)).astype(np.float32)


def _stripe_bank(shape, px, rng, n_dir=6, period_mm=1.5, length_mm=2.2):
    """Band-pass noise (unit std, period ``period_mm``) filtered to stripes ``length_mm`` long
    along ``n_dir`` directions (angles k·π/n_dir in image axes); one array per direction."""
    fy = np.fft.fftfreq(shape[0], d=px)[:, None].astype(np.float32)
    fx = np.fft.rfftfreq(shape[1], d=px)[None, :].astype(np.float32)
    f = np.hypot(fx, fy)
    band = np.exp(-0.5 * ((f - 1 / period_mm) / (0.45 / period_mm)) ** 2)
    F = np.fft.rfft2(rng.standard_normal(shape).astype(np.float32)) * band
    bank = []
    for k in range(n_dir):
        th = np.pi * k / n_dir  # stripes run along (cos th, sin th): no frequency along them
        fe = fx * np.cos(th) + fy * np.sin(th)
        z = np.fft.irfft2(F * np.exp(-0.5 * (fe * 2 * np.pi * length_mm) ** 2), s=shape)
        bank.append((z / (z.std() + 1e-12)).astype(np.float32))
    return bank


def _steer(bank, angle):
    """Blend a :func:`_stripe_bank` by a per-pixel stripe angle (radians): oriented texture."""
    n = len(bank)
    w = [np.cos(angle - np.pi * k / n) ** 8 for k in range(n)]
    tot = sum(w)
    return sum(wk * b for wk, b in zip(w, bank)) / tot
