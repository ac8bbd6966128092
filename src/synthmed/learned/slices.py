"""Normalised 2D slices of exactly paired volumes (``brain_mri``), for translation models.

Intensities (the networks' input and output, written down once here)
---------------------------------------------------------------------
* MR contrasts and PET: divided by the 99.5th percentile of the volume inside the brain mask
  (``labels.masks["brain"]``; without one, of the voxels above 10 % of the volume's
  maximum), clipped to ``[0, MR_CLIP]``; so brain tissue lies in about ``[0, 1]``.
* CT: the window ``CT_WINDOW_HU`` = [-100, 1500] HU mapped linearly to ``[0, 1]`` and
  clipped (air and fat 0, brain ~0.09, dense bone 1).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthmed.errors import SynthmedError

__all__ = ["MODALITIES", "CT_WINDOW_HU", "MR_CLIP", "normalise_volume", "paired_slices",
           "unpaired_slices"]

MODALITIES = ("t1", "t1c", "t2", "flair", "pd", "t2star", "random", "ct", "pet")
CT_WINDOW_HU = (-100.0, 1500.0)
MR_CLIP = 2.0
MIN_BRAIN_FRACTION = 0.05  # a slice is used if at least this fraction of it is brain


# --------------------------------------------------------------------------- data
def _check_modality(name: str, role: str) -> None:
    if name not in MODALITIES:
        raise SynthmedError(f"unknown {role} contrast {name!r}; choose one of "
                            f"{', '.join(MODALITIES)}")


def normalise_volume(volume: np.ndarray, name: str, brain: np.ndarray | None = None
                     ) -> np.ndarray:
    """Map a ``brain_mri`` image (a.u., HU or SUV) to the translation intensities, float32.

    ``name`` ``"ct"``: window ``CT_WINDOW_HU`` -> [0, 1]; anything else: divided by the
    99.5th percentile inside ``brain`` (bool mask, same shape) and clipped to [0, MR_CLIP].

    >>> normalise_volume(np.array([-1000.0, -100.0, 700.0, 3000.0]), "ct").tolist()
    [0.0, 0.0, 0.5, 1.0]
    """
    v = np.asarray(volume, np.float32)
    if name == "ct":
        lo, hi = CT_WINDOW_HU
        return np.clip((v - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    if brain is None or not brain.any():
        brain = v > 0.1 * float(v.max())
    scale = float(np.percentile(v[brain], 99.5)) if brain.any() else 0.0
    if not scale > 0:
        raise SynthmedError(f"the {name} image is empty (no positive values in the brain)")
    return np.clip(v / scale, 0.0, MR_CLIP).astype(np.float32)


def _resize(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """(n, r, c) float32 -> (n, *size) by area-weighted bilinear interpolation (torch)."""
    import torch
    from torch.nn import functional as F

    shape = (size, size) if isinstance(size, int) else tuple(size)
    if images.shape[1:] == shape:
        return np.ascontiguousarray(images, np.float32)
    x = torch.from_numpy(np.ascontiguousarray(images, np.float32))[:, None]
    down = shape[0] < images.shape[1] or shape[1] < images.shape[2]
    x = F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=down)
    return x[:, 0].numpy()


def _open(dataset_dir):
    from synthmed.dataset import open_dataset

    path = Path(dataset_dir)
    if not path.is_dir():
        raise SynthmedError(f"{path} is not a folder; give a dataset made by "
                            "`synthmed generate` with the brain_mri preset")
    ds = open_dataset(path)
    if len(ds) == 0:
        raise SynthmedError(f"{path} holds no samples")
    return ds


def _volume_slices(sample, names: Sequence[str], axis: int, n_per_volume: int | None,
                   all_slices: bool = False) -> list[np.ndarray]:
    """Normalised slices ``(k, rows, cols)`` of each image in ``names``, the same ``k``."""
    missing = [n for n in names if n not in sample.images]
    if missing:
        raise SynthmedError(f"the dataset has no {missing[0]!r} images (it has "
                            f"{', '.join(sample.images)}); generate brain_mri with "
                            f"contrasts including it (or paired_ct/paired_pet: true)")
    brain = sample.labels.masks.get("brain")
    vols = []
    for n in names:
        v = np.asarray(sample.images[n], np.float32)
        if v.ndim == 2:
            v = v[None]
        b = None if brain is None else np.asarray(brain, bool).reshape(v.shape)
        vols.append(np.moveaxis(normalise_volume(v, n, b), axis, 0))
    if all_slices:
        keep = np.arange(vols[0].shape[0])
    else:
        if brain is not None:
            b = np.moveaxis(np.asarray(brain, bool).reshape(vols[0].shape), axis, 0)
        else:
            b = vols[0] > 0.1
        fraction = b.reshape(b.shape[0], -1).mean(axis=1)
        keep = np.flatnonzero(fraction >= MIN_BRAIN_FRACTION)
        if n_per_volume is not None and len(keep) > n_per_volume:
            keep = keep[np.round(np.linspace(0, len(keep) - 1, n_per_volume)).astype(int)]
    return [v[keep] for v in vols]


def _select(ds, ids):
    if ids is None:
        return list(range(len(ds)))
    return list(ids)


def paired_slices(dataset_dir: str | os.PathLike, source: str = "t1", target: str = "t2",
                  size: int = 64, axis: int = 0, n_per_volume: int | None = None, *,
                  ids: Sequence[int | str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exactly paired 2D slices of two images of each subject of a ``brain_mri`` dataset.

    Parameters
    ----------
    dataset_dir : path
        A dataset written by ``synthmed generate`` (npz, PNG or NIfTI; read with
        :func:`~synthmed.dataset.open_dataset`) whose samples hold both images.
    source, target : str
        Image names: ``t1``, ``t1c``, ``t2``, ``flair``, ``pd``, ``t2star``, ``random``,
        ``ct`` or ``pet``.
    size : int
        Slices are resized to ``size`` x ``size`` pixels (bilinear, antialiased; the
        aspect ratio of non-square pixels is not kept).
    axis : int
        Volume axis to slice along: 0 axial, 1 coronal, 2 sagittal.
    n_per_volume : int, optional
        At most this many slices per subject, evenly spaced; default: all slices of which
        at least ``MIN_BRAIN_FRACTION`` (5 %) is brain.
    ids : sequence of int or str, optional
        Samples to use (positions or ids); default all.

    Returns
    -------
    src, tgt : float32 ndarray (n, size, size)
        Normalised as described in the module docstring, slice ``i`` of ``src`` the same
        voxels as slice ``i`` of ``tgt``.
    """
    _check_modality(source, "source")
    _check_modality(target, "target")
    if source == target:
        raise SynthmedError(f"source and target are both {source!r}; choose two images")
    if axis not in (0, 1, 2):
        raise SynthmedError(f"axis must be 0 (axial), 1 (coronal) or 2 (sagittal), got {axis}")
    ds = _open(dataset_dir)
    src, tgt = [], []
    for key in _select(ds, ids):
        s, t = _volume_slices(ds[key], (source, target), axis, n_per_volume)
        src.append(s)
        tgt.append(t)
    src, tgt = np.concatenate(src), np.concatenate(tgt)
    if len(src) == 0:
        raise SynthmedError(f"no slices of {dataset_dir} have enough brain to train on")
    return _resize(src, size), _resize(tgt, size)


def unpaired_slices(dataset_dir: str | os.PathLike, source: str = "t1", target: str = "t2",
                    size: int = 64, axis: int = 0, n_per_volume: int | None = None, *,
                    ids: Sequence[int | str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`paired_slices` but with no pair in common: ``source`` slices from the
    even-numbered subjects, ``target`` slices from the odd ones (with one subject, its even
    and odd slices), so a CycleGAN never sees the same anatomy in both sets."""
    ds = _open(dataset_dir)
    keys = _select(ds, ids)
    if len(keys) >= 2:
        a, _ = paired_slices(dataset_dir, source, target, size, axis, n_per_volume,
                             ids=keys[0::2])
        _, b = paired_slices(dataset_dir, source, target, size, axis, n_per_volume,
                             ids=keys[1::2])
        return a, b
    a, b = paired_slices(dataset_dir, source, target, size, axis, n_per_volume, ids=keys)
    return a[0::2], b[1::2]


# --------------------------------------------------------------------------- networks
