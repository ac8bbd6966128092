"""Brightfield H&E imaging: Beer-Lambert stain mixing, staining sites, scanner, Macenko.

Transmitted light through a stained section follows Beer-Lambert: the optical density
(base 10) of each RGB channel is the sum over stains ``s`` of concentration × absorbance
vector, ``OD = sum_s c_s v_s``, and the recorded intensity is ``I = I0 * 10**(-OD)``
(Ruifrok & Johnston, Anal. Quant. Cytol. Histol. 23:291, 2001).

Stain vectors: the haematoxylin and eosin rows of ``skimage.color.rgb_from_hed``
(Ruifrok & Johnston's measurements) are the anchors; whole-slide scanners record eosin
bluer than Ruifrok's camera did, as the reference vectors of Macenko et al. (ISBI 2009)
show (H 0.56/0.72/0.41, E 0.22/0.80/0.56). A staining **site** (a lab with its protocol and
scanner, :func:`site_stains`) places its vectors between the two anchors and rotates them by
a few degrees, scales the stain amounts (over- and under-staining) and has its own
illuminant colour and tone curve; the same ``site`` number always gives the same site.
Red blood cells add haemoglobin's own absorbance (strong in green and blue).

Normalisation back to a common look: :func:`normalise_macenko` (Macenko et al., via the
numpy back end of ``torchstain``; no torch needed).

>>> import numpy as np
>>> site = site_stains(3)
>>> rgb = beer_lambert(np.array([[[1.0, 0.0]]]), site.vectors[:2], np.ones(3))
>>> rgb.shape, bool(rgb[0, 0, 1] < rgb[0, 0, 2])   # haematoxylin: blue-purple
((1, 1, 3), True)
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from synthmed.errors import SynthmedError

__all__ = ["RUIFROK_HAEMATOXYLIN", "RUIFROK_EOSIN", "MACENKO_HAEMATOXYLIN", "MACENKO_EOSIN",
           "HAEMOGLOBIN", "StainSite", "site_stains", "beer_lambert", "stain_image", "optics",
           "scanner", "macenko_stain_vectors", "normalise_macenko"]


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


RUIFROK_HAEMATOXYLIN = _unit([0.65, 0.70, 0.29])   # skimage.color.rgb_from_hed[0]
RUIFROK_EOSIN = _unit([0.07, 0.99, 0.11])          # skimage.color.rgb_from_hed[1]
MACENKO_HAEMATOXYLIN = _unit([0.5626, 0.7201, 0.4062])
MACENKO_EOSIN = _unit([0.2159, 0.8012, 0.5581])
# oxyhaemoglobin absorbs strongly in blue (Soret band) and green (Q bands), little in red
HAEMOGLOBIN = _unit([0.12, 0.70, 0.70])


@dataclass(frozen=True)
class StainSite:
    """One staining site: stain vectors, stain amounts, illuminant and tone curve."""

    site: int
    vectors: np.ndarray        # (3, 3) rows: haematoxylin, eosin, haemoglobin (unit OD)
    haematoxylin_scale: float  # multiplies haematoxylin concentrations
    eosin_scale: float         # multiplies eosin concentrations
    illuminant: np.ndarray     # (3,) glass (no tissue) intensity per channel, in (0, 1]
    gamma: float               # scanner tone curve: recorded = intensity ** gamma


def _slerp(a, b, t):
    ang = np.arccos(np.clip(a @ b, -1, 1))
    return _unit(np.sin((1 - t) * ang) * a + np.sin(t * ang) * b) if ang > 1e-9 else a


def _rotate(v, angle, rng):
    """``v`` rotated by ``angle`` radians about a random axis perpendicular to it."""
    axis = _unit(np.cross(v, rng.standard_normal(3)))
    out = v * np.cos(angle) + np.cross(axis, v) * np.sin(angle)
    return _unit(np.clip(out, 0.01, None))


def site_stains(site: int, variation: float = 1.0) -> StainSite:
    """The stain and scanner properties of staining site number ``site``.

    ``variation`` scales every between-site difference (0: all sites alike, stain vectors
    75 % (haematoxylin) and 85 % (eosin) of the way from the Ruifrok to the Macenko
    anchor). At 1, they span 35-115 % and 55-115 % of the way, each
    rotated by ~3°; stain amounts vary by ~20 % (log-normal), the illuminant by ~2.5 % per
    channel and the tone curve's gamma by ~5 %.

    >>> a, b = site_stains(1), site_stains(2)
    >>> same = np.allclose(a.vectors, site_stains(1).vectors)
    >>> bool(same), bool(np.allclose(a.vectors, b.vectors))
    (True, False)
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(site), 0x4845]))
    v = float(variation)
    t_h = np.clip(0.75 + v * rng.uniform(-0.4, 0.4), 0.0, 1.2)
    t_e = np.clip(0.85 + v * rng.uniform(-0.3, 0.3), 0.0, 1.2)
    h = _rotate(_slerp(RUIFROK_HAEMATOXYLIN, MACENKO_HAEMATOXYLIN, t_h),
                v * np.deg2rad(rng.normal(0, 3.0)), rng)
    e = _rotate(_slerp(RUIFROK_EOSIN, MACENKO_EOSIN, t_e), v * np.deg2rad(rng.normal(0, 3.0)),
                rng)
    h_scale, e_scale = np.exp(v * rng.normal(0, [0.18, 0.22]))
    light = np.clip((0.94 + v * rng.uniform(-0.035, 0.035)) *
                    np.exp(v * rng.normal(0, 0.025, 3)), 0.8, 1.0)
    return StainSite(int(site), np.stack([h, e, HAEMOGLOBIN]), float(h_scale), float(e_scale),
                     light, float(np.exp(v * rng.normal(0, 0.05))))


def beer_lambert(concentrations: np.ndarray, vectors: np.ndarray,
                 illuminant: np.ndarray) -> np.ndarray:
    """RGB intensity ``I0 * 10**(-c @ v)`` of concentrations ``(..., n_stains)`` (OD units).

    ``vectors`` is ``(n_stains, 3)`` optical density per unit concentration, ``illuminant``
    the glass intensity per channel; returns float32 ``(..., 3)``.
    """
    od = np.asarray(concentrations, float) @ np.asarray(vectors, float)
    return (np.asarray(illuminant, float) * 10.0 ** (-od)).astype(np.float32)


def stain_image(haematoxylin, eosin, haemoglobin, site: StainSite,
                rng: np.random.Generator | None = None, slide_jitter: float = 0.05):
    """RGB float32 of a section's concentration maps stained at ``site`` (Beer-Lambert).

    With ``rng``, each slide's stain amounts also vary by ``slide_jitter`` (relative SD)
    around the site's, as batches of one lab do.
    """
    jit = np.exp(rng.normal(0, slide_jitter, 2)) if rng is not None else np.ones(2)
    conc = np.stack([haematoxylin * site.haematoxylin_scale * jit[0],
                     eosin * site.eosin_scale * jit[1], haemoglobin], axis=-1)
    return beer_lambert(conc, site.vectors, site.illuminant)


def optics(rgb: np.ndarray, microns_per_pixel: float, defocus: np.ndarray | None = None,
           psf_um: float = 0.45, defocus_um: float = 2.0) -> np.ndarray:
    """Objective blur: Gaussian PSF of ``psf_um`` (SD, µm); ``defocus`` patches (bool mask)
    blurred to ``defocus_um`` with a soft 3 µm transition. Returns float32 RGB."""
    mpp = float(microns_per_pixel)
    sharp = ndimage.gaussian_filter(rgb, (psf_um / mpp, psf_um / mpp, 0), mode="reflect")
    if defocus is None or not defocus.any():
        return sharp.astype(np.float32)
    s = np.hypot(defocus_um, psf_um) / mpp
    soft = ndimage.gaussian_filter(rgb, (s, s, 0), mode="reflect")
    w = np.clip(ndimage.gaussian_filter(defocus.astype(float), 3.0 / mpp), 0, 1)[..., None]
    return (sharp * (1 - w) + soft * w).astype(np.float32)


def scanner(rgb: np.ndarray, site: StainSite, rng: np.random.Generator, noise: float = 0.008,
            jpeg_quality: int | None = None) -> np.ndarray:
    """Scanner recording: tone curve, sensor noise (SD ``noise``), optional JPEG.

    JPEG compression (``jpeg_quality`` 1-100, Pillow with 4:2:0 chroma subsampling, as in
    most whole-slide formats) softens colour edges and adds 8x8 block artefacts; the output
    is then quantised to 8 bits. Returns float32 RGB in [0, 1].
    """
    out = np.clip(rgb, 0, 1) ** site.gamma
    out = np.clip(out + rng.normal(0, noise, out.shape) * np.sqrt(out + 0.02), 0, 1)
    if jpeg_quality is not None:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.round(out * 255).astype(np.uint8)).save(buf, "JPEG",
                                                                   quality=int(jpeg_quality))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")) / 255.0
    return out.astype(np.float32)


def _macenko():
    from torchstain.numpy.normalizers import NumpyMacenkoNormalizer
    return NumpyMacenkoNormalizer()


def _to_uint8(image):
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise SynthmedError(f"expected an RGB image (rows, cols, 3), got shape {img.shape}")
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def macenko_stain_vectors(image: np.ndarray, glass_intensity: float = 240 / 255,
                          alpha: float = 1.0, beta: float = 0.15) -> np.ndarray:
    """Haematoxylin and eosin vectors ``(2, 3)`` (unit, natural-log OD) estimated by Macenko.

    ``image`` is RGB float in [0, 1]; pixels with OD below ``beta`` in any channel
    (glass) are ignored; ``alpha`` is the angle percentile of the method.
    """
    m = _macenko()
    m.fit(_to_uint8(image), Io=glass_intensity * 255, alpha=alpha, beta=beta)
    return np.asarray(m.HERef, float).T


def normalise_macenko(image: np.ndarray, target: np.ndarray, glass_intensity: float = 240 / 255,
                      alpha: float = 1.0, beta: float = 0.15) -> np.ndarray:
    """``image`` re-stained to look like ``target`` (Macenko et al., ISBI 2009).

    Both are RGB float in [0, 1]. The stain vectors and 99th-percentile concentrations of
    each are estimated from their optical densities (``-ln(I / I0)`` with
    ``I0 = glass_intensity``); ``image``'s concentrations are rescaled to ``target``'s and
    remixed with ``target``'s vectors. Computed by ``torchstain``'s numpy back end on 8-bit
    values, so the result is quantised to 1/255. Returns float32 RGB.
    """
    m = _macenko()
    io_ = glass_intensity * 255
    m.fit(_to_uint8(target), Io=io_, alpha=alpha, beta=beta)
    norm, _, _ = m.normalize(_to_uint8(image), Io=io_, alpha=alpha, beta=beta, stains=False)
    return (np.asarray(norm, np.float32) / 255.0).astype(np.float32)
