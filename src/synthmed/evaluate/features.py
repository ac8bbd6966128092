"""Feature extractors for distribution metrics (FID, KID, precision/recall, privacy).

An extractor maps grayscale images, float ndarray of shape (n, rows, cols) with values in
[0, 1], to features, float64 ndarray of shape (n, d). Extractors are looked up by name in
:data:`FEATURE_EXTRACTORS`; :func:`extract_features` also accepts ``"torchscript:<path>"``
for a user's TorchScript model.

Numbers computed on features (FID, KID, precision/recall, density/coverage, distance
ratios) are **only comparable when the same extractor was used**: FID on radiomics features
and FID on network embeddings live on different scales. Reports must say which extractor
they used; :func:`describe` gives the sentence.

The default ``"radiomics"`` extractor needs only numpy/scipy/scikit-image and works offline.
Per scale (full resolution, 1/2 and 1/4, by 2x2 block means) it computes

- first order (10): mean, std, 5/25/50/75/95th percentiles, skewness, excess kurtosis,
  Shannon entropy of a 64-bin histogram on [0, 1] (bits);
- GLCM (12): contrast, homogeneity, energy, correlation at distances 1, 2 and 4 pixels,
  averaged over the angles 0, 45, 90 and 135 degrees (32 grey levels, symmetric, normed);
- LBP (10): histogram of uniform rotation-invariant local binary patterns (P=8, R=1);
- gradient (3): mean, std and 90th percentile of the Sobel gradient magnitude
  (grey levels per pixel),

plus a coarse spatial layout: mean intensity on a 4x4 grid (16), so that where anatomy
sits counts. That is 3 * 35 + 16 = 121 features; :func:`feature_names` names them.

Example
-------
>>> import numpy as np
>>> images = np.random.default_rng(0).random((3, 32, 32))
>>> extract_features(images).shape
(3, 121)
>>> feature_names("radiomics")[:2]
['s1_mean', 's1_std']
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.feature import graycomatrix, graycoprops, local_binary_pattern

from synthmed.errors import SynthmedError

__all__ = ["FEATURE_EXTRACTORS", "extract_features", "radiomics_features",
           "torchscript_features", "feature_names", "describe"]

_SCALES = (1, 2, 4)
_PERCENTILES = (5, 25, 50, 75, 95)
_GLCM_LEVELS = 32
_GLCM_DISTANCES = (1, 2, 4)
_GLCM_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
_GLCM_PROPS = ("contrast", "homogeneity", "energy", "correlation")
_LBP_P, _LBP_R = 8, 1
_GRID = 4
_MIN_SIZE = 16


def _per_scale_names() -> list[str]:
    names = ["mean", "std"] + [f"p{p}" for p in _PERCENTILES] + ["skewness", "kurtosis",
                                                                 "entropy"]
    names += [f"glcm_{p}_d{d}" for d in _GLCM_DISTANCES for p in _GLCM_PROPS]
    names += [f"lbp_{i}" for i in range(_LBP_P + 2)]
    names += ["grad_mean", "grad_std", "grad_p90"]
    return names


_RADIOMICS_NAMES = ([f"s{s}_{n}" for s in _SCALES for n in _per_scale_names()]
                    + [f"layout_{r}_{c}" for r in range(_GRID) for c in range(_GRID)])


def _as_stack(images) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3:
        raise SynthmedError(f"images must have shape (n, rows, cols), got {images.shape}")
    return images


def _block_mean(images: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return images
    n, rows, cols = images.shape
    r, c = rows // factor * factor, cols // factor * factor
    return images[:, :r, :c].reshape(n, r // factor, factor, c // factor, factor).mean(axis=(2, 4))


def _first_order(x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    flat = x.reshape(n, -1)
    mean, std = flat.mean(axis=1), flat.std(axis=1)
    pct = np.percentile(flat, _PERCENTILES, axis=1).T
    centred = flat - mean[:, None]
    m2 = (centred ** 2).mean(axis=1)
    m3, m4 = (centred ** 3).mean(axis=1), (centred ** 4).mean(axis=1)
    varying = m2 > 1e-12  # constant images: skewness and excess kurtosis 0
    safe = np.where(varying, m2, 1.0)
    skew = np.where(varying, m3 / safe ** 1.5, 0.0)
    kurt = np.where(varying, m4 / safe ** 2 - 3.0, 0.0)
    bins = np.minimum((np.clip(flat, 0, 1) * 64).astype(np.int64), 63)
    counts = np.bincount((bins + 64 * np.arange(n)[:, None]).ravel(), minlength=64 * n)
    p = counts.reshape(n, 64) / flat.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)
    return np.column_stack([mean, std, pct, skew, kurt, entropy])


def _texture(x: np.ndarray) -> np.ndarray:
    q = np.minimum((np.clip(x, 0, 1) * _GLCM_LEVELS).astype(np.uint8), _GLCM_LEVELS - 1)
    out = np.empty((x.shape[0], len(_GLCM_DISTANCES) * len(_GLCM_PROPS) + _LBP_P + 2))
    for i, img in enumerate(q):
        glcm = graycomatrix(img, _GLCM_DISTANCES, _GLCM_ANGLES, levels=_GLCM_LEVELS,
                            symmetric=True, normed=True)
        props = np.stack([graycoprops(glcm, p).mean(axis=1) for p in _GLCM_PROPS], axis=1)
        lbp = local_binary_pattern(img, _LBP_P, _LBP_R, method="uniform")
        hist = np.bincount(lbp.astype(np.int64).ravel(), minlength=_LBP_P + 2) / lbp.size
        out[i] = np.concatenate([props.ravel(), hist])
    return out


def _gradient(x: np.ndarray) -> np.ndarray:
    gr = ndimage.sobel(x, axis=1, mode="reflect") / 8
    gc = ndimage.sobel(x, axis=2, mode="reflect") / 8
    mag = np.hypot(gr, gc).reshape(x.shape[0], -1)
    return np.column_stack([mag.mean(axis=1), mag.std(axis=1), np.percentile(mag, 90, axis=1)])


def _layout(x: np.ndarray) -> np.ndarray:
    n, rows, cols = x.shape
    re = np.linspace(0, rows, _GRID + 1).astype(int)
    ce = np.linspace(0, cols, _GRID + 1).astype(int)
    sums = np.add.reduceat(np.add.reduceat(x, re[:-1], axis=1), ce[:-1], axis=2)
    return (sums / np.outer(np.diff(re), np.diff(ce))).reshape(n, -1)


def radiomics_features(images) -> np.ndarray:
    """Hand-crafted, radiomics-like features of grayscale images.

    Parameters
    ----------
    images : array_like, shape (n, rows, cols) or (rows, cols)
        Grey levels in [0, 1] (values outside are clipped for histograms, GLCM and LBP).
        At least 16 x 16 pixels.

    Returns
    -------
    features : float64 ndarray, shape (n, 121)
        Columns named by ``feature_names("radiomics")`` (see the module docstring). All
        finite; constant images give zero skewness/kurtosis. Deterministic.

    Notes
    -----
    First-order, GLCM (symmetric, four angles), uniform LBP and gradient statistics are
    invariant to 180-degree rotation and flips for even image sizes; only the 4x4 layout
    features see where structures are. About 10 ms per 128 x 128 image.

    Examples
    --------
    >>> import numpy as np
    >>> f = radiomics_features(np.full((2, 32, 32), 0.5))
    >>> float(f[0, 0]), bool(np.isfinite(f).all())
    (0.5, True)
    """
    images = _as_stack(images)
    if min(images.shape[1:]) < _MIN_SIZE:
        raise SynthmedError(f"radiomics features need images of at least {_MIN_SIZE} x "
                            f"{_MIN_SIZE} pixels, got {images.shape[1:]}; load them larger")
    blocks = []
    for s in _SCALES:
        x = _block_mean(images, s)
        blocks += [_first_order(x), _texture(x), _gradient(x)]
    blocks.append(_layout(images))
    return np.nan_to_num(np.concatenate(blocks, axis=1), nan=0.0, posinf=0.0, neginf=0.0)


def torchscript_features(images, path: str | Path, batch_size: int = 32,
                         device: str = "cpu") -> np.ndarray:
    """Features from a user's TorchScript model (``torch.jit.save``).

    Parameters
    ----------
    images : array_like, shape (n, rows, cols)
        Grey levels in [0, 1]; fed to the model as float32 batches of shape
        (batch, 1, rows, cols) without further normalisation.
    path : str or Path
        The ``.pt`` file of a scripted or traced model.
    batch_size : int
        Images per forward pass.
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    features : float64 ndarray, shape (n, d)
        The model output for each image, flattened.

    Examples
    --------
    >>> torchscript_features(images, "encoder.pt").shape  # doctest: +SKIP
    (100, 512)
    """
    try:
        import torch
    except ImportError:
        raise SynthmedError("TorchScript features need torch: pip install 'synthmed[learned]'") \
            from None
    path = Path(path)
    if not path.is_file():
        raise SynthmedError(f"{path}: no TorchScript model there (write one with torch.jit.save)")
    try:
        model = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # torch raises RuntimeError or its own types
        raise SynthmedError(f"{path}: cannot load as TorchScript ({exc})") from None
    model.eval()
    images = _as_stack(images).astype(np.float32)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(images[start:start + batch_size, None]).to(device)
            y = model(batch)
            if isinstance(y, (tuple, list)):
                y = y[0]
            out.append(y.reshape(y.shape[0], -1).double().cpu().numpy())
    return np.concatenate(out, axis=0) if out else np.zeros((0, 0))


FEATURE_EXTRACTORS: dict[str, Callable[..., np.ndarray]] = {
    "radiomics": radiomics_features,
}
"""Extractor name -> ``fn(images) -> (n, d)`` features. Add your own by inserting here."""

_DESCRIPTIONS = {
    "radiomics": ("radiomics-like hand-crafted features (121): first-order intensity "
                  "statistics, GLCM contrast/homogeneity/energy/correlation, uniform LBP "
                  "histogram and gradient-magnitude statistics at full, 1/2 and 1/4 "
                  "resolution, plus mean intensity on a 4x4 grid"),
}


def extract_features(images, method: str = "radiomics", **kwargs) -> np.ndarray:
    """Features of ``images`` with the extractor named ``method``.

    Parameters
    ----------
    images : array_like, shape (n, rows, cols)
        Grey levels in [0, 1] (an :class:`~synthmed.evaluate.data.ImageSet`'s ``images``).
    method : str
        A key of :data:`FEATURE_EXTRACTORS` (default ``"radiomics"``) or
        ``"torchscript:<path>"`` for a TorchScript model file.
    **kwargs
        Passed to the extractor (e.g. ``batch_size``, ``device`` for TorchScript).

    Returns
    -------
    features : float64 ndarray, shape (n, d)

    Examples
    --------
    >>> import numpy as np
    >>> extract_features(np.zeros((2, 16, 16))).shape
    (2, 121)
    """
    if method.startswith("torchscript:"):
        return torchscript_features(images, method.split(":", 1)[1], **kwargs)
    try:
        fn = FEATURE_EXTRACTORS[method]
    except KeyError:
        raise SynthmedError(f"unknown feature extractor {method!r}; use one of "
                            f"{sorted(FEATURE_EXTRACTORS)} or 'torchscript:<path>'") from None
    return np.asarray(fn(images, **kwargs), dtype=np.float64)


def feature_names(method: str = "radiomics") -> list[str] | None:
    """Column names of an extractor's features, where it has fixed ones (else None).

    >>> len(feature_names("radiomics"))
    121
    """
    return list(_RADIOMICS_NAMES) if method == "radiomics" else None


def describe(method: str = "radiomics") -> str:
    """One sentence for reports saying which features the numbers were computed on.

    A TorchScript model is identified by its path and the SHA-256 of the file, so that a
    reader can tell whether two reports used the same network.

    >>> describe("radiomics").startswith("radiomics-like")
    True
    """
    if method.startswith("torchscript:"):
        path = Path(method.split(":", 1)[1])
        digest = (hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file()
                  else "file missing")
        return (f"embeddings of the TorchScript model {path} (sha256 {digest}), flattened; "
                "numbers are comparable only with the same model")
    if method in _DESCRIPTIONS:
        return _DESCRIPTIONS[method] + "; numbers are comparable only with the same features"
    if method in FEATURE_EXTRACTORS:
        doc = (FEATURE_EXTRACTORS[method].__doc__ or "").strip().splitlines()
        return f"{method}: {doc[0] if doc else 'user-registered extractor'}"
    raise SynthmedError(f"unknown feature extractor {method!r}")
