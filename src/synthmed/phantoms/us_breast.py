"""Breast ultrasound scene: layered breast anatomy with an optional cyst, benign
(fibroadenoma-like) or malignant (carcinoma-like) mass described in the ACR BI-RADS
ultrasound lexicon (5th edition, 2013).

Anatomy, from the skin down (Stavros, "Breast Ultrasound", 2004, ch. 3): skin (echogenic
dermis, bright entry and exit lines), subcutaneous fat (hypoechoic lobules separated by thin
echogenic septa), Cooper's ligaments rising from the peaks of the mammary zone to the skin,
fibroglandular tissue (hyperechoic, heterogeneous, with fat islands), retromammary fat,
pectoralis major (hypoechoic with echogenic fibre septa), ribs (bright cortex, acoustic
shadow) and the pleura with aerated lung. Lesions are regions with their own acoustic
properties, so posterior enhancement (cyst: low attenuation), shadowing (carcinoma:
desmoplastic, attenuating) and edge shadows (refraction at a curved wall) come from the
physics. Lexicon descriptors and the BI-RADS assessment are attributes
(:func:`birads_assessment` documents the mapping).

>>> import numpy as np
>>> s = breast(np.random.default_rng(0), np.random.default_rng(1), lesion="cyst")
>>> s.attributes["lesion_type"], s.attributes["lesion_echo_pattern"]
('cyst', 'anechoic')
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from synthmed.phantoms._us_shapes import (Blob, Cells, Curve, Field, Lobules, UsScene,
                                          segment_distance)
from synthmed.physics.ultrasound import TISSUES, Tissue

__all__ = ["REGIONS", "STRUCTURES", "breast", "birads_assessment", "posterior_features"]

REGIONS = ("gel", "skin", "subcutaneous_fat", "coopers_ligament", "fibroglandular", "gland_fat",
           "retromammary_fat", "pectoralis_muscle", "intercostal_muscle", "rib", "lung",
           "lesion", "lesion_capsule", "echogenic_halo", "calcification")
STRUCTURES = {
    "skin": ("skin",),
    "subcutaneous_fat": ("subcutaneous_fat",),
    "coopers_ligaments": ("coopers_ligament",),
    "fibroglandular_tissue": ("fibroglandular",),
    "pectoralis_muscle": ("pectoralis_muscle",),
    "rib": ("rib",),
    "lung": ("lung",),
    "lesion": ("lesion", "calcification"),
    "echogenic_halo": ("echogenic_halo",),
    "calcifications": ("calcification",),
}
_ID = {n: i for i, n in enumerate(REGIONS)}
_BOUNDS = (-32.0, 32.0, -1.0, 72.0)    # mm: lateral and depth extent of the anatomy
_GLAND_ALPHA = TISSUES["breast_gland"].attenuation_db_cm_mhz
_SIZE_MM = {"cyst": (5.0, 18.0), "benign": (8.0, 25.0), "malignant": (7.0, 22.0)}
_MARGINS = ("spiculated", "angular", "microlobulated", "indistinct")


def _skin_depth(x, z, radius_mm):
    return z if radius_mm <= 0 else np.hypot(x, z + radius_mm) - radius_mm


def _lesion(rng: np.random.Generator, kind: str, size_mm: float | None, cx: float, u_depth: float,
            layers) -> tuple[dict, dict]:
    """Geometry, tissue and lexicon descriptors of one lesion (``kind`` != 'none')."""
    z_d, z_g, z_r, z_mb = (f(np.array([cx]))[0] for f in layers)
    lo_w, hi_w = _SIZE_MM[kind]
    width = float(size_mm) if size_mm is not None else float(rng.uniform(lo_w, hi_w))
    harmonics, bumps, margin = (), (), "circumscribed"
    if kind == "cyst":
        aspect = rng.uniform(0.55, 1.0)
    elif kind == "benign":
        aspect = rng.uniform(0.45, 0.8)
        k = int(rng.integers(2, 4))   # gentle macrolobulation: 2-3 undulations (still "oval")
        harmonics = ((k, rng.uniform(0.03, 0.09), rng.uniform(0, 2 * np.pi)),)
    else:
        parallel = rng.random() < 0.3
        aspect = rng.uniform(0.7, 0.95) if parallel else rng.uniform(1.1, 1.5)
        margin = _MARGINS[int(rng.choice(4, p=[0.35, 0.25, 0.2, 0.2]))]
        harmonics = tuple((k, rng.uniform(0.05, 0.14), rng.uniform(0, 2 * np.pi))
                          for k in (2, 3, 5))
        n = {"spiculated": (8, 17), "angular": (4, 8), "microlobulated": (10, 17),
             "indistinct": (0, 1)}[margin]
        n = int(rng.integers(*n))
        phis = np.sort(rng.uniform(-np.pi, np.pi, n))
        if margin == "spiculated":
            bumps = tuple((p, rng.uniform(0.04, 0.09), rng.uniform(0.35, 0.9), 1.5) for p in phis)
        elif margin == "angular":
            bumps = tuple((p, rng.uniform(0.35, 0.6), rng.uniform(0.12, 0.3), 1.0) for p in phis)
        elif margin == "microlobulated":
            phis = np.linspace(-np.pi, np.pi, n, endpoint=False) + rng.uniform(0, 1)
            bumps = tuple((p, np.pi / n, rng.uniform(0.07, 0.12), 0.5) for p in phis)
    a = width / 2.0
    blob = Blob(cx, 0.0, a, a * aspect, angle=float(rng.uniform(-0.15, 0.15)),
                harmonics=harmonics, bumps=bumps)
    # keep the whole lesion in a 40 mm wide field and above the chest wall
    r_max = blob.r_max()
    shrink = min(1.0, (19.0 - abs(cx)) / r_max)
    blob = replace(blob, a=blob.a * shrink, b=blob.b * shrink)
    bx, bz = blob.boundary()
    half_h = float(max(bz.max(), -bz.min()))
    lo = max(z_g - 0.2 * 2 * half_h, z_d + 1.0 + half_h)
    hi = max(lo, min(z_r + 0.2 * half_h, z_mb - half_h - 1.0, 34.0 - half_h))
    blob = replace(blob, cz=float(lo + u_depth * (hi - lo)))
    bx, bz = blob.boundary()

    t = {}
    if kind == "cyst":
        t["lesion"] = TISSUES["water"]
        t["lesion_capsule"] = TISSUES["fibrous"]
        wall_mm, halo_mm, echo_sd = rng.uniform(0.3, 0.5), 0.0, 0.0
        echo_pattern, calcs = "anechoic", []
    elif kind == "benign":
        t["lesion"] = Tissue(1550, 1.60, rng.uniform(0.45, 0.65), rng.uniform(0.25, 0.42), 15.0)
        t["lesion_capsule"] = TISSUES["fibrous"]
        wall_mm = rng.uniform(0.2, 0.3) if rng.random() < 0.5 else 0.0
        halo_mm, echo_sd, echo_pattern, calcs = 0.0, 0.2, "hypoechoic", []
    else:
        post = rng.choice(3, p=[0.7, 0.2, 0.1])     # shadowing, none, enhancement (by design)
        alpha = (rng.uniform(1.6, 3.2), rng.uniform(0.65, 0.9), rng.uniform(0.25, 0.4))[post]
        t["lesion"] = Tissue(1550, 1.62, alpha, rng.uniform(0.22, 0.4), 12.0)
        t["lesion_capsule"] = TISSUES["fibrous"]
        halo = margin == "indistinct" or rng.random() < 0.5
        halo_mm = rng.uniform(0.8, 2.5) if halo else 0.0
        t["echogenic_halo"] = Tissue(1560, 1.66, 1.2, rng.uniform(1.8, 2.6), 20.0)
        wall_mm, echo_sd = 0.0, 0.5
        echo_pattern = "heterogeneous" if rng.random() < 0.4 else "hypoechoic"
        calcs = []
        if rng.random() < 0.4:
            for _ in range(int(rng.integers(3, 10))):
                ph, rr = rng.uniform(-np.pi, np.pi), 0.75 * np.sqrt(rng.random())
                rad = blob.radius(ph) * rr
                px, pz = rad * np.cos(ph), rad * np.sin(ph)
                ca, sa = np.cos(blob.angle), np.sin(blob.angle)
                calcs.append((blob.cx + px * ca - pz * sa, blob.cz + px * sa + pz * ca,
                              rng.uniform(0.15, 0.35)))
    width_mm, height_mm = float(bx.max() - bx.min()), float(bz.max() - bz.min())
    shape = "irregular" if kind == "malignant" else (
        "round" if kind == "cyst" and aspect > 0.9 else "oval")
    desc = {
        "lesion_type": kind, "lesion_shape": shape,
        "lesion_orientation": "not parallel" if height_mm > width_mm else "parallel",
        "lesion_margin": margin, "lesion_echo_pattern": echo_pattern,
        "lesion_boundary": "echogenic halo" if halo_mm > 0 else "abrupt interface",
        "calcifications": "calcifications in a mass" if calcs else "none",
        "lesion_width_mm": width_mm, "lesion_height_mm": height_mm,
        "lesion_depth_mm": float(blob.cz),
        "lesion_attenuation_db_cm_mhz": float(t["lesion"].attenuation_db_cm_mhz),
    }
    i = (np.argmin(bx), np.argmax(bx), np.argmin(bz), np.argmax(bz))
    marks = {f"lesion_{n}": (float(bx[j]), float(bz[j]))
             for n, j in zip(("left", "right", "top", "bottom"), i)}
    geom = dict(blob=blob, wall_mm=wall_mm, halo_mm=halo_mm, echo_sd=echo_sd, calcs=calcs,
                tissues=t, marks=marks)
    return geom, desc


def posterior_features(attributes: dict, frequency_mhz: float) -> tuple[str, float]:
    """BI-RADS posterior features of a lesion and the predicted echo change behind it (dB).

    The change is ``-2 f0 (alpha_lesion - alpha_gland) h`` (round trip through the lesion's
    height h, in cm, against fibroglandular tissue beside it): beyond +3 dB "enhancement",
    below -3 dB "shadowing", else "no posterior features".

    >>> posterior_features({"lesion_type": "cyst", "lesion_attenuation_db_cm_mhz": 0.005,
    ...                     "lesion_height_mm": 8.0}, 10.0)
    ('enhancement', 11.92)
    """
    if attributes.get("lesion_type", "none") == "none":
        return "none", 0.0
    change = -2.0 * frequency_mhz * (attributes["lesion_attenuation_db_cm_mhz"] - _GLAND_ALPHA) \
        * attributes["lesion_height_mm"] / 10.0
    word = "enhancement" if change > 3 else "shadowing" if change < -3 else "no posterior features"
    return word, round(float(change), 2)


def birads_assessment(attributes: dict) -> tuple[int, str, int]:
    """BI-RADS assessment ``(category, subcategory, suspicious feature count)`` from the
    lexicon descriptors (a deliberately simple, documented mapping):

    * no lesion -> 1 (negative); simple cyst -> 2 (benign);
    * solid mass that is oval, parallel and circumscribed (fibroadenoma-like) -> 3
      (probably benign, Stavros et al., Radiology 196:123, 1995);
    * any other mass: count suspicious features — irregular shape (1), not parallel (1),
      margin not circumscribed (1; spiculated 2), posterior shadowing (1), echogenic halo
      (1), calcifications in a mass (1). Count 1-2 -> 4A, 3 -> 4B, 4 -> 4C, >= 5 -> 5
      (highly suggestive of malignancy).

    "Echogenic halo" / "abrupt interface" is the lesion-boundary descriptor of the 4th
    edition (2003); the 5th edition folds the halo into the margin assessment, so it is
    kept as its own attribute (``lesion_boundary``).

    >>> birads_assessment({"lesion_type": "malignant", "lesion_shape": "irregular",
    ...     "lesion_orientation": "not parallel", "lesion_margin": "spiculated",
    ...     "posterior_features": "shadowing", "lesion_boundary": "abrupt interface",
    ...     "calcifications": "none"})
    (5, '5', 5)
    """
    a = attributes
    kind = a.get("lesion_type", "none")
    if kind == "none":
        return 1, "1", 0
    if kind == "cyst":
        return 2, "2", 0
    n = int(a.get("lesion_shape") == "irregular")
    n += int(a.get("lesion_orientation") == "not parallel")
    margin = a.get("lesion_margin", "circumscribed")
    n += 2 if margin == "spiculated" else int(margin != "circumscribed")
    n += int(a.get("posterior_features") == "shadowing")
    n += int(a.get("lesion_boundary") == "echogenic halo")
    n += int(a.get("calcifications", "none") != "none")
    if n == 0:
        return 3, "3", 0
    sub = "4A" if n <= 2 else "4B" if n == 3 else "4C" if n == 4 else "5"
    return (5 if sub == "5" else 4), sub, n


def breast(anatomy_rng: np.random.Generator, lesion_rng: np.random.Generator,
           lesion: str = "benign", lesion_size_mm: float | None = None,
           contact_radius_mm: float = 0.0) -> UsScene:
    """A breast seen by a probe on the skin, with an optional lesion.

    Parameters
    ----------
    anatomy_rng, lesion_rng : numpy.random.Generator
        Streams for the breast anatomy and for the lesion (position first, so a lesion of
        another kind lands at the same place).
    lesion : {"none", "cyst", "benign", "malignant"}
    lesion_size_mm : float, optional
        Nominal lesion width before margin features (mm); drawn per kind when None.
    contact_radius_mm : float
        Radius of the probe face the skin conforms to (0 for a linear probe, mm).
    """
    rng = anatomy_rng
    x0, x1 = _BOUNDS[0], _BOUNDS[1]
    t_gel, t_skin = rng.uniform(0.15, 0.3), rng.uniform(1.3, 2.4)
    t_sub, t_gland = rng.uniform(3.0, 13.0), rng.uniform(9.0, 26.0)
    t_rmf, t_mus, tilt = rng.uniform(1.0, 4.0), rng.uniform(6.0, 12.0), rng.uniform(-0.06, 0.06)
    c = [Curve(rng, x0, x1, s) for s in (6.0, 5.0, 8.0, 6.0, 7.0, 10.0)]
    n_tent = int(rng.integers(3, 7))
    tents = [(rng.uniform(x0 + 4, x1 - 4), rng.uniform(1.0, max(1.2, t_sub - 1.0)),
              rng.uniform(1.5, 4.0), rng.uniform(-3.0, 3.0)) for _ in range(n_tent)]

    def z_d(x):
        return t_gel + t_skin + 0.15 * c[0](x)

    def z_g0(x):
        return z_d(x) + t_sub + 1.2 * c[1](x)

    def z_g(x):
        z = z_g0(x)
        for xk, h, w, _ in tents:
            z = z - h * np.clip(1 - np.abs(x - xk) / w, 0, None) ** 1.3
        return np.maximum(z, z_d(x) + 0.8)

    def z_r(x):
        return z_g0(x) + t_gland * (1 + 0.25 * c[2](x))

    def z_m(x):
        return z_r(x) + t_rmf * (1 + 0.3 * c[3](x)) + tilt * x

    def z_mb(x):
        return z_m(x) + t_mus * (1 + 0.12 * c[4](x))

    rib_x = rng.uniform(-20, 20)
    ribs = [(rib_x + dx, rng.uniform(6.0, 8.5), rng.uniform(3.0, 4.5)) for dx in (-28.0, 0.0, 28.0)]
    rib_b = float(np.mean([rb for _, _, rb in ribs]))
    ligaments = [((xk, float(z_g(np.array([xk]))[0])),
                  (xk + dx, float(z_d(np.array([xk + dx]))[0]))) for xk, _, _, dx in tents]
    t_lig = rng.uniform(0.25, 0.4)
    fat_lobules = Cells(rng, _BOUNDS, (rng.uniform(12.0, 22.0), rng.uniform(4.0, 7.0)))
    t_septum = rng.uniform(0.1, 0.2)                # half-thickness of the fat septa, mm
    gland_lobules = Lobules(rng, _BOUNDS, rng.uniform(5.0, 10.0), rng.uniform(1.0, 2.0), 1.5,
                            fill=(0.9, 0.75))
    fat_fraction = rng.uniform(0.1, 0.4)            # of the glandular zone's lobules
    f_gland, f_big = Field(rng, _BOUNDS, (1.5, 0.25)), Field(rng, _BOUNDS, 4.0)
    f_streak = Field(rng, _BOUNDS, (2.5, 0.18))
    f_fat = Field(rng, _BOUNDS, 0.6)
    fibre_angle = rng.uniform(-0.3, 0.3) + tilt
    fibres = Curve(rng, -80, 80, 0.12, 0.02)
    f_slow, f_wave = Field(rng, _BOUNDS, (2.0, 0.6)), Field(rng, _BOUNDS, 3.0)
    rib_marrow = Field(rng, _BOUNDS, 0.5)

    # -- lesion (own stream: position first) ---------------------------------------------
    lr = lesion_rng
    cx, u_depth = float(lr.uniform(-8.0, 8.0)), float(lr.random())
    shape_rng = lr.spawn(1)[0]
    geom, desc = None, {"lesion_type": "none"}
    if lesion != "none":
        geom, desc = _lesion(shape_rng, lesion, lesion_size_mm, cx, u_depth, (z_d, z_g, z_r, z_mb))
        f_les, f_halo = Field(shape_rng, _BOUNDS, 0.6), Field(shape_rng, _BOUNDS, 1.5)
    if geom is not None:
        focus = float(geom["blob"].cz)
    else:
        focus = float(np.clip(z_g0(np.array([cx]))[0] + (0.2 + 0.6 * u_depth) * t_gland, 8, 30))

    def labels_at(x, z):
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        d = _skin_depth(x, z, contact_radius_mm)
        lab = np.full(np.broadcast(x, z).shape, _ID["gel"], np.int16)
        zd, zg, zr, zm, zmb = z_d(x), z_g(x), z_r(x), z_m(x), z_mb(x)
        lab[d >= t_gel] = _ID["skin"]
        lab[d >= zd] = _ID["subcutaneous_fat"]
        lab[d >= zg] = _ID["fibroglandular"]
        band = (d >= zg) & (d < zr)
        inside, u = gland_lobules(x[band], d[band])
        sub = lab[band]
        sub[inside & (u < fat_fraction)] = _ID["gland_fat"]
        lab[band] = sub
        lab[d >= zr] = _ID["retromammary_fat"]
        fat = (lab == _ID["subcutaneous_fat"]) | (lab == _ID["retromammary_fat"])
        gap, _ = fat_lobules(x[fat], d[fat])
        sub = lab[fat]
        sub[gap < t_septum] = _ID["coopers_ligament"]
        lab[fat] = sub
        sub = (d > zd) & (d < zg + 0.3)
        for p0, p1 in ligaments:
            lab[sub & (segment_distance(x, d, p0, p1) < t_lig / 2)] = _ID["coopers_ligament"]
        lab[d >= zm] = _ID["pectoralis_muscle"]
        lab[d >= zmb] = _ID["intercostal_muscle"]
        lab[d >= zmb + 1.0 + 1.3 * rib_b] = _ID["lung"]          # pleura
        for rx, ra, rb in ribs:
            cz = zmb + rb + 1.0
            lab[((x - rx) / ra) ** 2 + ((d - cz) / rb) ** 2 < 1] = _ID["rib"]
        if geom is not None:
            blob, ratio = geom["blob"], geom["blob"].ratio(x, d)
            r_mean = 0.5 * (blob.a + blob.b)
            if geom["halo_mm"] > 0:
                near = ratio < 1 + 2 * geom["halo_mm"] / r_mean
                h = np.zeros(ratio.shape)
                h[near] = geom["halo_mm"] * (1 + 0.45 * f_halo(x[near], d[near]))
                lab[near & (ratio < 1 + np.maximum(h, 0.2) / r_mean)] = _ID["echogenic_halo"]
            if geom["wall_mm"] > 0:
                lab[ratio < 1 + geom["wall_mm"] / r_mean] = _ID["lesion_capsule"]
            lab[ratio < 1] = _ID["lesion"]
            for px, pz, pr in geom["calcs"]:
                lab[(x - px) ** 2 + (d - pz) ** 2 < pr ** 2] = _ID["calcification"]
        return lab

    def echo_at(x, z, lab):
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        out = np.ones(lab.shape, np.float32)
        sel = lab == _ID["fibroglandular"]
        xs, zs = x[sel], z[sel]
        streak = np.clip(f_streak(xs, zs) - 0.7, 0, None)     # thin echogenic fibrous strands
        out[sel] = np.exp(0.45 * f_gland(xs, zs) + 0.3 * f_big(xs, zs)) * (1 + 2.5 * streak)
        sel = lab == _ID["coopers_ligament"]
        out[sel] = np.exp(0.4 * f_big(x[sel], z[sel]))
        sel = np.isin(lab, [_ID["subcutaneous_fat"], _ID["retromammary_fat"], _ID["gland_fat"],
                            _ID["skin"]])
        out[sel] = np.exp(0.25 * f_fat(x[sel], z[sel]))
        sel = lab == _ID["pectoralis_muscle"]
        if sel.any():
            xs, zs = x[sel], z[sel]
            v = -xs * np.sin(fibre_angle) + zs * np.cos(fibre_angle) + 0.3 * f_wave(xs, zs)
            stripe = fibres(v) * np.clip(0.5 + 0.5 * f_slow(xs, zs), 0, None)
            out[sel] = 0.7 + 3.0 * np.clip(stripe - 0.7, 0, None)
        sel = lab == _ID["rib"]
        out[sel] = np.exp(0.4 * rib_marrow(x[sel], z[sel]))
        if geom is not None:
            sel = lab == _ID["lesion"]
            out[sel] = np.exp(geom["echo_sd"] * f_les(x[sel], z[sel]))
            sel = lab == _ID["echogenic_halo"]
            out[sel] = np.exp(0.35 * f_les(x[sel], z[sel]))
        return out

    regions = [
        ("gel", TISSUES["gel"]), ("skin", TISSUES["skin"]), ("subcutaneous_fat", TISSUES["fat"]),
        ("coopers_ligament", replace(TISSUES["fibrous"], echogenicity=0.8)),
        ("fibroglandular", TISSUES["breast_gland"]),
        ("gland_fat", TISSUES["fat"]), ("retromammary_fat", TISSUES["fat"]),
        ("pectoralis_muscle", TISSUES["muscle"]), ("intercostal_muscle", TISSUES["muscle"]),
        ("rib", TISSUES["bone"]), ("lung", TISSUES["air"]),
        ("lesion", TISSUES["water"]), ("lesion_capsule", TISSUES["fibrous"]),
        ("echogenic_halo", TISSUES["fibrous"]), ("calcification", TISSUES["calcification"])]
    marks = {}
    if geom is not None:
        regions = [(n, geom["tissues"].get(n, t)) for n, t in regions]
        marks = geom["marks"]
    attrs = {"skin_thickness_mm": float(t_skin), "subcutaneous_fat_thickness_mm": float(t_sub),
             "fibroglandular_thickness_mm": float(t_gland), **desc}
    return UsScene("breast", regions, labels_at, echo_at, dict(STRUCTURES), marks, attrs,
                   boxes=["lesion"] if geom else [], focus_mm=focus, depth_mm=40.0)
