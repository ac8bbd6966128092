"""CT forward projection + filtered back-projection at 512²: synthmed against scikit-image.

Projects and reconstructs the Shepp–Logan phantom (scikit-image's, resized to 512 × 512 with
bilinear interpolation, scaled to CT numbers: air -1000 HU, skull +1000 HU, as attenuation
at 70 keV with 0.5 mm pixels) from 720 parallel views over 180°, in the same run:

- synthmed: :func:`synthmed.physics.ct.forward_project` + :func:`~synthmed.physics.ct.fbp`
  with the ``"sharp"`` (Ram-Lak) kernel; the detector covers the image's diagonal;
- scikit-image: ``radon`` + ``iradon(filter_name="ramp")`` (both ``circle=True``: a detector
  as wide as the image, enough for this phantom).

Both run on one thread (scipy.fft's default; neither uses BLAS). Prints seconds for each
(synthmed's first call, which builds and caches its projection plan, then the best and
median of ``--repeats`` interleaved runs after one warm-up), the ratio scikit-image /
synthmed (above 1: synthmed is faster), and the RMSE of each reconstruction against the
phantom, in 1/mm and HU, over the image and inside the head. Each reconstructs its own
projector's sinogram, so a cross-check at ``size - 1`` (odd, where both rotate about the
same pixel, with as many detectors as pixels) swaps them: each FBP on each sinogram.
Writes the same numbers to ``benchmarks/results/ct_vs_skimage.json``.

Run: ``make bench`` (or ``python benchmarks/ct_vs_skimage.py --repeats 3``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon, resize

from synthmed.physics import ct

from _machine import run_line, timed, versions, write_result

PACKAGES = ("synthmed", "numpy", "scipy", "scikit-image")

RESULTS = Path(__file__).resolve().parent / "results" / "ct_vs_skimage.json"
ENERGY_KEV = 70.0


def phantom_mu(size: int) -> np.ndarray:
    """Shepp–Logan (0..1) as attenuation in 1/mm: HU = 2000 p - 1000, μ at 70 keV."""
    p = resize(shepp_logan_phantom(), (size, size), order=1, anti_aliasing=False)
    return ct.hu_to_mu(2000.0 * p - 1000.0, ENERGY_KEV)


def synthmed_pipeline(mu: np.ndarray, spacing_mm: float, n_views: int):
    timings = {"forward_s": [], "fbp_s": []}

    def run():
        t0 = time.perf_counter()
        sino = ct.forward_project(mu, spacing_mm, n_views)
        t1 = time.perf_counter()
        image = ct.fbp(sino, mu.shape, spacing_mm, kernel="sharp")
        timings["forward_s"].append(t1 - t0)
        timings["fbp_s"].append(time.perf_counter() - t1)
        return image
    return run, timings


def skimage_pipeline(mu: np.ndarray, n_views: int):
    theta = np.arange(n_views) * 180.0 / n_views

    def run():  # pixel units: radon and iradon are each other's inverse at any spacing
        return iradon(radon(mu, theta), theta, filter_name="ramp").astype(np.float32)
    return run


def swap_convention(sino: np.ndarray) -> np.ndarray:
    """Views (views, s) of one code in the other's order: scikit-image measures along
    x cos θ - y sin θ, so its view at 180° - θ is ours at θ with s reversed (an involution)."""
    return np.concatenate([sino[:1], sino[:0:-1, ::-1]])


def cross_check(size: int, spacing_mm: float, n_views: int) -> dict:
    """RMSE (HU) of each FBP on each projector's sinogram, odd ``size``, inside the
    inscribed circle that both detectors cover."""
    mu = phantom_mu(size)
    theta = np.arange(n_views) * 180.0 / n_views
    ours = ct.forward_project(mu, spacing_mm, n_views, n_detectors=size)
    theirs = radon(mu, theta) * spacing_mm                    # line integrals, mm units
    recon = {"synthmed_fbp_on_synthmed_sinogram": ct.fbp(ours, mu.shape, spacing_mm,
                                                         kernel="sharp"),
             "synthmed_fbp_on_skimage_sinogram": ct.fbp(swap_convention(theirs.T), mu.shape,
                                                        spacing_mm, kernel="sharp"),
             "skimage_fbp_on_synthmed_sinogram": iradon(swap_convention(ours).T / spacing_mm,
                                                        theta, filter_name="ramp"),
             "skimage_fbp_on_skimage_sinogram": iradon(theirs / spacing_mm, theta,
                                                       filter_name="ramp")}
    r = np.hypot(*np.mgrid[:size, :size] - (size - 1) / 2)
    return {"image": [size, size], "detectors": size, "region": "inscribed circle",
            **{k: rmse_hu(v, mu, r < (size - 1) / 2) for k, v in recon.items()}}


def rmse_hu(image: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float:
    """Root-mean-square error over ``region`` in HU (1000 / μ_water times that in 1/mm)."""
    rmse = np.sqrt(np.mean((image.astype(float) - truth)[region] ** 2))
    return float(1000.0 * rmse / ct.hu_to_mu(0.0, ENERGY_KEV))


def errors(image: np.ndarray, truth: np.ndarray) -> dict:
    whole = rmse_hu(image, truth, np.ones(truth.shape, bool))
    return {"rmse_per_mm": whole * float(ct.hu_to_mu(0.0, ENERGY_KEV)) / 1000.0,
            "rmse_hu": whole, "rmse_head_hu": rmse_hu(image, truth, truth > 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="image edge, pixels")
    ap.add_argument("--views", type=int, default=720, help="parallel views over 180°")
    ap.add_argument("--spacing-mm", type=float, default=0.5, help="pixel size, mm")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()

    mu = phantom_mu(args.size)
    load_before = os.getloadavg()
    ours, stages = synthmed_pipeline(mu, args.spacing_mm, args.views)
    t0 = time.perf_counter()
    ours()                                               # builds and caches the plan
    cold = time.perf_counter() - t0
    times, images = timed({"synthmed": ours,
                           "skimage": skimage_pipeline(mu, args.views)}, args.repeats)
    n_det = ct.forward_project(mu, args.spacing_mm, args.views).shape[1]
    ratio = times["skimage"]["median_s"] / times["synthmed"]["median_s"]
    odd = args.size - 1 + args.size % 2
    result = {
        "benchmark": "ct_vs_skimage", "image": [args.size] * 2, "spacing_mm": args.spacing_mm,
        "views": args.views, "arc_deg": 180, "phantom": "Shepp-Logan, HU = 2000 p - 1000, "
        f"mu at {ENERGY_KEV:.0f} keV", "repeats": args.repeats, "threads": 1,
        "cores": os.cpu_count(), "versions": versions(PACKAGES),
        "load_average_1min": [load_before[0], os.getloadavg()[0]],
        "synthmed": {"settings": f"forward_project + fbp(kernel='sharp'), parallel, "
                                 f"{n_det} detectors", "first_call_s": cold,
                     "forward_median_s": statistics.median(stages["forward_s"][-args.repeats:]),
                     "fbp_median_s": statistics.median(stages["fbp_s"][-args.repeats:]),
                     **times["synthmed"], **errors(images["synthmed"], mu)},
        "skimage": {"settings": f"radon + iradon(filter_name='ramp'), circle=True, "
                                f"{args.size} detectors",
                    **times["skimage"], **errors(images["skimage"], mu)},
        "ratio_skimage_over_synthmed": ratio,
        "ratio_skimage_over_synthmed_first_call": times["skimage"]["median_s"] / cold,
        "cross_check_rmse_hu": cross_check(odd, args.spacing_mm, args.views),
    }
    report(result)
    write_result(result, args.json)


def report(r: dict) -> None:
    v = r["versions"]
    print(f"CT {r['image'][0]}x{r['image'][1]} Shepp-Logan ({r['spacing_mm']} mm pixels), "
          f"{r['views']} parallel views over 180 deg: forward projection + FBP")
    print(run_line(r))
    print(f"  synthmed {v['synthmed']}, scikit-image {v['scikit-image']}, numpy {v['numpy']}, "
          f"scipy {v['scipy']}, Python {v['python']}")
    print(f"  {'pipeline':<12}{'settings':<64}{'best s':>8}{'median s':>10}"
          f"{'RMSE 1/mm':>11}{'RMSE HU':>9}{'(head)':>8}")
    for key in ("synthmed", "skimage"):
        row = r[key]
        print(f"  {key:<12}{row['settings']:<64}{row['best_s']:8.3f}{row['median_s']:10.3f}"
              f"{row['rmse_per_mm']:11.5f}{row['rmse_hu']:9.1f}{row['rmse_head_hu']:8.1f}")
    s = r["synthmed"]
    print(f"  synthmed stages (median): forward {s['forward_median_s']:.3f} s, fbp "
          f"{s['fbp_median_s']:.3f} s; first call (plan built) {s['first_call_s']:.2f} s")
    print(f"  speed-up scikit-image / synthmed: {r['ratio_skimage_over_synthmed']:.1f}x "
          f"(against synthmed's first call: "
          f"{r['ratio_skimage_over_synthmed_first_call']:.1f}x)")
    c = r["cross_check_rmse_hu"]
    print(f"  cross-check at {c['image'][0]}x{c['image'][1]}, {c['detectors']} detectors, "
          f"RMSE HU inside the inscribed circle (rows: FBP, columns: sinogram)")
    print(f"    {'':<10}{'synthmed':>10}{'skimage':>10}")
    for fbp in ("synthmed", "skimage"):
        print(f"    {fbp:<10}{c[f'{fbp}_fbp_on_synthmed_sinogram']:10.1f}"
              f"{c[f'{fbp}_fbp_on_skimage_sinogram']:10.1f}")


if __name__ == "__main__":
    main()
