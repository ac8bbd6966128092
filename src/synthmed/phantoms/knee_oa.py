"""Knee osteoarthritis: the Kellgren–Lawrence grades as measurable controls, and OA solids.

:data:`KL_GRADES` is the one table that ties each published grade definition (Kellgren &
Lawrence, Ann Rheum Dis 16 (1957) 494, wording as used by the Osteoarthritis Initiative) to
ranges of named controls. :func:`draw_oa_features` maps a fixed number of uniform quantiles
into a grade's ranges, so the same quantiles drawn for two grades give the "same knee, more
disease" (a counterfactual pair); :func:`control_errors` explains an explicit control that
lies outside its grade. :func:`osteophyte_solid` and :func:`cyst_solid` are the OA-only
solids that :func:`synthmed.phantoms.knee.knee` adds to the bones.

Example
-------
>>> import numpy as np
>>> f = draw_oa_features(3, 60, np.full(N_QUANTILES, 0.5), np.full(N_SHAPE_QUANTILES, 0.5))
>>> (f.medial_jsw_mm, f.lateral_jsw_mm, len(f.osteophytes), f.sclerosis)
(2.25, 4.5, 4, 0.4)
>>> control_errors(1, 60, medial_jsw_mm=2.0)
["medial_jsw_mm=2.0 is outside KL grade 1's range 3.5–5.0 mm; KL 3 allows it — also set kl_grade"]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthmed.phantoms._shapes import _circ

__all__ = ["KL_GRADES", "CONTROLS", "OSTEOPHYTE_SITES", "N_QUANTILES", "N_SHAPE_QUANTILES",
           "Osteophyte", "Cyst", "OAFeatures", "control_range", "control_errors",
           "draw_oa_features", "normal_features", "osteophyte_solid", "cyst_solid"]

# Kellgren–Lawrence grades -> ranges of the controls (lo, hi), inclusive.
# Definitions: Kellgren & Lawrence, Ann Rheum Dis 16 (1957) 494 (OAI wording).
# Joint-space width (JSW, mm, minimum in the compartment on a weight-bearing film): normal
# adult medial ~4-6 mm and lateral ~5-7 mm; narrowing usually medial; <=3 mm medial counts as
# narrowed (Lanyon et al., Ann Rheum Dis 57 (1998) 595; OARSI atlas, Altman & Gold,
# Osteoarthritis Cartilage 15 Suppl A (2007) A1 for the JSN and osteophyte steps). Osteophyte
# sizes follow the OARSI atlas steps (small ~1-2, moderate ~3-5, large >5 mm). Sclerosis,
# cysts and deformity enter at grade 3 ("some sclerosis, possible deformity") and are marked
# at grade 4; the numbers are this simulator's calibrated choices within those definitions.
KL_GRADES: dict[int, dict] = {
    0: dict(definition="no radiographic features of osteoarthritis",
            medial_jsw_mm=(4.0, 6.0), lateral_jsw_mm=(5.0, 7.0), osteophyte_count=(0, 0),
            osteophyte_size_mm=(0.0, 0.0), sclerosis=(0.0, 0.0), cyst_count=(0, 0),
            deformity=(0.0, 0.0)),
    1: dict(definition="doubtful narrowing of joint space and possible osteophytic lipping",
            medial_jsw_mm=(3.5, 5.0), lateral_jsw_mm=(4.5, 6.5), osteophyte_count=(0, 1),
            osteophyte_size_mm=(0.5, 1.5), sclerosis=(0.0, 0.1), cyst_count=(0, 0),
            deformity=(0.0, 0.1)),
    2: dict(definition="definite osteophytes and possible narrowing of joint space",
            medial_jsw_mm=(3.0, 4.5), lateral_jsw_mm=(4.0, 6.5), osteophyte_count=(1, 3),
            osteophyte_size_mm=(1.5, 3.5), sclerosis=(0.0, 0.25), cyst_count=(0, 0),
            deformity=(0.0, 0.1)),
    3: dict(definition="moderate multiple osteophytes, definite narrowing of joint space, "
                       "some sclerosis and possible deformity of bone ends",
            medial_jsw_mm=(1.5, 3.0), lateral_jsw_mm=(3.0, 6.0), osteophyte_count=(2, 5),
            osteophyte_size_mm=(2.5, 5.0), sclerosis=(0.2, 0.6), cyst_count=(0, 2),
            deformity=(0.1, 0.5)),
    4: dict(definition="large osteophytes, marked narrowing of joint space, severe sclerosis "
                       "and definite deformity of bone ends",
            medial_jsw_mm=(0.0, 1.5), lateral_jsw_mm=(2.0, 6.0), osteophyte_count=(3, 5),
            osteophyte_size_mm=(4.0, 8.0), sclerosis=(0.6, 1.0), cyst_count=(1, 4),
            deformity=(0.5, 1.0)),
}
# control -> (unit in messages, integer?)
CONTROLS = {"medial_jsw_mm": ("mm", False), "lateral_jsw_mm": ("mm", False),
            "osteophyte_count": ("", True), "osteophyte_size_mm": ("mm", False),
            "sclerosis": ("", False), "cyst_count": ("", True), "deformity": ("", False)}
# where osteophytes grow, most frequent first (medial tibial margin first in medial OA)
OSTEOPHYTE_SITES = ("medial_tibial", "medial_femoral", "lateral_tibial", "lateral_femoral",
                    "tibial_spine")
N_QUANTILES = len(CONTROLS)          # one quantile per control
N_SHAPE_QUANTILES = 3 * len(OSTEOPHYTE_SITES) + 4 * 4 + 1   # shapes, cyst places, site swap
_MAX_CYSTS = 4


@dataclass(frozen=True)
class Osteophyte:
    """A marginal spur: ``site`` (one of :data:`OSTEOPHYTE_SITES`), protrusion ``size_mm``
    beyond the bone margin, ``curl`` (-1..1, bend of the tip) and ``width`` (base / size)."""

    site: str
    size_mm: float
    curl: float = 0.0
    width: float = 1.6


@dataclass(frozen=True)
class Cyst:
    """A subchondral cyst: ``bone`` ("tibia"/"femur"), ``compartment`` ("medial"/"lateral"),
    diameter in mm, ``offset`` (-1..1 across the compartment) and ``depth_mm`` under the
    articular surface (to its centre)."""

    bone: str
    compartment: str
    diameter_mm: float
    offset: float
    depth_mm: float


@dataclass(frozen=True)
class OAFeatures:
    """Everything about a knee that osteoarthritis changes (all realised in the image)."""

    kl_grade: int
    medial_jsw_mm: float
    lateral_jsw_mm: float
    osteophytes: tuple[Osteophyte, ...] = ()
    sclerosis: float = 0.0
    cysts: tuple[Cyst, ...] = ()
    deformity: float = 0.0
    tibial_spine_sharpening: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def osteophyte_size_mm(self) -> float:
        """Size of the largest osteophyte in mm (0 without osteophytes)."""
        return max((o.size_mm for o in self.osteophytes), default=0.0)


def _child_extra_jsw_mm(age_years: float) -> float:
    """Wider bony "joint space" of a child: unossified epiphyseal cartilage, mm (0 from 14 y)."""
    return float(3.0 * np.clip((14.0 - age_years) / 9.0, 0.0, 1.0))


def control_range(control: str, kl_grade: int, age_years: float = 60.0) -> tuple[float, float]:
    """``(lo, hi)`` allowed for ``control`` at ``kl_grade`` (JSW ranges widen for children).

    >>> control_range("medial_jsw_mm", 0, age_years=8)
    (6.0, 8.0)
    """
    lo, hi = KL_GRADES[kl_grade][control]
    if control.endswith("jsw_mm"):
        extra = _child_extra_jsw_mm(age_years)
        lo, hi = lo + extra, hi + extra
    return float(lo), float(hi)


def _fmt(v: float, integer: bool) -> str:
    return str(int(v)) if integer else f"{v:.1f}" if abs(v - round(v, 1)) < 1e-9 else f"{v:g}"


def control_errors(kl_grade: int, age_years: float, **controls) -> list[str]:
    """Messages for explicit controls (not ``None``) outside ``kl_grade``'s ranges.

    Each says the grade's range and which grades would allow the value.
    """
    out = []
    for name, value in controls.items():
        if value is None:
            continue
        unit, integer = CONTROLS[name]
        lo, hi = control_range(name, kl_grade, age_years)
        if lo - 1e-9 <= value <= hi + 1e-9:
            continue
        ok = [g for g in KL_GRADES
              if (r := control_range(name, g, age_years))[0] - 1e-9 <= value <= r[1] + 1e-9]
        if age_years < 18:
            ok = [g for g in ok if g == 0]
        where = (f"KL {' or '.join(map(str, ok))} allow{'s' if len(ok) == 1 else ''} it — "
                 "also set kl_grade") if ok else "no KL grade allows it"
        if age_years < 18 and not ok:
            where = "children (under 18) have KL grade 0 only"
        rng_txt = f"{_fmt(lo, integer)}–{_fmt(hi, integer)}{' ' + unit if unit else ''}"
        out.append(f"{name}={_fmt(value, integer)} is outside KL grade {kl_grade}'s range "
                   f"{rng_txt}; {where}")
    return out


def _pick(control: str, kl_grade: int, age_years: float, u: float):
    lo, hi = control_range(control, kl_grade, age_years)
    if CONTROLS[control][1]:
        n = int(hi - lo) + 1
        return int(lo + min(int(u * n), n - 1))
    return round(lo + float(u) * (hi - lo), 3)


def draw_oa_features(kl_grade: int, age_years: float, u: np.ndarray, shape_u: np.ndarray,
                     **controls) -> OAFeatures:
    """OA features of a knee: explicit ``controls`` where given, else quantile ``u`` in range.

    Parameters
    ----------
    kl_grade : int
        Kellgren–Lawrence grade 0–4.
    age_years : float
        Age in years (children: wider JSW ranges, KL 0 only).
    u : ndarray of :data:`N_QUANTILES` floats in [0, 1)
        One quantile per control, in the order of :data:`CONTROLS`; a control's value is
        ``lo + u (hi - lo)`` of its grade's range, so two grades with the same ``u`` give
        proportionally more disease.
    shape_u : ndarray of :data:`N_SHAPE_QUANTILES` floats in [0, 1)
        Osteophyte shapes, cyst places and the order of osteophyte sites (grade-free).
    **controls : float or int or None
        Explicit values of any of :data:`CONTROLS` (validate them with :func:`control_errors`).
    """
    v = {name: controls.get(name) if controls.get(name) is not None
         else _pick(name, kl_grade, age_years, ui) for name, ui in zip(CONTROLS, u)}
    sites = list(OSTEOPHYTE_SITES)
    if shape_u[-1] < 0.35:  # lateral femoral spur sometimes before the lateral tibial one
        sites[2], sites[3] = sites[3], sites[2]
    n_ost, size = int(v["osteophyte_count"]), float(v["osteophyte_size_mm"])
    ost = []
    for i in range(n_ost):
        su = shape_u[3 * i: 3 * i + 3]
        s = size if i == 0 else round(size * (0.55 + 0.45 * su[0]), 3)
        ost.append(Osteophyte(sites[i], s, curl=float(2 * su[1] - 1), width=1.3 + 0.8 * su[2]))
    cysts = []
    base = 3 * len(OSTEOPHYTE_SITES)
    for i in range(int(v["cyst_count"])):
        cu = shape_u[base + 4 * i: base + 4 * i + 4]
        bone = "tibia" if cu[0] < 0.65 else "femur"
        comp = "medial" if cu[1] < 0.8 else "lateral"
        d = 3.0 + 5.0 * cu[2]
        cysts.append(Cyst(bone, comp, round(d, 2), float(2 * cu[3] - 1),
                          round(0.5 * d + 1.5 + 2.0 * cu[2], 2)))
    spine = float(np.clip((size - 1.5) / 6.0, 0, 1)) * (n_ost >= 2)
    return OAFeatures(kl_grade, float(v["medial_jsw_mm"]), float(v["lateral_jsw_mm"]),
                      tuple(ost), float(v["sclerosis"]), tuple(cysts), float(v["deformity"]),
                      spine)


def normal_features(age_years: float) -> OAFeatures:
    """A pathology-free joint in the middle of the KL 0 ranges (for grade-free reference renders)."""
    return OAFeatures(0, float(np.mean(control_range("medial_jsw_mm", 0, age_years))),
                      float(np.mean(control_range("lateral_jsw_mm", 0, age_years))))


# --------------------------------------------------------------------------- OA solids
def osteophyte_solid(X, Y, base_xy, direction, size_mm, width, curl, depth_mm, cortex_mm=0.4):
    """A beak-shaped spur growing from ``base_xy`` (mm) along unit ``direction``.

    Returns ``(chord_mm, inner_mm, inside)``: path length through the spur (a ridge
    ``depth_mm`` deep along the beam, triangular: broad base tapering to a pointed, slightly
    curled tip), through the same spur shrunk by its cortex ``cortex_mm`` (its trabecular
    core), and its silhouette. The spur starts 3 mm inside the bone, so that it grows out of
    the parent's margin.
    """
    dx, dy = direction
    u = (X - base_xy[0]) * dx + (Y - base_xy[1]) * dy     # along the spur, mm
    v = -(X - base_xy[0]) * dy + (Y - base_xy[1]) * dx    # across
    length = size_mm + 3.0
    t = np.clip((u + 3.0) / length, 0.0, 1.0)
    v = v - curl * 0.35 * size_mm * t ** 2                # the tip bends towards the joint
    half = 0.5 * width * max(size_mm, 0.8) * (1.0 - t) ** 0.8 + 0.15
    d = np.minimum(half - np.abs(v), np.minimum(u + 3.0, size_mm - u) * 2.0)
    inside = d > 0
    r = 1.0 + 0.5 * size_mm  # rounded across: dense along its axis, thin at its edges
    depth = depth_mm * (1.0 - 0.4 * t)
    chord = depth * _circ(np.clip(d, 0, None) / r)
    inner = np.maximum(depth - cortex_mm, 0) * _circ(np.clip(d - cortex_mm, 0, None) / r)
    return chord.astype(np.float32), inner.astype(np.float32), inside


def cyst_solid(X, Y, centre_xy, diameter_mm):
    """Chord (mm) through a spherical cyst and its silhouette."""
    r = 0.5 * diameter_mm
    q = r * r - (X - centre_xy[0]) ** 2 - (Y - centre_xy[1]) ** 2
    return (2.0 * np.sqrt(np.clip(q, 0, None))).astype(np.float32), q > 0
