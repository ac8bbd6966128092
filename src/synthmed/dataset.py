"""Read a synthmed dataset back as :class:`~synthmed.sample.Sample` objects.

Every sample has a record ``labels/{id}.json`` (its metadata, ``"id"`` and ``"files"``:
role -> path relative to the dataset root). The pixels are read from, in order of
preference:

1. ``npz`` (role ``npz``) - lossless, any dimension and units;
2. the PNGs (roles ``image/<name>``, ``mask/<name>``, ``instances``) - images decoded from
   their fixed encoding (see :mod:`synthmed.export.png`) to float32, within 0.5/65535 of
   the original for 16-bit grayscale, 0.5/255 for RGB, exact for integer HU;
3. the NIfTI files (roles ``nifti/<name>``, ``nifti_labels``, ``nifti_instances``).

Reading is lazy: :func:`open_dataset` lists the records; pixels are read on access.

Example
-------
>>> from synthmed import open_dataset
>>> ds = open_dataset("out/chest")                        # doctest: +SKIP
>>> len(ds), ds.ids[:2]                                   # doctest: +SKIP
(100, ['000000', '000001'])
>>> s = ds[0]                   # or ds["000000"]         # doctest: +SKIP
>>> s.image.shape, s.units, sorted(s.labels.masks)        # doctest: +SKIP
((512, 512), {'xray': '1'}, ['heart', 'lung_left', 'lung_right'])
>>> for sample in ds:                                     # doctest: +SKIP
...     print(sample.labels.classes)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from synthmed.errors import SynthmedError
from synthmed.sample import Sample

__all__ = ["Dataset", "open_dataset"]


class Dataset:
    """A synthmed dataset on disk; index by position (``ds[0]``) or id (``ds["000000"]``).

    Parameters
    ----------
    root : path
        The dataset folder (the one that holds ``labels/``).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        labels = self.root / "labels"
        if not labels.is_dir():
            raise SynthmedError(f"{self.root} is not a synthmed dataset: it has no 'labels/' "
                                "folder (give the folder that `synthmed generate` wrote)")
        self.ids: list[str] = sorted(p.stem for p in labels.glob("*.json")
                                     if not p.name.startswith("."))
        self._pos = {sid: i for i, sid in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, {len(self)} samples)"

    def __iter__(self) -> Iterator[Sample]:
        for sid in self.ids:
            yield self.load(sid)

    def __getitem__(self, key: int | str) -> Sample:
        return self.load(key)

    def _id(self, key: int | str) -> str:
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            try:
                return self.ids[key]
            except IndexError:
                raise IndexError(f"sample {key} out of range for {len(self)} samples") from None
        if isinstance(key, str):
            if key not in self._pos:
                raise KeyError(f"no sample {key!r} in {self.root}")
            return key
        raise TypeError(f"index a Dataset with an int or a sample id string, not {key!r}")

    def record(self, key: int | str) -> dict[str, Any]:
        """The JSON record ``labels/{id}.json`` of a sample (metadata, id, files)."""
        sid = self._id(key)
        path = self.root / "labels" / f"{sid}.json"
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SynthmedError(f"cannot read the label record {path}: {exc}") from None
        if not isinstance(rec, dict) or "spacing_mm" not in rec or "modality" not in rec:
            raise SynthmedError(f"{path} is not a synthmed label record")
        rec.setdefault("files", {})
        return rec

    def _file(self, sid: str, rel: str) -> Path:
        path = self.root / rel
        if not path.is_file():
            raise SynthmedError(f"sample {sid}: file {rel} listed in labels/{sid}.json is "
                                f"missing from {self.root}; re-run the same generate command "
                                "to restore it")
        return path

    def load(self, key: int | str) -> Sample:
        """Rebuild one sample from its record and files (npz, else PNG, else NIfTI)."""
        sid = self._id(key)
        rec = self.record(sid)
        files: dict[str, str] = rec["files"]
        if "npz" in files:
            path = self._file(sid, files["npz"])
            try:
                return Sample.load_npz(path)
            except (OSError, ValueError, KeyError) as exc:
                raise SynthmedError(f"cannot read {path}: {exc}") from None
        if any(r.startswith("image/") for r in files):
            return self._load_png(sid, rec)
        if any(r.startswith("nifti/") for r in files):
            return self._load_nifti(sid, rec)
        raise SynthmedError(f"sample {sid}: labels/{sid}.json lists no npz, PNG or NIfTI "
                            "image files to read")

    def _build(self, sid: str, rec: dict[str, Any], images, masks, instances) -> Sample:
        try:
            return Sample.from_metadata(rec, images, masks, instances)
        except (ValueError, KeyError) as exc:
            raise SynthmedError(f"sample {sid}: files disagree with labels/{sid}.json: "
                                f"{exc}") from None

    def _load_png(self, sid: str, rec: dict[str, Any]) -> Sample:
        from synthmed.export.png import decode_image, read_png

        files, units = rec["files"], rec.get("units", {})
        roles = _image_roles(rec, "image/")
        # the first image is the one at images/{id}.png
        roles.sort(key=lambda r: Path(files[r]).stem != sid)
        images = {}
        for role in roles:
            name = role[len("image/"):]
            images[name] = decode_image(read_png(self._file(sid, files[role])),
                                        units.get(name, "1"))
        masks = {r[len("mask/"):]: read_png(self._file(sid, p)) > 127
                 for r, p in files.items() if r.startswith("mask/")}
        instances = None
        if "instances" in files:
            instances = read_png(self._file(sid, files["instances"])).astype(np.int32)
        return self._build(sid, rec, images, masks, instances)

    def _load_nifti(self, sid: str, rec: dict[str, Any]) -> Sample:
        from synthmed.export.nifti import (read_nifti_image, read_nifti_instances,
                                           read_nifti_labels)

        files = rec["files"]
        n_spatial = len(rec["shape"])
        images = {r[len("nifti/"):]: read_nifti_image(self._file(sid, files[r]), n_spatial)
                  for r in _image_roles(rec, "nifti/")}
        masks = {}
        if "nifti_labels" in files:
            masks = read_nifti_labels(self._file(sid, files["nifti_labels"]),
                                      self._file(sid, files["nifti_labels_meta"]), n_spatial)
        instances = None
        if "nifti_instances" in files:
            instances = read_nifti_instances(self._file(sid, files["nifti_instances"]),
                                             n_spatial)
        return self._build(sid, rec, images, masks, instances)


def _image_roles(rec: dict[str, Any], prefix: str) -> list[str]:
    """Image roles in the sample's image order, if the record keeps it (``"images"``).

    The runner writes records with sorted keys, so without an ``"images"`` list the order
    of images after the first is alphabetical.
    """
    roles = [r for r in rec["files"] if r.startswith(prefix)]
    order = rec.get("images")
    if isinstance(order, list):
        rank = {name: i for i, name in enumerate(order)}
        roles.sort(key=lambda r: rank.get(r[len(prefix):], len(rank)))
    return roles


def open_dataset(root: str | os.PathLike) -> Dataset:
    """Open a synthmed dataset folder for reading (lazy; see :class:`Dataset`).

    Raises :class:`SynthmedError` if ``root`` has no ``labels/`` folder.
    """
    return Dataset(root)
