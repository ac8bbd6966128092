"""The dataset card: what a dataset is, how it was made, what is in it, what not to use it for.

``write_dataset_card(root, spec, records)`` writes ``dataset_card.md`` for people and
``dataset.json`` (the same counts, machine-readable) from the per-sample label records.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from synthmed import __version__
from synthmed._io import atomic_write_text
from synthmed.provenance.watermark import SCHEME as WATERMARK
from synthmed.provenance.watermark import dataset_id
from synthmed.registry import PRESETS
from synthmed.spec import DatasetSpec

__all__ = ["summarise", "write_dataset_card"]


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per class, per categorical attribute, and ranges of numeric attributes."""
    classes: Counter = Counter()
    class_names: set[str] = set()
    categorical: dict[str, Counter] = {}
    numeric: dict[str, list[float]] = {}
    label_counts: Counter = Counter()
    for rec in records:
        labels = rec.get("labels", {})
        for name, present in labels.get("classes", {}).items():
            class_names.add(name)
            classes[name] += bool(present)
        if not any(labels.get("classes", {}).values()):
            classes["no_finding"] += 1
        for name, value in labels.get("attributes", {}).items():
            if isinstance(value, (bool, str)):
                categorical.setdefault(name, Counter())[str(value)] += 1
            else:
                numeric.setdefault(name, []).append(float(value))
        label_counts.update(k[5:] for k in rec.get("files", {}) if k.startswith("mask/"))
    return {
        "count": len(records),
        "classes": {k: classes[k] for k in sorted(class_names | {"no_finding"})},
        "categorical_attributes": {k: dict(sorted(v.items())) for k, v in sorted(categorical.items())},
        "numeric_attributes": {k: {"min": float(np.min(v)), "mean": float(np.mean(v)),
                                   "max": float(np.max(v))} for k, v in sorted(numeric.items())},
        "samples_with_mask": dict(sorted(label_counts.items())),
    }


def _evaluation(root: Path) -> dict[str, Any] | None:
    """The summary of a ``synthmed evaluate`` report saved in the dataset (``report/``)."""
    path = root / "report" / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {"path": "report/metrics.json",
            "sections": sorted(k for k, v in metrics.items() if isinstance(v, dict))}


def _evaluation_text(evaluation: dict[str, Any] | None) -> str:
    if evaluation is None:
        return ("Not evaluated when this card was written. Run `synthmed evaluate "
                "--synthetic . --real REAL_IMAGES -o report/` and generate again (it resumes "
                "and rewrites this card) to list the results here.")
    return (f"`{evaluation['path']}` (with `report/report.html`) holds the measured "
            f"{', '.join(evaluation['sections']) or 'metrics'}.")


def _mark_text(mark: str | None) -> str:
    if mark is None:
        return ("The spec turned the invisible watermark off (`watermark: false`): the "
                "pixels are unmarked; only file metadata and this card say the images are "
                "synthetic.")
    return (f"Every image carries an invisible watermark with dataset id `{mark}` "
            f"({WATERMARK}); PNG text chunks, the NIfTI header and DICOM ImageComments "
            "name it too. `synthmed verify FILE_OR_DIR` finds it, also in JPEG, resized, "
            "cropped or slightly rotated copies, and says whether a file still matches "
            "`manifest.jsonl`.")


def _sources(sources: str) -> str:
    return f"### Sources and licences\n{sources.strip()}\n\n" if sources else ""


def write_dataset_card(root: Path, spec: DatasetSpec, records: list[dict[str, Any]]) -> list[str]:
    """Write ``dataset_card.md`` and ``dataset.json``; return their relative paths."""
    summary = summarise(records)
    versions = records[0]["provenance"]["versions"] if records else {"synthmed": __version__}
    preset = PRESETS.get(spec.preset)
    mark = dataset_id(spec) if spec.watermark else None
    evaluation = _evaluation(root)
    info = {"name": spec.name, "synthetic": True, "preset": spec.preset,
            "seed": spec.seed, "spec_identity": spec.identity(), "versions": versions,
            "formats": spec.export, "watermark": {"dataset_id": mark, "scheme": WATERMARK}
            if mark else None, "evaluation": evaluation, **summary}
    atomic_write_text(root / "dataset.json", json.dumps(info, indent=1) + "\n")

    n = max(summary["count"], 1)
    rows = "\n".join(f"| {k} | {v} | {100 * v / n:.1f} % |" for k, v in summary["classes"].items())
    cats = "\n".join(f"- **{k}**: " + ", ".join(f"{c} {m}" for c, m in v.items())
                     for k, v in summary["categorical_attributes"].items())
    nums = "\n".join(f"| {k} | {v['min']:.3g} | {v['mean']:.3g} | {v['max']:.3g} |"
                     for k, v in summary["numeric_attributes"].items())
    masks = ", ".join(f"{k} ({v})" for k, v in summary["samples_with_mask"].items())
    card = f"""# {spec.name} — dataset card

**Every image in this dataset is SYNTHETIC.** No image comes from a patient; no real
patient data was used to make them. Do not present them as real clinical images.

{spec.description}

## How it was made
- Generator: synthmed {versions.get('synthmed', __version__)}, preset `{spec.preset}`:
  {preset.description}
- Seed: {spec.seed}; sample *i* is reproducible alone from (seed, i) with the spec below.
- Samples: {summary['count']}; formats: {', '.join(spec.export)}.
- Versions: {', '.join(f'{k} {v}' for k, v in versions.items())}.

### Spec
```yaml
{spec.to_yaml().rstrip()}
```

{_sources(preset.sources)}## Contents
| class | samples | share |
|---|---|---|
{rows}

{cats}

| attribute | min | mean | max |
|---|---|---|---|
{nums}

Masks (samples that have each): {masks or 'none'}.

## Intended uses
Developing and testing image analysis pipelines, pre-training and augmenting models,
teaching, and benchmarking where exact labels matter.

## Out of scope
Clinical decision making; any claim about real patient populations; evaluating a model's
clinical performance (test on real data for that); presenting images as real.

## Known limitations
Anatomy is procedural and images are simulated with simplified physics: textures,
noise and anatomical variation are narrower than in real populations, and the prevalences
and demographics above are set by the spec, not drawn from a real population. Measure the
realism and utility of this dataset on your real data before relying on it.

## Evaluation
{_evaluation_text(evaluation)}

## Marking and verification
{_mark_text(mark)}

## Files
`labels/{{id}}.json` holds each sample's labels, report and provenance and lists its
files; `manifest.jsonl` gives the sha256 of every file.
"""
    atomic_write_text(root / "dataset_card.md", card)
    return ["dataset_card.md", "dataset.json"]
