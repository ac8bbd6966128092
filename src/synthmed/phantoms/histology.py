"""H&E tissue phantom: stain concentration maps, nuclei instances and tissue masks.

:func:`histology_tile` draws the architecture of a tile in micrometres
(:mod:`synthmed.phantoms.tissue_layout`), populates it with nuclei
(:mod:`synthmed.phantoms.nuclei`) and rasterises both at ``microns_per_pixel``. The result
is what the section holds, not what a scanner records: per-pixel optical densities (base 10,
at a nominal stain strength) of haematoxylin (nuclei, mucin, a little in cytoplasm), eosin
(cytoplasm, collagen, red blood cells) and haemoglobin (red blood cells' own pigment).
:mod:`synthmed.physics.stain` turns them into RGB by Beer-Lambert.

Section artefacts that change the amount of tissue (:func:`section_artefacts`): uneven
thickness, knife chatter and folds (tissue lying double: about twice the density).

>>> import numpy as np
>>> ph = histology_tile((64, 64), 0.5, "colon", 0, 0.0, 0.0, 1.0, np.random.default_rng(0))
>>> ph.haematoxylin.shape, ph.instances.dtype, int(ph.instances.max()) == len(ph.instance_classes)
((64, 64), dtype('int32'), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from synthmed.phantoms.nuclei import Packer, draw_nucleus, paint_nuclei
from synthmed.phantoms.tissue_layout import CODES, Layout, SmoothField, build_layout

__all__ = ["HistologyPhantom", "histology_tile", "populate_nuclei", "section_artefacts",
           "smooth_patches", "NUCLEUS_CLASSES", "TISSUE_CLASSES"]

NUCLEUS_CLASSES = ("tumour_cell", "mitotic_figure", "epithelial_cell", "myoepithelial_cell",
                   "lymphocyte", "plasma_cell", "neutrophil", "fibroblast", "endothelial_cell")
TISSUE_CLASSES = ("background", "gland", "epithelium", "lumen", "mucin", "stroma", "fat",
                  "vessel", "red_blood_cells", "necrosis", "tumour")
C = CODES
# stromal cells per 10^4 µm² of each region (before ``cellularity``): (tissue, region)
_STROMA_CELLS = {
    ("colon", "stroma"): {"lymphocyte": 40, "plasma_cell": 28, "fibroblast": 7, "neutrophil": 1},
    ("breast", "stroma"): {"fibroblast": 12, "lymphocyte": 10, "plasma_cell": 2},
    ("breast", "dense_stroma"): {"fibroblast": 6, "lymphocyte": 1.5},
    ("any", "tumour"): {"fibroblast": 16, "lymphocyte": 12, "plasma_cell": 3, "neutrophil": 1.5},
    ("any", "fat_membrane"): {"fibroblast": 30},
}
_SINGLE_TUMOUR_CELLS = {1: 0.0, 2: 4.0, 3: 14.0}     # per 10^4 µm² of tumour stroma
_MITOSIS = {1: 0.005, 2: 0.015, 3: 0.04}             # fraction of tumour nuclei in mitosis


@dataclass
class HistologyPhantom:
    """Stain concentrations (OD, base 10), nuclei and tissue masks of one tile."""

    haematoxylin: np.ndarray
    eosin: np.ndarray
    haemoglobin: np.ndarray
    instances: np.ndarray
    instance_classes: dict
    masks: dict
    layout: Layout
    microns_per_pixel: float


def _orientation(rng):
    """Local fibre orientation (radians) in µm space: a dominant direction, bends, waves."""
    theta0, f1, f2 = rng.uniform(0, np.pi), SmoothField(rng, (100, 300)), SmoothField(rng, (25, 60))
    return lambda x, y: theta0 + 0.7 * f1(x, y) + 0.12 * f2(x, y)


def _ellipse_normal(g, x, y):
    """Angle of the outward normal of gland ``g``'s ellipse through ``(x, y)``."""
    c, s = np.cos(g.angle), np.sin(g.angle)
    dx, dy = x - g.x, y - g.y
    return g.angle + np.arctan2((-dx * s + dy * c) / g.b ** 2, (dx * c + dy * s) / g.a ** 2)


def _walk(g, rng, spacing, depth, lumen=False):
    """Points ``depth`` µm inside a gland's outline (or lumen) every ``spacing`` µm."""
    px, py, nx, ny, s = g.boundary(256, lumen=lumen)
    for t in np.arange(rng.uniform(0, spacing), s[-1], spacing):
        i = int(np.searchsorted(s, t, side="right") - 1) % len(px)
        dep = depth()
        yield px[i] + dep * nx[i], py[i] + dep * ny[i], np.arctan2(ny[i], nx[i])


def populate_nuclei(lay: Layout, tumour_grade: int, cellularity: float, orient,
                    rng: np.random.Generator) -> list:
    """Nuclei of every cell of the layout (µm), in painting order, without overlaps.

    Normal epithelium lines the basement membrane (crypts: a basal row of columnar nuclei;
    acini and ducts: luminal cells over flat myoepithelial cells); carcinoma fills its
    glands with crowded, lightly overlapping nuclei; endothelium lines vessels; stromal
    cells are scattered at the densities of ``_STROMA_CELLS`` × ``cellularity``, spindle
    nuclei along the local fibre direction ``orient(x_um, y_um)`` (radians).
    """
    packer = Packer()
    for x, y, r in np.concatenate([lay.goblets, lay.rbcs]):
        packer.grid.setdefault((int(np.floor(x / packer.cell)), int(np.floor(y / packer.cell))),
                               []).append((x, y, r))
    grade = max(tumour_grade, 1)
    for g in lay.glands:
        if g.kind == "crypt":
            for x, y, a in _walk(g, rng, rng.uniform(3.8, 4.6), lambda: 0.0):
                n = draw_nucleus("epithelial_cell", x, y, a + rng.normal(0, 0.12), rng)
                dep = n.length_um / 2 + rng.uniform(0.8, 2.0)   # basal, inside the membrane
                n.x_um, n.y_um = x + dep * np.cos(a), y + dep * np.sin(a)
                if g.lumen(n.x_um, n.y_um) < -2:
                    packer.try_add(n, 0.75)
        elif g.kind in ("acinus", "duct"):
            for x, y, a in _walk(g, rng, rng.uniform(8, 12), lambda: 1.6):
                packer.try_add(draw_nucleus("myoepithelial_cell", x, y, a + np.pi / 2, rng))
            for x, y, a in _walk(g, rng, rng.uniform(5.5, 6.5), lambda: rng.uniform(4.5, 5.5)):
                if g.lumen(x, y) < -2:
                    packer.try_add(draw_nucleus("epithelial_cell", x, y, a, rng, scale=0.82),
                                   0.9)
        else:
            n = int(np.pi * g.a * g.b / 45.0 * 8)
            xs = g.x + rng.uniform(-g.reach, g.reach, n)
            ys = g.y + rng.uniform(-g.reach, g.reach, n)
            ok = (g.outer(xs, ys) > 2.5) & (g.lumen(xs, ys) < -3.0)
            for x, y in zip(xs[ok], ys[ok]):
                radial = g.lumina and (grade == 1 or lay.tissue == "colon")
                a = _ellipse_normal(g, x, y) if radial else rng.uniform(0, np.pi)
                kind = "mitotic_figure" if rng.random() < _MITOSIS[grade] else "tumour_cell"
                packer.try_add(draw_nucleus(kind, x, y, a + rng.normal(0, 0.3), rng, grade),
                               0.8 if grade < 3 else 0.75)
    for v in lay.vessels:
        for x, y, a in _walk(v, rng, rng.uniform(9, 14), lambda: -1.2, lumen=True):
            packer.try_add(draw_nucleus("endothelial_cell", x, y, a + np.pi / 2, rng))
        wall = v.b - v.lumina[0][3]
        if wall > 2.5:
            for x, y, a in _walk(v, rng, rng.uniform(7, 10), lambda: rng.uniform(1.5, wall - 1.5)):
                packer.try_add(draw_nucleus("fibroblast", x, y, a + np.pi / 2, rng, scale=0.8))
    w, h, m = lay.width_um, lay.height_um, 10.0
    area = (w + 2 * m) * (h + 2 * m) / 1e4
    cands = []
    for (tissue, region), table in _STROMA_CELLS.items():
        if tissue not in ("any", lay.tissue):
            continue
        if region == "tumour":
            if lay.tumour is None:
                continue
            table = {**table, "tumour_cell": _SINGLE_TUMOUR_CELLS[grade]}
        for kind, dens in table.items():
            n = rng.poisson(dens * cellularity * area)
            xs, ys = rng.uniform(-m, w + m, n), rng.uniform(-m, h + m, n)
            code, neo = lay.classify(xs, ys)
            if region == "tumour":
                ok = neo & np.isin(code, (C["stroma"], C["dense_stroma"]))
            else:
                ok = (code == C[region]) & ~neo
            cands += [(kind, x, y) for x, y in zip(xs[ok], ys[ok])]
    for i in rng.permutation(len(cands)):
        kind, x, y = cands[i]
        a = orient(x, y) + rng.normal(0, 0.15) if kind == "fibroblast" else rng.uniform(0, np.pi)
        packer.try_add(draw_nucleus(kind, x, y, a, rng, grade), 0.85 if kind == "tumour_cell"
                       else 0.95)
    return packer.nuclei


def _noise(shape, sigma_px, rng):
    z = ndimage.gaussian_filter(rng.standard_normal(shape), max(sigma_px, 0.3), mode="wrap")
    return (z - z.mean()) / (z.std() + 1e-9)


def _oriented_texture(shape, mpp, theta, rng, length_um=12.0, width_um=1.0, n_dir=8):
    """Unit-SD fibre texture: noise smeared ``length_um`` along the local angle ``theta``."""
    spec = np.fft.rfft2(rng.standard_normal(shape))
    ky = 2 * np.pi * np.fft.fftfreq(shape[0], mpp)[:, None]
    kx = 2 * np.pi * np.fft.rfftfreq(shape[1], mpp)[None, :]
    f = np.mod(theta, np.pi) / (np.pi / n_dir)
    j0 = np.floor(f).astype(int) % n_dir
    wgt = f - np.floor(f)
    out = np.zeros(shape)
    for j in range(n_dir):
        phi = np.pi * j / n_dir
        along, across = kx * np.cos(phi) + ky * np.sin(phi), -kx * np.sin(phi) + ky * np.cos(phi)
        t = np.fft.irfft2(spec * np.exp(-0.5 * ((along * length_um) ** 2 +
                                               (across * width_um) ** 2)), shape)
        t /= t.std() + 1e-12
        out += t * (np.where(j0 == j, 1 - wgt, 0) + np.where((j0 + 1) % n_dir == j, wgt, 0))
    return out / np.sqrt((1 - wgt) ** 2 + wgt ** 2)


def histology_tile(shape: tuple[int, int], microns_per_pixel: float, tissue: str,
                   tumour_grade: int, tumour_fraction: float, glass_fraction: float,
                   cellularity: float, rng: np.random.Generator) -> HistologyPhantom:
    """Draw and rasterise one tile of ``shape`` pixels at ``microns_per_pixel``.

    Parameters
    ----------
    shape : (int, int)
        Tile size (rows, cols) in pixels.
    microns_per_pixel : float
        Pixel size in µm (0.25 at 40x, 0.5 at 20x, 1.0 at 10x).
    tissue : {"colon", "breast"}
    tumour_grade : int
        0 normal; 1-3 carcinoma grade (well, moderately, poorly differentiated).
    tumour_fraction : float
        Area fraction of the tile given to carcinoma (ignored for grade 0).
    glass_fraction : float
        Area fraction of bare glass beyond the tissue edge.
    cellularity : float
        Multiplier of stromal cell densities (1 = typical).
    rng : numpy.random.Generator
        Split into a geometry stream (architecture and nuclei in µm, the same at every
        magnification for the same field of view) and a texture stream (pixel noise).
    """
    geo_rng, tex_rng = rng.spawn(2)
    mpp = float(microns_per_pixel)
    rows, cols = shape
    lay = build_layout(tissue, cols * mpp, rows * mpp, tumour_grade, tumour_fraction,
                       glass_fraction, geo_rng)
    orient = _orientation(geo_rng)
    nuclei = populate_nuclei(lay, tumour_grade, cellularity, orient, geo_rng)
    xs, ys = (np.arange(cols) + 0.5) * mpp, (np.arange(rows) + 0.5) * mpp
    xx, yy = np.meshgrid(xs, ys)
    code, neo = lay.classify(xx.ravel(), yy.ravel())
    code, neo = code.reshape(shape), neo.reshape(shape)
    theta = orient(xx, yy)
    fib = _oriented_texture(shape, mpp, theta, tex_rng)
    gran = _noise(shape, 0.5 / mpp, tex_rng)
    wisp = _noise(shape, 1.5 / mpp, tex_rng)
    chrom = _noise(shape, 0.35 / mpp, tex_rng) + 0.8 * _noise(shape, 0.9 / mpp, tex_rng)
    chrom /= chrom.std()
    # cytoplasm and matrix: mottled at several scales, with small clear vacuoles and clefts
    mottle = np.clip(1 + 0.12 * gran + 0.12 * wisp + 0.12 * _noise(shape, 4.0 / mpp, tex_rng),
                     0.3, None)
    holes = ndimage.gaussian_filter(np.where(_noise(shape, 1.0 / mpp, tex_rng) > 2.1, 0.25, 1.0),
                                    0.4 / mpp)
    hx, eo, hb = (np.zeros(shape) for _ in range(3))

    def put(c, h_od, e_od, where=None):
        sel = code == C[c] if where is None else (code == C[c]) & where
        hx[sel] = (h_od[sel] if np.ndim(h_od) else h_od)
        eo[sel] = (e_od[sel] if np.ndim(e_od) else e_od)

    put("stroma", 0.035, np.clip(0.21 * (0.85 + 0.12 * fib + 0.12 * wisp), 0.03, None))
    dense = np.clip(1.0 + 0.18 * fib, 0.2, 1.6) * np.where(fib < -1.9, 0.35, 1.0)
    put("dense_stroma", 0.02, 0.50 * dense, ~neo)
    put("dense_stroma", 0.03, 0.42 * np.clip(1.0 + 0.2 * fib, 0.2, None), neo)
    put("epithelium", 0.05, 0.30 * (1 + 0.12 * gran), ~neo)
    put("epithelium", 0.06, 0.32 * (1 + 0.15 * gran), neo)
    put("lumen", 0.03 * np.clip(wisp - 1.0, 0, None), 0.02)
    put("mucin", 0.15 * np.clip(0.6 + 0.35 * wisp, 0.1, None), 0.06)
    put("fat_membrane", 0.02, 0.35)
    put("vessel_wall", 0.04, 0.32 * (1 + 0.2 * fib))
    put("vessel_lumen", 0.0, 0.06)
    put("necrosis", 0.10 + 0.35 * (chrom > 2.2), 0.35 * (1 + 0.5 * gran))
    textured = np.isin(code, [C[k] for k in ("stroma", "dense_stroma", "epithelium",
                                             "vessel_wall", "necrosis")])
    hx[textured] *= mottle[textured]
    eo[textured] *= (mottle * holes)[textured]
    rbc = code == C["rbc"]
    if rbc.any():
        d, i = cKDTree(lay.rbcs[:, :2]).query(np.stack([xx[rbc], yy[rbc]], 1))
        q = d / lay.rbcs[i, 2]
        disc = (1 - 0.3 * np.exp(-(q / 0.5) ** 2)) * np.clip((1 - q) * lay.rbcs[i, 2] / mpp + 0.5,
                                                            0, 1)
        eo[rbc] = 0.06 + disc * 0.55
        hb[rbc] = disc * 0.30
    for n in nuclei:   # plasma cells: eccentric amphophilic cytoplasm with a perinuclear hof
        if n.kind == "plasma_cell":
            cx, cy = n.x_um + 2.0 * np.cos(n.angle), n.y_um + 2.0 * np.sin(n.angle)
            r0, r1 = max(int((cy - 7) / mpp), 0), min(int((cy + 7) / mpp) + 1, rows)
            c0, c1 = max(int((cx - 7) / mpp), 0), min(int((cx + 7) / mpp) + 1, cols)
            if r0 < r1 and c0 < c1:
                dd = np.hypot(xx[r0:r1, c0:c1] - cx, yy[r0:r1, c0:c1] - cy)
                a = np.clip((6.0 - dd) / mpp + 0.5, 0, 1)
                hx[r0:r1, c0:c1] += a * (0.13 - hx[r0:r1, c0:c1])
                eo[r0:r1, c0:c1] += a * (0.22 - eo[r0:r1, c0:c1])
    instances, classes = paint_nuclei(nuclei, shape, mpp, hx, eo, chrom)
    masks = {
        "background": code == C["glass"],
        "gland": np.isin(code, (C["epithelium"], C["lumen"], C["mucin"], C["necrosis"])) & ~neo,
        "epithelium": np.isin(code, (C["epithelium"], C["mucin"])),
        "lumen": code == C["lumen"],
        "mucin": code == C["mucin"],
        "stroma": np.isin(code, (C["stroma"], C["dense_stroma"])),
        "fat": np.isin(code, (C["fat"], C["fat_membrane"])),
        "vessel": np.isin(code, (C["vessel_wall"], C["vessel_lumen"], C["rbc"])),
        "red_blood_cells": rbc,
        "necrosis": code == C["necrosis"],
        "tumour": neo,
    }
    for kind in NUCLEUS_CLASSES:
        ids = [k for k, v in classes.items() if v == kind]
        masks[kind] = np.isin(instances, ids) if ids else np.zeros(shape, bool)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return HistologyPhantom(f32(hx), f32(eo), f32(hb), instances, classes, masks, lay, mpp)


def smooth_patches(shape, microns_per_pixel, fraction, rng, wavelength_um=(60.0, 200.0)):
    """Boolean mask of smooth random patches covering about ``fraction`` of the tile."""
    if fraction <= 0:
        return np.zeros(shape, bool)
    f = SmoothField(rng, wavelength_um, 12).grid(*shape, microns_per_pixel)
    return f > np.quantile(f, 1.0 - fraction)


def section_artefacts(ph: HistologyPhantom, thickness_variation: float, fold: bool,
                      rng: np.random.Generator) -> np.ndarray:
    """Uneven thickness, knife chatter and a fold, applied to ``ph``'s maps in place.

    Thickness multiplies every stain by ``1 + thickness_variation * field`` (smooth,
    100-400 µm); chatter (one tile in four) adds 5 % bands every 8-20 µm; a fold is a
    curved band 12-40 µm wide where the section lies double (x1.9) with darker creases.
    Returns the fold mask (all False without a fold).
    """
    shape, mpp = ph.haematoxylin.shape, ph.microns_per_pixel
    rows, cols = shape
    t = 1.0 + thickness_variation * SmoothField(rng, (100.0, 400.0), 12).grid(rows, cols, mpp)
    yy, xx = (np.indices(shape) + 0.5) * mpp
    if rng.random() < 0.25:
        a, period = rng.uniform(0, np.pi), rng.uniform(8, 20)
        t *= 1.0 + 0.05 * np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period)
    fold_mask = np.zeros(shape, bool)
    if fold:
        a = rng.uniform(0, np.pi)
        x0, y0 = rng.uniform(0.2, 0.8) * cols * mpp, rng.uniform(0.2, 0.8) * rows * mpp
        width = rng.uniform(12, 40)
        d = ((xx - x0) * np.cos(a) + (yy - y0) * np.sin(a)
             + 0.08 * max(rows, cols) * mpp * SmoothField(rng, (150, 400), 6)(xx, yy))
        fold_mask = (d > 0) & (d < width)
        crease = np.exp(-(d / 1.5) ** 2) + np.exp(-((d - width) / 1.5) ** 2)
        t *= np.where(fold_mask, 1.9, 1.0) + 0.8 * crease
    tissue = ~ph.masks["background"]
    for m in (ph.haematoxylin, ph.eosin, ph.haemoglobin):
        m *= np.where(tissue, np.clip(t, 0.3, None), 1.0).astype(np.float32)
    return fold_mask & tissue
