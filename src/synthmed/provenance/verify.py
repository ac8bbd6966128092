"""``synthmed verify``: is a file synthetic, from which dataset, and is it untouched?

For every image file (PNG, JPEG, TIFF, BMP, WebP, NIfTI, DICOM) under a path,
:func:`verify` looks for the invisible watermark (:mod:`synthmed.provenance.watermark`)
and, when the file sits in a synthmed dataset folder (a ``manifest.jsonl`` in it or a
parent folder), compares its sha256 with the manifest: ``untouched``, ``modified`` or
``not in a manifest``. In a dataset folder only images are checked (masks, label maps and
DICOM-SEG carry no mark), and the dataset's own id is tried when the mark's id cannot be
decoded blind.

Example
-------
>>> import numpy as np, tempfile, pathlib
>>> from PIL import Image
>>> from synthmed.provenance.watermark import embed
>>> rng = np.random.default_rng(1)
>>> image = embed(0.5 + 0.02 * rng.standard_normal((256, 256)), "0badcafe")
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.png"
>>> Image.fromarray(np.rint(image * 255).astype(np.uint8)).save(path)
>>> r = verify(path)[0]
>>> r.synthetic, r.dataset_id, r.manifest
(True, '0badcafe', 'not in a manifest')
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from synthmed._io import sha256_file
from synthmed.errors import SynthmedError
from synthmed.provenance.watermark import detect

__all__ = ["FileCheck", "verify", "read_pixels"]

_RASTER = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
_IMAGE_ROLES = ("image/", "nifti/", "dicom/")  # nifti_labels, dicom_seg, mask/... excluded


@dataclass(frozen=True)
class FileCheck:
    """What :func:`verify` found for one file.

    ``synthetic``: the mark was detected; ``dataset_id``: the id it carries (``None``
    when not detected or unreadable at this quality); ``id_from``: ``"decoded"`` (read
    blind) or ``"matched"`` (the enclosing dataset's id correlates); ``manifest``:
    ``untouched``, ``modified`` or ``not in a manifest``; ``score``: the mark's sync
    z-score (detected from :data:`~synthmed.provenance.watermark.Z_DETECT` up);
    ``error``: why the file could not be read (then nothing else is known).
    """

    path: str
    synthetic: bool
    dataset_id: str | None
    id_from: str
    manifest: str
    score: float
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def read_pixels(path: str | os.PathLike) -> np.ndarray:
    """Pixels of an image file as float64: 2D, RGB(A) or a ``(z, y, x)`` volume."""
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            import nibabel as nib

            data = np.asarray(nib.load(path).dataobj, dtype=np.float64)
            if data.ndim == 5:  # (x, y, z, 1, C): RGB stored by synthmed
                data = data[:, :, :, 0, :].mean(-1)
            return np.transpose(data.reshape(data.shape[:3]), (2, 1, 0))
        if name.endswith(".dcm") or _is_dicom(path):
            import pydicom

            return np.asarray(pydicom.dcmread(path).pixel_array, dtype=np.float64)
        from PIL import Image

        with Image.open(path) as img:
            img.load()
            return np.asarray(img, dtype=np.float64)
    except Exception as exc:  # any reader's failure means: this file cannot be checked
        raise SynthmedError(f"cannot read {path} as an image: {exc}") from None


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _dataset_root(path: Path) -> Path | None:
    for folder in [path, *path.parents] if path.is_dir() else path.parents:
        if (folder / "manifest.jsonl").is_file():
            return folder
    return None


@dataclass
class _Dataset:
    root: Path
    hashes: dict[str, str]        # relative path -> sha256
    roles: dict[str, str]         # relative path -> role (from the label records)
    ids: dict[str, str]           # relative path -> watermark id of its sample


def _load_dataset(root: Path) -> _Dataset:
    hashes: dict[str, str] = {}
    for line in (root / "manifest.jsonl").read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        hashes.update(entry.get("files", {}))
        hashes.update(entry.get("dataset_files", {}))
    roles: dict[str, str] = {}
    ids: dict[str, str] = {}
    for rec_path in sorted((root / "labels").glob("*.json")):
        try:
            rec = json.loads(rec_path.read_text())
        except (OSError, ValueError):
            continue
        dataset_id = rec.get("provenance", {}).get("dataset_id", "")
        for role, rel in rec.get("files", {}).items():
            roles[rel] = role
            if dataset_id:
                ids[rel] = dataset_id
    return _Dataset(root, hashes, roles, ids)


def _candidates(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [p for p in files if p.suffix.lower() in _RASTER | {".dcm", ".nii"}
            or p.name.lower().endswith(".nii.gz")]


def verify(path: str | os.PathLike) -> list[FileCheck]:
    """Check every image file at ``path`` (a file or a folder, searched recursively).

    Raises :class:`SynthmedError` if ``path`` does not exist; unreadable files get a
    result with ``error`` set instead.
    """
    path = Path(path)
    if not path.exists():
        raise SynthmedError(f"{path} does not exist; give an image file or a folder")
    datasets: dict[Path, _Dataset] = {}
    results = []
    for file in _candidates(path):
        root = _dataset_root(file)
        if root is not None and root not in datasets:
            datasets[root] = _load_dataset(root)
        ds = datasets.get(root) if root is not None else None
        rel = file.relative_to(root).as_posix() if ds else ""
        if ds and rel in ds.roles and not ds.roles[rel].startswith(_IMAGE_ROLES) \
                or ds and ds.roles.get(rel) == "dicom_seg":
            continue  # masks, label maps and SEG objects carry no mark
        results.append(_check(file, ds, rel))
    return results


def _check(file: Path, ds: _Dataset | None, rel: str) -> FileCheck:
    if ds is None or rel not in ds.hashes:
        manifest = "not in a manifest"
    else:
        manifest = "untouched" if sha256_file(file) == ds.hashes[rel] else "modified"
    try:
        pixels = read_pixels(file)
    except SynthmedError as exc:
        return FileCheck(str(file), False, None, "", manifest, 0.0, str(exc))
    expected = tuple(sorted(set(ds.ids.values()))) if ds else ()
    found = detect(pixels, expected=expected)
    return FileCheck(str(file), found.synthetic, found.dataset_id, found.id_from, manifest,
                     round(found.score, 2))
