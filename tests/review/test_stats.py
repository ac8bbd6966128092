"""Reader-study statistics against published values."""

import numpy as np
import pytest

from synthmed.review.stats import (agreement_table, detection_scores, fleiss_kappa,
                                   mean_pairwise_weighted_kappa, proportion)


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as tabulated on Wikipedia "Fleiss' kappa": 10 subjects, 14 raters,
    # 5 categories; P-bar = 0.378, P-e = 0.213, kappa = 0.210.
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
                      [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
                      [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    assert fleiss_kappa(table) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_at_chance_and_unequal_raters():
    # two raters who always disagree on two balanced categories: P-bar 0, P-e 0.5 -> -1
    assert fleiss_kappa(np.array([[1, 1]] * 4)) == pytest.approx(-1)
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[2, 0], [1, 0]]))


def test_exact_interval_and_binomial_test_match_r():
    # R: binom.test(60, 100) -> p-value = 0.05689, 95 % CI 0.4972092 0.6967052
    p = proportion(60, 100)
    assert (p["ci_low"], p["ci_high"]) == pytest.approx((0.4972092, 0.6967052), abs=1e-6)
    s = detection_scores(["synthetic"] * 100, ["synthetic"] * 60 + ["real"] * 40)
    assert s["p_value"] == pytest.approx(0.05689, abs=1e-5)
    assert s["sensitivity"]["value"] == 0.6 and np.isnan(s["specificity"]["value"])


def test_sensitivity_and_specificity_for_synthetic():
    truth = ["real"] * 4 + ["synthetic"] * 6
    calls = ["real", "real", "real", "synthetic"] + ["synthetic"] * 3 + ["real"] * 3
    s = detection_scores(truth, calls)
    assert s["accuracy"]["k"] == 6 and s["n"] == 10
    assert s["sensitivity"]["value"] == 0.5 and s["specificity"]["value"] == 0.75


def test_weighted_kappa_penalises_far_disagreement_more():
    near = mean_pairwise_weighted_kappa({1: {"a": 0, "b": 1, "c": 2, "d": 2},
                                         2: {"a": 0, "b": 1, "c": 2, "d": 1}})
    far = mean_pairwise_weighted_kappa({1: {"a": 0, "b": 1, "c": 2, "d": 2},
                                        2: {"a": 0, "b": 1, "c": 2, "d": 0}})
    assert near["pairs"] == far["pairs"] == 1
    # by hand: mean squared disagreement 1/4; expected sum_ij (i-j)^2 p_i q_j with
    # p = (1/4, 1/4, 1/2), q = (1/4, 1/2, 1/4) is 1.25, so kappa = 1 - 0.25 / 1.25
    assert near["kappa"] == pytest.approx(0.8)
    assert far["kappa"] < near["kappa"]


def test_agreement_table_uses_items_every_reader_called():
    calls = {1: {"a": "real", "b": "synthetic", "c": "real"},
             2: {"a": "real", "b": "real"}}
    assert agreement_table(calls).tolist() == [[2, 0], [1, 1]]
