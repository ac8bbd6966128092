"""HTML of the reader page and the owner's results page (every value escaped, no CDN)."""

from __future__ import annotations

import math
from html import escape

__all__ = ["reader_page", "owner_page"]

HEAD = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{title}</title><link rel="stylesheet" href="/static/review.css"></head>')


def reader_page(token: str, csrf: str, task: str, grade_max: int, grade_name: str = "grade") -> str:
    """The reader's page: one image at a time; ``reader.js`` fetches items and posts answers.

    >>> "data-task=\\"turing\\"" in reader_page("t", "c", "turing", 4)
    True
    >>> ">KL grade (0-4) <select" in reader_page("t", "c", "both", 4, "KL grade")
    True
    """
    call = ('<fieldset id="call"><legend>Real or synthetic?</legend>'
            '<button type="button" data-call="real">Real <kbd>R</kbd></button>'
            '<button type="button" data-call="synthetic">Synthetic <kbd>S</kbd></button>'
            '</fieldset><fieldset id="confidence"><legend>Confidence</legend>'
            + "".join(f'<button type="button" data-confidence="{i}">{i} <kbd>{i}</kbd></button>'
                      for i in range(1, 6))
            + '</fieldset>') if task != "grade" else ""
    grade = (f'<label>{escape(grade_name)} (0-{grade_max}) <select id="grade"><option value="">-</option>'
             + "".join(f'<option value="{g}">{g}</option>' for g in range(grade_max + 1))
             + '</select></label>') if task != "turing" else ""
    return (HEAD.format(title="Reader study")
            + f'<body data-token="{escape(token)}" data-csrf="{escape(csrf)}" '
              f'data-task="{escape(task)}"><main id="reader">'
              '<p id="progress" aria-live="polite"></p>'
              '<div id="viewport"><img id="image" alt="study image"></div>'
              '<div id="display"><label>Zoom <input id="zoom" type="range" min="1" max="4" '
              'step="0.25" value="1"></label><label>Level <input id="level" type="range" '
              'min="0.2" max="2" step="0.05" value="1"></label><label>Window <input id="window" '
              'type="range" min="0.2" max="3" step="0.05" value="1"></label>'
              '<button type="button" id="reset">Reset view <kbd>0</kbd></button></div>'
              f'<form id="answer">{call}{grade}'
              '<label>Comment <textarea id="comment" maxlength="2000" rows="2"></textarea></label>'
              '<button type="submit" id="submit">Save and next <kbd>Enter</kbd></button>'
              '<p id="message" role="status"></p></form>'
              '<p id="done" hidden>Thank you: every image is answered.</p></main>'
              '<script src="/static/reader.js"></script></body></html>')


def owner_page(results: dict, base: str) -> str:
    """The owner's results page: scores per reader and pooled, agreement, plots (from
    ``BASE/accuracy.svg`` and ``BASE/roc.svg``), every answer."""
    rows = "".join(_score_row(f"reader {r}", s) for r, s in results["readers"].items())
    fk = results["fleiss_kappa"]
    gk, icc = results["grade_kappa"], results["grade_icc"]
    grade = escape(results["grade_name"])
    base = escape(base)
    answers = "".join(
        "<tr>" + "".join(f"<td>{escape(_text(a[k]))}</td>" for k in
                         ("reader", "item", "origin", "call", "confidence", "grade", "comment"))
        + "</tr>" for a in results["answers"])
    return (HEAD.format(title="Reader study results") + '<body class="light"><main id="results">'
            f'<h1>Reader study results</h1><p>Task: {escape(results["task"])}. '
            '"Positive" is synthetic: sensitivity is the share of synthetic images called '
            'synthetic, specificity the share of real images called real. Intervals are exact '
            '(Clopper&ndash;Pearson) 95&nbsp;%; p is a two-sided exact binomial test of '
            'accuracy against 0.5. ROC AUC scores each call by its confidence: +1..+5 for '
            '"synthetic", -1..-5 for "real" (0.5: chance).</p>'
            '<table id="scores"><thead><tr><th>reader</th><th>answers</th><th>accuracy</th>'
            '<th>p</th><th>sensitivity</th><th>specificity</th><th>ROC AUC</th></tr></thead>'
            '<tbody>'
            + rows + _score_row("pooled", results["pooled"]) + '</tbody></table>'
            f'<p id="fleiss">Fleiss&#39; kappa (real/synthetic calls, {fk["items"]} items read '
            f'by all {fk["readers"]} readers): <b>{_num(fk["kappa"])}</b></p>'
            f'<p id="grade-kappa">{grade} (0&ndash;{results["grade_max"]}) agreement, mean '
            f'pairwise quadratic-weighted kappa: real {_num(gk["real"]["kappa"])} '
            f'({gk["real"]["pairs"]} reader pairs), synthetic {_num(gk["synthetic"]["kappa"])} '
            f'({gk["synthetic"]["pairs"]} pairs)</p>'
            f'<p id="grade-icc">{grade} agreement, ICC(2,1) (two-way random, absolute '
            f'agreement; Shrout &amp; Fleiss 1979) on items graded by all '
            f'{icc["real"]["readers"]} readers: real <b>{_num(icc["real"]["icc"])}</b> '
            f'({icc["real"]["items"]} items), synthetic <b>{_num(icc["synthetic"]["icc"])}</b> '
            f'({icc["synthetic"]["items"]} items)</p>'
            f'<figure><img id="accuracy-plot" src="{base}/accuracy.svg" alt="accuracy per '
            f'reader with 95 % intervals against chance"><img id="roc-plot" src="{base}/roc.svg" '
            'alt="ROC curve of synthetic calls scored by confidence"></figure>'
            '<h2>Answers</h2><table id="answers"><thead><tr><th>reader</th><th>item</th>'
            f'<th>origin</th><th>call</th><th>confidence</th><th>{grade}</th><th>comment</th>'
            f'</tr></thead><tbody>{answers}</tbody></table></main></body></html>')


def _score_row(name: str, s: dict) -> str:
    cells = [escape(name), str(s["n"]), _ci(s["accuracy"]), _num(s["p_value"]),
             _ci(s["sensitivity"]), _ci(s["specificity"]), _num(s["roc_auc"])]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _ci(p: dict) -> str:
    return f'{_num(p["value"])} ({_num(p["ci_low"])}&ndash;{_num(p["ci_high"])})'


def _num(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.3f}"


def _text(value) -> str:
    return "" if value is None else str(value)
