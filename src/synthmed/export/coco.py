"""COCO instance-segmentation export (2D only): ``coco/annotations.json``.

Each sample writes ``coco/parts/{id}.json`` (role ``coco_part``) with its image entry and
annotations, so that samples can be made in parallel and a run can resume;
:func:`finalize_coco` merges the parts, in record order, into ``coco/annotations.json``:

* ``images``: ``id = index + 1``, ``file_name`` = the PNG exporter's path of the first
  image relative to the dataset root (``images/{id}.png``), ``width`` = cols,
  ``height`` = rows, plus ``synthmed_id``.
* ``categories``: one per ``label_table`` entry, ``id`` = the stable label id.
* ``annotations``: one per non-empty mask, or, for a class that has objects in
  ``labels.instances``, one per instance (``instance_id`` says which) instead of the
  class's semantic mask. ``segmentation`` is uncompressed-to-string COCO RLE from
  ``pycocotools.mask.encode`` (``counts`` decoded to ``str``), ``bbox`` is
  ``[x, y, w, h]`` with ``x`` = column and ``y`` = row (the tight box of the mask, as
  :meth:`synthmed.sample.Box.from_mask` but reordered), ``area`` the pixel count,
  ``iscrowd`` 0, ids 1..N in merge order.

Load it with ``pycocotools.coco.COCO("coco/annotations.json")``; ``annToMask`` returns the
exact mask.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from synthmed._io import atomic_write_text
from synthmed.errors import SynthmedError
from synthmed.export._common import (dumps_json, image_relpath, is_2d,
                                     sample_index, software_string)
from synthmed.registry import register_exporter
from synthmed.sample import Box, Sample

__all__ = ["export_coco", "finalize_coco", "mask_annotation"]

ANNOTATIONS = "coco/annotations.json"


def mask_annotation(mask: np.ndarray, category_id: int) -> dict[str, Any]:
    """COCO annotation (without ids) for one binary mask: RLE, ``[x, y, w, h]``, area."""
    mask = np.asarray(mask, bool)
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    r0, c0, r1, c1 = Box.from_mask("object", mask).bbox
    return {
        "category_id": int(category_id),
        "segmentation": {"size": [int(v) for v in rle["size"]],
                         "counts": rle["counts"].decode("ascii")},
        "bbox": [c0, r0, c1 - c0, r1 - r0],
        "area": int(mask.sum()),
        "iscrowd": 0,
    }


def finalize_coco(root: str | os.PathLike, records: Iterable[Any]) -> list[str]:
    """Merge ``coco/parts/*.json`` in record order into ``coco/annotations.json``.

    ``records`` are the runner's label records (dicts with ``"id"`` and ``"files"``) or
    plain sample ids; returns ``["coco/annotations.json"]``.
    """
    root = Path(root)
    images, annotations, categories = [], [], {}
    for rec in records:
        sid = rec["id"] if isinstance(rec, dict) else str(rec)
        files = rec.get("files", {}) if isinstance(rec, dict) else {}
        part_path = root / files.get("coco_part", f"coco/parts/{sid}.json")
        try:
            part = json.loads(part_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SynthmedError(f"cannot read COCO part {part_path} for sample {sid}: {exc}; "
                                "run the same command again to regenerate it") from None
        for name, cid in part["categories"].items():
            if categories.setdefault(name, cid) != cid:
                raise SynthmedError(f"label {name!r} has id {categories[name]} in one sample and "
                                    f"{cid} in sample {sid}; label ids must be stable")
        images.append(part["image"])
        for ann in part["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": part["image"]["id"],
                                **ann})
    ids = sorted(categories.values())
    if len(set(ids)) != len(ids):
        raise SynthmedError(f"two labels share one id in {categories}; ids must be unique")
    coco = {
        "info": {"description": "SYNTHETIC DATASET - no image is from a patient",
                 "version": "1.0", "contributor": software_string()},
        "licenses": [],
        "images": images,
        "categories": [{"id": cid, "name": name, "supercategory": "structure"}
                       for name, cid in sorted(categories.items(), key=lambda kv: kv[1])],
        "annotations": annotations,
    }
    atomic_write_text(root / ANNOTATIONS, json.dumps(coco, separators=(",", ":")) + "\n")
    return [ANNOTATIONS]


@register_exporter("coco", finalize=finalize_coco)
def export_coco(sample: Sample, root: str | os.PathLike, sample_id: str) -> dict[str, str]:
    """COCO instance segmentation (RLE masks, boxes) merged into ``coco/annotations.json``."""
    if not is_2d(sample):
        raise SynthmedError("COCO export is 2D only; use nifti for volumes")
    lab = sample.labels
    rows, cols = sample.spatial_shape
    first = next(iter(sample.images))
    image = {"id": sample_index(sample_id) + 1,
             "file_name": image_relpath(sample_id, first, first=True),
             "width": int(cols), "height": int(rows), "synthmed_id": sample_id}
    by_class: dict[str, list[int]] = {}
    if lab.instances is not None:
        present = set(int(v) for v in np.unique(lab.instances)) - {0}
        for inst_id in sorted(present):
            cls = lab.instance_classes.get(inst_id)
            if cls is None or cls not in lab.label_table:
                raise SynthmedError(f"instance {inst_id} has class {cls!r}, which is not in "
                                    "label_table; give every instance a labelled class")
            by_class.setdefault(cls, []).append(inst_id)
    anns = []
    for name, cid in sorted(lab.label_table.items(), key=lambda kv: (kv[1], kv[0])):
        if name in by_class:
            for inst_id in by_class[name]:
                anns.append({**mask_annotation(lab.instances == inst_id, cid),
                             "instance_id": inst_id})
        elif name in lab.masks and np.any(lab.masks[name]):
            anns.append(mask_annotation(lab.masks[name], cid))
    part = {"image": image, "annotations": anns,
            "categories": {k: int(v) for k, v in lab.label_table.items()}}
    rel = f"coco/parts/{sample_id}.json"
    atomic_write_text(Path(root) / rel, dumps_json(part))
    return {"coco_part": rel}
