"""Subgroup breakdowns on hand-made attributes."""

import numpy as np
import pytest

from synthmed.errors import SynthmedError
from synthmed.evaluate.bias import by_subgroup, group_indices, subgroups
from synthmed.evaluate.data import ImageSet

ATTRS = {"age": [3, 17, 18, 39, 40, 64, 65, 90, None, 17.5],
         "sex": ["F", "M", "F", "M", "F", "M", "F", "", "F", "M"],
         "grade": [0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 2.0, 3.0, 4.0]}


def test_age_bands_and_categories():
    g = subgroups(ATTRS)
    assert g["age"] == ["0-17", "0-17", "18-39", "18-39", "40-64", "40-64", "65+", "65+",
                        None, "0-17"]
    assert g["sex"] == ["F", "M", "F", "M", "F", "M", "F", None, "F", "M"]
    assert "grade" not in g                                     # not in the default spec
    assert subgroups(ATTRS, {"grade": None})["grade"][:3] == ["0", "1", "2"]
    assert subgroups(ATTRS, {"grade": [1, 3]})["grade"] == [None, "1-2", "1-2", "3+", "3+",
                                                           None, "1-2", "1-2", "3+", "3+"]
    assert subgroups({"age": [10.5, 70]}, {"age": [0, 12.5, 60]})["age"] == ["0-<12.5", "60+"]


def test_group_indices_order():
    idx = group_indices(subgroups(ATTRS)["age"])
    assert list(idx) == ["0-17", "18-39", "40-64", "65+"]
    assert idx["0-17"].tolist() == [0, 1, 9]


def test_bad_specs_say_what_to_do():
    with pytest.raises(SynthmedError, match="no attribute 'site'"):
        subgroups(ATTRS, {"site": None})
    with pytest.raises(SynthmedError, match="non-numeric"):
        subgroups(ATTRS, {"sex": [0, 1]})


def _image_set(means, attrs):
    images = np.stack([np.full((4, 4), m, np.float32) for m in means])
    return ImageSet(images, [str(i) for i in range(len(means))], attrs)


def test_by_subgroup_values_spread_and_skipped():
    sex_r = ["F"] * 6 + ["M"] * 6 + ["X"] * 2
    sex_s = ["F"] * 5 + ["M"] * 7 + ["X"] * 9
    real = _image_set([0.2] * 6 + [0.6] * 6 + [0.9] * 2, {"sex": sex_r})
    synth = _image_set([0.3] * 5 + [0.4] * 7 + [0.9] * 9, {"sex": sex_s})

    def mean_gap(r, s):
        assert isinstance(r, ImageSet)
        return abs(float(r.images.mean() - s.images.mean()))

    out = by_subgroup(mean_gap, real, synth, "sex", min_size=5)
    assert out["attribute"] == "sex"
    assert out["groups"]["F"]["value"] == pytest.approx(0.1)
    assert out["groups"]["M"]["value"] == pytest.approx(0.2)
    assert (out["groups"]["F"]["n_real"], out["groups"]["F"]["n_synth"]) == (6, 5)
    assert out["skipped"] == {"X": {"n_real": 2, "n_synth": 9}}
    assert out["spread"]["max_minus_min"] == pytest.approx(0.1)
    assert out["spread"]["max_over_min"] == pytest.approx(2.0)


def test_by_subgroup_on_features_with_dict_metric_and_age_bands():
    ages = [10, 20, 30, 50, 70, 80] * 3
    feats = np.arange(18, dtype=float)[:, None]
    out = by_subgroup(lambda r, s: {"n": len(r), "mean": float(s.mean())},
                      (feats, {"age": ages}), (feats, {"age": ages}), "age", min_size=4)
    assert list(out["groups"]) == ["18-39", "65+"]
    assert out["skipped"] == {"0-17": {"n_real": 3, "n_synth": 3},
                              "40-64": {"n_real": 3, "n_synth": 3}}
    expected_mean = np.mean([4, 5, 10, 11, 16, 17])
    assert out["groups"]["65+"]["value"] == {"n": 6.0, "mean": pytest.approx(expected_mean)}
    assert out["spread"]["n"]["max_minus_min"] == 0.0


def test_by_subgroup_missing_attribute():
    s = _image_set([0.5] * 3, {"sex": ["F"] * 3})
    with pytest.raises(SynthmedError, match="synthetic set has no attribute 'age'"):
        by_subgroup(lambda r, x: 0.0, _image_set([0.5] * 3, {"age": [1, 2, 3]}), s, "age")
