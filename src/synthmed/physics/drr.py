"""Digitally reconstructed radiographs (DRR): X-rays from a CT volume in Hounsfield units.

Two steps, so the physics stays in one place (:mod:`synthmed.physics.xray`):

1. :func:`hu_to_materials` — a two-material decomposition of each voxel into soft tissue and
   cortical bone (a piecewise-linear HU → density calibration in the manner of Schneider et
   al., Phys. Med. Biol. 41 (1996) 111), as equivalent path-length fractions.
2. :func:`path_lengths_from_ct` — cone-beam (or parallel-beam) ray casting through those
   fraction volumes by Joseph's method (trilinear samples where the rays cross planes of
   voxel centres), giving per-material path lengths in cm for every detector pixel, which
   :func:`synthmed.physics.xray.project` turns into a radiograph.

:func:`radiograph_from_ct` chains them with :func:`~synthmed.physics.xray.project` and
:func:`~synthmed.physics.xray.display`.

Geometry and orientation
------------------------
The volume is indexed ``(z, y, x)`` with voxel spacing ``(dz, dy, dx)`` in mm, in a patient
frame where ``z`` increases towards the head (true of both DICOM LPS and NIfTI RAS). The beam
travels along ``+y`` from a source at ``sod_mm`` before the volume's centre to a flat detector
``sid_mm`` from the source: for an LPS-ordered volume (``y`` to posterior) that is an AP
projection. ``gantry_deg`` rotates the source about the ``z`` axis. Detector row 0 is the
highest ``z`` (head at the top); columns follow ``x``. Path lengths are those of the rays that
meet each detector pixel, so objects are magnified by ``sid_mm / sod_mm`` on the detector.

Example
-------
>>> import numpy as np
>>> ct = np.full((32, 32, 32), -1000.0, np.float32)    # air
>>> ct[8:24, 8:24, 8:24] = 0.0                          # a 16 mm water cube (1 mm voxels)
>>> paths = path_lengths_from_ct(ct, (1, 1, 1), detector_shape=(64, 64),
...                              detector_spacing_mm=1.0, sid_mm=None)
>>> round(float(paths["soft_tissue"].max()), 2)   # cm of soft tissue: 1.6 cm × 0.96
1.54
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthmed.physics import xray

__all__ = ["hu_to_materials", "path_lengths_from_ct", "radiograph_from_ct"]

_HU_SOFT = 40.0      # soft tissue (ICRU-44, 1.06 g/cm³) at diagnostic energies
_HU_BONE = 1500.0    # cortical bone (ICRU-44, 1.92 g/cm³)


def hu_to_materials(ct_hu: np.ndarray) -> dict[str, np.ndarray]:
    """Split CT numbers into soft-tissue and cortical-bone fractions (0..~1 each).

    A voxel's fraction ``f`` of a material means its line integral contributes ``f × length``
    of that material at the density in :data:`synthmed.physics.xray.MATERIALS`:

    - HU ≤ 40 (air, lung, fat, soft tissue): soft tissue at density ``(HU + 1000) / 1040``
      of its own, so air → 0, lung (−800) → 0.19, water (0) → 0.96;
    - 40 < HU ≤ 1500: a volume mixture of soft tissue and cortical bone, the bone fraction
      rising linearly from 0 at 40 HU to 1 at 1500 HU;
    - HU > 1500 (dense bone, contrast, metal): cortical bone at proportionally higher density.

    Parameters
    ----------
    ct_hu : ndarray
        CT numbers in Hounsfield units (any shape).

    Returns
    -------
    dict with ``"soft_tissue"`` and ``"bone"``: float32 arrays of the input's shape.

    Examples
    --------
    >>> m = hu_to_materials(np.array([-1000.0, 0.0, 770.0, 3000.0]))
    >>> [round(float(f), 2) for f in m["soft_tissue"]], [round(float(f), 2) for f in m["bone"]]
    ([0.0, 0.96, 0.5, 0.0], [0.0, 0.0, 0.5, 2.0])
    """
    hu = np.asarray(ct_hu, np.float32)
    # the first term is the smaller up to 40 HU, the second (1 − bone fraction) above
    soft = np.clip(np.minimum((hu + 1000.0) / (1000.0 + _HU_SOFT),
                              (_HU_BONE - hu) / (_HU_BONE - _HU_SOFT)), 0.0, 1.0)
    bone = np.maximum((hu - _HU_SOFT) / (_HU_BONE - _HU_SOFT), 0.0)
    bone = np.where(hu > _HU_BONE, hu / _HU_BONE, bone)
    return {"soft_tissue": np.asarray(soft, np.float32), "bone": np.asarray(bone, np.float32)}


def path_lengths_from_ct(ct_hu: np.ndarray, spacing_mm: Sequence[float], *,
                         detector_shape: tuple[int, int] = (512, 512),
                         detector_spacing_mm: float = 0.8, sid_mm: float | None = 1000.0,
                         sod_mm: float | None = None, gantry_deg: float = 0.0,
                         step_voxels: float = 1.0, chunk_rows: int = 16
                         ) -> dict[str, np.ndarray]:
    """Per-material path lengths in cm along the rays of a radiograph through a CT volume.

    Joseph's method (IEEE Trans. Med. Imaging 1 (1982) 192): of the volume's axes, the one
    the rays cross most steeply on average (``y`` for a view near 0° or 180°, ``x`` near
    ±90°) is the view's *main axis*; every ray is sampled where it crosses planes across that
    axis, and each sample counts for the ray's path between the planes midway to its
    neighbours, clipped to the volume's box. The planes are those of voxel centres (one per
    voxel; a sample there is a bilinear interpolation within the plane) unless a ray would
    then move more than ``step_voxels`` voxels along another axis between samples, as in
    views about 45° off an axis: then they are closer and a sample also interpolates
    linearly between the two nearest planes of voxel centres. Either way the samples are
    those of trilinear interpolation. The box is the voxels' full extent: tissue in the
    outer half-voxel at a face counts at the edge voxel's value.

    Parameters
    ----------
    ct_hu : ndarray, shape (z, y, x)
        CT volume in Hounsfield units.
    spacing_mm : (dz, dy, dx)
        Voxel spacing in mm.
    detector_shape : (rows, cols)
        Detector size in pixels.
    detector_spacing_mm : float
        Detector pixel size in mm.
    sid_mm : float or None
        Source–image (detector) distance in mm; ``None`` for parallel rays (no magnification).
    sod_mm : float, optional
        Source–object distance (source to the volume's centre) in mm; default ``0.75 ×
        sid_mm``.
    gantry_deg : float
        Rotation of the source about the volume's ``z`` axis in degrees (0: beam along +y;
        90: beam along +x, a lateral view).
    step_voxels : float
        Sampling step in voxels: planes this many voxels of the main axis apart, or closer
        where a ray would otherwise move further than that along another axis between two
        samples (views near 45°). At 1, the default, and rays within 45° of the main axis:
        every plane of voxel centres.
    chunk_rows : int
        Detector rows traced at once (bounds memory use).

    Returns
    -------
    dict
        ``"soft_tissue"`` and ``"bone"`` float32 arrays of ``detector_shape``, in cm.

    Raises
    ------
    ValueError
        If the volume is not 3D, ``step_voxels`` is not positive, the geometry puts the
        source inside the volume, or some rays run within about 6° of the planes across the
        main axis (a detector too wide for ``sid_mm``).
    """
    ct = np.asarray(ct_hu)
    if ct.ndim != 3:
        raise ValueError(f"ct_hu must be a 3D (z, y, x) volume, got shape {ct.shape}")
    spacing = np.asarray(spacing_mm, float)
    if spacing.shape != (3,) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be three positive numbers, got {spacing_mm}")
    if not step_voxels > 0:
        raise ValueError(f"step_voxels must be positive, got {step_voxels}")
    shape = np.asarray(ct.shape)
    centre = 0.5 * (shape - 1) * spacing                   # voxel-centre coordinates, mm
    sod = None
    if sid_mm is not None:
        sod = 0.75 * sid_mm if sod_mm is None else float(sod_mm)
        half_diag = 0.5 * float(np.linalg.norm(shape * spacing))
        if sod <= half_diag:
            raise ValueError(f"source-object distance {sod:.0f} mm puts the source inside the "
                             f"volume (half-diagonal {half_diag:.0f} mm); increase sid_mm/sod_mm")
    rows, cols = detector_shape
    # detector pixel centres in the beam frame: u across the beam (cols), v along z (rows, up)
    u = (np.arange(cols) - 0.5 * (cols - 1)) * detector_spacing_mm
    v = (0.5 * (rows - 1) - np.arange(rows)) * detector_spacing_mm
    # a grid of rays with the detector's edges: the extremes of the rays' slopes lie there
    grid = _rays(v[_evenly(rows)], u[_evenly(cols)], centre, gantry_deg, sid_mm, sod)
    axis = _main_axis(grid[1], spacing)
    order = (axis, *(k for k in range(3) if k != axis))    # main axis first, then (a, b)
    steepest = float(np.abs(_lines(*grid, spacing, order)[1][1:]).max())
    step = step_voxels / max(1.0, steepest)                # planes apart, main-axis voxels
    planes = _material_planes(ct, order)
    sampling = _sampling_planes(shape[axis], step)
    out = np.empty(detector_shape, np.complex64)
    for r0 in range(0, rows, chunk_rows):
        origin, direction = _rays(v[r0:r0 + chunk_rows], u, centre, gantry_deg, sid_mm, sod)
        start, slope, mm_per_voxel = _lines(origin, direction, spacing, order)
        enter, leave = _clip_to_box(start, slope, shape[list(order)])
        total = _march(planes, start[1:], slope[1:], enter, leave, sampling, 0.5 * step)
        out[r0:r0 + chunk_rows] = (total * mm_per_voxel / 10.0).reshape(-1, cols)
    return {"soft_tissue": out.real.copy(), "bone": out.imag.copy()}


def _rays(v, u, centre, gantry_deg, sid_mm, sod):
    """Origins and directions, (rows, cols, 3) in mm on (z, y, x), of the rays that meet the
    detector pixels at heights ``v`` (mm, up) and ``u`` (mm, across the beam); directions are
    not normalised."""
    theta = np.deg2rad(gantry_deg)
    beam = np.array([0.0, np.cos(theta), np.sin(theta)])
    across = np.array([0.0, -np.sin(theta), np.cos(theta)])
    up = np.array([1.0, 0.0, 0.0])
    offset = v[:, None, None] * up + u[None, :, None] * across
    if sid_mm is None:  # parallel rays through the detector pixels
        return centre + offset, np.broadcast_to(beam, offset.shape)
    # rays from the focal spot to the detector pixels
    return np.broadcast_to(centre - sod * beam, offset.shape), sid_mm * beam + offset


def _evenly(n, most=65):
    """Up to ``most`` indices spread evenly over ``range(n)``, both ends included."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int))


def _main_axis(direction, spacing):
    """The axis (0: z, 1: y, 2: x) whose voxel planes the rays cross most often per mm,
    averaged over the given rays; directions (..., 3) in mm, spacing in mm."""
    unit = np.abs(direction) / np.linalg.norm(direction, axis=-1, keepdims=True)
    return int(np.argmax((unit / spacing).reshape(-1, 3).mean(0)))


def _material_planes(ct, order):
    """Soft-tissue (real) and bone (imaginary) fractions in one complex64 volume whose axes
    are ``ct``'s in ``order``, so that one gather fetches both. The in-plane axes get one
    more voxel at their high end, a copy of the edge, so that a 2 × 2 gather stays inside."""
    ct = ct.transpose(order)
    n, na, nb = ct.shape
    planes = np.empty((n, na + 1, nb + 1), np.complex64)
    block = max(1, 2 ** 18 // (na * nb))                  # planes of ~1 MB of float32
    for k in range(0, n, block):
        fractions = hu_to_materials(ct[k:k + block])
        planes.real[k:k + block, :na, :nb] = fractions["soft_tissue"]
        planes.imag[k:k + block, :na, :nb] = fractions["bone"]
    planes[:, na] = planes[:, na - 1]
    planes[:, :, nb] = planes[:, :, nb - 1]
    return planes


def _sampling_planes(n, step):
    """Where to sample along a main axis of ``n`` voxels, every ``step`` voxels: the positions
    (voxels, 0 at the first voxel centre) whose slab of width ``step`` overlaps the box
    [-0.5, n - 0.5]; for each, the plane of voxel centres at or below it (the edge plane
    beyond the faces) and the fraction of the way to the next. Three (m,) arrays."""
    first = int(np.floor((-0.5 - 0.5 * step) / step)) + 1
    last = int(np.ceil((n - 0.5 + 0.5 * step) / step)) - 1
    positions = np.arange(first, last + 1) * step
    nearest = np.clip(positions, 0.0, n - 1.0)
    below = nearest.astype(int)
    return positions, below, nearest - below


def _lines(origin, direction, spacing, order):
    """Rays as lines ``start + p × slope`` in voxel-index coordinates (axes in ``order``),
    parametrised by ``p``, the index along the main axis: ``start`` and ``slope`` are
    float32 arrays (3, n rays) with ``start[0] = 0`` and ``slope[0] = 1``; also the path
    length per voxel of ``p``, in mm, float32 (n rays,). Raises ValueError for rays within
    about 6° of the planes across the main axis (a slope above 10)."""
    q0 = (origin / spacing).reshape(-1, 3)[:, order].T
    dq = (direction / spacing).reshape(-1, 3)[:, order].T
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = dq / dq[0]
    if not np.all(np.abs(slope[1:]) <= 10.0):
        raise ValueError(f"some rays run (almost) parallel to the planes across the view's "
                         f"main axis, {'zyx'[order[0]]}: the detector spans too wide an angle "
                         f"for sid_mm; use a smaller detector or a longer sid_mm")
    start = q0 - q0[0] * slope
    mm_per_voxel = np.linalg.norm(direction, axis=-1).reshape(-1) / np.abs(dq[0])
    return start.astype(np.float32), slope.astype(np.float32), mm_per_voxel.astype(np.float32)


def _clip_to_box(start, slope, shape):
    """Where the lines ``start + p × slope`` (arrays (3, n)) enter and leave the box of a
    volume of ``shape`` (voxel indices -0.5 to n - 0.5 on every axis), as ``p`` (float32,
    n); ``enter = leave`` for lines that miss it. The source is outside the box, so the
    whole chord lies on the ray."""
    lo, hi = -0.5, np.asarray(shape, np.float32)[:, None] - 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = (lo - start) / slope, (hi - start) / slope
    enter = np.nan_to_num(np.minimum(a, b), nan=-np.inf).max(0)
    leave = np.nan_to_num(np.maximum(a, b), nan=np.inf).min(0)
    enter = np.clip(enter, lo, hi[0])                     # finite where the line misses
    return enter, np.clip(leave, enter, hi[0])


def _march(planes, start, slope, enter, leave, sampling, half_step):
    """Line integrals along ``n`` lines through the complex ``planes`` volume (main axis
    first), in voxels of the main axis: the sum, over the ``sampling`` positions ``p`` (see
    :func:`_sampling_planes`), of the sample at ``p`` times the length of
    ``[p - half_step, p + half_step] ∩ [enter, leave]``. ``start`` and ``slope`` (2, n)
    give the in-plane coordinates ``start + p × slope``. Returns complex64 (n,)."""
    positions = sampling[0]
    seen = (positions + half_step > enter.min()) & (positions - half_step < leave.max())
    positions, below, fraction = (a[seen] for a in sampling)
    total = np.zeros(enter.shape, np.complex64)
    if not len(positions):  # every line misses the volume
        return total
    lower = _clamp(positions[0] - half_step, enter, leave)
    for p, k, f in zip(positions, below, fraction):
        upper = _clamp(p + half_step, enter, leave)
        weight = upper - lower
        lower = upper
        taps = _in_plane_taps(start, slope, p, planes.shape[1:])
        sample = _bilinear(planes[k], *taps)
        if f > 0:  # between two planes of voxel centres
            sample += np.float32(f) * (_bilinear(planes[k + 1], *taps) - sample)
        sample *= weight
        total += sample
    return total


def _clamp(x, lo, hi):
    """A number ``x`` clamped to each ``[lo, hi]`` (float32 arrays)."""
    out = np.maximum(lo, np.float32(x))
    return np.minimum(out, hi, out=out)


def _in_plane_taps(start, slope, p, padded_shape):
    """Flat index of the lower corner of each line's 2 × 2 neighbourhood in a plane of
    ``padded_shape`` (one more than the volume on each axis), at ``p`` along the main axis,
    and the fractional offsets (float32) along the plane's two axes; coordinates are clamped
    to the outermost voxel centres (nearest value in the outer half-voxel)."""
    corner, fraction = [], []
    for start_k, slope_k, size in zip(start, slope, padded_shape):
        c = np.clip(slope_k * np.float32(p) + start_k, 0, size - 2)
        lower = np.floor(c)
        corner.append(lower.astype(np.int32))
        fraction.append(c - lower)
    return (corner[0] * padded_shape[1] + corner[1]).astype(np.intp), *fraction


def _bilinear(plane, index, fa, fb):
    """Bilinear interpolation in a complex (a, b) plane at the flat corner ``index`` with
    fractional offsets ``fa``, ``fb``."""
    flat, row = plane.reshape(-1), plane.shape[1]
    c00, c01 = flat.take(index), flat[1:].take(index)
    c10, c11 = flat[row:].take(index), flat[row + 1:].take(index)
    c01 -= c00
    c01 *= fb
    c01 += c00
    c11 -= c10
    c11 *= fb
    c11 += c10
    c11 -= c01
    c11 *= fa
    c11 += c01
    return c11


def radiograph_from_ct(ct_hu: np.ndarray, spacing_mm: Sequence[float], *, kvp: float = 110.0,
                       mas: float = 2.0, rng: np.random.Generator | None = None,
                       detector_shape: tuple[int, int] = (512, 512),
                       detector_spacing_mm: float = 0.8, sid_mm: float | None = 1000.0,
                       sod_mm: float | None = None, gantry_deg: float = 0.0,
                       display_options: dict | None = None, **project_options
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a radiograph of a CT volume: ray casting, X-ray physics, display processing.

    Parameters are those of :func:`path_lengths_from_ct` and
    :func:`synthmed.physics.xray.project` (``kvp``, ``mas``, ``rng`` and any keyword in
    ``project_options``); ``display_options`` go to :func:`synthmed.physics.xray.display`.

    Returns
    -------
    signal : float32 ndarray
        Detector signal relative to air (see :func:`~synthmed.physics.xray.project`).
    image : float32 ndarray in [0, 1]
        The processed radiograph (bright = attenuating).
    """
    paths = path_lengths_from_ct(ct_hu, spacing_mm, detector_shape=detector_shape,
                                 detector_spacing_mm=detector_spacing_mm, sid_mm=sid_mm,
                                 sod_mm=sod_mm, gantry_deg=gantry_deg)
    # the detector sees the object magnified; the signal is per detector pixel
    signal = xray.project(paths, detector_spacing_mm, kvp, mas, rng,
                          sid_mm=sid_mm or 1000.0, **project_options)
    image = xray.display(signal, detector_spacing_mm, **(display_options or {}))
    return signal, image
