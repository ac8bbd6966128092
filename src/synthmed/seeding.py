"""Per-sample random streams.

Sample *i* of a dataset with seed *s* draws from
``numpy.random.SeedSequence(s, spawn_key=(i,))``, so it is the same whatever the worker
count, the order of work or a resume. Two independent child streams are taken from it:
one to draw the sample's parameters from the spec's distributions, one for the preset.

>>> a, _ = sample_streams(7, 3)
>>> b, _ = sample_streams(7, 3)
>>> int(a.integers(1 << 30)) == int(b.integers(1 << 30))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_streams"]


def sample_streams(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Return ``(params_rng, preset_rng)`` for sample ``index`` of a dataset seeded ``seed``."""
    params_ss, preset_ss = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    return np.random.default_rng(params_ss), np.random.default_rng(preset_ss)
