"""Small helpers shared by the exporters and the dataset reader.

Paths returned by exporters are POSIX paths relative to the dataset root; the layout of
the base (PNG) format is fixed here so that other exporters (COCO) and the reader agree
with it without importing each other.
"""

from __future__ import annotations

import json
import re
from typing import Any

from synthmed.errors import SynthmedError

__all__ = ["SYNTHETIC_DESCRIPTION", "software_string", "check_name", "sample_index",
           "image_relpath", "mask_relpath", "instances_relpath", "dumps_json", "is_2d"]

#: Stated in every file format that has a place for free text (PNG tEXt, NIfTI descrip).
SYNTHETIC_DESCRIPTION = "SYNTHETIC IMAGE - not from a patient"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def software_string() -> str:
    """``"synthmed <version>"``, written into file headers."""
    from synthmed import __version__

    return f"synthmed {__version__}"


def check_name(kind: str, name: str) -> str:
    """Raise unless ``name`` (an image or mask name) is safe to use in a file name."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise SynthmedError(f"{kind} name {name!r} cannot be used in a file name; use letters, "
                            "digits, '_', '-' and '.' only (not starting with '.' or '-')")
    return name


def sample_index(sample_id: str) -> int:
    """The sample index encoded in a sample id (``"000042"`` -> 42)."""
    try:
        return int(sample_id)
    except (TypeError, ValueError):
        raise SynthmedError(f"sample id {sample_id!r} is not a zero-padded sample index "
                            "like '000042'") from None


def image_relpath(sample_id: str, name: str, first: bool) -> str:
    """``images/{id}.png`` for the first image, ``images/{id}_{name}.png`` for the others."""
    return f"images/{sample_id}.png" if first else f"images/{sample_id}_{name}.png"


def mask_relpath(sample_id: str, name: str) -> str:
    return f"masks/{sample_id}/{name}.png"


def instances_relpath(sample_id: str) -> str:
    return f"masks/{sample_id}/instances.png"


def dumps_json(obj: Any) -> str:
    """Deterministic, human-readable JSON (same object -> same bytes)."""
    return json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def is_2d(sample) -> bool:
    return len(sample.spatial_shape) == 2
