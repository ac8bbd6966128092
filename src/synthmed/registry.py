"""Name -> component registries for presets and exporters.

Built-in components are registered *lazily* by module path, so ``import synthmed`` stays
fast and heavy optional dependencies are imported only when a component is used. Third
parties add components with the decorators, or through the ``synthmed.presets`` /
``synthmed.exporters`` entry-point groups.

Example
-------
>>> from synthmed.registry import PRESETS
>>> "chest_xray" in PRESETS.names()
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import numpy as np
from pydantic import BaseModel

from synthmed.errors import SynthmedError

__all__ = ["Preset", "Exporter", "PRESETS", "EXPORTERS", "register_preset", "register_exporter"]


@dataclass(frozen=True)
class Preset:
    """A use case: ``fn(params, rng) -> Sample`` with its pydantic ``Params`` model."""

    name: str
    fn: Callable[[BaseModel, np.random.Generator], Any]
    params: type[BaseModel]
    description: str
    sources: str = ""   # templates or data the preset builds on, with their licences
    base_format: str = "png"   # readable export format added when a spec names none


@dataclass(frozen=True)
class Exporter:
    """Writes files for one sample; optionally writes dataset-level files at the end.

    ``write_sample(sample, root, sample_id) -> dict[str, str]`` returns a map of *role*
    (``"image/xray"``, ``"mask/lung_left"``, ``"coco_part"``, ...) to the path it wrote,
    relative to ``root``. ``finalize(root, records) -> list[str]`` gets every sample's
    label record (``labels/{id}.json`` as a dict, in index order) and returns the
    dataset-level paths it wrote. Every write must be atomic (``synthmed._io``).
    """

    name: str
    write_sample: Callable[..., dict[str, str]]
    finalize: Callable[..., list[str]] | None
    description: str


class Registry:
    """A small name -> component store with lazy built-ins and clear errors."""

    def __init__(self, kind: str, group: str, builtins: dict[str, str]):
        self.kind, self.group = kind, group
        self._lazy = dict(builtins)  # name -> module path that registers it on import
        self._items: dict[str, Any] = {}
        self._plugins_loaded = False

    def add(self, name: str, item: Any) -> None:
        self._items[name] = item

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(set(self._lazy) | set(self._items))

    def get(self, name: str) -> Any:
        if name not in self._items:
            self._load_plugins()
            if name in self._lazy:
                try:
                    importlib.import_module(self._lazy[name])
                except ModuleNotFoundError as exc:
                    if (exc.name or "").startswith("synthmed"):
                        raise
                    raise SynthmedError(f"{self.kind} {name!r} needs the package "
                                        f"{exc.name!r}, which is not installed; install "
                                        "synthmed with the extra that provides it (see "
                                        "the README)") from None
        if name not in self._items:
            raise SynthmedError(f"unknown {self.kind} {name!r}; available: "
                                f"{', '.join(self.names())}")
        return self._items[name]

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            self._lazy.setdefault(ep.name, ep.value.split(":")[0])


PRESETS = Registry("preset", "synthmed.presets", {
    "brain_mri": "synthmed.presets.brain_mri",
    "chest_xray": "synthmed.presets.chest_xray",
    "fundus": "synthmed.presets.fundus",
    "histopathology": "synthmed.presets.histopathology",
    "knee_xray": "synthmed.presets.knee_xray",
    "lung_ct": "synthmed.presets.lung_ct",
    "ultrasound": "synthmed.presets.ultrasound",
})
EXPORTERS = Registry("export format", "synthmed.exporters", {
    "png": "synthmed.export.png",
    "nifti": "synthmed.export.nifti",
    "coco": "synthmed.export.coco",
    "npz": "synthmed.export.npz",
    "dicom": "synthmed.export.dicom",
})


def register_preset(name: str, params: type[BaseModel], sources: str = "",
                    base_format: str = "png"):
    """Decorator: register ``fn(params, rng) -> Sample`` as preset ``name``.

    The function's docstring's first paragraph becomes its description in
    ``synthmed presets``. ``sources`` names any template or data the preset is built on,
    with its licence; dataset cards quote it. ``base_format`` is the readable export format
    a spec gets when it names none (``"nifti"`` for volumes).
    """

    def deco(fn):
        doc = (fn.__doc__ or "").strip().split("\n\n")[0]
        PRESETS.add(name, Preset(name, fn, params, " ".join(doc.split()), sources,
                                   base_format))
        return fn

    return deco


def register_exporter(name: str, finalize: Callable[..., list[str]] | None = None):
    """Decorator: register ``write_sample(sample, root, sample_id)`` as export format ``name``."""

    def deco(fn):
        doc = (fn.__doc__ or "").strip().split("\n\n")[0]
        EXPORTERS.add(name, Exporter(name, fn, finalize, " ".join(doc.split())))
        return fn

    return deco
