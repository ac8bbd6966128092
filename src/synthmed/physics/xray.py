"""Projection radiography: Beer–Lambert attenuation through material path lengths.

The model, step by step (each step is one small function):

1. :func:`spectrum` — a tungsten-anode tube spectrum (Kramers' law) hardened by the tube's
   inherent and added filtration, grouped into a few energy bins.
2. :func:`mass_attenuation` — NIST mass attenuation coefficients (``xraydb``, Elam/XCOM data)
   of ICRU-44 body tissues and other materials, in cm²/g.
3. :func:`project` — polychromatic Beer–Lambert transmission through per-material path-length
   maps, energy-integrating CsI detector, a simple scatter estimate, Poisson quantum noise
   scaled by mAs, and detector blur (Gaussian MTF). Returns the detector signal normalised
   to an unattenuated (air) exposure: about 1 in air, lower behind the body.
4. :func:`display` — what a radiography system does before showing an image: log
   transform, large-area dynamic range compression, unsharp masking and a film-like
   (sigmoid) characteristic curve anchored on percentiles of the patient, so that
   bone and dense tissue are bright and lung is dark ("for presentation" image, [0, 1]).

Example
-------
>>> import numpy as np
>>> from synthmed.physics.xray import project, display
>>> slab = {"soft_tissue": np.full((8, 8), 20.0, np.float32)}
>>> sig = project(slab, spacing_mm=1.0, kvp=110, mas=2.0, rng=np.random.default_rng(0))
>>> bool(0.0 < sig.mean() < 0.2)
True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = ["MATERIALS", "mass_attenuation", "linear_attenuation", "spectrum", "project",
           "display", "photons_per_mm2"]

# Density (g/cm³) and composition (mass fractions). Body tissues are ICRU Report 44 (1989)
# as tabulated by NIST (Hubbell & Seltzer, "Tables of X-Ray Mass Attenuation Coefficients
# and Mass Energy-Absorption Coefficients", NIST Standard Reference Database 126, Table 2).
# "lung" is ICRU-44 lung tissue at the density of inflated, air-filled lung (0.26 g/cm³,
# ICRU Report 46) so that a path length through the lung field can be used directly.
MATERIALS: dict[str, tuple[float, dict[str, float]]] = {
    "soft_tissue": (1.06, {"H": .102, "C": .143, "N": .034, "O": .708, "Na": .002,
                           "P": .003, "S": .003, "Cl": .002, "K": .003}),
    "adipose": (0.95, {"H": .114, "C": .598, "N": .007, "O": .278, "Na": .001, "S": .001,
                       "Cl": .001}),
    "bone": (1.92, {"H": .034, "C": .155, "N": .042, "O": .435, "Na": .001, "Mg": .002,
                    "P": .103, "S": .003, "Ca": .225}),  # cortical bone, ICRU-44
    "lung": (0.26, {"H": .103, "C": .105, "N": .031, "O": .749, "Na": .002, "P": .002,
                    "S": .003, "Cl": .003, "K": .002}),
    "water": (1.0, {"H": .111894, "O": .888106}),
    "air": (0.001205, {"C": .000124, "N": .755268, "O": .231781, "Ar": .012827}),
    "aluminium": (2.699, {"Al": 1.0}),
    "copper": (8.96, {"Cu": 1.0}),
    "lead": (11.35, {"Pb": 1.0}),
    "csi": (4.51, {"Cs": .511549, "I": .488451}),
}

# Unattenuated photon fluence at the detector per mAs and kV², for a chest set-up
# (180 cm source–image distance, ~3 mm Al + 0.1 mm Cu, anti-scatter grid transmission
# ~0.6): about 25 µGy/mAs at 1 m for 100 kVp, ~3e4 photons/(mm² µGy).
_FLUENCE_PER_MAS_AT_100KV = 2.0e5  # photons / mm² / mAs


@lru_cache(maxsize=256)
def _mu_rho(material: str, energies_kev: tuple[float, ...]) -> np.ndarray:
    import xraydb  # NIST/Elam tables shipped with the package: works offline

    if material not in MATERIALS:
        raise ValueError(f"unknown material {material!r}; known: {', '.join(MATERIALS)}")
    energies_ev = np.asarray(energies_kev, float) * 1e3
    _, fractions = MATERIALS[material]
    mu = np.zeros(len(energies_kev))
    for element, w in fractions.items():
        mu += w * np.asarray(xraydb.mu_elam(element, energies_ev), float)
    mu.setflags(write=False)
    return mu


def mass_attenuation(material: str, energy_kev) -> np.ndarray | float:
    """Total mass attenuation coefficient μ/ρ in cm²/g (coherent scattering included).

    Parameters
    ----------
    material : str
        A key of :data:`MATERIALS` (``"soft_tissue"``, ``"bone"``, ``"lung"``, ``"water"``, ...)
        or ``"H2O"`` as an alias of water.
    energy_kev : float or array of float
        Photon energy in keV.

    Examples
    --------
    >>> round(float(mass_attenuation("H2O", 60)), 3)   # NIST XCOM: 0.2059 cm²/g
    0.206
    """
    material = {"H2O": "water"}.get(material, material)
    e = np.atleast_1d(np.asarray(energy_kev, float))
    mu = _mu_rho(material, tuple(e.tolist()))
    return float(mu[0]) if np.ndim(energy_kev) == 0 else mu.copy()


def linear_attenuation(material: str, energy_kev) -> np.ndarray | float:
    """Linear attenuation coefficient μ in 1/cm at the material's density in :data:`MATERIALS`."""
    material = {"H2O": "water"}.get(material, material)
    return mass_attenuation(material, energy_kev) * MATERIALS[material][0]


def spectrum(kvp: float, n_bins: int = 8, filtration_mm_al: float = 3.0,
             filtration_mm_cu: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Filtered tungsten-anode photon spectrum grouped into energy bins.

    Kramers' law for the bremsstrahlung photon number, ``dN/dE ∝ (kVp − E) / E``, attenuated by
    aluminium and copper filtration (NIST μ/ρ). Characteristic lines are left out.
    (To be replaced by ``spekpy`` spectra; the signature stays.)

    Parameters
    ----------
    kvp : float
        Tube peak voltage in kV (the maximum photon energy in keV).
    n_bins : int
        Number of energy bins returned.
    filtration_mm_al, filtration_mm_cu : float
        Total filtration in mm of aluminium and of copper.

    Returns
    -------
    energies_kev : ndarray, shape (n_bins,)
        Fluence-weighted mean energy of each bin in keV.
    weights : ndarray, shape (n_bins,)
        Fraction of the photons in each bin (sums to 1).
    """
    return _spectrum(float(kvp), int(n_bins), float(filtration_mm_al), float(filtration_mm_cu))


@lru_cache(maxsize=64)
def _spectrum(kvp, n_bins, al, cu):
    e = np.arange(10.0, kvp, 0.5) + 0.25
    n = (kvp - e) / e
    n *= np.exp(-linear_attenuation("aluminium", e) * al / 10.0
                - linear_attenuation("copper", e) * cu / 10.0)
    edges = np.linspace(e[0] - 0.25, kvp, n_bins + 1)
    idx = np.clip(np.digitize(e, edges) - 1, 0, n_bins - 1)
    w = np.bincount(idx, weights=n, minlength=n_bins)
    ebar = np.bincount(idx, weights=n * e, minlength=n_bins) / np.maximum(w, 1e-30)
    keep = w > 1e-6 * w.sum()
    return ebar[keep], w[keep] / w[keep].sum()


def photons_per_mm2(kvp: float, mas: float) -> float:
    """Unattenuated photon fluence at the detector, photons/mm², for a chest set-up."""
    return _FLUENCE_PER_MAS_AT_100KV * mas * (kvp / 100.0) ** 2


def project(path_length_cm: dict[str, np.ndarray], spacing_mm: float, kvp: float, mas: float,
            rng: np.random.Generator | None, *, n_bins: int = 8, noise: bool = True,
            blur_mm: float = 0.3, scatter_fraction: float = 0.2,
            filtration_mm_al: float = 3.0, filtration_mm_cu: float = 0.1,
            scintillator_mm: float = 0.6) -> np.ndarray:
    """Simulate the detector signal of a projection radiograph.

    Parameters
    ----------
    path_length_cm : dict of str to ndarray
        Path length in cm through each material (keys of :data:`MATERIALS`) along the ray that
        reaches each detector pixel; all arrays have the detector's shape ``(rows, cols)``.
    spacing_mm : float
        Detector pixel size in mm (square pixels).
    kvp : float
        Tube voltage in kV.
    mas : float
        Tube current–time product in mAs; sets the photon fluence and so the quantum noise.
    rng : numpy.random.Generator or None
        Random stream for the quantum noise (``None`` or ``noise=False``: noiseless).
    n_bins : int
        Energy bins of the polychromatic spectrum.
    blur_mm : float
        Standard deviation in mm of the Gaussian detector point-spread function (MTF).
    scatter_fraction : float
        Scatter-to-total ratio after the grid, modelled as a very smooth copy of the primary.
    filtration_mm_al, filtration_mm_cu : float
        Beam filtration in mm.
    scintillator_mm : float
        CsI thickness in mm, for the detector's energy-dependent absorption.

    Returns
    -------
    float32 ndarray
        Detector signal relative to an unattenuated exposure (about 1 in air; dimensionless).
    """
    energies, weights = spectrum(kvp, n_bins, filtration_mm_al, filtration_mm_cu)
    eta = 1.0 - np.exp(-linear_attenuation("csi", energies) * scintillator_mm / 10.0)
    shape = np.shape(next(iter(path_length_cm.values())))
    # line integrals per energy bin: sum over materials of mu(E) * L
    names = [k for k, v in path_length_cm.items() if v is not None]
    mus = np.stack([linear_attenuation(k, energies) for k in names])  # (materials, bins)
    stack = np.stack([np.asarray(path_length_cm[k], np.float32).ravel() for k in names])
    line = (mus.T.astype(np.float32) @ stack)  # (bins, pixels)
    trans = np.exp(-line)
    q_w = (weights * eta).astype(np.float32)          # detected quanta per incident photon
    e_w = (weights * eta * energies).astype(np.float32)  # signal (keV) per incident photon
    quanta = (q_w @ trans).reshape(shape)              # relative detected quanta
    energy = (e_w @ trans).reshape(shape)
    air_energy = float(e_w.sum())
    if scatter_fraction > 0:
        sf = scatter_fraction / (1.0 - scatter_fraction)
        sc_q = _very_smooth(quanta, spacing_mm, 40.0)
        quanta = quanta + sf * sc_q
        energy = energy + sf * sc_q * (energy.mean() / max(quanta.mean(), 1e-12))
    mean_e = energy / np.maximum(quanta, 1e-12)
    if noise and rng is not None:
        n0 = photons_per_mm2(kvp, mas) * spacing_mm ** 2
        lam = quanta * n0
        counts = rng.poisson(lam).astype(np.float32)
        signal = counts * mean_e / (n0 * air_energy)
    else:
        signal = energy / air_energy
    if blur_mm > 0:
        signal = ndimage.gaussian_filter(signal, blur_mm / spacing_mm, mode="nearest")
    return signal.astype(np.float32)


def _very_smooth(img: np.ndarray, spacing_mm: float, sigma_mm: float) -> np.ndarray:
    """Gaussian blur with a large kernel, computed on a coarse grid (fast)."""
    h, w = img.shape
    f = max(1, min(int(sigma_mm / spacing_mm / 4), h // 4, w // 4))
    small = img[: h - h % f or None, : w - w % f or None]
    if f > 1:
        small = small.reshape(small.shape[0] // f, f, small.shape[1] // f, f).mean((1, 3))
    small = ndimage.gaussian_filter(small, sigma_mm / spacing_mm / f, mode="nearest")
    if f == 1:
        return small
    zoom = (h / small.shape[0], w / small.shape[1])
    out = ndimage.zoom(small, zoom, order=1, mode="nearest", grid_mode=True)
    return out[:h, :w]


def display(signal: np.ndarray, spacing_mm: float, *, drc_amount: float = 0.6,
            drc_sigma_mm: float = 25.0, unsharp_amount: float = 0.6,
            unsharp_sigma_mm: float = 2.5, window_percentiles: tuple[float, float] = (0.5, 99.5),
            gamma: float = 1.0, contrast: float = 3.2, level: float = -0.1) -> np.ndarray:
    """Turn a detector signal into a chest radiograph for presentation.

    Log transform (to line integrals, so attenuation adds up), dynamic range compression
    (subtract part of a heavily smoothed copy so lung and mediastinum both show), unsharp
    masking (edge enhancement), then a film-like characteristic curve: the processed signal is
    scaled between two percentiles of the patient's pixels and passed through a logistic
    (sigmoid) curve with a soft toe and shoulder, so nothing large clips to pure black or white.
    Bright = more attenuation (bone, heart, metal); dark = lung and air.

    Parameters
    ----------
    signal : ndarray
        Detector signal relative to air, as from :func:`project`.
    spacing_mm : float
        Pixel size in mm (the filter sizes are in mm).
    drc_amount, drc_sigma_mm : float
        Fraction of the large-area signal removed, and its smoothing scale in mm.
    unsharp_amount, unsharp_sigma_mm : float
        Edge-enhancement gain and the scale of the blurred copy in mm.
    window_percentiles : (float, float)
        Percentiles of the patient's processed signal that anchor the characteristic curve
        (mapped to about 0.1 and 0.9 at the default ``contrast``).
    gamma : float
        Exponent applied to the output (>1 darkens mid-greys).
    contrast : float
        Slope of the logistic curve (film gamma); higher = more contrast, harder toe/shoulder.
    level : float
        Shift of the curve's midpoint in window units (positive = darker image).

    Returns
    -------
    float32 ndarray in [0, 1]
    """
    p = -np.log(np.maximum(signal, 1e-6)).astype(np.float32)
    body = p > 0.15 * np.percentile(p, 95)  # the patient, not direct air
    if body.sum() <= 16:
        body = np.ones_like(body)
    if drc_amount > 0:
        low = _very_smooth(p, spacing_mm, drc_sigma_mm)
        p = p - drc_amount * (low - float(np.median(low[body])))
    if unsharp_amount > 0:
        p = p + unsharp_amount * (p - ndimage.gaussian_filter(p, unsharp_sigma_mm / spacing_mm))
    lo, hi = np.percentile(p[body], window_percentiles)
    x = (p - lo) / max(hi - lo, 1e-6)
    out = 1.0 / (1.0 + np.exp(-contrast * (x - 0.5 - level)))
    if gamma != 1.0:
        out = out ** gamma
    return np.clip(out, 0.0, 1.0).astype(np.float32)
