"""Privacy checks for generators trained on real data.

A physics-based synthmed preset sees no patient data, but a learned generator (or a
preset fitted to real images) may reproduce its training images. Three checks, each in
the words of the literature:

- :func:`distance_ratio`: nearest-neighbour distance of each synthetic sample to the
  training set divided by that to a held-out real set from the same population. Values
  well below 1 mean the synthetic set sits closer to the training data than to unseen
  data: it remembers its training set, a privacy risk. About 1 is what a generator that
  learned the population (not the patients) gives.
- :func:`memorisation`: near copies (synthetic image, training image), for showing side
  by side.
- :func:`membership_inference_auc`: a distance-to-closest-synthetic attack; AUC 0.5
  means an attacker cannot tell training members from non-members, 1 means they can.

Feature arguments are (n, d) arrays from :mod:`synthmed.evaluate.features`, standardised
together (e.g. ``standardise(train, synth, holdout)`` from :mod:`.fidelity`); distances
are Euclidean in that feature space.

Example
-------
>>> import numpy as np
>>> g = np.random.default_rng(0)
>>> train, holdout = g.normal(size=(50, 4)), g.normal(size=(50, 4))
>>> synth = train + 0.01 * g.normal(size=(50, 4))  # a generator that copies
>>> distance_ratio(synth, train, holdout)["fraction_below_1"]
1.0
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import rankdata

from synthmed.errors import SynthmedError
from synthmed.evaluate.fidelity import as_features

__all__ = ["nearest_neighbour_distances", "distance_ratio", "NearCopy", "memorisation",
           "membership_inference_auc", "auc"]

_CHUNK = 2048


def nearest_neighbour_distances(query_feats, reference_feats) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query sample to its nearest reference sample.

    Parameters
    ----------
    query_feats : array_like, shape (n, d)
    reference_feats : array_like, shape (m, d)

    Returns
    -------
    distances : float64 ndarray, shape (n,)
        In feature units.
    indices : int ndarray, shape (n,)
        Row of the nearest reference sample.

    Examples
    --------
    >>> d, i = nearest_neighbour_distances([[0.0, 0.0], [5, 5]], [[0.0, 1.0], [5, 4], [9, 9]])
    >>> d.tolist(), i.tolist()
    ([1.0, 1.0], [0, 1])
    """
    q, r = as_features(query_feats, "query_feats"), as_features(reference_feats, "reference_feats")
    if q.shape[1] != r.shape[1]:
        raise SynthmedError(f"feature sizes differ: {q.shape[1]} vs {r.shape[1]}")
    dist, idx = np.empty(len(q)), np.empty(len(q), dtype=np.int64)
    for s in range(0, len(q), _CHUNK):
        d = cdist(q[s:s + _CHUNK], r)
        idx[s:s + _CHUNK] = d.argmin(axis=1)
        dist[s:s + _CHUNK] = d[np.arange(len(d)), idx[s:s + _CHUNK]]
    return dist, idx


def distance_ratio(synth_feats, train_feats, holdout_feats) -> dict:
    """Per synthetic sample: d(synthetic, training set) / d(synthetic, held-out set).

    Parameters
    ----------
    synth_feats : array_like, shape (n, d)
        Features of the synthetic images.
    train_feats : array_like, shape (m, d)
        Features of the real images the generator was trained on.
    holdout_feats : array_like, shape (k, d)
        Features of real images from the same population the generator never saw; ideally
        as many as training images, since the nearest distance shrinks with set size.

    Returns
    -------
    dict
        ``ratios`` (float64 ndarray, shape (n,)), ``median`` and ``fraction_below_1``.
        Interpretation: a median well below 1 (and a fraction below 1 well above 0.5)
        means the synthetic samples sit closer to the training data than to unseen data,
        i.e. the generator memorised; about 1 and 0.5 is expected without memorisation.
        A zero distance to both sets gives ratio 1.

    Examples
    --------
    >>> r = distance_ratio([[0.0]], [[1.0]], [[-4.0]])
    >>> r["median"], r["fraction_below_1"]
    (0.25, 1.0)
    """
    d_train, _ = nearest_neighbour_distances(synth_feats, train_feats)
    d_hold, _ = nearest_neighbour_distances(synth_feats, holdout_feats)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(d_hold > 0, d_train / d_hold, np.where(d_train > 0, np.inf, 1.0))
    return {"ratios": ratios, "median": float(np.median(ratios)),
            "fraction_below_1": float(np.mean(ratios < 1))}


class NearCopy(NamedTuple):
    """A synthetic image that nearly copies a training image."""

    synthetic_index: int
    train_index: int
    score: float
    """SSIM (higher is closer) or RMS grey-level difference (lower is closer)."""


def memorisation(synth_images, train_images, threshold: float | None = None,
                 metric: str = "ssim", candidates: int = 5) -> list[NearCopy]:
    """Find synthetic images that are near copies of training images.

    Candidates are the ``candidates`` training images nearest to each synthetic image in
    RMS grey-level difference; a pair counts as a near copy when its score passes
    ``threshold``.

    Parameters
    ----------
    synth_images : array_like, shape (n, rows, cols)
        Synthetic grey levels in [0, 1].
    train_images : array_like, shape (m, rows, cols)
        Training grey levels in [0, 1], same size.
    threshold : float, optional
        ``metric="ssim"``: SSIM (scikit-image, data range 1) >= threshold, default 0.95.
        ``metric="rmse"``: root-mean-square difference in grey levels <= threshold,
        default 0.02 (2 % of the range).
    metric : {"ssim", "rmse"}
        Similarity used for the decision.
    candidates : int
        Training images checked per synthetic image (ssim only).

    Returns
    -------
    list of NearCopy
        ``(synthetic_index, train_index, score)``, at most one per synthetic image (its
        best match), closest first. ``len(...)`` is the memorisation count.

    Examples
    --------
    >>> import numpy as np
    >>> train = np.random.default_rng(0).random((4, 16, 16))
    >>> synth = np.stack([train[2], 1 - train[0]])
    >>> [(c.synthetic_index, c.train_index) for c in memorisation(synth, train)]
    [(0, 2)]
    """
    from skimage.metrics import structural_similarity

    s = np.asarray(synth_images, dtype=np.float64)
    t = np.asarray(train_images, dtype=np.float64)
    if s.ndim != 3 or t.ndim != 3 or s.shape[1:] != t.shape[1:]:
        raise SynthmedError(f"memorisation needs image stacks of one size, got {s.shape} and "
                            f"{t.shape}")
    if metric not in ("ssim", "rmse"):
        raise SynthmedError(f"memorisation metric must be 'ssim' or 'rmse', got {metric!r}")
    sf, tf = s.reshape(len(s), -1), t.reshape(len(t), -1)
    found = []
    for start in range(0, len(sf), _CHUNK):
        rms = cdist(sf[start:start + _CHUNK], tf) / np.sqrt(sf.shape[1])
        for row, dists in enumerate(rms):
            i = start + row
            if metric == "rmse":
                j = int(dists.argmin())
                if dists[j] <= (0.02 if threshold is None else threshold):
                    found.append(NearCopy(i, j, float(dists[j])))
                continue
            order = np.argsort(dists, kind="stable")[:candidates]
            scores = [structural_similarity(s[i], t[j], data_range=1.0) for j in order]
            best = int(np.argmax(scores))
            if scores[best] >= (0.95 if threshold is None else threshold):
                found.append(NearCopy(i, int(order[best]), float(scores[best])))
    found.sort(key=lambda c: -c.score if metric == "ssim" else c.score)
    return found


def auc(positive_scores, negative_scores) -> float:
    """Area under the ROC curve from the rank (Mann–Whitney U) statistic.

    ``P(score_pos > score_neg) + 0.5 P(equal)``, in [0, 1].

    >>> auc([3, 4], [1, 2])
    1.0
    """
    pos, neg = np.ravel(positive_scores), np.ravel(negative_scores)
    if len(pos) == 0 or len(neg) == 0:
        raise SynthmedError("AUC needs at least one positive and one negative score")
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def membership_inference_auc(synth_feats, members_feats, non_members_feats) -> float:
    """AUC of a distance-to-closest-synthetic membership-inference attack.

    The attacker scores each real record by ``-min_j ||x - synth_j||`` (closer to some
    synthetic sample = more likely a training member) and we measure how well that score
    separates training members from non-members.

    Parameters
    ----------
    synth_feats : array_like, shape (n, d)
        Features of the synthetic images.
    members_feats : array_like, shape (m, d)
        Features of real images used to train the generator.
    non_members_feats : array_like, shape (k, d)
        Features of real images from the same population not used for training.

    Returns
    -------
    float
        In [0, 1]: 0.5 means no leak (the attacker guesses), 1 means members are always
        closer to the synthetic data than non-members.

    Examples
    --------
    >>> import numpy as np
    >>> members = np.random.default_rng(0).normal(size=(20, 3))
    >>> membership_inference_auc(members, members, members + 5)
    1.0
    """
    d_in, _ = nearest_neighbour_distances(members_feats, synth_feats)
    d_out, _ = nearest_neighbour_distances(non_members_feats, synth_feats)
    return auc(-d_in, -d_out)
