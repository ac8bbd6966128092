"""A mydriatic/non-mydriatic fundus camera: field stop, illumination, optics, colour, noise.

:func:`acquire` turns a fundus ``albedo`` (display-referred RGB under flat white light, as
rendered by :mod:`synthmed.phantoms.retina`) into a photograph:

1. **Illumination**: the ring illuminator lights the centre best (vignetting, falling as
   ``rho**2.5`` to the field edge), unevenly (a tilt of a few tens of percent when the
   pupil is small or decentred), with a thin dark rim just inside the field stop.
2. **Lens artefacts** (``artefacts`` 0-1): flare haze, a whitish-yellow crescent at one edge
   from light reflected at the cornea/lens; dust on the optics as soft dark spots.
3. **Colour response**: per-channel gains (white balance), then a saturating tone curve, so
   the red channel runs close to saturation (a soft shoulder ``x / (1 + (x/1.1)**4)**0.25``),
   green carries the vessel contrast, blue is dark.
4. **Optics and compression**: Gaussian point-spread (``blur_px``) and JPEG-like chroma
   subsampling (colour-difference channels blurred twice as much as luma).
5. **Noise**: signal-dependent sensor noise, relatively largest in the dim blue channel,
   then 8-bit quantisation. Everything outside the circular field stop is exactly 0.

>>> import numpy as np
>>> alb = np.full((64, 64, 3), (0.75, 0.4, 0.2), np.float32)
>>> img = acquire(alb, 28.0, np.random.default_rng(0))
>>> img.dtype, img.shape, float(img[0, 0].max()), bool(img[32, 32, 0] > img[32, 32, 1])
(dtype('float32'), (64, 64, 3), 0.0, True)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["acquire", "field_of_view", "illumination"]

_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                np.float32)


def field_of_view(shape, radius_px):
    """Boolean mask of the circular field stop (pixel centres within ``radius_px`` of the
    image centre) and the normalised radius ``rho`` (1 at the stop) of every pixel."""
    h, w = shape
    rr = (np.arange(h, dtype=np.float32)[:, None] + 0.5 - h / 2) / radius_px
    cc = (np.arange(w, dtype=np.float32)[None, :] + 0.5 - w / 2) / radius_px
    rho = np.sqrt(rr ** 2 + cc ** 2)
    return rho < 1.0, rho, rr, cc


def illumination(shape, radius_px, rng, vignetting=0.35, unevenness=0.3):
    """Relative irradiance on the retina (1 at the best-lit point): vignetting (fraction lost
    at the field edge), a random tilt and low-frequency blotches (``unevenness`` 0-1), and a
    dark rim over the outer ~1.5 % of the field."""
    _, rho, rr, cc = field_of_view(shape, radius_px)
    phi = rng.uniform(0, 2 * np.pi)
    tilt = unevenness * rng.uniform(0.15, 0.4) * (rr * np.cos(phi) + cc * np.sin(phi))
    off = rng.normal(0, 0.12, 2) * unevenness
    rho_off = np.sqrt((rr - off[0]) ** 2 + (cc - off[1]) ** 2)
    small = rng.standard_normal((6, 6))
    blot = ndimage.zoom(ndimage.gaussian_filter(small, 1.0), (shape[0] / 6, shape[1] / 6),
                        order=3, mode="nearest", grid_mode=True)[: shape[0], : shape[1]]
    light = (1 - vignetting * np.clip(rho_off, 0, 1.2) ** 2.5) * (1 + tilt) \
        * (1 + 0.12 * unevenness * blot / (blot.std() + 1e-9))
    rim = np.clip((1.0 - rho) / 0.015, 0, 1)
    return (np.clip(light, 0.05, None) * (0.5 + 0.5 * rim)).astype(np.float32)


def acquire(albedo, radius_px, rng, *, vignetting=0.35, unevenness=0.3, gains=(1.0, 1.0, 1.0),
            exposure=1.0, blur_px=0.8, noise=0.01, artefacts=0.0, fov_mask=None):
    """Photograph ``albedo`` (rows, cols, 3) through a circular field stop of ``radius_px``.

    Parameters
    ----------
    albedo : float ndarray (rows, cols, 3)
        Fundus colour under flat white light (display-referred RGB, ~0-1).
    radius_px : float
        Radius of the field stop in pixels (centred in the image).
    rng : numpy.random.Generator
        Draws illumination, artefacts and noise.
    vignetting, unevenness : float
        Fraction of light lost at the field edge; strength 0-1 of uneven illumination.
    gains : 3 floats
        White-balance gains for R, G, B (dimensionless).
    exposure : float
        Overall gain before the tone curve (dimensionless, ~0.8-1.2).
    blur_px : float
        Gaussian point-spread sigma in pixels (optics, focus and compression softness).
    noise : float
        Sensor noise standard deviation at full scale in the green channel (0-1 units).
    artefacts : float
        0-1: probability and strength of flare haze and dust spots.
    fov_mask : bool ndarray, optional
        The exact field-stop mask to black out (default: from ``radius_px``), so that a
        phantom's own field-of-view label matches the image pixel for pixel.

    Returns
    -------
    float32 ndarray (rows, cols, 3) in [0, 1], 8-bit quantised, 0 outside the field stop.
    """
    shape = albedo.shape[:2]
    fov, rho, rr, cc = field_of_view(shape, radius_px)
    fov = fov if fov_mask is None else fov_mask
    img = albedo * illumination(shape, radius_px, rng, vignetting, unevenness)[..., None]
    u = rng.random(4)
    if artefacts > 0 and u[0] < artefacts:              # flare haze crescent
        phi = rng.uniform(0, 2 * np.pi)
        lobe = np.clip(0.5 + 0.5 * (rr * np.sin(phi) + cc * np.cos(phi)) / np.maximum(rho, 1e-3),
                       0, 1) ** 3
        haze = np.exp(-((1 - np.minimum(rho, 1)) / rng.uniform(0.1, 0.25)) ** 2) * lobe
        img = img + (artefacts * rng.uniform(0.15, 0.4) * haze)[..., None] * np.array(
            [0.9, 0.85, 0.6], np.float32)
    if artefacts > 0 and u[1] < artefacts:              # dust on the optics
        n = rng.integers(1, 5)
        spots = np.zeros(shape, np.float32)
        for _ in range(n):
            r, c = rng.uniform(-0.75, 0.75, 2) * radius_px + np.array(shape) / 2
            s = rng.uniform(0.01, 0.03) * radius_px
            d2 = (np.arange(shape[0])[:, None] + 0.5 - r) ** 2 \
                + (np.arange(shape[1])[None, :] + 0.5 - c) ** 2
            spots += rng.uniform(0.06, 0.18) * artefacts * np.exp(-d2 / (2 * s ** 2))
        img = img * (1 - np.clip(spots, 0, 0.5))[..., None]
    img = img * (exposure * np.asarray(gains, np.float32))
    img = np.clip(img, 0, None)
    img = img / (1 + (img / 1.1) ** 4) ** 0.25            # soft shoulder: highlights compress
    if blur_px > 0:
        img = ndimage.gaussian_filter(img, (blur_px, blur_px, 0), mode="nearest")
    ycc = img @ _YCC.T
    ycc[..., 1:] = ndimage.gaussian_filter(ycc[..., 1:], (1.0 + blur_px,) * 2 + (0,))
    img = ycc @ np.linalg.inv(_YCC).T.astype(np.float32)
    if noise > 0:
        sd = noise * np.sqrt(np.clip(img, 0, 1) * 0.7 + 0.3) * np.array([0.8, 1.0, 1.6])
        img = img + sd * rng.standard_normal(img.shape).astype(np.float32)
    img = np.round(np.clip(img, 0, 1) * 255) / 255
    img[~fov] = 0.0
    return img.astype(np.float32)
