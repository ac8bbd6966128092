"""Render the histopathology gallery: ``histopathology.jpg``.

Rows: colon (normal, adenocarcinoma grade 1-3, grade 3 at 40x); breast (normal, invasive
carcinoma grade 1-3) beside a real stained section that scikit-image ships
(``skimage.data.immunohistochemistry``: IHC, haematoxylin + DAB, not H&E); nuclei outlines
coloured by cell type, and one tissue stained at two sites with Macenko normalisation.

Run from the repository root:  ``.venv/bin/python docs/gallery/make_histopathology_gallery.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from skimage import data  # noqa: E402
from skimage.segmentation import find_boundaries  # noqa: E402

from synthmed.physics.stain import normalise_macenko  # noqa: E402
from synthmed.presets.histopathology import HistopathologyParams  # noqa: E402
from synthmed.run.task import render  # noqa: E402

OUT = Path(__file__).parent
SIZE = (384, 384)
TYPE_COLOURS = {"tumour_cell": (1.0, 0.9, 0.0), "mitotic_figure": (1.0, 0.0, 0.0),
                "epithelial_cell": (0.0, 1.0, 0.3), "myoepithelial_cell": (0.0, 0.8, 0.8),
                "lymphocyte": (0.1, 0.5, 1.0), "plasma_cell": (0.7, 0.3, 1.0),
                "neutrophil": (1.0, 0.5, 0.0), "fibroblast": (1.0, 1.0, 1.0),
                "endothelial_cell": (1.0, 0.4, 0.7)}


def _tile(seed, **kw):
    kw = {"image_size": SIZE, "fold": False, "glass_fraction": 0.0, "out_of_focus": 0.0, **kw}
    return render("histopathology", HistopathologyParams(**kw), seed, 0)


def _show(ax, img, title):
    ax.imshow(np.clip(img, 0, 1))
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _overlay(sample):
    """The image with each nucleus outlined in its cell type's colour."""
    img = sample.image.copy()
    inst = sample.labels.instances
    edge = find_boundaries(inst, mode="inner")
    kinds = np.array([""] + [sample.labels.instance_classes[k]
                             for k in range(1, int(inst.max()) + 1)])
    for kind, colour in TYPE_COLOURS.items():
        img[edge & (kinds[inst] == kind)] = colour
    return img


def _caption(s):
    a = s.labels.attributes
    return (f"{a['n_nuclei']} nuclei, mean {a['mean_nuclear_area_um2']:.0f} µm², "
            f"site {a['site']}")


def gallery(path: Path) -> None:
    fig, axes = plt.subplots(3, 5, figsize=(15, 9.6))
    for j, g in enumerate((0, 1, 2, 3)):
        s = _tile(10 + g, tissue="colon", tumour_grade=g, site=4,
                  tumour_fraction=0.85 if g else None)
        _show(axes[0, j], s.image, f"colon, {'normal' if g == 0 else f'adenocarcinoma G{g}'}"
              f" (20x)\n{_caption(s)}")
    s40 = _tile(13, tissue="colon", tumour_grade=3, microns_per_pixel=0.25, site=4)
    _show(axes[0, 4], s40.image, f"colon adenocarcinoma G3 at 40x\n{_caption(s40)}")
    for j, g in enumerate((0, 1, 3)):
        s = _tile(20 + g, tissue="breast", tumour_grade=g, site=9,
                  tumour_fraction=0.8 if g else None)
        _show(axes[1, j], s.image, f"breast, {'normal' if g == 0 else f'invasive carcinoma G{g}'}"
              f" (20x)\n{_caption(s)}")
    folded = _tile(24, tissue="breast", tumour_grade=2, site=9, fold=True, out_of_focus=0.3,
                   glass_fraction=0.2)
    _show(axes[1, 3], folded.image, "breast G2 with a fold, out-of-focus\npatches and glass")
    ihc = data.immunohistochemistry()[:384, :384] / 255.0
    _show(axes[1, 4], ihc, "REAL reference: skimage.data.\nimmunohistochemistry (IHC, not H&E)")
    normal = _tile(10, tissue="colon", site=4)
    _show(axes[2, 0], _overlay(normal), "nuclei by cell type (colon)")
    tumour = _tile(22, tissue="breast", tumour_grade=3, site=9, tumour_fraction=0.7)
    _show(axes[2, 1], _overlay(tumour), "nuclei by cell type (breast G3)")
    a, b = (_tile(31, tissue="colon", tumour_grade=2, site=site, tumour_fraction=0.6)
            for site in (17, 58))
    _show(axes[2, 2], a.image, "one tissue stained at site 17")
    _show(axes[2, 3], b.image, "... and at site 58")
    _show(axes[2, 4], normalise_macenko(b.image, a.image), "site 58 Macenko-normalised\nto site 17")
    handles = [Patch(color=c, label=k.replace("_", " ")) for k, c in TYPE_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=9, fontsize=8, frameon=False)
    fig.suptitle("histopathology: synthetic H&E tiles with every nucleus labelled "
                 "(Beer-Lambert staining, per-site stain vectors)", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=80, pil_kwargs={"quality": 90})  # JPEG: 1/5 of the PNG
    plt.close(fig)


if __name__ == "__main__":
    gallery(OUT / "histopathology.jpg")
