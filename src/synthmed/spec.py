"""Dataset specs: what to generate, read from YAML and checked against the preset.

A spec names a preset and gives each of its parameters either a fixed value or a
distribution to draw from per sample:

.. code-block:: yaml

    name: chest-xray-demo
    preset: chest_xray
    count: 24
    seed: 0
    image_size: [512, 512]            # rows, cols
    params:
      age_years: {uniform: [1, 90]}   # continuous, both ends included
      sex: {choice: {F: 0.5, M: 0.5}} # categorical with probabilities
      view: {choice: [PA, AP]}        # equal probabilities
      kvp: {normal: {mean: 110, std: 8, min: 90, max: 125}}
      pneumonia: {bernoulli: 0.3}     # a finding's prevalence
      mas: 2.5                        # a fixed value
    export: [png, coco, nifti]

Every mistake is reported as a :class:`~synthmed.errors.SpecError` naming the file, the
line, the field and what is allowed.

>>> spec = parse_spec("preset: chest_xray\\ncount: 2\\nparams: {kvp: {uniform: [90, 120]}}")
>>> plan = resolve(spec)
>>> import numpy as np
>>> 90 <= plan.draw(np.random.default_rng(0)).kvp <= 120
True
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
import numpy as np
import yaml
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)

from synthmed.errors import SpecError, SynthmedError
from synthmed.registry import EXPORTERS, PRESETS

__all__ = ["DatasetSpec", "Plan", "load_spec", "parse_spec", "resolve", "spec_json_schema",
           "MAX_COUNT"]

MAX_COUNT = 10_000_000
DISTRIBUTIONS = ("uniform", "normal", "choice", "bernoulli")


class DatasetSpec(BaseModel):
    """A dataset to generate: a preset, how many samples, and how to vary them."""

    model_config = ConfigDict(extra="forbid")
    _source: str = PrivateAttr("<spec>")  # file the spec came from, for error messages
    _lines: dict = PrivateAttr(default_factory=dict)  # key path -> YAML line

    name: str = Field("synthmed-dataset", description="Dataset name, used in the card.",
                      min_length=1, max_length=200)
    description: str = Field("", description="Free text for the dataset card.")
    preset: str = Field(description="Preset name; see `synthmed presets`.")
    count: int = Field(24, ge=1, le=MAX_COUNT, description="Number of samples.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Dataset seed; sample i is "
                      "reproducible from (seed, i) alone.")
    image_size: tuple[int, ...] | None = Field(
        None, description="Image size in pixels, array order (rows, cols); sets the "
        "preset's `image_size` parameter.")
    params: dict[str, Any] = Field(default_factory=dict, description=(
        "Preset parameters: a fixed value, or one of {uniform: [lo, hi]}, "
        "{normal: {mean, std, min, max}}, {choice: [a, b] or {a: p, b: q}}, {bernoulli: p}."))
    watermark: bool = Field(True, description=(
        "Hide the dataset id in every exported image as an invisible watermark "
        "(`synthmed verify` finds it); false leaves the pixels unmarked."))
    export: list[str] = Field(default_factory=list, description=(
        "Export formats. One that synthmed reads back (`png`, `npz` or `nifti`) is always "
        "written: when none is given, the preset's own (`png` for images, `nifti` for "
        "volumes) is added; `coco` adds `png` (its images are the PNGs). Volumes need "
        "`nifti` or `npz`."))

    @field_validator("export")
    @classmethod
    def _known_formats(cls, v: list[str]) -> list[str]:
        known = EXPORTERS.names()
        for fmt in v:
            if fmt not in known:
                raise ValueError(f"unknown export format {fmt!r}; available: {', '.join(known)}")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _readable_format(self) -> DatasetSpec:
        formats = list(self.export)
        if not {"png", "npz", "nifti"} & set(formats):
            base = PRESETS.get(self.preset).base_format \
                if self.preset in PRESETS.names() else "png"
            formats.append(base)
        if "coco" in formats:
            formats.append("png")
        self.export = sorted(dict.fromkeys(formats), key=lambda f: f != "png")  # png first
        return self

    def identity(self) -> str:
        """Hash of everything that determines sample *i* (all fields but name, count
        and description): two specs with the same identity make the same samples."""
        d = self.model_dump(mode="json", exclude={"count", "name", "description"})
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


# ----------------------------------------------------------------------------- loading

def load_spec(path: str | Path) -> DatasetSpec:
    """Read and validate a YAML spec file (the preset's parameters are checked by :func:`resolve`).

    Raises :class:`SpecError` for a missing, unreadable, oversized or invalid file.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found" if not path.exists()
                        else f"{path}: is not a file")
    if path.stat().st_size > 1_000_000:
        raise SpecError(f"{path}: a spec is a short YAML file; this one is "
                        f"{path.stat().st_size} bytes (limit 1 MB)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the spec as UTF-8 text ({exc})") from None
    return parse_spec(text, source=str(path))


def parse_spec(text: str, source: str = "<spec>") -> DatasetSpec:
    """Validate spec YAML text; errors name ``source``, the line and the field."""
    try:
        data = yaml.safe_load(text)
        lines = _line_numbers(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a spec is a YAML mapping with at least `preset:`; got "
                        f"{type(data).__name__}")
    try:
        spec = DatasetSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_explain(exc, source, lines, known=DatasetSpec.model_fields)) from None
    spec._source, spec._lines = source, lines
    return spec


def _line_numbers(text: str) -> dict[tuple, int]:
    """Map each key path in the YAML document to its 1-based line number."""
    lines: dict[tuple, int] = {}

    def walk(node, path):
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = path + (str(key.value),)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                walk(value, path + (i,))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines


def _where(source: str, lines: dict[tuple, int], path: tuple) -> str:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return f"{source}:{lines[path[:n]]}"
    return source


def _explain(exc: ValidationError, source: str, lines: dict, known=(), prefix: tuple = ()) -> str:
    msgs = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        field = ".".join(str(p) for p in loc)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            msg = f"unknown field{hint} (allowed: {', '.join(known)})"
        elif err["type"] == "missing":
            msg = "required field is missing"
        msgs.append(f"{_where(source, lines, loc)}: {field}: {msg}")
    return "\n".join(msgs)


# ----------------------------------------------------------------------------- resolving

@dataclass(frozen=True)
class _Draw:
    """How one parameter gets its value for each sample."""

    name: str
    kind: str  # "fixed" or a member of DISTRIBUTIONS
    args: Any
    integer: bool
    bounds: tuple[float, float]

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "fixed":
            return self.args
        if self.kind == "uniform":
            lo, hi = self.args
            return int(rng.integers(lo, hi + 1)) if self.integer else float(rng.uniform(lo, hi))
        if self.kind == "normal":
            lo, hi = max(self.args["min"], self.bounds[0]), min(self.args["max"], self.bounds[1])
            v = float(np.clip(rng.normal(self.args["mean"], self.args["std"]), lo, hi))
            return int(round(v)) if self.integer else v
        if self.kind == "bernoulli":
            return bool(rng.random() < self.args)
        options, probs = self.args
        return options[int(rng.choice(len(options), p=probs))]


@dataclass(frozen=True)
class Plan:
    """A spec resolved against its preset: draws a validated ``Params`` per sample."""

    spec: DatasetSpec
    params_model: type[BaseModel]
    draws: tuple[_Draw, ...]

    def draw(self, rng: np.random.Generator) -> BaseModel:
        """Draw one sample's parameters (in the preset's field order, so reproducibly)."""
        values = {d.name: d.sample(rng) for d in self.draws}
        try:
            return self.params_model.model_validate(values)
        except ValidationError as exc:  # e.g. a combination a model validator rejects
            raise SpecError(f"{self.spec.preset}: drawn parameters {values} are invalid:\n"
                            + _explain(exc, "params", {})) from None


def resolve(spec: DatasetSpec) -> Plan:
    """Check ``spec.params`` against the preset's ``Params`` model and build a :class:`Plan`.

    Each distribution's whole support is checked (both ends of a range, every choice),
    so a spec that resolves never draws an invalid value.
    """
    source, lines = spec._source, spec._lines
    try:
        preset = PRESETS.get(spec.preset)
    except SynthmedError as exc:
        raise SpecError(f"{_where(source, lines, ('preset',))}: preset: {exc}") from None
    model = preset.params
    params = dict(spec.params)
    if spec.image_size is not None:
        if "image_size" not in model.model_fields:
            raise SpecError(f"{_where(source, lines, ('image_size',))}: image_size: preset "
                            f"{spec.preset!r} has no image size parameter")
        if "image_size" in params:
            raise SpecError(f"{_where(source, lines, ('params', 'image_size'))}: image_size "
                            "is given twice (top level and params); keep one")
        params["image_size"] = list(spec.image_size)

    errors, draws = [], []
    for name in params:
        if name not in model.model_fields:
            close = difflib.get_close_matches(name, list(model.model_fields), n=1)
            hint = f" did you mean {close[0]!r}?" if close else ""
            errors.append(f"{_where(source, lines, ('params', name))}: params.{name}: unknown "
                          f"parameter for preset {spec.preset!r};{hint} Allowed: "
                          f"{', '.join(model.model_fields)}")
    for name, info in model.model_fields.items():
        if name not in params:
            continue
        try:
            draws.append(_parse_draw(name, params[name], info, model))
        except SpecError as exc:
            path = ("params", name) + tuple(getattr(exc, "subpath", ()))
            errors.append(f"{_where(source, lines, path)}: params.{name}: {exc}")
    if errors:
        raise SpecError("\n".join(errors))
    return Plan(spec=spec, params_model=model, draws=tuple(draws))


def _parse_draw(name: str, value: Any, info, model: type[BaseModel]) -> _Draw:
    integer = _base_type(info.annotation) is int
    bounds = _bounds(info)

    def check(v, *subpath):
        # the value on its own; rules that tie fields together (model validators, whose
        # errors have no field location) are checked on each drawn combination instead
        try:
            model.model_validate({name: v})
        except ValidationError as exc:
            own = [e for e in exc.errors() if tuple(e["loc"][:1]) == (name,)]
            if own:
                err = SpecError(f"{v!r} is not allowed: {own[0]['msg']}{_allowed(info)}")
                err.subpath = subpath
                raise err from None
        return v

    dist = _distribution_of(value)
    if dist is None:
        return _Draw(name, "fixed", check(value), integer, bounds)
    args = value[dist]
    if dist == "uniform":
        if not (isinstance(args, list) and len(args) == 2
                and all(_is_number(a) for a in args) and args[0] <= args[1]):
            raise _sub(SpecError("uniform takes [low, high] with low <= high"), dist)
        if integer and not all(float(a).is_integer() for a in args):
            raise _sub(SpecError("this parameter is an integer; give integer bounds"), dist)
        lo, hi = (int(a) for a in args) if integer else (float(a) for a in args)
        check(lo, dist), check(hi, dist)
        return _Draw(name, dist, (lo, hi), integer, bounds)
    if dist == "normal":
        if not isinstance(args, dict) or set(args) - {"mean", "std", "min", "max"} \
                or not {"mean", "std"} <= set(args) or not all(map(_is_number, args.values())):
            raise _sub(SpecError("normal takes {mean: m, std: s, min: a, max: b} "
                                 "(min and max optional)"), dist)
        if args["std"] < 0:
            raise _sub(SpecError("normal std must be >= 0"), dist, "std")
        full = {"min": -math.inf, "max": math.inf, **{k: float(v) for k, v in args.items()}}
        if full["min"] > full["max"]:
            raise _sub(SpecError("normal min must be <= max"), dist)
        check(int(round(full["mean"])) if integer else full["mean"], dist, "mean")
        for k in ("min", "max"):
            if k in args:
                check(int(round(full[k])) if integer else full[k], dist, k)
        return _Draw(name, dist, full, integer, bounds)
    if dist == "bernoulli":
        if not _is_number(args) or not 0 <= args <= 1:
            raise _sub(SpecError("bernoulli takes a probability between 0 and 1"), dist)
        if _base_type(info.annotation) is not bool:
            raise _sub(SpecError("bernoulli is for yes/no parameters (findings)"), dist)
        return _Draw(name, dist, float(args), integer, bounds)
    # choice
    if isinstance(args, dict) and args:
        options, probs = list(args), list(args.values())
        if not all(_is_number(p) and p >= 0 for p in probs) or abs(sum(probs) - 1) > 1e-6:
            raise _sub(SpecError(f"choice probabilities must be >= 0 and sum to 1; they sum "
                                 f"to {sum(p for p in probs if _is_number(p)):g}"), dist)
    elif isinstance(args, list) and args:
        options, probs = list(args), [1 / len(args)] * len(args)
    else:
        raise _sub(SpecError("choice takes a non-empty list [a, b] or a mapping "
                             "{a: probability, b: probability}"), dist)
    for i, opt in enumerate(options):
        check(opt, dist, *((opt,) if isinstance(args, dict) else (i,)))
    return _Draw(name, dist, (options, np.asarray(probs, float) / sum(probs)), integer, bounds)


def _sub(err: SpecError, *subpath) -> SpecError:
    err.subpath = subpath
    return err


def _distribution_of(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS:
        return next(iter(value))
    if isinstance(value, dict):
        raise SpecError(f"a distribution is one of {', '.join(DISTRIBUTIONS)} "
                        f"(e.g. {{uniform: [1, 2]}}); got keys {list(value)}")
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _base_type(annotation):
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _bounds(info) -> tuple[float, float]:
    lo, hi = -math.inf, math.inf
    for m in info.metadata:
        if isinstance(m, (annotated_types.Ge, annotated_types.Gt)):
            lo = float(getattr(m, "ge", getattr(m, "gt", lo)))
        if isinstance(m, (annotated_types.Le, annotated_types.Lt)):
            hi = float(getattr(m, "le", getattr(m, "lt", hi)))
    return lo, hi


def allowed_values(info) -> str:
    """What a parameter accepts, in words: its bounds or its choices ('' if anything)."""
    parts = []
    lo, hi = _bounds(info)
    if math.isfinite(lo) or math.isfinite(hi):
        parts.append(f"between {lo:g} and {hi:g}")
    if typing.get_origin(info.annotation) is Literal:
        parts.append("one of " + ", ".join(map(str, typing.get_args(info.annotation))))
    return "; ".join(parts)


def _allowed(info) -> str:
    parts = [p for p in (allowed_values(info), info.description) if p]
    return f" (allowed: {'; '.join(parts)})" if parts else ""


# ----------------------------------------------------------------------------- schema

def spec_json_schema(preset: str | None = None) -> dict[str, Any]:
    """JSON Schema of a spec; with ``preset``, ``params`` lists that preset's parameters,
    each as a fixed value or a distribution."""
    schema = DatasetSpec.model_json_schema()
    if preset is None:
        return schema
    model = PRESETS.get(preset).params
    dist = {"oneOf": [
        {"type": "object", "required": ["uniform"], "additionalProperties": False,
         "properties": {"uniform": {"type": "array", "items": {"type": "number"},
                                    "minItems": 2, "maxItems": 2}}},
        {"type": "object", "required": ["normal"], "additionalProperties": False,
         "properties": {"normal": {"type": "object", "required": ["mean", "std"],
                                   "properties": {k: {"type": "number"} for k in
                                                  ("mean", "std", "min", "max")}}}},
        {"type": "object", "required": ["choice"], "additionalProperties": False,
         "properties": {"choice": {"type": ["array", "object"]}}},
        {"type": "object", "required": ["bernoulli"], "additionalProperties": False,
         "properties": {"bernoulli": {"type": "number", "minimum": 0, "maximum": 1}}},
    ]}
    params_schema = model.model_json_schema()
    props = {name: {"anyOf": [p, dist], "description": p.get("description", "")}
             for name, p in params_schema.get("properties", {}).items()}
    schema["properties"]["params"] = {"type": "object", "additionalProperties": False,
                                      "properties": props}
    schema["properties"]["preset"]["const"] = preset
    if "$defs" in params_schema:
        schema.setdefault("$defs", {}).update(params_schema["$defs"])
    return schema
