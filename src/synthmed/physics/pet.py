"""PET-like images of [18F]FDG uptake: standardised uptake values, scanner blur, counts.

Three steps, each a function:

1. :func:`fdg_suv`: a tissue map to the true standardised uptake value (SUV, g/mL) per
   voxel, from :data:`FDG_SUV` (a static scan 30–60 min after injection).
2. :func:`pet_acquire`: the scanner's point-spread function (an isotropic Gaussian of
   ``fwhm_mm``, 4–6 mm for clinical whole-body scanners, ~2.5 mm for brain-dedicated
   ones), Poisson counts on the blurred activity and the reconstruction's post-filter,
   which correlates the noise as OSEM images are. Partial-volume loss in small or thin
   structures (cortex, small metastases) follows from the blur.

This is "PET-like": no attenuation, scatter, randoms, time of flight or iterative
reconstruction are modelled; counts are Poisson per voxel, not per line of response.

Uptake values (SUV at ~60 min, adult, fasting)
----------------------------------------------
Normal cortex SUVmean 6–10 and white matter about a third of it (grey:white ratio 2.5–4)
are the ranges of clinical brain FDG PET (EANM procedure guidelines for brain FDG PET,
Varrone et al., Eur J Nucl Med Mol Imaging 36 (2009) 2103; Guedj et al., EJNMMI 49 (2022)
632). Deep grey nuclei take up like cortex, the cerebellum slightly less (~0.8× cortex),
the brainstem about as white matter plus. Blood pool SUV ~1.5–2 at 60 min. High-grade
glioma and metastases: tumour-to-white-matter ratio > 1.5, often at or above cortex
(Chen, J Nucl Med 48 (2007) 1468); necrosis is photopenic; peritumoral oedema is
hypometabolic (below white matter). Acute infarcts are photopenic (~0.3× cortex); MS
plaques are slightly below white matter.

Example
-------
>>> import numpy as np
>>> names = ["background", "grey_matter", "white_matter"]
>>> tissue = np.zeros((8, 16, 16), np.uint8); tissue[2:6, 4:12, 4:8] = 1; tissue[2:6, 4:12, 8:12] = 2
>>> suv = fdg_suv(tissue, names)
>>> round(float(suv[3, 6, 5]), 2), round(float(suv[3, 6, 9]), 2)
(8.0, 2.8)
>>> pet = pet_acquire(suv, (2.0, 2.0, 2.0), np.random.default_rng(0), fwhm_mm=4.0)
>>> pet.shape, pet.dtype
((8, 16, 16), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["FDG_SUV", "fdg_suv", "pet_acquire"]

# SUV (g/mL) by tissue name; see the module docstring for the sources. Tissues not named
# (and "background": air) take 0.
FDG_SUV: dict[str, float] = {
    "scalp": 0.9,               # skin and muscle
    "fat": 0.4,
    "skull": 0.3,               # cortical bone
    "diploe": 1.0,              # red/yellow marrow
    "csf": 0.2,
    "ventricles": 0.2,
    "grey_matter": 8.0,
    "white_matter": 2.8,        # grey:white 2.9
    "deep_grey": 8.5,
    "cerebellum": 6.5,
    "brainstem": 3.8,
    "vessels": 1.8,             # blood pool (venous sinuses, arteries)
    "enhancing_tumour": 9.5,    # high-grade glioma / metastasis rim
    "necrosis": 0.6,
    "oedema": 2.0,              # hypometabolic, below white matter
    "ms_lesion": 2.3,
    "infarct": 2.2,             # acute: ~0.3× cortex
}


def fdg_suv(tissue: np.ndarray, names: Sequence[str], *,
            suv: dict[str, float] | None = None) -> np.ndarray:
    """True FDG uptake per voxel (SUV, g/mL) of a tissue map.

    Parameters
    ----------
    tissue : integer ndarray
        Tissue ids; ``names[k]`` names id ``k``.
    names : sequence of str
        Tissue names indexed by id; names not in the table take 0.
    suv : dict, optional
        Values replacing entries of :data:`FDG_SUV` (e.g. ``{"enhancing_tumour": 4.0}``
        for a low-uptake tumour).

    Returns
    -------
    float32 ndarray of ``tissue``'s shape.
    """
    table = {**FDG_SUV, **(suv or {})}
    lut = np.array([table.get(name, 0.0) for name in names], np.float32)
    return lut[tissue]


def pet_acquire(suv: np.ndarray, spacing_mm: Sequence[float], rng: np.random.Generator | None,
                *, fwhm_mm: float = 5.0, counts_per_ml: float = 2.0e4,
                postfilter_mm: float = 3.0) -> np.ndarray:
    """A PET-like image (SUV) of a true uptake map: PSF blur, Poisson counts, post-filter.

    Parameters
    ----------
    suv : ndarray, shape (z, y, x)
        True uptake (SUV, g/mL), voxel size ``spacing_mm`` (mm, array order).
    rng : numpy.random.Generator or None
        Random stream of the counts; ``None``: noiseless (blur only).
    fwhm_mm : float
        Full width at half maximum of the scanner's Gaussian point-spread function, mm.
    counts_per_ml : float
        Detected counts per mL of tissue at SUV 1 (the dose × time × sensitivity budget):
        a voxel of ``v`` mL at SUV ``s`` has Poisson counts of mean ``s · v · counts_per_ml``.
        Lower is noisier; 2e4 gives ~10 % noise in 2 mm cortex voxels after the post-filter.
    postfilter_mm : float
        FWHM of the Gaussian post-reconstruction filter, mm (0: none).

    Returns
    -------
    float32 ndarray
        SUV, same shape; noise is correlated over ``postfilter_mm``.
    """
    if fwhm_mm < 0 or postfilter_mm < 0 or counts_per_ml <= 0:
        raise ValueError(f"fwhm_mm and postfilter_mm must be >= 0 and counts_per_ml > 0, "
                         f"got {fwhm_mm}, {postfilter_mm}, {counts_per_ml}")
    spacing = np.asarray(spacing_mm, float)
    image = _gaussian(np.asarray(suv, np.float32), fwhm_mm, spacing)
    if rng is not None:
        scale = float(np.prod(spacing)) / 1000.0 * counts_per_ml      # counts per SUV
        counts = rng.poisson(np.maximum(image, 0).astype(np.float64) * scale)
        image = _gaussian((counts / scale).astype(np.float32), postfilter_mm, spacing)
    return image.astype(np.float32, copy=False)


def _gaussian(image: np.ndarray, fwhm_mm: float, spacing: np.ndarray) -> np.ndarray:
    if fwhm_mm == 0:
        return image
    sigma = fwhm_mm / (2 * np.sqrt(2 * np.log(2))) / spacing
    return ndimage.gaussian_filter(image, sigma, mode="nearest")
