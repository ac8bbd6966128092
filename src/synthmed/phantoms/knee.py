"""Procedural knee for AP/PA radiographs: bones as 3D solids integrated along the beam.

Each bone is a solid whose cross-section along the beam (``z``) is known in closed form at
every detector pixel, so its *chord* (path length) is exact and sub-pixel smooth: a profile
``depth × Π circ(d_i / r_i)`` over the in-plane distances ``d_i`` (mm) to its borders, where
each border is rounded with radius ``r_i`` (a cylinder seen side-on has exactly this chord).
The same solid shrunk by the cortical thickness gives the trabecular chord; the difference is
the cortical shell, brightest where the beam is tangent to it. The distal femur is two half
solids (anterior: trochlea; posterior: condyles with the intercondylar notch cut out) whose
sides flare concavely from the shaft to the epicondyles and round off into the condyles; the
proximal tibia is "wine-glass" shaped (plateau wider than the shaft, slightly overhanging
rims, sides curving concavely into the shaft) and its plateau is a plane sloped along the
beam (anterior and posterior rims project apart); the fibula (a head tapering into the neck,
styloid apex lateral), the patella (a lobulated lens), the tibial spines and the soft-tissue
envelope are single solids. Trabecular bone is ``bone`` × bone volume fraction plus marrow:
denser under the articular surfaces, lucent in the metaphyseal centres, with a fine
granular-reticular texture and principal trabeculae (vertical in the tibial metaphysis,
arcades in the condyles). Children have open physes (grey cartilage with a dense zone of
provisional calcification), narrower and rounder epiphyses and a small or unossified
patella. Osteoarthritis (narrowing,
flattening, sclerosis, cysts, osteophytes; :mod:`synthmed.phantoms.knee_oa`) reshapes only the
bone within ~10 mm of the joint surfaces, so the rest of a knee is the same for every grade.

Coordinates: mm, ``x`` to the patient's medial side of a right knee (image right on an AP or
PA film; mirrored for a left knee), ``y`` downwards, ``z`` along the beam (posterior +),
origin on the medial joint line above the tibial eminence. Projection is parallel, so
``spacing_mm`` is the pixel size at the knee (no magnification).

Example
-------
>>> import numpy as np
>>> from synthmed.phantoms.knee_oa import normal_features
>>> a = draw_knee_anatomy(age_years=60, sex="F", rng=np.random.default_rng(0))
>>> ph = knee((96, 96), 100.0, a, normal_features(60))
>>> sorted(ph.masks), sorted(ph.path_lengths)
(['femur', 'fibula', 'patella', 'tibia'], ['adipose', 'bone', 'soft_tissue'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from synthmed.phantoms import knee_oa
from synthmed.phantoms._shapes import _circ, _smoothstep
from synthmed.phantoms.knee_oa import OAFeatures
from synthmed.phantoms.knee_texture import density_pattern, trabecular_texture

__all__ = ["KneeAnatomy", "KneePhantom", "draw_knee_anatomy", "knee", "physis_closure_age"]

_PHYSIS = {"femur": "femoral_physis", "tibia": "tibial_physis", "fibula": "fibular_physis"}
# Gaussian sigma (mm) by which every bone margin spreads in projection: cortical surfaces are
# rough and undulate along the beam (their anterior and posterior rims project a little apart),
# and the focal spot (~1.2 mm at magnification ~1.15) and a standing patient's sway add
# geometric unsharpness. It spreads the solids' chords, not the trabecular texture.
_MARGIN_SPREAD_MM = 0.7


@dataclass(frozen=True)
class KneeAnatomy:
    """One knee apart from osteoarthritis; all sizes in mm at an adult scale of 1.

    ``scale`` multiplies every length (1 ≈ 80 mm bicondylar width); ``shape`` holds the drawn
    shape numbers (condyles, notch, plateau, fibula, patella, soft tissue); ``physis_mm`` is
    the width of the open growth plates (0 = closed); ``texture_seed`` seeds the trabecular
    texture.
    """

    age_years: float
    sex: str
    laterality: str
    view: str
    flexion_deg: float
    rotation_deg: float
    scale: float
    tilt_deg: float
    offset_mm: tuple[float, float]
    physis_mm: float
    patella_size: float
    bone_volume_fraction: float
    texture_seed: int
    shape: dict = field(default_factory=dict)


@dataclass
class KneePhantom:
    """A knee on the detector grid: path lengths (cm) per material and exact labels."""

    spacing_mm: float
    path_lengths: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    landmarks: dict[str, tuple[float, float]]
    osteophyte_masks: list[tuple[str, np.ndarray]]
    attributes: dict


def physis_closure_age(sex: str, u: float) -> float:
    """Age in years at which the knee physes close: ~14-16 (F), ~16-18 (M); ``u`` in [0, 1)."""
    return (14.0 if sex == "F" else 16.0) + 2.0 * float(u)


def _growth(age_years: float) -> float:
    """Linear knee size relative to an adult (distal femoral width by age)."""
    return float(np.interp(age_years, [5, 8, 10, 12, 14, 16, 18], [.58, .68, .75, .84, .92, .97, 1]))


def draw_knee_anatomy(*, age_years: float, sex: str = "F", laterality: str = "R",
                      view: str = "PA", flexion_deg: float = 10.0, rotation_deg: float = 0.0,
                      rng: np.random.Generator) -> KneeAnatomy:
    """Draw one knee's anatomy (size, condyle and plateau shapes, positioning) from ``rng``.

    The same number of values is drawn whatever the arguments, so a stream gives the same
    individual for any age/sex (grown or shrunk accordingly).
    """
    u = rng.random(40)
    n = rng.standard_normal(12)
    adult = 1.0 if sex == "M" else 0.9
    s = adult * _growth(age_years) * (1 + 0.045 * n[0])
    shape = dict(
        b_m=9.5 + 2.0 * u[0], n_m=1.9 + 0.4 * u[1], b_l=9.0 + 2.0 * u[2], n_l=1.9 + 0.4 * u[3],
        notch_hw=7.0 + 1.5 * u[6], notch_h=13.0 + 3.0 * u[7] + 0.2 * flexion_deg,
        obliquity=1.2 * n[3],                       # lateral joint line lower (+) / higher, mm
        epi_m=1.2 + 1.2 * u[8], epi_l=0.8 + 1.0 * u[9], W_m=42.0 + 2 * u[10],
        W_l=39.5 + 2 * u[11], shaft_hw=13.5 + 1.5 * u[12],
        valgus_deg=5.0 + 2.0 * u[13], slope_deg=float(np.clip(7 + 2.5 * n[4], 2, 13)),
        W_tm=39.5 + 2 * u[14], W_tl=37.5 + 2 * u[15], t_shaft_hw=14.5 + 1.5 * u[16],
        kappa=0.35 + 0.3 * u[17], R_l=55.0 + 25 * u[18],
        spine_m=7.0 + 2.0 * u[19], spine_l=5.5 + 2.0 * u[20],
        fib_y=21.0 + 5 * u[21], fib_x=-31.5 - 2.5 * u[22], fib_hw=11.0 + 1.5 * u[23],
        pat_x=-3.0 - 3 * u[24], pat_y=-46.0 + 4 * n[5],
        fat_mm=(9 + 14 * u[25]) if sex == "F" else (4 + 9 * u[25]), girth=1 + 0.06 * n[6],
        physis_u=u[26], patella_u=u[27], cortex=1.0 + 0.25 * n[7],
        round_m=1.7 + 0.5 * u[29], round_l=1.6 + 0.5 * u[30], pat_lobe=u[31])
    # each condyle spans from the notch wall to the epicondyle line; its lowest point (where
    # the compartment's minimum JSW is measured) is in its middle
    nw = shape["notch_hw"] + 0.5
    shape.update(a_m=(shape["W_m"] - nw) / 2, x_mc=(shape["W_m"] + nw) / 2,
                 a_l=(shape["W_l"] - nw) / 2, x_lc=-(shape["W_l"] + nw) / 2)
    closes = physis_closure_age(sex, shape["physis_u"])
    physis = 0.0 if age_years >= closes else \
        float(2.4 * s * np.clip((closes - age_years) / 4.0, 0.3, 1.0))
    ossified_at = 4.0 + 2.5 * shape["patella_u"]  # patella ossifies at ~3-6 years
    pat = float(np.clip((age_years - ossified_at + 1.0) / 8.0, 0.0, 1.0) ** 0.7)
    bvf = (0.24 + 0.05 * u[28]) * (1 - 0.005 * max(age_years - 45, 0) * (1.6 if sex == "F" else 1))
    return KneeAnatomy(
        age_years=float(age_years), sex=sex, laterality=laterality, view=view,
        flexion_deg=float(flexion_deg), rotation_deg=float(rotation_deg), scale=float(s),
        tilt_deg=float(np.clip(1.6 * n[8], -4, 4)),
        offset_mm=(float(np.clip(3 * n[9], -8, 8)), float(np.clip(3 * n[10], -8, 8))),
        physis_mm=physis, patella_size=pat, bone_volume_fraction=float(max(bvf, 0.12)),
        texture_seed=int(rng.integers(1 << 62)), shape=shape)


# --------------------------------------------------------------------------- primitives
def _cap_distance(X, Y, cx, cy, a, b, n, up=False):
    """Signed distance (mm, + inside) to a superellipse cap on a vertical strip.

    The region is the half superellipse below (``up``: above) ``(cx, cy)`` with half-axes
    ``a`` (x) and ``b`` (y) and exponent ``n``, continued as a strip of half-width ``a`` on the
    other side. First-order distance ``(1 - ρ) / |∇ρ|``: exact along the axis ``x = cx``.
    """
    dx = np.abs(X - cx) / a
    dy = np.clip((cy - Y) if up else (Y - cy), 0, None) / b
    rho = np.maximum((dx ** n + dy ** n) ** (1.0 / n), 1e-6)
    grad = rho ** (1 - n) * np.sqrt((dx ** (n - 1) / a) ** 2 + (dy ** (n - 1) / b) ** 2)
    return (1.0 - rho) / np.maximum(grad, 1e-6)


def _drop(x, cx, a, b, n):
    """How far a superellipse cap's lower border rises at ``x`` above its lowest point (mm)."""
    q = np.clip(np.abs(x - cx) / a, 0, 1)
    return b * (1.0 - (1.0 - q ** n) ** (1.0 / n))


def _condyle_drop(x, cx, a, b, n, rounder, sign):
    """:func:`_drop` of a condyle whose outer half (towards ``sign``) is ``rounder`` × taller,
    so it curves up into the side of the femur instead of ending in a corner (mm)."""
    return _drop(x, cx, a, b * np.where(sign * (x - cx) > 0, rounder, 1.0), n)


def _profile(depth, ds, rs):
    """Chord ``depth × Π circ(d/r)`` of a solid with rounded borders (mm)."""
    out = depth
    for d, r in zip(ds, rs):
        out = out * _circ(np.clip(d, 0, None) / r)
    return out


def _shell(depth, ds, rs, ts):
    """(outer chord, inner chord) of a solid and of itself shrunk by the cortex ``ts``.

    The depth along the beam shrinks by the first border's cortex (the side walls).
    """
    outer = _profile(depth, ds, rs)
    inner = _profile(np.maximum(depth - ts[0], 0.0), [d - t for d, t in zip(ds, ts)],
                     [np.maximum(r - t, 0.5) for r, t in zip(rs, ts)])
    return outer, np.minimum(inner, outer)


def _side_distance(X, Y, side_fn, sign):
    """Distance (mm, + inside) to a side border ``x = side_fn(y)`` (sign +1: medial border)."""
    x0 = side_fn(Y)
    slope = (side_fn(Y + 0.5) - side_fn(Y - 0.5))
    return sign * (x0 - X) / np.sqrt(1.0 + slope * slope)


# --------------------------------------------------------------------------- bones
@dataclass
class _Bone:
    outer: np.ndarray
    inner: np.ndarray
    mask: np.ndarray
    bvf: float | np.ndarray


def _femur(X, Y, g) -> tuple[_Bone, dict]:
    sh, s = g["shape"], g["s"]
    a_m, x_mc = g["a_m"], g["x_mc"]
    a_l, b_l, x_lc = sh["a_l"] * s, sh["b_l"] * s, sh["x_lc"] * s
    y_roof = g["y0_m"] - sh["notch_h"] * s
    y_em = g["y0_m"] - 26 * s
    tan_v = np.tan(np.radians(sh["valgus_deg"]))
    shaft_c = lambda y: 1.5 * s + tan_v * (y - y_em)  # noqa: E731  (shaft axis, lateral upwards)
    ref = g["ref"]
    # the caps' inner (notch) and outer (widest) levels of the disease-free knee
    y_cm, y_cl = ref["y_fm"] - ref["b_m"], ref["y_fl"] - b_l
    wide_m, wide_l = y_cm - ref["b_m"] * (g["round_m"] - 1), y_cl - b_l * (g["round_l"] - 1)

    def side(W, epi, y_epi, y_wide, sign):
        def f(y):
            # concave (trumpet-like) metaphyseal flare from the shaft, rounding over (a smooth
            # minimum with 1) into the epicondyle
            t = np.clip((y - y_epi) / (85 * s) + 1, 0, None) ** 2.0
            flare = -0.08 * np.logaddexp(-t / 0.08, -1 / 0.08)
            x = (1 - flare) * (shaft_c(y) + sign * sh["shaft_hw"] * s) + flare * sign * W * s
            # the epicondyle's bump fades out where the condyle's rounded outline begins
            bump = np.exp(-0.5 * ((y - y_epi) / (6 * s)) ** 2) * _smoothstep((y_wide - y) / (5 * s))
            return x + sign * epi * s * bump
        return f

    med = side(sh["W_m"], sh["epi_m"], y_em, wide_m, +1)
    lat = side(sh["W_l"], sh["epi_l"], y_em + 2 * s, wide_l, -1)
    # a child's epiphysis is narrower than its metaphysis (unossified cartilage rim)
    epi = g["epi_erosion"] * _smoothstep((Y - g["physes"]["femur"]) / (0.5 * s) + 0.5)
    d_med, d_lat = _side_distance(X, Y, med, +1) - epi, _side_distance(X, Y, lat, -1) - epi
    # the distal outline y(x): two condyles (superellipse caps) and the notch arch between
    # them, springing from the caps' inner edges up to the roof
    nw = sh["notch_hw"] * s + 0.5 * s

    def outline(x, lift, roof_drop, c):
        u = x - g["x_n"]  # the notch arch is the disease-free knee's; OA changes the condyles
        y_end = y_cl + (y_cm - y_cl) * np.clip((u + nw) / (2 * nw), 0, 1)
        h = np.maximum(y_end - (y_roof + roof_drop), 2 * s)
        arch = y_end - h * (1 - np.clip(np.abs(u) / nw, 0, 1) ** 1.7) ** (1 / 1.7)
        med = c["y_fm"] - _condyle_drop(x, x_mc, a_m, c["b_m"], c["n_m"], g["round_m"], 1)
        lat = c["y_fl"] - _condyle_drop(x, x_lc, a_l, b_l, c["n_l"], g["round_l"], -1)
        y = np.where(u >= nw, med, np.where(u <= -nw, lat, arch))
        return y - lift

    def distance(lift, roof_drop, c):
        """Distance above the outline (mm): first order near it, vertical further away; and
        the vertical distance."""
        y0 = outline(X, lift, roof_drop, c)
        slope = (outline(X + 0.25, lift, roof_drop, c) - outline(X - 0.25, lift, roof_drop, c)) / 0.5
        near = np.exp(-((y0 - Y) / (4 * s)) ** 2)
        return (y0 - Y) / np.sqrt(1 + np.clip(slope, -4, 4) ** 2 * near), y0 - Y

    def bottom(lift, roof_drop):
        # OA (narrowing, flattening) reshapes only the bone within ~9 mm of the joint surface:
        # the distance field of the disease-free reference is blended into the actual one
        (d_ref, v_ref), (d, _) = distance(lift, roof_drop, g["ref"]), distance(lift, roof_drop, g)
        return d_ref + (d - d_ref) * _smoothstep((9.0 - v_ref) / 5.0)

    d_bot = bottom(0.0, 0.0)
    # anterior half: the trochlea closes the top of the notch; its condyles end a bit higher
    d_bot_a = bottom(0.8 * s, 3.0 * s)
    shaft = _smoothstep((y_em - 10 * s - Y) / (45 * s))  # 0 at the condyles, 1 up the shaft
    t_side = (0.7 + 3.8 * shaft) * g["cortex"]
    t_sc = g["t_subchondral"]
    r_side = 15 * s - 1 * s * shaft
    B_p, B_a = (34 - 20 * shaft) * s, (26 - 12 * shaft) * s
    # the notch runs obliquely up the back of the femur (Blumensaat's line): less bone above it
    fossa = (_smoothstep((nw + 2 * s - np.abs(X - g["x_n"])) / (4 * s))
             * _smoothstep((Y - y_roof + 14 * s) / (10 * s)) * (Y < y_roof + 1 * s))
    B_p = B_p * (1 - 0.35 * fossa)
    post = _shell(B_p, [d_med, d_lat, d_bot], [r_side, r_side, 22 * s], [t_side, t_side, t_sc])
    ant = _shell(B_a, [d_med + g["dx_ant"], d_lat - g["dx_ant"], d_bot_a],
                 [r_side, r_side, 20 * s], [t_side, t_side, 1.0])
    bvf = g["bvf"] * (1 - 0.85 * shaft)  # fatty medullary canal up the shaft
    mask = (post[0] > 0) | (ant[0] > 0)
    return _Bone(post[0] + ant[0], post[1] + ant[1], mask, bvf), dict(d_bot=d_bot)


def _tibia_top(X, g):
    """Tibial plateau height y (mm) at x: medial dish, lateral convexity, central join."""
    sh, s = g["shape"], g["s"]
    cap = 2.5 * s
    y_med = g["y0_m"] + 0.5 * g["jsw_m"] - g["kappa"] * np.minimum(
        _drop(X, g["x_mc"], g["a_m"], g["b_m"], g["n_m"]), cap)
    y_lat = g["y0_l"] + 0.5 * g["jsw_l"] + (X - sh["x_lc"] * s) ** 2 / (2 * sh["R_l"] * s)
    w = _smoothstep((X - g["x_n"] + 8 * s) / (16 * s))
    return (1 - w) * y_lat + w * y_med


def _spine_height(X, g):
    """Height (mm) of the intercondylar eminence above the plateau: a low base and two spines,
    taller and sharper with OA ("tibial spine sharpening")."""
    sh, s, sharp = g["shape"], g["s"], g["spine_sharpening"]
    h = 0.55 * sh["spine_m"] * s * np.exp(-0.5 * ((X - g["x_n"]) / (5.5 * s)) ** 2)
    for dx, hs in ((4.0, sh["spine_m"]), (-3.5, sh["spine_l"])):
        w = (2.2 - 0.8 * sharp) * s
        h = h + (0.6 * hs + 2.0 * sharp) * s * np.exp(-0.5 * ((X - g["x_n"] - dx * s) / w) ** 2) ** (1 + sharp)
    return h


def _tibia(X, Y, g) -> tuple[_Bone, dict]:
    sh, s = g["shape"], g["s"]
    spines = _spine_height(X, g)
    y_top = _tibia_top(X, g) - 0.4 * spines  # the plateau rises into the eminence
    y_rim = g["y0_m"] + 5 * s
    spread = g["deformity"] * 3.0 * s

    def side(W, sign):
        def f(y):
            # "wine glass": the condyles, then a concave curve into the shaft
            t = np.clip((y - y_rim - 2 * s) / (36 * s), 0, None)
            hw = sh["t_shaft_hw"] * s + (W * s - sh["t_shaft_hw"] * s) * np.exp(-t ** 2)
            rim = 1.2 * s + spread * (sign > 0)  # the rim overhangs; remodelled wider in OA
            return 2.0 * s + sign * (hw - 2.0 * s) + sign * rim * np.exp(-0.5 * ((y - y_rim) / (4 * s)) ** 2)
        return f

    med, lat = side(sh["W_tm"], +1), side(sh["W_tl"], -1)
    epi = g["epi_erosion"] * _smoothstep((g["physes"]["tibia"] - Y) / (0.5 * s) + 0.5)
    d_med, d_lat = _side_distance(X, Y, med, +1) - epi, _side_distance(X, Y, lat, -1) - epi
    shaft = _smoothstep((Y - y_rim - 25 * s) / (40 * s))
    B = (24 - 9 * shaft) * s
    t_side = (0.7 + 3.4 * shaft) * g["cortex"]
    r_side = 12 * s + 3 * s * shaft
    c_out = _profile(B, [d_med, d_lat], [r_side, r_side])
    c_in = _profile(np.maximum(B - t_side, 0), [d_med - t_side, d_lat - t_side],
                    [np.maximum(r_side - t_side, 0.5)] * 2)
    tan_a = g["tan_slope"]
    z_hi = (Y - y_top) / tan_a - B          # sloped plateau: bone below it
    z_hi_in = (Y - y_top - g["t_subchondral"]) / tan_a - B
    outer = np.clip(np.minimum(c_out, z_hi) + c_out, 0, 2 * c_out)
    inner = np.clip(np.minimum(c_in, z_hi_in) + c_in, 0, 2 * c_in)
    # tibial spines (intercondylar tubercles): ridges ~18 mm deep along the beam
    y_pl = np.minimum(_tibia_top(X, g), g["y0_m"] + 0.5 * g["jsw_m"])
    sp = _shell(18 * s, [Y - (y_pl - spines)], [3 * s], [0.8])
    above = _smoothstep((y_pl + 3 * s - Y) / (2 * s)) * np.clip(spines / s - 0.1, 0, 1)
    outer = outer + sp[0] * above
    inner = inner + sp[1] * above
    mask = (outer > 0) & (c_out > 0)
    x_tip = np.float32(g["x_n"] + 4.0 * s)
    tip = float(np.minimum(_tibia_top(x_tip, g), g["y0_m"] + 0.5 * g["jsw_m"]) - _spine_height(x_tip, g))
    y_edge = g["y0_m"] + 5 * s
    fields = dict(y_top=y_top, spine_tip=(float(x_tip), tip),
                  edges={"medial": float(med(np.float32(y_edge))), "lateral": float(lat(np.float32(y_edge)))})
    return _Bone(outer, inner, mask, g["bvf"] * (1 - 0.8 * shaft)), fields


def _fibula(X, Y, g) -> _Bone:
    sh, s = g["shape"], g["s"]
    (xh, yh), hw = g["fibula_head"], sh["fib_hw"] * s
    y_neck = yh + 16 * s
    centre = xh - 0.06 * np.clip(Y - y_neck, 0, None)
    # the head tapers smoothly into the neck; its top slopes down medially (the facet for
    # the tibia) to the styloid apex on the lateral side
    half = 6.5 * s + (hw - 6.5 * s) * np.exp(-(np.clip(Y - yh, 0, None) / (12 * s)) ** 2)
    d_side = half - np.abs(X - centre)
    d_top = _cap_distance(X, Y, xh + 0.1 * hw, yh, 1.1 * hw, 0.75 * hw, 2.0, up=True)
    apex = _cap_distance(X, Y, xh - 0.35 * hw, yh - 0.6 * hw, 0.55 * hw, 0.5 * hw, 2.0, up=True)
    d_top = np.maximum(np.where(Y < yh, d_top, np.inf), apex)
    t = 0.9 + 1.5 * _smoothstep((Y - y_neck) / (25 * s))
    outer, inner = _shell(2 * hw * 0.95 * (1 - 0.35 * _smoothstep((Y - yh) / (30 * s))),
                          [d_side, d_top], [6 * s, 8 * s], [t, 0.9])
    return _Bone(outer, inner, outer > 0, g["bvf"] * 0.9)


def _patella(X, Y, g) -> _Bone | None:
    sh, s, size = g["shape"], g["s"], g["patella_size"]
    if size <= 0:
        return None
    cx = sh["pat_x"] * s + g["dx_pat"]
    cy = g["y0_m"] + sh["pat_y"] * s + 0.4 * g["flexion"]
    a, b = 19 * s * size, 21 * s * size
    dx, dy = (X - cx) / a, (Y - cy) / b
    widen = 1 + 0.2 * np.clip(-dy, -1, 1)  # wider at the base, apex pointing down
    # rounded-triangular, slightly lobulated outline; a lens (thin margins): faint in the image
    theta = np.arctan2(dy, dx) + 2 * np.pi * sh["pat_lobe"]
    lobes = 1 + 0.05 * np.cos(3 * theta) + 0.03 * np.cos(2 * theta + 1.0)
    d = (1 - np.hypot(dx / widen, dy) / lobes) * min(a, b)
    outer, inner = _shell(20 * s * size, [d], [0.8 * min(a, b)], [0.3])
    return _Bone(outer, inner, outer > 0, g["bvf"] * 0.5)


# --------------------------------------------------------------------------- OA and growth
def _osteophyte_sites(g, tf):
    """Base point on the bone margin (mm), outward direction and parent bone of each site."""
    s, sh = g["s"], g["shape"]
    out = {}
    for side, sign in (("medial", 1), ("lateral", -1)):
        x_edge = tf["edges"][side] - sign * 1.5 * s
        y_edge = float(_tibia_top(np.float32(x_edge), g)) + 2.0 * s
        out[f"{side}_tibial"] = ((x_edge, y_edge), (0.82 * sign, -0.57), "tibia")
        xc, a, b, n, yb = ((g["x_mc"], g["a_m"], g["b_m"], g["n_m"], g["y_fm"]) if side == "medial"
                           else (sh["x_lc"] * s, sh["a_l"] * s, sh["b_l"] * s, g["n_l"], g["y_fl"]))
        x = xc + sign * 0.8 * a
        rnd = g[f"round_{side[0]}"]
        out[f"{side}_femoral"] = ((x - sign * 0.5 * s,
                                   yb - float(_condyle_drop(x, xc, a, b, n, rnd, sign)) - 1.0 * s),
                                  (0.6 * sign, 0.8), "femur")
    out["tibial_spine"] = ((tf["spine_tip"][0], tf["spine_tip"][1] + 2.0 * s), (0.0, -1.0), "tibia")
    return out


def _add_oa(X, Y, g, bones, ff, tf, oa: OAFeatures):
    """Osteophytes, cysts and subchondral sclerosis; returns osteophyte and cyst masks."""
    s = g["s"]
    sites = _osteophyte_sites(g, tf)
    ost_masks = []
    for o in oa.osteophytes:
        base, direction, parent = sites[o.site]
        spine = o.site == "tibial_spine"  # a spine spur lengthens the spine: narrow, straight
        depth = (10 + 1.5 * o.size_mm) * s
        # spurs are sclerotic: a thick cortex (~30 % of their chord) around a thin core
        chord, core, inside = knee_oa.osteophyte_solid(
            X, Y, base, direction, o.size_mm, 0.7 if spine else o.width, 0.0 if spine else o.curl,
            depth, cortex_mm=0.3 * depth)
        b = bones[parent]
        ost_masks.append((o.site, inside & ~b.mask))
        # the spur's cortex continues the parent's, whose old margin under it is remodelled
        # into trabecular bone
        merged = 0.8 * np.clip(chord / (2.0 * s), 0, 1)
        b.inner = b.inner + merged * (b.outer - b.inner) + core
        b.outer = b.outer + chord
    for b in bones.values():
        b.mask = b.outer > 0
    cyst_mask = np.zeros(X.shape, bool)
    for c in oa.cysts:
        xc = (g["x_mc"] + 0.35 * c.offset * g["a_m"]) if c.compartment == "medial" else \
            (g["shape"]["x_lc"] * s + 0.35 * c.offset * g["shape"]["a_l"] * s)
        if c.bone == "tibia":
            yc = float(_tibia_top(np.float32(xc), g)) + c.depth_mm
        else:
            yc = (g["y_fm"] if c.compartment == "medial" else g["y_fl"]) - c.depth_mm
        chord, inside = knee_oa.cyst_solid(X, Y, (xc, yc), c.diameter_mm)
        b = bones[c.bone]
        removed = np.minimum(chord, b.inner)
        b.inner, b.outer = b.inner - removed, b.outer - removed
        cyst_mask |= inside & b.mask
        rim = np.exp(-0.5 * ((np.hypot(X - xc, Y - yc) - 0.5 * c.diameter_mm) / 0.6) ** 2)
        b.bvf = b.bvf + 0.06 * rim
    if oa.sclerosis > 0:  # denser subchondral bone, mostly medial
        medial = 0.25 + 0.75 * _smoothstep((X - g["x_n"] + 4 * s) / (12 * s))
        depth = (2.0 + 3.0 * oa.sclerosis) * s
        # under the plateau, and above the condyles' weight-bearing surfaces (not the notch)
        condyles = _smoothstep((Y - g["y0_m"] + 10 * s) / (3 * s))
        for name, d, w in (("tibia", Y - tf["y_top"], 1.0), ("femur", ff["d_bot"], condyles)):
            band = np.exp(-np.clip(d, 0, None) / depth) * (d > -1) * _smoothstep((9.0 - d) / 3.0)
            bones[name].bvf = bones[name].bvf + 0.6 * oa.sclerosis * band * medial * w
    return ost_masks, cyst_mask


def _physes(X, g):
    """Growth-plate centre lines y(x) (mm) of the distal femur, proximal tibia and fibula."""
    s = g["s"]
    y_f = g["y0_m"] - (g["shape"]["notch_h"] + 3) * s - 3 * s * np.exp(-0.5 * (X / (11 * s)) ** 2) \
        + 0.7 * s * np.sin(X / (5.5 * s))
    y_t = g["y0_m"] + 17 * s + 0.05 * X + 0.6 * s * np.sin(X / (6.5 * s))
    xh, yh = g["fibula_head"]
    y_fib = yh + 0.3 * g["shape"]["fib_hw"] * s - 0.15 * (X - xh)
    return {"femur": y_f, "tibia": y_t, "fibula": y_fib}


def _soft_tissue(X, Y, g, fat_mm):
    """(whole-limb chord, subcutaneous fat chord) in mm: an elliptic limb with a fat layer."""
    s = g["s"] * g["shape"]["girth"]
    hw = s * (47 + 0.12 * np.clip(-Y - 15, 0, None) + 0.04 * np.clip(Y - 45, 0, None)) + fat_mm
    d = hw - np.abs(X - 3 * g["s"])
    body = 2 * 0.95 * hw * _circ(np.clip(d, 0, None) / (0.95 * hw))
    inner_hw = hw - fat_mm
    inner = 2 * 0.95 * inner_hw * _circ(np.clip(d - fat_mm, 0, None) / (0.95 * inner_hw))
    return body, body - inner


# --------------------------------------------------------------------------- the knee
def _geometry(a: KneeAnatomy, oa: OAFeatures) -> dict:
    sh, s = a.shape, a.scale
    dfm = oa.deformity
    rot = np.sin(np.radians(a.rotation_deg))
    beam = 10.0 if a.view == "PA" else 0.0   # PA fixed-flexion view: ~10° caudal beam
    slope = abs(sh["slope_deg"] + 0.35 * a.flexion_deg - beam)
    immature = float(np.clip((14 - a.age_years) / 9, 0, 1)) * (a.physis_mm > 0)
    return dict(
        shape=sh, s=s, y0_m=0.0, y0_l=sh["obliquity"] * s, jsw_m=oa.medial_jsw_mm,
        jsw_l=oa.lateral_jsw_mm, y_fm=-0.5 * oa.medial_jsw_mm,
        y_fl=sh["obliquity"] * s - 0.5 * oa.lateral_jsw_mm,
        a_m=sh["a_m"] * s, b_m=sh["b_m"] * s * (1 - 0.25 * dfm),
        n_m=sh["n_m"] + 2.5 * dfm, n_l=sh["n_l"] + 0.8 * dfm, x_mc=sh["x_mc"] * s, x_n=0.0,
        ref=dict(y_fm=-2.5, y_fl=sh["obliquity"] * s - 3.0, b_m=sh["b_m"] * s, n_m=sh["n_m"],
                 n_l=sh["n_l"]),  # a disease-free joint (JSW 5 / 6 mm) of the same knee
        kappa=sh["kappa"] + 0.25 * dfm, cortex=sh["cortex"],
        t_subchondral=(0.3 + 1.5 * oa.sclerosis) * sh["cortex"] * max(s, 0.7),
        tan_slope=np.tan(np.radians(np.clip(slope, 2.0, 5.0))), deformity=dfm,
        spine_sharpening=oa.tibial_spine_sharpening, bvf=a.bone_volume_fraction,
        flexion=a.flexion_deg, patella_size=a.patella_size,
        fibula_head=(sh["fib_x"] * s + 20 * s * rot, sh["obliquity"] * s + sh["fib_y"] * s),
        # a young child's epiphysis: narrower than its metaphysis (unossified cartilage rim)
        # and rounder, without the adult's squared condyles
        epi_erosion=8.0 * s * immature, round_m=sh["round_m"] * (1 + 0.5 * immature),
        round_l=sh["round_l"] * (1 + 0.5 * immature),
        dx_ant=-25 * s * rot, dx_pat=-55 * s * rot)


def knee(shape: tuple[int, int], fov_mm: float, anatomy: KneeAnatomy, oa: OAFeatures, *,
         texture: bool = True) -> KneePhantom:
    """Render a knee on a detector grid.

    Parameters
    ----------
    shape : (int, int)
        Detector grid ``(rows, cols)``.
    fov_mm : float
        Field of view along the longer image side in mm (``spacing_mm = fov_mm / max(shape)``).
    anatomy : KneeAnatomy
        From :func:`draw_knee_anatomy`.
    oa : OAFeatures
        Joint-space widths and OA features (:mod:`synthmed.phantoms.knee_oa`).
    texture : bool
        Trabecular texture (off for quick reference renders).

    Returns
    -------
    KneePhantom
        ``path_lengths`` in cm (``bone``, ``adipose``, ``soft_tissue``); masks ``femur``,
        ``tibia``, ``fibula``, ``patella`` (if ossified), ``femoral_physis``,
        ``tibial_physis``, ``fibular_physis`` (open growth plates only), ``subchondral_cyst`` (if any);
        landmarks ``{medial,lateral}_{femur,tibia}`` where the minimum JSW is measured
        (``(row, col)`` in pixels; their distance × ``spacing_mm`` is the JSW in mm).
    """
    a, s = anatomy, anatomy.scale
    rows, cols = shape
    px = fov_mm / max(rows, cols)
    off = np.asarray(a.offset_mm) * fov_mm / 160.0 + (0.0, 0.05 * fov_mm)  # joint below centre
    xi = ((np.arange(cols) + 0.5 - cols / 2) * px - off[0]).astype(np.float32)[None, :]
    yi = ((np.arange(rows) + 0.5 - rows / 2) * px - off[1]).astype(np.float32)[:, None]
    c, sn = np.cos(np.radians(a.tilt_deg)), np.sin(np.radians(a.tilt_deg))
    mirror = -1.0 if a.laterality == "L" else 1.0
    X = (mirror * (c * xi - sn * yi)).astype(np.float32)
    Y = (sn * xi + c * yi).astype(np.float32)
    g = _geometry(a, oa)
    g["physes"] = _physes(X, g)
    fem, ff = _femur(X, Y, g)
    tib, tf = _tibia(X, Y, g)
    bones = {"femur": fem, "tibia": tib, "fibula": _fibula(X, Y, g)}
    pat = _patella(X, Y, g)
    if pat is not None:
        bones["patella"] = pat
    density_pattern(X, Y, g, bones, ff["d_bot"], tf["y_top"])
    ost, cysts = _add_oa(X, Y, g, bones, ff, tf, oa)
    masks = {k: b.mask.copy() for k, b in bones.items()}
    # growth plates: a lucent cartilage band with a dense zone of provisional calcification on
    # the metaphyseal side; closed plates leave a faint sclerotic scar
    for name, y_p in g["physes"].items():
        b = bones[name]
        meta = -1.0 if name == "femur" else 1.0  # metaphysis above the femoral plate
        dist = Y - y_p
        if a.physis_mm > 0:
            band = _smoothstep((0.5 * a.physis_mm - np.abs(dist)) / 0.35 + 0.5)
            masks[_PHYSIS[name]] = (band > 0.5) & b.mask
            # the plate undulates, so bone overlaps part of it along the beam: grey, not black
            b.outer, b.inner = b.outer * (1 - 0.7 * band), b.inner * (1 - 0.7 * band)
            zpc = np.exp(-0.5 * ((meta * dist - 0.5 * a.physis_mm - 0.6) / 0.5) ** 2)
            b.bvf = b.bvf + 0.35 * zpc
        else:
            b.bvf = b.bvf + 0.02 * np.exp(-0.5 * (dist / 0.6) ** 2)
    tex, mottle = (trabecular_texture(X, Y, px, g, a.texture_seed, a.laterality) if texture
                   else (0.0, 0.0))
    bone = np.zeros(shape, np.float32)
    marrow = np.zeros(shape, np.float32)
    solid = np.zeros(shape, np.float32)
    for b in bones.values():
        outer, inner = (ndimage.gaussian_filter(c, _MARGIN_SPREAD_MM / px) for c in (b.outer, b.inner))
        bvf = np.clip(b.bvf * (1 + 0.07 * tex + 0.06 * mottle), 0.0, 0.95)
        bone += (outer - inner) + inner * bvf
        marrow += inner * (1 - bvf)
        solid += outer
    body, fat = _soft_tissue(X, Y, g, a.shape["fat_mm"] * (0.6 + 0.4 * s))
    soft = np.clip(body - fat - solid, 0, None)
    fat_frac = 0.15 + 0.55 * float(np.clip((a.age_years - 5) / 25, 0, 1))  # red -> yellow marrow
    paths = {"bone": bone / 10, "adipose": (fat + fat_frac * marrow) / 10,
             "soft_tissue": (soft + (1 - fat_frac) * marrow) / 10}

    def to_px(x, y):
        x = mirror * x
        xr, yr = c * x + sn * y + off[0], -sn * x + c * y + off[1]
        return (float(yr / px + rows / 2), float(xr / px + cols / 2))

    x_lc = a.shape["x_lc"] * s
    landmarks = {"medial_femur": to_px(g["x_mc"], g["y_fm"]),
                 "medial_tibia": to_px(g["x_mc"], g["y_fm"] + oa.medial_jsw_mm),
                 "lateral_femur": to_px(x_lc, g["y_fl"]),
                 "lateral_tibia": to_px(x_lc, g["y_fl"] + oa.lateral_jsw_mm)}
    if cysts.any():
        masks["subchondral_cyst"] = cysts
    masks = {k: m for k, m in masks.items() if m.any()}
    attrs = {"field_of_view_mm": round(float(fov_mm), 2), "scale": round(float(s), 4),
             "physis_mm": round(float(a.physis_mm), 3)}
    return KneePhantom(px, {k: v.astype(np.float32) for k, v in paths.items()}, masks,
                       landmarks, [(n, m) for n, m in ost if m.any()], attrs)
