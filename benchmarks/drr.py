"""DRR of a 256³ CT volume to a 512² radiograph: synthmed against DiffDRR on the CPU.

Renders the same procedural chest CT (HU, 1 mm voxels, seeded) in the same cone-beam AP
geometry (source–detector 1000 mm, source–isocentre 750 mm, 512 × 512 detector of 0.75 mm
pixels) with :func:`synthmed.physics.drr.path_lengths_from_ct` and with DiffDRR 0.6.1
(``diffdrr.drr.DRR``: its default Siddon renderer, and its trilinear renderer at our
sampling step), in the same run, both on one thread by default (``--threads``; synthmed's
NumPy path is single-threaded; one more row shows DiffDRR on all the cores). Prints seconds
for each (one warm-up, then the best and median of ``--repeats`` interleaved runs), the
ratio synthmed / DiffDRR (above 1: synthmed is slower), synthmed at a few settings
(``step_voxels``, ``chunk_rows``), and the agreement of the two line integrals of mass
density (g/cm²) inside the body: Pearson correlation and median relative difference.
Writes the same numbers to ``benchmarks/results/drr.json``.

DiffDRR is installed without its declared dependencies (torchvision's wheel does not import
beside our torch build): ``make bench`` does it; see the Makefile's ``bench-deps``.

Run: ``make bench`` (or ``python benchmarks/drr.py --repeats 3 --threads 1``).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np

from synthmed.physics.drr import hu_to_materials, path_lengths_from_ct
from synthmed.physics.xray import MATERIALS

from _machine import timed, versions, write_result

PACKAGES = ("synthmed", "numpy", "scipy", "torch", "diffdrr", "torchio")

RESULTS = Path(__file__).resolve().parent / "results" / "drr.json"
SID_MM, SOD_MM = 1000.0, 750.0
INSTALL = ("pip install --no-deps diffdrr==0.6.1 && pip install torchio kornia einops roma "
           "fastcore pandas   (or: make bench-deps)")


def phantom_ct(n: int = 256, seed: int = 0) -> np.ndarray:
    """A chest-like CT in HU, shape (z, y, x), 1 mm voxels, LPS (x to the patient's left,
    y posterior, z to the head): body with subcutaneous fat, lungs, heart, spine, ribs,
    sternum and a few seeded bone nodules; the trunk is cut by the top and bottom faces as in
    a clinical scan. Asymmetric (heart and nodules), so a flipped projection shows."""
    rng = np.random.default_rng(seed)
    s = n / 256.0                                        # sizes below are for n = 256
    c = (n - 1) / 2
    z, y, x = (np.arange(n, dtype=np.float32) - c for _ in range(3))
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]

    def ellipsoid(cx, cy, cz, ax, ay, az):
        return ((x - cx * s) / (ax * s)) ** 2 + ((y - cy * s) / (ay * s)) ** 2 + (
            (z - cz * s) / (az * s)) ** 2 <= 1

    def ring(ax, ay):  # elliptic radius in the axial plane, 1 on the ellipse
        return np.sqrt((x / (ax * s)) ** 2 + ((y - 5 * s) / (ay * s)) ** 2)

    ct = np.full((n, n, n), -1000.0, np.float32)
    body = np.broadcast_to(ring(118, 88) <= 1, ct.shape)
    ct[body] = -100.0                                                     # fat
    ct[np.broadcast_to(ring(106, 77) <= 1, ct.shape)] = 40.0              # muscle, organs
    for side in (-1, 1):                                                  # lungs
        ct[ellipsoid(side * 52, 0, 25, 42, 55, 95)] = -820.0
    ct[ellipsoid(22, -22, -15, 46, 40, 52)] = 45.0                        # heart (left)
    spine_r = np.broadcast_to(np.hypot(x, y - 55 * s), ct.shape)
    disc = np.broadcast_to(np.abs(((z / s + 300) % 30) - 15) > 12, ct.shape)
    ct[(spine_r <= 18 * s) & ~disc] = 1250.0                              # cortical shell
    ct[(spine_r <= 15 * s) & ~disc] = 250.0                               # cancellous
    ct[(spine_r <= 18 * s) & disc] = 80.0                                 # discs
    for zc in np.arange(-100, 110, 24) * s:                               # ribs
        r = ring(100, 72)
        ct[(np.abs(r - 1) < 3.5 / (86 * s)) & (np.abs(z - zc) < 4 * s) & (y > -45 * s)
           ] = 900.0
    ct[(np.abs(x) < 12 * s) & (np.abs(y + 74 * s) < 4 * s) & (z > -30 * s) & (z < 90 * s)
       ] = 700.0                                                          # sternum
    for _ in range(6):                                                    # bone nodules
        cx, cy, cz = rng.uniform(-70, 70), rng.uniform(-40, 40), rng.uniform(-100, 100)
        ct[ellipsoid(cx, cy, cz, *(rng.uniform(4, 10),) * 3)] = rng.uniform(700, 1500)
    ct += np.where(ct > -1000, rng.normal(0, 10, ct.shape).astype(np.float32), 0)
    return ct


def mass_density(ct: np.ndarray) -> np.ndarray:
    """g/cm³ of each voxel as synthmed models it (soft-tissue and bone fractions)."""
    m = hu_to_materials(ct)
    return (m["soft_tissue"] * MATERIALS["soft_tissue"][0]
            + m["bone"] * MATERIALS["bone"][0]).astype(np.float32)


def synthmed_render(ct, detector, pixel_mm, **kw):
    """Callable: synthmed's line integral of mass density, g/cm², (rows, cols)."""
    def render():
        p = path_lengths_from_ct(ct, (1.0, 1.0, 1.0), detector_shape=(detector, detector),
                                 detector_spacing_mm=pixel_mm, sid_mm=SID_MM, sod_mm=SOD_MM,
                                 **kw)
        return (p["soft_tissue"] * MATERIALS["soft_tissue"][0]
                + p["bone"] * MATERIALS["bone"][0])
    return render


def diffdrr_renders(ct, rho, detector, pixel_mm, step_mm):
    """Callables for DiffDRR's Siddon and trilinear renderers, in g/cm², (rows, cols).

    The volume goes in as a torchio image whose affine maps our LPS (x, y, z) voxel indices to
    RAS+ millimetres; ``read(..., orientation="AP")`` centres it at the world origin and turns
    the C-arm to an AP view, and the pose (no rotation, translation 750 mm along +y, anterior)
    puts the source 750 mm in front of the volume's centre. Its density is replaced by our
    mass density, so that both tools integrate the same quantity. DiffDRR integrates in
    (density × mm); /10 gives g/cm².
    """
    import torch
    from diffdrr.data import read
    from diffdrr.drr import DRR
    from diffdrr.pose import convert
    from diffdrr.renderers import _get_alpha_minmax
    from torchio import ScalarImage

    def as_ras(a):  # (z, y, x) LPS -> (x, y, z) with an LPS->RAS affine
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 1, 0)))[None]

    subject = read(ScalarImage(tensor=as_ras(ct), affine=np.diag([-1.0, -1.0, 1.0, 1.0])),
                   orientation="AP")
    subject.density.set_data(as_ras(rho))
    rotation, translation = torch.zeros(1, 3), torch.tensor([[0.0, SOD_MM, 0.0]])
    out = {}
    for name, options in (("siddon", dict(patch_size=128)), ("trilinear", {})):
        drr = DRR(subject, sdd=SID_MM, height=detector, delx=pixel_mm, renderer=name,
                  **options)
        kwargs = {}
        if name == "trilinear":  # sample every ray at our step: n_points over the alpha span
            pose = convert(rotation, translation, parameterization="euler_angles",
                           convention="ZXY")
            source, target = drr.detector(pose, None)
            dims = torch.tensor(drr.density.shape, dtype=torch.float32)
            lo, hi = _get_alpha_minmax(drr.affine_inverse(source), drr.affine_inverse(target),
                                       dims, 0.5, 1e-8)
            span_mm = float(hi.max() - lo.min()) * SID_MM
            kwargs["n_points"] = math.ceil(span_mm / step_mm) + 1

        def render(drr=drr, kwargs=kwargs):
            with torch.no_grad():
                img = drr(rotation, translation, parameterization="euler_angles",
                          convention="ZXY", **kwargs)
            return img[0, 0].numpy() / 10.0
        out[name] = (render, kwargs.get("n_points"))
    return out


def agreement(ours: np.ndarray, ref: np.ndarray, inside: np.ndarray) -> dict:
    """Pearson r and relative differences (ours − ref) / ref over the ``inside`` pixels."""
    a, b = ours[inside].astype(float), ref[inside].astype(float)
    rel = (a - b) / b
    return {"pearson_r": float(np.corrcoef(a, b)[0, 1]),
            "median_rel_diff": float(np.median(rel)),
            "median_abs_rel_diff": float(np.median(np.abs(rel))),
            "p99_abs_rel_diff": float(np.percentile(np.abs(rel), 99)),
            "pixels": int(inside.sum())}


def _on_threads(render, threads: int, restore: int):
    def run():
        import torch
        torch.set_num_threads(threads)
        try:
            return render()
        finally:
            torch.set_num_threads(restore)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="CT volume edge, voxels of 1 mm")
    ap.add_argument("--detector", type=int, default=512, help="detector edge, pixels")
    ap.add_argument("--pixel-mm", type=float, default=0.75, help="detector pixel size, mm")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for DiffDRR (synthmed's NumPy path runs on one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()
    try:
        import torch
        torch.set_num_threads(args.threads)
        import diffdrr.drr  # noqa: F401
    except ImportError as err:
        raise SystemExit(f"DiffDRR cannot be imported ({err}); install it with: {INSTALL}")

    ct = phantom_ct(args.size, args.seed)
    rho = mass_density(ct)
    det, pix = args.detector, args.pixel_mm
    load_before = os.getloadavg()
    ref = diffdrr_renders(ct, rho, det, pix, step_mm=1.0)
    renders = {"synthmed": synthmed_render(ct, det, pix), "diffdrr_siddon": ref["siddon"][0],
               "diffdrr_trilinear": ref["trilinear"][0]}
    cores = os.cpu_count() or 1
    if cores != args.threads:  # what DiffDRR gains from all the cores
        renders["diffdrr_trilinear_all_cores"] = _on_threads(ref["trilinear"][0], cores,
                                                             args.threads)
    times, images = timed(renders, args.repeats)
    ours, siddon, tri = (images[k] for k in ("synthmed", "diffdrr_siddon", "diffdrr_trilinear"))
    ours_t = times["synthmed"]
    settings = [{"step_voxels": 1.0, "chunk_rows": 16, **ours_t}]
    for kw in (dict(step_voxels=2.0), dict(chunk_rows=4), dict(chunk_rows=64),
               dict(step_voxels=2.0, chunk_rows=4)):
        t, _ = timed({"s": synthmed_render(ct, det, pix, **kw)}, 1, warmup=False)
        settings.append({"step_voxels": 1.0, "chunk_rows": 16, **kw, **t["s"]})

    inside = siddon > 1.0                 # rays through at least ~1 cm of tissue
    # the two top and two bottom rows of the body's shadow: rays that graze the z faces
    edge = np.zeros_like(inside)
    edge[np.flatnonzero(inside.any(1))[[0, 1, -2, -1]]] = True
    result = {
        "benchmark": "drr", "volume": [args.size] * 3, "voxel_mm": 1.0,
        "detector": [det, det], "pixel_mm": pix, "sid_mm": SID_MM, "sod_mm": SOD_MM,
        "view": "AP", "seed": args.seed, "threads": args.threads, "cores": cores,
        "synthmed_threads": 1, "repeats": args.repeats, "versions": versions(PACKAGES),
        "load_average_1min": [load_before[0], os.getloadavg()[0]],
        "synthmed": {"settings": "step_voxels=1, chunk_rows=16 (defaults)", **ours_t},
        "diffdrr_siddon": {"settings": "siddon (its default), patch_size=128",
                           **times["diffdrr_siddon"]},
        "diffdrr_trilinear": {"settings": f"trilinear, n_points="
                                          f"{ref['trilinear'][1]} (1 mm step)",
                              **times["diffdrr_trilinear"]},
        **({"diffdrr_trilinear_all_cores": {
            "settings": f"as above, {cores} torch threads",
            **times["diffdrr_trilinear_all_cores"]}} if cores != args.threads else {}),
        "ratio_synthmed_over_diffdrr_siddon":
            ours_t["median_s"] / times["diffdrr_siddon"]["median_s"],
        "ratio_synthmed_over_diffdrr_trilinear":
            ours_t["median_s"] / times["diffdrr_trilinear"]["median_s"],
        "synthmed_settings": settings,
        "agreement": {"quantity": "line integral of mass density, g/cm2",
                      "inside": "pixels where DiffDRR (Siddon) > 1 g/cm2",
                      "vs_diffdrr_siddon": agreement(ours, siddon, inside),
                      "vs_diffdrr_trilinear": agreement(ours, tri, inside),
                      "diffdrr_trilinear_vs_siddon": agreement(tri, siddon, inside),
                      "vs_diffdrr_siddon_edge_rows": agreement(ours, siddon, inside & edge)},
    }
    report(result)
    write_result(result, args.json)


def report(r: dict) -> None:
    v = r["versions"]
    print(f"DRR {'x'.join(map(str, r['volume']))} CT (1 mm) -> {r['detector'][0]}x"
          f"{r['detector'][1]} radiograph, AP cone beam (SID {r['sid_mm']:.0f} mm, SOD "
          f"{r['sod_mm']:.0f} mm, {r['pixel_mm']} mm pixels), CPU: {v['processor']}")
    print(f"  DiffDRR on {r['threads']} torch thread(s), synthmed (NumPy) on 1, of {r['cores']} "
          f"cores; 1 warm-up, then {r['repeats']} interleaved repeats; 1-min load average "
          f"{r['load_average_1min'][0]:.1f} -> {r['load_average_1min'][1]:.1f}")
    print(f"  synthmed {v['synthmed']}, DiffDRR {v['diffdrr']}, torch {v['torch']}, "
          f"numpy {v['numpy']}, scipy {v['scipy']}, Python {v['python']}")
    print(f"  {'renderer':<32}{'settings':<40}{'best s':>8}{'median s':>10}"
          f"{'synthmed/it':>13}")
    ours = r["synthmed"]["median_s"]
    for key, label in (("synthmed", "synthmed path_lengths_from_ct"),
                       ("diffdrr_siddon", "DiffDRR Siddon"),
                       ("diffdrr_trilinear", "DiffDRR trilinear"),
                       ("diffdrr_trilinear_all_cores", "DiffDRR trilinear")):
        if key not in r:
            continue
        row = r[key]
        print(f"  {label:<32}{row['settings']:<40}{row['best_s']:8.2f}{row['median_s']:10.2f}"
              f"{ours / row['median_s']:12.2f}x")
    print("  synthmed at other settings (one run each; the first row is the median above)")
    for s in r["synthmed_settings"]:
        print(f"    step_voxels {s['step_voxels']:<4} chunk_rows {s['chunk_rows']:<3}"
              f"{s['median_s']:8.2f} s  ({s['median_s'] / ours:.2f}x the defaults)")
    a = r["agreement"]
    print(f"  agreement of the {a['quantity']}, {a['inside']}:")
    for key in ("vs_diffdrr_siddon", "vs_diffdrr_trilinear", "diffdrr_trilinear_vs_siddon",
                "vs_diffdrr_siddon_edge_rows"):
        g = a[key]
        print(f"    {key:<29} r {g['pearson_r']:.5f}  median rel diff "
              f"{g['median_rel_diff']:+.4f}  median |rel| {g['median_abs_rel_diff']:.4f}  "
              f"p99 |rel| {g['p99_abs_rel_diff']:.4f}  ({g['pixels']} px)")


if __name__ == "__main__":
    main()
