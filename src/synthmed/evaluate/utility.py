"""Utility of synthetic images: train on synthetic, test on real (TSTR) and friends.

A small standard network (MONAI ``DenseNet`` for classification, ``UNet`` for segmentation)
is trained on one set and tested on another; every metric carries a bootstrap 95 %
confidence interval over the test images. Protocols:

- :func:`tstr` train on synthetic, test on real; :func:`trtr` the real-only baseline;
  :func:`trts` train on real, test on synthetic; :func:`mixing_curve` real plus a growing
  share of synthetic.
- :func:`classifier_two_sample_test` (C2ST): how well a classifier tells real from synthetic
  (held-out AUC near 0.5: indistinguishable; near 1: trivially separable).
- :func:`cached_feature_extractor`: a small self-supervised CNN trained on the real set and
  cached, the offline default features for the fidelity metrics.

Labels are named differently in synthetic and real sets, so a target names one attribute (or
mask) per side: ``ClassTarget(synthetic="pneumonia", real="finding",
real_positive=("Pneumonia",))``.

Metric helpers (:func:`roc_auc`, :func:`accuracy`, :func:`dice`, :func:`bootstrap_ci`) and the
logistic regression need only numpy/scipy; training needs ``pip install 'synthmed[learned]'``.
Runs are deterministic for a ``seed`` on a given device and thread count.

>>> import numpy as np
>>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import minimize
from scipy.stats import rankdata

from synthmed.errors import SynthmedError
from synthmed.evaluate._torch import (ExtractorParams, FeatureExtractor,  # torch-free imports
                                      cached_feature_extractor, train_feature_extractor)
from synthmed.evaluate.data import ImageSet

__all__ = [
    "ClassTarget", "SegTarget", "TrainParams", "Estimate", "UtilityResult",
    "CLASSIFIER_CONFIG", "SEGMENTER_CONFIG",
    "roc_auc", "accuracy", "dice", "bootstrap_ci", "train_test_split",
    "train_classifier", "predict_proba", "train_segmenter", "predict_masks",
    "tstr", "trts", "trtr", "mixing_curve",
    "fit_logistic", "classifier_two_sample_test",
    "ExtractorParams", "FeatureExtractor", "train_feature_extractor", "cached_feature_extractor",
]

#: MONAI ``DenseNet`` used for classification: 3 dense blocks of 2 layers, ~20 k weights.
CLASSIFIER_CONFIG = dict(spatial_dims=2, in_channels=1, out_channels=1, init_features=16,
                         growth_rate=8, block_config=(2, 2, 2))
#: MONAI ``UNet`` used for segmentation: 3 levels, ~9.5 k weights; rows, cols divisible by 4.
SEGMENTER_CONFIG = dict(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 16, 32),
                        strides=(2, 2))

_TRUE = {"1", "1.0", "true", "yes", "y", "t", "positive", "pos"}
_FALSE = {"0", "0.0", "false", "no", "n", "f", "negative", "neg"}


# --------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class ClassTarget:
    """A binary class label, named per side.

    Parameters
    ----------
    synthetic : str
        Attribute of the synthetic set (usually a bool class label).
    real : str, optional
        Attribute of the real set; defaults to ``synthetic``.
    real_positive, synthetic_positive : sequence, optional
        Values counted as class 1 (e.g. ``("Pneumonia", "COVID-19")`` or ``(2, 3, 4)`` for
        KL grade >= 2). Without them values must be boolean-like (bool, 0/1, yes/no...).

    >>> s = ImageSet(np.zeros((3, 4, 4), np.float32), ["a", "b", "c"],
    ...              {"finding": ["Normal", "Pneumonia", "COVID-19"]})
    >>> target = ClassTarget("pneumonia", "finding", real_positive=("Pneumonia", "COVID-19"))
    >>> target.labels(s, "real")
    array([0, 1, 1])
    """

    synthetic: str
    real: str | None = None
    real_positive: tuple | None = None
    synthetic_positive: tuple | None = None

    task = "classification"

    def labels(self, image_set: ImageSet, side: str) -> np.ndarray:
        """0/1 int vector for ``image_set`` read as the ``side`` ("synthetic" or "real")."""
        name, positive = self._side(side)
        if name not in image_set.attributes:
            raise SynthmedError(f"{side} set {image_set.source or ''!s}: no attribute {name!r}; "
                                f"it has {sorted(image_set.attributes) or 'none'}")
        values = image_set.attributes[name]
        missing = sum(v is None or v == "" or (isinstance(v, float) and math.isnan(v))
                      for v in values)
        if missing:
            raise SynthmedError(f"{side} attribute {name!r} has no value for {missing} of "
                                f"{len(values)} images; pass a subset with values")
        if positive is not None:
            y = np.array([any(_same(v, p) for p in positive) for v in values], int)
        else:
            y = np.array([_as_bool(v, name, side) for v in values], int)
        if len(values) and y.min() == y.max():
            seen = sorted({str(v) for v in values})[:10]
            raise SynthmedError(
                f"{side} attribute {name!r} has one class only (all {y[0]}; values seen: "
                f"{seen}); a classifier needs both"
                + ("" if positive is not None else f"; set {side}_positive=(...) to choose"))
        return y

    def _side(self, side: str):
        if side == "synthetic":
            return self.synthetic, _tuple(self.synthetic_positive)
        if side == "real":
            return self.real or self.synthetic, _tuple(self.real_positive)
        raise ValueError(f"side must be 'synthetic' or 'real', got {side!r}")


@dataclass(frozen=True)
class SegTarget:
    """A binary mask, named per side (``real`` defaults to ``synthetic``).

    >>> lung = np.ones((1, 4, 4), bool)
    >>> s = ImageSet(np.zeros((1, 4, 4), np.float32), ["a"], masks={"lung": lung})
    >>> SegTarget("lung").labels(s, "real").sum()
    np.int64(16)
    """

    synthetic: str
    real: str | None = None

    task = "segmentation"

    def labels(self, image_set: ImageSet, side: str) -> np.ndarray:
        """Bool masks (n, rows, cols) of ``image_set`` read as the ``side``."""
        if side not in ("synthetic", "real"):
            raise ValueError(f"side must be 'synthetic' or 'real', got {side!r}")
        name = self.synthetic if side == "synthetic" else (self.real or self.synthetic)
        if name not in image_set.masks:
            raise SynthmedError(f"{side} set {image_set.source or ''!s}: no mask {name!r}; "
                                f"it has {sorted(image_set.masks) or 'none'}")
        return np.asarray(image_set.masks[name], bool)


def _tuple(v):
    return None if v is None else tuple([v] if isinstance(v, (str, int, float)) else v)


def _same(value, positive) -> bool:
    """Equal as numbers where both parse as numbers (2.0 == "2"), else as stripped text."""
    try:
        return float(value) == float(positive)
    except (TypeError, ValueError):
        return str(value).strip() == str(positive).strip()


def _as_bool(v, name, side) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.number)) and v in (0, 1):
        return bool(v)
    s = str(v).strip().lower()
    if s in _TRUE or s in _FALSE:
        return s in _TRUE
    raise SynthmedError(f"{side} attribute {name!r} has value {v!r}, not a yes/no label; "
                        f"set {side}_positive=(...) to list the values that count as class 1")


# --------------------------------------------------------------------------- metrics
class TrainParams(BaseModel):
    """How the standard networks are trained (stored with every result)."""

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(20, ge=1, description="passes over the training set")
    batch_size: int = Field(32, ge=2, description="images per step")
    learning_rate: float = Field(1e-3, gt=0, description="Adam step size")
    augment: bool = Field(True, description="left-right flips, gain/offset jitter")


@dataclass
class Estimate:
    """A metric value with its percentile-bootstrap confidence interval (None: undefined)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    level: float = 0.95
    n_bootstrap: int = 0


@dataclass
class UtilityResult:
    """One train/test run; ``to_dict()`` is JSON-ready."""

    protocol: str
    task: str
    target: dict
    n_train_real: int
    n_train_synthetic: int
    n_test: int
    test_set: str
    metrics: dict[str, Estimate]
    synthetic_fraction: float | None = None
    network: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve as the Mann-Whitney rank statistic (ties count one half).

    Returns nan when ``y_true`` has one class only.

    >>> roc_auc([0, 1, 0, 1], [0.2, 0.9, 0.2, 0.2])
    0.75
    """
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(y_score, np.float64).ravel()
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(y_true, y_score, threshold: float = 0.5) -> float:
    """Share of correct predictions with class 1 where ``y_score >= threshold``.

    >>> accuracy([0, 1, 1], [0.2, 0.7, 0.4])
    0.6666666666666666
    """
    y = np.asarray(y_true).astype(bool).ravel()
    return float(np.mean((np.asarray(y_score).ravel() >= threshold) == y))


def dice(mask_true, mask_pred) -> np.ndarray:
    """Per-image Dice 2|A∩B| / (|A| + |B|) of bool masks (n, rows, cols); 1 where both are empty.

    >>> a = np.zeros((1, 4, 4), bool); a[0, :2] = True  # rows 0-1
    >>> dice(a, np.roll(a, 1, axis=1))                     # rows 1-2: 2 * 4 / (8 + 8)
    array([0.5])
    """
    t = np.asarray(mask_true, bool).reshape(len(mask_true), -1)
    p = np.asarray(mask_pred, bool).reshape(len(mask_pred), -1)
    inter = (t & p).sum(1)
    total = t.sum(1) + p.sum(1)
    return np.where(total == 0, 1.0, 2.0 * inter / np.maximum(total, 1))


def bootstrap_ci(metric_fn: Callable, y_true, y_score=None, n: int = 1000,
                 rng: np.random.Generator | int = 0, level: float = 0.95) -> Estimate:
    """Percentile bootstrap CI of ``metric_fn(y_true, y_score)`` over the test items.

    Items (first axis) are drawn with replacement ``n`` times; resamples where the metric is
    undefined (nan, e.g. AUC with one class) are dropped. With ``y_score=None`` the metric
    is called as ``metric_fn(y_true)``.

    >>> e = bootstrap_ci(roc_auc, [0, 0, 1, 1, 0, 1], [.1, .3, .8, .6, .5, .9], n=200)
    >>> e.value, e.ci_low <= e.value <= e.ci_high
    (1.0, True)
    """
    rng = np.random.default_rng(rng)
    y_true = np.asarray(y_true)
    args = (y_true,) if y_score is None else (y_true, np.asarray(y_score))
    value = float(metric_fn(*args))
    m = len(y_true)
    draws = rng.integers(0, m, size=(n, m)) if m else np.zeros((0, 0), int)
    stats = np.array([metric_fn(*(a[idx] for a in args)) for idx in draws], np.float64)
    stats = stats[np.isfinite(stats)]
    if not np.isfinite(value) or stats.size == 0:
        return Estimate(_num(value), None, None, level, int(stats.size))
    lo, hi = np.percentile(stats, [50 * (1 - level), 50 * (1 + level)])
    return Estimate(value, float(lo), float(hi), level, int(stats.size))


def _num(v) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def train_test_split(image_set: ImageSet, test_fraction: float = 0.3, seed: int = 0,
                     target: ClassTarget | None = None, side: str = "real"):
    """Split a set into (train, test) at random, stratified by ``target``'s class if given.

    >>> s = ImageSet(np.zeros((10, 4, 4), np.float32), [str(i) for i in range(10)])
    >>> [len(p) for p in train_test_split(s, 0.3)]
    [7, 3]
    """
    rng = np.random.default_rng(seed)
    groups = (target.labels(image_set, side) if target is not None
              else np.zeros(len(image_set), int))
    test = np.zeros(len(image_set), bool)
    for g in np.unique(groups):
        idx = rng.permutation(np.flatnonzero(groups == g))
        test[idx[:int(round(test_fraction * idx.size))]] = True
    return image_set.subset(~test), image_set.subset(test)


# --------------------------------------------------------------------------- networks
def train_classifier(images: np.ndarray, labels, *, params: TrainParams | None = None,
                     seed: int = 0, device: str = "cpu", progress: bool = True):
    """Train the standard binary classifier (:data:`CLASSIFIER_CONFIG`) with BCE and Adam.

    Parameters
    ----------
    images : float ndarray, shape (n, rows, cols)
        Grey levels in [0, 1]; any size of at least 16 x 16 pixels.
    labels : sequence of 0/1, length n
    params : TrainParams
        Epochs, batch size, learning rate, augmentation.
    seed : int
        Weights initialisation, shuffling and augmentation.

    Returns
    -------
    torch.nn.Module
        MONAI ``DenseNet`` in eval mode, one logit out; use :func:`predict_proba`.

    >>> rng = np.random.default_rng(0); x = rng.random((8, 16, 16), np.float32)
    >>> model = train_classifier(x, [0, 1] * 4, params=TrainParams(epochs=1), progress=False)
    >>> predict_proba(model, x).shape
    (8,)
    """
    from synthmed.evaluate._torch import fit, require_torch, seeded, to_tensor

    torch = require_torch()
    from monai.networks.nets import DenseNet

    params = params or TrainParams()
    x = to_tensor(images)
    y = torch.as_tensor(np.asarray(labels, np.float32).reshape(-1, 1))
    if len(y) != len(x):
        raise SynthmedError(f"{len(x)} images but {len(y)} labels")
    with seeded(seed, device):
        model = DenseNet(**CLASSIFIER_CONFIG)
        return fit(model, torch.nn.BCEWithLogitsLoss(), x, y, epochs=params.epochs,
                   batch_size=params.batch_size, learning_rate=params.learning_rate, seed=seed,
                   device=device, progress=progress, description="classifier",
                   augment_spatial=False if params.augment else None)


def predict_proba(model, images: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Class-1 probability per image (float64, shape (n,)) from :func:`train_classifier`."""
    from synthmed.evaluate._torch import predict, to_tensor

    logits = predict(model, to_tensor(images), device=device)[:, 0]
    return 1.0 / (1.0 + np.exp(-logits))


def train_segmenter(images: np.ndarray, masks: np.ndarray, *, params: TrainParams | None = None,
                    seed: int = 0, device: str = "cpu", progress: bool = True):
    """Train the standard binary segmenter (:data:`SEGMENTER_CONFIG`) with Dice + BCE, Adam.

    ``images`` (n, rows, cols) in [0, 1], ``masks`` the same shape, bool; rows and cols must
    be divisible by 4. Returns the MONAI ``UNet`` in eval mode; use :func:`predict_masks`.

    >>> x = np.zeros((4, 16, 16), np.float32); x[:, 4:8, 4:8] = 1
    >>> model = train_segmenter(x, x > 0.5, params=TrainParams(epochs=1), progress=False)
    >>> predict_masks(model, x).shape
    (4, 16, 16)
    """
    from synthmed.evaluate._torch import fit, require_torch, seeded, to_tensor

    require_torch()
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet

    params = params or TrainParams()
    images = np.asarray(images)
    if images.shape[1] % 4 or images.shape[2] % 4:
        raise SynthmedError(f"segmentation needs rows and cols divisible by 4, got "
                            f"{images.shape[1:]}; load the sets with such a size")
    if np.shape(masks) != images.shape:
        raise SynthmedError(f"masks {np.shape(masks)} do not match images {images.shape}")
    x, y = to_tensor(images), to_tensor(np.asarray(masks, np.float32))
    with seeded(seed, device):
        model = UNet(**SEGMENTER_CONFIG)
        return fit(model, DiceCELoss(sigmoid=True), x, y, epochs=params.epochs,
                   batch_size=params.batch_size, learning_rate=params.learning_rate, seed=seed,
                   device=device, progress=progress, description="segmenter",
                   augment_spatial=True if params.augment else None)


def predict_masks(model, images: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Foreground probability per pixel, (n, rows, cols) float64, from :func:`train_segmenter`."""
    from synthmed.evaluate._torch import predict, to_tensor

    return 1.0 / (1.0 + np.exp(-predict(model, to_tensor(images), device=device)[:, 0]))


# --------------------------------------------------------------------------- protocols
def _run(protocol, train_images, train_labels, test_set, test_side, target, *, n_real,
         n_synth, fraction, params, seed, device, progress, n_bootstrap) -> UtilityResult:
    params = params or TrainParams()
    test_labels = target.labels(test_set, test_side)
    if train_images.shape[1:] != test_set.images.shape[1:]:
        raise SynthmedError(f"training images are {train_images.shape[1:]} but test images "
                            f"{test_set.images.shape[1:]}; load both sets with the same size")
    rng = np.random.default_rng(seed)
    if target.task == "classification":
        model = train_classifier(train_images, train_labels, params=params, seed=seed,
                                 device=device, progress=progress)
        score = predict_proba(model, test_set.images, device)
        metrics = {"auc": bootstrap_ci(roc_auc, test_labels, score, n_bootstrap, rng),
                   "accuracy": bootstrap_ci(accuracy, test_labels, score, n_bootstrap, rng)}
        network = {"name": "monai.networks.nets.DenseNet", **CLASSIFIER_CONFIG}
    else:
        model = train_segmenter(train_images, train_labels, params=params, seed=seed,
                                device=device, progress=progress)
        per_image = dice(test_labels, predict_masks(model, test_set.images, device) >= 0.5)
        metrics = {"dice": bootstrap_ci(np.mean, per_image, None, n_bootstrap, rng)}
        network = {"name": "monai.networks.nets.UNet", **SEGMENTER_CONFIG}
    return UtilityResult(protocol, target.task, {"kind": type(target).__name__, **asdict(target)},
                         n_real, n_synth, len(test_set), test_side, metrics, fraction,
                         network, params.model_dump(), seed)


_DOC_KW = """
    params : TrainParams, optional
        Network training (epochs, batch size, learning rate, augmentation).
    seed : int
        Seeds training and the bootstrap: same seed, same numbers (on one device).
    device : str
        Torch device, "cpu" by default.
    n_bootstrap : int
        Bootstrap resamples of the test set for the 95 % intervals.
    progress : bool
        Show a progress bar on stderr.
"""


def tstr(synth: ImageSet, real_train: ImageSet | None, real_test: ImageSet, target, *,
         params: TrainParams | None = None, seed: int = 0, device: str = "cpu",
         n_bootstrap: int = 1000, progress: bool = True) -> UtilityResult:
    """Train on synthetic, test on real: the utility of synthetic data alone.

    ``real_train`` is not used (kept so that all protocols share a signature).
    Metrics: "auc" and "accuracy" (at 0.5) for a :class:`ClassTarget`, "dice" (mean over
    test images) for a :class:`SegTarget`, each an :class:`Estimate` with a 95 % CI.
    """
    return _run("tstr", synth.images, target.labels(synth, "synthetic"), real_test, "real",
                target, n_real=0, n_synth=len(synth), fraction=None, params=params, seed=seed,
                device=device, progress=progress, n_bootstrap=n_bootstrap)


def trtr(synth: ImageSet | None, real_train: ImageSet, real_test: ImageSet, target, *,
         params: TrainParams | None = None, seed: int = 0, device: str = "cpu",
         n_bootstrap: int = 1000, progress: bool = True) -> UtilityResult:
    """Train on real, test on real: the baseline TSTR is compared with (``synth`` unused)."""
    return _run("trtr", real_train.images, target.labels(real_train, "real"), real_test, "real",
                target, n_real=len(real_train), n_synth=0, fraction=0.0, params=params,
                seed=seed, device=device, progress=progress, n_bootstrap=n_bootstrap)


def trts(synth: ImageSet, real_train: ImageSet, real_test: ImageSet | None, target, *,
         params: TrainParams | None = None, seed: int = 0, device: str = "cpu",
         n_bootstrap: int = 1000, progress: bool = True) -> UtilityResult:
    """Train on real, test on synthetic: do synthetic labels agree with real ones?

    A low score with a good TSTR suggests synthetic images that are easier or labelled
    differently. ``real_test`` is not used.
    """
    return _run("trts", real_train.images, target.labels(real_train, "real"), synth,
                "synthetic", target, n_real=len(real_train), n_synth=0, fraction=None,
                params=params, seed=seed, device=device, progress=progress,
                n_bootstrap=n_bootstrap)


def mixing_curve(synth: ImageSet, real_train: ImageSet, real_test: ImageSet, target,
                 fractions: Sequence[float] = (0, 0.25, 0.5, 1.0), *,
                 params: TrainParams | None = None, seed: int = 0, device: str = "cpu",
                 n_bootstrap: int = 1000, progress: bool = True) -> list[UtilityResult]:
    """Real training set plus synthetic images, ``fraction`` x its size, tested on real.

    The synthetic images are one random draw without replacement, so larger fractions
    contain the smaller ones. Raises when the synthetic set is too small for a fraction.
    Returns one :class:`UtilityResult` per fraction (fraction 0 is :func:`trtr`).
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(synth))
    y_real, y_synth = target.labels(real_train, "real"), target.labels(synth, "synthetic")
    results = []
    for fraction in fractions:
        k = int(round(fraction * len(real_train)))
        if k > len(synth):
            raise SynthmedError(f"mixing fraction {fraction} needs {k} synthetic images but the "
                                f"synthetic set has {len(synth)}; generate more or lower it")
        idx = order[:k]
        images = np.concatenate([real_train.images, synth.images[idx]])
        labels = np.concatenate([y_real, y_synth[idx]])
        results.append(_run("mixing", images, labels, real_test, "real", target,
                            n_real=len(real_train), n_synth=k, fraction=float(fraction),
                            params=params, seed=seed, device=device, progress=progress,
                            n_bootstrap=n_bootstrap))
    return results


for _f in (tstr, trtr, trts, mixing_curve):
    if _f.__doc__:  # None under python -OO
        _f.__doc__ += "\n    Parameters\n    ----------" + _DOC_KW


# --------------------------------------------------------------------------- C2ST
def fit_logistic(x: np.ndarray, y, l2: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """L2-regularised logistic regression (L-BFGS); returns ``predict(x) -> probability``.

    Features are standardised with the training mean and standard deviation; ``l2`` is the
    penalty on the weights per training sample-sum (as scikit-learn's ``1 / C``).

    >>> x = np.array([[0.], [1.], [2.], [3.]])
    >>> p = fit_logistic(x, [0, 0, 1, 1])(x)
    >>> bool(p[0] < 0.5 < p[3])
    True
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])

    def loss(w):
        t = z @ w
        val = np.sum(np.logaddexp(0, t) - y * t) + 0.5 * l2 * w[:-1] @ w[:-1]
        grad = z.T @ (1 / (1 + np.exp(-t)) - y)
        grad[:-1] += l2 * w[:-1]
        return val, grad

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x

    def predict(x_new):
        z_new = (np.asarray(x_new, np.float64) - mean) / std
        return 1 / (1 + np.exp(-(z_new @ w[:-1] + w[-1])))

    return predict


def classifier_two_sample_test(real, synth, *, model: str = "cnn",
                               features: Callable[[np.ndarray], np.ndarray] | None = None,
                               k: int = 5, max_per_set: int | None = 500,
                               params: TrainParams | None = None, l2: float = 1.0,
                               seed: int = 0, device: str = "cpu", n_bootstrap: int = 1000,
                               progress: bool = True) -> dict:
    """Classifier two-sample test: held-out AUC of telling real (1) from synthetic (0).

    A balanced sample (the smaller set's size, at most ``max_per_set`` each) is split into
    ``k`` stratified folds; each fold is scored by a classifier trained on the others and the
    pooled out-of-fold scores give the AUC with a bootstrap 95 % CI. AUC near 0.5: the
    classifier cannot tell them apart; near 1: trivially separable.

    Parameters
    ----------
    real, synth : ImageSet or ndarray
        Image sets, or feature arrays (n, d) for ``model="logistic"``.
    model : {"cnn", "logistic"}
        The standard DenseNet on the images, or logistic regression on feature vectors
        (seconds): ``features(images) -> (n, d)`` if given, else the arrays themselves, else
        the images averaged down to 16 x 16 pixels.
    k : int
        Folds (3 to 10).

    Returns
    -------
    dict
        {"auc": Estimate as dict, "n_per_set", "k", "model", "features", "seed"}.

    >>> rng = np.random.default_rng(0)
    >>> r = classifier_two_sample_test(rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) + 3,
    ...                                model="logistic", progress=False)
    >>> r["auc"]["value"] > 0.95
    True
    """
    if not 3 <= k <= 10:
        raise SynthmedError(f"k must be between 3 and 10 folds, got {k}")
    if model not in ("cnn", "logistic"):
        raise SynthmedError(f"model must be 'cnn' or 'logistic', got {model!r}")
    rng = np.random.default_rng(seed)
    a = real.images if isinstance(real, ImageSet) else np.asarray(real)
    b = synth.images if isinstance(synth, ImageSet) else np.asarray(synth)
    m = min(len(a), len(b), max_per_set or len(a) + len(b))
    if m < k:
        raise SynthmedError(f"a two-sample test with {k} folds needs at least {k} images per "
                            f"set, got {len(a)} real and {len(b)} synthetic")
    a = a[np.sort(rng.choice(len(a), m, replace=False))]
    b = b[np.sort(rng.choice(len(b), m, replace=False))]
    x, y = np.concatenate([a, b]), np.repeat([1, 0], m)
    feature_name = "images"
    if model == "logistic":
        if features is not None:
            x, feature_name = np.asarray(features(x), np.float64).reshape(len(x), -1), "given"
        elif x.ndim == 3:
            x, feature_name = _block_mean(x, 16).reshape(len(x), -1), "pixels 16x16"
        else:
            feature_name = "given"
    fold = np.empty(2 * m, int)
    for cls in (0, 1):  # stratified: each fold has as many real as synthetic
        idx = np.flatnonzero(y == cls)
        fold[rng.permutation(idx)] = np.arange(m) % k
    score = np.empty(2 * m)
    for f in range(k):
        tr, te = fold != f, fold == f
        if model == "logistic":
            score[te] = fit_logistic(x[tr], y[tr], l2)(x[te])
        else:
            net = train_classifier(x[tr], y[tr], params=params, seed=seed + f, device=device,
                                   progress=progress)
            score[te] = predict_proba(net, x[te], device)
    auc = bootstrap_ci(roc_auc, y, score, n_bootstrap, rng)
    return {"auc": asdict(auc), "n_per_set": int(m), "k": k, "model": model,
            "features": feature_name, "seed": seed}


def _block_mean(images: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize

    n = len(images)
    return resize(np.asarray(images, np.float64), (n, size, size), order=1, anti_aliasing=True)
