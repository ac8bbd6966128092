"""Lossless NumPy export: one ``npz/{id}.npz`` per sample (role ``npz``).

The file is :meth:`synthmed.sample.Sample.save_npz`: arrays ``image/<name>``,
``mask/<name>``, ``instances`` (if any) and ``metadata`` (the sample's JSON metadata as
UTF-8 bytes); read it with :meth:`Sample.load_npz`. Works for 2D and 3D samples and for
any units. numpy writes zip entries with a fixed date, so the bytes are deterministic.

Example
-------
>>> import numpy as np, tempfile
>>> from synthmed.sample import Sample, assert_samples_equal
>>> s = Sample(images={"ct": np.zeros((2, 3, 5), np.float32)}, spacing_mm=(2, 1, 1),
...            modality="CT", units={"ct": "HU"})
>>> root = tempfile.mkdtemp()
>>> export_npz(s, root, "000000")
{'npz': 'npz/000000.npz'}
>>> assert_samples_equal(s, Sample.load_npz(f"{root}/npz/000000.npz"))
"""

from __future__ import annotations

import os
from pathlib import Path

from synthmed._io import atomic_path
from synthmed.registry import register_exporter
from synthmed.sample import Sample

__all__ = ["export_npz"]


@register_exporter("npz")
def export_npz(sample: Sample, root: str | os.PathLike, sample_id: str) -> dict[str, str]:
    """Lossless ``.npz`` per sample (all images, masks, instances and metadata; 2D or 3D)."""
    rel = f"npz/{sample_id}.npz"
    with atomic_path(Path(root) / rel) as tmp:
        sample.save_npz(tmp)
    return {"npz": rel}
