"""Fidelity metrics: how close synthetic images are to real ones.

Two families:

- **Distribution metrics on features** (n, d) from :mod:`synthmed.evaluate.features`:
  :func:`fid`, :func:`kid`, :func:`precision_recall`, :func:`density_coverage`. Standardise
  the features first with the *real* set's per-feature mean and standard deviation
  (:func:`standardise`, or use :func:`compare_features` which does it), so that no single
  feature with a large unit dominates the distances. Values are only comparable between
  runs that used the same extractor and the same standardisation.
- **Image metrics** on grey levels in [0, 1]: :func:`ssim`, :func:`ms_ssim`, :func:`psnr`
  for paired images (translation, edits), :func:`histogram_distances` between sets and
  :func:`diversity` within a set (mode collapse shows as diversity near 1).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> real, fake = rng.normal(size=(200, 3)), rng.normal(1.0, size=(200, 3))
>>> round(fid(real, real), 6)
0.0
>>> fid(real, fake) > 2
True
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg, ndimage
from scipy.spatial.distance import cdist, jensenshannon
from scipy.stats import wasserstein_distance
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from synthmed.errors import SynthmedError

__all__ = ["standardise", "frechet_distance", "fid", "kid", "KID", "precision_recall",
           "density_coverage", "compare_features", "ssim", "ms_ssim", "MS_SSIM_WEIGHTS",
           "psnr", "histogram_distances", "diversity"]

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Per-scale exponents of MS-SSIM, finest first (Wang, Simoncelli & Bovik 2003)."""

_SIGMA, _TRUNCATE = 1.5, 3.5           # Gaussian window as skimage's gaussian_weights=True
_HALF = int(_TRUNCATE * _SIGMA + 0.5)  # 5: window 11 x 11
_K1, _K2 = 0.01, 0.03


def as_features(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise SynthmedError(f"{name}: features must have shape (n >= 1, d), got {x.shape}")
    return x


# --------------------------------------------------------------------- feature metrics

def standardise(real, *others) -> tuple[np.ndarray, ...]:
    """Scale features by the real set's per-feature mean and standard deviation.

    Parameters
    ----------
    real : array_like, shape (n, d)
        Features of the real (reference) images; defines the scaling.
    *others : array_like, shape (m, d)
        Further feature sets scaled the same way.

    Returns
    -------
    tuple of float64 ndarray
        ``(real_z, *others_z)``. Features constant in the real set are only centred.

    Examples
    --------
    >>> import numpy as np
    >>> r, f = standardise(np.array([[0.0, 1], [2, 1]]), np.array([[1.0, 3]]))
    >>> r.tolist(), f.tolist()
    ([[-1.0, 0.0], [1.0, 0.0]], [[0.0, 2.0]])
    """
    real = as_features(real, "real")
    mean, std = real.mean(axis=0), real.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return tuple((as_features(x, "features") - mean) / std for x in (real, *others))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet (2-Wasserstein squared) distance between two Gaussians.

    ``d² = ||mu1 - mu2||² + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``, as in the
    reference pytorch-fid implementation: if the matrix square root is not finite
    (singular covariances, e.g. fewer samples than features) it is recomputed with
    ``eps`` added to both diagonals; imaginary parts from round-off are dropped.

    Parameters
    ----------
    mu1, mu2 : array_like, shape (d,)
        Means (feature units).
    sigma1, sigma2 : array_like, shape (d, d)
        Covariance matrices.
    eps : float
        Diagonal offset for singular products.

    Returns
    -------
    float
        Squared distance in squared feature units, >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> frechet_distance([0, 0], np.eye(2), [3, 0], 4 * np.eye(2))
    11.0
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, float)), np.atleast_1d(np.asarray(mu2, float))
    sigma1 = np.atleast_2d(np.asarray(sigma1, float))
    sigma2 = np.atleast_2d(np.asarray(sigma2, float))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise SynthmedError(f"mismatched shapes: mu {mu1.shape} vs {mu2.shape}, "
                            f"sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns about singular matrices; handled here
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all() or (
                np.iscomplexobj(covmean) and np.abs(np.diagonal(covmean).imag).max() > 1e-3):
            offset = np.eye(len(mu1)) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.abs(covmean.imag).max():.3g} in the "
                             "matrix square root; covariances are not positive semi-definite")
        covmean = covmean.real
    d2 = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
    return float(max(d2, 0.0))


def fid(feats_a, feats_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID).

    Parameters
    ----------
    feats_a, feats_b : array_like, shape (n, d) and (m, d)
        Features (standardised with :func:`standardise`; n, m >= 2). With the usual
        Inception features this is the FID of Heusel et al. 2017; here it is reported
        with the extractor's name because values depend on it.

    Returns
    -------
    float
        >= 0; 0 for identical sets. Biased upwards for small n (it shrinks as n grows).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 4))
    >>> fid(x, x) < 1e-6
    True
    """
    a, b = as_features(feats_a, "feats_a"), as_features(feats_b, "feats_b")
    if len(a) < 2 or len(b) < 2 or a.shape[1] != b.shape[1]:
        raise SynthmedError(f"fid needs two sets of >= 2 samples with equal d, got {a.shape} "
                            f"and {b.shape}")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False).reshape(a.shape[1], -1),
                            b.mean(0), np.cov(b, rowvar=False).reshape(b.shape[1], -1))


class KID(NamedTuple):
    """Kernel inception distance: mean and standard deviation over subsets."""

    mean: float
    std: float


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(
        0 if rng is None else rng)


def kid(feats_a, feats_b, n_subsets: int = 100, subset_size: int = 1000, rng=None) -> KID:
    """Kernel inception distance (Bińkowski et al. 2018): unbiased MMD².

    Uses the cubic polynomial kernel ``k(x, y) = (x·y / d + 1)³``, averaged over
    ``n_subsets`` random subsets of ``subset_size`` samples (without replacement within a
    subset) from each set, as in the reference implementation.

    Parameters
    ----------
    feats_a, feats_b : array_like, shape (n, d) and (m, d)
        Standardised features.
    n_subsets : int
        Number of subset pairs.
    subset_size : int
        Samples per subset; capped at ``min(n, m)`` (at least 2).
    rng : numpy Generator, int or None
        Subset sampling; None means seed 0 so that the result is reproducible.

    Returns
    -------
    KID
        ``(mean, std)`` of the per-subset MMD² estimates. Unbiased: can be slightly
        negative when the distributions are the same.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(1)
    >>> k = kid(g.normal(size=(100, 5)), g.normal(2, size=(100, 5)), n_subsets=10)
    >>> k.mean > 3 * k.std
    True
    """
    a, b = as_features(feats_a, "feats_a"), as_features(feats_b, "feats_b")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise SynthmedError("kid needs at least 2 samples in each set")
    rng, d = _rng(rng), a.shape[1]
    values = np.empty(n_subsets)
    for i in range(n_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        values[i] = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                     + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return KID(float(values.mean()), float(values.std()))


def _kth_distances(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of x to its k-th nearest other row."""
    if len(x) <= k:
        raise SynthmedError(f"k={k} nearest neighbours need more than {k} samples, got {len(x)}")
    out = np.empty(len(x))
    for s in range(0, len(x), 2048):
        d = cdist(x[s:s + 2048], x)
        out[s:s + 2048] = np.partition(d, k, axis=1)[:, k]  # column 0 is the point itself
    return out


def _in_balls(query: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """(len(query), len(centres)) bool: query j lies in the ball of centre i."""
    return np.concatenate([cdist(query[s:s + 2048], centres) <= radii
                           for s in range(0, len(query), 2048)], axis=0)


def precision_recall(real_feats, fake_feats, k: int = 5) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its samples with radius the distance
    to the k-th nearest neighbour. Precision: fraction of fake samples inside the real
    manifold (fidelity). Recall: fraction of real samples inside the fake manifold
    (coverage of the real variety).

    Parameters
    ----------
    real_feats, fake_feats : array_like, shape (n, d) and (m, d)
        Standardised features; each set needs more than k samples.
    k : int
        Neighbourhood size.

    Returns
    -------
    dict
        ``{"precision": p, "recall": r}``, both in [0, 1]; 1 and 1 for identical sets.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(40, 3))
    >>> precision_recall(x, x)
    {'precision': 1.0, 'recall': 1.0}
    """
    real, fake = as_features(real_feats, "real_feats"), as_features(fake_feats, "fake_feats")
    precision = _in_balls(fake, real, _kth_distances(real, k)).any(axis=1).mean()
    recall = _in_balls(real, fake, _kth_distances(fake, k)).any(axis=1).mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real_feats, fake_feats, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020), robust to outliers in the real set.

    Density: mean number of real k-NN balls that contain each fake sample, divided by k
    (about 1 when both sets come from one distribution; > 1 when fakes crowd dense real
    regions). Coverage: fraction of real samples whose k-NN ball contains at least one
    fake sample (about ``1 - 2**-k`` = 0.97 for k=5 when the distributions match).

    Parameters
    ----------
    real_feats, fake_feats : array_like, shape (n, d) and (m, d)
        Standardised features; the real set needs more than k samples.
    k : int
        Neighbourhood size.

    Returns
    -------
    dict
        ``{"density": >= 0, "coverage": in [0, 1]}``.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0)
    >>> dc = density_coverage(g.normal(size=(100, 2)), g.normal(9, size=(100, 2)))
    >>> dc["density"], dc["coverage"]
    (0.0, 0.0)
    """
    real, fake = as_features(real_feats, "real_feats"), as_features(fake_feats, "fake_feats")
    inside = _in_balls(fake, real, _kth_distances(real, k))
    return {"density": float(inside.sum() / (k * len(fake))),
            "coverage": float(inside.any(axis=0).mean())}


def compare_features(real_feats, fake_feats, k: int = 5, kid_subsets: int = 100,
                     kid_subset_size: int = 1000, rng=None) -> dict[str, float]:
    """All distribution metrics on features standardised with the real set's statistics.

    Returns
    -------
    dict
        ``fid``, ``kid_mean``, ``kid_std``, ``precision``, ``recall``, ``density``,
        ``coverage``, ``n_real``, ``n_fake``, ``n_features``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(30, 4))
    >>> compare_features(x, x, kid_subsets=5)["precision"]
    1.0
    """
    real, fake = standardise(real_feats, fake_feats)
    k_ = kid(real, fake, kid_subsets, kid_subset_size, rng)
    return {"fid": fid(real, fake), "kid_mean": k_.mean, "kid_std": k_.std,
            **precision_recall(real, fake, k), **density_coverage(real, fake, k),
            "n_real": len(real), "n_fake": len(fake), "n_features": real.shape[1]}


# ----------------------------------------------------------------------- image metrics

def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (2, 3):
        raise SynthmedError(f"paired images need equal shapes (rows, cols) or (n, rows, cols), "
                            f"got {a.shape} and {b.shape}")
    return a, b


def ssim(a, b, **kwargs):
    """Structural similarity (Wang et al. 2004) via scikit-image, ``data_range=1``.

    Parameters
    ----------
    a, b : array_like, shape (rows, cols) or (n, rows, cols)
        Paired grey-level images in [0, 1].
    **kwargs
        Passed to :func:`skimage.metrics.structural_similarity` (e.g. ``win_size``,
        ``gaussian_weights``).

    Returns
    -------
    float, or float64 ndarray of shape (n,) for stacks
        In [-1, 1]; 1 for identical images.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((32, 32))
    >>> ssim(x, x)
    1.0
    """
    a, b = _pair(a, b)
    if a.ndim == 2:
        return float(structural_similarity(a, b, data_range=1.0, **kwargs))
    return np.array([structural_similarity(x, y, data_range=1.0, **kwargs) for x, y in zip(a, b)])


def _ssim_terms(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean luminance term and mean contrast-structure term per image, (n,) each."""
    def blur(z):
        return ndimage.gaussian_filter(z, sigma=(0, _SIGMA, _SIGMA), truncate=_TRUNCATE,
                                       mode="reflect")
    c1, c2 = _K1 ** 2, _K2 ** 2
    ux, uy = blur(x), blur(y)
    vx, vy, vxy = blur(x * x) - ux * ux, blur(y * y) - uy * uy, blur(x * y) - ux * uy
    lum = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
    cs = (2 * vxy + c2) / (vx + vy + c2)
    crop = (slice(None), slice(_HALF, -_HALF), slice(_HALF, -_HALF))
    return (lum * cs)[crop].mean(axis=(1, 2)), cs[crop].mean(axis=(1, 2))


def ms_ssim(a, b, scales: int | None = None):
    """Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003).

    ``MS-SSIM = prod_j cs_j ** w_j * l_M ** w_M`` over scales j = 1..M, the images halved
    by 2x2 averaging between scales, with the standard weights :data:`MS_SSIM_WEIGHTS`, a
    Gaussian window (sigma 1.5 px, 11 x 11, reflect padding, the 5-pixel border excluded
    from the means, as scikit-image's ``gaussian_weights=True``) and K1=0.01, K2=0.03 for
    a data range of 1. Luminance enters only at the coarsest scale. Negative mean
    contrast-structure values are clipped to 0 before the fractional powers.

    Parameters
    ----------
    a, b : array_like, shape (rows, cols) or (n, rows, cols)
        Paired grey-level images in [0, 1], at least 11 x 11 pixels.
    scales : int, optional
        Number of scales, 1..5. Default: as many of the standard 5 as fit (the coarsest
        must still be >= 11 px: 5 scales need 176 px, 128 px give 4, 64 px give 3). With
        fewer than 5 scales the first M weights are renormalised to sum to 1; with
        ``scales=1`` this equals SSIM with the Gaussian window.

    Returns
    -------
    float, or float64 ndarray of shape (n,) for stacks
        In [0, 1]; 1 for identical images.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((64, 64))
    >>> ms_ssim(x, x)
    1.0
    """
    a, b = _pair(a, b)
    single = a.ndim == 2
    x, y = (a[None], b[None]) if single else (a, b)
    side = min(x.shape[1:])
    fit = 1 + int(np.floor(np.log2(side / (2 * _HALF + 1)))) if side >= 2 * _HALF + 1 else 0
    if fit < 1:
        raise SynthmedError(f"ms_ssim needs images of at least {2 * _HALF + 1} px, got "
                            f"{x.shape[1:]}")
    m = min(fit, len(MS_SSIM_WEIGHTS)) if scales is None else int(scales)
    if not 1 <= m <= min(fit, len(MS_SSIM_WEIGHTS)):
        raise SynthmedError(f"ms_ssim: {scales} scales do not fit images of {x.shape[1:]} "
                            f"(at most {min(fit, len(MS_SSIM_WEIGHTS))})")
    w = np.asarray(MS_SSIM_WEIGHTS[:m]) / np.sum(MS_SSIM_WEIGHTS[:m])
    result = np.ones(len(x))
    for j in range(m):
        full, cs = _ssim_terms(x, y)
        term = full if j == m - 1 else cs
        result *= np.clip(term, 0, None) ** w[j]
        if j < m - 1:
            r, c = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
            x = x[:, :r, :c].reshape(len(x), r // 2, 2, c // 2, 2).mean(axis=(2, 4))
            y = y[:, :r, :c].reshape(len(y), r // 2, 2, c // 2, 2).mean(axis=(2, 4))
    return float(result[0]) if single else result


def psnr(a, b):
    """Peak signal-to-noise ratio in dB for a data range of 1 (scikit-image).

    ``10 log10(1 / MSE)``; ``inf`` for identical images.

    Parameters
    ----------
    a, b : array_like, shape (rows, cols) or (n, rows, cols)
        Paired grey-level images in [0, 1] (``a`` is the reference).

    Returns
    -------
    float, or float64 ndarray of shape (n,) for stacks

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros((8, 8)), np.full((8, 8), 0.1)), 6)
    20.0
    """
    a, b = _pair(a, b)

    def one(x, y):
        return np.inf if np.array_equal(x, y) else float(
            peak_signal_noise_ratio(x, y, data_range=1.0))
    return one(a, b) if a.ndim == 2 else np.array([one(x, y) for x, y in zip(a, b)])


def histogram_distances(a_images, b_images, bins: int = 64) -> dict[str, float]:
    """Distances between the grey-level distributions of two image sets.

    Parameters
    ----------
    a_images, b_images : array_like, any shape
        Grey levels in [0, 1]; all pixels of each set are pooled (sizes may differ).
    bins : int
        Histogram bins on [0, 1] for the Jensen–Shannon divergence.

    Returns
    -------
    dict
        ``wasserstein_1``: earth mover's distance between the pixel value distributions
        (grey levels, in [0, 1]); ``jensen_shannon``: JS divergence of the ``bins``-bin
        histograms, base 2, in [0, 1]. Both 0 for identical sets.

    Examples
    --------
    >>> import numpy as np
    >>> histogram_distances(np.zeros((2, 4, 4)), np.ones((1, 4, 4)))
    {'wasserstein_1': 1.0, 'jensen_shannon': 1.0}
    """
    a = np.asarray(a_images, dtype=np.float64).ravel()
    b = np.asarray(b_images, dtype=np.float64).ravel()
    ha = np.histogram(np.clip(a, 0, 1), bins=bins, range=(0, 1))[0]
    hb = np.histogram(np.clip(b, 0, 1), bins=bins, range=(0, 1))[0]
    js = jensenshannon(ha / ha.sum(), hb / hb.sum(), base=2) ** 2
    return {"wasserstein_1": float(wasserstein_distance(a, b)),
            "jensen_shannon": float(np.clip(js, 0.0, 1.0))}


def diversity(images, n_pairs: int = 100, rng=None, scales: int | None = None) -> float:
    """Mean MS-SSIM between random pairs of different images of one set.

    Higher means less diverse: a mode-collapsed generator that draws near-identical images
    scores near 1; unrelated natural images score around 0.1–0.3. Compare with the same
    number computed on the real set.

    Parameters
    ----------
    images : array_like, shape (n, rows, cols)
        Grey levels in [0, 1]; n >= 2.
    n_pairs : int
        Pairs to average. If the set has no more distinct pairs than that, all are used.
    rng : numpy Generator, int or None
        Pair sampling; None means seed 0 (reproducible).
    scales : int, optional
        Passed to :func:`ms_ssim`.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> diversity(np.repeat(np.random.default_rng(0).random((1, 32, 32)), 4, axis=0))
    1.0
    """
    images = np.asarray(images, dtype=np.float64)
    n = len(images)
    if images.ndim != 3 or n < 2:
        raise SynthmedError(f"diversity needs a stack of >= 2 images, got shape {images.shape}")
    if n * (n - 1) // 2 <= n_pairs:
        i, j = np.triu_indices(n, 1)
    else:
        g = _rng(rng)
        i = g.integers(0, n, n_pairs)
        j = (i + g.integers(1, n, n_pairs)) % n  # j != i
    values = np.concatenate([ms_ssim(images[i[s:s + 64]], images[j[s:s + 64]], scales)
                             for s in range(0, len(i), 64)])
    return float(values.mean())
