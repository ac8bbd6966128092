"""The dataset folder: claiming it, the manifest, resuming, and finishing.

Layout (see the README for the per-format files)::

    out/
      run.json          spec identity, requested count, state ("running" / "complete")
      spec.yaml         the spec as run (after command-line overrides)
      manifest.jsonl    one line per sample: {"index", "id", "files": {path: sha256}},
                        sorted by index once complete, then one line for dataset files
      labels/{id}.json  the sample record: labels, report, provenance, file map
      dataset_card.md, dataset.json, coco/annotations.json, ...

While a run is going, manifest lines are appended as samples finish. Re-running the same
command reads the manifest, keeps every sample whose files still hash the same, and makes
the rest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from synthmed import __version__
from synthmed._io import atomic_write_text, remove_temporaries, sha256_file
from synthmed.errors import OutputError
from synthmed.spec import DatasetSpec

__all__ = ["claim_output", "verified_entries", "ManifestLog", "finalize_exports",
           "write_final_manifest",
           "mark_complete"]

RUN_FILE = "run.json"
MANIFEST = "manifest.jsonl"


def claim_output(root: Path, spec: DatasetSpec, overwrite: bool = False) -> None:
    """Make ``root`` ready for ``spec``: new, or a resumable run of the same spec.

    Raises :class:`OutputError` if ``root`` is a file, a folder that is not a synthmed
    dataset, or a dataset made from a different spec (unless ``overwrite``).
    """
    claim_folder(root, spec.identity(), overwrite, "made from a different spec (preset, seed, "
                 "parameters or formats differ)")
    atomic_write_text(root / "spec.yaml", spec.to_yaml())
    atomic_write_text(root / RUN_FILE, json.dumps({
        "identity": spec.identity(), "count": spec.count, "state": "running",
        "synthmed": __version__}, indent=1) + "\n")


def claim_folder(root: Path, identity: str, overwrite: bool, differs: str) -> None:
    """Make ``root`` a writable dataset folder: new, empty, or a dataset whose ``run.json``
    has this ``identity`` (kept, to resume); a dataset of another identity is replaced
    only if ``overwrite`` (``differs`` says how it differs, for the message)."""
    if root.exists() and not root.is_dir():
        raise OutputError(f"output {root} is a file; give a folder path with -o")
    run_file = root / RUN_FILE
    if run_file.exists():
        try:
            run = json.loads(run_file.read_text())
        except (OSError, ValueError):
            raise OutputError(f"{run_file} is unreadable; remove {root} or choose another "
                              "output folder") from None
        if run.get("identity") != identity:
            if not overwrite:
                raise OutputError(f"{root} holds a dataset {differs}; choose another output "
                                  "folder or pass --overwrite to replace it")
            shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()):
        raise OutputError(f"{root} is not empty and is not a synthmed dataset; choose an "
                          "empty or new output folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".synthmed-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {root}: {exc.strerror or exc}") from None
    remove_temporaries(root)


def verified_entries(root: Path, count: int) -> dict[int, dict[str, Any]]:
    """Manifest entries below ``count`` whose files all exist with the recorded sha256.

    A torn last line (a run killed while appending) and entries of changed or missing
    files are ignored, so those samples are made again.
    """
    path = root / MANIFEST
    if not path.exists():
        return {}
    good: dict[int, dict[str, Any]] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
            index = int(entry["index"])
        except (ValueError, KeyError, TypeError):
            continue
        if index < count and all(_hash_matches(root / p, h) for p, h in entry["files"].items()):
            good[index] = entry
    return good


def _hash_matches(path: Path, digest: str) -> bool:
    try:
        return sha256_file(path) == digest
    except OSError:
        return False


class ManifestLog:
    """Appends manifest entries as samples finish (flushed line by line)."""

    def __init__(self, root: Path):
        self._f = open(root / MANIFEST, "a", encoding="utf-8")

    def append(self, entry: dict[str, Any]) -> None:
        self._f.write(json.dumps(entry, sort_keys=True) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def finalize_exports(root: Path, formats: list[str], records: list[dict[str, Any]]) -> list[str]:
    """Run each export format's dataset-level step (e.g. COCO's annotations file) over the
    samples' label records; return the files written, relative to ``root``."""
    from synthmed.registry import EXPORTERS

    files: list[str] = []
    for fmt in formats:
        exporter = EXPORTERS.get(fmt)
        if exporter.finalize is not None:
            files += exporter.finalize(root, records)
    return files


def write_final_manifest(root: Path, entries: dict[int, dict[str, Any]],
                         dataset_files: list[str]) -> None:
    """Rewrite the manifest sorted by index, plus a closing line for dataset-level files."""
    lines = [json.dumps(entries[i], sort_keys=True) for i in sorted(entries)]
    lines.append(json.dumps({"dataset_files": {p: sha256_file(root / p)
                                               for p in sorted(dataset_files)}},
                            sort_keys=True))
    atomic_write_text(root / MANIFEST, "\n".join(lines) + "\n")


def mark_complete(root: Path, spec: DatasetSpec) -> None:
    atomic_write_text(root / RUN_FILE, json.dumps({
        "identity": spec.identity(), "count": spec.count, "state": "complete",
        "synthmed": __version__}, indent=1) + "\n")

