"""DDIM sampling speed of a learned generator at 64x64, 50 steps: synthmed against MONAI.

A ``ddpm`` model with the ``cpu`` network preset (channels 16/32/32, no attention; the size
``synthmed train`` uses by default) is trained for one step on random images, saved and
loaded back by :func:`synthmed.learned.sample.load_model`: the timings are those of the
network's architecture, not of what it learned. In the same run, for each batch size:

- synthmed: :func:`synthmed.learned.sample.generate_samples` (per-sample seeded noise, DDIM
  50 steps, ``eta=0``, conversion to images in [0, 1]);
- MONAI: ``DiffusionInferer.sample`` with a ``DDIMScheduler`` of 50 steps on the same
  network and the same starting noise (MONAI's own sampling loop, the reference).

On the CPU (``torch.set_num_threads(--threads)``) and, when CUDA is available, on the GPU
too (also with the larger ``gpu`` preset: channels 64/128/256/256, attention at the two
lowest levels). One warm-up call each, then ``--repeats`` interleaved rounds; prints
seconds per image (best of the repeats) and the ratio MONAI / synthmed (above 1: synthmed
is faster), and writes them to ``benchmarks/results/learned.json``.

Run: ``make bench`` (or ``python benchmarks/learned.py --repeats 3``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from synthmed.learned.data import TrainingData
from synthmed.learned.models import ModelConfig, make_scheduler
from synthmed.learned.sample import generate_samples, load_model
from synthmed.learned.train import TrainParams, train
from synthmed.seeding import sample_streams

from _machine import timed, versions, write_result

PACKAGES = ("synthmed", "torch", "monai", "numpy")
RESULTS = Path(__file__).resolve().parent / "results" / "learned.json"
SIZE, STEPS = 64, 50


def one_step_model(preset: str, folder: Path, device: str):
    """A ``ddpm`` model of ``preset`` trained for one step on random 64x64 images, loaded."""
    rng = np.random.default_rng(0)
    data = TrainingData(rng.random((4, SIZE, SIZE), dtype=np.float32), source="random")
    train(data, folder, ModelConfig(size=SIZE, preset=preset), TrainParams(steps=1, batch_size=2),
          device=device, progress=False)
    return load_model(folder, device)


def ours(model, batch: int):
    def run():
        return generate_samples(model, batch, num_inference_steps=STEPS, batch_size=batch)
    return run


def monai(model, batch: int):
    """MONAI's sampling loop on the same network and the same starting noise as ``ours``."""
    from monai.inferers import DiffusionInferer

    noise = torch.stack([torch.randn(model.config.latent_shape, generator=torch.Generator()
                                     .manual_seed(int(sample_streams(0, i)[1].integers(2**63))))
                         for i in range(batch)]).to(model.device)
    scheduler = make_scheduler(model.config, "ddim")
    scheduler.set_timesteps(STEPS)
    inferer = DiffusionInferer(scheduler)

    def run():
        with torch.no_grad():
            return inferer.sample(noise, model.networks["unet"], scheduler, verbose=False)
    return run


def bench(preset: str, device: str, batches: list[int], repeats: int, folder: Path) -> dict:
    model = one_step_model(preset, folder / f"{preset}-{device}", device)
    out = {"preset": preset, "device": device, "channels": list(model.config.channels),
           "parameters": sum(p.numel() for p in model.networks["unet"].parameters()),
           "batches": {}}
    for b in batches:
        times, images = timed({"synthmed": ours(model, b), "monai": monai(model, b)}, repeats)
        ref = images["monai"][:, 0].clamp(-1, 1).add(1).div(2).float().cpu().numpy()
        mine = np.stack([s.image for s in images["synthmed"]])
        out["batches"][b] = {
            "synthmed_s_per_image": times["synthmed"]["best_s"] / b,
            "monai_s_per_image": times["monai"]["best_s"] / b,
            "ratio_monai_over_synthmed": times["monai"]["best_s"] / times["synthmed"]["best_s"],
            "max_abs_difference": float(np.abs(mine - ref).max()),
            "times_s": {k: v["times_s"] for k, v in times.items()}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        runs.append(bench("cpu", "cpu", args.batches, args.repeats, Path(tmp)))
        if torch.cuda.is_available():
            for preset in ("cpu", "gpu"):
                runs.append(bench(preset, "cuda", args.batches, args.repeats, Path(tmp)))
    result = {"benchmark": "learned_ddim_sampling", "size": SIZE, "ddim_steps": STEPS,
              "threads": args.threads, "cores": os.cpu_count(), "repeats": args.repeats,
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
              "versions": versions(PACKAGES),
              "load_average_1min": [load_before[0], os.getloadavg()[0]], "runs": runs}
    report(result)
    write_result(result, args.json)


def report(r: dict) -> None:
    v = r["versions"]
    print(f"DDIM sampling, ddpm at {r['size']}x{r['size']}, {r['ddim_steps']} steps: "
          f"synthmed generate_samples vs MONAI DiffusionInferer.sample (same network, noise)")
    print(f"  CPU: {v['processor']}; torch threads {r['threads']} of {r['cores']} cores; "
          f"GPU: {r['gpu'] or 'none'}; 1 warm-up, best of {r['repeats']} interleaved; "
          f"1-min load {r['load_average_1min'][0]:.1f} -> {r['load_average_1min'][1]:.1f}")
    print(f"  synthmed {v['synthmed']}, torch {v['torch']}, MONAI {v['monai']}")
    print(f"  {'device':<7}{'preset':<7}{'params':>9}{'batch':>6}{'synthmed s/img':>16}"
          f"{'MONAI s/img':>13}{'MONAI/synthmed':>16}{'max |diff|':>12}")
    for run in r["runs"]:
        for b, row in run["batches"].items():
            print(f"  {run['device']:<7}{run['preset']:<7}{run['parameters']:>9}{b:>6}"
                  f"{row['synthmed_s_per_image']:>16.3f}{row['monai_s_per_image']:>13.3f}"
                  f"{row['ratio_monai_over_synthmed']:>16.2f}{row['max_abs_difference']:>12.2e}")


if __name__ == "__main__":
    main()
