"""HTML of the reader page and the owner's results page (every value escaped, no CDN)."""

from __future__ import annotations

import math
from html import escape

__all__ = ["reader_page", "owner_page"]

HEAD = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<title>{title}</title><link rel="stylesheet" href="/static/review.css"></head>')


def reader_page(token: str, csrf: str, task: str, grade_max: int) -> str:
    """The reader's page: one image at a time; ``reader.js`` fetches items and posts answers.

    >>> "data-task=\\"turing\\"" in reader_page("t", "c", "turing", 4)
    True
    """
    call = ('<fieldset id="call"><legend>Real or synthetic?</legend>'
            '<button type="button" data-call="real">Real <kbd>R</kbd></button>'
            '<button type="button" data-call="synthetic">Synthetic <kbd>S</kbd></button>'
            '</fieldset><fieldset id="confidence"><legend>Confidence</legend>'
            + "".join(f'<button type="button" data-confidence="{i}">{i} <kbd>{i}</kbd></button>'
                      for i in range(1, 6))
            + '</fieldset>') if task != "grade" else ""
    grade = ('<label>Grade <select id="grade"><option value="">-</option>'
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


def owner_page(results: dict) -> str:
    """The owner's results page: scores per reader and pooled, agreement, every answer."""
    rows = "".join(_score_row(f"reader {r}", s) for r, s in results["readers"].items())
    fk = results["fleiss_kappa"]
    gk = results["grade_kappa"]
    answers = "".join(
        "<tr>" + "".join(f"<td>{escape(_text(a[k]))}</td>" for k in
                         ("reader", "item", "origin", "call", "confidence", "grade", "comment"))
        + "</tr>" for a in results["answers"])
    return (HEAD.format(title="Reader study results") + '<body class="light"><main id="results">'
            f'<h1>Reader study results</h1><p>Task: {escape(results["task"])}. '
            '"Positive" is synthetic: sensitivity is the share of synthetic images called '
            'synthetic, specificity the share of real images called real. Intervals are exact '
            '(Clopper&ndash;Pearson) 95&nbsp;%; p is a two-sided exact binomial test of '
            'accuracy against 0.5.</p>'
            '<table id="scores"><thead><tr><th>reader</th><th>answers</th><th>accuracy</th>'
            '<th>p</th><th>sensitivity</th><th>specificity</th></tr></thead><tbody>'
            + rows + _score_row("pooled", results["pooled"]) + '</tbody></table>'
            f'<p id="fleiss">Fleiss&#39; kappa (real/synthetic calls, {fk["items"]} items read '
            f'by all {fk["readers"]} readers): <b>{_num(fk["kappa"])}</b></p>'
            f'<p id="grade-kappa">Grading agreement, mean pairwise quadratic-weighted kappa: '
            f'real {_num(gk["real"]["kappa"])} ({gk["real"]["pairs"]} reader pairs), '
            f'synthetic {_num(gk["synthetic"]["kappa"])} ({gk["synthetic"]["pairs"]} pairs)</p>'
            '<h2>Answers</h2><table id="answers"><thead><tr><th>reader</th><th>item</th>'
            '<th>origin</th><th>call</th><th>confidence</th><th>grade</th><th>comment</th>'
            f'</tr></thead><tbody>{answers}</tbody></table></main></body></html>')


def _score_row(name: str, s: dict) -> str:
    cells = [escape(name), str(s["n"]), _ci(s["accuracy"]), _num(s["p_value"]),
             _ci(s["sensitivity"]), _ci(s["specificity"])]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _ci(p: dict) -> str:
    return f'{_num(p["value"])} ({_num(p["ci_low"])}&ndash;{_num(p["ci_high"])})'


def _num(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.3f}"


def _text(value) -> str:
    return "" if value is None else str(value)
