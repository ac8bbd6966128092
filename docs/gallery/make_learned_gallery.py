"""Render ``learned_chest_xray.png``: samples of a class-conditioned DDPM beside its training
images, and SDEdit edits of one radiograph toward pneumonia.

Rows: 8 training images (synthmed ``chest_xray``, 64 x 64), 8 samples of class
``pneumonia``, 8 of class ``no_pneumonia`` (DDIM, 50 steps, guidance 2), and one image
the model never saw edited toward ``pneumonia`` at increasing strength.

The model is the README's: made by ::

    synthmed generate examples/specs/chest_xray_pneumonia.yaml -o cxr/
    synthmed train --data cxr/ --label-column pneumonia --steps 3000 -o cxr-model/

Run from the repository root:
``.venv/bin/python docs/gallery/make_learned_gallery.py cxr-model/ cxr/``
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from synthmed.learned.data import load_training_data  # noqa: E402
from synthmed.learned.edit import edit_image  # noqa: E402
from synthmed.learned.sample import generate_samples, load_model  # noqa: E402
from synthmed.presets.chest_xray import ChestXrayParams  # noqa: E402
from synthmed.run.task import render  # noqa: E402

OUT = Path(__file__).parent / "learned_chest_xray.png"
COLS, GUIDANCE, STRENGTHS = 8, 2.0, (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    args = ap.parse_args()

    model = load_model(args.model)
    data = load_training_data(args.data, model.config.size, label_column="pneumonia",
                              max_images=COLS)
    rows = {"training images\n(synthmed chest_xray)": list(data.images)}
    for cls in ("pneumonia", "no_pneumonia"):
        samples = generate_samples(model, COLS, class_name=cls, seed=1,
                                   guidance_scale=GUIDANCE)
        rows[f"samples:\n{cls}"] = [s.image for s in samples]
    # a radiograph outside the training set (another seed), without pneumonia
    unseen = render("chest_xray", ChestXrayParams(image_size=(128, 128), age_years=50),
                    seed=12345, index=0).image
    edits = [edit_image(model, unseen, class_name="pneumonia", strength=s, seed=0,
                        guidance_scale=GUIDANCE).image for s in STRENGTHS]
    resized = edit_image(model, unseen, class_name="pneumonia", strength=0.0).image
    rows["SDEdit toward\npneumonia"] = [resized, *edits, np.ones_like(resized)]

    fig, axes = plt.subplots(len(rows), COLS, figsize=(COLS * 1.3, len(rows) * 1.45))
    for r, (title, images) in enumerate(rows.items()):
        for c, img in enumerate(images[:COLS]):
            ax = axes[r, c]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="lanczos")
            ax.set_xticks([]), ax.set_yticks([])
            if r == len(rows) - 1:
                ax.set_title("input" if c == 0 else f"strength {STRENGTHS[c - 1]}"
                             if c <= len(STRENGTHS) else "", fontsize=7)
                if c > len(STRENGTHS):
                    ax.axis("off")
        axes[r, 0].set_ylabel(title, fontsize=8)
    fig.tight_layout(pad=0.3)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
