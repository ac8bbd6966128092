"""A procedural retina seen through a fundus camera: geometry, optic disc and cup, macula,
choroidal background, vessels, and the layer order that lesions paint into.

Conventions
-----------
* Retinal positions are millimetres in a canonical *right-eye* frame: fovea at the origin,
  ``x`` to the image right, ``y`` down (inferior). Fundus photographs are upright and seen
  from the front, so the optic disc is **nasal**: on the image's **right for a right eye
  (OD)** and on the **left for a left eye (OS)**. (``skimage.data.retina()``, "Fundus
  photograph of normal left eye", has its disc on the left.) :class:`EyeGeometry` mirrors
  ``x`` for left eyes.
* Scale: 0.288 mm of retina per degree of field (Drasdo & Fowler 1974), so a 45-degree field
  is ~13 mm across and a 1.8 mm disc spans ~14 % of it (as measured on DRIVE images). The
  disc centre lies 4.5 +- 0.3 mm (~2.5 disc diameters) nasal to the fovea and ~0.45 mm above
  it.
* ``albedo`` is the fundus colour a standard camera would record under flat, white
  illumination (display-referred RGB, 0-1); :mod:`synthmed.physics.fundus_camera` adds
  illumination, optics, colour response and noise.

Layers, bottom to top: choroid and RPE (pigmentation, tigroid choroidal vessels, macular
pigment), sub-retinal lesions (drusen, geographic atrophy), optic disc and cup, nerve fibre
layer sheen, intraretinal lesions, retinal vessels (blood absorbance, arterial light reflex),
neovascularisation, preretinal haemorrhage.

>>> import numpy as np
>>> g = draw_geometry((128, 128), 45.0, "R", "macula", None, 0.94, np.random.default_rng(0))
>>> (rd, cd), (rf, cf) = g.landmark(g.disc_centre), g.landmark((0.0, 0.0))
>>> bool(cd > cf)          # right eye: disc on the image's right
True
>>> disc, cup = disc_cup_masks(g, 0.5, np.random.default_rng(1).random(6))
>>> rows = lambda m: int(m.any(axis=1).sum())
>>> rows(cup), rows(disc), abs(rows(cup) / rows(disc) - 0.5) <= 0.5 / rows(disc)
(8, 15, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from synthmed.phantoms._shapes import _fbm, _noise2d, _smoothstep, _stripe_bank
from synthmed.phantoms.retina_vessels import VesselTree, rasterise_vessels

__all__ = ["EyeGeometry", "draw_geometry", "disc_cup_masks", "Retina", "render_retina",
           "MM_PER_DEG", "BLOOD_ABSORPTION"]

MM_PER_DEG = 0.288
# Vessel darkening: (max contrast, absorption 1/mm of blood path) per RGB channel. Green sees
# haemoglobin best; deoxygenated venous blood absorbs ~5x more red light than arterial blood.
BLOOD_ABSORPTION = {
    "artery": ((0.2, 0.27, 0.2), (1.6, 26.0, 18.0)),
    "vein": ((0.3, 0.36, 0.26), (7.0, 30.0, 20.0)),
    "nv": ((0.4, 0.6, 0.4), (4.0, 40.0, 30.0)),
}


@dataclass
class EyeGeometry:
    """Where everything is: canonical-frame mm <-> pixel coordinates, and the main landmarks."""

    shape: tuple[int, int]
    px_mm: float
    laterality: str
    fov_centre: tuple[float, float]
    fov_radius_mm: float
    disc_centre: tuple[float, float]
    disc_v_mm: float
    disc_h_mm: float
    arcade_b_mm: float
    X: np.ndarray = field(repr=False, default=None)
    Y: np.ndarray = field(repr=False, default=None)

    def __post_init__(self):
        h, w = self.shape
        s = self.sign
        cols = (np.arange(w, dtype=np.float32) + 0.5 - w / 2) * self.px_mm
        rows = (np.arange(h, dtype=np.float32) + 0.5 - h / 2) * self.px_mm
        self.X = np.broadcast_to((s * cols + self.fov_centre[0])[None, :], self.shape)
        self.Y = np.broadcast_to((rows + self.fov_centre[1])[:, None], self.shape)

    @property
    def sign(self) -> float:
        return 1.0 if self.laterality == "R" else -1.0

    @property
    def fov_radius_px(self) -> float:
        return self.fov_radius_mm / self.px_mm

    def to_px(self, xy):
        """Canonical mm ``(n, 2)`` -> continuous pixel ``(rows, cols)`` (pixel-corner origin)."""
        xy = np.asarray(xy, float)
        h, w = self.shape
        cols = w / 2 + self.sign * (xy[..., 0] - self.fov_centre[0]) / self.px_mm
        rows = h / 2 + (xy[..., 1] - self.fov_centre[1]) / self.px_mm
        return rows, cols

    def landmark(self, xy) -> tuple[float, float]:
        r, c = self.to_px(np.asarray(xy, float))
        return float(r), float(c)

    def fov_mask(self, sl=(slice(None), slice(None))) -> np.ndarray:
        """Pixels whose centre lies inside the field stop (optionally in a window ``sl``)."""
        d2 = (self.X[sl] - self.fov_centre[0]) ** 2 + (self.Y[sl] - self.fov_centre[1]) ** 2
        return d2 < self.fov_radius_mm ** 2

    def window(self, xy, radius_mm):
        """Slices of the pixel window holding a circle of ``radius_mm`` around ``xy``."""
        r, c = self.landmark(xy)
        n = radius_mm / self.px_mm + 2
        h, w = self.shape
        r0, r1 = max(0, int(r - n)), min(h, int(r + n) + 1)
        c0, c1 = max(0, int(c - n)), min(w, int(c + n) + 1)
        return (slice(r0, max(r0, r1)), slice(c0, max(c0, c1)))


def draw_geometry(shape, field_of_view_deg, laterality, fixation, disc_v_mm, fill, rng):
    """Draw the eye's landmarks and the camera's field (see the module docstring).

    ``fixation`` "macula" centres the field on the fovea (moved temporally just enough to
    keep the whole disc inside a narrow field), "disc" on the optic disc. ``fill`` is the
    FOV circle's diameter as a fraction of the image's shorter side.
    """
    q = rng.random(8)
    fov_r = field_of_view_deg * MM_PER_DEG / 2
    dist = 4.5 + 0.3 * np.clip((q[0] - 0.5) * 3.4, -1.7, 1.7)
    disc = (float(dist), float(-0.25 - 0.4 * q[1]))
    v = float(np.clip(1.75 + 0.12 * (q[2] - 0.5) * 3.4, 1.5, 2.0)) if disc_v_mm is None \
        else float(disc_v_mm)
    h = v * (0.86 + 0.1 * q[3])
    jitter = (0.5 * (q[4] - 0.5), 0.5 * (q[5] - 0.5))
    if fixation == "disc":
        centre = (disc[0] + jitter[0], disc[1] + jitter[1])
    else:
        cx = max(jitter[0], disc[0] + h / 2 + 0.35 - fov_r)
        centre = (cx, jitter[1])
    px = fov_r / (fill * min(shape) / 2)
    return EyeGeometry(tuple(shape), px, laterality, centre, fov_r, disc, v, h,
                       arcade_b_mm=float(3.2 + 1.0 * q[6]))


def disc_cup_masks(geom: EyeGeometry, cdr: float, q) -> tuple[np.ndarray, np.ndarray]:
    """Optic disc and cup masks with a vertical cup-to-disc ratio of ``cdr``, exact in pixels.

    The disc is an ellipse (``disc_v_mm`` x ``disc_h_mm``) with a slightly irregular margin.
    The cup spans exactly ``round(cdr * H)`` pixel rows, ``H`` the rows the disc mask spans,
    so the ratio measured from the masks is within ``0.5 / H`` of ``cdr``. The cup is
    vertically oval in large (glaucomatous) cups, horizontally oval in small ones, slightly
    temporal. ``q``: six uniform draws (shape and position; independent of ``cdr``).
    """
    rc, cc = geom.landmark(geom.disc_centre)
    b, a = geom.disc_v_mm / 2 / geom.px_mm, geom.disc_h_mm / 2 / geom.px_mm
    sl = geom.window(geom.disc_centre, 0.6 * max(geom.disc_v_mm, geom.disc_h_mm))
    r_lo, c_lo = sl[0].start, sl[1].start
    h, w = sl[0].stop - r_lo, sl[1].stop - c_lo              # all below in this window
    rc, cc = rc - r_lo, cc - c_lo
    rr = np.arange(h)[:, None] + 0.5 - rc
    cc_ = np.arange(w)[None, :] + 0.5 - cc
    th = np.arctan2(rr / b, cc_ / a)
    edge = 1 + 0.025 * np.cos(2 * th + 6.28 * q[0]) + 0.02 * np.cos(3 * th + 6.28 * q[1])
    disc = np.hypot(rr / b, cc_ / a) < edge
    disc &= geom.fov_mask(sl)
    full_disc, full_cup = np.zeros(geom.shape, bool), np.zeros(geom.shape, bool)
    rows = np.nonzero(disc.any(axis=1))[0]
    if rows.size == 0:
        return full_disc, full_cup
    top, n_d = int(rows[0]), int(rows[-1] - rows[0] + 1)
    n_c = int(np.clip(round(cdr * n_d), 1, n_d))
    slack = n_d - n_c
    lo, hi = (1, slack - 1) if slack >= 2 else (0, slack)
    r0 = top + int(np.clip(round(slack / 2 + (q[2] - 0.5) * 0.3 * slack), lo, hi))
    shift = -geom.sign * (0.02 + 0.08 * q[3]) * a          # towards temporal
    jc = int(np.floor(cc + shift))
    ratio = float(np.interp(cdr, [0.3, 0.8], [1.08, 0.86])) + 0.06 * (q[4] - 0.5)
    ac = max(0.6, min(cdr * ratio, 0.9) * a)
    cr, bc = r0 + n_c / 2, n_c / 2
    ry = (np.arange(h)[:, None] + 0.5 - cr) / bc
    rx = (np.arange(w)[None, :] + 0.5 - (jc + 0.5)) / ac
    tc = np.arctan2(ry, rx)
    wob = 1 + 0.04 * np.cos(tc) ** 4 * np.cos(2 * tc + 6.28 * q[5])
    cup = (np.hypot(ry, rx) < wob) & disc
    band = np.zeros(h, bool)
    band[r0:r0 + n_c] = True
    cup &= band[:, None]
    cup[r0, jc] = cup[r0 + n_c - 1, jc] = True
    disc[r0, jc] = disc[r0 + n_c - 1, jc] = True
    full_disc[sl], full_cup[sl] = disc, cup
    return full_disc, full_cup


def _steer(bank, angle):
    """Blend a stripe bank by a per-pixel angle (as ``_shapes._steer``, in float32)."""
    n = len(bank)
    tot, acc = 0.0, 0.0
    for k, b in enumerate(bank):
        w = np.cos(angle.astype(np.float32) - np.float32(np.pi * k / n)) ** 2
        w = (w * w) ** 2
        tot, acc = tot + w, acc + w * b
    return acc / tot


@dataclass
class Retina:
    """The rendered fundus (``albedo`` RGB float32) with its anatomical masks."""

    albedo: np.ndarray
    masks: dict[str, np.ndarray]
    choroid: np.ndarray


def _background(geom, pigmentation, age_years, rng):
    """Choroid + RPE colour: pigmentation, tigroid choroidal vessels, macular darkening."""
    shape, px = geom.shape, geom.px_mm
    X, Y = geom.X, geom.Y
    p = float(pigmentation)
    light, mid, dark = (1.0, 0.5, 0.3), (0.95, 0.42, 0.25), (0.75, 0.28, 0.12)
    base = np.array([np.interp(p, [0, 0.5, 1], [l, m, d]) for l, m, d in zip(light, mid, dark)],
                    np.float32)
    # choroidal vessels: ribbons ~0.25 mm wide running out from the posterior pole
    a0 = rng.uniform(0, 2 * np.pi)           # vessels fan out from beside the fovea
    rf, cf = geom.landmark((2.5 * np.cos(a0), 2.5 * np.sin(a0)))
    rr = np.arange(shape[0], dtype=np.float32)[:, None] + np.float32(0.5 - rf)
    cc = np.arange(shape[1], dtype=np.float32)[None, :] + np.float32(0.5 - cf)
    ang = np.arctan2(rr, cc) + _noise2d(shape, 1.0 / px, rng)
    bank = _stripe_bank(shape, px, rng, n_dir=6, period_mm=0.5, length_mm=0.9)
    choroid = _smoothstep(0.5 + (_steer(bank, ang) + 0.5 * _noise2d(shape, 0.15 / px, rng))
                          / 1.6).astype(np.float32)
    vis = (0.05 + 0.95 * (1 - p) ** 2) * (0.7 + 0.3 * np.clip((age_years - 30) / 40, 0, 1))
    vis = np.float32(vis) * np.clip(0.4 + np.hypot(X, Y) * np.float32(0.6 / 4.5), 0.4, 1.2) \
        * np.clip(0.6 + 0.5 * _noise2d(shape, 1.5 / px, rng), 0.1, 1.5)
    rho2 = X ** 2 + Y ** 2
    mac = np.exp(rho2 * np.float32(-0.5))
    fov = np.exp(rho2 * np.float32(-1 / (2 * 0.3 ** 2)))
    k = np.float32(0.7 + 0.6 * p)
    youth = np.float32(np.clip((55 - age_years) / 35, 0, 1))
    ring = np.exp(-(np.sqrt(rho2) - 1.15) ** 2 * np.float32(1 / (2 * 0.06 ** 2)))
    dot = np.exp(rho2 * np.float32(-1 / (2 * 0.035 ** 2)))
    patch = _fbm(shape, [1.2 / px, 3.5 / px], rng, [0.6, 1.0])
    grain = _noise2d(shape, max(0.6, 0.012 / px), rng)
    common = (1 + 0.05 * patch) * (1 + 0.02 * grain)
    alb = np.empty(shape + (3,), np.float32)
    tig_gain, mac_gain, fov_gain = (0.1, 0.11, 0.06), (0.12, 0.22, 0.28), (0.12, 0.25, 0.35)
    ring_col, dot_col = (0.4, 0.8, 1.0), (0.6, 0.9, 1.0)
    for c in range(3):   # macula: RPE melanin and (blue/green-absorbing) macular pigment
        alb[..., c] = base[c] * (1 + (choroid - 0.5) * vis * np.float32(tig_gain[c])) * common \
            * (1 - k * np.float32(mac_gain[c]) * mac) * (1 - k * np.float32(fov_gain[c]) * fov) \
            + youth * (np.float32(0.05 * ring_col[c]) * ring + np.float32(0.25 * dot_col[c]) * dot)
    return alb.astype(np.float32), choroid


def _paint_disc(alb, geom, disc, cup, cdr, q):
    """Optic disc: orange-pink neuroretinal rim, pale cup, soft margin, lamina dots, PPA."""
    px = geom.px_mm
    out = np.zeros(geom.shape, np.float32)
    sl = geom.window(geom.disc_centre, 2.2 * geom.disc_v_mm)      # the halo fades by then
    disc, cup, alb = disc[sl], cup[sl], alb[sl]
    X, Y = geom.X[sl], geom.Y[sl]
    d_soft = ndimage.gaussian_filter(disc.astype(np.float32), 0.025 / px)
    out[sl] = d_soft
    sig_c = max(0.6, 0.05 * geom.disc_v_mm * cdr / px)
    c_soft = ndimage.gaussian_filter(cup.astype(np.float32), sig_c)
    c_soft = np.clip(c_soft * 1.15, 0, 1) * d_soft
    dx = X - geom.disc_centre[0]
    dy = Y - geom.disc_centre[1]
    rn = np.hypot(dx / (geom.disc_h_mm / 2), dy / (geom.disc_v_mm / 2))
    inner = np.clip(1.0 - rn, 0, 1)[..., None]            # rim: orange at the margin, paler in
    rim = np.array([1.06, 0.64, 0.4], np.float32) * (1 - inner) \
        + np.array([1.08, 0.72, 0.47], np.float32) * inner
    temporal = np.clip(-dx / (geom.disc_h_mm / 2), 0, 1)[..., None]      # paler temporal rim
    rim = rim * (1 + 0.08 * temporal * np.array([0, 1, 1.2], np.float32))
    cup_col = np.array([1.12, 1.02, 0.85], np.float32)
    col = rim * (1 - c_soft[..., None]) + cup_col * c_soft[..., None]
    halo = np.exp(-np.clip(rn - 1, 0, None) / 0.25) * (1 - d_soft)
    alb *= 1 + (0.1 * halo)[..., None] * np.array([1.0, 1.2, 1.0], np.float32)
    if cdr > 0.45:                                       # lamina cribrosa pores in deep cups
        lam = ndimage.gaussian_filter((np.sin(X / 0.07 + 3 * q[0]) * np.sin(Y / 0.06)
                                       > 0.55).astype(np.float32), 0.6)
        col = col * (1 - 0.06 * (lam * c_soft)[..., None])
    a = d_soft[..., None]
    alb[:] = alb * (1 - a) + col * a
    if q[1] < 0.45:                                      # peripapillary atrophy crescent
        rr = rn
        width = 0.15 + 0.25 * q[2]
        cres = _smoothstep((rr - 1.0) / 0.05) * _smoothstep((1 + width - rr) / 0.06)
        cres = cres * np.clip(-dx / (geom.disc_h_mm / 2) + 0.2, 0, 1) * (1 - d_soft)
        alb[:] = alb * (1 - 0.6 * cres[..., None]) + 0.6 * cres[..., None] * np.array(
            [0.95, 0.7, 0.5], np.float32)
    return out


def _paint_nfl(alb, geom, age_years, rng):
    """Nerve fibre layer sheen: fine bright striations along the arcades in young eyes."""
    youth = float(np.clip((65 - age_years) / 40, 0, 1))
    if youth <= 0:
        return
    X, Y, px = geom.X, geom.Y, geom.px_mm
    dx, dy = geom.disc_centre
    a, b = dx + 0.1, geom.arcade_b_mm
    u, v = (X - (dx - a)) / a, Y / b
    e = np.hypot(u, v)
    band = np.exp(-((e - 1.0) / 0.22) ** 2) + 0.6 * np.exp(-(np.hypot(X - dx, Y - dy) - 1.4) ** 2)
    # fibres run along the arcade ellipse (tangent direction in image axes)
    tang = np.arctan2(u / a, -v / b * geom.sign)
    bank = _stripe_bank(geom.shape, px, rng, n_dir=6, period_mm=0.09, length_mm=0.35)
    stri = np.clip(_steer(bank, tang + 0.3 * _noise2d(geom.shape, 0.5 / px, rng)), 0, None)
    sheen = youth * band * (0.6 + 0.4 * stri) * geom.fov_mask()
    alb += sheen[..., None] * np.array([0.035, 0.08, 0.09], np.float32)


def _paint_vessels(alb, geom, maps, reflex_strength, on_disc):
    """Blood absorbance per channel; over the disc (no RPE or choroid behind the vessel)
    the green/blue contrast is higher, so vessels there look deep red, not grey."""
    boost = (0.0, 0.35, 0.4)
    for kind, m in maps.items():
        cmax, mu = BLOOD_ABSORPTION[kind]
        for c in range(3):
            cm = cmax[c] + boost[c] * on_disc * (1 - cmax[c])
            alb[..., c] *= 1 - cm * (1 - np.exp(-mu[c] * m.blood_mm))
        if kind != "nv":
            k = reflex_strength * (1.0 if kind == "artery" else 0.35)
            alb *= 1 + (k * m.reflex)[..., None] * np.array([0.15, 0.4, 0.3], np.float32)


def render_retina(geom: EyeGeometry, tree: VesselTree, cdr: float, pigmentation: float,
                  age_years: float, rng: np.random.Generator, lesions=(), nv=()) -> Retina:
    """Render the fundus albedo and anatomical masks (see the module docstring).

    ``lesions`` are objects with ``layer`` ("sub", "intra" or "pre") and
    ``paint(albedo, geom, choroid)``; ``nv`` are :class:`Vessel` curves of new vessels.
    ``rng`` draws the textures and disc details only.
    """
    tex_rng, disc_rng = rng.spawn(2)
    q = disc_rng.random(12)
    alb, choroid = _background(geom, pigmentation, age_years, tex_rng)
    for les in lesions:
        if les.layer == "sub":
            les.paint(alb, geom, choroid)
    disc, cup = disc_cup_masks(geom, cdr, q[:6])
    on_disc = _paint_disc(alb, geom, disc, cup, cdr, q[6:])
    _paint_nfl(alb, geom, age_years, tex_rng)
    for les in lesions:
        if les.layer == "intra":
            les.paint(alb, geom, choroid)
    maps = {k: rasterise_vessels([v for v in tree.vessels if v.kind == k], geom.to_px,
                                 geom.shape, geom.px_mm) for k in ("artery", "vein")}
    if nv:
        maps["nv"] = rasterise_vessels(list(nv), geom.to_px, geom.shape, geom.px_mm)
    youth = float(np.clip((70 - age_years) / 50, 0.15, 1))
    _paint_vessels(alb, geom, maps, 0.9 * youth, on_disc)
    for les in lesions:
        if les.layer == "pre":
            les.paint(alb, geom, choroid)
    fov = geom.fov_mask()
    rho = np.hypot(geom.X, geom.Y)
    masks = {"artery": maps["artery"].mask & fov, "vein": maps["vein"].mask & fov,
             "optic_disc": disc, "optic_cup": cup, "macula": (rho < 2.75) & fov,
             "fovea": (rho < 0.75) & fov, "field_of_view": fov}
    masks["vessel"] = masks["artery"] | masks["vein"]
    if nv:
        masks["neovascularisation"] = maps["nv"].mask & fov
    return Retina(np.clip(alb, 0, 1.2).astype(np.float32), masks, choroid)
