"""Throughput of dataset generation against PNG encoding of the same arrays.

Prints images/s for 512x512 chest X-rays with masks (1 and 2 workers, end to end: preset,
PNG + JSON + COCO export, hashing), the time to PNG-encode the same image and mask arrays
alone, their ratio (how many times PNG encoding alone our full pipeline costs), and the
speed-up of 2 workers over 1.

Run: ``make bench`` (or ``python benchmarks/throughput.py --count 32``).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import synthmed
from synthmed.spec import load_spec

SPEC = Path(__file__).resolve().parent.parent / "examples" / "specs" / "chest_xray.yaml"


def time_generate(count: int, workers: int) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-w{workers}-"))
    spec = load_spec(SPEC)
    spec = spec.model_copy(update={"export": ["png", "coco"], "image_size": (512, 512)})
    t0 = time.perf_counter()
    synthmed.generate(spec, out / "ds", count=count, workers=workers, progress=False)
    return time.perf_counter() - t0, out / "ds"


def time_png_only(root: Path) -> float:
    """Encode the dataset's images (16-bit) and masks (8-bit) as PNG in memory, alone."""
    samples = list(synthmed.open_dataset(root))
    arrays = []
    for s in samples:
        arrays.append(np.round(s.image * 65535).astype(np.uint16))
        arrays += [m.astype(np.uint8) * 255 for m in s.labels.masks.values()]
    t0 = time.perf_counter()
    for a in arrays:
        Image.fromarray(a).save(io.BytesIO(), format="PNG")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=48)
    args = ap.parse_args()
    t1, root = time_generate(args.count, workers=1)
    t2, _ = time_generate(args.count, workers=2)
    png = time_png_only(root)
    print(f"chest_xray 512x512 with masks, {args.count} samples")
    print(f"  synthmed, 1 worker : {args.count / t1:7.2f} images/s ({t1:.2f} s)")
    print(f"  synthmed, 2 workers: {args.count / t2:7.2f} images/s ({t2:.2f} s)")
    print(f"  PNG encoding alone (Pillow, same arrays, 1 core): {png:.2f} s "
          f"({args.count / png:.1f} images/s)")
    print(f"  ratio full pipeline / PNG encoding alone (1 worker): {t1 / png:.2f}x")
    print(f"  speed-up 2 workers over 1: {t1 / t2:.2f}x")


if __name__ == "__main__":
    main()
