"""Procedural 3D thorax for CT, in Hounsfield units, with exact anatomical labels.

The body is analytic: smooth, randomly perturbed surfaces (superellipses, ellipsoids, tubes
along curves) evaluated on the scan's voxel grid, so every subject differs and nothing is
stair-stepped. Coordinates are millimetres in DICOM's patient axes: ``x`` to the patient's
left, ``y`` posterior, ``z`` superior; ``z = 0`` is the deepest costophrenic recess and
``z = H`` the lung apices (``H`` the lung height, ~26 cm in an adult man). A volume is indexed
``(z, y, x)``: row 0 anterior, column 0 the patient's right, slice 0 inferior.

Contents: skin, subcutaneous fat, chest-wall muscle with fat planes, breasts (women); heart
(four chambers, pericardium, epicardial fat), aorta, pulmonary trunk and arteries, venae
cavae, azygos, arch branches, oesophagus, trachea and main bronchi, thymus, lymph nodes,
thyroid, diaphragm, liver, stomach, spleen, kidneys (:mod:`~synthmed.phantoms.thorax3d_body`);
lungs with fissures and five lobes, an airway tree (lobar to sub-segmental bronchi: air
lumen, soft-tissue walls) and pulmonary arteries and veins grown into each lobe
(:mod:`~synthmed.phantoms.thorax3d_lungs`, on the tubes and trees of
:mod:`~synthmed.phantoms._shapes3d`); vertebrae, ribs, costal cartilage, sternum, scapulae
and clavicles (:mod:`~synthmed.phantoms.thorax3d_bones`). Findings are added by
:mod:`~synthmed.phantoms.lung_findings3d`.

CT numbers (non-contrast, typical values of the clinical literature): air -1000, aerated
lung -860 (-900 anteriorly to -820 in the dependent lung when supine), fat -100, muscle
and blood +40..45, liver +58, cortical bone ~+1000 (as thick as the voxels allow), cancellous
bone ~+250 in young adults falling ~2 HU per year after 30.

Example
-------
>>> import numpy as np
>>> ph = thorax3d((64, 64), 6, 5.0, age_years=50, sex="M", rng=np.random.default_rng(0))
>>> ph.grid.shape, ph.sub_slices                 # thin slices: 5 per 5 mm output slice
((30, 64, 64), 5)
>>> hu = ph.compose()
>>> bool(hu.min() >= -1000 and hu.max() > 500), ph.output_mask(ph.lung_mask()).shape
(True, (6, 64, 64))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthmed.phantoms._shapes3d import (Grid, Wave, _mask_box, _smoothstep, _sub_mesh,
                                         _superellipse_sd, smooth_noise)
from synthmed.phantoms.thorax3d_body import (HU, _body_extent, _central_lines, _heart,
                                             _paint_abdomen, _paint_body, _paint_mediastinum,
                                             _paint_table, _unit)
from synthmed.phantoms.thorax3d_bones import paint_skeleton
from synthmed.phantoms.thorax3d_lungs import (_lung_fraction, _lung_trees, _parenchyma,
                                              _render_trees)

__all__ = ["Thorax3D", "thorax3d", "LOBES", "HU"]

LOBES = ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe", "left_upper_lobe",
         "left_lower_lobe")


@dataclass
class Thorax3D:
    """A thorax on a thin-slice grid, kept in layers until :meth:`compose`.

    Attributes
    ----------
    grid : Grid
        Thin-slice grid; ``sub_slices`` thin slices make one output slice.
    hu : float32 ndarray
        CT numbers (HU) of everything outside the lungs (lungs hold mediastinal fat here).
    lung_frac : float32 ndarray
        Fraction of each voxel that is lung (0..1; partial at the pleura).
    parenchyma : float32 ndarray
        Lung parenchyma HU (vessels and airways excluded); findings edit it.
    vessels, airway_wall, airway_lumen : float32 ndarray
        Coverage (0..1) of intrapulmonary vessels, bronchial walls and bronchial lumens.
    solid_cov, solid_hu : float32 ndarray
        Coverage and HU of solid lesions drawn over vessels (nodules).
    lobes : uint8 ndarray
        Thin-slice lobe labels: 0 outside the lungs, ``k + 1`` for ``LOBES[k]``.
    thin_masks : dict of str to bool ndarray
        Thin-slice masks of structures (``heart``, ``aorta``, ``spine``, ``ribs``, ...).
    attributes : dict
        Scalars: ``field_of_view_mm``, ``lung_height_mm``, ...
    anatomy : Any
        The subject's private geometry (used by the findings).
    """

    grid: Grid
    sub_slices: int
    hu: np.ndarray
    lung_frac: np.ndarray
    parenchyma: np.ndarray
    vessels: np.ndarray
    airway_wall: np.ndarray
    airway_lumen: np.ndarray
    lobes: np.ndarray
    thin_masks: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    anatomy: Any = None
    solid_cov: np.ndarray | None = None
    solid_hu: np.ndarray | None = None

    def lung_mask(self) -> np.ndarray:
        """Thin-slice mask of both lungs (lung fraction >= 0.5)."""
        return self.lobes > 0

    def masks(self) -> dict[str, np.ndarray]:
        """Output-slice masks of the anatomy as the layers stand now: ``lung_right``,
        ``lung_left``, the five ``LOBES``, ``airways`` (lumen of the trachea and of the
        bronchi drawn with walls), ``vessels`` (pulmonary arteries and veins: voxels at
        least half vessel), ``heart`` (chambers and myocardium), ``aorta``, ``spine``
        (vertebral bone), ``ribs``, ``sternum``."""
        lung, t = self.lung_mask(), self.thin_masks
        out = {"airways": (t["airways_visible"] & lung) | t["airways_central"],
               "vessels": ((self.vessels >= 0.5) & lung) | t["pulmonary_central"]}
        out.update({k: t[k] for k in ("heart", "aorta", "spine", "ribs", "sternum")})
        out = {k: self.output_mask(v) for k, v in out.items()}
        lobes = self.output_lobes()
        out.update({name: lobes == k + 1 for k, name in enumerate(LOBES)})
        return {"lung_right": (lobes >= 1) & (lobes <= 3), "lung_left": lobes >= 4, **out}

    def output_lobes(self) -> np.ndarray:
        """Output-slice lobe labels (uint8, as :attr:`lobes`): a voxel is lung if most of its
        thin sub-slices are, and belongs to the lobe most of its lung sub-slices are in, so
        the lobes partition the lungs exactly."""
        n = self.sub_slices
        thin = self.lobes.reshape(-1, n, *self.lobes.shape[1:])
        counts = np.stack([(thin == k).sum(1, dtype=np.int16) for k in range(1, 6)])
        lung = counts.sum(0) * 2 >= n
        return np.where(lung, np.argmax(counts, 0) + 1, 0).astype(np.uint8)

    def output_mask(self, thin: np.ndarray) -> np.ndarray:
        """Output-slice mask from a thin-slice one: a voxel belongs to a structure if most
        (>= 50 %; ``sub_slices`` is odd, so a strict majority) of its thin sub-slices do."""
        n = self.sub_slices
        votes = thin.reshape(-1, n, *thin.shape[1:]).sum(1, dtype=np.int16)
        return votes * 2 >= n

    def compose(self) -> np.ndarray:
        """The thin-slice HU volume: lung content (parenchyma, then vessels, bronchial walls
        and lumens, then solid lesions) blended into :attr:`hu` by :attr:`lung_frac`."""
        lung = self.parenchyma.copy()
        for cov, value in ((self.vessels, HU["blood"]), (self.airway_wall, HU["wall"]),
                           (self.airway_lumen, HU["air"])):
            lung += cov * (value - lung)
        if self.solid_cov is not None:
            lung += self.solid_cov * (self.solid_hu - lung)
        out = self.hu + self.lung_frac * (lung - self.hu)
        return np.clip(out, -1024.0, 3071.0).astype(np.float32)


# --------------------------------------------------------------------------- the subject
# Cross-section of each hemithorax (inner rib margin) against h = z / H: half-ellipses
# with centre (±cx, cy), half-width ax and anterior/posterior half-depths; separate
# anterior (a) and posterior (p) centres give a smooth retrosternal contour and a notch for
# the spine. Adult-male millimetres, scaled by the subject's size; above h = 0.72 the
# apices close as domes.
_H_TAB = np.array([-0.4, 0.0, 0.2, 0.4, 0.6, 0.8])
_PROFILE = {
    "cx_p": (60, 62, 62, 60, 55, 50), "ax_p": (74, 78, 80, 77, 69, 56),
    "cx_a": (36, 36, 36, 34, 34, 40), "ax_a": (100, 106, 106, 102, 90, 66),
    "ay_p": (84, 90, 93, 93, 88, 76), "ay_a": (92, 94, 92, 86, 76, 58),
    "cy": (-4, -2, 0, 0, 2, 8),
}
_SIDES = (("right", -1), ("left", 1))


def _growth(age):
    """Linear body size relative to an adult (1 at 18 and over)."""
    return float(np.interp(age, [1, 3, 6, 10, 14, 18], [0.5, 0.58, 0.66, 0.76, 0.9, 1.0]))


@dataclass
class _Anatomy:
    """The subject: sizes (mm), levels and random surface perturbations."""

    age: float
    sex: str
    adult: float                 # 0 (infant) .. 1 (adult)
    s: float                     # in-plane scale (adult man = 1)
    H: float                     # lung height, mm
    fat: float                   # subcutaneous fat, mm (lateral)
    xm: float                    # mediastinal centre line, mm
    z_carina: float
    dome: tuple[float, float]    # right, left dome peaks, mm
    heart_scale: float
    aorta_scale: float
    cancellous_hu: float
    cortical_hu: float
    breast: float                # 0 none .. ~1.3 large
    waves: dict = field(default_factory=dict)
    airway: dict = field(default_factory=dict)   # carina, main-bronchus ends, radii (mm)

    @classmethod
    def draw(cls, age: float, sex: str, rng: np.random.Generator) -> _Anatomy:
        g = _growth(age)
        adult = float(np.clip((age - 1) / 17, 0, 1))
        female = sex == "F"
        s = g * (0.93 if female else 1.0) * (1 + 0.04 * rng.standard_normal())
        H = float(265.0 * g ** 1.1 * (0.93 if female else 1.0) *
                  (1 + 0.05 * rng.standard_normal()))
        fat = (6 + (12 + 6 * female) * adult) * float(np.exp(0.35 * rng.standard_normal()))
        an = cls(age=age, sex=sex, adult=adult, s=s, H=H, fat=fat,
                 xm=3.0 * s + 3.0 * rng.standard_normal(),
                 z_carina=(0.665 + 0.015 * rng.standard_normal()) * H,
                 dome=(0, 0),
                 heart_scale=float(np.clip(1 + 0.07 * rng.standard_normal(), 0.85, 1.2)),
                 aorta_scale=1 + 0.005 * max(age - 30, 0) + 0.05 * rng.standard_normal(),
                 cancellous_hu=float(np.clip(265 - 2.2 * max(age - 30, 0), 90, 300)),
                 cortical_hu=700 + 400 * adult,
                 breast=rng.uniform(0.6, 1.3) * float(np.clip((age - 12) / 5, 0, 1)) * female)
        zr = (0.30 + 0.02 * rng.standard_normal()) * H
        an.dome = (zr, zr - (0.045 + 0.012 * rng.standard_normal()) * H)
        for name, length in (("fiss_r", 90), ("fiss_l", 90), ("minor", 70), ("dia", 90),
                             ("fat", 60), ("wall", 45)):
            an.waves[name] = Wave(rng, length * s)
        an.airway = _main_airways(an, rng)
        return an

    # ---- cross-sections ---------------------------------------------------------------
    def prof(self, h) -> dict[str, np.ndarray]:
        """Hemithorax profile at heights ``h`` (fractions of H): mm arrays of h's shape."""
        out = {k: self.s * np.interp(np.minimum(h, 0.8), _H_TAB, v).astype(np.float32)
               for k, v in _PROFILE.items()}
        cap = np.sqrt(np.clip(1 - ((np.asarray(h) - 0.72) / 0.28) ** 2, 0, 1)) * (h > 0.72) + \
            (np.asarray(h) <= 0.72)
        for k in ("ax_p", "ax_a", "ay_p", "ay_a"):
            out[k] = np.maximum(out[k] * cap, 0.5).astype(np.float32)
        return out

    def side_sd(self, X, Y, h, sgn):
        """Signed distance (mm, < 0 inside) to one hemithorax's inner rib margin."""
        p = self.prof(h)
        dy = Y - p["cy"]
        post = dy >= 0
        cx = np.where(post, p["cx_p"], p["cx_a"])
        ax = np.where(post, p["ax_p"], p["ax_a"])
        ay = np.where(post, p["ay_p"], p["ay_a"])
        return _superellipse_sd(sgn * X - cx, dy, ax, ay, 2.0)

    def cavity_sd(self, X, Y, h):
        """Signed distance (mm) to the thoracic cavity (union of both hemithoraces)."""
        return np.minimum(self.side_sd(X, Y, h, -1), self.side_sd(X, Y, h, 1))

    def wall_point(self, sgn, theta, z, offset):
        """Points (x, y) at side-frame angle ``theta`` (0 lateral, +pi/2 posterior) on the
        hemithorax margin at height ``z`` (mm), pushed ``offset`` mm outwards."""
        theta, z = np.broadcast_arrays(np.asarray(theta, float), np.asarray(z, float))
        p = self.prof(z / self.H)
        post = np.sin(theta) >= 0
        cx = np.where(post, p["cx_p"], p["cx_a"])
        ax = np.where(post, p["ax_p"], p["ax_a"])
        ay = np.where(post, p["ay_p"], p["ay_a"])
        c, s_ = np.cos(theta), np.sin(theta)
        r = 1 / np.sqrt((c / ax) ** 2 + (s_ / ay) ** 2) + offset
        return sgn * (cx + r * c), p["cy"] + r * s_

    def dome_z(self, X, Y):
        """Height (mm) of the diaphragm under (x, y): two domes, lower posteriorly."""
        out = 0.0
        w_left = _smoothstep((X - self.xm) / (40 * self.s) + 0.5)
        for (name, sgn), zd, w in zip(_SIDES, self.dome, (1 - w_left, w_left)):
            r2 = ((sgn * X - 50 * self.s) / (85 * self.s)) ** 2 + \
                ((Y + 5 * self.s) / (95 * self.s)) ** 2
            edge = np.interp(Y / self.s, [-90, 90], [0.15, 0.0]) * self.H
            out = out + w * (zd - (zd - edge) * r2 * np.sqrt(np.sqrt(r2)))
        return out + 1.5 * self.s * self.waves["dia"](X, Y)

    # ---- lobes ------------------------------------------------------------------------
    def hilum(self, sgn):
        """(x, y, z) in mm where the oblique fissure meets the hilum: just lateral to the
        origin of the lower-lobe bronchus."""
        end = self.airway["bi_end" if sgn < 0 else "lmb_end"]
        return end + np.array([sgn * 12 * self.s, 0.0, 0.0])

    def oblique_sd(self, X, Y, Z, sgn):
        """Signed distance (mm) to the oblique fissure; > 0 above it (upper/middle lobe).
        A plane through the hilum rising ~50° posteriorly, its lateral part further back."""
        hx, hy, hz = self.hilum(sgn)
        n = np.array([-0.30, 0.70 + 0.04 * (sgn > 0), -0.65])   # (lateral, posterior, up)
        n /= np.linalg.norm(n)
        lat = sgn * X - sgn * hx
        warp = 5.0 * self.s * self.waves["fiss_r" if sgn < 0 else "fiss_l"](X, Y)
        return -(n[0] * lat + n[1] * (Y - hy) + n[2] * (Z - hz)) + warp

    def minor_sd(self, X, Y, Z):
        """Signed distance (mm) to the right horizontal fissure; > 0 above (upper lobe)."""
        z0 = 0.5 * (self.airway["rmb_end"][2] + self.airway["bi_end"][2])
        tilt = 0.12 * (Y / self.s) - 0.06 * (-X / self.s - 40)
        return Z - z0 - tilt + 4.0 * self.s * self.waves["minor"](X, Y)

    def lobes(self, grid: Grid, lung: np.ndarray):
        """Lobe labels on ``grid`` (uint8: index in ``LOBES`` + 1, 0 outside ``lung``), the
        lungs' bounding box (slices) and the fissure distances in it (mm: right oblique,
        left oblique, minor)."""
        out = np.zeros(grid.shape, np.uint8)
        box = _mask_box(lung)
        if box is None:
            return out, None, None
        X, Y, Z = _sub_mesh(grid, box)
        fields = (self.oblique_sd(X, Y, Z, -1), self.oblique_sd(X, Y, Z, 1),
                  self.minor_sd(X, Y, Z))
        ob_r, ob_l, minor = (f > 0 for f in fields)
        lab = np.where(X < self.xm, np.where(ob_r, np.where(minor, 1, 2), 3),
                       np.where(ob_l, 4, 5))
        out[box] = np.where(lung[box], lab, 0)
        return out, box, fields


def _sub_slices(thickness_mm: float) -> int:
    """Thin slices per output slice: the smallest odd number at most 1 mm apart (so a
    majority vote over them has no ties)."""
    n = max(1, int(np.ceil(thickness_mm / 1.0 - 1e-9)))
    return n + (n % 2 == 0)


def _main_airways(an: _Anatomy, rng: np.random.Generator) -> dict:
    """Carina and main bronchi (mm): the right main bronchus short and steep (~25° from the
    vertical), the left long and oblique (~45°); lumen radii from a 17 mm adult trachea."""
    s = an.s
    carina = np.array([1.0 * s, 8.0 * s, an.z_carina])
    a_r = np.radians(25 + 4 * rng.standard_normal())
    a_l = np.radians(45 + 5 * rng.standard_normal())
    rmb_end = carina + 22 * s * _unit(-np.sin(a_r), 0.1, -np.cos(a_r))
    bi_end = rmb_end + 25 * s * _unit(-0.25, 0.15, -1.0)
    lmb_end = carina + 48 * s * _unit(np.sin(a_l), 0.15, -np.cos(a_l))
    r_trachea = (8.5 if an.sex == "M" else 7.6) * s
    return {"carina": carina, "rmb_end": rmb_end, "bi_end": bi_end, "lmb_end": lmb_end,
            "r_trachea": r_trachea}


# --------------------------------------------------------------------------- the scan
def _scan_grid(an: _Anatomy, image_size, n_slices: int, thickness: float, sub: int,
               rng: np.random.Generator) -> Grid:
    """Thin-slice grid: field of view fitted to the body (5-18 % margin), the scan range
    centred on the lungs (a range shorter than the lungs cuts apices and bases)."""
    rows, cols = image_size
    half_w, front, back, _ = _body_extent(an, np.linspace(-0.1, 1.0, 23))
    width = 2 * float(half_w.max()) + 50 * an.breast * an.s
    depth = float(back.max() - front.min()) + 35 * an.s + 40 * an.breast * an.s
    px = max(width * rng.uniform(1.05, 1.18) / cols, depth * 1.04 / rows)
    x0 = -(cols - 1) / 2 * px + 4 * rng.standard_normal()
    yc = 0.5 * (float(front.min()) - 40 * an.breast * an.s + float(back.max()) + 30 * an.s)
    y0 = yc - (rows - 1) / 2 * px + 4 * rng.standard_normal()
    dz = thickness / sub
    zc = an.H * (0.5 + rng.uniform(-0.04, 0.04))
    z0 = zc - n_slices * thickness / 2 + dz / 2
    return Grid((n_slices * sub, rows, cols), (dz, px, px), (x0, y0, z0))


def thorax3d(image_size: tuple[int, int], n_slices: int, slice_thickness_mm: float, *,
             age_years: float = 50.0, sex: str = "M", rng: np.random.Generator,
             sub_slices: int | None = None) -> Thorax3D:
    """Build a CT thorax on thin slices for ``n_slices`` output slices.

    Parameters
    ----------
    image_size : (rows, cols)
        In-plane matrix; the field of view (~35-45 cm in adults) is fitted to the body.
    n_slices : int
        Output slices; the scan range ``n_slices × slice_thickness_mm`` is centred on the
        lungs.
    slice_thickness_mm : float
        Output slice thickness, mm. The phantom is made on ``sub_slices`` thin slices per
        output slice (default: the smallest odd number at most 1 mm apart).
    age_years : float
        1-95: body and organ size, thymus, bone mineral, costal-cartilage calcification,
        aortic size and kyphosis.
    sex : {"F", "M"}
        Body size, fat distribution, breasts.
    rng : numpy.random.Generator

    Returns
    -------
    Thorax3D
    """
    sub = sub_slices or _sub_slices(slice_thickness_mm)
    an = _Anatomy.draw(age_years, sex, rng)
    lines = _central_lines(an)
    trees = _lung_trees(an, lines, rng)
    grid = _scan_grid(an, image_size, n_slices, slice_thickness_mm, sub, rng)
    tex = smooth_noise(grid, 3.0, rng)
    X, Y, Z = grid.mesh()
    cav, zd = an.cavity_sd(X, Y, Z / an.H), an.dome_z(X, Y)
    hu = np.full(grid.shape, HU["air"], np.float32)
    _paint_table(an, grid, hu)
    _paint_body(an, grid, hu, tex, cav)
    _paint_abdomen(an, grid, hu, tex, cav, zd)
    heart = _heart(an, grid)
    thin = _paint_mediastinum(an, grid, hu, lines, tex, cav, zd, heart, rng)
    thin.update(paint_skeleton(an, grid, hu))
    lung_frac = _lung_fraction(an, grid, lines, cav, zd, heart)
    lobes, box, fissures = an.lobes(grid, lung_frac >= 0.5)
    ph = Thorax3D(grid=grid, sub_slices=sub, hu=hu, lung_frac=lung_frac,
                  parenchyma=_parenchyma(an, grid, box, fissures, tex, rng),
                  vessels=np.zeros(grid.shape, np.float32),
                  airway_wall=np.zeros(grid.shape, np.float32),
                  airway_lumen=np.zeros(grid.shape, np.float32), lobes=lobes,
                  thin_masks=thin, anatomy=an)
    _render_trees(ph, trees)
    ph.attributes.update(field_of_view_mm=round(float(grid.spacing[2]) * max(image_size), 1),
                         lung_height_mm=round(float(an.H), 1))
    return ph
