"""Look at a dataset: a contact sheet of images with their labels drawn on top.

:func:`contact_sheet` writes one PNG: a grid of tiles, each an image (windowed for
display only) with every mask as a semi-transparent fill plus an opaque outline, instance
outlines, boxes, landmarks (white crosses) and a caption (sample id, the classes that are
True, the first attributes); a legend of label colours sits at the bottom. A label has the
same colour on every tile. Volumes show their middle slice (``z = nz // 2``).

Example
-------
>>> from synthmed.inspect import contact_sheet
>>> contact_sheet("out/chest", "out/chest_sheet.png", n=12, cols=4)  # doctest: +SKIP
PosixPath('out/chest_sheet.png')
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import find_boundaries

from synthmed._io import atomic_path
from synthmed.sample import Sample

__all__ = ["contact_sheet", "label_colours", "display_image"]

# 20 distinct colours (Sasha Trubetskoy), most distinct first.
_PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
            (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
            (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
            (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (128, 128, 128)]
FILL_ALPHA = 0.35
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)


def label_colours(names: Iterable[str]) -> dict[str, tuple[int, int, int]]:
    """A distinct RGB colour per label name, in the given order (beyond 20: golden-ratio hues)."""
    out = {}
    for i, name in enumerate(names):
        if i < len(_PALETTE):
            out[name] = _PALETTE[i]
        else:
            r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.8, 0.95)
            out[name] = (round(r * 255), round(g * 255), round(b * 255))
    return out


def display_image(image: np.ndarray, units: str) -> np.ndarray:
    """uint8 RGB for display: ``"1"`` images as is; other units windowed 0.5-99.5 percentile."""
    v = np.asarray(image, np.float64)
    if v.ndim == 3 and v.shape[-1] == 4:
        v = v[..., :3]
    if units != "1":
        finite = v[np.isfinite(v)]
        lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0))
        v = (v - lo) / (hi - lo) if hi > lo else v * 0
    v = np.nan_to_num(np.clip(v, 0.0, 1.0))
    u8 = np.rint(v * 255).astype(np.uint8)
    return np.repeat(u8[..., None], 3, axis=-1) if u8.ndim == 2 else u8


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _render_tile(sample: Sample, tile: int, colours: dict[str, tuple[int, int, int]],
                 line_w: int) -> Image.Image:
    """The image of one sample with its labels drawn, centred on a ``tile`` x ``tile`` square."""
    lab = sample.labels
    name = next(iter(sample.images))
    image, masks, inst = sample.image, dict(lab.masks), lab.instances
    spacing = sample.spacing_mm
    mid = None
    if len(sample.spatial_shape) == 3:
        mid = sample.spatial_shape[0] // 2
        image = image[mid]
        masks = {k: m[mid] for k, m in masks.items()}
        inst = None if inst is None else inst[mid]
        spacing = spacing[1:]
    rows, cols = image.shape[:2]
    # keep the physical aspect ratio (non-square pixels), fit inside the tile
    h_mm, w_mm = rows * spacing[0], cols * spacing[1]
    scale = tile / max(h_mm, w_mm)
    w, h = max(1, round(w_mm * scale)), max(1, round(h_mm * scale))
    base = Image.fromarray(display_image(image, sample.units.get(name, "1")))
    rgb = np.asarray(base.resize((w, h), Image.Resampling.BILINEAR), np.float64).copy()

    def small(m: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(np.asarray(m).astype(np.uint8) * 255)
                          .resize((w, h), Image.Resampling.NEAREST)) > 127

    outlines = []
    for label in colours:
        if label not in masks:
            continue
        m = small(masks[label])
        c = np.array(colours[label], np.float64)
        rgb[m] = rgb[m] * (1 - FILL_ALPHA) + c * FILL_ALPHA
        outlines.append((find_boundaries(m, mode="inner"), c))
    if inst is not None and np.any(inst):
        ids = np.asarray(inst)
        small_inst = np.asarray(Image.fromarray(ids.astype(np.int32))
                                .resize((w, h), Image.Resampling.NEAREST))
        for k in np.unique(small_inst):
            if k == 0:
                continue
            cls = lab.instance_classes.get(int(k))
            c = np.array(colours.get(cls, (255, 255, 255)), np.float64)
            m = small_inst == k
            if cls not in masks:
                rgb[m] = rgb[m] * (1 - FILL_ALPHA) + c * FILL_ALPHA
            outlines.append((find_boundaries(m, mode="inner"), c))
    for edge, c in outlines:  # outlines last so fills never cover them
        rgb[edge] = c
    canvas = Image.new("RGB", (tile, tile), (0, 0, 0))
    ox, oy = (tile - w) // 2, (tile - h) // 2
    canvas.paste(Image.fromarray(np.rint(rgb).astype(np.uint8)), (ox, oy))
    draw = ImageDraw.Draw(canvas)
    sy, sx = h / rows, w / cols
    for box in lab.boxes:
        b = box.bbox
        if len(b) == 6:
            if mid is None or not b[0] <= mid < b[3]:
                continue
            b = (b[1], b[2], b[4], b[5])
        r0, c0, r1, c1 = b
        draw.rectangle([ox + c0 * sx, oy + r0 * sy, ox + c1 * sx - 1, oy + r1 * sy - 1],
                       outline=colours.get(box.label, (255, 255, 255)), width=line_w)
    arm = max(3, tile // 64)
    for point in lab.landmarks.values():
        if len(point) == 3:
            if mid is None or int(point[0]) != mid:
                continue
            point = point[1:]
        x, y = ox + point[1] * sx, oy + point[0] * sy
        for fill, wd in (((0, 0, 0), line_w + 2), ((255, 255, 255), line_w)):
            draw.line([x - arm, y, x + arm, y], fill=fill, width=wd)
            draw.line([x, y - arm, x, y + arm], fill=fill, width=wd)
    return canvas


def contact_sheet(samples_or_root: str | os.PathLike | Iterable[Sample],
                  out_png: str | os.PathLike, n: int = 24, cols: int = 6,
                  tile: int = 256) -> Path:
    """Write a PNG grid of the first ``n`` samples with their labels drawn on top.

    Parameters
    ----------
    samples_or_root : path or iterable of Sample
        A dataset folder (read with :func:`synthmed.open_dataset`) or samples.
    out_png : path
        Output file (written atomically).
    n : int
        Number of samples to show (the first ``n``).
    cols : int
        Tiles per row (fewer if there are fewer samples).
    tile : int
        Tile size in pixels; each image keeps its physical aspect ratio inside it.

    Returns
    -------
    Path
        ``out_png``. The sheet is ``min(cols, count) * tile`` pixels wide; each tile row is
        ``tile`` plus a two-line caption high, followed by the legend.
    """
    if isinstance(samples_or_root, (str, os.PathLike)):
        from synthmed.dataset import open_dataset

        ds = open_dataset(samples_or_root)
        ids = ds.ids[:n]
        samples = [ds[i] for i in ids]
    else:
        samples = []
        for s in samples_or_root:
            if len(samples) >= n:
                break
            samples.append(s)
        ids = [f"{s.provenance.index:06d}" if s.provenance.preset else f"#{i}"
               for i, s in enumerate(samples)]
    if not samples:
        from synthmed.errors import SynthmedError

        raise SynthmedError("no samples to draw a contact sheet of")

    # one colour per label name for the whole sheet, in label-id order
    first_id: dict[str, int] = {}
    for s in samples:
        names = set(s.labels.label_table) | set(s.labels.masks)
        names |= {b.label for b in s.labels.boxes} | set(s.labels.instance_classes.values())
        for name in names:
            first_id.setdefault(name, s.labels.label_table.get(name, 1 << 30))
    colours = label_colours(sorted(first_id, key=lambda k: (first_id[k], k)))

    font_px = max(10, tile // 20)
    font = _font(font_px)
    line_h = font_px + 4
    caption_h = 2 * line_h + 4
    line_w = max(1, tile // 128)
    ncols = max(1, min(cols, len(samples)))
    nrows = -(-len(samples) // ncols)
    width = ncols * tile
    pad = 6
    sw = font_px  # legend swatch size
    # lay out the legend first to know its height
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    items, x, y = [], pad, line_h + pad
    for name in colours:
        wd = sw + 4 + probe.textlength(name, font=font) + 3 * pad
        if x + wd > width and x > pad:
            x, y = pad, y + line_h + 2
        items.append((name, x, y))
        x += wd
    legend_h = y + line_h + pad
    sheet = Image.new("RGB", (width, nrows * (tile + caption_h) + legend_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for i, (sid, s) in enumerate(zip(ids, samples)):
        tx, ty = (i % ncols) * tile, (i // ncols) * (tile + caption_h)
        sheet.paste(_render_tile(s, tile, colours, line_w), (tx, ty))
        positive = [k for k, v in s.labels.classes.items() if v]
        line1 = f"{sid}  " + (", ".join(positive) if positive else "no positive class")
        line2 = "  ".join(f"{k}={_fmt(v)}" for k, v in list(s.labels.attributes.items())[:3])
        if not line2:
            line2 = f"{s.modality} {'x'.join(map(str, s.spatial_shape))}"
        for j, text in enumerate((line1, line2)):
            draw.text((tx + 4, ty + tile + 2 + j * line_h), _fit(draw, text, font, tile - 8),
                      fill=TEXT, font=font)
        draw.line([tx, ty, tx, ty + tile + caption_h], fill=BACKGROUND, width=2)
    ly = nrows * (tile + caption_h)
    title = ("Labels (fill + outline; boxes in the same colour; white + = landmark). "
             "SYNTHETIC images.")
    draw.text((pad, ly + pad // 2), _fit(draw, title, font, width - 2 * pad), fill=TEXT,
              font=font)
    for name, x, y in items:
        draw.rectangle([x, ly + y, x + sw, ly + y + sw], fill=colours[name], outline=TEXT)
        draw.text((x + sw + 4, ly + y), name, fill=TEXT, font=font)
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        sheet.save(tmp, format="PNG")
    return out_png
