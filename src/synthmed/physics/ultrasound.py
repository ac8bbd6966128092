"""B-mode ultrasound physics: scatterers, pulse-echo point-spread function, attenuation,
interfaces, detection and log compression.

Tissue is a set of regions, each with acoustic properties (:class:`Tissue`): speed of
sound, characteristic impedance, attenuation slope, echogenicity (RMS scatterer amplitude)
and scatterer density. The echo model is the linear, first-order (Born) one used by
Field II and most simulators: the RF signal is the scatterer map convolved with the
pulse-echo point-spread function (PSF), here separable into

* an axial Gaussian-modulated pulse (:func:`gaussian_pulse`, ``scipy.signal.gausspulse``),
* a lateral Gaussian beam profile whose width depends on depth (:func:`lateral_sigma_mm`):
  narrowest at the transmit focus, wider before and after it (Szabo 2014, ch. 6).

Along each beam line (round trip) the echo loses :func:`round_trip_attenuation_db` (tissue
attenuation, linear in frequency) and ``1 - R**2`` at every interface it crosses
(:func:`reflection_coefficient`, plane-wave Fresnel coefficients with Snell's law, so beams
striking a curved wall beyond the critical angle are totally reflected: edge shadows).
Interfaces also return a specular echo proportional to ``R``. Shadowing, posterior
enhancement and bright interfaces therefore follow from the tissue properties, not from
painting. Envelope detection (:func:`envelope`, Hilbert transform) and log compression
(:func:`log_compress`) make the B-mode image; :mod:`synthmed.physics.us_scan` adds probe
geometry, time-gain compensation and scan conversion.

Units: lengths in mm, frequencies in MHz, speeds in m/s, impedances in MRayl, attenuation
in dB/cm/MHz, times in µs.

Example
-------
>>> import numpy as np
>>> round(wavelength_mm(5.0), 3)                      # 1540 m/s at 5 MHz
0.308
>>> env = envelope(np.cos(np.linspace(0, 40 * np.pi, 400)))
>>> bool(np.allclose(env[50:-50], 1.0, atol=0.02))   # a pure tone has a flat envelope
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

__all__ = ["SPEED_OF_SOUND_M_S", "RAYLEIGH_SNR", "RAYLEIGH_LOG_STD_DB", "Tissue", "TISSUES",
           "wavelength_mm", "rf_sample_spacing_mm", "gaussian_pulse", "pulse_sigma_mm",
           "lateral_sigma_mm", "transmit_sigma_mm", "reflection_coefficient",
           "scatterer_amplitudes", "round_trip_attenuation_db", "envelope", "log_compress",
           "speckle_snr"]

#: Speed of sound assumed by the scanner to map echo time to depth (m/s), as all
#: clinical systems do; tissue speeds only enter through refraction and reflection.
SPEED_OF_SOUND_M_S = 1540.0
#: Mean / standard deviation of a Rayleigh-distributed envelope (fully developed speckle):
#: sqrt(pi / (4 - pi)) = 1.91 (Burckhardt 1978; Wagner et al., IEEE Trans. Sonics Ultrason.
#: 30:156, 1983).
RAYLEIGH_SNR = float(np.sqrt(np.pi / (4.0 - np.pi)))
#: Standard deviation of 20 log10 of a Rayleigh envelope in dB: (10 / ln 10) * pi / sqrt(6)
#: = 5.57 dB (Thijssen, Pattern Recogn. Lett. 24:659, 2003; Wagner et al. 1983).
RAYLEIGH_LOG_STD_DB = float(10.0 / np.log(10.0) * np.pi / np.sqrt(6.0))


@dataclass(frozen=True)
class Tissue:
    """Acoustic properties of one tissue region.

    Parameters
    ----------
    speed_m_s : float
        Speed of sound in m/s (refraction at interfaces, Snell's law).
    impedance_mrayl : float
        Characteristic acoustic impedance Z = rho c in MRayl (10^6 kg m^-2 s^-1).
    attenuation_db_cm_mhz : float
        Attenuation slope in dB/cm/MHz (attenuation linear in frequency).
    echogenicity : float
        RMS backscatter amplitude relative to a reference soft tissue (liver = 1);
        mean echo intensity scales with its square. 0 = anechoic.
    scatterer_density : float
        Mean number of scatterers per resolution cell; >= ~10 gives fully developed
        (Rayleigh) speckle, fewer gives a spikier, K-distributed texture.
    """

    speed_m_s: float
    impedance_mrayl: float
    attenuation_db_cm_mhz: float
    echogenicity: float
    scatterer_density: float = 20.0


# Speed, impedance and attenuation: approximate body-temperature values compiled from
# Culjat et al., "A review of tissue substitutes for ultrasound imaging", Ultrasound Med.
# Biol. 36:861 (2010), Table 1; Duck, "Physical Properties of Tissue" (1990), ch. 4; and
# Szabo, "Diagnostic Ultrasound Imaging: Inside Out", 2nd ed. (2014), Appendix B.
# Echogenicity (relative RMS backscatter) is set from the clinical appearance: fat and
# fetal brain hypoechoic, fibroglandular tissue, renal sinus and fibrous septa hyperechoic,
# fluid and blood anechoic (blood backscatter is ~30 dB below tissue at 2-10 MHz).
# "fetal_skull" (less mineralised than adult cortical bone) and "calcification" are
# assumed values chosen within the published ranges for bone.
TISSUES: dict[str, Tissue] = {
    "gel": Tissue(1540, 1.54, 0.02, 0.0),
    "water": Tissue(1520, 1.52, 0.005, 0.0),           # cyst fluid, amniotic fluid, urine
    "blood": Tissue(1584, 1.68, 0.20, 0.03),
    "fat": Tissue(1450, 1.38, 0.60, 0.32, 12.0),
    "skin": Tissue(1615, 1.70, 1.50, 1.60),             # dermis
    "fibrous": Tissue(1613, 1.75, 1.60, 2.20),          # ligaments, septa, capsules, falx
    "breast_gland": Tissue(1530, 1.58, 0.75, 1.90),     # fibroglandular parenchyma
    "muscle": Tissue(1580, 1.70, 1.10, 0.55),
    "liver": Tissue(1570, 1.66, 0.50, 1.00),
    "renal_cortex": Tissue(1560, 1.64, 1.00, 0.85),
    "renal_medulla": Tissue(1560, 1.63, 1.00, 0.30),
    "renal_sinus": Tissue(1460, 1.42, 0.70, 2.40),      # sinus fat with vessels and septa
    "myometrium": Tissue(1570, 1.65, 0.80, 0.80),
    "placenta": Tissue(1560, 1.62, 0.60, 1.10),
    "fetal_brain": Tissue(1540, 1.58, 0.60, 0.45),
    "choroid_plexus": Tissue(1570, 1.66, 0.80, 2.20),
    "bone": Tissue(3476, 7.38, 10.0, 3.00),             # cortical bone (rib)
    "fetal_skull": Tissue(2500, 3.20, 3.5, 3.00),
    "calcification": Tissue(3000, 6.00, 20.0, 4.00),
    "air": Tissue(343, 0.0004, 40.0, 0.0),              # aerated lung
}


def wavelength_mm(frequency_mhz: float, speed_m_s: float = SPEED_OF_SOUND_M_S) -> float:
    """Acoustic wavelength in mm for a frequency in MHz (speed in m/s).

    >>> round(wavelength_mm(10.0), 3)
    0.154
    """
    return speed_m_s / 1000.0 / frequency_mhz


def _sigma_f(frequency_mhz: float, fractional_bandwidth: float) -> float:
    """Standard deviation in MHz of a Gaussian spectrum with -6 dB full width B * f0."""
    return fractional_bandwidth * frequency_mhz / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def rf_sample_spacing_mm(frequency_mhz: float, fractional_bandwidth: float) -> float:
    """Depth step (mm) that samples pulse-echo RF above Nyquist.

    The echo from depth z arrives at t = 2 z / c, so a sampling rate fs (MHz) is a depth
    step c / (2 fs). ``fs = 2 (f0 + 3 sigma_f)`` keeps the Gaussian spectrum's aliased
    energy below 0.2 %.

    >>> round(rf_sample_spacing_mm(5.0, 0.6), 4)   # about lambda / 7
    0.0436
    """
    fs = 2.0 * (frequency_mhz + 3.0 * _sigma_f(frequency_mhz, fractional_bandwidth))
    return float(SPEED_OF_SOUND_M_S / 1000.0 / (2.0 * fs))


def _pulse_a(frequency_mhz: float, fractional_bandwidth: float) -> float:
    """Envelope exponent ``a`` (1/µs^2) of ``scipy.signal.gausspulse``: exp(-a t^2)."""
    ref = 10.0 ** (-6.0 / 20.0)  # -6 dB bandwidth reference, gausspulse's default bwr
    return -(np.pi * frequency_mhz * fractional_bandwidth) ** 2 / (4.0 * np.log(ref))


def pulse_sigma_mm(frequency_mhz: float, fractional_bandwidth: float) -> float:
    """Axial standard deviation (mm, depth) of the pulse-echo envelope exp(-z^2 / 2 sigma^2).

    >>> round(pulse_sigma_mm(5.0, 0.6), 3)
    0.096
    """
    sigma_t = 1.0 / np.sqrt(2.0 * _pulse_a(frequency_mhz, fractional_bandwidth))  # µs
    return float(SPEED_OF_SOUND_M_S / 1000.0 * sigma_t / 2.0)


def gaussian_pulse(frequency_mhz: float, fractional_bandwidth: float, dz_mm: float) -> np.ndarray:
    """Pulse-echo RF waveform sampled every ``dz_mm`` of depth (peak 1, odd length).

    A Gaussian-modulated cosine, ``exp(-a t^2) cos(2 pi f0 t)`` with a -6 dB fractional
    bandwidth ``fractional_bandwidth`` (``scipy.signal.gausspulse``), cut at -60 dB;
    t = 2 z / c is the round-trip time.

    >>> p = gaussian_pulse(5.0, 0.6, rf_sample_spacing_mm(5.0, 0.6))
    >>> len(p) % 2, float(p[len(p) // 2])
    (1, 1.0)
    """
    f_hz = frequency_mhz * 1e6
    t_cut = signal.gausspulse("cutoff", fc=f_hz, bw=fractional_bandwidth, tpr=-60)
    dt = 2.0 * dz_mm / (SPEED_OF_SOUND_M_S * 1000.0)  # s
    n = int(np.ceil(t_cut / dt))
    t = np.arange(-n, n + 1) * dt
    return signal.gausspulse(t, fc=f_hz, bw=fractional_bandwidth).astype(np.float32)


def lateral_sigma_mm(depth_mm, frequency_mhz: float, focus_mm: float, aperture_mm: float,
                     receive_f_number: float = 2.0, max_receive_aperture_mm: float | None = None,
                     apodization: float = 1.65):
    """Lateral standard deviation (mm) of the two-way (pulse-echo) beam at each depth.

    Transmit: fixed focus at ``focus_mm`` through an aperture ``aperture_mm``; its Gaussian
    width combines diffraction (one-way -6 dB width 1.206 lambda z / D for a uniform
    aperture, i.e. sigma 0.512 lambda z / D, Kino 1987, Szabo 2014 §6.3; times
    ``apodization``, 1.65 for the Hann apodisation scanners use to lower side lobes) and
    geometric (de)focusing ``D |1 - z / F| / sqrt(12)``, in quadrature. Receive: dynamic focusing at
    every depth with a constant f-number ``receive_f_number`` until the aperture reaches
    ``max_receive_aperture_mm``. The pulse-echo amplitude profile is the product of both
    Gaussians: ``1 / sigma^2 = 1 / sigma_tx^2 + 1 / sigma_rx^2``.

    >>> s = lateral_sigma_mm(np.array([10.0, 30.0, 60.0]), 5.0, 30.0, 10.0, 2.0, 20.0)
    >>> bool(s[1] < s[0] and s[1] < s[2])              # narrowest at the focus
    True
    """
    lam = wavelength_mm(frequency_mhz)
    z = np.maximum(np.asarray(depth_mm, dtype=np.float64), lam)
    k = apodization * 1.206 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    s_tx = transmit_sigma_mm(z, frequency_mhz, focus_mm, aperture_mm, apodization)
    d_rx = z / receive_f_number
    if max_receive_aperture_mm is not None:
        d_rx = np.minimum(d_rx, max_receive_aperture_mm)
    s_rx = k * lam * z / d_rx
    return 1.0 / np.sqrt(1.0 / s_tx ** 2 + 1.0 / s_rx ** 2)


def transmit_sigma_mm(depth_mm, frequency_mhz: float, focus_mm: float, aperture_mm: float,
                      apodization: float = 1.65):
    """Lateral standard deviation (mm) of the one-way transmit beam at each depth.

    Diffraction ``apodization * 0.512 lambda z / D`` and geometric focusing
    ``D |1 - z / F| / sqrt(12)`` in quadrature (see :func:`lateral_sigma_mm`): about the
    aperture's width near the face, narrowest at the focus.

    >>> s = transmit_sigma_mm(np.array([1.0, 20.0]), 10.0, 20.0, 8.0)
    >>> round(float(s[0]), 2), round(float(s[1]), 3)
    (2.19, 0.325)
    """
    lam = wavelength_mm(frequency_mhz)
    z = np.maximum(np.asarray(depth_mm, dtype=np.float64), lam)
    k = apodization * 1.206 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    return np.hypot(k * lam * z / aperture_mm, aperture_mm * (1.0 - z / focus_mm) / np.sqrt(12))


def reflection_coefficient(z1, z2, c1=None, c2=None, incidence_rad=0.0):
    """Pressure reflection coefficient and energy transmission at a plane interface.

    Fluid-fluid interface (Kinsler et al., "Fundamentals of Acoustics", 4th ed., §6.3):
    ``sin(theta_t) = (c2 / c1) sin(theta_i)`` (Snell) and
    ``R = (Z2 cos(theta_i) - Z1 cos(theta_t)) / (Z2 cos(theta_i) + Z1 cos(theta_t))``;
    beyond the critical angle ``|R| = 1`` (total reflection). The energy transmitted is
    ``T = 1 - R^2``; an echo crossing the interface twice keeps ``t12 t21 = 1 - R^2`` of
    its amplitude.

    Parameters
    ----------
    z1, z2 : float or ndarray
        Impedances (MRayl) of the incident and transmitting media.
    c1, c2 : float or ndarray, optional
        Speeds of sound (m/s); only needed for oblique incidence.
    incidence_rad : float or ndarray
        Angle between the beam and the interface normal (radians).

    Returns
    -------
    R, T : ndarray
        Reflection coefficient (dimensionless, signed) and energy transmission (0..1).

    >>> R, T = reflection_coefficient(1.38, 1.70)       # fat -> muscle, normal incidence
    >>> round(float(R), 3), round(float(T), 3)
    (0.104, 0.989)
    >>> R, T = reflection_coefficient(1.58, 1.75, 1530, 1613, np.radians(80))  # past critical
    >>> float(R), float(T)
    (1.0, 0.0)
    """
    z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)
    th = np.asarray(incidence_rad, np.float64)
    if c1 is None or c2 is None:
        ratio = np.ones_like(z1)
    else:
        ratio = np.asarray(c2, np.float64) / np.asarray(c1, np.float64)
    sin_t = ratio * np.sin(th)
    total = sin_t >= 1.0
    cos_t = np.sqrt(np.clip(1.0 - sin_t ** 2, 0.0, 1.0))
    cos_i = np.cos(th)
    r = (z2 * cos_i - z1 * cos_t) / np.maximum(z2 * cos_i + z1 * cos_t, 1e-12)
    r = np.where(total, 1.0, r)
    return r, 1.0 - r ** 2


def scatterer_amplitudes(rms, expected_count, rng: np.random.Generator) -> np.ndarray:
    """Summed amplitude of the random point scatterers in each cell of a fine grid.

    Each cell holds ``N ~ Poisson(expected_count)`` scatterers with independent Gaussian
    amplitudes; their sum is ``sqrt(N) * g`` with ``g ~ N(0, 1)``. It is scaled by
    ``rms / sqrt(expected_count)`` so the mean echo power per cell is ``rms**2`` whatever
    the density: density changes only the statistics (Rayleigh when there are many
    scatterers per resolution cell, spikier when few), echogenicity only the brightness.

    >>> a = scatterer_amplitudes(np.full(200_000, 2.0), np.full(200_000, 0.3),
    ...                          np.random.default_rng(0))
    >>> round(float(np.mean(a ** 2)), 1), round(float(np.mean(a == 0)), 2)  # e^-0.3 empty
    (4.0, 0.74)
    """
    rms = np.asarray(rms, np.float32)
    lam = np.asarray(expected_count, np.float64)
    n = rng.poisson(np.maximum(lam, 0.0))
    scale = np.sqrt(n / np.maximum(lam, 1e-12)).astype(np.float32)
    return (rms * scale * rng.standard_normal(rms.shape, dtype=np.float32)).astype(np.float32)


def round_trip_attenuation_db(alpha_db_cm_mhz, step_mm: float, frequency_mhz: float,
                              axis: int = 0) -> np.ndarray:
    """Cumulative round-trip attenuation (dB) at the centre of each sample along ``axis``.

    ``A(z) = 2 f0 integral_0^z alpha(z') dz'`` with ``alpha`` in dB/cm/MHz (lengths
    converted from mm to cm): the echo from depth z has travelled 2 z.

    >>> a = round_trip_attenuation_db(np.full(100, 0.5), 0.1, 5.0)   # 10 mm at 0.5 dB/cm/MHz
    >>> round(float(a[-1] + (a[-1] - a[-2]) / 2), 2)                  # 2 * 5 MHz * 1 cm * 0.5
    5.0
    """
    per = 2.0 * frequency_mhz * np.asarray(alpha_db_cm_mhz, np.float64) * step_mm / 10.0
    return (np.cumsum(per, axis=axis) - per / 2.0).astype(np.float32)


def envelope(rf, axis: int = 0) -> np.ndarray:
    """Envelope of RF lines: ``|hilbert(rf)|`` along ``axis`` (``scipy.signal.hilbert``)."""
    return np.abs(signal.hilbert(rf, axis=axis)).astype(np.float32)


def log_compress(env, dynamic_range_db: float = 60.0, gain_db: float = 0.0,
                 reference: float = 1.0) -> np.ndarray:
    """Display grey level in [0, 1]: ``0.5 + (20 log10(env / reference) + gain_db) / DR``.

    An envelope equal to ``reference`` (the RMS echo of reference tissue at the focus) sits
    at mid-grey with no gain; ``dynamic_range_db`` decibels span black to white, so the
    grey level's standard deviation times ``dynamic_range_db`` is the dB spread.

    >>> log_compress(np.array([1e-6, 1.0, 10.0, 1e6]), dynamic_range_db=60.0)
    array([0.       , 0.5      , 0.8333333, 1.       ], dtype=float32)
    """
    db = 20.0 * np.log10(np.maximum(np.asarray(env, np.float64), 1e-12) / reference)
    return np.clip(0.5 + (db + gain_db) / dynamic_range_db, 0.0, 1.0).astype(np.float32)


def speckle_snr(env) -> float:
    """Speckle signal-to-noise ratio of an envelope region: mean / standard deviation.

    1.91 for fully developed speckle (:data:`RAYLEIGH_SNR`).

    >>> rng = np.random.default_rng(0)
    >>> x = np.abs(rng.standard_normal(100_000) + 1j * rng.standard_normal(100_000))
    >>> round(speckle_snr(x), 2)
    1.91
    """
    env = np.asarray(env, np.float64)
    return float(env.mean() / env.std())
