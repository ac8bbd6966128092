"""B-mode scanning: probe geometry, beam lines, RF simulation, TGC and scan conversion.

:func:`simulate_bmode` images a tissue model given as two functions of position in mm
(``labels_at(x, z)`` -> region index into a list of :class:`~synthmed.physics.ultrasound.Tissue`,
and optionally ``echo_at(x, z, labels)`` -> echogenicity texture), so the same model
is sampled along the beams for the echoes and at the pixel centres for exact label masks.

1. Beam grid: lines of a :class:`Probe`, a linear array (parallel lines, rectangular image)
   or a curvilinear array (lines fanning out from a virtual apex ``radius_mm`` behind the
   face), sampled in depth at the RF rate; tissue is looked up on a coarser depth step.
2. Echoes: random point scatterers per cell
   (:func:`~synthmed.physics.ultrasound.scatterer_amplitudes`) plus a specular echo at
   every interface the beam crosses (``R`` times a directivity term), all weighted by the
   round-trip attenuation and interface transmission above them, spread across the
   transmit beam's width; a mirror image beyond tissue-air interfaces.
3. RF: lateral convolution with the depth-dependent Gaussian beam (one FFT along the lines,
   a Gaussian transfer function per depth row), thermal noise, axial convolution with the
   pulse.
4. Time-gain compensation (the lateral median of the soft-tissue attenuation, so shadowing
   and enhancement stay), Hilbert envelope.
5. Spatial compounding (linear probe: steered frames averaged), log compression and scan
   conversion to a Cartesian image with ``scipy.ndimage.map_coordinates``; outside the
   field of view 0.

Example
-------
>>> import numpy as np
>>> from synthmed.physics.ultrasound import TISSUES
>>> b = simulate_bmode(lambda x, z: np.zeros(x.shape, int), [TISSUES["liver"]],
...                    probe=PROBES["curvilinear"], frequency_mhz=3.5, depth_mm=60,
...                    focus_mm=30, image_size=(64, 64), rng=np.random.default_rng(0))
>>> b.image.shape, bool(b.image[0, 0] == 0 and b.image[b.inside].mean() > 0.3)
((64, 64), True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from synthmed.physics.ultrasound import (Tissue, envelope, gaussian_pulse, lateral_sigma_mm,
                                         log_compress, pulse_sigma_mm, reflection_coefficient,
                                         rf_sample_spacing_mm, round_trip_attenuation_db,
                                         scatterer_amplitudes, transmit_sigma_mm, wavelength_mm)

__all__ = ["Probe", "PROBES", "BeamGrid", "CartesianGrid", "BMode", "cartesian_grid",
           "beam_grid", "simulate_bmode"]

#: Fraction of an interface's echo a rough surface returns at any incidence (diffuse
#: reflection), so bone and air boundaries stay visible when oblique to the beam.
_DIFFUSE = 0.12
#: Log-normal spread of an interface echo from point to point (surface roughness).
_ROUGHNESS = 0.6
#: Elevational partial volume: sigma (in wavelengths) of the in-plane smoothing of the echo
#: map standing for the slice thickness.
_PARTIAL_VOLUME_WAVELENGTHS = 1.5
#: Soft-tissue attenuation that TGC compensates at most (dB/cm/MHz); bone, calcification
#: and air (> 5 dB/cm/MHz) are left out, as a sonographer's TGC is set on soft tissue.
_TGC_MAX_ALPHA = 1.5


@dataclass(frozen=True)
class Probe:
    """Transducer geometry.

    Parameters
    ----------
    kind : {"linear", "curvilinear"}
    footprint_mm : float
        Linear array: length of the array = width of the rectangular image (mm).
    radius_mm : float
        Curvilinear array: radius of curvature of the face (mm); lines leave it normally.
    sector_deg : float
        Curvilinear array: angle between the outermost lines (degrees).
    max_aperture_mm : float
        Largest active sub-aperture used to focus, transmit and receive (mm).
    """

    kind: str
    footprint_mm: float = 40.0
    radius_mm: float = 0.0
    sector_deg: float = 0.0
    max_aperture_mm: float = 20.0

    def skin_depth_mm(self, x, z):
        """Depth below the skin, which conforms to the probe face (mm)."""
        if self.kind == "linear":
            return np.asarray(z)
        return np.hypot(x, np.asarray(z) + self.radius_mm) - self.radius_mm

    def bounds_mm(self, depth_mm: float) -> tuple[float, float, float, float]:
        """``(x_min, x_max, z_min, z_max)`` of the field of view (z = 0 at the face centre)."""
        if self.kind == "linear":
            return -self.footprint_mm / 2, self.footprint_mm / 2, 0.0, float(depth_mm)
        half = np.radians(self.sector_deg) / 2
        r = self.radius_mm
        w = (r + depth_mm) * np.sin(half)
        return -float(w), float(w), float(r * np.cos(half) - r), float(depth_mm)

    def inside(self, x, z, depth_mm: float):
        """True where (x, z) (mm) lies in the imaged field of view."""
        x, z = np.asarray(x), np.asarray(z)
        if self.kind == "linear":
            return (np.abs(x) <= self.footprint_mm / 2) & (z >= 0) & (z <= depth_mm)
        d = self.skin_depth_mm(x, z)
        th = np.arctan2(x, z + self.radius_mm)
        return (d >= 0) & (d <= depth_mm) & (np.abs(th) <= np.radians(self.sector_deg) / 2)


#: Default probes: a linear array like an L12-5 (40 mm footprint) and an abdominal
#: curvilinear array like a C5-1 (50 mm radius, 70 degree field of view).
PROBES = {
    "linear": Probe("linear", footprint_mm=40.0, max_aperture_mm=20.0),
    "curvilinear": Probe("curvilinear", radius_mm=50.0, sector_deg=70.0, max_aperture_mm=30.0),
}


@dataclass(frozen=True)
class CartesianGrid:
    """Pixel grid of the displayed image: square pixels, pixel (r, c) covers
    ``[z0 + r s, z0 + (r + 1) s) x [x0 + c s, x0 + (c + 1) s)`` (mm)."""

    shape: tuple[int, int]
    spacing_mm: float
    x0_mm: float
    z0_mm: float

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, z)`` in mm of every pixel centre, each of shape ``shape``."""
        s = self.spacing_mm
        z = self.z0_mm + (np.arange(self.shape[0]) + 0.5) * s
        x = self.x0_mm + (np.arange(self.shape[1]) + 0.5) * s
        return np.broadcast_to(x[None, :], self.shape), np.broadcast_to(z[:, None], self.shape)

    def to_index(self, x_mm: float, z_mm: float) -> tuple[float, float]:
        """Position (mm) -> ``(row, col)`` in pixel index space (corner of pixel 0 = 0)."""
        return ((z_mm - self.z0_mm) / self.spacing_mm, (x_mm - self.x0_mm) / self.spacing_mm)


def cartesian_grid(probe: Probe, depth_mm: float, image_size: tuple[int, int]) -> CartesianGrid:
    """Square-pixel grid holding the whole field of view, centred laterally, top aligned.

    >>> g = cartesian_grid(PROBES["linear"], 40.0, (256, 256))
    >>> g.spacing_mm, g.to_index(0.0, 20.0)
    (0.15625, (128.0, 128.0))
    """
    x0, x1, z0, z1 = probe.bounds_mm(depth_mm)
    rows, cols = image_size
    s = max((z1 - z0) / rows, (x1 - x0) / cols)
    return CartesianGrid((int(rows), int(cols)), float(s), -cols * s / 2.0, float(z0))


@dataclass(frozen=True)
class BeamGrid:
    """Beam lines and RF depth samples of one frame.

    ``lines`` are the line origins: lateral positions (mm) on a linear array, angles
    (radians) on a curvilinear one, including ``margin`` extra lines per side so the
    lateral PSF has tissue beyond the edges. Depth samples are ``dz_mm`` apart along the
    line, centres at ``(i + 0.5) dz``. A linear array's lines may be steered by
    ``steer_rad`` (spatial compounding).
    """

    probe: Probe
    n_depth: int
    dz_mm: float
    lines: np.ndarray
    margin: int
    steer_rad: float = 0.0

    @property
    def step(self) -> float:
        return float(self.lines[1] - self.lines[0])

    def depths(self, every: int = 1) -> np.ndarray:
        """Depth along the line (mm) of every ``every``-th block of samples (block centres)."""
        n = self.n_depth // every
        return ((np.arange(n) + 0.5) * every * self.dz_mm).astype(np.float64)

    def xz(self, depths_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cartesian (x, z) in mm of each (depth, line) pair."""
        d = np.asarray(depths_mm, np.float64)[:, None]
        if self.probe.kind == "linear":
            s, c = np.sin(self.steer_rad), np.cos(self.steer_rad)
            return self.lines[None, :] + d * s, np.broadcast_to(d * c, (d.size, self.lines.size))
        r = self.probe.radius_mm + d
        return (r * np.sin(self.lines)[None, :],
                r * np.cos(self.lines)[None, :] - self.probe.radius_mm)

    def line_width_mm(self, depths_mm: np.ndarray) -> np.ndarray:
        """Distance (mm) between neighbouring lines, across them, at each depth."""
        d = np.asarray(depths_mm, np.float64)
        if self.probe.kind == "linear":
            return np.full(d.shape, self.step * np.cos(self.steer_rad))
        return (self.probe.radius_mm + d) * self.step

    def to_index(self, x, z) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (depth sample, line) indices of Cartesian points (mm)."""
        x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
        if self.probe.kind == "linear":
            d = z / np.cos(self.steer_rad)
            lat = x - z * np.tan(self.steer_rad)
        else:
            zz = z + self.probe.radius_mm
            d = np.hypot(x, zz) - self.probe.radius_mm
            lat = np.arctan2(x, zz)
        return d / self.dz_mm - 0.5, (lat - self.lines[0]) / self.step


def beam_grid(probe: Probe, dz_mm: float, sigma_mm: np.ndarray, line_density: float = 1.0,
              steer_rad: float = 0.0) -> BeamGrid:
    """Lines spaced at most ``0.9 / line_density`` of the narrowest lateral beam sigma.

    ``sigma_mm`` is the lateral (two-way) beam sigma at each RF depth sample.
    """
    depths = (np.arange(sigma_mm.size) + 0.5) * dz_mm
    if probe.kind == "linear":
        width = np.full(depths.shape, np.cos(steer_rad))   # mm across lines per mm of origin
        half = probe.footprint_mm / 2
    else:
        width = probe.radius_mm + depths                    # mm per radian
        half = np.radians(probe.sector_deg) / 2
    step = 0.9 * float((sigma_mm / width).min()) / line_density
    n = int(np.ceil(2 * half / step)) + 1
    step = 2 * half / (n - 1)
    margin = int(np.ceil(4.0 * float((sigma_mm / (width * step)).max()))) + 2
    lines = -half + step * np.arange(-margin, n + margin)
    return BeamGrid(probe, int(sigma_mm.size), float(dz_mm), lines, margin, float(steer_rad))


def _lateral_gauss(a: np.ndarray, sigma_lines: np.ndarray, edge: bool = False) -> np.ndarray:
    """Convolve each row of ``a`` along axis 1 with a Gaussian of its own sigma (in lines).

    One real FFT along the lines and a Gaussian transfer function per row; the rows are
    padded by 4 sigma with zeros (``edge=False``: no tissue beyond) or with their end
    values (``edge=True``), so the convolution is linear, not circular.
    """
    n_lines = a.shape[1]
    pad = int(np.ceil(4 * float(np.max(sigma_lines)))) + 1
    if edge:
        a = np.pad(a, ((0, 0), (pad, pad)), mode="edge")
    nfft = sfft.next_fast_len(a.shape[1] + (0 if edge else pad), real=True)
    spec = sfft.rfft(a, n=nfft, axis=1)
    f = np.fft.rfftfreq(nfft).astype(np.float32)
    s = np.asarray(sigma_lines, np.float32)[:, None]
    spec *= np.exp(-2.0 * np.pi ** 2 * (s * f[None, :]) ** 2)
    out = sfft.irfft(spec, n=nfft, axis=1)
    return (out[:, pad:pad + n_lines] if edge else out[:, :n_lines]).astype(np.float32)


@dataclass
class BMode:
    """A simulated B-mode image and what was measured on the way.

    Attributes
    ----------
    image : float32 ndarray
        Display-ready B-mode image in [0, 1] on ``grid`` (0 outside the field of view).
    inside : bool ndarray
        Field-of-view mask on ``grid``.
    grid : CartesianGrid
    beams : BeamGrid
        Beam lines of the unsteered frame.
    envelope : float32 ndarray
        Detected envelope of the unsteered frame after TGC, before log compression,
        ``(depth sample, line)`` for the lines inside the field of view (margins dropped);
        1 = RMS echo of tissue with echogenicity 1 at the focus.
    depths_mm : ndarray
        Depth of each envelope row (mm).
    tgc_db : ndarray
        Time-gain compensation applied at each depth (dB; zeros when off).
    """

    image: np.ndarray
    inside: np.ndarray
    grid: CartesianGrid
    beams: BeamGrid
    envelope: np.ndarray
    depths_mm: np.ndarray
    tgc_db: np.ndarray


@dataclass(frozen=True)
class _Acq:
    """Acquisition constants shared by the frames of one image."""

    f0: float
    bw: float
    dz: float
    k: int
    focus: float
    aperture: float
    rx_f_number: float
    sigma_f: float
    sigma_z: float
    tgc: bool
    noise_db: float
    specular_db: float
    specular_angle_deg: float
    min_transmission: float


def _mirror(s, ii, jj, imp, theta, r_coef, alpha, q: _Acq) -> None:
    """Mirror-image artefact, in place: behind the first tissue-air interface on a line
    (|R| ~ 1, e.g. the diaphragm over the lung) the echoes in front of it return a second
    time by way of the interface, so they appear mirrored beyond it, weighted by R^2, the
    specular directivity (twice the beam's acceptance) and the extra path's attenuation.
    """
    air = imp[ii, jj] < 0.1
    if not air.any():
        return
    lines, first = np.unique(jj[air], return_index=True)
    rows = ii[air][first]
    th = theta[air][first]
    k, dz = q.k, q.dz
    weight = r_coef[air][first] ** 2 * np.exp(-0.5 * (th / np.radians(2 * q.specular_angle_deg))
                                              ** 2)
    n = s.shape[0]
    for j, i, w in zip(lines, rows, weight):
        i0 = i * k
        span = min(i0, n - i0)
        if span < 2 or w < 1e-3:
            continue
        t = np.arange(1, span)
        extra_db = 2.0 * q.f0 * alpha[i - 1, j] * (2 * t * dz) / 10.0
        s[i0 + t, j] += (w * 10.0 ** (-extra_db / 20.0) * s[i0 - t, j]).astype(np.float32)


def _frame(labels_at, props, echo_at, beams: BeamGrid, q: _Acq, rng: np.random.Generator):
    """Envelope ``(n_depth, n_lines)`` of one frame and its TGC (dB per depth sample)."""
    k, dz, f0 = q.k, q.dz, q.f0
    n, n_lines, m = beams.n_depth, beams.lines.size, beams.margin
    depth_f = beams.depths()
    sigma = lateral_sigma_mm(depth_f, f0, q.focus, q.aperture, q.rx_f_number,
                             beams.probe.max_aperture_mm)

    # -- tissue along the beams (coarse depth step k * dz) ------------------------------
    depth_c = beams.depths(k)
    xc, zc = beams.xz(depth_c)
    lab = np.asarray(labels_at(xc, zc), dtype=np.intp)
    speed, imp, alpha = props[lab, 0], props[lab, 1], props[lab, 2]
    echo = props[lab, 3].astype(np.float32)
    if echo_at is not None:
        echo *= np.asarray(echo_at(xc, zc, lab), np.float32)
    dzc = k * dz
    wc = beams.line_width_mm(depth_c)
    # slice thickness: the beam's elevation width averages tissue just out of the plane,
    # which softens the echo map's edges (partial volume); masks keep the exact geometry
    pv = _PARTIAL_VOLUME_WAVELENGTHS * wavelength_mm(f0)
    echo = ndimage.gaussian_filter(echo, (pv / dzc, pv / float(np.median(wc))), mode="nearest")

    # -- interfaces: Fresnel reflection / transmission with the local incidence angle -----
    smooth = ndimage.gaussian_filter(np.log(imp), (0.4 / dzc, 0.4 / float(np.median(wc))))
    g_ax = np.gradient(smooth, axis=0) / dzc
    g_lat = np.gradient(smooth, axis=1) / wc[:, None]
    ii, jj = np.nonzero(lab[1:] != lab[:-1])
    ii = ii + 1                                     # interface at the top of coarse row ii
    ga = 0.5 * (g_ax[ii, jj] + g_ax[ii - 1, jj])
    gl = 0.5 * (g_lat[ii, jj] + g_lat[ii - 1, jj])
    theta = np.arctan2(np.abs(gl), np.abs(ga) + 1e-12)
    z1, z2 = imp[ii - 1, jj], imp[ii, jj]
    r_coef, t_energy = reflection_coefficient(z1, z2, speed[ii - 1, jj], speed[ii, jj], theta)
    # total reflection past the critical angle is partial for real walls, which are rougher,
    # thinner or more curved than the beam (a thin skull plate transmits): obliquity may
    # cost at most a factor min_transmission over normal incidence, except at air
    t_normal = reflection_coefficient(z1, z2)[1]
    solid = (z1 > 0.1) & (z2 > 0.1)
    t_eff = np.where(solid, np.maximum(t_energy, q.min_transmission * t_normal), t_energy)
    loss_c = np.zeros(lab.shape, np.float64)        # two-way interface loss, dB
    np.add.at(loss_c, (ii, jj), -20.0 * np.log10(np.maximum(t_eff, 1e-6)))
    loss_c = np.cumsum(loss_c, axis=0)

    # -- attenuation and transmission, spread across the transmit beam's width ------------
    att_c = round_trip_attenuation_db(alpha, dzc, f0)
    amp_c = (10.0 ** (-(att_c + loss_c) / 20.0)).astype(np.float32)
    s_tx = transmit_sigma_mm(depth_c, f0, q.focus, q.aperture)
    amp_c = np.clip(_lateral_gauss(amp_c, s_tx / wc, edge=True), 0.0, 1.0)

    # -- scatterers: echo power per cell normalised to E[env^2] = 1 at the focus ----------
    a_ref = np.pi * q.sigma_f * q.sigma_z           # see BMode.envelope
    a_res = (2.355 * q.sigma_f) * (2.355 * q.sigma_z)   # resolution cell (FWHM^2), mm^2
    width_f = beams.line_width_mm(depth_f)
    cell = (dz * width_f)[:, None]
    rms = np.repeat(echo * amp_c, k, axis=0) * np.sqrt(cell / a_ref).astype(np.float32)
    count = np.repeat(props[lab, 4], k, axis=0) * (cell / a_res)
    s = scatterer_amplitudes(rms, count, rng)

    # -- specular echoes: R x (directivity + diffuse part of a rough surface) -------------
    rough = np.exp(_ROUGHNESS * rng.standard_normal(ii.size))
    directivity = np.exp(-0.5 * (theta / np.radians(q.specular_angle_deg)) ** 2)
    directivity = directivity + _DIFFUSE * (1.0 - directivity)
    spec = (10.0 ** (q.specular_db / 20.0) * r_coef * directivity * rough * amp_c[ii - 1, jj]
            * wc[ii] / (np.sqrt(2.0 * np.pi) * q.sigma_f))
    np.add.at(s, (ii * k, jj), spec.astype(np.float32))

    # -- RF: lateral beam (peak-1 profile, focal gain), noise, axial pulse ---------------
    sig_lines = sigma / width_f
    gain = np.sqrt(2.0 * np.pi) * sig_lines * q.sigma_f / sigma
    s = _lateral_gauss(s, sig_lines) * gain.astype(np.float32)[:, None]
    _mirror(s, ii, jj, imp, theta, r_coef, alpha, q)
    noise_rms = np.sqrt(10.0 ** (q.noise_db / 10.0) * dz / (np.sqrt(np.pi) * q.sigma_z))
    s += (noise_rms * rng.standard_normal(s.shape, dtype=np.float32)).astype(np.float32)
    rf = ndimage.convolve1d(s, gaussian_pulse(f0, q.bw, dz), axis=0, mode="constant")

    # -- TGC on the median soft-tissue attenuation, envelope ------------------------------
    if q.tgc:
        a_in = alpha[:, m:n_lines - m]
        a_soft = np.where(a_in > 5.0, 0.0, np.minimum(a_in, _TGC_MAX_ALPHA))
        soft_db = np.median(round_trip_attenuation_db(a_soft, dzc, f0), axis=1)
        tgc_db = np.interp(depth_f, depth_c, soft_db)
        tgc_db = ndimage.gaussian_filter1d(tgc_db, 2.0 / dz, mode="nearest")
    else:
        tgc_db = np.zeros(n)
    rf *= (10.0 ** (tgc_db / 20.0)).astype(np.float32)[:, None]
    return envelope(rf, axis=0), tgc_db


def simulate_bmode(labels_at: Callable[[np.ndarray, np.ndarray], np.ndarray],
                   tissues: Sequence[Tissue], *, probe: Probe, frequency_mhz: float,
                   depth_mm: float, focus_mm: float, image_size: tuple[int, int],
                   rng: np.random.Generator,
                   echo_at: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
                   | None = None,
                   fractional_bandwidth: float = 0.6, dynamic_range_db: float = 60.0,
                   gain_db: float = 0.0, tgc: bool = True, compounding: int = 1,
                   compounding_step_deg: float = 10.0, transmit_f_number: float = 2.5,
                   receive_f_number: float = 2.0, noise_db: float = -90.0,
                   specular_db: float = 40.0, specular_angle_deg: float = 7.0,
                   min_transmission: float = 0.6, line_density: float = 1.0) -> BMode:
    """Simulate a B-mode image of a tissue model (see the module docstring for the steps).

    Parameters
    ----------
    labels_at : callable
        ``labels_at(x_mm, z_mm) -> int array``: tissue region at each point, an index into
        ``tissues``; x lateral (0 on the central line), z depth below the face centre.
    tissues : sequence of Tissue
        Acoustic properties per region index.
    probe : Probe
    frequency_mhz : float
        Centre frequency of the pulse (MHz).
    depth_mm, focus_mm : float
        Imaging depth and transmit focal depth below the probe face (mm).
    image_size : (int, int)
        Rows and columns of the displayed (scan-converted) image.
    rng : numpy.random.Generator
        Draws the scatterers, interface roughness and thermal noise.
    echo_at : callable, optional
        ``echo_at(x_mm, z_mm, labels) -> float array`` (>= 0) multiplying each region's
        echogenicity: texture within a tissue.
    fractional_bandwidth : float
        -6 dB pulse-echo bandwidth as a fraction of the centre frequency.
    dynamic_range_db, gain_db : float
        Log compression: decibels from black to white, and overall gain (dB).
    tgc : bool
        Apply time-gain compensation (the lateral median of the cumulative soft-tissue
        attenuation, capped at 1.5 dB/cm/MHz) or not.
    compounding : int
        Spatial compounding (linear probe only): number of frames steered
        ``compounding_step_deg`` apart whose envelopes are averaged (1 = off). Each frame
        has its own speckle and shadow direction, as on a scanner.
    transmit_f_number, receive_f_number : float
        Transmit aperture = focus / f-number (capped by the probe); dynamic receive f-number.
    noise_db : float
        Thermal noise power before TGC, relative to the reference echo power (dB).
    specular_db : float
        Echo of a perfect plane reflector at normal incidence relative to the reference RMS
        echo (dB); an interface returns ``R`` times it.
    specular_angle_deg : float
        Angular width (sigma, degrees) of specular reflection back to the aperture.
    min_transmission : float
        Oblique incidence (up to total reflection past the critical angle) may lower the
        two-way transmission ``1 - R^2`` at most to this fraction of its normal-incidence
        value: partial edge shadowing by walls thinner, rougher or more curved than the
        beam. Interfaces with air are not floored.
    line_density : float
        Multiplies the number of beam lines (1 = 0.9 lines per narrowest beam sigma).
    """
    if compounding > 1 and probe.kind != "linear":
        raise ValueError("spatial compounding needs a linear probe; use compounding=1")
    f0 = frequency_mhz
    grid = cartesian_grid(probe, depth_mm, image_size)
    lam = wavelength_mm(f0)
    dz = rf_sample_spacing_mm(f0, fractional_bandwidth)
    k = max(1, int(min(lam / 2.0, grid.spacing_mm / 2.0) / dz))
    aperture = float(np.clip(focus_mm / transmit_f_number, 4 * lam, probe.max_aperture_mm))
    sigma_f = float(lateral_sigma_mm(np.array([focus_mm]), f0, focus_mm, aperture,
                                     receive_f_number, probe.max_aperture_mm)[0])
    q = _Acq(f0, fractional_bandwidth, dz, k, focus_mm, aperture, receive_f_number, sigma_f,
             pulse_sigma_mm(f0, fractional_bandwidth), tgc, noise_db, specular_db,
             specular_angle_deg, min_transmission)
    props = np.array([[t.speed_m_s, t.impedance_mrayl, t.attenuation_db_cm_mhz,
                       t.echogenicity, t.scatterer_density] for t in tissues], np.float64)
    xg, zg = grid.centres()
    inside = probe.inside(xg, zg, depth_mm)
    px = grid.spacing_mm
    steps = (np.arange(compounding) - (compounding - 1) / 2) * np.radians(compounding_step_deg)
    steps = steps[np.argsort(np.abs(steps), kind="stable")]      # unsteered frame first
    acc, cnt, first = np.zeros(grid.shape), np.zeros(grid.shape), None
    for steer in steps:
        n_c = int(np.ceil(depth_mm / np.cos(steer) / (k * dz))) + 1
        depth_f = (np.arange(n_c * k) + 0.5) * dz
        sigma = lateral_sigma_mm(depth_f, f0, focus_mm, aperture, receive_f_number,
                                 probe.max_aperture_mm)
        beams = beam_grid(probe, dz, sigma, line_density, float(steer))
        env, tgc_db = _frame(labels_at, props, echo_at, beams, q, rng)
        if first is None:
            n_keep = int(np.ceil(depth_mm / dz))
            m = beams.margin
            first = (beams, env[:n_keep, m:beams.lines.size - m], depth_f[:n_keep],
                     tgc_db[:n_keep])
        # display: anti-alias to the pixel size, scan conversion
        disp = env
        if 0.35 * px / dz > 0.5:
            disp = ndimage.gaussian_filter1d(disp, 0.35 * px / dz, axis=0)
        lat_sigma = 0.35 * px / beams.line_width_mm(depth_f)
        if lat_sigma.max() > 0.5:
            disp = _lateral_gauss(disp, np.where(lat_sigma > 0.5, lat_sigma, 0.0))
        di, li = beams.to_index(xg, zg)
        m = beams.margin
        valid = (li >= m - 0.5) & (li <= beams.lines.size - 1 - m + 0.5) & (di < env.shape[0])
        v = ndimage.map_coordinates(disp, [di, li], order=1, mode="nearest")
        acc += np.where(valid, v, 0.0)
        cnt += valid
    img = log_compress(acc / np.maximum(cnt, 1), dynamic_range_db, gain_db)
    img = np.where(inside & (cnt > 0), img, 0.0).astype(np.float32)
    beams, env, depths, tgc_db = first
    return BMode(image=img, inside=inside, grid=grid, beams=beams, envelope=env,
                 depths_mm=depths, tgc_db=tgc_db)
