"""Results of a reader study: read the answers with the key, summarise, export CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

from synthmed._io import atomic_write_text
from synthmed.review.stats import (agreement_table, detection_scores, fleiss_kappa,
                                   grade_matrix, icc_2_1, mean_pairwise_weighted_kappa, roc_auc)
from synthmed.review.study import connect, read_settings

__all__ = ["study_results", "results_csv", "write_results_csv", "CSV_COLUMNS"]

CSV_COLUMNS = ("reader", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "p_value",
               "sensitivity", "sensitivity_ci_low", "sensitivity_ci_high", "specificity",
               "specificity_ci_low", "specificity_ci_high", "roc_auc")


def study_results(study: str | Path) -> dict:
    """Per-reader and pooled detection scores (with the ROC AUC of the confidence-signed
    calls), Fleiss' kappa of the real/synthetic calls on items every reader called, grading
    agreement on real and on synthetic items (mean pairwise quadratic-weighted kappa, and
    ICC(2,1) on the items every reader graded), and every answer with its item's origin.

    The pooled binomial test treats answers as independent (it ignores that one reader
    gives many answers); read it beside the per-reader tests.
    """
    con = connect(study)
    try:
        rows = con.execute(
            "SELECT a.reader_id, a.item_id, i.origin, a.call, a.confidence, a.grade, a.comment "
            "FROM answers a JOIN items i ON i.id = a.item_id ORDER BY a.reader_id, a.answered_at"
        ).fetchall()
        readers = [r for (r,) in con.execute("SELECT id FROM readers ORDER BY id")]
        assigned = dict(con.execute("SELECT reader_id, COUNT(*) FROM assignments GROUP BY reader_id"))
        settings = read_settings(con)
    finally:
        con.close()
    answers = [dict(zip(("reader", "item", "origin", "call", "confidence", "grade", "comment"), r))
               for r in rows]
    called = [a for a in answers if a["call"]]
    per_reader = {}
    for r in readers:
        mine = [a for a in called if a["reader"] == r]
        per_reader[r] = {**_scores(mine),
                         "answered": sum(a["reader"] == r for a in answers),
                         "assigned": assigned.get(r, 0)}
    calls = defaultdict(dict)
    for a in called:
        calls[a["reader"]][a["item"]] = a["call"]
    table = agreement_table({r: calls[r] for r in readers})
    grades = {o: defaultdict(dict) for o in ("real", "synthetic")}
    for a in answers:
        if a["grade"] is not None:
            grades[a["origin"]][a["reader"]][a["item"]] = a["grade"]
    return {"task": settings["task"], "grade_name": settings["grade_name"],
            "grade_max": int(settings["grade_max"]),
            "readers": per_reader,
            "pooled": _scores(called),
            "fleiss_kappa": {"kappa": fleiss_kappa(table) if len(table) else float("nan"),
                             "items": len(table), "readers": len(readers)},
            "grade_kappa": {o: mean_pairwise_weighted_kappa(dict(g)) for o, g in grades.items()},
            "grade_icc": {o: _icc(grade_matrix(g, readers)) for o, g in grades.items()},
            "answers": answers}


def results_csv(results: dict) -> str:
    """One CSV row per reader and one for everyone pooled (reader ``all``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, s in [*results["readers"].items(), ("all", results["pooled"])]:
        writer.writerow([name, s["n"], *_triple(s["accuracy"]), s["p_value"],
                         *_triple(s["sensitivity"]), *_triple(s["specificity"]), s["roc_auc"]])
    return buf.getvalue()


def write_results_csv(results: dict, path: str | Path) -> None:
    """Write :func:`results_csv` to ``path`` atomically."""
    atomic_write_text(path, results_csv(results))


def _triple(p: dict) -> tuple[float, float, float]:
    return p["value"], p["ci_low"], p["ci_high"]


def _scores(answers: list[dict]) -> dict:
    truth, calls = [a["origin"] for a in answers], [a["call"] for a in answers]
    return {**detection_scores(truth, calls),
            "roc_auc": roc_auc(truth, calls, [a["confidence"] for a in answers])}


def _icc(matrix) -> dict:
    items, readers = matrix.shape
    icc = icc_2_1(matrix) if items >= 2 and readers >= 2 else float("nan")
    return {"icc": icc, "items": items, "readers": readers}
