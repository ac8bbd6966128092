"""``synthmed evaluate``: every metric on a synthetic set (and a real one), one report.

>>> from synthmed.evaluate.suite import evaluate
>>> page = evaluate("out/", "out/report", real="real_images/")   # doctest: +SKIP

Sections of ``metrics.json`` (and of ``report.html``):

- ``data``: the sets, their sizes and the image size they were compared at;
- ``features``: which extractor made the feature vectors (numbers are only comparable
  between reports that used the same one);
- ``fidelity``: FID, KID, precision/recall, density/coverage, pixel-histogram distances,
  diversity (mean pairwise MS-SSIM) of each set;
- ``realism``: classifier two-sample test (held-out AUC of telling real from synthetic);
- ``utility``: train on synthetic, test on real, and mixing curves (needs
  ``synthmed[learned]`` and a ``target``);
- ``privacy``: for generators trained on real data (``train`` = that training set, ``real``
  = held-out real images): distance ratio, near copies, membership-inference AUC;
- ``bias``: fidelity per subgroup (age band, sex, view, site...) and its spread;
- ``figures``: the data of every plot in the report.
"""

from __future__ import annotations

import numpy as np

from synthmed import __version__
from synthmed.errors import SynthmedError
from synthmed.evaluate import bias, fidelity, privacy
from synthmed.evaluate.data import ImageSet, load_image_set
from synthmed.evaluate.features import describe, extract_features
from synthmed.evaluate.report import write_report

__all__ = ["evaluate", "parse_target", "parse_subgroup"]

GRID = 16  # images per sample grid


def parse_target(text: str):
    """``SYNTH[=REAL[:V1,V2]]`` -> a class target, e.g. ``pneumonia=finding:Pneumonia,COVID-19``."""
    from synthmed.evaluate.utility import ClassTarget

    synth, _, rest = text.partition("=")
    real, _, values = rest.partition(":")
    if not synth:
        raise SynthmedError(f"--target {text!r}: give SYNTHETIC_ATTRIBUTE[=REAL_ATTRIBUTE"
                            "[:POSITIVE,VALUES]], e.g. pneumonia=finding:Pneumonia")
    positive = tuple(v.strip() for v in values.split(",") if v.strip()) or None
    return ClassTarget(synth, real or None, real_positive=positive)


def parse_subgroup(text: str) -> tuple[str, str]:
    """``NAME`` or ``SYNTH_NAME=REAL_NAME`` -> (synthetic attribute, real attribute)."""
    synth, _, real = text.partition("=")
    return synth, real or synth


def evaluate(synthetic, out_dir, *, real=None, train=None, features: str = "radiomics",
             size: tuple[int, int] = (128, 128), max_images: int | None = None,
             target: str | None = None, subgroups: tuple[str, ...] = (), seed: int = 0,
             progress: bool = True, command: str = ""):
    """Measure ``synthetic`` (against ``real``) and write ``report.html`` + ``metrics.json``.

    Parameters
    ----------
    synthetic, real, train : path
        A synthmed dataset or a folder of images (``real`` and ``train`` optional).
        ``train`` is the real set a learned generator was trained on (privacy metrics);
        ``real`` is then a held-out real set.
    features : str
        ``radiomics`` (default, hand-crafted), ``learned`` (a small network trained
        self-supervised on ``real`` and cached) or ``torchscript:PATH``.
    size : (int, int)
        Rows, cols every image is resized to before measuring.
    target : str, optional
        Class for utility, ``SYNTH[=REAL[:POSITIVE,...]]``.
    subgroups : tuple of str
        Attributes for the bias breakdown, ``NAME`` or ``SYNTH_NAME=REAL_NAME``.

    Returns the path of ``report.html``.
    """
    synth = load_image_set(synthetic, size, max_images)
    ref = load_image_set(real, size, max_images) if real is not None else None
    metrics: dict = {"command": command, "synthmed": __version__, "seed": seed,
                     "data": {"synthetic": str(synthetic), "n_synthetic": len(synth),
                              "real": str(real) if real else None,
                              "n_real": len(ref) if ref else 0,
                              "image_size": list(size)},
                     "figures": {}}
    figures, images = metrics["figures"], {}
    figures["synthetic_samples"] = _samples(synth, "synthetic_samples", "Synthetic images",
                                            images, seed)
    fid_synth = fid_real = None
    if ref is not None:
        figures["real_samples"] = _samples(ref, "real_samples", "Real images", images, seed)
        extract = _extractor(features, ref, seed, progress)
        fid_real, fid_synth = extract(ref.images), extract(synth.images)
        metrics["features"] = {"method": features, "description": _describe(features),
                               "dimensions": int(fid_real.shape[1])}
        metrics["fidelity"] = _fidelity(ref, synth, fid_real, fid_synth, seed, figures)
        metrics["realism"] = _realism(fid_real, fid_synth, seed)
        if subgroups:
            metrics["bias"] = _bias(ref, synth, fid_real, fid_synth, subgroups, figures)
    else:
        metrics["fidelity"] = {"diversity_synthetic": fidelity.diversity(
            synth.images, rng=np.random.default_rng(seed))}
    if target is not None:
        if ref is None:
            raise SynthmedError("--target needs --real: utility is measured on real images")
        metrics["utility"] = _utility(synth, ref, target, seed, progress, figures)
    if train is not None:
        if ref is None:
            raise SynthmedError("--train needs --real (a held-out real set) for privacy")
        train_set = load_image_set(train, size, max_images)
        metrics["privacy"] = _privacy(synth, train_set, ref, extract, images, figures)
    metrics["verdict"] = _verdict(metrics)
    return write_report(metrics, out_dir, images)


def _extractor(method: str, ref: ImageSet, seed: int, progress: bool):
    if method == "learned":
        from synthmed.evaluate._torch import cached_feature_extractor

        return cached_feature_extractor(ref, seed=seed, progress=progress)
    return lambda imgs: extract_features(imgs, method)


def _describe(method: str) -> str:
    if method == "learned":
        return ("a small CNN trained self-supervised on the real set given here and cached; "
                "numbers compare only between reports with the same real set")
    return describe(method)


def _samples(s: ImageSet, fid: str, title: str, images: dict, seed: int) -> dict:
    """A grid of up to GRID images of ``s``, drawn into ``images[fid]``; ids for the JSON."""
    pick = np.sort(np.random.default_rng(seed).permutation(len(s))[:GRID])
    images[fid] = [s.images[i] for i in pick]
    return {"kind": "samples", "title": title, "ids": [s.ids[i] for i in pick]}


def _fidelity(ref, synth, f_real, f_synth, seed, figures) -> dict:
    rng = np.random.default_rng(seed)
    out = dict(fidelity.compare_features(f_real, f_synth, rng=np.random.default_rng(seed)))
    out["histogram"] = fidelity.histogram_distances(ref.images, synth.images)
    out["diversity_real"] = fidelity.diversity(ref.images, rng=rng)
    out["diversity_synthetic"] = fidelity.diversity(synth.images, rng=rng)
    edges = np.linspace(0, 1, 65)
    figures["pixel_histograms"] = {
        "kind": "histograms", "title": "Pixel intensity", "xlabel": "grey level",
        "ylabel": "density", "bin_edges": edges.tolist(), "series": {
            "real": np.histogram(ref.images, edges, density=True)[0].tolist(),
            "synthetic": np.histogram(synth.images, edges, density=True)[0].tolist()}}
    real_std, synth_std = fidelity.standardise(f_real, f_synth)
    _, _, vt = np.linalg.svd(real_std - real_std.mean(0), full_matrices=False)
    figures["feature_pca"] = {
        "kind": "scatter", "title": "Features, first two principal axes of the real set",
        "xlabel": "PC1", "ylabel": "PC2", "series": {
            "real": (real_std @ vt[:2].T).round(4).tolist(),
            "synthetic": (synth_std @ vt[:2].T).round(4).tolist()}}
    keys = [k for k in ("precision", "recall", "density", "coverage") if k in out]
    figures["fidelity_scores"] = {"kind": "bars", "title": "Precision, recall, density, coverage",
                                  "labels": keys, "values": [float(out[k]) for k in keys]}
    return out


def _realism(f_real, f_synth, seed) -> dict:
    from synthmed.evaluate.utility import classifier_two_sample_test

    real_std, synth_std = fidelity.standardise(f_real, f_synth)
    c2st = classifier_two_sample_test(real_std, synth_std, model="logistic", seed=seed,
                                      progress=False)
    return {"c2st_auc": c2st["auc"], "c2st_model": "logistic regression on the features",
            "n_per_set": c2st["n_per_set"]}


def _bias(ref, synth, f_real, f_synth, subgroups, figures) -> dict:
    out = {}
    f_real, f_synth = fidelity.standardise(f_real, f_synth)  # as compare_features does
    for text in subgroups:
        s_name, r_name = parse_subgroup(text)
        for side, s, name in (("synthetic", synth, s_name), ("real", ref, r_name)):
            if name not in s.attributes:
                raise SynthmedError(f"--subgroup {text}: the {side} set has no attribute "
                                    f"{name!r}; it has {sorted(s.attributes)}")
        result = bias.by_subgroup(
            lambda a, b: fidelity.precision_recall(a, b) | fidelity.density_coverage(a, b),
            (f_real, {s_name: ref.attributes[r_name]}), (f_synth, synth.attributes), s_name)
        out[s_name] = result
        figures[f"bias_{s_name}"] = {
            "kind": "groups", "title": f"Coverage by {s_name}", "ylabel": "coverage",
            "values": {g: v["value"]["coverage"] for g, v in result["groups"].items()}}
    return out


def _utility(synth, ref, target, seed, progress, figures) -> dict:
    from synthmed.evaluate import utility

    tgt = parse_target(target)
    real_train, real_test = utility.train_test_split(ref, seed=seed, target=tgt)
    curve = utility.mixing_curve(synth, real_train, real_test, tgt, seed=seed,
                                 progress=progress)
    tstr = utility.tstr(synth, real_train, real_test, tgt, seed=seed, progress=progress)
    rows = [r.to_dict() for r in curve]
    figures["mixing_curve"] = {
        "kind": "curve", "title": f"Test AUC on real images ({tgt.synthetic})",
        "xlabel": "synthetic added (fraction of real training set)", "ylabel": "AUC",
        "x": [r["synthetic_fraction"] for r in rows],
        "series": {"AUC": [r["metrics"]["auc"]["value"] for r in rows]}}
    return {"target": target, "tstr": tstr.to_dict(), "mixing_curve": rows}


def _privacy(synth, train, holdout, extract, images, figures) -> dict:
    f_s, f_t, f_h = extract(synth.images), extract(train.images), extract(holdout.images)
    ratio = privacy.distance_ratio(f_s, f_t, f_h)
    copies = privacy.memorisation(synth.images, train.images)
    pairs = [img for c in copies[:8] for img in (synth.images[c.synthetic_index],
                                                  train.images[c.train_index])]
    images["near_copies"] = pairs
    figures["near_copies"] = {
        "kind": "samples", "title": "Near copies: synthetic beside its training image",
        "ids": [[synth.ids[c.synthetic_index], train.ids[c.train_index]] for c in copies[:8]]}
    return {"distance_ratio_median": ratio["median"],
            "distance_ratio_fraction_below_1": ratio["fraction_below_1"],
            "near_copies": len(copies),
            "membership_inference_auc": privacy.membership_inference_auc(f_s, f_t, f_h)}


def _verdict(m: dict) -> list[str]:
    lines = []
    fid = m.get("fidelity", {})
    if "c2st_auc" in m.get("realism", {}):
        auc = m["realism"]["c2st_auc"]["value"]
        word = ("cannot tell them apart" if auc < 0.6 else "tells them apart sometimes"
                if auc < 0.8 else "tells them apart easily")
        lines.append(f"Realism: a classifier on {m['features']['method']} features "
                     f"{word} (AUC {auc:.2f}; 0.5 = indistinguishable, 1 = always).")
    if "coverage" in fid:
        lines.append(f"Variety: synthetic images cover {100 * fid['coverage']:.0f} % of the "
                     f"real images' neighbourhoods; precision {fid['precision']:.2f}, "
                     f"recall {fid['recall']:.2f}.")
    if "diversity_synthetic" in fid:
        d = fid["diversity_synthetic"]
        ref = fid.get("diversity_real")
        lines.append(f"Diversity: mean pairwise MS-SSIM {d:.2f} among synthetic images"
                     + (f" vs {ref:.2f} among real ones (higher = more alike)." if ref else
                        " (higher = more alike; near 1 suggests mode collapse)."))
    if "utility" in m:
        t = m["utility"]["tstr"]["metrics"]["auc"]
        lines.append(f"Utility: trained on synthetic only, the classifier reaches AUC "
                     f"{t['value']:.2f} (95 % CI {t['ci_low']:.2f}–{t['ci_high']:.2f}) on real "
                     "test images.")
    if "privacy" in m:
        p = m["privacy"]
        lines.append(f"Privacy: {p['near_copies']} near copies of training images; "
                     f"membership inference AUC {p['membership_inference_auc']:.2f} "
                     "(0.5 = no leak).")
    if m["data"]["real"] is None:
        lines.append("No real set was given: fidelity, realism and utility need --real.")
    return lines
