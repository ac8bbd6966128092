"""Making and writing one sample: the unit of work every runner schedules.

Everything here depends only on ``(spec, index)``, so sample *i* is the same bytes
whichever worker makes it, in whatever order, and after a resume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from synthmed import __version__
from synthmed._io import atomic_write_text, sha256_file
from synthmed.provenance.watermark import dataset_id, mark_sample
from synthmed.registry import EXPORTERS, PRESETS
from synthmed.sample import Sample
from synthmed.seeding import sample_streams
from synthmed.spec import Plan

__all__ = ["sample_id", "make_sample", "render", "write_sample", "write_files", "record_path"]


def sample_id(index: int) -> str:
    """File-name id of sample ``index``: ``000042``."""
    return f"{index:06d}"


def record_path(root: Path, index: int) -> Path:
    """Where sample ``index``'s label record (``labels/{id}.json``) lives."""
    return Path(root) / "labels" / f"{sample_id(index)}.json"


def make_sample(plan: Plan, index: int) -> Sample:
    """Draw sample ``index``'s parameters and run the preset; fill in provenance."""
    params = plan.draw(sample_streams(plan.spec.seed, index)[0])
    sample = render(plan.spec.preset, params, plan.spec.seed, index)
    if plan.spec.watermark:
        sample.provenance.dataset_id = dataset_id(plan.spec)
    return sample


def render(preset: str, params: BaseModel, seed: int, index: int) -> Sample:
    """Run ``preset`` on validated ``params`` with sample ``index``'s stream of ``seed``."""
    sample = PRESETS.get(preset).fn(params, sample_streams(seed, index)[1])
    prov = sample.provenance
    prov.preset, prov.seed, prov.index = preset, seed, index
    prov.params = params.model_dump(mode="json")
    prov.versions = {"synthmed": __version__, "numpy": np.__version__}
    return sample


def write_sample(sample: Sample, root: Path, index: int, formats: list[str]) -> dict[str, Any]:
    """Write ``sample`` in every format, then its label record; return its manifest entry."""
    sid = sample_id(index)
    paths = write_files(sample, root, sid, formats)
    return {"index": index, "id": sid,
            "files": {p: sha256_file(Path(root) / p) for p in paths}}


def write_files(sample: Sample, root: Path, sid: str, formats: list[str]) -> list[str]:
    """Write ``sample`` as ``sid`` in every format, then its record ``labels/{sid}.json``.

    The record is written last, so a sample whose record exists has all its files.
    Images are watermarked with ``sample.provenance.dataset_id`` (if set) before any
    format is written, so every format carries the same marked pixels.
    Returns every written path relative to ``root``, sorted.
    """
    if sample.provenance.dataset_id:
        sample = mark_sample(sample, sample.provenance.dataset_id)
    files: dict[str, str] = {}
    for fmt in formats:
        files.update(EXPORTERS.get(fmt).write_sample(sample, root, sid))
    record = {"id": sid, **sample.metadata(), "files": files}
    rec = Path(root) / "labels" / f"{sid}.json"
    atomic_write_text(rec, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return sorted(set(files.values()) | {rec.relative_to(root).as_posix()})
