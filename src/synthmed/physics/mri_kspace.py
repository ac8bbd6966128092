"""MRI acquisition: what the scanner does to an ideal magnitude image between the object and
the reconstructed image, on a Cartesian k-space grid; and SynthSeg-style random contrast.

:func:`acquire` chains, in this order (each off by default):

1. **Coil sensitivity** (:func:`bias_field_map`): a smooth multiplicative field, natural cubic
   spline through a few random nodes per axis (one node per ~60 mm, at most 4), scaled to a
   given peak-to-peak fraction. It multiplies the object before noise, as a receive coil
   does, so dark regions are also noisier.
2. **k-space**: ``scipy.fft.fftn`` (``norm="ortho"``, complex64) of the image.
3. **Motion**: a periodic rigid translation of the object while the phase-encode lines are
   acquired (linear order, one line per TR), ``d(t) = motion · u · sin(2π t / P + φ)`` along
   a random unit vector ``u``, with a random period ``P`` of 3–12 lines and phase ``φ``.
   Each line is multiplied by ``exp(-2πi k · d(t))`` (the Fourier shift theorem), so the
   errors depend on the phase-encode line only and ghosts appear along the phase axis only,
   at multiples of ``N / P`` voxels (as pulsation and breathing ghosts do).
4. **Sampling**: the acquired matrix (``resolution_mm``) keeps the central ``N Δ / res``
   samples of each axis; partial Fourier keeps the first ``partial_fourier`` fraction of those
   phase-encode lines (centre included); acceleration ``R`` keeps every R-th line plus
   ``calibration_lines`` central lines. Everything else is zero (zero-filled
   reconstruction): Gibbs ringing appears at sharp edges (overshoot ~9 % of a step, the
   continuous limit, when the grid is >= 4x finer than the acquired resolution; 6.8 % when
   only 2x finer, the grid having band-limited the step already; none when the acquired
   resolution equals the grid, so simulate on a finer grid to see it), partial Fourier
   blurs along the phase axis (no homodyne or POCS reconstruction), and undersampling
   aliases the object at FOV / R along the phase axis. **No parallel-imaging (SENSE/GRAPPA)
   reconstruction is done**, so ``acceleration > 1`` shows what a failed unfolding looks
   like.
5. **Noise**: complex Gaussian noise on the acquired samples only, scaled so that each of the
   real and imaginary channels of the reconstructed image has standard deviation
   ``σ = reference_signal(object) / snr`` (:func:`reference_signal`: the mean of the noiseless
   object, after the coil field, over voxels above 10 % of its maximum). ``snr`` is the SNR
   of the output image, whatever its resolution.
6. Inverse FFT and **magnitude**: noise on a zero background follows a Rayleigh distribution
   (mean/std = √(π/2) / √(2 - π/2) ≈ 1.91), on bright tissue a near-Gaussian one (Rician;
   Gudbjartsson & Patz, MRM 34 (1995) 910).

:func:`slice_profile` averages thin slices into thick ones (a boxcar slice profile).

:func:`random_contrast` is domain randomisation, not physics: a label map to an image of
random contrast, blur, bias field and gamma (Billot et al., "SynthSeg", Med. Image Anal. 86
(2023) 102789), for training contrast-agnostic networks.

Example
-------
>>> import numpy as np
>>> img = np.zeros((64, 64), np.float32); img[16:48, 16:48] = 1.0
>>> out = acquire(img, 1.0, np.random.default_rng(0), resolution_mm=2.0, snr=20)
>>> out.shape, out.dtype, bool(abs(np.median(out[24:40, 24:40]) - 1) < 0.1)
((64, 64), dtype('float32'), True)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft, ndimage
from scipy.interpolate import CubicSpline

__all__ = ["acquire", "bias_field_map", "fourier_downsample", "reference_signal",
           "slice_profile", "smooth_field",
           "upsample_cubic", "random_contrast"]

_BIAS_NODE_MM = 60.0          # one bias-field node per this many mm (2 to 4 per axis)
_MOTION_PERIOD_LINES = (3.0, 12.0)


def _per_axis(value, ndim: int, name: str) -> tuple[float, ...]:
    v = np.asarray(value, float).ravel()
    v = np.repeat(v, ndim) if v.size == 1 else v
    if v.size != ndim or np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{name} must be one positive number or one per axis ({ndim}), "
                         f"got {value}")
    return tuple(float(x) for x in v)


# --- smooth fields ---------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _spline_matrix(n_coarse: int, n_fine: int) -> np.ndarray:
    """(n_fine, n_coarse) weights of a natural cubic spline through ``n_coarse`` equally
    spaced nodes spanning the ``n_fine`` samples (first and last node on the end samples)."""
    if n_coarse == 1 or n_fine == 1:
        m = np.full((n_fine, n_coarse), 1.0 / n_coarse)
    else:
        nodes = np.linspace(0.0, n_fine - 1.0, n_coarse)
        m = CubicSpline(nodes, np.eye(n_coarse), bc_type="natural")(np.arange(n_fine))
    m = m.astype(np.float32)
    m.setflags(write=False)
    return m


def upsample_cubic(coarse: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Separable natural cubic spline from a coarse grid of nodes to ``shape`` (float32).

    One small matrix product per axis, the largest last: a 4³ grid to 256³ costs about as
    much as one pass over the output.

    >>> upsample_cubic(np.array([[0.0, 1.0]]), (1, 5)).tolist()
    [[0.0, 0.25, 0.5, 0.75, 1.0]]
    """
    out = np.asarray(coarse, np.float32)
    if out.ndim != len(shape):
        raise ValueError(f"coarse grid has {out.ndim} axes, shape {shape} has {len(shape)}")
    for axis in reversed(range(len(shape))):
        m = _spline_matrix(out.shape[axis], int(shape[axis]))
        out = np.moveaxis(np.tensordot(m, out, axes=([1], [axis])), 0, axis)
    return np.ascontiguousarray(out)


def smooth_field(shape: tuple[int, ...], rng: np.random.Generator, *, spacing_mm=1.0,
                 correlation_mm: float = 10.0, count: int = 1) -> np.ndarray:
    """``count`` random smooth fields, zero mean and unit standard deviation, ``(count,
    *shape)`` float32: white Gaussian noise on nodes ``correlation_mm`` apart, interpolated
    by :func:`upsample_cubic`.

    >>> f = smooth_field((32, 32), np.random.default_rng(0), correlation_mm=8.0)
    >>> f.shape, round(float(f.std()), 3)
    ((1, 32, 32), 1.0)
    """
    spacing = _per_axis(spacing_mm, len(shape), "spacing_mm")
    nodes = tuple(1 if n == 1 else max(2, int(np.ceil((n - 1) * d / correlation_mm)) + 1)
                  for n, d in zip(shape, spacing))
    coarse = rng.standard_normal((count, *nodes), dtype=np.float32)
    out = np.empty((count, *shape), np.float32)
    step = tuple(slice(None, None, max(1, n // 48)) for n in shape)   # std from a subsample
    for i in range(count):
        f = upsample_cubic(coarse[i], shape)
        sub = f[step]
        f -= np.float32(sub.mean())
        f *= np.float32(1.0 / max(float(sub.std()), 1e-6))
        out[i] = f
    return out


def bias_field_map(shape: tuple[int, ...], rng: np.random.Generator, *, peak_to_peak: float,
               spacing_mm=1.0) -> np.ndarray:
    """A smooth multiplicative receive-coil field, float32, between ``1 - peak_to_peak / 2``
    and ``1 + peak_to_peak / 2``.

    Natural cubic spline through random nodes about 60 mm apart (2 to 4 per axis), so it
    varies over the head as coil sensitivity and transmit-field (B1) inhomogeneity do.

    Parameters
    ----------
    shape : tuple of int
        Grid shape, ``(z, y, x)`` or ``(y, x)``.
    rng : numpy.random.Generator
    peak_to_peak : float
        Maximum minus minimum of the field, a fraction in [0, 2).
    spacing_mm : float or tuple of float
        Voxel size in mm, per axis.

    >>> b = bias_field_map((16, 32, 32), np.random.default_rng(1), peak_to_peak=0.4)
    >>> round(float(b.max() - b.min()), 3), round(float(b.max() + b.min()), 3)
    (0.4, 2.0)
    """
    if not 0.0 <= peak_to_peak < 2.0:
        raise ValueError(f"bias field peak_to_peak must be in [0, 2), got {peak_to_peak}")
    spacing = _per_axis(spacing_mm, len(shape), "spacing_mm")
    nodes = tuple(1 if n == 1 else int(np.clip(round((n - 1) * d / _BIAS_NODE_MM) + 1, 2, 4))
                  for n, d in zip(shape, spacing))
    f = upsample_cubic(rng.standard_normal(nodes, dtype=np.float32), shape)
    lo, hi = float(f.min()), float(f.max())
    scale = peak_to_peak / (hi - lo) if hi > lo else 0.0
    f -= np.float32(0.5 * (hi + lo))
    f *= np.float32(scale)
    f += np.float32(1.0)
    return f


# --- acquisition -------------------------------------------------------------------------------

def reference_signal(image: np.ndarray) -> float:
    """The signal that ``snr`` refers to: the mean of ``|image|`` over voxels above 10 % of its
    maximum (the object, not the background).

    >>> reference_signal(np.array([0.0, 0.05, 1.0, 2.0]))
    1.5
    """
    a = np.abs(np.asarray(image))
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0:
        return 0.0
    return float(a[a > 0.1 * peak].mean(dtype=np.float64))


def _signed_index(n: int) -> np.ndarray:
    """k-space sample index in FFT order: 0, 1, ..., -2, -1."""
    return np.rint(np.fft.fftfreq(n) * n).astype(np.int64)


def _matrix_mask(n: int, spacing: float, resolution: float) -> np.ndarray:
    """Samples kept by an acquired matrix of ``round(n · spacing / resolution)`` samples."""
    n_acq = int(min(n, max(1, round(n * spacing / resolution))))
    k = _signed_index(n)
    return (k >= -(n_acq // 2)) & (k < n_acq - n_acq // 2)


def _phase_mask(base: np.ndarray, partial_fourier: float, acceleration: int,
                calibration_lines: int) -> np.ndarray:
    k = _signed_index(base.size)
    kept = k[base]
    lo, n_acq = int(kept.min()), int(kept.size)
    mask = base & (k < lo + int(np.ceil(partial_fourier * n_acq - 1e-9)))
    if acceleration > 1:
        centre = (k >= -(calibration_lines // 2)) & (k < calibration_lines - calibration_lines // 2)
        mask &= (k % acceleration == 0) | centre
    return mask


def _apply_motion(kspace: np.ndarray, spacing: tuple[float, ...], phase_axis: int,
                  motion_mm: float, rng: np.random.Generator) -> None:
    """Periodic rigid translation during the phase-encode loop, in place (see module doc)."""
    nd = kspace.ndim
    direction = rng.standard_normal(nd)
    direction /= np.linalg.norm(direction)
    period = rng.uniform(*_MOTION_PERIOD_LINES)
    phase0 = rng.uniform(0.0, 2.0 * np.pi)
    n_pe = kspace.shape[phase_axis]
    k_pe = _signed_index(n_pe)
    t = k_pe - k_pe.min()                                 # acquisition order: linear
    shift = motion_mm * np.sin(2.0 * np.pi * t / period + phase0)          # (lines,), mm
    for axis in range(nd):
        if abs(direction[axis]) < 1e-12:
            continue
        freq = np.fft.fftfreq(kspace.shape[axis], d=spacing[axis])         # cycles/mm
        d = direction[axis] * shift
        if axis == phase_axis:
            factor = np.exp(-2j * np.pi * freq * d)
            view = [1] * nd
            view[axis] = n_pe
        else:
            factor = np.exp(-2j * np.pi * np.multiply.outer(freq, d))
            if axis > phase_axis:
                factor = factor.T
            view = [1] * nd
            view[axis], view[phase_axis] = kspace.shape[axis], n_pe
        kspace *= factor.astype(np.complex64).reshape(view)


def acquire(image, spacing_mm, rng: np.random.Generator | None = None, *,
            resolution_mm=None, partial_fourier: float = 1.0, acceleration: int = 1,
            calibration_lines: int = 24, snr: float | None = None, motion: float = 0.0,
            bias_field: float = 0.0, phase_axis: int = -2, workers: int = -1) -> np.ndarray:
    """Acquire a magnitude image on a Cartesian grid and reconstruct it by zero-filled FFT.

    Parameters
    ----------
    image : array_like
        Noiseless signal, non-negative, ``(z, y, x)`` or ``(y, x)`` (any number of axes).
    spacing_mm : float or tuple of float
        Voxel size in mm, per axis.
    rng : numpy.random.Generator or None
        Needed for noise, motion and the bias field.
    resolution_mm : float or tuple of float, optional
        Acquired voxel size in mm per axis (the acquired matrix is ``FOV / resolution``);
        ``None``: the voxel size. Coarser than ``spacing_mm`` truncates k-space (blur and Gibbs
        ringing); finer is capped at the grid's own resolution.
    partial_fourier : float
        Fraction (0.5, 1] of the phase-encode lines acquired; the rest are zero.
    acceleration : int
        Keep every ``acceleration``-th phase-encode line (plus the calibration lines); the
        zero-filled image aliases at FOV / R. No SENSE/GRAPPA unfolding.
    calibration_lines : int
        Fully sampled central phase-encode lines when ``acceleration > 1``.
    snr : float, optional
        Output SNR: noise σ per channel = :func:`reference_signal` of the object / ``snr``.
        ``None``: no noise.
    motion : float
        Amplitude in mm of a periodic rigid translation during the scan (ghosts along the
        phase axis); 0: none.
    bias_field : float
        Peak-to-peak fraction of the multiplicative coil field (:func:`bias_field_map`); 0: none.
    phase_axis : int
        The phase-encode axis (default ``-2``: y of ``(z, y, x)`` or of ``(y, x)``); the last
        axis is the readout.
    workers : int
        ``scipy.fft`` threads (-1: all cores).

    Returns
    -------
    ndarray
        float32 magnitude image, same shape as ``image``.
    """
    x = np.array(image, np.float32)
    nd = x.ndim
    spacing = _per_axis(spacing_mm, nd, "spacing_mm")
    if not -nd <= phase_axis < nd:
        raise ValueError(f"phase_axis {phase_axis} is out of range for a {nd}-D image")
    pa = phase_axis % nd
    if not 0.5 < partial_fourier <= 1.0:
        raise ValueError(f"partial_fourier must be in (0.5, 1] (e.g. 5/8 = 0.625), got "
                         f"{partial_fourier}")
    if int(acceleration) != acceleration or acceleration < 1:
        raise ValueError(f"acceleration must be an integer >= 1, got {acceleration}")
    if calibration_lines < 0:
        raise ValueError(f"calibration_lines must be >= 0, got {calibration_lines}")
    if snr is not None and not snr > 0:
        raise ValueError(f"snr must be positive (or None for no noise), got {snr}")
    if motion < 0:
        raise ValueError(f"motion must be >= 0 mm, got {motion}")
    if (snr is not None or motion > 0 or bias_field > 0) and rng is None:
        raise ValueError("acquire needs an rng for noise, motion or a bias field")

    if bias_field > 0:
        x *= bias_field_map(x.shape, rng, peak_to_peak=bias_field, spacing_mm=spacing)
    sigma = None if snr is None else reference_signal(x) / snr

    res = spacing if resolution_mm is None else _per_axis(resolution_mm, nd, "resolution_mm")
    masks = [_matrix_mask(n, d, r) for n, d, r in zip(x.shape, spacing, res)]
    masks[pa] = _phase_mask(masks[pa], partial_fourier, int(acceleration),
                            int(calibration_lines))
    partial = [not m.all() for m in masks]
    if not any(partial) and motion == 0 and not sigma:
        return x

    k = fft.fftn(x, norm="ortho", workers=workers)
    if motion > 0:
        _apply_motion(k, spacing, pa, motion, rng)
    for axis, (m, cut) in enumerate(zip(masks, partial)):
        if cut:
            view = [1] * nd
            view[axis] = m.size
            k *= m.reshape(view).astype(np.float32)
    if sigma:
        kept = [np.flatnonzero(m) for m in masks]
        n_kept = int(np.prod([i.size for i in kept]))
        s = np.float32(sigma * np.sqrt(x.size / n_kept))        # image σ per channel
        shape = tuple(i.size for i in kept)
        noise = np.empty(shape, np.complex64)
        noise.real = rng.standard_normal(shape, dtype=np.float32)
        noise.imag = rng.standard_normal(shape, dtype=np.float32)
        noise *= s
        if any(partial):
            k[np.ix_(*kept)] += noise
        else:
            k += noise
    out = fft.ifftn(k, norm="ortho", workers=workers, overwrite_x=True)
    return np.abs(out).astype(np.float32, copy=False)


def fourier_downsample(image, factor: int, axes=(-2, -1), workers: int = -1) -> np.ndarray:
    """An object simulated on a grid ``factor`` times finer, seen on the coarse grid.

    Keeps the central ``n / factor`` k-space samples along each of ``axes`` (an ideal
    acquisition of the coarse matrix: band-limited, with Gibbs ringing at sharp edges) after
    shifting the object by ``(factor - 1) / 2`` fine voxels, so coarse voxel ``j`` is
    centred on fine voxels ``factor·j .. factor·j + factor - 1`` (their block, as labels
    made by block majority are). The mean is preserved; the result is real (float32).

    >>> fine = np.zeros((8, 8), np.float32); fine[:, :4] = 1.0    # a step between blocks
    >>> out = fourier_downsample(fine, 2)
    >>> out.shape, bool(np.isclose(out.mean(), fine.mean()))
    ((4, 4), True)
    """
    x = np.asarray(image, np.float32)
    axes = sorted({a % x.ndim for a in axes})
    if int(factor) != factor or factor < 1 or any(x.shape[a] % factor for a in axes):
        raise ValueError(f"factor must be a positive integer dividing the shape "
                         f"{x.shape} along axes {axes}, got {factor}")
    if factor == 1:
        return x
    k = fft.fftn(x, axes=axes, workers=workers)
    for a in axes:
        n = x.shape[a]
        m = n // factor
        view = [1] * x.ndim
        view[a] = n
        k *= np.exp(2j * np.pi * _signed_index(n) * (factor - 1) / 2 / n).astype(
            np.complex64).reshape(view)
        keep = np.r_[0:m - m // 2, n - m // 2:n]
        k = np.take(k, keep, axis=a)
        if m % 2 == 0:                      # split the Nyquist sample: a real result
            index = [slice(None)] * x.ndim
            index[a] = m - m // 2
            k[tuple(index)] = 0
    out = fft.ifftn(k, axes=axes, workers=workers, overwrite_x=True).real
    return (out / factor ** len(axes)).astype(np.float32)


def slice_profile(volume: np.ndarray, n_sub: int, axis: int = 0, *,
                  step: int | None = None) -> np.ndarray:
    """Thick slices from thin ones: the mean of each group of ``n_sub`` consecutive slices
    along ``axis`` (a boxcar slice profile), groups starting ``step`` thin slices apart
    (default ``n_sub``: contiguous; larger: a gap of ``step - n_sub`` thin slices).

    >>> slice_profile(np.arange(6.0).reshape(6, 1), 3)[:, 0].tolist()
    [1.0, 4.0]
    >>> slice_profile(np.arange(7.0).reshape(7, 1), 2, step=5)[:, 0].tolist()   # 3-slice gap
    [0.5, 5.5]
    """
    v = np.asarray(volume)
    n, step = v.shape[axis], step or n_sub
    if n_sub < 1 or step < n_sub or n < n_sub or (n - n_sub) % step:
        raise ValueError(f"{n} slices along axis {axis} do not split into groups of "
                         f"{n_sub} every {step}: crop or pad the volume to "
                         f"{n_sub} + a multiple of {step}")
    groups = np.arange(0, n - n_sub + 1, step)[:, None] + np.arange(n_sub)[None, :]
    out = np.moveaxis(v, axis, 0)[groups].mean(axis=1, dtype=np.float32)
    return np.moveaxis(out, 0, axis)


# --- domain randomisation (SynthSeg) ----------------------------------------------------------

def random_contrast(labels, rng: np.random.Generator, *, n_labels: int | None = None,
                    spacing_mm=1.0, mean_range=(0.0, 1.0), std_range=(0.0, 0.1),
                    bias_field: float = 0.5, blur_mm=(0.0, 2.0), noise_std: float = 0.0,
                    gamma: float = 0.4) -> np.ndarray:
    """A random-contrast image of a label map (SynthSeg's generative model), float32 in [0, 1].

    1. Each label ``l`` gets a Gaussian, mean ``μ_l ~ U(mean_range)`` and standard deviation
       ``σ_l ~ U(std_range)``; every voxel draws from its label's Gaussian (lookup tables).
    2. Blur by a Gaussian of standard deviation ``~ U(blur_mm)`` mm per axis, drawn per axis
       (random anisotropic resolution; ``scipy.ndimage.gaussian_filter1d``, float32).
    3. Multiply by ``exp(B)``: ``B`` a cubic spline through 4 nodes per axis of
       ``N(0, s²)``, ``s ~ U(0, bias_field)``.
    4. Add Gaussian noise of standard deviation ``~ U(0, noise_std)`` (default: none).
    5. Rescale to [0, 1] by minimum and maximum, then raise to ``γ = exp(N(0, gamma²))``.

    Parameters are SynthSeg's (Billot et al., Med. Image Anal. 86 (2023) 102789) on a [0, 1]
    scale: mean in [0, 1] (0-255), σ up to 0.1 (~25), bias field σ up to 0.5, γ spread 0.4.
    Its random down-sampling to a low resolution is not done here (blur only). The same rng
    state gives the same image.

    Parameters
    ----------
    labels : array_like of int
        Label map, non-negative ids.
    rng : numpy.random.Generator
    n_labels : int, optional
        Number of mixture components (ids ``0..n_labels-1``); default ``labels.max() + 1``.
    spacing_mm : float or tuple of float
        Voxel size in mm, per axis (blur widths are in mm).
    mean_range, std_range : tuple of float
        Ranges of each label's mean and standard deviation.
    bias_field : float
        Maximum standard deviation of the log bias field (0: none).
    blur_mm : tuple of float
        Range of the blur's Gaussian σ in mm (FWHM = 2.355 σ); ``(0, 0)``: no blur.
    noise_std : float
        Maximum standard deviation of additive noise after the blur.
    gamma : float
        Standard deviation of ``log γ`` (0: no gamma).

    >>> img = random_contrast(np.arange(4).reshape(2, 2), np.random.default_rng(0))
    >>> img.dtype, float(img.min()), float(img.max())
    (dtype('float32'), 0.0, 1.0)
    """
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {lab.dtype}")
    top = int(lab.max())
    n = top + 1 if n_labels is None else int(n_labels)
    if top >= n or int(lab.min()) < 0:
        raise ValueError(f"labels must be in 0..{n - 1} (n_labels={n}), found {top}")
    nd = lab.ndim
    spacing = np.array(_per_axis(spacing_mm, nd, "spacing_mm"))
    f32 = np.float32
    means = rng.uniform(*mean_range, n).astype(f32)
    stds = rng.uniform(*std_range, n).astype(f32)
    sigmas = rng.uniform(*blur_mm, nd) / spacing
    bias_sigma = rng.uniform(0.0, bias_field) if bias_field > 0 else 0.0
    noise = rng.uniform(0.0, noise_std) if noise_std > 0 else 0.0
    g = float(np.exp(rng.normal(0.0, gamma))) if gamma > 0 else 1.0

    index = lab.astype(np.intp)                   # once: np.take converts other dtypes
    img = np.take(means, index)
    if stds.any():
        z = rng.standard_normal(lab.shape, dtype=f32)
        z *= np.take(stds, index)
        img += z
        del z
    for axis in reversed(range(nd)):              # the contiguous axes first
        if sigmas[axis] > 0.05:
            img = ndimage.gaussian_filter1d(img, sigmas[axis], axis=axis, mode="nearest")
    if bias_sigma > 0:
        coarse = rng.standard_normal((4,) * nd, dtype=f32) * f32(bias_sigma)
        img *= np.exp(upsample_cubic(coarse, lab.shape))
    if noise > 0:
        img += rng.standard_normal(lab.shape, dtype=f32) * f32(noise)
    lo, hi = img.min(), img.max()
    img -= lo
    if hi > lo:
        img /= hi - lo                            # the maximum becomes exactly 1
    np.clip(img, 0.0, 1.0, out=img)
    if g != 1.0:
        np.power(img, f32(g), out=img)
    return img
