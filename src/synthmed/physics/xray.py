"""Projection radiography: an acquisition model from tube to "for presentation" image.

Each step is one small function; :func:`project` chains them.

1. :func:`spectrum` — the tungsten-anode tube spectrum from ``spekpy`` (kVp, anode angle,
   aluminium and copper filtration, position along the anode–cathode axis), grouped into a
   few energy bins; :func:`fluence_per_mas` gives its photon fluence at the detector.
2. :func:`mass_attenuation` — NIST mass attenuation coefficients (``xraydb``, Elam/XCOM data)
   of ICRU-44 body tissues, contrast medium and device metals, in cm²/g.
3. :func:`project` — Beer–Lambert transmission per energy bin through per-material path
   lengths, an energy-integrating CsI detector, the heel effect (:func:`heel_profile`),
   kernel-based scatter with or without an anti-scatter grid (:func:`scatter_signal`), quantum noise
   scaled by mAs, electronic noise and detector blur (Gaussian MTF). Returns the detector
   signal normalised to an unattenuated (air) exposure: about 1 in air, lower behind the body.
4. :func:`display` — what a radiography system does before showing an image: log transform,
   large-area dynamic range compression, unsharp masking and a window (film-like sigmoid or
   linear), so that bone and dense tissue are bright and lung is dark, in [0, 1].

:func:`half_value_layer_mm_al` measures a spectrum's first HVL with the same attenuation data,
which ties the pieces together: it agrees with ``spekpy``'s own HVL (tested).

Example
-------
>>> import numpy as np
>>> from synthmed.physics.xray import project, display
>>> slab = {"soft_tissue": np.full((8, 8), 20.0, np.float32)}
>>> sig = project(slab, spacing_mm=1.0, kvp=110, mas=2.0, rng=np.random.default_rng(0),
...               scatter=False)
>>> bool(0.0 < sig.mean() < 0.2)
True
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from scipy import ndimage

from synthmed._io import atomic_path, cache_dir

__all__ = ["MATERIALS", "mass_attenuation", "linear_attenuation", "air_kerma_coefficient",
           "spectrum", "fluence_per_mas", "half_value_layer_mm_al", "heel_profile",
           "scatter_to_primary_ratio", "scatter_signal", "mtf", "project", "display",
           "collimation"]

# Density (g/cm³) and composition (mass fractions). Body tissues are ICRU Report 44 (1989)
# as tabulated by NIST (Hubbell & Seltzer, "Tables of X-Ray Mass Attenuation Coefficients
# and Mass Energy-Absorption Coefficients", NIST Standard Reference Database 126, Table 2).
# "lung" is ICRU-44 lung tissue at the density of inflated, air-filled lung (0.26 g/cm³,
# ICRU Report 46) so that a path length through the lung field can be used directly.
# "iodine_contrast" is iohexol 647 mg/mL in water (300 mg I/mL, 1.349 g/cm³, e.g. Omnipaque
# 300); "stainless_steel" is AISI 316L (nominal composition).
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
    "iodine_contrast": (1.349, {"H": .0735, "C": .1333, "N": .0246, "O": .5463, "I": .2223}),
    "aluminium": (2.699, {"Al": 1.0}),
    "titanium": (4.506, {"Ti": 1.0}),
    "stainless_steel": (8.0, {"Fe": .65, "Cr": .17, "Ni": .12, "Mo": .025, "Mn": .02,
                              "Si": .01, "C": .005}),
    "copper": (8.96, {"Cu": 1.0}),
    "lead": (11.35, {"Pb": 1.0}),
    "csi": (4.51, {"Cs": .511549, "I": .488451}),
}

# Mass energy-absorption coefficient of dry air, μen/ρ in cm²/g (NIST SRD 126, "Air, Dry
# (near sea level)"), for air kerma: keV -> cm²/g; log-log interpolated.
_AIR_MU_EN = ((10, 4.742), (15, 1.334), (20, 0.5389), (30, 0.1537), (40, 0.06833),
              (50, 0.04098), (60, 0.03041), (80, 0.02407), (100, 0.02325), (150, 0.02496))

# Anti-scatter grid (focused, ratio ~10:1, 40 lines/cm): primary and scatter transmission.
_GRID_PRIMARY, _GRID_SCATTER = 0.72, 0.12


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


def air_kerma_coefficient(energy_kev) -> np.ndarray:
    """Mass energy-absorption coefficient of air, μen/ρ in cm²/g (NIST SRD 126).

    Air kerma per photon is ``E · μen/ρ``; used to weight spectra for half-value layers.

    >>> round(float(air_kerma_coefficient(60.0)), 4)
    0.0304
    """
    e, m = np.log(np.array(_AIR_MU_EN, float)).T
    return np.exp(np.interp(np.log(np.asarray(energy_kev, float)), e, m))


@lru_cache(maxsize=256)
def _spekpy_spectrum(kvp: float, al: float, cu: float, anode_angle: float, x_cm: float,
                     sid_cm: float) -> tuple[np.ndarray, np.ndarray]:
    """spekpy spectrum, cached in memory and on disk (``cache_dir("spectra")``): spekpy
    takes ~0.3 s per spectrum and its output depends only on these arguments and its version.
    """
    import spekpy

    key = f"{spekpy.__version__}_{kvp}_{al}_{cu}_{anode_angle}_{x_cm}_{sid_cm}"
    path = cache_dir("spectra") / (hashlib.sha1(key.encode()).hexdigest()[:20] + ".npy")
    try:
        k, n = np.load(path)
    except (OSError, ValueError):
        s = spekpy.Spek(kvp=kvp, th=anode_angle, dk=0.5, x=x_cm, z=sid_cm)
        if al > 0:
            s.filter("Al", al)
        if cu > 0:
            s.filter("Cu", cu)
        k, fluence = s.get_spectrum(edges=False)  # photons / cm² / mAs / keV at z
        k, n = np.asarray(k, float), np.asarray(fluence, float) * 0.5 / 100.0  # per mm², bin
        _try_save(path, np.stack([k, n]))
    keep = n > 0
    return k[keep], n[keep]


def _try_save(path, array: np.ndarray) -> None:
    """Write a cache file atomically; a cache that cannot be written is simply not kept."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, array)
    except OSError:
        pass


def _fine_spectrum(kvp, filtration_mm_al, filtration_mm_cu, anode_angle_deg,
                   offaxis_mm=0.0, sid_mm=1000.0):
    """spekpy spectrum, photons/mm² per 0.5 keV bin per mAs; kVp to the nearest 1 kV."""
    return _spekpy_spectrum(float(round(kvp)), round(float(filtration_mm_al), 3),
                            round(float(filtration_mm_cu), 3), round(float(anode_angle_deg), 2),
                            round(float(offaxis_mm) / 10.0, 2), round(float(sid_mm) / 10.0, 1))


def spectrum(kvp: float, n_bins: int = 8, filtration_mm_al: float = 2.5,
             filtration_mm_cu: float = 0.0, anode_angle_deg: float = 12.0
             ) -> tuple[np.ndarray, np.ndarray]:
    """Filtered tungsten-anode photon spectrum (``spekpy``) grouped into energy bins.

    ``spekpy`` models bremsstrahlung and characteristic lines from the anode (self-filtration
    set by the anode angle) and the added filtration; 0.5 keV bins are grouped into
    ``n_bins`` bins of equal width between 10 keV and ``kvp``. The kVp is taken to the
    nearest 1 kV (a generator console's step) so that spectra can be cached.

    Parameters
    ----------
    kvp : float
        Tube peak voltage in kV (the maximum photon energy in keV), 30..150.
    n_bins : int
        Number of energy bins returned (bins with no photons are dropped).
    filtration_mm_al, filtration_mm_cu : float
        Total filtration in mm of aluminium and of copper.
    anode_angle_deg : float
        Anode (target) angle in degrees.

    Returns
    -------
    energies_kev : ndarray
        Fluence-weighted mean energy of each bin in keV.
    weights : ndarray
        Fraction of the photons in each bin (sums to 1).

    Examples
    --------
    >>> e, w = spectrum(80, n_bins=4)
    >>> bool(abs(w.sum() - 1) < 1e-9 and 30 < (e * w).sum() < 50)
    True
    """
    k, n = _fine_spectrum(kvp, filtration_mm_al, filtration_mm_cu, anode_angle_deg)
    return _bin(k, n, float(kvp), int(n_bins))


def _bin(k: np.ndarray, n: np.ndarray, kvp: float, n_bins: int):
    edges = np.linspace(min(10.0, k[0]), kvp, n_bins + 1)
    idx = np.clip(np.digitize(k, edges) - 1, 0, n_bins - 1)
    w = np.bincount(idx, weights=n, minlength=n_bins)
    ebar = np.bincount(idx, weights=n * k, minlength=n_bins) / np.maximum(w, 1e-30)
    keep = w > 1e-6 * w.sum()
    return ebar[keep], w[keep] / w[keep].sum()


def fluence_per_mas(kvp: float, sid_mm: float = 1000.0, filtration_mm_al: float = 2.5,
                    filtration_mm_cu: float = 0.0, anode_angle_deg: float = 12.0) -> float:
    """Unattenuated photon fluence at the detector on the central axis, photons/mm² per mAs.

    From ``spekpy`` (inverse-square law to the source–image distance ``sid_mm``).

    >>> f = fluence_per_mas(80, sid_mm=1000, filtration_mm_al=2.5)
    >>> bool(1e5 < f < 1e7)
    True
    """
    _, n = _fine_spectrum(kvp, filtration_mm_al, filtration_mm_cu, anode_angle_deg,
                          sid_mm=sid_mm)
    return float(n.sum())


def half_value_layer_mm_al(energies_kev, weights) -> float:
    """First half-value layer in mm of aluminium of a spectrum, by air kerma.

    Solves ``Σ w E μen(E) exp(-μ_Al(E) x) = ½ Σ w E μen(E)`` for ``x`` with NIST data
    (:func:`mass_attenuation`, :func:`air_kerma_coefficient`).

    >>> e, w = spectrum(80, n_bins=140, filtration_mm_al=2.5)
    >>> round(half_value_layer_mm_al(e, w), 1)   # spekpy's own get_hvl1(): 2.73 mm
    2.7
    """
    from scipy.optimize import brentq

    e, w = np.asarray(energies_kev, float), np.asarray(weights, float)
    kerma = w * e * air_kerma_coefficient(e)
    mu = linear_attenuation("aluminium", e) / 10.0  # 1/mm
    half = 0.5 * kerma.sum()
    return float(brentq(lambda x: (kerma * np.exp(-mu * x)).sum() - half, 0.0, 200.0,
                        xtol=1e-6))


def heel_profile(n_pixels: int, spacing_mm: float, kvp: float, sid_mm: float = 1000.0,
                 anode_angle_deg: float = 12.0, filtration_mm_al: float = 2.5,
                 filtration_mm_cu: float = 0.0) -> np.ndarray:
    """Relative fluence along the anode–cathode axis (the heel effect), 1 on the central ray.

    Pixel 0 is on the anode side, where photons leave the target at a grazing angle and are
    more attenuated in it. ``spekpy`` is evaluated every 5 cm from the central ray at the
    nearest 10 kV (the profile's shape changes slowly with kVp), and interpolated linearly.

    >>> p = heel_profile(300, 1.0, 80)   # 30 cm field at 100 cm: ~25 % less at the anode edge
    >>> bool(0.7 < p[0] < 0.8 and p[150] > p[0] and abs(p[-1] - 1) < 0.05)
    True
    """
    half = 0.5 * (n_pixels - 1) * spacing_mm
    reach = 50.0 * np.ceil(half / 50.0)
    xs_mm = np.arange(-reach, reach + 1.0, 50.0)
    kv = float(np.clip(10.0 * round(kvp / 10.0), 30.0, 150.0))
    f0 = fluence_per_mas(kv, sid_mm, filtration_mm_al, filtration_mm_cu, anode_angle_deg)
    rel = [_fine_spectrum(kv, filtration_mm_al, filtration_mm_cu, anode_angle_deg,
                          offaxis_mm=x, sid_mm=sid_mm)[1].sum() / f0 for x in xs_mm]
    return np.interp(np.linspace(-half, half, n_pixels), xs_mm, rel).astype(np.float32)


def scatter_to_primary_ratio(water_equivalent_cm, grid: bool = True) -> np.ndarray:
    """Scatter-to-primary ratio behind a patient of the given water-equivalent thickness.

    Large-field, 70–120 kVp: SPR ≈ 0.19 per cm of water without a grid (about 2 for 10 cm,
    4 for 20 cm; Boone & Seibert, Med. Phys. 15 (1988) 713), reduced by the grid's scatter
    to primary transmission (0.12 / 0.72 for a 10:1 grid).

    >>> round(float(scatter_to_primary_ratio(20.0, grid=False)), 1)
    3.8
    """
    spr = 0.19 * np.maximum(np.asarray(water_equivalent_cm, float), 0.0)
    return spr * (_GRID_SCATTER / _GRID_PRIMARY) if grid else spr


def scatter_signal(primary: np.ndarray, water_equivalent_cm: np.ndarray, spacing_mm: float,
            grid: bool = True) -> np.ndarray:
    """Scatter reaching the detector, by convolving primary × SPR with a broad kernel.

    Kernel-based scatter estimation (Love & Kruger, Med. Phys. 14 (1987) 178): each pixel's
    scatter is the primary behind it times the local scatter-to-primary ratio
    (:func:`scatter_to_primary_ratio`), spread by a two-Gaussian kernel (σ = 15 and 60 mm,
    weights 0.3 and 0.7) that integrates to 1, so the SPR of a uniform slab is preserved.

    Parameters
    ----------
    primary : ndarray
        Primary signal at the detector (any linear unit).
    water_equivalent_cm : ndarray
        Mass thickness of the patient along each ray in g/cm² (= cm of water).
    spacing_mm : float
        Pixel size in mm.
    grid : bool
        Whether an anti-scatter grid is in place.

    Returns
    -------
    ndarray
        Scatter signal in the unit of ``primary``.
    """
    source = primary * scatter_to_primary_ratio(water_equivalent_cm, grid)
    return (0.3 * _very_smooth(source, spacing_mm, 15.0)
            + 0.7 * _very_smooth(source, spacing_mm, 60.0)).astype(np.float32)


def mtf(frequency_lp_mm, blur_mm: float) -> np.ndarray:
    """Modulation transfer function of the Gaussian detector blur used by :func:`project`.

    ``MTF(f) = exp(-2 π² σ² f²)`` for a point-spread function of standard deviation ``σ``
    (``blur_mm``) and spatial frequency ``f`` in line pairs per mm.

    >>> round(float(mtf(1.0, 0.3)), 3)   # σ = 0.3 mm: MTF at 1 lp/mm
    0.169
    """
    f = np.asarray(frequency_lp_mm, float)
    return np.exp(-2.0 * np.pi ** 2 * blur_mm ** 2 * f ** 2)


def project(path_length_cm: dict[str, np.ndarray], spacing_mm: float, kvp: float, mas: float,
            rng: np.random.Generator | None, *, n_bins: int = 8, noise: bool = True,
            sid_mm: float = 1000.0, filtration_mm_al: float = 2.5,
            filtration_mm_cu: float = 0.0, anode_angle_deg: float = 12.0, heel: bool = True,
            scatter: bool = True, grid: bool = True, blur_mm: float = 0.3,
            glare: float = 0.0, electronic_noise: float = 2.0,
            scintillator_mm: float = 0.6) -> np.ndarray:
    """Simulate the detector signal of a projection radiograph.

    Parameters
    ----------
    path_length_cm : dict of str to ndarray
        Path length in cm through each material (keys of :data:`MATERIALS`) along the ray that
        reaches each detector pixel; all arrays have the detector's shape ``(rows, cols)``.
        (:func:`synthmed.physics.drr.path_lengths_from_ct` makes them from a CT volume.)
    spacing_mm : float
        Detector pixel size in mm (square pixels).
    kvp : float
        Tube voltage in kV.
    mas : float
        Tube current–time product in mAs; sets the photon fluence and so the quantum noise.
    rng : numpy.random.Generator or None
        Random stream for the noise (``None`` or ``noise=False``: noiseless).
    n_bins : int
        Energy bins of the polychromatic spectrum.
    sid_mm : float
        Source–image distance in mm (fluence by the inverse-square law).
    filtration_mm_al, filtration_mm_cu, anode_angle_deg : float
        Tube filtration in mm and anode angle in degrees (see :func:`spectrum`).
    heel : bool
        Apply the heel effect along the rows (anode at the top of the image).
    scatter, grid : bool
        Add kernel-based scatter (:func:`scatter_signal`); with an anti-scatter grid in place.
    blur_mm : float
        Standard deviation in mm of the Gaussian detector point-spread function
        (see :func:`mtf`).
    glare : float
        Fraction of the detected signal spread over centimetres (σ = 40 mm) by light
        scattering in the detector — the low-frequency drop of the MTF, large in computed
        radiography phosphor plates (~0.1–0.25) and small in CsI flat panels (~0.05).
    electronic_noise : float
        Standard deviation of additive detector read noise, in detected quanta per pixel.
    scintillator_mm : float
        CsI thickness in mm, for the detector's energy-dependent absorption.

    Returns
    -------
    float32 ndarray
        Detector signal relative to an unattenuated exposure (about 1 in air; dimensionless).

    Notes
    -----
    Quantum noise is drawn as ``N(λ, λ)`` (the Gaussian limit of Poisson counting, exact to
    well under 1 % for the hundreds of quanta per pixel of any clinical exposure). Its
    standard-normal field does not depend on the image, so re-rendering an edited phantom with
    the same ``rng`` changes the noise only where the signal changed.
    """
    energies, weights = spectrum(kvp, n_bins, filtration_mm_al, filtration_mm_cu,
                                 anode_angle_deg)
    eta = 1.0 - np.exp(-linear_attenuation("csi", energies) * scintillator_mm / 10.0)
    names = [k for k, v in path_length_cm.items() if v is not None]
    shape = np.shape(path_length_cm[names[0]])
    mus = np.stack([linear_attenuation(k, energies) for k in names])  # (materials, bins)
    stack = np.stack([np.broadcast_to(np.asarray(path_length_cm[k], np.float32), shape).ravel()
                      for k in names])
    trans = np.exp(-(mus.T.astype(np.float32) @ stack))  # (bins, pixels)
    q_w = (weights * eta).astype(np.float32)             # detected quanta per incident photon
    e_w = (weights * eta * energies).astype(np.float32)  # signal (keV) per incident photon
    quanta = (q_w @ trans).reshape(shape)
    energy = (e_w @ trans).reshape(shape)
    if scatter:
        density = np.array([MATERIALS[k][0] for k in names], np.float32)
        water_cm = (density @ stack).reshape(shape)
        sc = scatter_signal(quanta, water_cm, spacing_mm, grid)
        energy = energy + sc * float(energy.mean() / max(quanta.mean(), 1e-12))
        quanta = quanta + sc
    if heel:
        profile = heel_profile(shape[0], spacing_mm, kvp, sid_mm, anode_angle_deg,
                               filtration_mm_al, filtration_mm_cu)[:, None]
        quanta, energy = quanta * profile, energy * profile
    air_energy = float(e_w.sum())
    if noise and rng is not None:
        n0 = (fluence_per_mas(kvp, sid_mm, filtration_mm_al, filtration_mm_cu, anode_angle_deg)
              * mas * spacing_mm ** 2 * (_GRID_PRIMARY if grid else 1.0))
        lam = quanta * n0
        z = rng.standard_normal((2, *shape), dtype=np.float32)
        counts = np.maximum(lam + np.sqrt(lam) * z[0] + electronic_noise * z[1], 0.0)
        mean_e = energy / np.maximum(quanta, 1e-12)
        signal = counts * mean_e / (n0 * air_energy)
    else:
        signal = energy / air_energy
    if glare > 0:
        signal = (1.0 - glare) * signal + glare * _very_smooth(signal, spacing_mm, 40.0)
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
            window: tuple[float, float] | None = None, curve: str = "sigmoid",
            gamma: float = 1.0, contrast: float = 3.2, level: float = -0.1) -> np.ndarray:
    """Turn a detector signal into a radiograph for presentation.

    Log transform (to line integrals, so attenuation adds up), dynamic range compression
    (subtract part of a heavily smoothed copy so dense and thin parts both show), unsharp
    masking (edge enhancement), then a window: the processed signal is scaled between two
    percentiles of the patient's pixels (or a fixed ``window``) and passed through a logistic
    (film-like) curve with a soft toe and shoulder, or a linear ramp with clipping.
    Bright = more attenuation (bone, heart, metal); dark = lung and air.

    Parameters
    ----------
    signal : ndarray
        Detector signal relative to air, as from :func:`project`.
    spacing_mm : float
        Pixel size in mm (the filter sizes are in mm).
    drc_amount, drc_sigma_mm : float
        Fraction of the large-area signal removed (0 = off), and its smoothing scale in mm.
    unsharp_amount, unsharp_sigma_mm : float
        Edge-enhancement gain (0 = off) and the scale of the blurred copy in mm.
    window_percentiles : (float, float)
        Percentiles of the patient's processed signal that set the window.
    window : (float, float), optional
        A fixed window in processed log units instead of percentiles, so two renders of an
        edited phantom share one grey scale.
    curve : {"sigmoid", "linear"}
        Film-like logistic curve (window ends at about 0.1 and 0.9 for ``contrast`` 3.2),
        or a linear ramp from 0 to 1 across the window.
    gamma : float
        Exponent applied to the output (> 1 darkens mid-greys).
    contrast : float
        Slope of the logistic curve (film gamma); higher = more contrast.
    level : float
        Shift of the curve's midpoint in window units (positive = darker image).

    Returns
    -------
    float32 ndarray in [0, 1]
    """
    if curve not in ("sigmoid", "linear"):
        raise ValueError(f"curve must be 'sigmoid' or 'linear', got {curve!r}")
    p = -np.log(np.maximum(signal, 1e-6)).astype(np.float32)
    body = p > 0.15 * np.percentile(p, 95)  # the patient, not direct air
    if body.sum() <= 16:
        body = np.ones_like(body)
    if drc_amount > 0:
        low = _very_smooth(p, spacing_mm, drc_sigma_mm)
        p = p - drc_amount * (low - float(np.median(low[body])))
    if unsharp_amount > 0:
        p = p + unsharp_amount * (p - ndimage.gaussian_filter(p, unsharp_sigma_mm / spacing_mm))
    lo, hi = window if window is not None else np.percentile(p[body], window_percentiles)
    x = (p - lo) / max(hi - lo, 1e-6)
    if curve == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-contrast * (x - 0.5 - level)))
    else:
        out = np.clip(x, 0.0, 1.0)
    if gamma != 1.0:
        out = out ** gamma
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def collimation(shape: tuple[int, int], rng: np.random.Generator, probability: float = 0.45
                ) -> tuple[np.ndarray, float] | None:
    """Sometimes a tighter collimator than the detector: unexposed margins at the edges.

    With ``probability``, each of the four collimator blades is closed in by up to 4–8 % of
    the image, with a penumbra of 0.4 % of the image size.

    Returns
    -------
    (weight, grey) or None
        ``weight`` is 1 where the detector was exposed and 0 under the blades (float, soft
        edge); ``grey`` the displayed value of the unexposed margin (bright, 0.82–0.97).
        Blend with ``image * weight + grey * (1 - weight)``.

    >>> w, grey = collimation((64, 64), np.random.default_rng(3), probability=1.0)
    >>> bool(w[32, 32] == 1.0 and 0.82 <= grey <= 0.97)
    True
    """
    if rng.random() > probability:
        return None
    h, w = shape
    top, bottom = rng.uniform(0, 0.04) * h, rng.uniform(0, 0.08) * h
    left, right = rng.uniform(0, 0.05) * w, rng.uniform(0, 0.05) * w
    pen = max(1.0, 0.004 * max(h, w))
    r = np.arange(h)[:, None] + 0.5
    c = np.arange(w)[None, :] + 0.5
    inside = (np.clip((r - top) / pen, 0, 1) * np.clip((h - bottom - r) / pen, 0, 1) *
              np.clip((c - left) / pen, 0, 1) * np.clip((w - right - c) / pen, 0, 1))
    return inside, rng.uniform(0.82, 0.97)
