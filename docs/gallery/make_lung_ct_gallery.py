"""Render the lung_ct gallery: ``lung_ct.png``.

Rows 1-2: a COVID-19 pneumonia case (mixed pattern, typical distribution): axial slices in
the lung window (W1500/L-600) without and with the finding masks (ground glass yellow,
consolidation red, crazy paving magenta) and a coronal reformat. Row 3: a part-solid nodule
(with its Lung-RADS category), centrilobular emphysema, and a pleural effusion in the
mediastinal window (W400/L40).

Run from the repository root:  ``.venv/bin/python docs/gallery/make_lung_ct_gallery.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from synthmed.presets.lung_ct import LungCtParams  # noqa: E402
from synthmed.run.task import render  # noqa: E402

OUT = Path(__file__).parent
LUNG, MEDIASTINUM = (-1350, 150), (-160, 240)
COLOURS = {"ggo": "gold", "consolidation": "red", "crazy_paving": "magenta",
           "nodule": "lime", "emphysema": "deepskyblue", "effusion": "cyan"}


def _show(ax, image, window, title, aspect=1.0):
    ax.imshow(image, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect,
              interpolation="bilinear")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _outline(ax, masks, names):
    for name in names:
        if name in masks and masks[name].any():
            ax.contour(masks[name], [0.5], colors=[COLOURS[name]], linewidths=0.7)


def _covid_rows(axes) -> None:
    s = render("lung_ct", LungCtParams(n_slices=112, age_years=62, covid=True,
                                       covid_pattern="mixed", covid_extent_percent=30), 7, 0)
    m, a = s.labels.masks, s.labels.attributes
    lesion = m["ggo"] | m["consolidation"] | m["crazy_paving"]
    per_slice = lesion.sum((1, 2))
    picks = [int(np.argmax(per_slice[:40])), 45, 70]
    names = ("ggo", "consolidation", "crazy_paving")
    for k, z in enumerate(picks):
        _show(axes[0, k], s.image[z], LUNG, f"slice {z} of {len(s.image)}")
        _show(axes[1, k], s.image[z], LUNG, "masks: GGO, consolidation, crazy paving")
        _outline(axes[1, k], {n: m[n][z] for n in names}, names)
    row = int(np.nonzero(m["lung_right"].any((0, 2)))[0].mean())
    aspect = s.spacing_mm[0] / s.spacing_mm[1]
    _show(axes[0, 3], s.image[::-1, row], LUNG, "coronal reformat", aspect)
    _show(axes[1, 3], s.image[::-1, row], LUNG,
          f"extent {a['covid_extent_percent']:.0f} %, CT severity {a['covid_severity_score']}/25",
          aspect)
    _outline(axes[1, 3], {n: m[n][::-1, row] for n in names}, names)


def _findings_row(axes) -> None:
    s = render("lung_ct", LungCtParams(age_years=66, nodule=True, nodule_type="part_solid",
                                       nodule_diameter_mm=16, emphysema=True,
                                       emphysema_extent_percent=12, effusion=True,
                                       effusion_side="left"), 11, 0)
    m, a = s.labels.masks, s.labels.attributes
    z0, y0, x0, z1, y1, x1 = (int(v) for v in s.labels.boxes[0].bbox)
    z = (z0 + z1) // 2
    _show(axes[0], s.image[z], LUNG, f"{a['nodule_1_diameter_mm']:.0f} mm part-solid nodule, "
          f"Lung-RADS {a['nodule_1_lung_rads']}")
    _outline(axes[0], {"nodule": m["nodule"][z]}, ["nodule"])
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    crop = s.image[z, max(cy - 24, 0):cy + 24, max(cx - 24, 0):cx + 24]
    _show(axes[1], crop, LUNG, "the nodule, 4x (solid core, ground-glass rim)")
    ze = int(np.argmax(m["emphysema"].sum((1, 2))))
    _show(axes[2], s.image[ze], LUNG, f"centrilobular emphysema "
          f"({a['emphysema_extent_percent']:.0f} % of the lung)")
    _outline(axes[2], {"emphysema": m["emphysema"][ze]}, ["emphysema"])
    zf = int(np.argmax(m["effusion"].sum((1, 2))))
    _show(axes[3], s.image[zf], MEDIASTINUM, f"left pleural effusion "
          f"(~{a['effusion_volume_ml']:.0f} mL in range), W400/L40")
    _outline(axes[3], {"effusion": m["effusion"][zf]}, ["effusion"])


def gallery(path: Path) -> None:
    fig, axes = plt.subplots(3, 4, figsize=(14, 11))
    _covid_rows(axes)
    _findings_row(axes[2])
    fig.suptitle("lung_ct: synthetic non-contrast chest CT (256 x 256, 2.5 mm, 120 kVp, "
                 "100 mAs, lung kernel, filtered back-projection)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    gallery(OUT / "lung_ct.png")
