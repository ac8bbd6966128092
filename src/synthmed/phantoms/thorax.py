"""Procedural thorax for projection radiography (2.5D material path-length maps).

The body is described on the detector grid by how many centimetres of each material a ray
crosses (soft tissue, adipose, bone, aerated lung, air/gas, metal), plus binary masks of the
anatomy. Shapes are analytic (smooth borders, no pixel jaggies) and perturbed with smooth random
fields, so every subject differs. Coordinates: ``x`` mm to the image right (= the patient's
left on a PA film), ``y`` mm downwards, origin at the image centre.

:func:`thorax` builds the anatomy. Findings and devices (``add_consolidation``, ``add_nodule``,
``add_effusion``, ``add_pneumothorax``, ``add_ecg_leads``, ``add_central_line``,
``add_side_marker``) live in :mod:`synthmed.phantoms.thorax_findings` and are re-exported here;
shared shape/noise helpers in :mod:`synthmed.phantoms._shapes`.

Example
-------
>>> import numpy as np
>>> ph = thorax((128, 128), age_years=40, sex="M", rng=np.random.default_rng(0))
>>> sorted(ph.path_lengths())[:3]
['adipose', 'air', 'bone']
>>> ph.masks["lung_left"].shape
(128, 128)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from synthmed.phantoms._shapes import (_blob, _circ, _Lines, _noise1d, _noise2d,
                                       _smoothstep, _splat_segments, _triangle)

__all__ = ["ThoraxPhantom", "thorax", "add_consolidation", "add_nodule", "add_effusion",
           "add_pneumothorax", "add_ecg_leads", "add_central_line", "add_side_marker",
           "LOBES"]


@dataclass
class ThoraxPhantom:
    """A thorax on the detector grid.

    Attributes
    ----------
    spacing_mm : float
        Pixel size in mm (square).
    body, lung, vessels, gas, bone, fat : float32 ndarray
        Path lengths in cm: whole-body thickness; aerated lung (part of ``body``); pulmonary
        vessels (blood inside the lung); air/gas inside the body; bone; adipose tissue.
    added : dict of str to ndarray
        Path lengths in cm of materials outside/on the body (``"copper"``, ``"lead"``).
    masks : dict of str to bool ndarray
        ``lung_right``, ``lung_left`` (visible lung fields, heart and mediastinum excluded),
        ``heart`` (cardiac silhouette), ``thorax`` (inside the inner rib margins).
    landmarks : dict of str to (row, col)
    attributes : dict of str to scalar
        ``cardiothoracic_ratio``, ``thoracic_width_mm``, ``heart_width_mm``, ...
    """

    spacing_mm: float
    body: np.ndarray
    lung: np.ndarray
    vessels: np.ndarray
    gas: np.ndarray
    bone: np.ndarray
    fat: np.ndarray
    added: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    landmarks: dict[str, tuple[float, float]] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    geom: Any = None  # private geometry used by the add_* functions

    def path_lengths(self) -> dict[str, np.ndarray]:
        """Path length in cm per material (keys of ``synthmed.physics.xray.MATERIALS``)."""
        vessels = np.minimum(self.vessels, self.lung)
        lung = self.lung - vessels
        soft = np.maximum(self.body - lung - self.gas - self.bone - self.fat, 0.0)
        out = {"soft_tissue": soft, "adipose": self.fat, "bone": self.bone,
               "lung": lung, "air": self.gas}
        out.update(self.added)
        return {k: v.astype(np.float32) for k, v in out.items()}


# --------------------------------------------------------------------------- helpers
@dataclass
class _Geom:
    shape: tuple[int, int]
    px: float
    X: np.ndarray
    Y: np.ndarray
    xm: float
    wt: float
    hl: float
    y_apex: float
    side: dict  # "right"/"left" -> dict of arrays/scalars
    rng_seed: int = 0
    extra: dict = field(default_factory=dict)


def _growth(age):
    return float(np.interp(age, [1, 3, 6, 10, 14, 18], [0.47, 0.55, 0.64, 0.75, 0.9, 1.0]))


# --------------------------------------------------------------------------- anatomy
def thorax(shape: tuple[int, int], *, age_years: float = 40.0, sex: str = "M",
           body_size: float = 1.0, view: str = "PA", inspiration: float = 0.8,
           rotation_deg: float = 0.0, cardiothoracic_ratio: float = 0.45,
           rng: np.random.Generator) -> ThoraxPhantom:
    """Build a thorax phantom on a detector grid.

    Parameters
    ----------
    shape : (int, int)
        Detector grid ``(rows, cols)``.
    age_years : float
        Age in years (1–95): body size, rib obliquity, thymus, bone mineral, aortic unfolding.
    sex : {"F", "M"}
        Body size and breast shadows.
    body_size : float
        Relative habitus (1 = average): frame size and soft-tissue/fat thickness.
    view : {"PA", "AP"}
        AP: scapulae over the lungs, clavicles projected higher.
    inspiration : float
        0 (poor, ~8 posterior ribs above the right hemidiaphragm) to 1 (deep, ~10.5).
    rotation_deg : float
        Patient rotation about the vertical axis in degrees; anterior structures (heart,
        clavicle heads) shift to the image right for positive values, the spine to the left.
    cardiothoracic_ratio : float
        Target heart width / inner thoracic width (the drawn heart is corrected to match).
    rng : numpy.random.Generator
        Random stream for all subject variation.

    Returns
    -------
    ThoraxPhantom
        The field of view is chosen for the subject (about 33–45 cm for adults,
        collimated smaller for children); ``spacing_mm`` = field / max(rows, cols).
    """
    rows, cols = shape
    adult = float(np.clip((age_years - 1) / 17, 0, 1))
    g = _growth(age_years)
    wt = (292.0 if sex == "M" else 268.0) * g * body_size ** 0.3 * (1 + 0.035 * rng.standard_normal())
    fill = rng.uniform(0.64, 0.88)  # collimation / field size varies between acquisitions
    fov = wt / fill
    if age_years >= 16:
        fov = float(np.clip(fov, 330.0, 450.0))
    px = fov / max(rows, cols)
    hl = wt * (0.74 + 0.2 * inspiration) * (0.86 + 0.14 * adult) * (1 + 0.03 * rng.standard_normal())
    y_apex = -0.58 * hl + 0.015 * hl * rng.standard_normal() - 0.02 * fov + \
        rng.uniform(-0.05, 0.03) * fov  # patient centering in the field
    sin_r = np.sin(np.radians(rotation_deg))
    dc = wt * (0.62 + 0.12 * (1 - adult))  # thoracic AP depth, mm
    xm = float(np.clip(0.035 * wt * rng.standard_normal(), -0.08 * wt, 0.08 * wt))
    X = ((np.arange(cols) + 0.5 - cols / 2) * px)[None, :].astype(np.float32)
    Y = ((np.arange(rows) + 0.5 - rows / 2) * px)[:, None].astype(np.float32)
    yv = Y[:, 0]
    geom = _Geom(shape, px, X, Y, xm, wt, hl, y_apex, {})
    geom.extra.update(age=age_years, sex=sex, view=view, adult=adult, dc=dc, sin_r=sin_r, g=g,
                      inspiration=inspiration)

    # ---- lungs: per side analytic borders ------------------------------------------
    whalf = wt / 2
    y_hilum = y_apex + 0.40 * hl
    y_knob = y_apex + 0.22 * hl
    lung_cav = np.zeros(shape, np.float32)
    d_lung = wt * (0.50 + 0.08 * (1 - adult)) / 10.0 * (0.9 + 0.2 * inspiration)  # cm
    for name, s, dome_drop in (("right", -1, 0.0), ("left", 1, 0.055 * hl)):
        u = s * (X - xm)
        wh = whalf * (1 + 0.015 * rng.standard_normal())
        tau = np.clip((yv - y_apex + 0.06 * hl) / (1.06 * hl), 0, 1)
        u_lat = wh * np.sqrt(1 - (1 - tau) ** 3.2) + 0.006 * wt * _noise1d(rows, 12 / px * 3, rng)
        u_lat = u_lat[:, None]
        med_top = (0.072 if s < 0 else 0.06) * wt
        m = med_top + 0.01 * wt * _noise1d(rows, 20 / px * 3, rng)
        m = m * (0.72 + 0.28 * _smoothstep((yv - y_apex + 0.05 * hl) / (0.3 * hl)) ** 0.7)
        if s > 0:  # aortic knob bulges into the left lung
            m = m + (0.05 + 0.02 * (age_years > 60)) * wt * np.exp(-0.5 * ((yv - y_knob) / (0.05 * hl)) ** 2)
        m = m + (0.05 * wt - m) * _smoothstep((yv - y_hilum - 0.15 * hl) / (0.2 * hl))
        u_med = m[:, None]
        u_ap = 0.42 * wh
        y_top = y_apex + (0.02 * hl if s > 0 else 0) + 0.95 * hl * ((u - u_ap) / wh) ** 2
        # hemidiaphragm dome: peak at ~45 % of the hemithorax, drops to the CP angle
        y_cp = y_apex + hl + dome_drop + 0.01 * hl * rng.standard_normal()
        hd = (0.15 + 0.03 * rng.standard_normal()) * hl * (0.8 + 0.3 * inspiration)
        y_pk = y_cp - hd
        u_pk = (0.45 + 0.05 * rng.standard_normal()) * wh
        lat = np.clip((u - u_pk) / (wh - u_pk), 0, None)
        medq = np.clip((u_pk - u) / u_pk, 0, None)
        y_dia = y_pk + hd * lat ** 1.6 + 0.5 * hd * medq ** 2
        d_lat, d_med, d_top, d_dia = u_lat - u, u - u_med, Y - y_top, y_dia - Y
        # upper mediastinal border: a soft, tangential interface (lung wraps round the
        # trachea and great vessels), not a sharp vertical edge
        w_up = _smoothstep((y_hilum - 0.02 * hl - Y) / (0.12 * hl))
        p_med = (1 - w_up) * _circ(d_med / (0.2 * wt)) ** 1.5 + \
            w_up * _smoothstep((d_med + 0.02 * wt) / (0.16 * wt)) ** 0.8
        cav = (_circ(d_lat / (0.22 * wt)) * p_med *
               _circ(d_top / (0.35 * hl)) * _circ(d_dia / (0.10 * hl)))
        rec = np.where(Y > y_dia, np.exp(-np.clip(Y - y_dia, 0, None) / (0.04 * hl)), 0) * \
            _circ(d_lat / (0.15 * wt)) * _circ(d_med / (0.15 * wt)) * 0.12
        side_mask = u > 0
        lung_cav += np.where(side_mask, d_lung * (cav + rec), 0).astype(np.float32)
        inside = (d_lat > 0) & (d_med > 0) & (d_top > 0) & (d_dia > 0) & side_mask
        geom.side[name] = dict(s=s, u=u, d_lat=d_lat, d_med=d_med, d_top=d_top, d_dia=d_dia,
                               inside=inside, y_cp=y_cp, y_pk=y_pk, u_pk=u_pk, wh=wh,
                               y_dia=y_dia, u_lat=u_lat, u_med=u_med)
    sr, sl = geom.side["right"], geom.side["left"]
    thorax_mask = np.zeros(shape, bool)
    for sd in (sr, sl):
        thorax_mask |= (sd["d_lat"] > 0) & (sd["d_top"] > 0) & (sd["d_dia"] > 0) & (sd["u"] > 0)
    thorax_mask |= _fill_rows_between(thorax_mask)

    # ---- heart and great vessels ----------------------------------------------------
    x_heart_shift = 0.25 * dc * sin_r
    ctr = cardiothoracic_ratio
    thor_w_px = _max_row_width(thorax_mask)
    heart, heart_t = _heart(geom, ctr * thor_w_px * px, x_heart_shift, rng)
    hw = _max_row_width(heart)
    if hw:  # one correction so the drawn heart hits the requested CTR
        heart, heart_t = _heart(geom, ctr * thor_w_px * px * (ctr * thor_w_px / hw), x_heart_shift,
                                rng, reuse=True)
    # lung in front of and behind the mediastinum and heart (retrosternal, retrotracheal,
    # retrocardiac): the mediastinum is not solid soft tissue on a frontal projection
    behind = ndimage.gaussian_filter(thorax_mask.astype(np.float32), 8 / px)
    lung_cav = np.maximum(lung_cav, d_lung * rng.uniform(0.3, 0.42) * behind)
    lung_cav = np.maximum(lung_cav - heart_t, 0) + d_lung * 0.18 * behind * (heart_t > 0) * \
        np.clip(heart_t / (heart_t.max() + 1e-6) * 3, 0, 1)
    # aortic knob, descending aorta, SVC, thymus: soft tissue that displaces lung
    r_ao = 0.05 * wt * (1.15 if age_years > 60 else 1.0)
    knob_x = xm + 0.085 * wt + 0.6 * r_ao + x_heart_shift * 0.5
    vess = 0.3 * _blob(X, Y, knob_x - 0.5 * r_ao, y_knob, r_ao, 1.2 * r_ao, 0.8 * r_ao / 5)
    yy = np.linspace(y_knob, geom.side["left"]["y_pk"] + 0.05 * hl, 40)
    # descending aorta: a ~2.5 cm tube left of the spine, its left wall a line against lung
    r_da = 0.042 * wt * (1.1 if age_years > 60 else 1.0)
    dx_da = X - (xm + 0.06 * wt + 0.012 * wt * np.sin((Y - y_knob) / (0.3 * hl)))
    desc = 2 * np.sqrt(np.clip(r_da ** 2 - dx_da ** 2, 0, None)) / 10
    desc = desc * _smoothstep((Y - y_knob) / (0.05 * hl)) * _smoothstep((yy[-1] - Y) / (0.08 * hl))
    vess = np.maximum(vess, 0.8 * ndimage.gaussian_filter(desc, 2.5 / px))
    svc_x = xm - 0.075 * wt * (0.7 + 0.3 * _smoothstep((Y - y_apex) / (0.35 * hl))) + x_heart_shift
    svc = np.exp(-0.5 * ((X - svc_x) / (0.02 * wt)) ** 2) * \
        _smoothstep((Y - (y_apex + 0.05 * hl)) / (0.1 * hl)) * \
        _smoothstep((y_hilum + 0.1 * hl - Y) / (0.06 * hl))
    vess = np.maximum(vess, 0.1 * wt / 10 * svc)
    if age_years < 4:
        vess = np.maximum(vess, _blob(X, Y, xm + 0.02 * wt, y_apex + 0.3 * hl, 0.15 * wt,
                                      0.12 * hl, 0.35 * wt / 10))
    lung_cav = np.maximum(lung_cav - vess, 0)
    # parenchymal texture: subtle density variation of the lung
    tex = 1 + 0.025 * _noise2d(shape, 8 / px, rng) + 0.012 * _noise2d(shape, 2 / px, rng)
    lung = (lung_cav * tex).astype(np.float32)
    vessels = _vessel_tree(geom, np.where(sr["inside"] | sl["inside"], lung_cav, 0), rng)
    geom.extra["vessel_tree"] = vessels.copy()  # bronchovascular bundles (air bronchograms)
    bp = _noise2d(shape, 1.2 / px, rng) - 0.6 * _noise2d(shape, 4 / px, rng)
    fine = np.exp(-(bp / 0.3) ** 2) * np.clip(lung_cav / d_lung, 0, 1)
    vessels += (0.16 * fine * g ** 0.5).astype(np.float32)
    vessels *= 1 - 0.8 * np.clip(heart_t / (0.3 * heart_t.max() + 1e-6), 0, 1)  # faint behind heart

    masks = {
        "lung_right": sr["inside"] & ~heart,
        "lung_left": sl["inside"] & ~heart,
        "heart": heart,
        "thorax": thorax_mask,
    }
    # ---- body soft tissue --------------------------------------------------------------
    body, fat, breasts = _body(geom, body_size, rng)
    gas = _airways(geom, rng) + _stomach_gas(geom, rng) + _bowel_gas(geom, body, rng)
    bone = _skeleton(geom, rng, body)
    car = geom.extra["carina"]
    thor_w = _max_row_width(thorax_mask)
    heart_w = _max_row_width(heart)
    attrs = {
        "cardiothoracic_ratio": round(heart_w / max(thor_w, 1), 4),
        "thoracic_width_mm": round(thor_w * px, 1),
        "heart_width_mm": round(heart_w * px, 1),
        "posterior_ribs_above_diaphragm": round(geom.extra["n_post"], 1),
        "field_of_view_mm": round(fov, 1),
    }
    landmarks = {"carina": (car[1] / px + rows / 2, car[0] / px + cols / 2)}
    ph = ThoraxPhantom(px, body + breasts, np.minimum(lung, body), vessels, gas, bone,
                       fat, {}, masks, landmarks, attrs, geom)
    return ph


def _fill_rows_between(mask):
    """Fill each row between its first and last True pixel (joins both hemithoraces)."""
    cols = np.arange(mask.shape[1])
    any_ = mask.any(1)
    first = np.where(any_, np.argmax(mask, 1), 0)
    last = np.where(any_, mask.shape[1] - 1 - np.argmax(mask[:, ::-1], 1), -1)
    return (cols[None, :] >= first[:, None]) & (cols[None, :] <= last[:, None])


def _max_row_width(mask):
    if not mask.any():
        return 0
    any_ = mask.any(1)
    first = np.argmax(mask, 1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], 1)
    return int((last - first + 1)[any_].max())


def _heart(geom, width_mm, x_shift, rng, reuse=False):
    """Cardiac silhouette (mask) and heart AP thickness (cm)."""
    if not reuse:
        geom.extra["heart_rand"] = rng.uniform(-1, 1, 6)
    q = geom.extra["heart_rand"]
    X, Y, wt, hl, xm = geom.X, geom.Y, geom.wt, geom.hl, geom.xm
    w = width_mm
    y_base = 0.5 * (geom.side["right"]["y_pk"] + geom.side["left"]["y_pk"]) + 0.01 * hl
    x0 = xm + x_shift - (0.33 + 0.03 * q[0]) * w  # right heart border
    # right atrium: gentle convexity right of the spine
    rax, ray = 0.2 * w, (0.32 + 0.03 * q[3]) * w
    e_ra = ((X - (x0 + rax)) / rax) ** 2 + ((Y - (y_base - 0.2 * w)) / ray) ** 2
    # left ventricle: tilted ellipse, apex down and to the patient's left (image right)
    th = np.radians(32 + 6 * q[1])
    a, b = 0.52 * w, (0.36 + 0.02 * q[2]) * w
    half_x = np.sqrt((a * np.cos(th)) ** 2 + (b * np.sin(th)) ** 2)
    cx, cy = x0 + w - half_x, y_base - (0.16 + 0.03 * q[4]) * w
    xr, yr = X - cx, Y - cy
    e_lv = ((xr * np.cos(th) + yr * np.sin(th)) / a) ** 2 + ((-xr * np.sin(th) + yr * np.cos(th)) / b) ** 2
    e = np.minimum(e_lv, e_ra)
    mask = (e < 1) & (Y < y_base)
    # vascular pedicle joins the heart to the mediastinum (soft tissue, not in the mask)
    top = cy - 0.5 * w
    # it narrows upwards (curved, soft borders) and thins towards the thoracic inlet
    nz = 1 - _smoothstep((Y - (top - 0.25 * hl)) / (0.4 * hl))
    ped = _smoothstep((X - (x0 + (0.08 + 0.14 * nz) * w)) / (0.12 * w)) * \
        _smoothstep((x0 + (0.62 - 0.12 * nz) * w - X) / (0.14 * w))
    ped = ped * _smoothstep((Y - (top - 0.25 * hl)) / (0.15 * hl)) * _smoothstep((cy - 0.25 * w - Y) / (0.1 * w))
    ped = ped * (1 - 0.35 * nz)
    depth = 0.5 * geom.wt / 10 * (w / (0.45 * wt)) ** 0.5
    # depth profile from a smooth union of the chambers (no crease where they meet), with
    # smooth density variation; borders blurred by cardiac motion
    e_s = -np.log(np.exp(-6 * e_lv) + np.exp(-6 * e_ra)) / 6
    t = np.maximum(depth * np.clip(1 - e_s, 0, None) ** 0.6, 0.8 * depth * ped)
    if "heart_tex" not in geom.extra:
        geom.extra["heart_tex"] = 1 + 0.04 * _noise2d(geom.shape, 15 / geom.px, rng)
    t = t * geom.extra["heart_tex"]
    t = ndimage.gaussian_filter(t, 2.0 / geom.px)  # cardiac motion blurs the borders
    return mask, t.astype(np.float32)


def _vessel_tree(geom, lung_cav, rng):
    """Pulmonary vessels branching from the hila, tapering to the periphery (cm of blood)."""
    px, wt, hl, xm = geom.px, geom.wt, geom.hl, geom.xm
    h, w = geom.shape
    segs = []  # (x0, y0, x1, y1, r_mm, line weight)
    for s, name in ((-1, "right"), (1, "left")):
        hx = xm + s * (0.13 + 0.01 * rng.standard_normal()) * wt
        hy = geom.y_apex + (0.45 if s < 0 else 0.41) * hl
        geom.extra[f"hilum_{name}"] = (hx, hy)
        r0 = 0.024 * wt
        stack = []
        for ang in np.radians(np.linspace(-85, 115, 11)) + 0.1 * rng.standard_normal(11):
            # angle 0 = lateral, negative = upwards
            dx, dy = s * np.cos(ang), np.sin(ang)
            stack.append((hx, hy, dx, dy, r0 * rng.uniform(0.55, 0.8) * (1.15 if ang > 0 else 0.9)))
        while stack:
            x, y, dx, dy, r = stack.pop()
            length = r * rng.uniform(7, 11)
            pts = [(x, y)]
            for _ in range(3):
                a = 0.25 * rng.standard_normal()
                dx, dy = dx * np.cos(a) - dy * np.sin(a), dx * np.sin(a) + dy * np.cos(a)
                x, y = x + dx * length / 3, y + dy * length / 3
                pts.append((x, y))
            c, rr = int(x / px + w / 2), int(y / px + h / 2)
            if not (0 <= rr < h and 0 <= c < w) or lung_cav[rr, c] < 0.5:
                continue
            tilt = 1 / max(np.cos(rng.uniform(0, 1.3)), 0.3)  # foreshortening of 3-D vessel
            for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
                segs.append((x0, y0, x1, y1, r, tilt))
            if r > 0.45 * geom.extra["g"] ** 0.5:
                for k in (-1, 1):
                    a = k * rng.uniform(0.25, 0.6)
                    ndx, ndy = dx * np.cos(a) - dy * np.sin(a), dx * np.sin(a) + dy * np.cos(a)
                    stack.append((x, y, ndx, ndy, r * rng.uniform(0.62, 0.82)))
    out = np.zeros(geom.shape, np.float32)
    if not segs:
        return out
    seg = np.array(segs)
    r_mm = seg[:, 4]
    edges = [0, 0.7, 1.4, 2.8, 100]
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = seg[(r_mm >= lo) & (r_mm < hi)]
        if not len(sel):
            continue
        line = _splat_segments(geom, sel[:, 0], sel[:, 1], sel[:, 2], sel[:, 3],
                               np.pi * sel[:, 4] ** 2 * sel[:, 5] / px ** 2)
        sigma = max(0.627 * np.sqrt(max(lo, 0.35) * min(hi, 6)) / px, 0.5)
        out += ndimage.gaussian_filter(line, sigma).astype(np.float32) * px / 10
    # hilar density (pulmonary arteries end-on, nodes)
    for name in ("right", "left"):
        hx, hy = geom.extra[f"hilum_{name}"]
        out += _blob(geom.X, geom.Y, hx, hy, 0.05 * wt, 0.09 * hl, 0.02 * wt / 10)
    return out


def _body(geom, body_size, rng):
    """Body thickness (cm), fat (cm) and breast tissue (cm)."""
    X, Y, wt, hl, xm, y_apex = geom.X, geom.Y, geom.wt, geom.hl, geom.xm, geom.y_apex
    yv = Y[:, 0]
    age = geom.extra["age"]
    wall = wt * (0.07 + 0.05 * (body_size - 1)) * (1 + 0.1 * rng.standard_normal())
    u_lat = 0.5 * (geom.side["right"]["u_lat"] + geom.side["left"]["u_lat"])[:, 0]
    y_sh = y_apex + (0.02 - 0.04 * (geom.extra["view"] == "AP")) * hl
    neck = 0.21 * wt * (1 + 0.05 * rng.standard_normal())
    shoulder = 0.5 * wt + 0.16 * wt
    half = np.maximum(u_lat, 0) + wall
    top = neck + (shoulder - neck) * _smoothstep((yv - (y_sh - 0.12 * hl)) / (0.3 * hl)) ** 0.6
    arm = _smoothstep((y_apex + 0.45 * hl - yv) / (0.25 * hl))
    half = np.where(yv < y_sh + 0.18 * hl, np.minimum(top, np.maximum(half, shoulder * arm + half * (1 - arm))),
                    np.maximum(half, shoulder * arm + half * (1 - arm)))
    half = half * (1 + 0.01 * _noise1d(len(yv), 30, rng))
    depth = wt * (0.78 + 0.1 * (body_size - 1)) / 10 * (1 + 0.05 * rng.standard_normal())
    dz = depth * np.where(yv < y_sh - 0.05 * hl, 0.55, 1.0)
    dz = ndimage.gaussian_filter1d(dz, 0.05 * hl / geom.px)
    q = np.abs(X - xm) / half[:, None]
    body = dz[:, None] * np.clip(1 - q ** 2.4, 0, None) ** (1 / 2.4)
    body = ndimage.gaussian_filter(body, 1.0).astype(np.float32)
    fat = (body * np.clip(0.12 + 0.35 * (body_size - 1) + 0.05 * (geom.extra["sex"] == "F"), 0.03, 0.5)).astype(np.float32)
    breasts = np.zeros(geom.shape, np.float32)
    if geom.extra["sex"] == "F" and age >= 13:
        size = rng.uniform(0.7, 1.2) * body_size * min(1, (age - 12) / 5)
        for s in (-1, 1):
            cx = xm + s * (0.27 + 0.03 * rng.standard_normal()) * wt
            cy = y_apex + (0.80 + 0.05 * rng.standard_normal()) * hl
            rx, ry = 0.2 * wt * size ** 0.5, 0.16 * wt * size ** 0.5
            e = ((X - cx) / rx) ** 2 + (np.where(Y < cy, (Y - cy) / (2.5 * ry), (Y - cy) / ry)) ** 2
            prof = np.clip(1 - e, 0, None) ** 0.8  # upper half stretched: soft above
            breasts += (0.07 * wt / 10 * size * ndimage.gaussian_filter(prof, 1.0)).astype(np.float32)
        fat += 0.5 * breasts
    return body, fat, breasts


def _airways(geom, rng):
    """Trachea and main bronchi: cm of air."""
    wt, hl, xm, px = geom.wt, geom.hl, geom.xm, geom.px
    y_car = geom.y_apex + (0.30 + 0.02 * rng.standard_normal()) * hl
    x_car = xm + 0.005 * wt
    geom.extra["carina"] = (x_car, y_car)
    r = 0.03 * wt
    ty = np.linspace(-geom.shape[0] * px / 2 - 5, y_car, 40)
    tx = x_car - 0.012 * wt * np.exp(-0.5 * ((ty - (geom.y_apex + 0.22 * hl)) / (0.06 * hl)) ** 2)
    lines = _Lines(geom)
    lines.add(tx, ty, 1.0)
    out = 0.8 * lines.render(r / px, blur_px=2.5 / px) * px / 10  # soft, not a sharp tube
    br = _Lines(geom)
    for s, ang, ln in ((-1, 30, 0.10), (1, 48, 0.15)):
        t = np.linspace(0, 1, 20)
        a = np.radians(ang)
        br.add(x_car + s * np.sin(a) * ln * wt * t, y_car + np.cos(a) * ln * wt * t, 1.0)
    out += 0.8 * br.render(0.65 * r / px, blur_px=2.0 / px) * px / 10
    return out.astype(np.float32)


def _stomach_gas(geom, rng):
    sl = geom.side["left"]
    wt, hl = geom.wt, geom.hl
    cx = geom.xm + (0.45 + 0.06 * rng.standard_normal()) * sl["wh"]
    cy = sl["y_pk"] + (0.07 + 0.02 * rng.standard_normal()) * hl
    rx, ry = rng.uniform(0.07, 0.12) * wt, rng.uniform(0.04, 0.07) * hl
    gas = _blob(geom.X, geom.Y, cx, cy, rx, ry, rng.uniform(3, 6) * geom.extra["g"])
    level = cy + ry * rng.uniform(0.0, 0.5)  # air-fluid level (upright)
    gas *= _smoothstep((level - geom.Y) / (0.5 * geom.px)) * (geom.Y > sl["y_dia"] + 2 * geom.px)
    return gas.astype(np.float32)


def _bowel_gas(geom, body, rng):
    """Subtle, irregular bowel gas (colon flexures, small bowel) under the diaphragm: cm of gas."""
    px, hl = geom.px, geom.hl
    y_dia = np.maximum(geom.side["right"]["y_dia"], geom.side["left"]["y_dia"])
    below = _smoothstep((geom.Y - y_dia - 0.08 * hl) / (0.12 * hl))
    inner = np.clip(body / (0.6 * float(body.max()) + 1e-6), 0, 1)
    z = _noise2d(geom.shape, 7 / px, rng) + 0.5 * _noise2d(geom.shape, 18 / px, rng)
    pockets = np.clip((z - 1.5) / 0.6, 0, 1) ** 1.5
    pockets = ndimage.gaussian_filter(pockets, 1.5 / px)
    return (rng.uniform(0.5, 1.6) * geom.extra["g"] * pockets * below * inner).astype(np.float32)


def _skeleton(geom, rng, body=None):
    """Spine, ribs, clavicles, scapulae and humeral heads: cm of bone."""
    X, Y, wt, hl, xm, px = geom.X, geom.Y, geom.wt, geom.hl, geom.xm, geom.px
    age, adult, view, sin_r, dc = (geom.extra[k] for k in ("age", "adult", "view", "sin_r", "dc"))
    mineral = (0.75 + 0.25 * adult) * (1 - 0.004 * max(age - 55, 0))
    x_post = xm - 0.35 * dc * sin_r
    x_ant = xm + 0.45 * dc * sin_r
    # vertebral levels: posterior rib n at the midclavicular line meets the right dome
    insp = geom.extra.get("inspiration", 0.8)
    n_post = float(np.clip(8.0 + 2.5 * insp - 0.5 * (1 - adult) + 0.3 * rng.standard_normal(), 7.5, 11))
    geom.extra["n_post"] = n_post
    y_t1 = geom.y_apex + 0.015 * hl
    sr = geom.side["right"]
    drop = (1.6 + 1.9 * adult) * (1 + 0.08 * rng.standard_normal())
    pitch = (sr["y_pk"] - y_t1) / (n_post - 1 + 0.55)
    bone = np.zeros(geom.shape, np.float32)
    # spine: vertebral bodies with cortex, endplates, pedicles, spinous processes
    bone += _spine(geom, x_post, y_t1, pitch, mineral)
    # ribs (posterior / anterior layers)
    post, ant = _Lines(geom), _Lines(geom)
    rib_r = 0.022 * wt
    for s in (-1, 1):
        sd = geom.side["right" if s < 0 else "left"]
        for i in range(1, 13):
            yh = y_t1 + (i - 1) * pitch * (1 + 0.015 * (i - 1)) + 0.09 * pitch * rng.standard_normal()
            y_lat_guess = yh + 0.6 * pitch
            row = int(np.clip(y_lat_guess / px + geom.shape[0] / 2, 0, geom.shape[0] - 1))
            wi = max(float(sd["u_lat"][row, 0]), 0.25 * wt) + 0.6 * rib_r
            u0 = 0.045 * wt
            phi_end = {1: 0.88, 2: 0.84}.get(i, 0.78 if i <= 10 else 0.55) * np.pi
            phi = np.linspace(0, phi_end, 80)
            uu = np.where(phi < np.pi / 2, u0 + (wi - u0) * np.sin(phi), wi * np.sin(phi))
            zz = -0.5 * dc * np.cos(phi)
            rise = 0.55 * pitch * np.sin(2 * phi) * (phi < np.pi / 2)
            yy = yh + drop * pitch * ((1 - np.cos(phi)) / 2) ** 1.5 - rise
            if i == 1:
                yy = yh + 0.6 * drop * pitch * ((1 - np.cos(phi)) / 2) ** 1.2 - 0.6 * rise
            xx = xm + s * uu + zz * sin_r
            d3 = np.sqrt(np.gradient(uu) ** 2 + np.gradient(yy) ** 2 + np.gradient(zz) ** 2)
            d2 = np.sqrt(np.gradient(uu) ** 2 + np.gradient(yy) ** 2)
            fs = np.clip(d3 / np.maximum(d2, 1e-6), 1, 2.5) * (0.8 + 0.35 * rng.random())
            fs = fs * np.clip(phi / 0.3, 0.4, 1)  # rib neck thinner
            pmask = phi <= np.pi / 2 + 0.05
            post.add(xx[pmask], yy[pmask], fs[pmask])
            amask = phi >= np.pi / 2 - 0.05
            if amask.sum() > 2:
                fade = np.clip((phi_end - phi[amask]) / 0.15, 0.2, 1)
                ant.add(xx[amask], yy[amask], 0.7 * fs[amask] * fade)
    cort = max(0.2 * rib_r / px, 0.6)
    ratio = 0.42  # rib AP thickness / craniocaudal height
    # below the domes the ribs are lost in the dense abdomen (partial-volume with liver/spleen)
    y_dia = np.where(X < xm, sr["y_dia"], geom.side["left"]["y_dia"])
    under = 1 - 0.7 * _smoothstep((Y - y_dia) / (0.08 * hl))
    ribs = post.render(rib_r / px, cort, 0.45, 0.5) * ratio
    ribs += ant.render(0.9 * rib_r / px, cort, 0.45, 1.0 if view == "PA" else 0.6) * 0.75 * ratio
    bone += ribs * under * px / 10 * mineral
    # clavicles, scapular borders and humeri
    cl = _Lines(geom)
    y_clav = y_t1 + (2.6 - (1.2 if view == "AP" else 0.0)) * pitch + 0.2 * pitch * rng.standard_normal()
    geom.extra["y_clavicle"] = y_clav
    for s in (-1, 1):
        t = np.linspace(0, 1, 60)
        ulen = 0.5 * wt + 0.07 * wt
        uu = 0.06 * wt + ulen * t
        rise = (1.6 if view == "PA" else 0.6) * pitch + 0.25 * pitch * rng.standard_normal()
        yy = y_clav - rise * t ** 1.3 + 0.12 * pitch * np.sin(2 * np.pi * t)
        cl.add(x_ant + s * uu, yy, 1.0 + 0.4 * (1 - t) ** 2)
        # scapula: lateral (axillary) border and spine
        med = (0.92 if view == "PA" else 0.62) * 0.5 * wt
        gx, gy = xm + s * (0.5 * wt + 0.03 * wt), y_clav + 0.4 * pitch
        iy = y_t1 + (7.5 if view == "PA" else 6.8) * pitch
        ix = xm + s * (med + 0.05 * wt)
        t = np.linspace(0, 1, 40)
        cl.add(gx + (ix - gx) * t, gy + (iy - gy) * t + 0.4 * pitch * np.sin(np.pi * t), 0.55)
        cl.add(xm + s * (med + (0.5 * wt + 0.05 * wt - med) * t), y_clav + 0.9 * pitch - 0.8 * pitch * t, 0.5)
        geom.extra[f"scapula_{s}"] = (gx, gy, ix, iy, xm + s * med, y_clav + 0.5 * pitch)
    clav_r = 0.026 * wt
    bone += cl.render(clav_r / px, max(0.22 * clav_r / px, 0.6), 0.3, 0.3) * px / 10 * 0.8 * mineral
    # scapular blades (thin plates) and humeral heads (spherical shells)
    for s in (-1, 1):
        gx, gy, ix, iy, mx, my = geom.extra[f"scapula_{s}"]
        plate = _triangle(X, Y, (gx, gy - 0.2 * pitch), (ix, iy), (mx, my - 0.8 * pitch), 2.0 * px)
        bone += (0.35 * plate * mineral).astype(np.float32)
        hx, hy = xm + s * (0.5 * wt + 0.1 * wt), y_clav + 1.0 * pitch
        rh = 0.075 * wt
        e = ((X - hx) / rh) ** 2 + ((Y - hy) / rh) ** 2  # solid head, soft edge, faint cortex
        head = np.sqrt(np.clip(1 - e, 0, None)) * _smoothstep((1 - e) / 0.25)
        head = 0.8 * head + 0.2 * np.exp(-0.5 * ((e - 0.85) / 0.1) ** 2)
        if body is not None:  # no bone floating outside the body contour
            head = head * np.clip(body / (0.5 * float(body.max()) + 1e-6), 0, 1)
        bone += (0.35 * 2 * rh / 10 * head * mineral).astype(np.float32)
    return bone


def _spine(geom, x_post, y_t1, pitch, mineral):
    X, Y, wt = geom.X, geom.Y, geom.wt
    h = geom.shape[0]
    yv = Y[:, 0]
    k = (yv - y_t1) / pitch + 0.5
    width = 0.11 * wt * (1 + 0.25 * np.clip(k / 12, -0.3, 1.5))[:, None]
    dx = X - x_post
    R = width / 2
    # vertebral body: a soft band (cancellous core, thin cortex), not two cortical lines
    ch = 2 * np.sqrt(np.clip(R ** 2 - dx ** 2, 0, None)) - 0.4 * 2 * np.sqrt(np.clip((R - 1.5) ** 2 - dx ** 2, 0, None))
    body = ch * _smoothstep((R - np.abs(dx)) / (0.25 * R))
    v = (k - np.floor(k))[:, None]
    disc = 0.12
    vb = _smoothstep((v - disc) / 0.04) * _smoothstep((1 - disc - v) / 0.04)
    endplate = np.exp(-0.5 * ((v - disc - 0.02) / 0.02) ** 2) + np.exp(-0.5 * ((1 - disc - 0.02 - v) / 0.02) ** 2)
    out = (body * (0.35 * vb + 0.65) + 0.08 * R * endplate * _circ((R - np.abs(dx)) / (0.3 * R))) * 0.3
    # pedicles (oval rings) and spinous process
    pv = (v - 0.4) / 0.22
    for sgn in (-1, 1):
        pu = (dx - sgn * 0.36 * width) / (0.09 * width)
        rr = np.sqrt(pu ** 2 + pv ** 2)
        out = out + 0.05 * R * np.exp(-0.5 * ((rr - 0.85) / 0.45) ** 2)
    sv = (np.mod(k + 0.35, 1.0)[:, None] - 0.5) / 0.3
    out = out + 0.06 * R * np.exp(-0.5 * ((dx / (0.07 * width)) ** 2 + sv ** 2))
    out = out * (yv[:, None] > y_t1 - 6 * pitch) * (1 - 0.4 * _smoothstep((yv[:, None] - y_t1) / (10 * pitch)))
    del h
    return (out / 10 * mineral).astype(np.float32)


from synthmed.phantoms.thorax_findings import (LOBES, add_central_line,  # noqa: E402
                                               add_consolidation, add_ecg_leads, add_effusion,
                                               add_nodule, add_pneumothorax, add_side_marker)
