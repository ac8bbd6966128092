"""Render the fundus gallery ``fundus.png``: a real photograph (``skimage.data.retina()``, a
left eye) beside synthetic eyes with diabetic retinopathy ICDR grades 0-4, glaucomatous
cupping and AMD, each with its label overlay.

Run from the repository root:  ``.venv/bin/python docs/gallery/make_fundus_gallery.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy import ndimage  # noqa: E402
from skimage import data  # noqa: E402

from synthmed.presets.fundus import FundusParams  # noqa: E402
from synthmed.run.task import render  # noqa: E402

OUT = Path(__file__).parent
SIZE = (512, 512)
COLOURS = {"artery": (0.95, 0.15, 0.15), "vein": (0.15, 0.35, 1.0),
           "microaneurysm": (1.0, 0.0, 1.0), "haemorrhage": (1.0, 0.55, 0.0),
           "hard_exudate": (1.0, 1.0, 0.0), "cotton_wool_spot": (0.0, 1.0, 1.0),
           "neovascularisation": (0.0, 1.0, 0.0), "preretinal_haemorrhage": (0.6, 0.0, 0.3),
           "drusen": (1.0, 1.0, 0.6), "geographic_atrophy": (0.0, 0.7, 1.0)}


def overlay(sample):
    """Photo darkened, vessels and lesions in colour, disc (white) and cup (green) outlines."""
    img = sample.image * 0.55
    m = sample.labels.masks
    for name, col in COLOURS.items():
        if name in m:
            img[m[name]] = col
    for name, col in (("optic_disc", (1, 1, 1)), ("optic_cup", (0, 1, 0))):
        edge = m[name] & ~ndimage.binary_erosion(m[name])
        img[ndimage.binary_dilation(edge)] = col
    r, c = sample.labels.landmarks["fovea"]
    img[int(r) - 2:int(r) + 3, int(c) - 2:int(c) + 3] = (1, 1, 1)
    return img


def gallery(path: Path) -> None:
    cases = [("ICDR 0", dict(icdr_grade=0, laterality="L", age_years=35)),
             ("ICDR 1: microaneurysms", dict(icdr_grade=1, pigmentation=0.3)),
             ("ICDR 2: moderate NPDR", dict(icdr_grade=2, laterality="L")),
             ("ICDR 3: severe NPDR (4-2-1)", dict(icdr_grade=3, pigmentation=0.7)),
             ("ICDR 4: PDR (new vessels)", dict(icdr_grade=4, laterality="L")),
             ("glaucoma: vertical CDR 0.8", dict(cdr=0.8, fixation="disc", age_years=68)),
             ("AMD intermediate: drusen", dict(amd="intermediate", age_years=76)),
             ("AMD: geographic atrophy", dict(amd="geographic_atrophy", age_years=82,
                                              pigmentation=0.25, laterality="L"))]
    fig, axes = plt.subplots(3, 6, figsize=(18, 9.6))
    axes[0, 0].imshow(data.retina())
    axes[0, 0].set_title("real: skimage.data.retina() (left eye)", fontsize=8)
    slots = [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (2, 0), (2, 2), (2, 4)]
    for (title, kw), (row, col) in zip(cases, slots):
        s = render("fundus", FundusParams(image_size=SIZE, **kw), seed=11, index=col + 6 * row)
        a = s.labels.attributes
        axes[row, col].imshow(s.image)
        axes[row, col].set_title(f"{title}\n{a['laterality']} eye, CDR {a['cdr']:.2f}",
                                 fontsize=8)
        over = (row + 1, col) if row == 0 else (row, col + 1)
        axes[over].imshow(overlay(s))
        n = {short: a[k] for k, short in (("n_microaneurysms", "MA"), ("n_haemorrhages", "H"),
                                          ("n_hard_exudates", "HE"),
                                          ("n_cotton_wool_spots", "CWS"),
                                          ("n_neovascular_complexes", "NV"),
                                          ("n_drusen", "drusen")) if a[k]}
        text = ", ".join(f"{v} {k}" for k, v in n.items()) or "vessels, disc/cup, fovea"
        if a["ga_area_mm2"]:
            text += f", atrophy {a['ga_area_mm2']:.1f} mm2"
        axes[over].set_title("labels: " + text, fontsize=8)
    axes[1, 0].axis("off")
    axes[1, 0].text(0.02, 0.5, "overlay colours\nartery red, vein blue\ndisc white, cup green\n"
                    "MA magenta, haemorrhage (H) orange\nhard exudate (HE) yellow\n"
                    "cotton-wool spot (CWS) cyan\nnew vessels (NV) green\n"
                    "drusen pale yellow\ngeographic atrophy light blue",
                    fontsize=8, va="center")
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle("fundus: synthetic colour fundus photographs (45-degree field) with exact "
                 "labels, beside a real photograph", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    gallery(OUT / "fundus.png")
