"""Bone density and trabecular texture of the procedural knee (:mod:`synthmed.phantoms.knee`).

Both depend on the anatomy only (never on the OA grade), so the same knee keeps the same
texture whatever its disease. Coordinates and the geometry dictionary ``g`` are the knee's
(mm; ``x`` medial, ``y`` downwards, origin on the medial joint line).

Example
-------
>>> import numpy as np
>>> X, Y = np.meshgrid(np.linspace(-50, 50, 64), np.linspace(-50, 50, 64))
>>> g = dict(s=1.0, x_n=0.0, x_mc=23.0, shape=dict(x_lc=-22.0))
>>> tex, mottle = trabecular_texture(X, Y, 100 / 64, g, texture_seed=0, laterality="R")
>>> tex.shape, round(float(tex.std()), 1)
((64, 64), 1.0)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from synthmed.phantoms._shapes import _noise2d, _smoothstep, _steer, _stripe_bank

__all__ = ["trabecular_texture", "density_pattern"]


def trabecular_texture(X, Y, px, g, texture_seed, laterality):
    """Trabecular pattern (~unit variance) and a unit-variance mottle (~3 mm) on the grid
    ``X``, ``Y`` (mm) of pixel size ``px`` (mm), seeded by ``texture_seed``; ``laterality``
    ("L"/"R") mirrors the trabecular directions.

    A granular-reticular mesh (ridges of band-pass noise, ~1.5 mm cells: the projected sum of
    ~0.5-1 mm trabecular spacings) everywhere, with principal trabeculae: vertical in the
    tibial metaphysis, arcades normal to the articular surface in the condyles. Detail finer
    than a pixel is averaged as by the detector's pixel aperture.
    """
    rng = np.random.default_rng(texture_seed)
    s = g["s"]
    mirror = -1.0 if laterality == "L" else 1.0
    band = _stripe_bank(X.shape, px, rng, n_dir=1, period_mm=1.5, length_mm=0.0)[0]
    mesh = 0.8 - np.abs(band)                      # ridges where the band-pass field crosses 0
    tib = _smoothstep(Y / (6 * s))
    # condyles: trabeculae fan out from above each condyle towards its articular surface
    cx = np.where(X > g["x_n"], g["x_mc"], g["shape"]["x_lc"] * s)
    arcade = np.arctan2(Y + 30 * s, X - cx)
    fan = -0.35 * np.clip(X / (38 * s), -1, 1) * _smoothstep((Y - 8 * s) / (35 * s))
    angle = tib * (np.pi / 2 + mirror * fan) + (1 - tib) * mirror * arcade
    struts = _steer(_stripe_bank(X.shape, px, rng, period_mm=1.7, length_mm=3.0 * s), angle)
    metaphysis = tib * _smoothstep((Y - 4 * s) / (10 * s))
    tex = mesh / (mesh.std() + 1e-12) + struts * (0.45 + 0.6 * metaphysis)
    tex = ndimage.gaussian_filter(tex / (tex.std() + 1e-12), 0.3)  # box pixel, sigma ~0.3 px
    return tex.astype(np.float32), _noise2d(X.shape, 3.0 / px, rng)


def density_pattern(X, Y, g, bones, d_femur, d_tibia):
    """Large-scale bone density: denser subchondral bands (~3 mm) under both articular
    surfaces and lucent metaphyseal centres (the anatomy's, not OA's sclerosis).

    Updates ``bones["femur"].bvf`` and ``bones["tibia"].bvf`` (bone volume fractions) in
    place; ``d_femur`` is the distance (mm) above the femur's distal outline, ``d_tibia`` the
    plateau height y (mm) at each pixel.
    """
    s = g["s"]
    for name, d, centre_y in (("femur", d_femur, -35 * s), ("tibia", Y - d_tibia, 32 * s)):
        band = np.exp(-np.clip(d, 0, None) / (3 * s)) * (d > -1)
        r2 = ((X - g["x_n"]) / (15 * s)) ** 2 + ((Y - centre_y) / (14 * s)) ** 2
        lucent = np.exp(-0.5 * r2)
        bones[name].bvf = bones[name].bvf * (1 - 0.3 * lucent) + 0.05 * band


