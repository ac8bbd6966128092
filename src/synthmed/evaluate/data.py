"""Image sets for evaluation: a synthmed dataset or a user's folder of real images.

Both are read into one :class:`ImageSet` of same-size grayscale images so that every
metric compares like with like.

A folder of real images is either just images (``*.png``, ``*.jpg``, ``*.tif``, ``*.dcm``,
searched recursively; DICOM files are de-identified in memory before anything is read from
them, see :mod:`synthmed.provenance.deid`), or has a ``labels.csv`` with a ``filename`` column (paths relative to the
folder). In the CSV, a column whose values are paths of existing image files is read as a
mask; every other column is kept as a per-image attribute (class labels, age, sex, site,
grade...), numeric where it parses as a number.

>>> import numpy as np, tempfile, pathlib
>>> from PIL import Image
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> Image.fromarray(np.full((20, 30), 128, np.uint8)).save(d / "a.png")
>>> s = load_image_set(d, size=(16, 16))
>>> s.images.shape, round(float(s.images.mean()), 3)
((1, 16, 16), 0.502)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from skimage.transform import resize

from synthmed.errors import SynthmedError

__all__ = ["ImageSet", "load_image_set", "read_image_file", "to_grey", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm")


@dataclass
class ImageSet:
    """Same-size grayscale images with their labels, for metrics.

    Attributes
    ----------
    images : float32 ndarray, shape (n, rows, cols)
        Values in [0, 1] (grey level of the displayed image).
    ids : list of str
        One id per image (synthmed sample id or file path relative to the folder).
    attributes : dict of str to list
        Per-image values: class labels (bool), subgroup attributes (age, sex, site...).
    masks : dict of str to bool ndarray, shape (n, rows, cols)
        Per-image masks, where the source has them (all-False where an image lacks one).
    source : str
        Where the set was read from.
    """

    images: np.ndarray
    ids: list[str]
    attributes: dict[str, list] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index) -> ImageSet:
        """A new set of the images at ``index`` (indices or a boolean array)."""
        index = np.arange(len(self))[index]
        return ImageSet(self.images[index], [self.ids[i] for i in index],
                        {k: [v[i] for i in index] for k, v in self.attributes.items()},
                        {k: v[index] for k, v in self.masks.items()}, self.source)


def load_image_set(path: str | Path, size: tuple[int, int] = (128, 128),
                   max_images: int | None = None) -> ImageSet:
    """Read a synthmed dataset or a folder of images, resized to ``size`` (rows, cols).

    Colour images are converted to grey (ITU-R 601 luma); 16-bit images keep their depth
    before scaling to [0, 1]. Masks are resized with nearest neighbour.
    """
    path = Path(path)
    if not path.is_dir():
        raise SynthmedError(f"{path}: not a folder of images or a synthmed dataset")
    if (path / "labels").is_dir() and (path / "run.json").is_file():
        return _from_dataset(path, size, max_images)
    return _from_folder(path, size, max_images)


def _from_dataset(root: Path, size, max_images) -> ImageSet:
    from synthmed.dataset import open_dataset

    ds = open_dataset(root)
    n = len(ds) if max_images is None else min(len(ds), max_images)
    images, ids, attrs, masks = [], [], {}, {}
    for i in range(n):
        s = ds[i]
        images.append(to_grey(s.image, size))
        ids.append(ds.ids[i])
        values = {**s.labels.classes, **s.labels.attributes}
        for k in set(attrs) | set(values):
            attrs.setdefault(k, [None] * i).append(values.get(k))
        for k in set(masks) | set(s.labels.masks):
            m = s.labels.masks.get(k)
            masks.setdefault(k, [np.zeros(size, bool)] * i).append(
                np.zeros(size, bool) if m is None else _resize_mask(m, size))
    return ImageSet(np.stack(images), ids, attrs,
                    {k: np.stack(v) for k, v in masks.items()}, str(root))


def _from_folder(root: Path, size, max_images) -> ImageSet:
    csv_path = root / "labels.csv"
    if csv_path.is_file():
        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if not rows or "filename" not in rows[0]:
            raise SynthmedError(f"{csv_path}: needs a 'filename' column with image paths "
                                "relative to the folder")
    else:
        rows = [{"filename": p.relative_to(root).as_posix()}
                for p in sorted(root.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not rows:
        raise SynthmedError(f"{root}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    rows = rows[:max_images] if max_images else rows
    mask_cols = [c for c in rows[0] if c != "filename" and _is_image_path(root, rows[0][c])]
    images, masks = [], {c: [] for c in mask_cols}
    for row in rows:
        images.append(to_grey(read_image_file(root / row["filename"]), size))
        for c in mask_cols:
            masks[c].append(_resize_mask(read_image_file(root / row[c]) > 0.5, size)
                            if row[c] else np.zeros(size, bool))
    attrs = {c: [_parse(row[c]) for row in rows] for c in rows[0]
             if c != "filename" and c not in mask_cols}
    return ImageSet(np.stack(images), [r["filename"] for r in rows], attrs,
                    {c: np.stack(v) for c, v in masks.items()}, str(root))


def read_image_file(path: Path) -> np.ndarray:
    """Pixels of an image file as float32: 8-bit / 255, 16-bit / 65535, DICOM de-identified
    in memory then scaled by :func:`synthmed.provenance.deid.read_dicom`."""
    if path.suffix.lower() == ".dcm":
        from synthmed.provenance.deid import read_dicom

        return read_dicom(path)
    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError) as exc:
        raise SynthmedError(f"{path}: cannot read image ({exc})") from None
    if arr.dtype == np.uint16 or arr.dtype == np.int32:
        return arr.astype(np.float32) / 65535
    if arr.dtype == bool:
        return arr.astype(np.float32)
    return arr.astype(np.float32) / 255


def to_grey(image: np.ndarray, size) -> np.ndarray:
    """One grey float32 channel at ``size`` (rows, cols): RGB(A) by Rec. 601 luma, a volume
    by its middle slice; resized with anti-aliasing (the aspect ratio is not kept)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    elif image.ndim == 3:  # a volume: middle slice
        image = image[image.shape[0] // 2]
    return resize(image, size, order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)


def _resize_mask(mask: np.ndarray, size) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] in (3, 4):
        mask = mask[..., 0]
    return resize(mask.astype(float), size, order=0, anti_aliasing=False) > 0.5


def _is_image_path(root: Path, value: str) -> bool:
    return bool(value) and Path(value).suffix.lower() in IMAGE_SUFFIXES and (root / value).is_file()


def _parse(value: str):
    try:
        return float(value)
    except ValueError:
        return value
