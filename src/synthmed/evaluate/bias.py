"""Metrics broken down by subgroup (age band, sex, view, scanner/site), with the spread.

A synthetic dataset can match the real one on average and still serve some groups badly
(e.g. realistic adult chests but poor paediatric ones). :func:`subgroups` turns per-image
attributes into group labels; :func:`by_subgroup` runs any two-set metric per group and
reports how far apart the groups are.

Example
-------
>>> subgroups({"age": [5, 30, 70, None], "sex": ["F", "M", "F", "M"]})
{'age': ['0-17', '18-39', '65+', None], 'sex': ['F', 'M', 'F', 'M']}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from synthmed.errors import SynthmedError

__all__ = ["AGE_BANDS", "DEFAULT_SPEC", "subgroups", "group_indices", "by_subgroup"]

AGE_BANDS = (0, 18, 40, 65)
"""Lower edges of the default age bands, years: 0-17, 18-39, 40-64, 65+."""

DEFAULT_SPEC: dict[str, Sequence[float] | None] = {
    "age": AGE_BANDS, "age_years": AGE_BANDS, "sex": None, "view": None, "site": None,
    "scanner": None, "manufacturer": None,
}
"""Attributes grouped by default: numeric band edges, or None for categorical as is."""


def _missing(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


def _band_labels(edges: Sequence[float]) -> list[str]:
    def fmt(x):
        return f"{x:g}"
    labels = [f"{fmt(lo)}-{fmt(hi - 1)}" if float(hi).is_integer() and float(lo).is_integer()
              else f"{fmt(lo)}-<{fmt(hi)}" for lo, hi in zip(edges[:-1], edges[1:])]
    return labels + [f"{fmt(edges[-1])}+"]


def _band(values: Sequence, edges: Sequence[float], name: str) -> list[str | None]:
    edges = [float(e) for e in edges]
    if any(b <= a for a, b in zip(edges[:-1], edges[1:])):
        raise SynthmedError(f"band edges for {name!r} must increase, got {edges}")
    labels, out = _band_labels(edges), []
    for v in values:
        if _missing(v):
            out.append(None)
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise SynthmedError(f"attribute {name!r} has non-numeric value {v!r}; give it "
                                "as categorical (spec value None)") from None
        i = int(np.searchsorted(edges, x, side="right")) - 1
        out.append(labels[i] if i >= 0 else None)  # below the first edge: no group
    return out


def subgroups(attributes: Mapping[str, Sequence],
              spec: Mapping[str, Sequence[float] | None] | None = None
              ) -> dict[str, list[str | None]]:
    """Group label of every image, for each attribute in ``spec``.

    Parameters
    ----------
    attributes : dict of str to list
        Per-image attribute values (an ImageSet's ``attributes``).
    spec : dict of str to (sequence of float or None), optional
        For each attribute to group: increasing lower band edges (e.g. ``(0, 18, 40, 65)``
        gives ``0-17``, ``18-39``, ``40-64``, ``65+``; a value below the first edge gets no
        group), or None for a categorical attribute whose values are the groups (as
        strings; a numeric 1.0 reads "1"). Default :data:`DEFAULT_SPEC`, restricted to the
        attributes present.

    Returns
    -------
    dict of str to list
        Attribute -> one group label (str) or None (missing value) per image.

    Examples
    --------
    >>> subgroups({"grade": [0, 1, 3]}, {"grade": [0, 2]})
    {'grade': ['0-1', '0-1', '2+']}
    """
    if spec is None:
        spec = {k: v for k, v in DEFAULT_SPEC.items() if k in attributes}
    out = {}
    for name, edges in spec.items():
        if name not in attributes:
            raise SynthmedError(f"no attribute {name!r}; the images have "
                                f"{sorted(attributes) or 'no attributes'}")
        values = list(attributes[name])
        if edges is None:
            out[name] = [None if _missing(v) else
                         (f"{v:g}" if isinstance(v, float) else str(v)) for v in values]
        else:
            out[name] = _band(values, edges, name)
    return out


def group_indices(labels: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Group label -> indices of its images (missing labels left out), in sorted order.

    >>> {k: v.tolist() for k, v in group_indices(["F", "M", None, "F"]).items()}
    {'F': [0, 3], 'M': [1]}
    """
    groups: dict[str, list[int]] = {}
    for i, g in enumerate(labels):
        if g is not None:
            groups.setdefault(g, []).append(i)
    return {g: np.asarray(groups[g]) for g in sorted(groups, key=_sort_key)}


def _sort_key(label: str):
    head = label.split("-")[0].rstrip("+")
    try:
        return (0, float(head), label)
    except ValueError:
        return (1, 0.0, label)


def _attributes_and_subset(data, name: str):
    """Attributes of ``data`` and a function taking indices to its subset."""
    if hasattr(data, "attributes") and hasattr(data, "subset"):
        return data.attributes, data.subset
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], Mapping):
        array, attrs = np.asarray(data[0]), data[1]
        return attrs, lambda idx: array[idx]
    raise SynthmedError(f"{name} must be an ImageSet or a (features, attributes) pair")


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"max_minus_min": None, "max_over_min": None}
    lo, hi = min(values), max(values)
    return {"max_minus_min": float(hi - lo),
            "max_over_min": float(hi / lo) if lo > 0 else None}


def by_subgroup(metric_fn: Callable[[Any, Any], float | Mapping[str, float]], real, synth,
                attribute: str, min_size: int = 5,
                spec: Mapping[str, Sequence[float] | None] | None = None) -> dict:
    """Run ``metric_fn(real_group, synth_group)`` for each subgroup of ``attribute``.

    Parameters
    ----------
    metric_fn : callable
        Takes the real and synthetic subsets of one group and returns a number, or a dict
        of numbers (e.g. precision and recall). Subsets have the type of the inputs.
    real, synth : ImageSet or (features, attributes) pair
        The two sets; ``features`` is an array whose first axis is the image.
    attribute : str
        Attribute to group by; it must exist in both sets.
    min_size : int
        Groups with fewer images than this in either set are skipped (too few for a
        meaningful number) and reported with their sizes.
    spec : dict, optional
        Banding as in :func:`subgroups`; by default :data:`DEFAULT_SPEC` for known
        attributes (age in bands), otherwise categorical.

    Returns
    -------
    dict
        ``attribute``; ``groups``: label -> ``{"value", "n_real", "n_synth"}``;
        ``skipped``: label -> ``{"n_real", "n_synth"}``; ``spread``: for a numeric metric
        ``{"max_minus_min", "max_over_min"}`` across computed groups (``max_over_min`` is
        None when the minimum is <= 0), for a dict metric the same per key.

    Examples
    --------
    >>> import numpy as np
    >>> real = (np.array([1.0, 2, 3, 4]), {"sex": ["F", "F", "M", "M"]})
    >>> synth = (np.array([1.0, 1, 5, 5]), {"sex": ["F", "F", "M", "M"]})
    >>> r = by_subgroup(lambda a, b: abs(a.mean() - b.mean()), real, synth, "sex", min_size=2)
    >>> {g: v["value"] for g, v in r["groups"].items()}, r["spread"]["max_minus_min"]
    ({'F': 0.5, 'M': 1.5}, 1.0)
    """
    real_attrs, real_subset = _attributes_and_subset(real, "real")
    synth_attrs, synth_subset = _attributes_and_subset(synth, "synth")
    for attrs, which in ((real_attrs, "real"), (synth_attrs, "synthetic")):
        if attribute not in attrs:
            raise SynthmedError(f"the {which} set has no attribute {attribute!r}; it has "
                                f"{sorted(attrs) or 'none'}")
    edges = (spec if spec is not None else DEFAULT_SPEC).get(attribute)
    one = {attribute: edges}
    real_groups = group_indices(subgroups(real_attrs, one)[attribute])
    synth_groups = group_indices(subgroups(synth_attrs, one)[attribute])
    groups, skipped = {}, {}
    for label in sorted(set(real_groups) | set(synth_groups), key=_sort_key):
        ri = real_groups.get(label, np.zeros(0, int))
        si = synth_groups.get(label, np.zeros(0, int))
        if len(ri) < min_size or len(si) < min_size:
            skipped[label] = {"n_real": len(ri), "n_synth": len(si)}
            continue
        value = metric_fn(real_subset(ri), synth_subset(si))
        value = ({k: float(v) for k, v in value.items()} if isinstance(value, Mapping)
                 else float(value))
        groups[label] = {"value": value, "n_real": len(ri), "n_synth": len(si)}
    values = [g["value"] for g in groups.values()]
    if values and isinstance(values[0], dict):
        spread = {k: _spread([v[k] for v in values]) for k in values[0]}
    else:
        spread = _spread(values)
    return {"attribute": attribute, "groups": groups, "skipped": skipped, "spread": spread}
