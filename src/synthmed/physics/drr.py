"""Digitally reconstructed radiographs (DRR): X-rays from a CT volume in Hounsfield units.

Two steps, so the physics stays in one place (:mod:`synthmed.physics.xray`):

1. :func:`hu_to_materials` — a two-material decomposition of each voxel into soft tissue and
   cortical bone (a piecewise-linear HU → density calibration in the manner of Schneider et
   al., Phys. Med. Biol. 41 (1996) 111), as equivalent path-length fractions.
2. :func:`path_lengths_from_ct` — cone-beam (or parallel-beam) ray casting through those
   fraction volumes with trilinear interpolation, giving per-material path lengths in cm for
   every detector pixel, which :func:`synthmed.physics.xray.project` turns into a radiograph.

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
from scipy import ndimage

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
    bone = np.clip((hu - _HU_SOFT) / (_HU_BONE - _HU_SOFT), 0.0, None)
    soft = np.where(hu <= _HU_SOFT, np.clip((hu + 1000.0) / (1000.0 + _HU_SOFT), 0.0, 1.0),
                    np.clip(1.0 - bone, 0.0, 1.0))
    bone = np.where(hu > _HU_BONE, hu / _HU_BONE, bone)
    return {"soft_tissue": soft.astype(np.float32), "bone": bone.astype(np.float32)}


def path_lengths_from_ct(ct_hu: np.ndarray, spacing_mm: Sequence[float], *,
                         detector_shape: tuple[int, int] = (512, 512),
                         detector_spacing_mm: float = 0.8, sid_mm: float | None = 1000.0,
                         sod_mm: float | None = None, gantry_deg: float = 0.0,
                         step_voxels: float = 1.0, chunk_rows: int = 16
                         ) -> dict[str, np.ndarray]:
    """Per-material path lengths in cm along the rays of a radiograph through a CT volume.

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
        Ray-marching step, in units of the smallest voxel size.
    chunk_rows : int
        Detector rows traced at once (bounds memory use).

    Returns
    -------
    dict
        ``"soft_tissue"`` and ``"bone"`` float32 arrays of ``detector_shape``, in cm.

    Raises
    ------
    ValueError
        If the volume is not 3D or the geometry puts the source inside the volume.
    """
    ct = np.asarray(ct_hu)
    if ct.ndim != 3:
        raise ValueError(f"ct_hu must be a 3D (z, y, x) volume, got shape {ct.shape}")
    spacing = np.asarray(spacing_mm, float)
    if spacing.shape != (3,) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be three positive numbers, got {spacing_mm}")
    fractions = hu_to_materials(ct)
    extent = np.asarray(ct.shape) * spacing                 # mm, (z, y, x)
    centre = 0.5 * (np.asarray(ct.shape) - 1) * spacing     # voxel-centre coordinates, mm
    box_lo, box_hi = -0.5 * spacing, centre * 2 + 0.5 * spacing
    rows, cols = detector_shape
    # detector pixel centres in the beam frame: u along x (cols), v along z (rows, head up)
    u = (np.arange(cols) - 0.5 * (cols - 1)) * detector_spacing_mm
    v = (0.5 * (rows - 1) - np.arange(rows)) * detector_spacing_mm
    theta = np.deg2rad(gantry_deg)
    beam = np.array([0.0, np.cos(theta), np.sin(theta)])    # (z, y, x) direction
    across = np.array([0.0, -np.sin(theta), np.cos(theta)])  # detector u axis
    up = np.array([1.0, 0.0, 0.0])
    step = step_voxels * float(spacing.min())
    if sid_mm is not None:
        sod = 0.75 * sid_mm if sod_mm is None else float(sod_mm)
        half_diag = 0.5 * float(np.linalg.norm(extent))
        if sod <= half_diag:
            raise ValueError(f"source-object distance {sod:.0f} mm puts the source inside the "
                             f"volume (half-diagonal {half_diag:.0f} mm); increase sid_mm/sod_mm")
        source = centre - sod * beam
    out = {k: np.zeros(detector_shape, np.float32) for k in fractions}
    for r0 in range(0, rows, chunk_rows):
        vv, uu = np.meshgrid(v[r0:r0 + chunk_rows], u, indexing="ij")
        offset = uu[..., None] * across + vv[..., None] * up
        if sid_mm is None:  # parallel rays through the detector pixels
            origin = centre - 0.5 * float(np.linalg.norm(extent)) * beam + offset
            direction = np.broadcast_to(beam, origin.shape)
        else:               # rays from the focal spot to the detector pixels
            direction = source + sid_mm * beam + offset - source
            direction = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
            origin = np.broadcast_to(source, direction.shape)
        t0, t1 = _clip_to_box(origin, direction, box_lo, box_hi)
        n = max(1, int(np.ceil((t1 - t0).max() / step)))
        seg = np.maximum(t1 - t0, 0.0) / n                   # per-ray step, mm
        ts = t0[..., None] + (np.arange(n) + 0.5) * seg[..., None]
        points = origin[..., None, :] + ts[..., None] * direction[..., None, :]
        coords = (points / spacing).reshape(-1, 3).T
        # Samples lie inside the box, i.e. within half a voxel of the outermost voxel
        # centres; "nearest" gives that outer half-voxel its voxel's value ("constant" would
        # give 0 there and drop up to a voxel of path where tissue meets a face of the volume)
        for name, vol in fractions.items():
            vals = ndimage.map_coordinates(vol, coords, order=1, mode="nearest",
                                           prefilter=False)
            out[name][r0:r0 + chunk_rows] = vals.reshape(*uu.shape, n).sum(-1) * seg / 10.0
    return out


def _clip_to_box(origin, direction, lo, hi):
    """Ray parameters (mm) where rays enter and leave an axis-aligned box (slab method)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / direction
        a, b = (lo - origin) * inv, (hi - origin) * inv
    a, b = np.nan_to_num(np.minimum(a, b), nan=-np.inf), np.nan_to_num(np.maximum(a, b),
                                                                       nan=np.inf)
    t0 = np.maximum(a.max(-1), 0.0)
    return t0, np.maximum(b.min(-1), t0)


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
