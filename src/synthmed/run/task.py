"""Making and writing one sample: the unit of work every runner schedules.

Everything here depends only on ``(spec, index)``, so sample *i* is the same bytes
whichever worker makes it, in whatever order, and after a resume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from synthmed import __version__
from synthmed._io import atomic_write_text, sha256_file
from synthmed.registry import EXPORTERS, PRESETS
from synthmed.sample import Sample
from synthmed.seeding import sample_streams
from synthmed.spec import Plan

__all__ = ["sample_id", "make_sample", "write_sample", "record_path"]


def sample_id(index: int) -> str:
    """File-name id of sample ``index``: ``000042``."""
    return f"{index:06d}"


def record_path(root: Path, index: int) -> Path:
    """Where sample ``index``'s label record (``labels/{id}.json``) lives."""
    return Path(root) / "labels" / f"{sample_id(index)}.json"


def make_sample(plan: Plan, index: int) -> Sample:
    """Draw sample ``index``'s parameters and run the preset; fill in provenance."""
    params_rng, preset_rng = sample_streams(plan.spec.seed, index)
    params = plan.draw(params_rng)
    sample = PRESETS.get(plan.spec.preset).fn(params, preset_rng)
    prov = sample.provenance
    prov.preset, prov.seed, prov.index = plan.spec.preset, plan.spec.seed, index
    prov.params = params.model_dump(mode="json")
    prov.versions = {"synthmed": __version__, "numpy": np.__version__}
    return sample


def write_sample(sample: Sample, root: Path, index: int, formats: list[str]) -> dict[str, Any]:
    """Write ``sample`` in every format, then its label record; return its manifest entry.

    The record is written last, so a sample whose record exists has all its files.
    """
    sid = sample_id(index)
    files: dict[str, str] = {}
    for fmt in formats:
        files.update(EXPORTERS.get(fmt).write_sample(sample, root, sid))
    record = {"id": sid, **sample.metadata(), "files": files}
    rec = record_path(root, index)
    atomic_write_text(rec, json.dumps(record, indent=1, sort_keys=True) + "\n")
    paths = sorted(set(files.values()) | {rec.relative_to(root).as_posix()})
    return {"index": index, "id": sid,
            "files": {p: sha256_file(Path(root) / p) for p in paths}}
