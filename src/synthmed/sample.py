"""The one data model every stage passes on: :class:`Sample`.

Conventions, fixed here once for the whole package
--------------------------------------------------
* Arrays are numpy. 2D images are ``(rows, cols)``; RGB images are channel-last
  ``(rows, cols, 3)``; volumes are ``(z, y, x)``.
* ``spacing_mm`` gives the pixel/voxel size in millimetres for each *spatial* axis,
  in array order (so ``(row_mm, col_mm)`` for 2D).
* Image values are float32, either dimensionless in ``[0, 1]`` (``units["xray"] == "1"``)
  or in a physical unit named in ``units`` (``"HU"``, ``"1/cm"``, ...). Nothing in the
  package rescales silently; windowing for display happens only in exporters.
* Masks are boolean arrays with the image's spatial shape. They may overlap (in a
  radiograph the heart shadow overlaps the lungs), so each structure has its own mask.
  ``label_table`` gives every structure a stable integer id (used for label maps,
  COCO category ids and DICOM-SEG segment numbers).
* Coordinates (boxes, landmarks) are in pixel/voxel index space, in array order, as
  floats measured from the corner of the first pixel: a pixel ``(r, c)`` covers
  ``[r, r + 1) x [c, c + 1)``.

Example
-------
>>> import numpy as np
>>> from synthmed.sample import Sample, Labels, Box
>>> img = np.zeros((4, 4), np.float32)
>>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
>>> s = Sample(images={"xray": img}, spacing_mm=(0.5, 0.5), modality="DX",
...            labels=Labels(masks={"nodule": m}, label_table={"nodule": 1},
...                          boxes=[Box.from_mask("nodule", m)]))
>>> s.labels.boxes[0].bbox
(1.0, 1.0, 3.0, 3.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCALAR_TYPES = (bool, int, float, str)

__all__ = ["Box", "Labels", "Provenance", "Sample", "assert_samples_equal"]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box around one object.

    Parameters
    ----------
    label : str
        Name of the structure or finding; a key of ``Labels.label_table``.
    bbox : tuple of float
        ``(row_min, col_min, row_max, col_max)`` for 2D (``(z0, y0, x0, z1, y1, x1)`` for
        3D) in pixel index space, max exclusive.
    instance_id : int
        Id of the object in ``Labels.instances`` (0 if the box has no instance mask).
    """

    label: str
    bbox: tuple[float, ...]
    instance_id: int = 0

    @classmethod
    def from_mask(cls, label: str, mask: np.ndarray, instance_id: int = 0) -> Box:
        """Tight box around the True pixels of ``mask`` (raises if the mask is empty)."""
        where = np.nonzero(mask)
        if not where[0].size:
            raise ValueError(f"cannot box an empty mask for {label!r}")
        lo = tuple(float(w.min()) for w in where)
        hi = tuple(float(w.max() + 1) for w in where)
        return cls(label=label, bbox=lo + hi, instance_id=instance_id)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "bbox": list(self.bbox), "instance_id": self.instance_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Box:
        return cls(label=d["label"], bbox=tuple(float(v) for v in d["bbox"]),
                   instance_id=int(d.get("instance_id", 0)))


@dataclass
class Labels:
    """Everything known exactly about a sample because we made it.

    Attributes
    ----------
    masks : dict of str to bool ndarray
        One binary mask per structure or finding, spatial shape of the image.
    label_table : dict of str to int
        Stable integer id (>= 1) per structure name; covers every mask and box label.
    instances : int32 ndarray or None
        Instance map (0 = background, k = object k), e.g. each nodule separately.
    instance_classes : dict of int to str
        Class name of each instance id.
    boxes : list of Box
        Boxes around findings and structures.
    classes : dict of str to bool
        Image-level class labels (multi-label: ``{"pneumonia": True, "effusion": False}``).
    attributes : dict of str to scalar
        Scalar facts such as ``cardiothoracic_ratio``, ``age_years``, ``kl_grade``.
    landmarks : dict of str to tuple of float
        Named points in pixel index space (array order).
    """

    masks: dict[str, np.ndarray] = field(default_factory=dict)
    label_table: dict[str, int] = field(default_factory=dict)
    instances: np.ndarray | None = None
    instance_classes: dict[int, str] = field(default_factory=dict)
    boxes: list[Box] = field(default_factory=list)
    classes: dict[str, bool] = field(default_factory=dict)
    attributes: dict[str, bool | int | float | str] = field(default_factory=dict)
    landmarks: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The JSON-serialisable part (everything but the mask and instance arrays)."""
        return {
            "label_table": dict(self.label_table),
            "instance_classes": {str(k): v for k, v in self.instance_classes.items()},
            "boxes": [b.to_dict() for b in self.boxes],
            "classes": dict(self.classes),
            "attributes": dict(self.attributes),
            "landmarks": {k: list(v) for k, v in self.landmarks.items()},
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], masks: dict[str, np.ndarray],
                      instances: np.ndarray | None = None) -> Labels:
        return cls(
            masks=masks,
            label_table={k: int(v) for k, v in meta.get("label_table", {}).items()},
            instances=instances,
            instance_classes={int(k): v for k, v in meta.get("instance_classes", {}).items()},
            boxes=[Box.from_dict(b) for b in meta.get("boxes", [])],
            classes={k: bool(v) for k, v in meta.get("classes", {}).items()},
            attributes=dict(meta.get("attributes", {})),
            landmarks={k: tuple(float(c) for c in v) for k, v in meta.get("landmarks", {}).items()},
        )


@dataclass
class Provenance:
    """What is needed to make the sample again, exactly.

    ``params`` is the preset's validated parameter model dumped to plain JSON types;
    ``seed`` and ``index`` give the random stream
    (``numpy.random.SeedSequence(seed, spawn_key=(index,))``). ``edits`` lists parameters
    changed by :func:`synthmed.edit.edit` since the sample was generated (empty otherwise).
    ``dataset_id`` (8 hex digits) is the id the exporters hide in the pixels as an
    invisible watermark (:mod:`synthmed.provenance.watermark`); empty: no watermark.
    """

    preset: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    index: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    edits: dict[str, Any] = field(default_factory=dict)
    dataset_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"preset": self.preset, "params": self.params, "seed": self.seed,
             "index": self.index, "versions": dict(self.versions)}
        if self.dataset_id:
            d["dataset_id"] = self.dataset_id
        return {**d, "edits": dict(self.edits)} if self.edits else d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Provenance:
        return cls(preset=d.get("preset", ""), params=dict(d.get("params", {})),
                   seed=int(d.get("seed", 0)), index=int(d.get("index", 0)),
                   versions=dict(d.get("versions", {})), edits=dict(d.get("edits", {})),
                   dataset_id=str(d.get("dataset_id", "")))


@dataclass
class Sample:
    """One labelled synthetic image (or set of co-registered images).

    Attributes
    ----------
    images : dict of str to float32 ndarray
        Named, co-registered images (``{"xray": ...}`` or ``{"t1": ..., "ct": ...}``).
    spacing_mm : tuple of float
        Pixel/voxel size in mm per spatial axis, array order.
    modality : str
        DICOM modality code: ``"DX"``, ``"CR"``, ``"CT"``, ``"MR"``, ``"US"``, ...
    labels : Labels
    units : dict of str to str
        Unit of each image's values; ``"1"`` means dimensionless in ``[0, 1]``.
    report : str
        A short radiology-style report written from the labels.
    provenance : Provenance
    """

    images: dict[str, np.ndarray]
    spacing_mm: tuple[float, ...]
    modality: str
    labels: Labels = field(default_factory=Labels)
    units: dict[str, str] = field(default_factory=dict)
    report: str = ""
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError("a Sample needs at least one image")
        for name in self.images:
            self.units.setdefault(name, "1")
        n = len(self.spacing_mm)
        if n not in (2, 3) or self.image.ndim not in (n, n + 1):
            raise ValueError(f"spacing_mm has {n} values for an image of shape "
                             f"{self.image.shape}; give one per spatial axis (2 or 3)")
        shape = self.spatial_shape
        for name, img in self.images.items():
            if img.shape[:n] != shape or img.ndim > n + 1:
                raise ValueError(f"image {name!r} has shape {img.shape}; expected spatial "
                                 f"shape {shape} (plus at most one channel axis)")
        for name, mask in self.labels.masks.items():
            if mask.shape != shape:
                raise ValueError(f"mask {name!r} has shape {mask.shape}, image is {shape}")
            if name not in self.labels.label_table:
                raise ValueError(f"mask {name!r} has no id in label_table")

    @property
    def image(self) -> np.ndarray:
        """The first (primary) image."""
        return next(iter(self.images.values()))

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial axes (one per ``spacing_mm`` value; a channel axis excluded)."""
        return tuple(self.image.shape[: len(self.spacing_mm)])

    def metadata(self) -> dict[str, Any]:
        """JSON-serialisable description of the sample, without pixel arrays."""
        return {
            "modality": self.modality,
            "images": list(self.images),
            "spacing_mm": list(self.spacing_mm),
            "shape": list(self.spatial_shape),
            "units": dict(self.units),
            "labels": self.labels.metadata(),
            "report": self.report,
            "provenance": self.provenance.to_dict(),
        }

    def save_npz(self, path) -> None:
        """Write the sample losslessly to one ``.npz`` file (arrays + JSON metadata)."""
        import json

        arrays = {f"image/{k}": v for k, v in self.images.items()}
        arrays.update({f"mask/{k}": v for k, v in self.labels.masks.items()})
        if self.labels.instances is not None:
            arrays["instances"] = self.labels.instances
        arrays["metadata"] = np.frombuffer(json.dumps(self.metadata()).encode(), np.uint8)
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load_npz(cls, path) -> Sample:
        """Read a sample written by :meth:`save_npz`."""
        import json

        with np.load(path) as z:
            meta = json.loads(z["metadata"].tobytes())
            images = {k[6:]: z[k] for k in z.files if k.startswith("image/")}
            masks = {k[5:]: z[k] for k in z.files if k.startswith("mask/")}
            instances = z["instances"] if "instances" in z.files else None
        return cls.from_metadata(meta, images, masks, instances)

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], images: dict[str, np.ndarray],
                      masks: dict[str, np.ndarray], instances: np.ndarray | None = None) -> Sample:
        """Rebuild a sample from :meth:`metadata` and its arrays."""
        return cls(
            images=images,
            spacing_mm=tuple(float(v) for v in meta["spacing_mm"]),
            modality=meta["modality"],
            labels=Labels.from_metadata(meta.get("labels", {}), masks, instances),
            units=dict(meta.get("units", {})),
            report=meta.get("report", ""),
            provenance=Provenance.from_dict(meta.get("provenance", {})),
        )


def assert_samples_equal(a: Sample, b: Sample, atol: float = 0.0) -> None:
    """Raise ``AssertionError`` unless two samples have equal pixels, masks and metadata.

    ``atol`` allows for quantisation when one side was read back from 16-bit PNG.
    """
    assert a.images.keys() == b.images.keys(), (a.images.keys(), b.images.keys())
    for k in a.images:
        np.testing.assert_allclose(a.images[k], b.images[k], atol=atol, rtol=0, err_msg=k)
    assert a.labels.masks.keys() == b.labels.masks.keys()
    for k in a.labels.masks:
        np.testing.assert_array_equal(a.labels.masks[k], b.labels.masks[k], err_msg=k)
    if a.labels.instances is None or b.labels.instances is None:
        assert a.labels.instances is None and b.labels.instances is None
    else:
        np.testing.assert_array_equal(a.labels.instances, b.labels.instances)
    assert a.metadata() == b.metadata()
