"""Render the ultrasound gallery: ``ultrasound.png`` (synthetic images only).

Row 1: breast without and with lesions (BI-RADS 1-5, lesion mask outlined in red).
Row 2: liver and right kidney (normal and fatty liver) and one breast imaged at 6 and 14 MHz
and without TGC (same anatomy; the acquisition changes speckle size and depth profile).
Row 3: fetal heads across gestation (head mask outlined, BPD calipers in green).

Run from the repository root:  ``.venv/bin/python docs/gallery/make_ultrasound_gallery.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from synthmed.presets.ultrasound import UltrasoundParams  # noqa: E402
from synthmed.run.task import render  # noqa: E402

OUT = Path(__file__).parent
SIZE = (320, 320)


def _show(ax, sample, title, outline=None, calipers=()):
    ax.imshow(sample.image, cmap="gray", vmin=0, vmax=1)
    if outline and outline in sample.labels.masks:
        ax.contour(sample.labels.masks[outline], [0.5], colors="r", linewidths=0.6)
    for a, b in calipers:
        (r0, c0), (r1, c1) = sample.labels.landmarks[a], sample.labels.landmarks[b]
        ax.plot([c0 - 0.5, c1 - 0.5], [r0 - 0.5, r1 - 0.5], "g+-", lw=0.6, ms=5)
    ax.set_title(title, fontsize=7.5)
    ax.axis("off")


def gallery(path: Path) -> None:
    fig, axes = plt.subplots(3, 5, figsize=(15, 10.8))
    breasts = [("none", 2), ("cyst", 1), ("benign", 3), ("malignant", 1), ("malignant", 4)]
    for ax, (lesion, index) in zip(axes[0], breasts):
        s = render("ultrasound", UltrasoundParams(image_size=SIZE, lesion=lesion), 11, index)
        a = s.labels.attributes
        words = "no lesion" if lesion == "none" else (
            f"{a['lesion_shape']}, {a['lesion_orientation']}, {a['lesion_margin']},\n"
            f"{a['posterior_features']}")
        _show(ax, s, f"breast {lesion}: BI-RADS {a['birads_category']}\n{words}", "lesion")
    for ax, (steatosis, index) in zip(axes[1, :2], [(0, 0), (2, 1)]):
        s = render("ultrasound", UltrasoundParams(image_size=SIZE, scene="abdomen",
                                                  steatosis_grade=steatosis), 12, index)
        a = s.labels.attributes
        _show(ax, s, f"liver + right kidney (kidney {a['kidney_length_mm']:.0f} mm)\n"
              f"steatosis grade {steatosis}, {a['frequency_mhz']:g} MHz curvilinear", "kidney")
    for ax, extra, title in zip(axes[1, 2:], [dict(frequency_mhz=6.0), dict(frequency_mhz=14.0),
                                              dict(tgc=False)],
                                ["6 MHz: coarser speckle", "14 MHz: finer speckle, "
                                 "more attenuation", "10 MHz, TGC off: attenuation"]):
        s = render("ultrasound", UltrasoundParams(image_size=SIZE, lesion="cyst", **extra), 13, 0)
        _show(ax, s, f"same breast and cyst\n{title}")
    for ax, ga in zip(axes[2], (16, 22, 28, 34, 40)):
        s = render("ultrasound", UltrasoundParams(image_size=SIZE, scene="fetal_head",
                                                  gestational_age_weeks=ga), 14, ga)
        a = s.labels.attributes
        _show(ax, s, f"fetal head {ga} weeks: BPD {a['bpd_mm']:.0f} mm, "
              f"HC {a['head_circumference_mm']:.0f} mm\n(INTERGROWTH-21st centile "
              f"{a['head_circumference_centile']:.0f})", "head", [("bpd_near", "bpd_far")])
    fig.suptitle("ultrasound: synthetic B-mode from scatterer physics (speckle, focused beam, "
                 "attenuation + TGC, shadowing, enhancement, specular interfaces, compounding)",
                 fontsize=10)
    fig.tight_layout(h_pad=2.2)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    gallery(OUT / "ultrasound.png")
