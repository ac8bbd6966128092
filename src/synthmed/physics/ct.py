"""Computed tomography: an axial scan from Hounsfield units to a reconstructed slice.

Each step is one small function; :func:`scan_slice` chains them, :func:`scan_volume` makes
thick slices of a volume.

1. :func:`hu_to_mu` / :func:`mu_to_hu`: ``μ = μ_water(E) (1 + HU / 1000)`` in 1/mm, NIST
   water; :func:`effective_energy_kev`: where a ``kvp`` beam's water calibration holds.
2. :func:`forward_project`: line integrals, parallel or fan beam. Fourier-slice projector:
   each view's 1-D spectrum is read on a radial line of the image's 2× oversampled 2-D FFT
   with a Kaiser–Bessel kernel (a non-uniform FFT: Fessler & Sutton, IEEE TSP 51 (2003) 560;
   Beatty et al., IEEE TMI 24 (2005) 799), times the sinc of the detector aperture; pixels
   are band-limited basis functions. Fan (equiangular) sinograms are rebinned from parallel
   ones sampled twice as finely.
3. :func:`add_quantum_noise`: Poisson counts on ``I0 exp(-p)`` (:func:`incident_photons`
   from a ``spekpy`` spectrum, mAs, slice thickness and pitch), electronic noise, photon
   starvation.
4. :func:`fbp`: a discrete ramp (Kak & Slaney, *Principles of Computerized Tomographic
   Imaging*, 1988, ch. 3) times a window of :data:`KERNELS`, zero padded to twice the
   detector length, and the projector's adjoint (gridding, as *gridrec*: Marone &
   Stampanoni, J. Synchrotron Rad. 19 (2012) 1029). Fan data are rebinned to parallel rays
   over 360° first.
5. :func:`scan_slice`: monochromatic, or polychromatic through soft-tissue and bone path
   lengths (:func:`~synthmed.physics.drr.hu_to_materials`) with no beam-hardening correction
   but the water calibration: water cups, dense objects and metal streak.

Geometry
--------
An image ``(rows, cols)`` with spacing ``(row_mm, col_mm)`` is centred on the isocentre, ``x``
along the columns, ``y`` along the rows. A parallel view at ``θ`` (``n_views`` over 180° from
0) measures ``p(θ, s)`` along ``x cos θ + y sin θ = s``, element ``k`` at ``s = (k - (n - 1) / 2)
ds``: view 0 sums the rows. In fan geometry the source, at ``sod (-sin β, cos β)`` for view
angle ``β`` (``n_views`` over 360°), faces a curved detector ``sdd_mm`` away whose channel ``k``
is at fan angle ``γ_k = (k - (n - 1) / 2) detector_spacing_mm / sdd_mm``: ray ``(β, γ)`` is the
parallel ray ``θ = β + γ``, ``s = sod sin γ``.

Example
-------
>>> import numpy as np
>>> r = np.hypot(*np.mgrid[-32:32, -32:32] + 0.5)
>>> phantom = np.where(r < 24, 0.0, -1000.0)             # a water disc 48 mm across, HU
>>> hu = scan_slice(phantom, 1.0, n_views=180, rng=None)  # noiseless
>>> bool(abs(np.median(hu[r < 20])) < 5)
True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy import fft, sparse, special
from scipy.optimize import brentq

from synthmed.physics import xray
from synthmed.physics.drr import hu_to_materials

__all__ = ["KERNELS", "Kernel", "hu_to_mu", "mu_to_hu", "effective_energy_kev",
           "forward_project", "incident_photons", "add_quantum_noise", "fbp", "scan_slice",
           "scan_volume"]


class Kernel(NamedTuple):
    """A reconstruction kernel: the ramp filter times ``window(x)``, ``x = f / f_Nyquist``
    (``f_Nyquist = 1 / (2 ds)`` of the detector sampling), with what it is for."""

    window: Callable[[np.ndarray], np.ndarray]
    description: str


def _hann(x, cutoff):
    return np.where(x < cutoff, 0.5 * (1.0 + np.cos(np.pi * np.minimum(x / cutoff, 1.0))), 0.0)


# Windows are relative to the detector Nyquist frequency f_N = 1 / (2 ds), so their order
# holds at any sampling. System MTF50 (window × detector aperture, measured on a wire in
# tests/test_ct_physics.py): 0.34, 0.47, 0.81 and >= 1 f_N; at 512² over 350 mm (f_N =
# 0.73 lp/mm) that is 2.5, 3.4, 5.9 and >7 lp/cm, roughly the range of vendors' soft-tissue,
# standard, lung and bone kernels. Noise σ rises in the same order (about 1 : 1.7 : 4.3 : 5.7).
KERNELS: dict[str, Kernel] = {
    "soft": Kernel(lambda x: _hann(x, 0.7),
                   "ramp × Hann window with cutoff 0.7 f_N: smooth, low-contrast soft tissue"),
    "standard": Kernel(lambda x: _hann(x, 1.0),
                       "ramp × Hann window to f_N: the general-purpose body kernel"),
    "lung": Kernel(lambda x: (1.0 + 2.0 * x ** 2) * np.cos(0.5 * np.pi * np.minimum(x, 1.0)),
                   "ramp × (1 + 2x²) cos(πx/2): a mild mid-frequency boost (window up to 1.07 "
                   "near 0.45 f_N: edge overshoot) rolling off to 0 at f_N; lung parenchyma"),
    "sharp": Kernel(lambda x: np.ones_like(x),
                    "ramp alone (Ram-Lak) to f_N: bone, highest resolution and noise"),
}

# Detected fraction η of the photons reaching the isocentre (bowtie at the centre, geometric
# and quantum efficiency). Calibrated so that a 20 cm water cylinder at 120 kVp, 100 mAs,
# 1 mm slices, 0.7 mm pixels, standard kernel, has σ ≈ 14 HU at its centre (tested): quality
# control of clinical scanners finds a few HU (3-6) in such a phantom at 200-300 mAs and
# 5-10 mm slices, and σ ∝ 1/sqrt(mAs × thickness) (Brooks & Di Chiro, Med. Phys. 3 (1976)
# 237) makes that about 10-20 HU at 100 mAs and 1 mm.
_DETECTED_FRACTION = 0.25
_SOD_REFERENCE_MM = 570.0               # fluence from spekpy at this source–isocentre distance
_FILTRATION_MM_AL, _FILTRATION_MM_CU = 6.0, 0.1   # CT tube: inherent + flat filter, no bowtie
_COUNT_FLOOR = 1.0                      # detected counts below this are set to it (log of 0)
_CALIBRATION_WATER_MM = 200.0           # water phantom diameter of the HU calibration

_KB_WIDTH, _OVERSAMPLING = 6, 2.0       # Kaiser–Bessel: taps per axis, grid oversampling
_KB_BETA = np.pi * np.sqrt((_KB_WIDTH / _OVERSAMPLING * (_OVERSAMPLING - 0.5)) ** 2 - 0.8)


def _mu_water(energy_kev: float) -> float:
    return float(xray.linear_attenuation("water", energy_kev)) / 10.0


def hu_to_mu(hu, energy_kev: float = 70.0) -> np.ndarray:
    """Linear attenuation in 1/mm from CT numbers: ``μ = μ_water(E) (1 + HU / 1000)``.

    ``μ_water`` is NIST water at ``energy_kev`` (keV). Air (-1000 HU) gives 0.

    >>> round(float(hu_to_mu(0.0)), 5)     # water at 70 keV, NIST XCOM: 0.1929 /cm
    0.01929
    """
    return (_mu_water(energy_kev) * (1.0 + np.asarray(hu, np.float32) / 1000.0)).astype(
        np.float32)


def mu_to_hu(mu, energy_kev: float = 70.0) -> np.ndarray:
    """CT numbers from linear attenuation in 1/mm (the inverse of :func:`hu_to_mu`).

    >>> float(mu_to_hu(hu_to_mu(-500.0, 60.0), 60.0))
    -500.0
    """
    return (1000.0 * (np.asarray(mu, np.float32) / _mu_water(energy_kev) - 1.0)).astype(
        np.float32)


@lru_cache(maxsize=32)
def _ct_spectrum(kvp: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy-integrating detector weights (w·E, sum 1) and soft-tissue, bone μ in 1/mm."""
    energies, weights = xray.spectrum(kvp, n_bins=20, filtration_mm_al=_FILTRATION_MM_AL,
                                      filtration_mm_cu=_FILTRATION_MM_CU)
    return (weights * energies / np.sum(weights * energies),
            xray.linear_attenuation("soft_tissue", energies) / 10.0,
            xray.linear_attenuation("bone", energies) / 10.0)


def _polychromatic(soft_mm: np.ndarray, bone_mm: np.ndarray, kvp: float) -> np.ndarray:
    """Line integral ``-ln(I / I0)`` of a polychromatic beam through the given path lengths."""
    signal, mu_soft, mu_bone = _ct_spectrum(float(kvp))
    trans = np.zeros(np.shape(soft_mm), np.float32)
    for s, a, b in zip(signal, mu_soft, mu_bone):
        trans += np.float32(s) * np.exp(-np.float32(a) * soft_mm - np.float32(b) * bone_mm)
    return -np.log(trans)


@lru_cache(maxsize=32)
def effective_energy_kev(kvp: float = 120.0) -> float:
    """Energy at which NIST water attenuates as the ``kvp`` beam does through 20 cm of water.

    Scanners calibrate CT numbers on a water phantom; this energy makes the monochromatic
    model (:func:`hu_to_mu`) and the polychromatic one of :func:`scan_slice` read water as
    0 HU in a 20 cm phantom. Spectrum: ``spekpy``, 6 mm Al + 0.1 mm Cu, energy-integrating.

    >>> round(effective_energy_kev(120.0)), round(effective_energy_kev(80.0))
    (65, 52)
    """
    soft = float(hu_to_materials(np.array(0.0))["soft_tissue"]) * _CALIBRATION_WATER_MM
    mu_ref = float(_polychromatic(np.float32(soft), np.float32(0.0), kvp)) / \
        _CALIBRATION_WATER_MM
    return float(brentq(lambda e: _mu_water(e) - mu_ref, 15.0, float(kvp)))


# --- Fourier-slice projector and its adjoint (non-uniform FFT by gridding) ---------------

class _Plan(NamedTuple):
    matrix: sparse.csr_matrix   # (points, grid rows × grid cols) Kaiser–Bessel interpolation
    phase: np.ndarray           # (points,) centring phases and the dx dy / ds scale
    grid: tuple[int, int]
    rows: np.ndarray            # grid row of each image row (centred, wrapped)
    cols: np.ndarray
    deapodize: np.ndarray       # (rows, cols) 1 / kernel transform
    n_views: int
    length: int                 # detector FFT length (odd: no Nyquist bin)
    n_det: int
    ds: float
    scale: float


def _odd_fast_len(n: int) -> int:
    """Smallest odd n' >= n of the form 3^a 5^b 7^c (a fast FFT length)."""
    fast = sorted(3 ** a * 5 ** b * 7 ** c for a in range(20) for b in range(12)
                  for c in range(10))
    return next(m for m in fast if m >= n)


def _taps(u: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid indices and Kaiser–Bessel weights of the taps around frequencies ``u``."""
    first = np.floor(size * u).astype(np.int64) - _KB_WIDTH // 2 + 1
    index = first[:, None] + np.arange(_KB_WIDTH)
    t = size * u[:, None] - index
    weight = special.i0(_KB_BETA * np.sqrt(np.clip(1.0 - (2.0 * t / _KB_WIDTH) ** 2, 0, None)))
    return np.mod(index, size), weight


def _kb_transform(xi: np.ndarray) -> np.ndarray:
    z = np.sqrt(_KB_BETA ** 2 - (np.pi * _KB_WIDTH * xi) ** 2)
    return _KB_WIDTH * np.sinh(z) / z


@lru_cache(maxsize=4)
def _plan(shape: tuple[int, int], spacing: tuple[float, float], n_views: int, span: float,
          n_det: int, ds: float) -> _Plan:
    """Points where each view's spectrum is read (``n_views`` angles over ``span`` rad)."""
    (ny, nx), (dy, dx) = shape, spacing
    grid = (fft.next_fast_len(int(np.ceil(_OVERSAMPLING * ny))),
            fft.next_fast_len(int(np.ceil(_OVERSAMPLING * nx))))
    # views are periodic in s (period length × ds): a period holds half the detector plus the
    # image's half-diagonal (in samples), so that neither wraps onto the other
    half_diagonal = 0.5 * np.hypot(ny * dy, nx * dx) / ds
    length = _odd_fast_len(int(1.125 * (n_det / 2 + max(n_det / 2, half_diagonal))) + 8)
    n_freq = (length + 1) // 2
    theta = np.arange(n_views) * span / n_views
    omega = np.arange(n_freq) / (length * ds)                      # cycles/mm
    u = (omega * np.cos(theta)[:, None] * dx).ravel()              # cycles/pixel
    v = (omega * np.sin(theta)[:, None] * dy).ravel()
    inside = (np.abs(u) <= 0.5) & (np.abs(v) <= 0.5)               # the image's band
    iy, wy = _taps(v, grid[0])
    ix, wx = _taps(u, grid[1])
    taps = _KB_WIDTH ** 2
    cols = (iy[:, :, None] * grid[1] + ix[:, None, :]).astype(np.int32).ravel()
    data = (wy[:, :, None] * (wx * inside[:, None])[:, None, :]).astype(np.float32).ravel()
    matrix = sparse.csr_matrix((data, cols, np.arange(u.size + 1, dtype=np.int64) * taps),
                               shape=(u.size, grid[0] * grid[1]))
    m = np.tile(np.arange(n_freq), n_views)
    shift_x, shift_y = nx // 2 - (nx - 1) / 2, ny // 2 - (ny - 1) / 2
    phase = np.exp(-2j * np.pi * (u * shift_x + v * shift_y + m * (n_det - 1) / 2 / length))
    jy, jx = np.arange(ny) - ny // 2, np.arange(nx) - nx // 2
    deapodize = np.outer(1 / _kb_transform(jy / grid[0]), 1 / _kb_transform(jx / grid[1]))
    return _Plan(matrix, phase.astype(np.complex64), grid, np.mod(jy, grid[0]),
                 np.mod(jx, grid[1]), deapodize.astype(np.float32), n_views, length, n_det,
                 ds, dx * dy / ds)


def _as_columns(a: np.ndarray) -> np.ndarray:
    """(batch, n) complex64 -> (n, 2 batch) float32, real and imaginary parts side by side."""
    return np.ascontiguousarray(a.T).view(np.float32)


def _project(mu: np.ndarray, plan: _Plan, aperture_mm: float, upsample: int = 1
             ) -> np.ndarray:
    """Parallel sinograms (batch, views, detectors) of images (batch, rows, cols), each
    element averaging over its ``aperture_mm`` (a sinc in frequency); with ``upsample`` > 1,
    ``upsample`` samples per detector element (band-limited)."""
    batch = mu.shape[0]
    g = np.zeros((batch, *plan.grid), np.complex64)
    g[:, plan.rows[:, None], plan.cols[None, :]] = mu * plan.deapodize
    spectrum = fft.fft2(g).reshape(batch, -1)
    values = (plan.matrix @ _as_columns(spectrum)).view(np.complex64)
    values *= (plan.phase * np.float32(plan.scale))[:, None]
    n_freq = (plan.length + 1) // 2
    aperture = np.sinc(np.arange(n_freq) / (plan.length * plan.ds) * aperture_mm)
    values = values.T.reshape(batch, plan.n_views, n_freq) * aperture.astype(np.float32)
    n = plan.length * upsample
    sino = fft.irfft(values, n=n, axis=-1)[..., :plan.n_det * upsample - upsample + 1]
    return (sino * upsample).astype(np.float32)


def _backproject(q: np.ndarray, plan: _Plan, weight: float) -> np.ndarray:
    """``weight × Σ_views q(x·n_θ)`` on the image grid, q band-limited along the detector:
    the adjoint of :func:`_project` without aperture (times ``weight / scale``)."""
    batch = q.shape[0]
    spectrum = fft.rfft(q, n=plan.length, axis=-1)
    spectrum[..., 1:] *= 2.0                                    # the negative frequencies
    spectrum = spectrum.reshape(batch, -1) * (np.conj(plan.phase) * np.float32(
        weight / plan.length))
    h = (plan.matrix.T @ _as_columns(spectrum.astype(np.complex64))).view(np.complex64)
    image = fft.ifft2(h.T.reshape(batch, *plan.grid), norm="forward")
    return (image[:, plan.rows[:, None], plan.cols[None, :]].real
            * plan.deapodize).astype(np.float32)


@lru_cache(maxsize=16)
def _filter_response(n_det: int, ds: float, kernel: str) -> tuple[int, np.ndarray]:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
    length = fft.next_fast_len(2 * n_det)
    k = np.rint(np.fft.fftfreq(length) * length).astype(np.int64)
    h = np.where(k % 2 == 1, -1.0 / (np.pi * np.maximum(np.abs(k), 1)) ** 2, 0.0)
    h[0] = 0.25                                   # sampled ramp kernel, times ds^2
    ramp = fft.rfft(h).real / ds                  # ≈ |f| in cycles/mm, right at DC
    x = np.fft.rfftfreq(length) * 2.0
    return length, (ramp * KERNELS[kernel].window(x)).astype(np.float32)


def _ramp_filter(sino: np.ndarray, ds: float, kernel: str) -> np.ndarray:
    n = sino.shape[-1]
    length, response = _filter_response(n, float(ds), kernel)
    return fft.irfft(fft.rfft(sino, n=length, axis=-1) * response, n=length,
                     axis=-1)[..., :n].astype(np.float32)


# --- geometry -------------------------------------------------------------------------------

def _spacing(spacing_mm) -> tuple[float, float]:
    spacing = np.asarray(spacing_mm, float).ravel()
    spacing = np.repeat(spacing, 2) if spacing.size == 1 else spacing
    if spacing.size != 2 or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be one or two positive numbers (row_mm, col_mm), "
                         f"got {spacing_mm}")
    return float(spacing[0]), float(spacing[1])


def _parallel_detector(shape, spacing, n_det, ds) -> tuple[int, float]:
    """Default: elements of the smaller pixel size covering the image's diagonal."""
    ds = float(ds or min(spacing))
    if n_det is None:
        n_det = int(np.ceil(np.hypot(shape[0] * spacing[0], shape[1] * spacing[1]) / ds)) + 2
        n_det += (n_det - shape[1]) % 2           # view 0 falls on pixel columns exactly
    return int(n_det), ds


def _fan_detector(shape, spacing, n_det, det_spacing, sod, sdd) -> tuple[int, float]:
    """Default: channels spaced like the pixels at the isocentre, covering the image."""
    radius = 0.5 * np.hypot(shape[0] * spacing[0], shape[1] * spacing[1])
    if not sod > radius or not sdd > sod:
        raise ValueError(f"fan beam needs sdd_mm > sod_mm > {radius:.0f} mm (the image's "
                         f"half-diagonal), got sod_mm={sod}, sdd_mm={sdd}")
    det_spacing = float(det_spacing or min(spacing) * sdd / sod)
    if n_det is None:
        n_det = 2 * int(np.ceil(np.arcsin(radius / sod) * sdd / det_spacing)) + 3
    return int(n_det), det_spacing


def _bilinear(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], wrap_rows: bool):
    """Flat indices and weights (4, ...) of bilinear interpolation at fractional (row, col)
    positions of a (rows, cols) array; columns outside it weigh 0, rows wrap if asked."""
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    index, weight = [], []
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            rr, cc = r0 + dr, c0 + dc
            rr = np.mod(rr, shape[0]) if wrap_rows else np.clip(rr, 0, shape[0] - 1)
            ok = (cc >= 0) & (cc < shape[1])
            index.append(rr * shape[1] + np.clip(cc, 0, shape[1] - 1))
            weight.append(np.where(ok, wr * wc, 0.0))
    return np.stack(index), np.stack(weight).astype(np.float32)


def _resample(sino: np.ndarray, table) -> np.ndarray:
    index, weight = table
    flat = sino.reshape(sino.shape[0], -1)
    return np.einsum("bkn,kn->bn", flat[:, index.reshape(4, -1)], weight.reshape(4, -1)
                     ).reshape(sino.shape[0], *index.shape[1:])


@lru_cache(maxsize=8)
def _fan_from_parallel(n_views: int, n_det: int, gamma_step: float, sod: float, n_par: int,
                       ds: float):
    """Where each fan ray lies in a parallel sinogram of ``n_views`` views over 180° (and a
    last one, view 0 reversed, at 180°) with ``2 n_par - 1`` samples ``ds / 2`` apart."""
    gamma = (np.arange(n_det) - (n_det - 1) / 2) * gamma_step
    theta = np.mod(2 * np.pi * np.arange(n_views)[:, None] / n_views + gamma, 2 * np.pi)
    s = np.broadcast_to(sod * np.sin(gamma), theta.shape)
    back = theta >= np.pi                                # p(θ + π, s) = p(θ, -s)
    theta, s = np.where(back, theta - np.pi, theta), np.where(back, -s, s)
    return _bilinear(theta / (np.pi / n_views), 2 * (s / ds + (n_par - 1) / 2),
                     (n_views + 1, 2 * n_par - 1), wrap_rows=False)


@lru_cache(maxsize=8)
def _parallel_from_fan(n_views: int, n_det: int, gamma_step: float, sod: float):
    """Where each ray of a parallel sinogram over 360° (the fan's views and channel count,
    ``s`` spaced like the central channels at the isocentre) lies in the fan sinogram."""
    s = (np.arange(n_det) - (n_det - 1) / 2) * gamma_step * sod
    gamma = np.arcsin(np.clip(s / sod, -1, 1))
    theta = 2 * np.pi * np.arange(n_views)[:, None] / n_views
    beta = np.mod(theta - gamma, 2 * np.pi)
    channel = np.broadcast_to(gamma / gamma_step + (n_det - 1) / 2, beta.shape)
    return _bilinear(beta / (2 * np.pi / n_views), channel, (n_views, n_det), wrap_rows=True)


def _fan_project(mu, spacing, n_views, n_det, det_spacing, sod, sdd) -> np.ndarray:
    """Fan sinograms rebinned from parallel ones (views twice as dense, ``s`` sampled at
    half the pixel size, band-limited), bilinear in angle and detector position."""
    n_par, ds = _parallel_detector(mu.shape[-2:], spacing, None, None)
    parallel = _project(mu, _plan(mu.shape[-2:], spacing, n_views, np.pi, n_par, ds),
                        det_spacing * sod / sdd, upsample=2)
    parallel = np.concatenate([parallel, parallel[:, :1, ::-1]], axis=1)
    return _resample(parallel, _fan_from_parallel(n_views, n_det, det_spacing / sdd, sod,
                                                  n_par, ds))


def _detector(shape, spacing, geometry, n_det, det_spacing, sod, sdd):
    """(elements, pitch on the detector, pitch at the isocentre), defaults filled in."""
    if geometry == "fan":
        n_det, det_spacing = _fan_detector(shape, spacing, n_det, det_spacing, sod, sdd)
        return n_det, det_spacing, det_spacing * sod / sdd
    if geometry != "parallel":
        raise ValueError(f"geometry must be 'parallel' or 'fan', got {geometry!r}")
    n_det, ds = _parallel_detector(shape, spacing, n_det, det_spacing)
    return n_det, ds, ds


def _stack(a) -> tuple[np.ndarray, tuple[int, ...]]:
    """(..., rows, cols) -> (batch, rows, cols) float32 and the leading shape."""
    a = np.asarray(a, np.float32)
    if a.ndim < 2:
        raise ValueError(f"expected an image (rows, cols) or a stack, got shape {a.shape}")
    return a.reshape(-1, *a.shape[-2:]), a.shape[:-2]


# --- acquisition and reconstruction ---------------------------------------------------------

def forward_project(mu_image, spacing_mm, n_views: int = 720, *, geometry: str = "parallel",
                    n_detectors: int | None = None, detector_spacing_mm: float | None = None,
                    sod_mm: float = 570.0, sdd_mm: float = 1040.0) -> np.ndarray:
    """Sinogram of line integrals through an attenuation image (see the module's geometry).

    Parameters
    ----------
    mu_image : ndarray, shape (rows, cols) or (..., rows, cols)
        Linear attenuation in 1/mm (a stack is projected slice by slice, faster than a loop).
    spacing_mm : float or (row_mm, col_mm)
        Pixel size in mm.
    n_views : int
        Views, evenly over 180° (parallel) or 360° (fan).
    geometry : {"parallel", "fan"}
        Parallel rays, or an equiangular fan from a source turning around the isocentre.
    n_detectors : int, optional
        Detector elements; default: enough to cover the image's diagonal.
    detector_spacing_mm : float, optional
        Element pitch in mm: at the isocentre for parallel rays (default: the smaller pixel
        size), on the detector arc for a fan (default: the pixel size × ``sdd / sod``).
    sod_mm, sdd_mm : float
        Source–isocentre and source–detector distances in mm (fan only).

    Returns
    -------
    float32 ndarray, shape (..., n_views, n_detectors)
        Line integrals ``∫ μ dl`` (dimensionless).

    Examples
    --------
    >>> disc = (np.hypot(*np.mgrid[-32:32, -32:32] + 0.5) < 20) * 0.02   # 1/mm
    >>> p = forward_project(disc, 1.0, n_views=90)
    >>> p.shape, round(float(p[:, 46:48].mean()), 2)         # 40 mm × 0.02 /mm
    ((90, 94), 0.8)
    """
    mu, lead = _stack(mu_image)
    shape, spacing = mu.shape[-2:], _spacing(spacing_mm)
    n_det, det_spacing, ds = _detector(shape, spacing, geometry, n_detectors,
                                       detector_spacing_mm, sod_mm, sdd_mm)
    if geometry == "fan":
        sino = _fan_project(mu, spacing, int(n_views), n_det, det_spacing, sod_mm, sdd_mm)
    else:
        sino = _project(mu, _plan(shape, spacing, int(n_views), np.pi, n_det, ds), ds)
    return sino.reshape(*lead, *sino.shape[-2:])


def fbp(sinogram, output_shape: tuple[int, int], spacing_mm, *, kernel: str = "standard",
        geometry: str = "parallel", detector_spacing_mm: float | None = None,
        sod_mm: float = 570.0, sdd_mm: float = 1040.0) -> np.ndarray:
    """Filtered back-projection: attenuation in 1/mm from a sinogram of line integrals.

    Parameters
    ----------
    sinogram : ndarray, shape (..., n_views, n_detectors)
        Line integrals in the geometry of :func:`forward_project` (same keywords). Pixels
        outside the field that the detector covers are set to 0.
    output_shape : (rows, cols)
        Reconstructed image size, centred on the isocentre.
    spacing_mm : float or (row_mm, col_mm)
        Pixel size in mm. The detector spacing defaults as in :func:`forward_project` for
        an image of this shape and spacing; pass ``detector_spacing_mm`` otherwise.
    kernel : str
        A key of :data:`KERNELS` (``"soft"``, ``"standard"``, ``"lung"``, ``"sharp"``).
    geometry, detector_spacing_mm, sod_mm, sdd_mm
        As in :func:`forward_project`. Fan data are rebinned to parallel rays over 360°
        (bilinear), so every measured ray is used.

    Returns
    -------
    float32 ndarray, shape (..., rows, cols)
        Linear attenuation in 1/mm.

    Examples
    --------
    >>> disc = (np.hypot(*np.mgrid[-32:32, -32:32] + 0.5) < 20) * 0.02
    >>> mu = fbp(forward_project(disc, 1.0, n_views=180), (64, 64), 1.0, kernel="sharp")
    >>> round(float(mu[28:36, 28:36].mean()), 4)
    0.02
    """
    sino, lead = _stack(sinogram)
    shape, spacing = (int(output_shape[0]), int(output_shape[1])), _spacing(spacing_mm)
    n_views, n_det = sino.shape[-2:]
    _, det_spacing, ds = _detector(shape, spacing, geometry, n_det, detector_spacing_mm,
                                   sod_mm, sdd_mm)
    span, field = np.pi, (n_det - 1) / 2 * ds
    if geometry == "fan":   # parallel rays over 360°: each counted twice, weight π / n_views
        sino = _resample(sino, _parallel_from_fan(n_views, n_det, det_spacing / sdd_mm,
                                                  sod_mm))
        span, field = 2 * np.pi, sod_mm * np.sin((n_det - 1) / 2 * det_spacing / sdd_mm)
    q = _ramp_filter(sino, ds, kernel)
    image = _backproject(q, _plan(shape, spacing, n_views, span, n_det, ds), np.pi / n_views)
    y, x = ((np.arange(n) - (n - 1) / 2) * d for n, d in zip(shape, spacing))
    image *= np.hypot(y[:, None], x[None, :]) <= field     # 0 outside the scanned field
    return image.reshape(*lead, *shape)


def incident_photons(kvp: float, mas: float, n_views: int, slice_thickness_mm: float = 1.0,
                     detector_spacing_mm: float = 1.0) -> float:
    """Photons detected per detector element and view with nothing in the beam (``I0``).

    ``I0 = η Φ(kVp) × mAs / n_views × thickness × pitch``: the ``spekpy`` fluence ``Φ`` at the
    isocentre (570 mm from the focus; 6 mm Al + 0.1 mm Cu) per mAs and mm², over the
    element's aperture at the isocentre (slice thickness × detector pitch, mm²), for one of
    the ``n_views`` views that share the rotation's mAs, times the detected fraction ``η``
    (bowtie, geometric and quantum efficiency; calibrated to clinical noise, see the source).

    >>> round(incident_photons(120, 100, 720, 1.0, 0.7), -4)
    140000.0
    """
    if mas <= 0 or slice_thickness_mm <= 0 or detector_spacing_mm <= 0:
        raise ValueError(f"mas, slice_thickness_mm and detector_spacing_mm must be positive, "
                         f"got {mas}, {slice_thickness_mm}, {detector_spacing_mm}")
    fluence = xray.fluence_per_mas(kvp, sid_mm=_SOD_REFERENCE_MM,
                                   filtration_mm_al=_FILTRATION_MM_AL,
                                   filtration_mm_cu=_FILTRATION_MM_CU)
    return (_DETECTED_FRACTION * fluence * mas / n_views * slice_thickness_mm
            * detector_spacing_mm)


def add_quantum_noise(sinogram, mas: float, rng: np.random.Generator, *, kvp: float = 120.0,
                      slice_thickness_mm: float = 1.0, detector_spacing_mm: float = 1.0,
                      electronic_noise: float = 5.0) -> np.ndarray:
    """Noisy line integrals: Poisson counts on ``I0 exp(-p)`` plus electronic noise.

    ``sinogram`` (..., n_views, n_detectors) holds noiseless line integrals ``p``; ``mas``
    is the rotation's tube current–time product (mAs, shared by its views), ``kvp`` the tube
    voltage (kV), ``slice_thickness_mm`` × ``detector_spacing_mm`` the element's aperture at
    the isocentre (mm²), ``electronic_noise`` the standard deviation of additive detector
    noise (photons). Returns float32 ``-ln(N / I0)``, ``N`` the noisy counts (``I0``:
    :func:`incident_photons`) floored at 1: behind metal, photon starvation saturates ``p``.

    >>> p = np.full((360, 100), 3.7, np.float32)    # ~20 cm of water
    >>> noisy = add_quantum_noise(p, 100.0, np.random.default_rng(0))
    >>> bool(abs(noisy.mean() - 3.7) < 0.01 and 0.005 < noisy.std() < 0.05)
    True
    """
    p = np.asarray(sinogram, np.float32)
    i0 = incident_photons(kvp, mas, p.shape[-2], slice_thickness_mm, detector_spacing_mm)
    counts = rng.poisson(i0 * np.exp(-p.astype(np.float64))).astype(np.float32)
    if electronic_noise > 0:
        counts += np.float32(electronic_noise) * rng.standard_normal(p.shape, np.float32)
    return -np.log(np.maximum(counts, _COUNT_FLOOR) / np.float32(i0))


def scan_slice(hu_slice, spacing_mm, *, kvp: float = 120.0, mas: float = 100.0,
               kernel: str = "standard", n_views: int = 720,
               rng: np.random.Generator | None = None, geometry: str = "parallel",
               beam_hardening: bool = False, slice_thickness_mm: float = 1.0,
               n_detectors: int | None = None, detector_spacing_mm: float | None = None,
               sod_mm: float = 570.0, sdd_mm: float = 1040.0,
               electronic_noise: float = 5.0) -> np.ndarray:
    """Simulate an axial CT acquisition and reconstruction of a slice in Hounsfield units.

    Without beam hardening the beam is monochromatic at :func:`effective_energy_kev`. With
    it, soft-tissue and cortical-bone path lengths (:func:`~synthmed.physics.drr.
    hu_to_materials`) attenuate a ``spekpy`` spectrum bin by bin, and only the water
    calibration corrects it (a 20 cm water phantom reads 0 HU on average): water cups, dark
    streaks join dense objects, metal (HU in the thousands) adds photon starvation; bone
    reads the HU of its material model rather than its input HU.

    Parameters
    ----------
    hu_slice : ndarray, shape (rows, cols) or (n, rows, cols)
        CT numbers, HU (a stack is scanned slice by slice, with independent noise).
    spacing_mm : float or (row_mm, col_mm)
        Pixel size, mm.
    kvp, mas, slice_thickness_mm, electronic_noise
        Tube voltage (kV), mAs of the rotation, collimated slice thickness (mm) and detector
        noise (photons): see :func:`add_quantum_noise`.
    kernel : str
        Reconstruction kernel, a key of :data:`KERNELS`.
    n_views : int
        Views per rotation (over 180° parallel, 360° fan).
    rng : numpy.random.Generator or None
        Random stream for quantum noise; ``None``: noiseless.
    geometry, n_detectors, detector_spacing_mm, sod_mm, sdd_mm
        As in :func:`forward_project`.
    beam_hardening : bool
        Polychromatic projection (see above).

    Returns
    -------
    float32 ndarray
        Reconstructed CT numbers, HU, of the input's shape.
    """
    hu = np.asarray(hu_slice, np.float32)
    shape, spacing = hu.shape[-2:], _spacing(spacing_mm)
    n_det, det_spacing, pitch = _detector(shape, spacing, geometry, n_detectors,
                                          detector_spacing_mm, sod_mm, sdd_mm)
    geo = dict(geometry=geometry, detector_spacing_mm=det_spacing, sod_mm=sod_mm,
               sdd_mm=sdd_mm)
    energy = effective_energy_kev(float(kvp))
    if beam_hardening:
        materials = hu_to_materials(hu)
        paths = forward_project(np.stack([materials["soft_tissue"], materials["bone"]]),
                                spacing, n_views, n_detectors=n_det, **geo)
        sino = _polychromatic(paths[0], paths[1], float(kvp))
    else:
        sino = forward_project(hu_to_mu(hu, energy), spacing, n_views, n_detectors=n_det,
                               **geo)
    if rng is not None:
        sino = add_quantum_noise(sino, mas, rng, kvp=kvp, slice_thickness_mm=slice_thickness_mm,
                                 detector_spacing_mm=pitch, electronic_noise=electronic_noise)
    return mu_to_hu(fbp(sino, shape, spacing, kernel=kernel, **geo), energy)


def scan_volume(hu_volume, spacing_mm, *, slice_thickness_mm: float | None = None,
                slice_increment_mm: float | None = None, **scan_slice_options
                ) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Scan a volume slice by slice, reconstructing thick slices from thin ones.

    Each output slice averages ``slice_thickness_mm / dz`` contiguous input slices (its
    attenuation, as a thick collimated slice measures it) and is scanned with that slice
    thickness (so less noise). Slices start every ``slice_increment_mm`` (default: the
    thickness, contiguous; larger: gaps; smaller: overlap); output slice ``i`` covers input
    slices ``i·step .. i·step + n - 1`` and is centred on input slice ``i·step + (n - 1)/2``.

    Parameters
    ----------
    hu_volume : ndarray, shape (z, y, x)
        CT numbers, HU, with voxel size ``spacing_mm`` (dz, dy, dx) in mm.
    slice_thickness_mm, slice_increment_mm : float, optional
        Multiples of ``dz``; default ``dz`` (the input slices as they are).
    **scan_slice_options
        Keywords of :func:`scan_slice` (``kvp``, ``mas``, ``kernel``, ``rng``, ...).

    Returns
    -------
    volume : float32 ndarray, shape (z', y, x)
        Reconstructed CT numbers, HU, and its voxel size ``(increment, dy, dx)`` in mm.

    >>> vol = np.zeros((10, 32, 32), np.float32)
    >>> out, spacing = scan_volume(vol, (1.0, 1.0, 1.0), slice_thickness_mm=5, n_views=60)
    >>> out.shape, spacing
    ((2, 32, 32), (5.0, 1.0, 1.0))
    """
    vol = np.asarray(hu_volume, np.float32)
    dz, dy, dx = (float(v) for v in spacing_mm)
    if vol.ndim != 3 or min(dz, dy, dx) <= 0:
        raise ValueError(f"expected a (z, y, x) volume and three positive spacings, got "
                         f"shape {vol.shape} and spacing_mm {spacing_mm}")
    thickness = dz if slice_thickness_mm is None else float(slice_thickness_mm)
    n = _slices_in(thickness, dz, "slice_thickness_mm")
    step = _slices_in(thickness if slice_increment_mm is None else float(slice_increment_mm),
                      dz, "slice_increment_mm")
    starts = range(0, vol.shape[0] - n + 1, step)
    if not starts:
        raise ValueError(f"slice_thickness_mm {thickness} exceeds the volume's "
                         f"{vol.shape[0] * dz} mm")
    out = [scan_slice(np.stack([vol[s:s + n].mean(0, dtype=float) for s in chunk]), (dy, dx),
                      slice_thickness_mm=thickness, **scan_slice_options)
           for chunk in (starts[i:i + 8] for i in range(0, len(starts), 8))]
    return np.concatenate(out), (step * dz, dy, dx)


def _slices_in(length_mm: float, dz: float, name: str) -> int:
    n = int(round(length_mm / dz))
    if n < 1 or abs(n * dz - length_mm) > 1e-6 * max(dz, 1.0):
        raise ValueError(f"{name} must be a positive multiple of the slice spacing {dz} mm, "
                         f"got {length_mm}")
    return n
