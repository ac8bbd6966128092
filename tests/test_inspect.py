"""Contact sheet: a legible PNG grid with label overlays in consistent colours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from synthmed.errors import SynthmedError
from synthmed.inspect import FILL_ALPHA, contact_sheet, label_colours
from synthmed.sample import Box, Labels, Sample
from test_export import make_ct, make_sample, write_dataset


def flat_sample(label="lesion", value=0.5, size=64) -> Sample:
    img = np.full((size, size), value, np.float32)
    m = np.zeros((size, size), bool)
    m[20:40, 24:44] = True
    return Sample(images={"x": img}, spacing_mm=(1.0, 1.0), modality="DX",
                  labels=Labels(masks={label: m}, label_table={label: 1},
                                boxes=[Box.from_mask(label, m)], classes={"sick": True},
                                attributes={"grade": 3}))


def test_sheet_size_and_overlay_colour(tmp_path):
    out = contact_sheet([flat_sample(), flat_sample()], tmp_path / "s.png", cols=6, tile=64)
    assert out == tmp_path / "s.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.width == 2 * 64 and im.height > 64  # 2 tiles (fewer than cols), captions, legend
        px = np.asarray(im).astype(int)
    colour = np.array(label_colours(["lesion"])["lesion"])
    inside = np.rint(128 * (1 - FILL_ALPHA) + colour * FILL_ALPHA)
    for tx in (0, 64):  # same colour on both tiles
        np.testing.assert_allclose(px[30, tx + 34], inside, atol=1)   # mask interior
        np.testing.assert_array_equal(px[5, tx + 5], [128, 128, 128])  # background, untouched
        np.testing.assert_array_equal(px[20, tx + 34], colour)          # outline / box edge
    # the legend shows the swatch in the label's colour
    legend = px[64 + 30:]
    assert (np.abs(legend - colour).sum(axis=-1) == 0).any()


def test_sheet_from_a_dataset_folder_grid(tmp_path):
    write_dataset(tmp_path / "ds", [make_sample(i) for i in range(7)], formats=("png",))
    out = contact_sheet(tmp_path / "ds", tmp_path / "sheet.png", n=5, cols=2, tile=96)
    with Image.open(out) as im:
        w, h = im.size
    assert w == 2 * 96
    assert h > 3 * 96  # 3 rows of tiles + captions + legend


def test_rgb_and_3d_and_hu(tmp_path):
    rgb = data.retina()[::8, ::8].astype(np.float32) / 255.0
    m = np.zeros(rgb.shape[:2], bool)
    m[30:50, 30:50] = True
    s_rgb = Sample(images={"fundus": rgb}, spacing_mm=(0.1, 0.1), modality="OP",
                   labels=Labels(masks={"disc": m}, label_table={"disc": 1}))
    out = contact_sheet([s_rgb, make_ct(), make_sample(0)], tmp_path / "mix.png", tile=128)
    with Image.open(out) as im:
        assert im.width == 3 * 128


def test_colours_are_distinct_and_stable():
    names = [f"l{i}" for i in range(30)]
    c = label_colours(names)
    assert len(set(c.values())) == 30
    assert label_colours(names[:3]) == {k: c[k] for k in names[:3]}


def test_no_samples(tmp_path):
    with pytest.raises(SynthmedError):
        contact_sheet([], tmp_path / "x.png")
