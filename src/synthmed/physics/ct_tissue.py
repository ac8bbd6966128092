"""CT numbers (HU, non-contrast, 120 kVp) of tissues by name, for phantoms made of labels.

Brain values are the usual ranges of non-contrast head CT (e.g. Brant & Helms,
*Fundamentals of Diagnostic Radiology*, 4th ed., 2012, ch. 2; Osborn, *Osborn's Brain*,
2nd ed., 2017): CSF 0–15, white matter 20–30, grey matter 35–45 (grey–white difference
~10 HU), flowing blood 40–45, fat −100, skin/muscle 40–50, cortical bone of the skull
tables 1000–2000 and diploë 300–700. Vasogenic oedema is 5–10 HU below white matter,
necrosis near fluid, acute infarcts lose 2–10 HU against normal parenchyma (loss of
grey–white differentiation; we take the chronic-subacute value ~18 HU), MS plaques are
iso- to slightly hypodense; non-enhanced tumour rim ~35 HU (cellular tumour).

>>> from synthmed.physics.ct_tissue import hu_map
>>> import numpy as np
>>> hu_map(np.array([[0, 1]], np.uint8), ["background", "csf"]).tolist()
[[-1000.0, 8.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TISSUE_HU", "hu_map"]

TISSUE_HU: dict[str, float] = {
    "background": -1000.0,       # air
    "scalp": 45.0,
    "fat": -100.0,
    "skull": 1500.0,             # cortical tables
    "diploe": 500.0,
    "csf": 8.0,
    "ventricles": 8.0,
    "grey_matter": 39.0,
    "white_matter": 28.0,
    "deep_grey": 38.0,
    "cerebellum": 37.0,
    "brainstem": 31.0,
    "vessels": 45.0,             # blood in sinuses and arteries
    "necrosis": 14.0,
    "oedema": 20.0,
    "enhancing_tumour": 35.0,    # before contrast
    "ms_lesion": 24.0,
    "infarct": 18.0,
}


def hu_map(tissue: np.ndarray, names: Sequence[str], *,
           hu: dict[str, float] | None = None) -> np.ndarray:
    """CT numbers (HU, float32) of a tissue map whose id ``k`` is ``names[k]``.

    ``hu`` overrides entries of :data:`TISSUE_HU`; a name in neither raises ``KeyError``.
    """
    table = {**TISSUE_HU, **(hu or {})}
    missing = [n for n in names if n not in table]
    if missing:
        raise KeyError(f"no CT number for tissue(s) {missing}; pass them in hu=")
    return np.array([table[n] for n in names], np.float32)[tissue]
