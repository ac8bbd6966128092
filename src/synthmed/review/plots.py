"""Plots of a reader study's results as SVG text (matplotlib, no pyplot, no global state).

The owner's page shows them as ``<img>`` from owner-token routes: the pages' Content
Security Policy forbids the inline styles that matplotlib's SVG uses.
"""

from __future__ import annotations

import io
import math

import numpy as np

from synthmed.review.stats import confidence_scores

__all__ = ["accuracy_svg", "roc_svg"]


def accuracy_svg(results: dict) -> str:
    """Accuracy of each reader and pooled, with exact 95 % intervals, against chance (0.5).

    Parameters
    ----------
    results : dict
        As made by :func:`synthmed.review.results.study_results`.

    >>> accuracy_svg(study_results("study/")).startswith("<?xml")  # doctest: +SKIP
    True
    """
    rows = [(f"reader {r}", s["accuracy"]) for r, s in results["readers"].items()]
    rows.append(("pooled", results["pooled"]["accuracy"]))
    fig, ax = _figure(5.5, 1.2 + 0.28 * len(rows))
    for y, (_, p) in enumerate(rows):
        if not math.isnan(p["value"]):
            ax.errorbar(p["value"], y, xerr=[[p["value"] - p["ci_low"]], [p["ci_high"] - p["value"]]],
                        fmt="o", color="black" if y == len(rows) - 1 else "#2a6fdb", capsize=3)
    ax.axvline(0.5, color="grey", linestyle="--", label="chance (0.5)")
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (95 % CI)")
    ax.legend(loc="lower right", fontsize="small")
    return _svg(fig)


def roc_svg(results: dict) -> str:
    """ROC curve of "synthetic" calls, pooled over readers, scored ``±confidence``, with AUC.

    >>> roc_svg(study_results("study/")).startswith("<?xml")  # doctest: +SKIP
    True
    """
    from sklearn.metrics import roc_curve

    called = [a for a in results["answers"] if a["call"]]
    truth = np.array([a["origin"] == "synthetic" for a in called], bool)
    fig, ax = _figure(4.2, 4.2)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance (AUC 0.5)")
    auc = results["pooled"]["roc_auc"]
    if not math.isnan(auc):
        scores = confidence_scores([a["call"] for a in called], [a["confidence"] for a in called])
        fpr, tpr, _ = roc_curve(truth, scores)
        ax.plot(fpr, tpr, color="#2a6fdb", marker="o", label=f"pooled (AUC {auc:.3f})")
    ax.set_xlabel("1 - specificity (real called synthetic)")
    ax.set_ylabel("sensitivity (synthetic called synthetic)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize="small")
    return _svg(fig)


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    return fig, fig.add_subplot()


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
