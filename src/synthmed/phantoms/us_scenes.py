"""Ultrasound scenes: breast (:mod:`synthmed.phantoms.us_breast`), abdomen (liver and right
kidney) and fetal head (transthalamic plane), as :class:`~synthmed.phantoms._us_shapes.UsScene`
tissue models for :func:`synthmed.physics.us_scan.simulate_bmode`.

Coordinates: x lateral, z depth below the centre of the probe face (mm). The skin conforms
to the probe face (``contact_radius_mm``: 0 for a linear probe), so superficial layers are
defined by the depth below the skin.

Fetal head size follows the INTERGROWTH-21st fetal growth standards (Papageorghiou et al.,
"International standards for fetal growth based on serial ultrasound measurements",
Lancet 384:869, 2014): means and SDs of head circumference, biparietal diameter (outer to
outer) and occipito-frontal diameter as functions of gestational age in weeks
(:func:`intergrowth_head`).

>>> import numpy as np
>>> s = fetal_head(np.random.default_rng(0), gestational_age_weeks=20)
>>> mean, sd = intergrowth_head(20)["bpd_mm"]
>>> bool(abs(s.attributes["bpd_mm"] - mean) < 3 * sd), s.depth_mm > s.attributes["bpd_mm"]
(True, True)
"""

from __future__ import annotations

import numpy as np

from synthmed.phantoms._us_shapes import (Curve, Field, UsScene, ellipse_q, segment_distance,
                                          wrap_angle)
from synthmed.phantoms.us_breast import breast
from synthmed.physics.ultrasound import TISSUES, Tissue

__all__ = ["SCENES", "abdomen", "fetal_head", "intergrowth_head", "ellipse_perimeter"]

_BOUNDS = (-160.0, 160.0, -20.0, 260.0)


def _skin_depth(x, z, radius_mm):
    return z if radius_mm <= 0 else np.hypot(x, z + radius_mm) - radius_mm


def ellipse_perimeter(a: float, b: float) -> float:
    """Ramanujan's second approximation to the perimeter of an ellipse with semi-axes a, b.

    >>> round(ellipse_perimeter(1.0, 1.0), 6) == round(2 * np.pi, 6)
    True
    """
    h = ((a - b) / (a + b)) ** 2
    return float(np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h))))


def intergrowth_head(ga_weeks: float) -> dict[str, tuple[float, float]]:
    """INTERGROWTH-21st (mean, SD) in mm of HC, BPD (outer-outer) and OFD at ``ga_weeks``
    (14-40 weeks), Papageorghiou et al. 2014, Lancet 384:869, appendix equations.

    >>> {k: round(m, 1) for k, (m, sd) in intergrowth_head(30).items()}
    {'hc_mm': 278.4, 'bpd_mm': 78.9, 'ofd_mm': 98.0}
    """
    t = float(ga_weeks)
    lt = np.log(t)
    hc = (-28.2849 + 1.69267 * t ** 2 - 0.397485 * t ** 2 * lt,
          1.98735 + 0.0136772 * t ** 3 - 0.00726264 * t ** 3 * lt + 0.000976253 * t ** 3 * lt ** 2)
    bpd = (5.60878 + 0.158369 * t ** 2 - 0.00256379 * t ** 3,
           np.exp(0.101242 + 0.00150557 * t ** 3 - 0.000771535 * t ** 3 * lt
                  + 0.0000999638 * t ** 3 * lt ** 2))
    ofd = (-12.4097 + 0.626342 * t ** 2 - 0.148075 * t ** 2 * lt,
           np.exp(-0.880034 + 0.0631165 * t ** 2 - 0.0317136 * t ** 2 * lt
                  + 0.00408302 * t ** 2 * lt ** 2))
    return {k: (float(m), float(s)) for k, (m, s) in
            (("hc_mm", hc), ("bpd_mm", bpd), ("ofd_mm", ofd))}


class _Layers:
    """Superficial layers (gel, skin, fat with septa, muscle with fibres) by skin depth."""

    def __init__(self, rng, radius_mm, fat_mm, muscle_mm):
        self.r = radius_mm
        self.t_gel, self.t_skin = rng.uniform(0.2, 0.4), rng.uniform(1.5, 2.5)
        self.fat, self.mus = fat_mm, muscle_mm
        self.c = [Curve(rng, -200, 200, s) for s in (20.0, 15.0)]
        self.septa = Field(rng, _BOUNDS, (6.0, 2.0), 0.5).level_distance()
        self.fibres = Curve(rng, -50, 400, 0.3, 0.05)

    def depths(self, x):
        d1 = self.t_gel + self.t_skin
        d2 = d1 + self.fat * (1 + 0.12 * self.c[0](x))
        return d1, d2, d2 + self.mus * (1 + 0.1 * self.c[1](x))

    def paint(self, lab, x, z, ids):
        d = _skin_depth(x, z, self.r)
        d1, d2, d3 = self.depths(x)
        lab[d >= self.t_gel] = ids["skin"]
        lab[d >= d1] = ids["subcutaneous_fat"]
        sep = (d >= d1) & (d < d2)
        sep[sep] = np.abs(self.septa(x[sep], z[sep])) < 0.25
        lab[sep] = ids["septum"]
        lab[d >= d2] = ids["abdominal_wall_muscle"]
        return d, d3

    def muscle_echo(self, x, z):
        d = _skin_depth(x, z, self.r)
        return 0.7 + 2.5 * np.clip(self.fibres(d) - 0.8, 0, None)


def _common_regions():
    return [("gel", TISSUES["gel"]), ("skin", TISSUES["skin"]),
            ("subcutaneous_fat", TISSUES["fat"]), ("septum", TISSUES["fibrous"]),
            ("abdominal_wall_muscle", TISSUES["muscle"])]


def abdomen(anatomy_rng: np.random.Generator, steatosis_grade: int = 0,
            contact_radius_mm: float = 50.0) -> UsScene:
    """Right upper quadrant, sagittal: liver over the right kidney (Morison's pouch view).

    Abdominal wall (skin, fat, muscle), liver with portal and hepatic veins, the diaphragm
    (bright curved line, aerated lung beyond it, which mirrors the liver), and the right
    kidney in its echogenic perirenal fat: cortex (slightly hypoechoic to the liver),
    medullary pyramids (hypoechoic triangles pointing to the sinus) and the echogenic renal
    sinus fat; bowel below the liver edge. Image left is cranial. ``steatosis_grade`` (0-3)
    makes the liver brighter and more attenuating (fatty liver: Hamaguchi et al., Am. J.
    Gastroenterol. 102:2708, 2007).
    """
    rng = anatomy_rng
    names = [n for n, _ in _common_regions()] + [
        "preperitoneal_fat", "liver", "hepatic_vein", "portal_vein", "portal_wall", "diaphragm",
        "lung", "perirenal_fat", "renal_cortex", "renal_medulla", "renal_sinus", "bowel",
        "bowel_gas", "psoas"]
    ids = {n: i for i, n in enumerate(names)}
    layers = _Layers(rng, contact_radius_mm, rng.uniform(8.0, 25.0), rng.uniform(6.0, 12.0))
    t_pre = rng.uniform(1.0, 3.0)
    # kidney (ellipse in the sagittal plane; upper pole deeper)
    ka, kb = rng.uniform(48.0, 58.0), rng.uniform(20.0, 26.0)
    kx, kz, kang = rng.uniform(15.0, 35.0), rng.uniform(95.0, 115.0), rng.uniform(-0.4, -0.12)
    t_pf = rng.uniform(3.0, 8.0)
    u_s = rng.uniform(0.48, 0.6)
    sinus_h = [(k, rng.uniform(0.04, 0.1), rng.uniform(0, 2 * np.pi)) for k in (3, 4, 6)]
    n_pyr = int(rng.integers(7, 11))
    pyr_phi = np.linspace(-np.pi, np.pi, n_pyr, endpoint=False) + rng.uniform(0, 1) \
        + rng.normal(0, 0.08, n_pyr)
    pyr_w = rng.uniform(0.12, 0.18, n_pyr)
    # diaphragm: circle around the liver through a point at the left edge and one behind
    # the kidney's upper pole
    ca, sa = np.cos(kang), np.sin(kang)
    upper = (kx - ka * ca, kz - ka * sa)
    z1 = rng.uniform(55.0, 90.0)
    p1 = (-0.97 * (contact_radius_mm + z1) * np.sin(np.radians(35.0)), z1)
    p2 = (upper[0] + rng.uniform(5.0, 30.0), upper[1] + rng.uniform(20.0, 35.0))
    rho_d = rng.uniform(110.0, 150.0)
    mid, chord = np.add(p1, p2) / 2, np.subtract(p2, p1)
    half = np.hypot(*chord) / 2
    rho_d = max(rho_d, half + 5.0)
    nrm = np.array([chord[1], -chord[0]]) / (2 * half)       # points up-right (liver side)
    centre = mid + nrm * np.sqrt(rho_d ** 2 - half ** 2)
    t_dia, psoas_gap = rng.uniform(2.5, 4.5), rng.uniform(5.0, 15.0)
    # liver's inferior edge: from its tip (caudal, shallow) steeply down behind the kidney
    tip_x, slope = kx + 0.5 * ka + rng.uniform(0.0, 30.0), 1.0 / np.tan(rng.uniform(0.9, 1.25))
    # vessels
    f_liver, f_bowel, f_kid = Field(rng, _BOUNDS, 3.0, 0.6), Field(rng, _BOUNDS, 2.0), \
        Field(rng, _BOUNDS, 1.0)
    gas = [(rng.uniform(tip_x + 5, tip_x + 60), rng.uniform(45.0, 80.0), rng.uniform(3.0, 7.0),
            rng.uniform(1.5, 3.0)) for _ in range(int(rng.integers(0, 3)))]

    def liver_region(x, z, d_wall):
        dist = np.hypot(x - centre[0], z - centre[1])
        return (z >= d_wall) & (dist < rho_d) & (x < tip_x - (z - d_wall) * slope), dist

    vessels = []
    vr = np.random.default_rng(rng.integers(1 << 62))
    while len(vessels) < int(rng.integers(4, 8)):
        px, pz = vr.uniform(-110, tip_x), vr.uniform(30, 150)
        wall = layers.depths(np.array([px]))[2][0] + t_pre
        if not liver_region(np.array([px]), np.array([pz]), wall)[0][0]:
            continue
        if ellipse_q(px, pz, kx, kz, ka + t_pf + 8, kb + t_pf + 8, kang) < 1:
            continue
        ang, length = vr.uniform(0, np.pi), vr.choice([0.0, vr.uniform(8, 30)])
        p0 = (px - 0.5 * length * np.cos(ang), pz - 0.5 * length * np.sin(ang))
        p1v = (px + 0.5 * length * np.cos(ang), pz + 0.5 * length * np.sin(ang))
        vessels.append((p0, p1v, vr.uniform(2.0, 6.0), vr.random() < 0.5))

    def labels_at(x, z):
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        lab = np.full(np.broadcast(x, z).shape, ids["gel"], np.int16)
        d, d_wall = layers.paint(lab, x, z, ids)
        lab[d >= d_wall] = ids["preperitoneal_fat"]
        inner = d >= d_wall + t_pre
        lab[inner] = ids["bowel"]
        liver, dist = liver_region(x, d, d_wall + t_pre)
        lab[liver] = ids["liver"]
        lab[inner & (dist >= rho_d) & (dist < rho_d + t_dia) & (x < tip_x)] = ids["diaphragm"]
        lab[inner & (dist >= rho_d + t_dia) & (x < tip_x)] = ids["lung"]
        for gx, gz, ga_, gb in gas:
            bubble = ((x - gx) / ga_) ** 2 + ((z - gz) / gb) ** 2 < 1
            lab[inner & ~liver & bubble] = ids["bowel_gas"]
        lab[(z > kz + kb + t_pf + psoas_gap) & (lab == ids["bowel"])] = ids["psoas"]
        for p0, p1v, r, portal in vessels:
            dv = segment_distance(x, z, p0, p1v)
            if portal:
                lab[liver & (dv < r + 0.8)] = ids["portal_wall"]
            lab[liver & (dv < r)] = ids["portal_vein" if portal else "hepatic_vein"]
        q = ellipse_q(x, z, kx, kz, ka, kb, kang)
        qf = ellipse_q(x, z, kx, kz, ka + t_pf, kb + t_pf, kang)
        lab[(qf < 1) & inner] = ids["perirenal_fat"]
        kid = q < 1
        lab[kid] = ids["renal_cortex"]
        u = (x - kx) * ca + (z - kz) * sa
        v = -(x - kx) * sa + (z - kz) * ca
        phi, rho = np.arctan2(v / kb, u / ka), np.sqrt(q)
        rs = u_s * (1 + sum(a * np.cos(k * phi + p) for k, a, p in sinus_h))
        for p0, w in zip(pyr_phi, pyr_w):
            frac = np.clip((rho - rs) / (0.8 - rs), 0, 1)
            lab[kid & (rho > rs) & (rho < 0.8) & (np.abs(wrap_angle(phi - p0)) < w * frac)] = \
                ids["renal_medulla"]
        lab[kid & (rho <= rs)] = ids["renal_sinus"]
        return lab

    grade = int(steatosis_grade)
    liver_t = TISSUES["liver"]
    liver_t = Tissue(liver_t.speed_m_s - 15 * grade, liver_t.impedance_mrayl,
                     liver_t.attenuation_db_cm_mhz + 0.2 * grade,
                     liver_t.echogenicity * (1.0, 1.45, 1.9, 2.4)[grade])

    def echo_at(x, z, lab):
        out = np.ones(lab.shape, np.float32)
        sel = lab == ids["liver"]
        out[sel] = np.exp(0.12 * f_liver(x[sel], z[sel]))
        sel = lab == ids["bowel"]
        out[sel] = np.exp(0.45 * f_bowel(x[sel], z[sel]))
        sel = np.isin(lab, [ids["renal_cortex"], ids["renal_sinus"], ids["perirenal_fat"]])
        out[sel] = np.exp(0.3 * f_kid(x[sel], z[sel]))
        sel = lab == ids["abdominal_wall_muscle"]
        out[sel] = layers.muscle_echo(x[sel], z[sel])
        return out

    tissues = dict(_common_regions())
    tissues.update({
        "preperitoneal_fat": replace_echo(TISSUES["fat"], 0.9), "liver": liver_t,
        "hepatic_vein": TISSUES["blood"], "portal_vein": TISSUES["blood"],
        "portal_wall": TISSUES["fibrous"], "diaphragm": TISSUES["muscle"],
        "lung": TISSUES["air"], "perirenal_fat": replace_echo(TISSUES["fat"], 1.5),
        "renal_cortex": TISSUES["renal_cortex"], "renal_medulla": TISSUES["renal_medulla"],
        "renal_sinus": TISSUES["renal_sinus"], "bowel": replace_echo(TISSUES["fat"], 1.1),
        "bowel_gas": TISSUES["air"], "psoas": TISSUES["muscle"]})
    regions = [(n, tissues[n]) for n in names]
    structures = {
        "subcutaneous_fat": ("subcutaneous_fat",),
        "abdominal_wall_muscle": ("abdominal_wall_muscle",),
        "liver": ("liver", "hepatic_vein", "portal_vein", "portal_wall"),
        "hepatic_vessels": ("hepatic_vein", "portal_vein"), "diaphragm": ("diaphragm",),
        "lung": ("lung",), "kidney": ("renal_cortex", "renal_medulla", "renal_sinus"),
        "renal_cortex": ("renal_cortex",), "renal_medulla": ("renal_medulla",),
        "renal_sinus": ("renal_sinus",), "perirenal_fat": ("perirenal_fat",),
        "bowel_gas": ("bowel_gas",)}
    marks = {"kidney_upper_pole": upper, "kidney_lower_pole": (kx + ka * ca, kz + ka * sa)}
    attrs = {"kidney_length_mm": float(2 * ka), "kidney_width_mm": float(2 * kb),
             "steatosis_grade": grade,
             "subcutaneous_fat_thickness_mm": float(layers.fat)}
    return UsScene("abdomen", regions, labels_at, echo_at, structures,
                   {k: (float(a), float(b)) for k, (a, b) in marks.items()}, attrs,
                   boxes=["kidney"], focus_mm=float(kz), depth_mm=160.0)


def replace_echo(t: Tissue, echogenicity: float) -> Tissue:
    """``t`` with another echogenicity."""
    return Tissue(t.speed_m_s, t.impedance_mrayl, t.attenuation_db_cm_mhz, echogenicity,
                  t.scatterer_density)


def fetal_head(anatomy_rng: np.random.Generator, gestational_age_weeks: float = 24.0,
               contact_radius_mm: float = 50.0, sector_deg: float = 70.0) -> UsScene:
    """Fetal head in the transthalamic plane (the plane of BPD and HC measurement).

    Maternal abdominal wall and uterine wall (with an anterior placenta in some), amniotic
    fluid, and the fetal head: scalp, skull (bright, shadowing; the parts parallel to the
    beam fade), midline echo (falx), cavum septi pellucidi, thalami, frontal horns and the
    atria of the lateral ventricles with the echogenic choroid plexus. BPD and OFD (outer
    to outer) are drawn from the INTERGROWTH-21st standard at the gestational age.
    """
    rng = anatomy_rng
    ga = float(gestational_age_weeks)
    names = [n for n, _ in _common_regions()] + [
        "myometrium", "placenta", "amniotic_fluid", "posterior_myometrium", "maternal_bowel",
        "scalp", "skull", "brain", "csf_rim", "falx", "cavum_septi_pellucidi", "csp_wall",
        "thalamus", "lateral_ventricle", "choroid_plexus"]
    ids = {n: i for i, n in enumerate(names)}
    layers = _Layers(rng, contact_radius_mm, rng.uniform(8.0, 28.0), rng.uniform(4.0, 9.0))
    t_my, t_myp = rng.uniform(6.0, 12.0), rng.uniform(8.0, 14.0)
    placenta = rng.random() < 0.4
    t_pl = rng.uniform(18.0, 32.0)
    pl_x = sorted(rng.uniform(-150, 150, 2))
    pl_wave = Curve(rng, -200, 200, 15.0)
    g = intergrowth_head(ga)
    z_size = float(np.clip(rng.normal(0, 0.7), -2, 2))          # head size, SD units
    z_shape = float(np.clip(rng.normal(0, 0.5), -1.5, 1.5))     # rounder / longer
    bpd = g["bpd_mm"][0] + (z_size + z_shape) * g["bpd_mm"][1]
    ofd = g["ofd_mm"][0] + (z_size - z_shape) * g["ofd_mm"][1]
    A, B = ofd / 2.0, bpd / 2.0
    t_skull = 1.0 + 2.0 * (ga - 14.0) / 26.0
    t_scalp = 1.0 + 2.0 * (ga - 14.0) / 26.0
    psi = rng.uniform(-0.35, 0.35)
    front = 1.0 if rng.random() < 0.5 else -1.0
    gap_top, gap_bot = rng.uniform(4.0, 20.0), rng.uniform(5.0, 25.0)
    wall0 = layers.depths(np.array([0.0]))[2][0] + t_my + (t_pl if placenta else 0.0)
    hx = rng.uniform(-8.0, 8.0)
    # head: as high as the gap allows while the whole skull stays in the sector
    cp, sp = np.cos(psi), np.sin(psi)
    half_z = np.sqrt((A * sp) ** 2 + (B * cp) ** 2) + t_scalp
    hz = wall0 + gap_top + half_z
    tb = np.linspace(0, 2 * np.pi, 360)
    while sector_deg > 0:                       # (a linear probe sees only part of it)
        bx = hx + (A + 3) * np.cos(tb) * cp - (B + 3) * np.sin(tb) * sp
        bz = hz + (A + 3) * np.cos(tb) * sp + (B + 3) * np.sin(tb) * cp
        th = np.arctan2(bx, bz + contact_radius_mm)
        if np.all(np.abs(th) < np.radians(sector_deg) / 2) or hz > 300:
            break
        hz += 2.0
    z_post = hz + half_z + gap_bot
    # intracranial anatomy in head coordinates (u along OFD to the front, v along BPD)
    Ai, Bi = A - t_skull, B - t_skull
    csp_u, csp_l = 0.33 * Ai, rng.uniform(0.11, 0.15) * Ai
    csp_w = np.clip(1.0 + 2.5 * (ga - 14) / 26 + rng.normal(0, 0.4), 1.0, 4.5)
    th_a, th_b = 0.13 * Ai, 0.13 * Bi
    th_u = csp_u - csp_l - th_a - 0.5
    atr_w = float(np.clip(rng.normal(6.5, 1.0), 4.5, 9.5))     # atrial width, mm (< 10)
    atr_a, atr_u, atr_v = 0.2 * Ai, -0.45 * Ai, 0.36 * Bi
    f_brain, f_pl = Field(rng, _BOUNDS, 1.5, 0.4), Field(rng, _BOUNDS, 1.2, 0.4)
    f_bowel = Field(rng, _BOUNDS, 2.0)

    def head_uv(x, z):
        dx, dz = x - hx, z - hz
        return front * (dx * cp + dz * sp), -dx * sp + dz * cp

    def labels_at(x, z):
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        lab = np.full(np.broadcast(x, z).shape, ids["gel"], np.int16)
        d, d_wall = layers.paint(lab, x, z, ids)
        lab[d >= d_wall] = ids["myometrium"]
        top = d_wall + t_my
        if placenta:
            taper = np.clip(np.minimum(x - pl_x[0], pl_x[1] - x) / 40.0, 0, 1)
            taper = taper * taper * (3 - 2 * taper) * (1 + 0.15 * pl_wave(x))
            pl = (d >= top) & (d < top + t_pl * taper)
            lab[pl] = ids["placenta"]
            top = np.maximum(top, np.where(taper > 0, top + t_pl * taper, top))
        lab[(d >= top) & (z < z_post)] = ids["amniotic_fluid"]
        lab[z >= z_post] = ids["posterior_myometrium"]
        lab[z >= z_post + t_myp] = ids["maternal_bowel"]
        u, v = head_uv(x, z)
        q_out = (u / A) ** 2 + (v / B) ** 2
        near = q_out < ((A + t_scalp) / A) ** 2
        if not near.any():
            return lab
        u, v, sub = u[near], v[near], lab[near]
        q_out = q_out[near]
        q_in = (u / Ai) ** 2 + (v / Bi) ** 2
        q_scalp = (u / (A + t_scalp)) ** 2 + (v / (B + t_scalp)) ** 2
        sub[q_scalp < 1] = ids["scalp"]
        sub[q_out < 1] = ids["skull"]
        sub[q_in < 1] = ids["csf_rim"]
        sub[(u / (Ai - 1.2)) ** 2 + (v / (Bi - 1.2)) ** 2 < 1] = ids["brain"]
        falx = (np.abs(v) < 0.4) & (q_in < 1) & ((u > csp_u + csp_l) | (u < th_u - th_a))
        sub[falx] = ids["falx"]
        for side in (-1, 1):
            sub[((u - th_u) / th_a) ** 2 + ((v - side * (th_b + 0.6)) / th_b) ** 2 < 1] = \
                ids["thalamus"]
            fh = ((u - csp_u - 0.2 * csp_l) / (0.8 * csp_l)) ** 2 \
                + ((v - side * (csp_w / 2 + 2.5)) / 1.0) ** 2 < 1
            sub[fh] = ids["lateral_ventricle"]
            q_at = ((u - atr_u) / atr_a) ** 2 + ((v - side * atr_v) / (atr_w / 2)) ** 2
            sub[q_at < 1] = ids["lateral_ventricle"]
            q_cp = ((u - atr_u - 0.1 * atr_a) / (0.75 * atr_a)) ** 2 \
                + ((v - side * (atr_v + 0.1 * atr_w)) / (0.33 * atr_w)) ** 2
            sub[q_cp < 1] = ids["choroid_plexus"]
        box = ((u - csp_u) / csp_l) ** 4 + (v / (csp_w / 2)) ** 4
        sub[box < 1.35] = ids["csp_wall"]
        sub[box < 1] = ids["cavum_septi_pellucidi"]
        lab[near] = sub
        return lab

    def echo_at(x, z, lab):
        out = np.ones(lab.shape, np.float32)
        sel = np.isin(lab, [ids["brain"], ids["thalamus"]])
        out[sel] = np.exp(0.35 * f_brain(x[sel], z[sel]))
        sel = lab == ids["placenta"]
        out[sel] = np.exp(0.3 * f_pl(x[sel], z[sel]))
        sel = lab == ids["maternal_bowel"]
        out[sel] = np.exp(0.6 * f_bowel(x[sel], z[sel]))
        sel = lab == ids["abdominal_wall_muscle"]
        out[sel] = layers.muscle_echo(x[sel], z[sel])
        return out

    tissues = dict(_common_regions())
    tissues.update({
        "myometrium": TISSUES["myometrium"], "placenta": TISSUES["placenta"],
        "amniotic_fluid": TISSUES["water"], "posterior_myometrium": TISSUES["myometrium"],
        "maternal_bowel": replace_echo(TISSUES["fat"], 1.1),
        "scalp": replace_echo(TISSUES["muscle"], 0.8),
        "skull": TISSUES["fetal_skull"], "brain": TISSUES["fetal_brain"],
        "csf_rim": TISSUES["water"], "falx": TISSUES["fibrous"],
        "cavum_septi_pellucidi": TISSUES["water"],
        "csp_wall": replace_echo(TISSUES["fibrous"], 1.2),
        "thalamus": replace_echo(TISSUES["fetal_brain"], 0.18),
        "lateral_ventricle": TISSUES["water"], "choroid_plexus": TISSUES["choroid_plexus"]})
    regions = [(n, tissues[n]) for n in names]
    intracranial = ("csf_rim", "brain", "falx", "cavum_septi_pellucidi", "csp_wall", "thalamus",
                    "lateral_ventricle", "choroid_plexus")
    structures = {
        "uterine_wall": ("myometrium", "posterior_myometrium"), "placenta": ("placenta",),
        "amniotic_fluid": ("amniotic_fluid",), "skull": ("skull",),
        "head": ("skull",) + intracranial, "brain": intracranial,
        "midline_falx": ("falx",), "cavum_septi_pellucidi": ("cavum_septi_pellucidi",),
        "thalami": ("thalamus",), "lateral_ventricles": ("lateral_ventricle",),
        "choroid_plexus": ("choroid_plexus",)}

    def to_xz(u, v):
        u = front * u
        return float(hx + u * cp - v * sp), float(hz + u * sp + v * cp)

    marks = {"bpd_near": to_xz(0.0, -B), "bpd_far": to_xz(0.0, B),
             "ofd_frontal": to_xz(A, 0.0), "ofd_occipital": to_xz(-A, 0.0),
             "head_centre": (float(hx), float(hz))}
    if marks["bpd_near"][1] > marks["bpd_far"][1]:
        marks["bpd_near"], marks["bpd_far"] = marks["bpd_far"], marks["bpd_near"]
    attrs = {"gestational_age_weeks": ga, "bpd_mm": float(bpd), "ofd_mm": float(ofd),
             "cephalic_index": float(bpd / ofd),
             "head_circumference_reference_mm": g["hc_mm"][0],
             "head_circumference_ellipse_mm": ellipse_perimeter(A, B),
             "skull_thickness_mm": float(t_skull), "csp_width_mm": float(csp_w),
             "atrial_width_mm": atr_w, "placenta": "anterior" if placenta else "not anterior"}
    depth = float(min(250.0, np.ceil((hz + half_z + 15.0) / 10.0) * 10.0))
    return UsScene("fetal_head", regions, labels_at, echo_at, structures, marks, attrs,
                   boxes=["head"], focus_mm=float(hz), depth_mm=depth)


SCENES = {"breast": breast, "abdomen": abdomen, "fetal_head": fetal_head}
