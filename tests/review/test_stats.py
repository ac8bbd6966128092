"""Reader-study statistics against published values."""

import numpy as np
import pytest

from synthmed.review.stats import (agreement_table, detection_scores, fleiss_kappa, grade_matrix,
                                   icc_2_1, mean_pairwise_weighted_kappa, proportion, roc_auc)


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


# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
                          [6, 2, 4, 7]])


def test_icc_2_1_matches_shrout_and_fleiss():
    # Table 4 of the paper: ICC(2,1) = .29 (from BMS 11.24, JMS 32.49, EMS 1.02)
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.29, abs=0.005)
    # absolute agreement: a constant offset between judges lowers it, consistency alone doesn't
    same = np.array([[0, 0], [1, 1], [3, 3]])
    assert icc_2_1(same) == 1.0 and icc_2_1(same + [0, 1]) < 1.0
    assert np.isnan(icc_2_1(np.ones((3, 2))))
    with pytest.raises(ValueError):
        icc_2_1(np.array([[1, 2]]))


def test_grade_matrix_keeps_items_every_reader_graded():
    grades = {1: {"a": 1, "b": 2, "c": 0}, 2: {"b": 3, "a": 0}, 3: {"a": 4, "b": 4, "d": 1}}
    assert grade_matrix(grades, [1, 2, 3]).tolist() == [[1, 0, 4], [2, 3, 4]]
    assert grade_matrix(grades, [1, 2, 3, 4]).shape == (0, 4)  # reader 4 graded nothing


def test_roc_auc_of_confidence_signed_calls_matches_a_hand_count():
    truth = ["synthetic", "synthetic", "synthetic", "real", "real"]
    calls = ["synthetic", "real", "synthetic", "synthetic", "real"]
    confidence = [5, 2, 1, 1, 4]
    # scores +5, -2, +1 for synthetic vs +1, -4 for real; over the 6 (synthetic, real) pairs
    # the synthetic one scores higher in 1 + 1 + 0 + 1 + 0.5 (tie at +1) + 1 = 4.5 -> 0.75
    assert roc_auc(truth, calls, confidence) == pytest.approx(4.5 / 6)
    assert np.isnan(roc_auc(["real", "real"], ["real", "synthetic"], [1, 2]))
