"""Render the knee_xray gallery: ``knee_xray.png`` (KL 0-4 adults, children) and
``knee_edit.png`` (one knee edited across KL 0-4).

Run from the repository root:  ``.venv/bin/python docs/gallery/make_knee_gallery.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from synthmed.edit import edit  # noqa: E402
from synthmed.presets.knee_xray import KneeXrayParams  # noqa: E402
from synthmed.run.task import render  # noqa: E402

OUT = Path(__file__).parent
SIZE = (384, 384)


def _show(ax, sample, title):
    ax.imshow(sample.image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def gallery(path: Path) -> None:
    """Rows: adult whole-knee films and joint crops for KL 0-4; children aged 6-16."""
    fig, axes = plt.subplots(3, 5, figsize=(12.5, 7.8))
    for g in range(5):
        common = dict(image_size=SIZE, kl_grade=g, age_years=55 + 5 * g, sex="FM"[g % 2],
                      laterality="RL"[g % 2], view=("PA", "AP")[g % 2])
        knee = render("knee_xray", KneeXrayParams(field_of_view="knee", **common), 3, g)
        a = knee.labels.attributes
        _show(axes[0, g], knee, f"KL {g}: medial JSW {a['medial_jsw_mm']:.1f} mm, "
              f"{a['osteophyte_count']} osteophytes")
        crop = render("knee_xray", KneeXrayParams(field_of_view="joint", **common), 4, g)
        _show(axes[1, g], crop, f"KL {g}, joint crop ({crop.labels.attributes['sex']}, "
              f"{crop.labels.attributes['age_years']:.0f} y)")
    for i, age in enumerate((6, 9, 12, 14, 16)):
        child = render("knee_xray", KneeXrayParams(image_size=SIZE, age_years=age,
                                                   sex="MF"[i % 2]), 5, i)
        plates = "open physes" if child.labels.attributes["open_physes"] else "physes closed"
        _show(axes[2, i], child, f"{age} y {child.labels.attributes['sex']}: {plates}")
    fig.suptitle("knee_xray: synthetic weight-bearing knee radiographs, Kellgren-Lawrence 0-4 "
                 "(rows 1-2) and children (row 3)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def edits(path: Path) -> None:
    """One knee (same anatomy and noise) edited to KL 0..4, with |difference| to KL 0."""
    base = render("knee_xray", KneeXrayParams(image_size=SIZE, field_of_view="joint",
                                              age_years=64), seed=7, index=0)
    fig, axes = plt.subplots(2, 5, figsize=(12.5, 5.4))
    for g in range(5):
        s = base if g == 0 else edit(base, kl_grade=g)
        a = s.labels.attributes
        _show(axes[0, g], s, f"KL {g}: JSW {a['medial_jsw_mm']:.1f}/{a['lateral_jsw_mm']:.1f} mm, "
              f"sclerosis {a['sclerosis']:.2f}")
        axes[1, g].imshow(np.abs(s.image - base.image), cmap="magma", vmin=0, vmax=0.3)
        axes[1, g].set_title(f"|KL {g} - KL 0|", fontsize=8)
        axes[1, g].axis("off")
    fig.suptitle("synthmed.edit: the same knee edited across KL grades (anatomy and noise "
                 "unchanged; pixels change only around the joint)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    gallery(OUT / "knee_xray.png")
    edits(OUT / "knee_edit.png")
