"""The evaluation report: ``report.html`` (self-contained, offline) beside ``metrics.json``.

Every plot is drawn only from ``metrics["figures"][figure_id]``, the data that
``metrics.json`` holds, so each figure can be checked and redrawn from the JSON. Sample
grids name the ids of the images they show in the same place.

>>> metrics = {"verdict": ["Example."], "figures": {"scores": {"kind": "bars",
...            "title": "Scores", "labels": ["a", "b"], "values": [0.5, 0.9]}}}
>>> html = render_html(metrics, images={})
>>> 'data-figure="scores"' in html
True
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from synthmed import __version__
from synthmed._io import atomic_write_text

__all__ = ["render_html", "write_report", "figure_png"]


def figure_png(fig_data: dict[str, Any]) -> bytes:
    """Draw one figure from its JSON data (kinds: bars, histograms, scatter, curve, groups)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4), dpi=100)
    kind = fig_data["kind"]
    if kind == "bars":
        ax.bar(fig_data["labels"], fig_data["values"], color="#4c72b0")
        ax.set_ylim(0, max(1.0, *fig_data["values"]) * 1.05)
    elif kind == "histograms":
        edges = np.asarray(fig_data["bin_edges"])
        for name, counts in fig_data["series"].items():
            ax.stairs(counts, edges, label=name, linewidth=1.5)
        ax.legend()
    elif kind == "scatter":
        for name, pts in fig_data["series"].items():
            pts = np.asarray(pts).reshape(-1, 2)
            ax.scatter(pts[:, 0], pts[:, 1], s=10, alpha=0.6, label=name)
        ax.legend()
    elif kind == "curve":
        for name, ys in fig_data["series"].items():
            ax.plot(fig_data["x"], ys, marker="o", label=name)
        ax.legend()
    elif kind == "groups":
        groups = list(fig_data["values"])
        ax.bar(groups, [fig_data["values"][g] for g in groups], color="#55a868")
    else:
        raise ValueError(f"unknown figure kind {kind!r}")
    ax.set_title(fig_data.get("title", ""), fontsize=10)
    ax.set_xlabel(fig_data.get("xlabel", ""))
    ax.set_ylabel(fig_data.get("ylabel", ""))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": f"synthmed {__version__}"})
    plt.close(fig)
    return buf.getvalue()


def _grid_png(images: list[np.ndarray], cols: int = 8, tile: int = 96) -> bytes:
    from PIL import Image

    rows = max(1, -(-len(images) // cols))
    sheet = Image.new("L", (cols * tile, rows * tile), 0)
    for i, img in enumerate(images):
        tile_img = Image.fromarray(np.uint8(np.clip(img, 0, 1) * 255)).resize((tile, tile))
        sheet.paste(tile_img, ((i % cols) * tile, (i // cols) * tile))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode()}">')


def _table(d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_cell(v)}</td></tr>"
                   for k, v in d.items())
    return f"<table>{rows}</table>"


def _cell(v: Any) -> str:
    """HTML for one value: nested tables for dicts, 4 significant digits for floats."""
    if isinstance(v, dict):
        return _table(v) if v else "&ndash;"
    if isinstance(v, list):
        return html.escape(", ".join(_fmt(x) for x in v))
    return html.escape(_fmt(v))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def render_html(metrics: dict[str, Any], images: dict[str, list[np.ndarray]]) -> str:
    """The report page: verdict, metric tables, figures, sample grids (no external links).

    ``images`` maps a figure id under ``metrics["figures"]`` of kind ``samples`` to the
    images it shows.
    """
    parts = [f"<h1>synthmed evaluation report</h1><p class=meta>synthmed {__version__}"
             f" · command: <code>{html.escape(metrics.get('command', ''))}</code></p>",
             "<section id=verdict><h2>Verdict</h2><ul>"
             + "".join(f"<li>{html.escape(v)}</li>" for v in metrics.get("verdict", []))
             + "</ul></section>"]
    for section in ("data", "features", "fidelity", "realism", "utility", "privacy", "bias"):
        if section in metrics:
            body = metrics[section]
            parts.append(f"<section id={section}><h2>{section.capitalize()}</h2>"
                         + _cell(body) + "</section>")
    parts.append("<section id=figures><h2>Figures</h2>")
    for fid, data in metrics.get("figures", {}).items():
        if data["kind"] == "samples":
            png = _grid_png(images.get(fid, []))
        else:
            png = figure_png(data)
        parts.append(f'<figure data-figure="{html.escape(fid)}">{_img(png, data.get("title", fid))}'
                     f'<figcaption>{html.escape(data.get("title", fid))} '
                     f'<code>figures.{html.escape(fid)}</code></figcaption></figure>')
    parts.append("</section>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
             "padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
             "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
             "th{background:#f4f4f4}td table{margin:0;font-size:.92em}figure{display:inline-block;margin:.5em;vertical-align:top}"
             "img{max-width:100%}#verdict{background:#f7f9fc;border-left:4px solid #4c72b0;"
             "padding:.2em 1em}.meta{color:#666;font-size:.9em}")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>synthmed evaluation</title><style>{style}</style></head><body>"
            + "".join(parts) + "</body></html>")


def write_report(metrics: dict[str, Any], out_dir: str | Path,
                 images: dict[str, list[np.ndarray]] | None = None) -> Path:
    """Write ``metrics.json`` and ``report.html`` into ``out_dir``; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1, default=_jsonable) + "\n")
    page = out / "report.html"
    atomic_write_text(page, render_html(metrics, images or {}))
    return page


def _jsonable(v: Any):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
