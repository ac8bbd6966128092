import json

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthmed.errors import SpecError
from synthmed.spec import load_spec, parse_spec, resolve, spec_json_schema


def test_draws_respect_the_distributions(toy_spec_text):
    plan = resolve(parse_spec(toy_spec_text))
    rng = np.random.default_rng(0)
    draws = [plan.draw(rng) for _ in range(2000)]
    levels = np.array([d.level for d in draws])
    assert 0.2 <= levels.min() and levels.max() <= 0.8
    assert abs(levels.mean() - 0.5) < 0.02                      # uniform mean
    radii = {d.radius_px for d in draws}
    assert radii == {2, 3, 4, 5}                                # integer uniform, ends included
    assert abs(np.mean([d.shape == "disc" for d in draws]) - 0.7) < 0.04
    assert abs(np.mean([d.lesion for d in draws]) - 0.5) < 0.04


def test_normal_is_truncated_to_min_max():
    plan = resolve(parse_spec("preset: toy\nparams:\n  level: {normal: {mean: 0.5, std: 1, "
                              "min: 0.4, max: 0.6}}\n"))
    rng = np.random.default_rng(1)
    levels = np.array([plan.draw(rng).level for _ in range(500)])
    assert levels.min() == pytest.approx(0.4) and levels.max() == pytest.approx(0.6)


def test_same_rng_same_params(toy_spec_text):
    plan = resolve(parse_spec(toy_spec_text))
    a = plan.draw(np.random.default_rng(5))
    b = plan.draw(np.random.default_rng(5))
    assert a == b


def test_identity_ignores_count_but_not_seed(toy_spec_text):
    a = parse_spec(toy_spec_text)
    assert a.identity() == parse_spec(toy_spec_text.replace("count: 3", "count: 9")).identity()
    assert a.identity() != parse_spec(toy_spec_text.replace("seed: 1", "seed: 2")).identity()


@pytest.mark.parametrize("export, expected", [
    ("[npz, png, npz]", ["png", "npz"]),      # png first, duplicates dropped
    ("[nifti, dicom]", ["nifti", "dicom"]),   # volumes: a readable base format, no png
    ("[dicom]", ["png", "dicom"]),            # nothing synthmed reads back: png added
    ("[coco, npz]", ["png", "coco", "npz"]),  # COCO's images are the PNGs
])
def test_a_readable_base_format_is_always_exported(export, expected):
    assert parse_spec(f"preset: toy\nexport: {export}\n").export == expected


@pytest.mark.parametrize("preset, export, expected", [
    ("lung_ct", "[dicom]", ["dicom", "nifti"]),     # a volume preset's own base format
    ("brain_mri", "[]", ["nifti"]),
    ("chest_xray", "[]", ["png"]),
    ("lung_ct", "[coco]", ["png", "coco", "nifti"]),
])
def test_the_base_format_is_the_presets_own(preset, export, expected):
    assert parse_spec(f"preset: {preset}\nexport: {export}\n").export == expected


@pytest.mark.parametrize("text, expected", [
    ("preset: toy\ncount: 0\n", ["<spec>:2", "count", "greater than or equal to 1"]),
    ("preset: toy\ncuont: 3\n", ["<spec>:2", "cuont", "unknown field", "did you mean 'count'"]),
    ("count: 3\n", ["preset", "missing"]),
    ("preset: toy\nexport: [png, tiff]\n", ["<spec>:2", "unknown export format 'tiff'"]),
    ("preset: [toy\n", ["<spec>:2", "invalid YAML"]),
    ("- a\n- b\n", ["YAML mapping"]),
])
def test_spec_errors_name_line_and_field(text, expected):
    with pytest.raises(SpecError) as info:
        resolve(parse_spec(text))
    for part in expected:
        assert part in str(info.value)


@pytest.mark.parametrize("params, expected", [
    ("level: 1.5", ["<spec>:3", "params.level", "between 0 and 1"]),
    ("levle: 0.5", ["<spec>:3", "unknown parameter", "did you mean 'level'"]),
    ("level: {uniform: [0.5, 2]}", ["<spec>:3", "params.level", "2"]),
    ("level: {uniform: [0.9, 0.1]}", ["low <= high"]),
    ("radius_px: {uniform: [1.5, 3]}", ["integer"]),
    ("shape: {choice: {disc: 0.5, square: 0.2}}", ["sum to 1", "0.7"]),
    ("shape: {choice: [disc, hexagon]}", ["'hexagon' is not allowed", "disc, square"]),
    ("level: {bernoulli: 0.3}", ["yes/no"]),
    ("lesion: {bernoulli: 1.3}", ["probability between 0 and 1"]),
    ("level: {normal: {mean: 0.5}}", ["normal takes"]),
    ("level: {normal: {mean: 0.5, std: -1}}", ["std must be >= 0"]),
    ("level: {gauss: [0, 1]}", ["a distribution is one of"]),
])
def test_param_errors_name_line_and_allowed_values(params, expected):
    text = f"preset: toy\nparams:\n  {params}\n"
    with pytest.raises(SpecError) as info:
        resolve(parse_spec(text))
    for part in expected:
        assert part in str(info.value), str(info.value)


def test_multiline_yaml_line_numbers_point_at_the_bad_value():
    text = "preset: toy\nparams:\n  level:\n    uniform:\n      - 0.1\n      - 7\n"
    with pytest.raises(SpecError, match=r"<spec>:4: params.level"):
        resolve(parse_spec(text))


def test_image_size_top_level_sets_the_param():
    plan = resolve(parse_spec("preset: toy\nimage_size: [12, 20]\n"))
    assert plan.draw(np.random.default_rng(0)).image_size == (12, 20)
    with pytest.raises(SpecError, match="given twice"):
        resolve(parse_spec("preset: toy\nimage_size: [12, 20]\nparams: {image_size: [8, 8]}\n"))


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(SpecError, match="unknown preset 'chest_xrey'.*chest_xray"):
        resolve(parse_spec("preset: chest_xrey\n"))


def test_load_spec_file_errors(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="is not a file"):
        load_spec(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_100_000)
    with pytest.raises(SpecError, match="limit 1 MB"):
        load_spec(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError, match="UTF-8"):
        load_spec(binary)
    good = tmp_path / "good.yaml"
    good.write_text("preset: toy\nlevel: 3\n")
    with pytest.raises(SpecError, match=r"good.yaml:2: level"):
        load_spec(good)


def test_json_schema_lists_preset_params():
    schema = spec_json_schema("toy")
    params = schema["properties"]["params"]["properties"]
    assert set(params) == {"image_size", "level", "radius_px", "shape", "lesion"}
    assert params["level"]["anyOf"][0]["maximum"] == 1
    json.dumps(schema)  # serialisable


# ---- property-based: any document gives a valid spec or a SpecError, never another error
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["uniform", "normal", "choice", "bernoulli", "mean",
                                     "std", "min", "max", "disc", "x"]), inner, max_size=3)),
    max_leaves=8)
param_names = st.sampled_from(["level", "radius_px", "shape", "lesion", "image_size", "lvl"])
specs = st.fixed_dictionaries(
    {"preset": st.sampled_from(["toy", "chest_xray", "nope"])},
    optional={"count": values, "seed": values, "name": values, "image_size": values,
              "export": values, "params": st.dictionaries(param_names, values, max_size=4),
              "extra": values})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_random_specs_never_raise_anything_but_spec_error(doc):
    try:
        plan = resolve(parse_spec(yaml.safe_dump(doc)))
    except SpecError as exc:
        assert str(exc).strip()
        return
    plan.draw(np.random.default_rng(0))  # a resolved spec always draws valid params


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises_anything_but_spec_error(text):
    try:
        resolve(parse_spec(text))
    except SpecError:
        pass
