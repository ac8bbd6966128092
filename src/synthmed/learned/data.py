"""Training data for the learned generators: square grayscale images, a class and masks.

Read with :func:`synthmed.evaluate.data.load_image_set` from a synthmed dataset or a folder
of images (+ ``labels.csv``), resized to the model's ``size`` x ``size`` pixels.

The *class* a model is conditioned on is one categorical label per image:

* ``label_column="NAME"``: the values of that column (CSV column or dataset attribute);
  booleans become ``NAME`` / ``no_NAME``.
* default: for a synthmed dataset, the image-level classes that are true joined by ``+``
  (``pneumonia``, ``effusion+pneumonia``), or ``no_finding``; for a folder, a column named
  ``label``, ``class`` or ``finding`` if there is one; otherwise no classes.

Masks (optional) are the named masks of the set, used as extra input channels.

>>> import numpy as np, tempfile, pathlib
>>> from PIL import Image
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for i in range(2):
...     Image.fromarray(np.full((20, 20), 50 * i, np.uint8)).save(d / f"{i}.png")
>>> _ = (d / "labels.csv").write_text("filename,label\\n0.png,dark\\n1.png,light\\n")
>>> data = load_training_data(d, size=16)
>>> data.images.shape, data.class_names, data.class_index.tolist()
((2, 16, 16), ['dark', 'light'], [0, 1])
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthmed.errors import SynthmedError
from synthmed.evaluate.data import load_image_set

__all__ = ["TrainingData", "load_training_data", "label_text", "DEFAULT_CLASS_COLUMNS"]

DEFAULT_CLASS_COLUMNS = ("label", "class", "finding")
NO_FINDING = "no_finding"


@dataclass
class TrainingData:
    """Images in [0, 1] (n, size, size), a class index per image, masks (n, k, size, size)."""

    images: np.ndarray
    class_names: list[str] = field(default_factory=list)
    class_index: np.ndarray | None = None
    mask_names: list[str] = field(default_factory=list)
    masks: np.ndarray | None = None
    modality: str = "OT"
    spacing_mm: tuple[float, float] = (1.0, 1.0)
    source: str = ""
    label_column: str = ""

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def fingerprint(self) -> str:
        """sha256 of the pixels, classes and masks (a checkpoint resumes only on the same data)."""
        h = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        h.update(json.dumps([self.class_names, self.mask_names]).encode())
        if self.class_index is not None:
            h.update(self.class_index.astype(np.int64).tobytes())
        if self.masks is not None:
            h.update(np.packbits(self.masks).tobytes())
        return h.hexdigest()

    def summary(self) -> dict:
        counts = {}
        if self.class_index is not None:
            counts = {n: int((self.class_index == i).sum()) for i, n in enumerate(self.class_names)}
        return {"source": self.source, "count": len(self), "size": self.size,
                "modality": self.modality, "spacing_mm": list(self.spacing_mm),
                "label_column": self.label_column, "classes": counts,
                "masks": list(self.mask_names), "sha256": self.fingerprint()}


def load_training_data(path: str | Path, size: int = 64, *, label_column: str | None = None,
                       masks: list[str] | None = None, max_images: int | None = None,
                       ) -> TrainingData:
    """Read images (and class labels, masks) for training, resized to ``size`` x ``size`` px.

    Parameters
    ----------
    path : path
        A synthmed dataset or a folder of images with an optional ``labels.csv``.
    size : int
        Side of the square training images, pixels.
    label_column : str, optional
        Column (attribute) giving each image's class; ``""`` for none; default: see module.
    masks : list of str, optional
        Names of the masks to condition on (``[]`` or None: none).
    """
    images = load_image_set(path, size=(size, size), max_images=max_images)
    if len(images) < 2:
        raise SynthmedError(f"{path}: need at least two images to train, found {len(images)}")
    is_dataset = (Path(path) / "run.json").is_file()
    names, index, column = _classes(images.attributes, label_column, is_dataset, path)
    mask_names = list(masks or [])
    mask_array = None
    if mask_names:
        missing = [m for m in mask_names if m not in images.masks]
        if missing:
            raise SynthmedError(f"{path}: no mask named {', '.join(missing)}; available: "
                                f"{', '.join(sorted(images.masks)) or 'none'}")
        mask_array = np.stack([images.masks[m] for m in mask_names], axis=1)
    modality, spacing = _geometry(Path(path), size) if is_dataset else ("OT", (1.0, 1.0))
    return TrainingData(np.asarray(images.images, np.float32).clip(0, 1), names, index,
                        mask_names, mask_array, modality, spacing, str(path), column)


def _classes(attrs: dict[str, list], label_column, is_dataset, path):
    if label_column == "":
        return [], None, ""
    if label_column is None:
        if is_dataset:
            flags = {k: v for k, v in attrs.items() if all(isinstance(x, bool) for x in v)}
            if not flags:
                return [], None, ""
            values = ["+".join(sorted(k for k in flags if flags[k][i])) or NO_FINDING
                      for i in range(len(next(iter(flags.values()))))]
            return _index(values, "classes")
        label_column = next((c for c in DEFAULT_CLASS_COLUMNS if c in attrs), None)
        if label_column is None:
            return [], None, ""
    if label_column not in attrs:
        raise SynthmedError(f"{path}: no column {label_column!r} for the class; available: "
                            f"{', '.join(sorted(attrs)) or 'none'}")
    values = attrs[label_column]
    if any(v is None or v == "" for v in values):
        raise SynthmedError(f"{path}: column {label_column!r} is empty for some images")
    if all(isinstance(v, bool) for v in values):
        values = [label_column if v else f"no_{label_column}" for v in values]
    else:
        values = [label_text(v) for v in values]
    return _index(values, label_column)


def label_text(v) -> str:
    """A class value as a class name: whole floats without ``.0`` (``3.0`` -> ``"3"``)."""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _index(values: list[str], column: str):
    names = sorted(set(values))
    lookup = {n: i for i, n in enumerate(names)}
    return names, np.array([lookup[v] for v in values], np.int64), column


def _geometry(root: Path, size: int):
    """Modality and pixel spacing at ``size`` px, from the dataset's first label record."""
    try:
        rec = json.loads(next(iter(sorted((root / "labels").glob("*.json")))).read_text())
        shape, spacing = rec["shape"][-2:], rec["spacing_mm"][-2:]
        return rec.get("modality", "OT"), tuple(float(s) * n / size
                                                for s, n in zip(spacing, shape, strict=True))
    except (StopIteration, OSError, ValueError, KeyError, TypeError):
        return "OT", (1.0, 1.0)
