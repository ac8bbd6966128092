"""Edit a generated sample "to specification": re-render it with some parameters changed.

A sample's provenance names its preset, parameters, dataset seed and index, which fix its
random stream. :func:`edit` re-runs the preset with the same stream and the changed
parameters, so everything the change does not touch stays the same: the same patient with a
different finding, grade or exposure — a counterfactual pair. (How local the change is
depends on the preset: ``knee_xray`` draws anatomy, disease and noise from separate streams,
so editing ``kl_grade`` changes pixels only around the joint.)

Example
-------
>>> import numpy as np
>>> from synthmed.edit import edit
>>> from synthmed.run.task import render
>>> from synthmed.presets.chest_xray import ChestXrayParams
>>> s = render("chest_xray", ChestXrayParams(image_size=(96, 96)), seed=0, index=0)
>>> e = edit(s, mas=8.0)
>>> e.provenance.params["mas"], e.provenance.edits
(8.0, {'mas': 8.0})
>>> bool((e.labels.masks["heart"] == s.labels.masks["heart"]).all())   # same patient
True
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from synthmed.errors import SpecError, SynthmedError
from synthmed.registry import PRESETS
from synthmed.run.task import render
from synthmed.sample import Provenance, Sample

__all__ = ["edit", "load_provenance", "parse_assignment", "record_of"]


def edit(source: Sample | Provenance | str | os.PathLike, **changes: Any) -> Sample:
    """Re-render a sample with ``changes`` to its preset parameters.

    Parameters
    ----------
    source : Sample, Provenance or path
        A sample (made by ``generate``, :func:`edit` or
        :func:`synthmed.run.task.render`), its provenance, or a file of a sample in a
        dataset (its ``labels/{id}.json`` record, or any exported file whose name starts
        with the sample id, e.g. ``png/000012_xray.png``), or a sample ``.npz``.
    **changes
        Parameter names of the sample's preset and their new values.

    Returns
    -------
    Sample
        The edited sample. ``provenance.params`` holds the new parameters and
        ``provenance.edits`` the changes relative to the source.

    Raises
    ------
    SpecError
        Unknown parameter, a value out of range, or a combination the preset rejects
        (e.g. a joint-space width outside the requested KL grade).
    """
    prov = source.provenance if isinstance(source, Sample) else (
        source if isinstance(source, Provenance) else load_provenance(source))
    if not prov.preset:
        raise SynthmedError("this sample has no provenance (preset and seed), so it cannot "
                            "be re-rendered; edit samples made by synthmed generate")
    preset = PRESETS.get(prov.preset)
    fields = preset.params.model_fields
    unknown = [k for k in changes if k not in fields]
    if unknown:
        raise SpecError(f"{', '.join(unknown)}: not a parameter of preset {prov.preset!r}; "
                        f"allowed: {', '.join(fields)}")
    try:
        params = preset.params.model_validate({**prov.params, **changes})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'parameters'}: {e['msg']}"
                             for e in exc.errors())
        raise SpecError(f"cannot edit {prov.preset} sample {prov.index} with "
                        f"{_show(changes)}: {problems}") from None
    sample = render(prov.preset, params, prov.seed, prov.index)
    new = sample.provenance.params
    sample.provenance.edits = {**prov.edits, **{k: new[k] for k in changes}}
    sample.provenance.dataset_id = prov.dataset_id  # an edited sample keeps its mark
    return sample


def load_provenance(path: str | os.PathLike) -> Provenance:
    """Provenance of the sample stored at ``path`` (a record, an exported file or an npz)."""
    path = Path(path)
    if not path.is_file():
        raise SynthmedError(f"{path}: no such file (give a sample's labels/ID.json record or "
                            "one of its exported files)")
    if path.suffix == ".npz":
        return Sample.load_npz(path).provenance
    if path.suffix != ".json" or path.parent.name != "labels":
        path = record_of(path)
    try:
        record = json.loads(path.read_text())
        return Provenance.from_dict(record["provenance"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SynthmedError(f"{path}: not a synthmed sample record ({exc})") from None


def record_of(path: Path) -> Path:
    """The ``labels/{id}.json`` record of an exported file (``png/000012_xray.png``,
    ``masks/000012/heart.png``): the id is the digits its name or its folder's name starts
    with, and the record is in a ``labels/`` folder above it."""
    ids = [m.group(0) for m in map(re.compile(r"^\d+").match, (path.name, path.parent.name))
           if m]
    for root in path.resolve().parents:
        for sid in ids:
            if (root / "labels" / f"{sid}.json").is_file():
                return root / "labels" / f"{sid}.json"
    raise SynthmedError(f"{path}: cannot find this sample's record (labels/ID.json) in any "
                        "folder above it")


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``NAME=VALUE`` from the command line; the value is read as YAML.

    >>> parse_assignment("kl_grade=3"), parse_assignment("image_size=[256, 256]")
    (('kl_grade', 3), ('image_size', [256, 256]))
    """
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise SpecError(f"{text!r}: expected NAME=VALUE, e.g. kl_grade=3")
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise SpecError(f"{text!r}: cannot read the value {value!r}") from None


def _show(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in changes.items())
