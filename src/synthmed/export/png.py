"""PNG export: the base format of every 2D dataset.

Files (relative to the dataset root, ``id`` = zero-padded sample index)
------------------------------------------------------------------------
``images/{id}.png``                 first image of the sample (role ``image/<name>``)
``images/{id}_{name}.png``          every further named image (role ``image/<name>``)
``masks/{id}/{mask}.png``           one 8-bit mask per structure, 0 / 255 (role ``mask/<mask>``)
``masks/{id}/instances.png``        16-bit instance map, 0 = background (role ``instances``)

Pixel encoding, fixed by the image's ``units`` (``labels/{id}.json`` says which)
---------------------------------------------------------------------------------
==============  ================  ===========================  ============================
units           image             stored as                    decoded as
==============  ================  ===========================  ============================
``"1"``         grayscale         uint16 ``round(v * 65535)``  ``p / 65535`` (error <= 0.5/65535)
``"1"``         RGB(A), last axis 8-bit ``round(v * 255)``     ``p / 255`` (error <= 0.5/255)
``"HU"``        grayscale         uint16 ``round(HU) + 32768`` ``p - 32768`` (exact for integer HU)
anything else   --                refused: use ``npz`` or ``nifti``
==============  ================  ===========================  ============================

Values of ``"1"`` images are clipped to ``[0, 1]``, HU to ``[-32768, 32767]``. This is the
only place where values are quantised; :func:`decode_image` inverts :func:`encode_image`.

Every PNG carries tEXt chunks ``Software: synthmed <version>`` and
``Description: SYNTHETIC IMAGE - not from a patient``, and a pHYs chunk with the pixel
size from ``spacing_mm``; watermarked images add ``synthmed:dataset_id`` (the id hidden
in the pixels, see :mod:`synthmed.provenance.watermark`). Nothing time-dependent is written, so a sample always gives the
same bytes. PNG is 2D only; volumes need the ``nifti`` or ``npz`` format.

Example
-------
>>> import numpy as np
>>> p = encode_image("xray", np.array([[0.0, 0.5, 1.0]], np.float32), "1")
>>> p.dtype.name, p.tolist()
('uint16', [[0, 32768, 65535]])
>>> decode_image(np.array([[0, 32768]], np.uint16), "HU").tolist()
[[-32768.0, 0.0]]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from synthmed._io import atomic_path
from synthmed.errors import SynthmedError
from synthmed.export._common import (SYNTHETIC_DESCRIPTION, check_name, image_relpath,
                                     instances_relpath, is_2d, mask_relpath, software_string)
from synthmed.registry import register_exporter
from synthmed.sample import Sample

__all__ = ["encode_image", "decode_image", "write_png", "read_png", "export_png"]

_HU_OFFSET = 32768


def _is_rgb(image: np.ndarray) -> bool:
    return image.ndim == 3 and image.shape[-1] in (3, 4)


def encode_image(name: str, image: np.ndarray, units: str) -> np.ndarray:
    """Quantise a 2D image for PNG: uint16 grayscale or uint8 RGB(A), per ``units``.

    Raises :class:`SynthmedError` for volumes, non-finite values and units PNG cannot hold.
    """
    image = np.asarray(image)
    if not (image.ndim == 2 or _is_rgb(image)):
        raise SynthmedError(f"image {name!r} has shape {image.shape}: PNG export is 2D only; "
                            "use nifti (or npz) for volumes")
    if not np.all(np.isfinite(image)):
        raise SynthmedError(f"image {name!r} contains NaN or infinite values; PNG cannot "
                            "store them (use npz)")
    v = image.astype(np.float64)
    if units == "1":
        if _is_rgb(image):
            return np.rint(np.clip(v, 0.0, 1.0) * 255.0).astype(np.uint8)
        return np.rint(np.clip(v, 0.0, 1.0) * 65535.0).astype(np.uint16)
    if units == "HU" and image.ndim == 2:
        return np.clip(np.rint(v) + _HU_OFFSET, 0, 65535).astype(np.uint16)
    raise SynthmedError(f"image {name!r} has units {units!r} (shape {image.shape}), which the "
                        "PNG format cannot store; PNG holds dimensionless [0, 1] images and "
                        "grayscale HU only. Use the 'npz' or 'nifti' format for this dataset")


def decode_image(pixels: np.ndarray, units: str) -> np.ndarray:
    """Invert :func:`encode_image`: stored PNG pixels -> float32 values in ``units``."""
    p = np.asarray(pixels)
    if units == "1":
        scale = 255.0 if p.dtype == np.uint8 else 65535.0
        return (p.astype(np.float64) / scale).astype(np.float32)
    if units == "HU":
        return (p.astype(np.float64) - _HU_OFFSET).astype(np.float32)
    raise SynthmedError(f"cannot decode a PNG image with units {units!r}; read the npz files")


def write_png(path: str | os.PathLike, pixels: np.ndarray,
              spacing_mm: tuple[float, ...] | None = None, dataset_id: str = "") -> None:
    """Write uint8 (gray/RGB/RGBA) or uint16 (gray) pixels atomically, with synthetic tags
    (and the watermark's ``dataset_id``, if given)."""
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype == np.uint16:
        if pixels.ndim != 2:
            raise SynthmedError("16-bit PNG must be grayscale")
        img = Image.fromarray(pixels)  # mode I;16
    elif pixels.dtype == np.uint8:
        img = Image.fromarray(pixels)  # L, RGB or RGBA
    else:
        raise TypeError(f"write_png needs uint8 or uint16 pixels, got {pixels.dtype}")
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", software_string())
    info.add_text("Description", SYNTHETIC_DESCRIPTION)
    if dataset_id:
        info.add_text("synthmed:dataset_id", dataset_id)
    kwargs = {}
    if spacing_mm is not None and len(spacing_mm) == 2 and min(spacing_mm) > 0:
        row_mm, col_mm = spacing_mm
        kwargs["dpi"] = (25.4 / col_mm, 25.4 / row_mm)  # pHYs is (x, y)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", pnginfo=info, optimize=False, compress_level=6, **kwargs)


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG written by :func:`write_png` back to its uint8 / uint16 pixels."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            arr = np.array(img)
    except (OSError, ValueError) as exc:
        raise SynthmedError(f"cannot read PNG {path}: {exc}") from None
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        return arr.astype(np.uint16)
    if mode in ("L", "RGB", "RGBA"):
        return arr.astype(np.uint8)
    if mode == "1":
        return arr.astype(np.uint8) * 255
    raise SynthmedError(f"{path} has PNG mode {mode}, which synthmed does not write")


@register_exporter("png")
def export_png(sample: Sample, root: str | os.PathLike, sample_id: str) -> dict[str, str]:
    """PNG images (16-bit gray / 8-bit RGB), 8-bit masks and a 16-bit instance map (2D only).

    Returns ``{role: path relative to root}``: ``image/<name>``, ``mask/<name>``, ``instances``.
    """
    if not is_2d(sample):
        raise SynthmedError("PNG export is 2D only; use nifti (or npz) for volumes")
    root = Path(root)
    files: dict[str, str] = {}
    encoded = {name: encode_image(check_name("image", name), img, sample.units.get(name, "1"))
               for name, img in sample.images.items()}  # validate everything before writing
    lab = sample.labels
    if lab.instances is not None:
        if "instances" in lab.masks:
            raise SynthmedError("a mask named 'instances' clashes with the instance map file; "
                                "rename the mask")
        inst = np.asarray(lab.instances)
        if inst.size and (inst.min() < 0 or inst.max() > 65535):
            raise SynthmedError("instance ids must be in 0..65535 for 16-bit PNG export")
    for name in lab.masks:
        check_name("mask", name)
    for i, (name, pixels) in enumerate(encoded.items()):
        rel = image_relpath(sample_id, name, first=i == 0)
        write_png(root / rel, pixels, sample.spacing_mm, sample.provenance.dataset_id)
        files[f"image/{name}"] = rel
    for name, mask in lab.masks.items():
        rel = mask_relpath(sample_id, name)
        write_png(root / rel, np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8),
                  sample.spacing_mm)
        files[f"mask/{name}"] = rel
    if lab.instances is not None:
        rel = instances_relpath(sample_id)
        write_png(root / rel, np.asarray(lab.instances).astype(np.uint16), sample.spacing_mm)
        files["instances"] = rel
    return files
