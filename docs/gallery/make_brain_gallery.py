"""Render the brain_mri gallery: ``brain_mri.png`` and ``brain_mri_pathology.png``.

``brain_mri.png``: one subject with a high-grade glioma in T1, T1 after gadolinium, T2,
FLAIR, paired CT (brain window W80/L40) and FDG PET-like (SUV 0-12); rows: axial, axial
with the BraTS labels outlined (necrotic core red, oedema green, enhancing tumour yellow),
coronal and sagittal reformats through the tumour.

``brain_mri_pathology.png``: metastases (T1c), MS lesions (FLAIR), an acute MCA stroke
(FLAIR), a chronic PCA infarct (FLAIR), a healthy 80-year-old (T1, atrophy), and a
SynthSeg-style random contrast, each with its masks outlined.

Run from the repository root:  ``.venv/bin/python docs/gallery/make_brain_gallery.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from synthmed.presets.brain_mri import BrainMriParams  # noqa: E402
from synthmed.run.task import render  # noqa: E402

OUT = Path(__file__).parent
BRATS = {"necrotic_core": "red", "edema": "lime", "enhancing_tumor": "yellow"}
OTHER = {"metastasis": "yellow", "ms_lesion": "cyan", "infarct": "orange"}
SEQUENCES = ("t1", "t1c", "t2", "flair", "ct", "pet")
TITLES = {"t1": "T1", "t1c": "T1 + Gd", "t2": "T2", "flair": "FLAIR", "ct": "CT (W80/L40)",
          "pet": "FDG PET-like (SUV)", "random": "random contrast"}


def _window(name: str, volume: np.ndarray, brain: np.ndarray) -> tuple[float, float]:
    if name == "ct":
        return 0.0, 80.0
    if name == "pet":
        return 0.0, 12.0
    return 0.0, float(np.percentile(volume[brain], 99.5))


def _planes(volume: np.ndarray, centre: tuple[int, int, int]) -> list[np.ndarray]:
    """Axial, coronal and sagittal slices through ``centre`` in radiological display
    (patient's right on the viewer's left, superior up)."""
    z, y, x = centre
    return [volume[z], volume[::-1, y, :], volume[::-1, :, x]]


def _show(ax, image, window, title="", aspect=1.0):
    ax.imshow(image, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect,
              interpolation="bilinear")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _outline(ax, masks: dict, colours: dict, cut) -> None:
    for name, colour in colours.items():
        if name in masks and cut(masks[name]).any():
            ax.contour(cut(masks[name]), [0.5], colors=[colour], linewidths=0.6)


def glioma_figure() -> None:
    s = render("brain_mri", BrainMriParams(pathology="glioma", tumour_radius_mm=26,
                                           contrasts=["t1", "t1c", "t2", "flair"],
                                           age_years=58), 3, 0)
    m = s.labels.masks
    centre = tuple(int(round(c.mean())) for c in np.nonzero(m["whole_tumor"]))
    aspect = s.spacing_mm[0] / s.spacing_mm[1]
    fig, axes = plt.subplots(4, len(SEQUENCES), figsize=(2.3 * len(SEQUENCES), 10))
    for col, name in enumerate(SEQUENCES):
        vol = s.images[name]
        window = _window(name, vol, m["brain"])
        axial, coronal, sagittal = _planes(vol, centre)
        _show(axes[0, col], axial, window, TITLES[name])
        _show(axes[1, col], axial, window)
        _outline(axes[1, col], m, BRATS, lambda v: v[centre[0]])
        _show(axes[2, col], coronal, window, aspect=aspect)
        _show(axes[3, col], sagittal, window, aspect=aspect)
    a = s.labels.attributes
    fig.suptitle(f"brain_mri: one subject, {a['field_strength_t']:g} T, glioma "
                 f"(ET {a.get('enhancing_tumor_volume_ml', 0):.0f} mL, NCR "
                 f"{a.get('necrotic_core_volume_ml', 0):.0f} mL, ED "
                 f"{a.get('edema_volume_ml', 0):.0f} mL); rows: axial, BraTS labels, "
                 "coronal, sagittal", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "brain_mri.png", dpi=90)


def pathology_figure() -> None:
    cases = [
        ("metastases", "t1c", dict(pathology="metastases", lesion_count=4), 5),
        ("MS lesions", "flair", dict(pathology="ms", lesion_count=14), 6),
        ("acute MCA stroke", "flair", dict(pathology="stroke", stroke_territory="MCA"), 7),
        ("chronic PCA infarct", "flair", dict(pathology="stroke", stroke_territory="PCA",
                                             stroke_stage="chronic"), 8),
        ("healthy, 82 years", "t1", dict(pathology="none", age_years=82), 9),
        ("random contrast", "random", dict(pathology="glioma"), 10),
    ]
    fig, axes = plt.subplots(2, len(cases), figsize=(2.4 * len(cases), 5.2))
    for col, (title, name, extra, seed) in enumerate(cases):
        s = render("brain_mri", BrainMriParams(contrasts=[name], paired_ct=False,
                                               paired_pet=False, **extra), seed, 0)
        m, vol = s.labels.masks, s.images[name]
        lesion = next((m[k] for k in ("metastasis", "ms_lesion", "infarct", "whole_tumor")
                       if k in m), None)
        z = int(np.argmax(lesion.sum((1, 2)))) if lesion is not None else \
            int(np.argmax(m["ventricles"].sum((1, 2))))
        window = _window(name, vol, m["brain"])
        _show(axes[0, col], vol[z], window, f"{title} ({TITLES.get(name, name)})")
        _show(axes[1, col], vol[z], window, "labels")
        _outline(axes[1, col], m, {**OTHER, **BRATS, "ventricles": "deepskyblue"},
                 lambda v: v[z])
    fig.tight_layout()
    fig.savefig(OUT / "brain_mri_pathology.png", dpi=90)


if __name__ == "__main__":
    glioma_figure()
    pathology_figure()
