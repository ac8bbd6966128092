"""Statistics of a reader study: accuracy against chance, agreement between readers.

"Positive" is *synthetic*: sensitivity is the share of synthetic images called synthetic,
specificity the share of real images called real. Readers who cannot tell the two apart
score near 0.5 accuracy.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
from scipy.stats import binomtest

__all__ = ["proportion", "detection_scores", "fleiss_kappa", "mean_pairwise_weighted_kappa",
           "agreement_table", "icc_2_1", "grade_matrix", "confidence_scores", "roc_auc"]


def proportion(k: int, n: int) -> dict:
    """``k`` of ``n`` with its exact (Clopper–Pearson) 95 % interval; NaN when ``n`` is 0.

    >>> p = proportion(60, 100)
    >>> round(p["value"], 2), round(p["ci_low"], 4), round(p["ci_high"], 4)
    (0.6, 0.4972, 0.6967)
    """
    if n == 0:
        return {"k": 0, "n": 0, "value": float("nan"), "ci_low": float("nan"),
                "ci_high": float("nan")}
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return {"k": k, "n": n, "value": k / n, "ci_low": float(ci.low), "ci_high": float(ci.high)}


def detection_scores(truth: list[str], calls: list[str]) -> dict:
    """Accuracy (with a two-sided exact binomial test against 0.5), sensitivity and
    specificity for "synthetic", each with a Clopper–Pearson 95 % interval.

    Parameters
    ----------
    truth, calls : list of {"real", "synthetic"}
        Each answered item's origin and the reader's call, in the same order.

    >>> s = detection_scores(["real", "synthetic"] * 2, ["real", "synthetic", "synthetic", "synthetic"])
    >>> s["accuracy"]["value"], s["sensitivity"]["value"], s["specificity"]["value"]
    (0.75, 1.0, 0.5)
    """
    truth, calls = np.asarray(truth, object), np.asarray(calls, object)
    correct = int(np.sum(truth == calls))
    synth, real = truth == "synthetic", truth == "real"
    n = len(truth)
    return {"n": n,
            "accuracy": proportion(correct, n),
            "p_value": float(binomtest(correct, n, 0.5).pvalue) if n else float("nan"),
            "sensitivity": proportion(int(np.sum(calls[synth] == "synthetic")), int(synth.sum())),
            "specificity": proportion(int(np.sum(calls[real] == "real")), int(real.sum()))}


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa (Fleiss 1971) of a table of rating counts.

    Parameters
    ----------
    counts : int ndarray, shape (items, categories)
        ``counts[i, j]``: how many raters put item ``i`` in category ``j``; every item must
        have the same number of raters (at least 2).

    Returns
    -------
    float
        1 for perfect agreement, 0 for agreement at chance level; NaN when chance agreement
        is 1 (every rating in one category).

    >>> round(fleiss_kappa(np.array([[2, 0], [0, 2], [2, 0]])), 3)
    1.0
    """
    counts = np.asarray(counts, float)
    raters = counts.sum(axis=1)
    if len(counts) == 0 or raters[0] < 2 or np.any(raters != raters[0]):
        raise ValueError("every item needs the same number (>= 2) of ratings")
    m = raters[0]
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = (np.sum(counts ** 2, axis=1) - m) / (m * (m - 1))
    p_bar, p_e = p_i.mean(), np.sum(p_j ** 2)
    return float("nan") if p_e == 1 else float((p_bar - p_e) / (1 - p_e))


def mean_pairwise_weighted_kappa(ratings: dict[int, dict[str, int]]) -> dict:
    """Quadratic-weighted Cohen's kappa of every pair of readers on the items both graded,
    averaged over pairs (pairs with fewer than 2 shared items, or no variation, are skipped).

    Parameters
    ----------
    ratings : dict of reader -> {item id: grade}

    >>> mean_pairwise_weighted_kappa({1: {"a": 0, "b": 2}, 2: {"a": 0, "b": 2}})
    {'kappa': 1.0, 'pairs': 1}
    """
    from sklearn.metrics import cohen_kappa_score

    kappas = []
    for a, b in itertools.combinations(sorted(ratings), 2):
        shared = sorted(set(ratings[a]) & set(ratings[b]))
        x, y = [ratings[a][i] for i in shared], [ratings[b][i] for i in shared]
        if len(shared) >= 2 and len(set(x) | set(y)) > 1:
            kappas.append(float(cohen_kappa_score(x, y, weights="quadratic")))
    return {"kappa": float(np.mean(kappas)) if kappas else float("nan"), "pairs": len(kappas)}


def agreement_table(calls: dict[int, dict[str, str]]) -> np.ndarray:
    """Counts (items, [real, synthetic]) over the items that every reader called."""
    readers = list(calls)
    if len(readers) < 2:
        return np.zeros((0, 2), int)
    common = set.intersection(*(set(calls[r]) for r in readers))
    per_item = defaultdict(lambda: [0, 0])
    for r in readers:
        for item in common:
            per_item[item][calls[r][item] == "synthetic"] += 1
    return np.array([per_item[i] for i in sorted(common)], int).reshape(-1, 2)


def icc_2_1(ratings: np.ndarray) -> float:
    """ICC(2,1) of Shrout & Fleiss (1979): two-way random effects, absolute agreement, one
    rater; how well one reader's grade agrees with another's, systematic offsets included.

    Parameters
    ----------
    ratings : ndarray, shape (targets, judges)
        Grades (any unit; ICC has none) of every target by every judge; at least 2 of each.

    Returns
    -------
    float
        ``(BMS - EMS) / (BMS + (k - 1) EMS + k (JMS - EMS) / n)``; NaN when the grades do
        not vary at all.

    >>> icc_2_1(np.array([[0, 0], [2, 2], [4, 4]]))
    1.0
    """
    x = np.asarray(ratings, float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError("ICC needs a (targets, judges) table with at least 2 of each")
    n, k = x.shape
    mean = x.mean()
    bms = k * np.sum((x.mean(axis=1) - mean) ** 2) / (n - 1)
    jms = n * np.sum((x.mean(axis=0) - mean) ** 2) / (k - 1)
    ems = (np.sum((x - mean) ** 2) - bms * (n - 1) - jms * (k - 1)) / ((n - 1) * (k - 1))
    denominator = bms + (k - 1) * ems + k * (jms - ems) / n
    return float("nan") if denominator == 0 else float((bms - ems) / denominator)


def grade_matrix(grades: dict[int, dict[str, int]], readers: list[int]) -> np.ndarray:
    """Grades (items, readers) of the items that every one of ``readers`` graded.

    >>> grade_matrix({1: {"a": 1, "b": 2}, 2: {"a": 0}}, [1, 2]).tolist()
    [[1, 0]]
    """
    if not readers:
        return np.zeros((0, 0), int)
    common = sorted(set.intersection(*(set(grades.get(r, {})) for r in readers)))
    return np.array([[grades[r][i] for r in readers] for i in common], int).reshape(-1, len(readers))


def confidence_scores(calls: list[str], confidence: list[int]) -> np.ndarray:
    """Score of "synthetic" for ROC analysis: ``+confidence`` for a synthetic call,
    ``-confidence`` for a real one (so -5 is "surely real", +5 "surely synthetic").

    >>> confidence_scores(["synthetic", "real"], [4, 2]).tolist()
    [4, -2]
    """
    sign = np.where(np.asarray(calls, object) == "synthetic", 1, -1)
    return sign * np.asarray(confidence, int)


def roc_auc(truth: list[str], calls: list[str], confidence: list[int]) -> float:
    """Area under the ROC curve of :func:`confidence_scores` for "synthetic" (0.5: chance);
    NaN unless both real and synthetic items were called.

    >>> roc_auc(["synthetic", "real"], ["synthetic", "real"], [1, 1])
    1.0
    """
    from sklearn.metrics import roc_auc_score

    positive = np.asarray(truth, object) == "synthetic"
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, confidence_scores(calls, confidence)))
