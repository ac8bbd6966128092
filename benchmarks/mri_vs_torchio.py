"""SynthSeg-style random contrast of a 160³ label map: synthmed against TorchIO.

A procedural label map (12 labels: nested spheres with noisy, smooth boundaries; 1 mm voxels)
is turned into a random-contrast image, in the same run, by

- synthmed: :func:`synthmed.physics.mri.random_contrast` with a Gaussian per label (mean
  ``U(0, 1)``, std ``U(0, 0.1)``), random blur (σ ``U(0, 2)`` mm per axis), a random bias field
  (log-field σ up to 0.5) and, to match TorchIO, no gamma and no extra noise; also with its
  defaults (gamma on) for reference;
- TorchIO: ``tio.Compose([tio.RandomLabelsToImage(label_key="label", default_mean=(0, 1),
  default_std=(0, 0.1)), tio.RandomBiasField(coefficients=0.5), tio.RandomBlur(std=(0, 2))])``
  on a ``tio.Subject`` holding the label map.

Both run on one thread: ``torch.set_num_threads(1)``, and ``OMP_NUM_THREADS`` /
``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` = 1 (set before numpy loads) for numpy's BLAS,
which synthmed uses only to interpolate the 4³ bias field; its blur is ``scipy.ndimage``
(single-threaded) and it uses no FFT. After one warm-up call each, the two take turns
``--repeats`` times; prints the best and median seconds of each and the ratio TorchIO /
synthmed (above 1: synthmed is faster), and writes them to
``benchmarks/results/mri_vs_torchio.json``.

Run: ``make bench`` (or ``python benchmarks/mri_vs_torchio.py --repeats 5``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"                       # before numpy and torch load their BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchio as tio  # noqa: E402

from synthmed.physics import mri  # noqa: E402
from synthmed.physics.mri_kspace import smooth_field  # noqa: E402

from _machine import run_line, timed, versions, write_result  # noqa: E402

PACKAGES = ("synthmed", "numpy", "scipy", "torch", "torchio")
RESULTS = Path(__file__).resolve().parent / "results" / "mri_vs_torchio.json"
N_LABELS = 12


def label_map(size: int, seed: int = 0) -> np.ndarray:
    """Nested spheres 6 mm apart whose boundaries wander by a smooth random ±4 mm: ids
    0..11 from the centre out (the outermost fills the corners)."""
    rng = np.random.default_rng(seed)
    c = (np.arange(size) - (size - 1) / 2).astype(np.float32)
    r = np.sqrt(c[:, None, None] ** 2 + c[None, :, None] ** 2 + c[None, None, :] ** 2)
    r += 4.0 * smooth_field((size,) * 3, rng, correlation_mm=16.0)[0]
    return np.clip(r // 6.0, 0, N_LABELS - 1).astype(np.uint8)


def ours(labels: np.ndarray, seed: int, **options):
    rng = np.random.default_rng(seed)

    def run():
        return mri.random_contrast(labels, rng, spacing_mm=1.0, mean_range=(0.0, 1.0),
                                   std_range=(0.0, 0.1), bias_field=0.5, blur_mm=(0.0, 2.0),
                                   **options)
    return run


def torchio(labels: np.ndarray, seed: int):
    torch.manual_seed(seed)
    subject = tio.Subject(label=tio.LabelMap(tensor=torch.from_numpy(
        labels[None].astype(np.int64))))
    transform = tio.Compose([
        tio.RandomLabelsToImage(label_key="label", image_key="image",
                                default_mean=(0.0, 1.0), default_std=(0.0, 0.1)),
        tio.RandomBiasField(coefficients=0.5),
        tio.RandomBlur(std=(0.0, 2.0))])

    def run():
        return transform(subject)["image"].data[0].numpy()
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=160, help="label map edge, voxels (1 mm)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()

    torch.set_num_threads(1)
    labels = label_map(args.size)
    load_before = os.getloadavg()
    runs = {"synthmed": ours(labels, 1, gamma=0.0), "torchio": torchio(labels, 1),
            "synthmed_defaults": ours(labels, 2)}
    times, _ = timed(runs, args.repeats)
    sample = {"synthmed": runs["synthmed"](), "torchio": runs["torchio"]()}
    result = {
        "benchmark": "mri_vs_torchio", "volume": [args.size] * 3, "spacing_mm": 1.0,
        "labels": int(labels.max()) + 1, "repeats": args.repeats, "threads": 1,
        "cores": os.cpu_count(), "versions": versions(PACKAGES),
        "load_average_1min": [load_before[0], os.getloadavg()[0]],
        "synthmed": {"settings": "random_contrast: per-label N(U(0,1), U(0,0.1)), blur sigma "
                                 "U(0,2) mm per axis, log bias sigma U(0,0.5), no gamma, "
                                 "rescaled to [0, 1]",
                     **times["synthmed"], "dtype": str(sample["synthmed"].dtype)},
        "synthmed_defaults": {"settings": "as synthmed, gamma exp(N(0, 0.4))",
                              **times["synthmed_defaults"]},
        "torchio": {"settings": "Compose(RandomLabelsToImage(default_mean=(0,1), "
                                "default_std=(0,0.1)), RandomBiasField(coefficients=0.5), "
                                "RandomBlur(std=(0,2)))",
                    **times["torchio"], "dtype": str(sample["torchio"].dtype)},
        "ratio_torchio_over_synthmed_best": times["torchio"]["best_s"] /
        times["synthmed"]["best_s"],
        "ratio_torchio_over_synthmed_median": times["torchio"]["median_s"] /
        times["synthmed"]["median_s"],
    }
    report(result)
    write_result(result, args.json)


def report(r: dict) -> None:
    v = r["versions"]
    print(f"Random contrast (SynthSeg-style) of a {r['volume'][0]}^3 label map, "
          f"{r['labels']} labels, 1 mm voxels: labels -> Gaussian per label, bias field, blur")
    print(run_line(r))
    print(f"  synthmed {v['synthmed']}, TorchIO {v['torchio']}, torch {v['torch']}, "
          f"numpy {v['numpy']}, scipy {v['scipy']}, Python {v['python']}")
    print(f"  {'pipeline':<19}{'best s':>8}{'median s':>10}  settings")
    for key in ("synthmed", "torchio", "synthmed_defaults"):
        row = r[key]
        print(f"  {key:<19}{row['best_s']:8.3f}{row['median_s']:10.3f}  {row['settings']}")
    print(f"  speed-up TorchIO / synthmed: {r['ratio_torchio_over_synthmed_best']:.1f}x "
          f"(best), {r['ratio_torchio_over_synthmed_median']:.1f}x (median)")


if __name__ == "__main__":
    main()
