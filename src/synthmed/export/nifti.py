"""NIfTI-1 export (``.nii.gz``) for 2D and 3D samples.

Files (relative to the dataset root, ``id`` = zero-padded sample index)
------------------------------------------------------------------------
``nifti/{id}_{name}.nii.gz``       one per image (role ``nifti/<name>``)
``nifti/{id}_labels.nii.gz``       4D uint8 one-hot label stack (role ``nifti_labels``)
``nifti/{id}_labels.json``         sidecar naming the label volumes (role ``nifti_labels_meta``)
``nifti/{id}_labelmap.nii.gz``     3D label map of the label ids (role ``nifti_labelmap``)
``nifti/{id}_instances.nii.gz``    instance map, int16/int32 (role ``nifti_instances``)

Axes and affine
---------------
synthmed arrays are ``(rows, cols)`` or ``(z, y, x)``; NIfTI voxel indices are
``(i, j, k)`` with ``i`` varying fastest. We store

* 3D ``(z, y, x)`` as ``data[i, j, k] = array[k, j, i]``, i.e. ``i = x``, ``j = y``, ``k = z``;
* 2D ``(rows, cols)`` as an ``(x, y, 1)`` volume: ``data[i, j, 0] = array[j, i]``
  (``i`` = column, ``j`` = row);
* RGB ``(rows, cols, 3)`` as ``(x, y, 1, 1, 3)`` with intent ``vector``.

The affine (sform and qform, code 2 "aligned") has origin 0 and ``(dx, dy, dz) =
spacing_mm[::-1]``; voxel sizes are exact.

* 3D: ``diag(-dx, -dy, dz, 1)``. World coordinates are RAS in mm: synthmed volumes are
  in DICOM's patient frame (LPS: rows go posterior, columns to the patient's left, slices
  upwards, see :mod:`synthmed.export.dicom`), so voxel ``(i, j, k)`` is at LPS
  ``(i*dx, j*dy, k*dz)``, i.e. RAS ``(-i*dx, -j*dy, k*dz)``: the same point as in the
  DICOM export.
* 2D: ``diag(dx, dy, 1, 1)``: a projection image has no patient frame, world coordinates
  are ``(x, y) = (i*dx, j*dy)`` along columns and rows.

Values: images with units ``"HU"`` are rounded to int16 (exact for integer HU, clipped
to the int16 range); all other images are float32 in their own units (``labels/{id}.json``
says which; ``"1"`` images also get ``cal_min = 0``, ``cal_max = 1``).

Labels: volume ``v`` of the 4D label stack (shape ``(x, y, z, L)``) is 1 where the mask
of the ``v``-th ``label_table`` entry, in increasing id order, is True, so overlapping
masks survive. Labels that only have boxes get an all-zero volume (``has_mask: false``).
The JSON sidecar lists ``{"volume", "name", "id", "has_mask"}`` per volume; the header's
``descrip`` says it is synthetic and points to the sidecar. The label map (uint8, or uint16
past id 255) is the convenient single-volume form that segmentation tools read: each
voxel holds the **smallest** label id whose mask contains it (0: none), so presets give
findings the small ids (``brain_mri``: BraTS' 1, 2, 3) and broad structures larger ones;
where masks overlap only the one-hot stack is complete.

gzip output uses ``mtime = 0`` and no file name, so the bytes are deterministic.

Example
-------
>>> import numpy as np, tempfile, nibabel as nib
>>> from synthmed.sample import Sample
>>> s = Sample(images={"ct": np.zeros((2, 3, 5), np.float32)}, spacing_mm=(2.5, 0.7, 0.6),
...            modality="CT", units={"ct": "HU"})
>>> root = tempfile.mkdtemp()
>>> export_nifti(s, root, "000000")
{'nifti/ct': 'nifti/000000_ct.nii.gz'}
>>> img = nib.load(f"{root}/nifti/000000_ct.nii.gz")
>>> img.shape, [round(float(v), 3) for v in img.header.get_zooms()]
((5, 3, 2), [0.6, 0.7, 2.5])
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from synthmed._io import atomic_write_bytes, atomic_write_text
from synthmed.errors import SynthmedError
from synthmed.export._common import (SYNTHETIC_DESCRIPTION, check_name, dumps_json,
                                     software_string)
from synthmed.registry import register_exporter
from synthmed.sample import Sample

__all__ = ["export_nifti", "nifti_affine", "to_nifti_order", "from_nifti_order",
           "load_nifti_data", "read_nifti_image", "read_nifti_labels", "read_nifti_instances"]

_RESERVED = {"labels", "labelmap", "instances"}


def nifti_affine(spacing_mm: tuple[float, ...]) -> np.ndarray:
    """4x4 affine for a sample's ``spacing_mm`` (array order, mm).

    3D ``(dz, dy, dx)`` -> ``diag(-dx, -dy, dz, 1)`` (RAS world, see the module docstring);
    2D ``(dy, dx)`` -> ``diag(dx, dy, 1, 1)``.

    >>> nifti_affine((2.5, 0.8, 0.6)).diagonal().tolist()
    [-0.6, -0.8, 2.5, 1.0]
    """
    sizes = [float(v) for v in spacing_mm[::-1]]
    if len(sizes) == 2:
        return np.diag(sizes + [1.0, 1.0])
    return np.diag([-sizes[0], -sizes[1], sizes[2], 1.0])


def to_nifti_order(array: np.ndarray, n_spatial: int) -> np.ndarray:
    """Reorder ``array`` (spatial axes first, array order, extra axes after) to NIfTI order.

    2D ``(r, c, ...)`` -> ``(c, r, 1, ...)``; 3D ``(z, y, x, ...)`` -> ``(x, y, z, ...)``.
    """
    order = list(range(n_spatial))[::-1] + list(range(n_spatial, array.ndim))
    out = np.transpose(array, order)
    if n_spatial == 2:
        out = np.expand_dims(out, 2)
    return out


def from_nifti_order(data: np.ndarray, n_spatial: int) -> np.ndarray:
    """Inverse of :func:`to_nifti_order`."""
    if n_spatial == 2:
        data = data[:, :, 0]
    order = list(range(n_spatial))[::-1] + list(range(n_spatial, data.ndim))
    return np.ascontiguousarray(np.transpose(data, order))


def _descrip(text: str) -> bytes:
    return text.encode("ascii", "replace")[:79]


def _nifti_bytes(data: np.ndarray, spacing_mm: tuple[float, ...], descrip: str,
                 intent: str | None = None, cal: tuple[float, float] | None = None) -> bytes:
    affine = nifti_affine(spacing_mm)
    img = nib.Nifti1Image(data, affine)
    hdr = img.header
    img.set_sform(affine, code=2)
    img.set_qform(affine, code=2)
    hdr.set_xyzt_units(xyz="mm")
    hdr["descrip"] = _descrip(descrip)
    if intent:
        hdr.set_intent(intent)
    if cal:
        hdr["cal_min"], hdr["cal_max"] = cal
    # mtime=0 and no file name in the gzip header: byte-deterministic output
    return gzip.compress(img.to_bytes(), compresslevel=6, mtime=0)


def _image_data(name: str, image: np.ndarray, units: str, n_spatial: int) -> np.ndarray:
    image = np.asarray(image)
    rgb = image.ndim == n_spatial + 1
    if units == "HU":
        if rgb:
            raise SynthmedError(f"image {name!r}: HU images must be grayscale")
        if not np.all(np.isfinite(image)):
            raise SynthmedError(f"image {name!r} contains NaN or infinite HU values")
        data = np.clip(np.rint(image), -32768, 32767).astype(np.int16)
    else:
        data = image.astype(np.float32)
    data = to_nifti_order(data, n_spatial)
    if rgb:  # (x, y, z, C) -> (x, y, z, 1, C): channels on NIfTI's 5th axis
        data = np.expand_dims(data, 3)
    return data


@register_exporter("nifti")
def export_nifti(sample: Sample, root: str | os.PathLike, sample_id: str) -> dict[str, str]:
    """NIfTI-1 ``.nii.gz`` per image, a 4D one-hot label stack + JSON sidecar, instances.

    Works for 2D (stored as ``(x, y, 1)``) and 3D samples; see the module docstring for
    the axis order, affine and value types.
    """
    root = Path(root)
    n_spatial = len(sample.spatial_shape)
    files: dict[str, str] = {}
    desc = f"{software_string()} {SYNTHETIC_DESCRIPTION}"
    if sample.provenance.dataset_id:  # the id the watermark hides in the pixels
        desc += f"; dataset {sample.provenance.dataset_id}"
    for name, image in sample.images.items():
        check_name("image", name)
        if name in _RESERVED:
            raise SynthmedError(f"an image named {name!r} clashes with the NIfTI label files; "
                                "rename the image")
    for name, image in sample.images.items():
        units = sample.units.get(name, "1")
        data = _image_data(name, image, units, n_spatial)
        rel = f"nifti/{sample_id}_{name}.nii.gz"
        intent = "vector" if data.ndim == 5 else None
        cal = (0.0, 1.0) if units == "1" else None
        atomic_write_bytes(root / rel, _nifti_bytes(data, sample.spacing_mm, desc, intent, cal))
        files[f"nifti/{name}"] = rel

    lab = sample.labels
    if lab.label_table:
        entries = sorted(lab.label_table.items(), key=lambda kv: (kv[1], kv[0]))
        stack = np.zeros(sample.spatial_shape + (len(entries),), np.uint8)
        table = []
        for v, (name, label_id) in enumerate(entries):
            mask = lab.masks.get(name)
            if mask is not None:
                stack[..., v] = np.asarray(mask, bool)
            table.append({"volume": v, "name": name, "id": int(label_id),
                          "has_mask": mask is not None})
        rel = f"nifti/{sample_id}_labels.nii.gz"
        meta_rel = f"nifti/{sample_id}_labels.json"
        sidecar = {
            "description": f"SYNTHETIC labels made by {software_string()}; volume v of "
                           f"{Path(rel).name} (4th axis) is a 0/1 mask of labels[v]; masks "
                           "may overlap",
            "axis": 3,
            "labels": table,
        }
        ldesc = f"SYNTHETIC one-hot labels, see {Path(meta_rel).name}"
        atomic_write_bytes(root / rel, _nifti_bytes(to_nifti_order(stack, n_spatial),
                                                    sample.spacing_mm, ldesc))
        atomic_write_text(root / meta_rel, dumps_json(sidecar))
        files["nifti_labels"] = rel
        files["nifti_labels_meta"] = meta_rel
        rel = f"nifti/{sample_id}_labelmap.nii.gz"
        atomic_write_bytes(root / rel, _nifti_bytes(
            to_nifti_order(_label_map(lab, sample.spatial_shape), n_spatial), sample.spacing_mm,
            f"SYNTHETIC label map (smallest id wins), see {Path(meta_rel).name}"))
        files["nifti_labelmap"] = rel
    if lab.instances is not None:
        inst = np.asarray(lab.instances)
        dtype = np.int16 if inst.size == 0 or (inst.min() >= -32768 and inst.max() <= 32767) \
            else np.int32
        rel = f"nifti/{sample_id}_instances.nii.gz"
        atomic_write_bytes(root / rel, _nifti_bytes(to_nifti_order(inst.astype(dtype), n_spatial),
                                                    sample.spacing_mm,
                                                    "SYNTHETIC instance map (0 = background)"))
        files["nifti_instances"] = rel
    return files


def _label_map(labels, shape: tuple[int, ...]) -> np.ndarray:
    """Each voxel's smallest label id among the masks that contain it (0: none)."""
    dtype = np.uint8 if max(labels.label_table.values()) <= 255 else np.uint16
    out = np.zeros(shape, dtype)
    for name, label_id in sorted(labels.label_table.items(), key=lambda kv: -kv[1]):
        if name in labels.masks:
            out[np.asarray(labels.masks[name], bool)] = label_id
    return out


# ----------------------------------------------------------------------------- reading
def load_nifti_data(path: Path) -> np.ndarray:
    """A NIfTI file's voxel array as stored (NIfTI axis order, on-disk dtype); a clear
    error for an unreadable file."""
    try:
        return np.asanyarray(nib.load(str(path)).dataobj)
    except Exception as exc:  # nibabel raises many types for bad files
        raise SynthmedError(f"cannot read NIfTI file {path}: {exc}") from None


def read_nifti_image(path: str | os.PathLike, n_spatial: int) -> np.ndarray:
    """Read an image written by :func:`export_nifti` back to synthmed order, float32."""
    data = load_nifti_data(Path(path))
    if data.ndim == 5:  # RGB: (x, y, z, 1, C)
        data = data[:, :, :, 0, :]
    return from_nifti_order(data, n_spatial).astype(np.float32)


def read_nifti_labels(path: str | os.PathLike, sidecar_path: str | os.PathLike,
                      n_spatial: int) -> dict[str, np.ndarray]:
    """Read the one-hot label stack back to ``{name: bool mask}`` (only labels with masks)."""
    try:
        meta: dict[str, Any] = json.loads(Path(sidecar_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthmedError(f"cannot read NIfTI label sidecar {sidecar_path}: {exc}") from None
    stack = from_nifti_order(load_nifti_data(Path(path)), n_spatial)
    return {e["name"]: stack[..., e["volume"]].astype(bool)
            for e in meta["labels"] if e.get("has_mask", True)}


def read_nifti_instances(path: str | os.PathLike, n_spatial: int) -> np.ndarray:
    return from_nifti_order(load_nifti_data(Path(path)), n_spatial).astype(np.int32)
