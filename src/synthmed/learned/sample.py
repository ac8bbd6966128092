"""Sampling the learned generators, and writing samples as a normal synthmed dataset.

Sample *i* of seed ``s`` draws its class (when none is asked) from
``sample_streams(s, i)[0]`` and its starting noise from a :class:`torch.Generator` seeded
from ``sample_streams(s, i)[1]``; DDIM sampling with ``eta=0`` adds no further noise, so a
sample depends only on the model, ``(seed, i)``, its class/mask and the sampler settings
(with the same ``batch_size``: batches are computed together, and float sums may round
differently in another grouping). The noise is the image (``ddpm``) or the autoencoder's
latent: ``vae`` decodes it directly (a draw from the prior), ``ldm`` denoises it by DDIM and
then decodes it. For ``gan`` it is the generator's noise z, mapped to an image in one pass
(no DDIM steps nor guidance: provenance records ``num_inference_steps`` as None, as for
``vae``).

>>> model = load_model("model/")                                    # doctest: +SKIP
>>> samples = generate_samples(model, 8, class_name="pneumonia", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmed import __version__
from synthmed._io import atomic_write_text, sha256_file
from synthmed.errors import SynthmedError
from synthmed.evaluate._torch import progress_bar, require_torch
from synthmed.learned.autoencoder import decode
from synthmed.learned.data import NO_FINDING
from synthmed.learned.gan import generate
from synthmed.learned.models import ModelConfig, build_networks, make_scheduler
from synthmed.learned.train import FORMAT, MODEL_JSON, WEIGHTS
from synthmed.sample import Labels, Provenance, Sample
from synthmed.seeding import sample_streams

__all__ = ["LoadedModel", "load_model", "generate_samples", "denoise", "load_condition_masks",
           "check_masks", "to_sample", "claim_sampled_output", "write_dataset",
           "sample_dataset"]


@dataclass
class LoadedModel:
    """A trained model: config, networks (eval mode), ``model.json`` content and hash."""

    config: ModelConfig
    networks: dict
    meta: dict
    sha256: str
    path: Path
    device: str = "cpu"

    @property
    def class_names(self) -> list[str]:
        return self.config.class_names


def load_model(path: str | Path, device: str = "cpu") -> LoadedModel:
    """Load a model folder written by :func:`synthmed.learned.train.train`."""
    torch = require_torch()
    root = Path(path)
    try:
        meta = json.loads((root / MODEL_JSON).read_text())
    except (OSError, ValueError):
        raise SynthmedError(f"{root}: no readable {MODEL_JSON}; give a folder written by "
                            "`synthmed train` (training may not have finished)") from None
    if meta.get("format") != FORMAT:
        raise SynthmedError(f"{root}: model format {meta.get('format')!r} is not {FORMAT!r}")
    digest = sha256_file(root / WEIGHTS)
    if digest != meta["weights_sha256"]:
        raise SynthmedError(f"{root / WEIGHTS} does not match {MODEL_JSON} (sha256 differs); "
                            "the folder was changed after training")
    config = ModelConfig.model_validate(meta["config"])
    networks = build_networks(config)
    module = torch.nn.ModuleDict(networks)
    module.load_state_dict(torch.load(root / WEIGHTS, map_location="cpu", weights_only=True))
    module.to(device).eval()
    return LoadedModel(config, networks, meta, digest, root, device)


def generate_samples(model: LoadedModel, n: int, *, class_name: str | None = None,
                     masks: dict[str, np.ndarray] | None = None, seed: int = 0,
                     num_inference_steps: int = 50, guidance_scale: float = 1.0,
                     batch_size: int = 16, start: int = 0, progress: bool = False,
                     ) -> list[Sample]:
    """Sample ``n`` images from ``model`` by DDIM; return them as labelled :class:`Sample`s.

    Parameters
    ----------
    class_name : str, optional
        Class to generate (one of ``model.class_names``); default: drawn per sample from the
        training data's class frequencies. Recorded in ``labels.classes``.
    masks : dict of str to bool ndarray (m, size, size), optional
        Conditioning masks, one array per name of the model's masks (required when it has
        masks); sample *i* uses mask ``i % m``. Recorded in ``labels.masks``.
    seed : int
        Sample *i* is reproducible alone from ``(seed, i)``.
    num_inference_steps : int
        DDIM steps (more: slower, finer); ddpm and ldm only (vae and gan take one pass).
    guidance_scale : float
        Classifier-free guidance weight; 1 uses the class alone, > 1 strengthens it (not
        for gan, which has no unconditional prediction to guide by).
    start : int
        Index of the first sample (to continue a dataset).
    """
    torch = require_torch()
    cfg = model.config
    if n < 1:
        raise SynthmedError(f"-n must be at least 1, got {n}")
    if class_name is not None and not cfg.class_names:
        raise SynthmedError(f"this {cfg.model} model was trained without classes; leave out "
                            "--class")
    if class_name is not None and class_name not in cfg.class_names:
        raise SynthmedError(f"class {class_name!r} is not one the model knows; choose from "
                            f"{', '.join(cfg.class_names) or 'none (an unconditional model)'}")
    mask_array = check_masks(cfg, masks)
    if cfg.model == "gan" and guidance_scale != 1.0:
        raise SynthmedError(f"a gan model has no classifier-free guidance; leave out --guidance "
                            f"(got {guidance_scale})")
    steps = num_inference_steps if cfg.model in ("ddpm", "ldm") else None  # vae, gan: one pass
    counts = model.meta["data"]["classes"]
    freq = np.array([counts.get(c, 0) for c in cfg.class_names], np.float64)
    freq = freq / freq.sum() if freq.sum() else None
    scheduler = make_scheduler(cfg, "ddim")
    scheduler.set_timesteps(num_inference_steps)
    samples: list[Sample] = []
    with progress_bar("sampling", n, progress) as advance, torch.no_grad():
        for b0 in range(start, start + n, batch_size):
            idx = list(range(b0, min(b0 + batch_size, start + n)))
            noise, classes = [], []
            for i in idx:
                params_rng, noise_rng = sample_streams(seed, i)
                g = torch.Generator().manual_seed(int(noise_rng.integers(2**63)))
                noise.append(torch.randn(cfg.latent_shape, generator=g))
                classes.append(cfg.class_names.index(class_name) if class_name is not None
                               else int(params_rng.choice(len(freq), p=freq))
                               if freq is not None else -1)
            x = torch.stack(noise).to(model.device)
            cond = None
            if mask_array is not None:
                cond = torch.from_numpy(mask_array[[i % len(mask_array) for i in idx]])
                cond = (cond.float() * 2 - 1).to(model.device)
            labels = torch.tensor(classes, device=model.device) if cfg.class_names else None
            x = _generate(model, x, cond, labels, scheduler, guidance_scale)
            images = ((x[:, 0].clamp(-1, 1) + 1) / 2).float().cpu().numpy()
            for j, i in enumerate(idx):
                sample_masks = ({name: mask_array[i % len(mask_array), k]
                                 for k, name in enumerate(cfg.mask_names)}
                                if mask_array is not None else {})
                samples.append(to_sample(model, images[j], classes[j], sample_masks, seed, i,
                                          steps, guidance_scale))
                advance()
    return samples


def _generate(model, x, cond, labels, scheduler, guidance_scale):
    """Images in [-1, 1] from starting noise ``x``: DDIM (ddpm, ldm), then decoding (vae, ldm);
    the generator (gan)."""
    cfg, nets = model.config, model.networks
    if cfg.model == "gan":
        return generate(nets["generator"], x, labels, cfg.num_classes)
    if cfg.model != "vae":
        x = denoise(model, x, cond, labels, scheduler, scheduler.timesteps, guidance_scale)
    if cfg.model != "ddpm":
        x = decode(nets["vae"], x / nets["latent_scale"].value)
    return x


def denoise(model: LoadedModel, x, cond, labels, scheduler, timesteps, guidance_scale: float):
    """DDIM steps of ``model``'s U-Net from ``x`` at ``timesteps[0]`` down past
    ``timesteps[-1]``, with classifier-free guidance: the denoised image (ddpm) or latent (ldm).

    ``cond`` (masks in [-1, 1], extra channels) and ``labels`` (class indices) may be None;
    ``scheduler`` is a DDIM scheduler whose ``set_timesteps`` gave ``timesteps`` (all of
    them for sampling, the last ones for editing from a partly noised image).
    """
    for t in timesteps:
        eps = _predict(model.networks["unet"], x, cond, t, labels, model.config, guidance_scale)
        x, _ = scheduler.step(eps, int(t), x)
    return x


def _predict(unet, x, cond, t, labels, cfg, guidance_scale):
    import torch

    inputs = x if cond is None else torch.cat([x, cond], 1)
    ts = torch.full((len(x),), int(t), device=x.device, dtype=torch.long)
    eps = unet(inputs, ts, class_labels=labels)
    if labels is not None and guidance_scale != 1.0:
        uncond = unet(inputs, ts, class_labels=torch.full_like(labels, cfg.null_class))
        eps = uncond + guidance_scale * (eps - uncond)
    return eps


def check_masks(cfg: ModelConfig, masks) -> np.ndarray | None:
    """Conditioning masks ``{name: (m, size, size)}`` as one (m, k, size, size) bool array in
    the model's mask order, or None for a model without masks; a clear error otherwise."""
    if not cfg.mask_names:
        if masks:
            raise SynthmedError("this model was not trained with masks; leave out --masks")
        return None
    if not masks or set(masks) != set(cfg.mask_names):
        raise SynthmedError(f"this model needs conditioning masks named "
                            f"{', '.join(cfg.mask_names)} (--masks DIR)")
    arrays = [np.asarray(masks[name], bool) for name in cfg.mask_names]
    if any(a.ndim != 3 or a.shape[1:] != (cfg.size, cfg.size) or len(a) != len(arrays[0])
           for a in arrays):
        raise SynthmedError(f"masks must be (m, {cfg.size}, {cfg.size}) arrays of equal m")
    return np.stack(arrays, axis=1)


def to_sample(model, image, class_id, masks, seed, index, steps, guidance) -> Sample:
    """A generated image (float in [0, 1]) as a :class:`Sample`: its class (index into the
    model's classes, -1 for none) as class flags, masks, and provenance naming the model."""
    cfg, data = model.config, model.meta["data"]
    chosen = cfg.class_names[class_id] if class_id >= 0 else None
    names = sorted({c for name in cfg.class_names for c in name.split("+")} - {NO_FINDING})
    classes = {c: c in (chosen or "").split("+") for c in names}
    label_table = {name: k + 1 for k, name in enumerate(cfg.mask_names)}
    prov = Provenance(
        preset=f"learned:{cfg.model}",
        params={"model_sha256": model.sha256, "model_path": str(model.path),
                "class": chosen, "num_inference_steps": steps, "guidance_scale": guidance,
                "masks": sorted(masks)},
        seed=seed, index=index, dataset_id=model.sha256[:8],  # the watermark id
        versions={"synthmed": __version__, **{k: v for k, v in model.meta["versions"].items()
                                               if k != "synthmed"}})
    report = (f"Synthetic image from learned model {model.sha256[:12]}"
              + (f", class {chosen}." if chosen else "."))
    return Sample(images={"image": image.astype(np.float32)},
                  spacing_mm=tuple(data["spacing_mm"]), modality=data["modality"],
                  labels=Labels(masks=masks, label_table=label_table, classes=classes),
                  units={"image": "1"}, report=report, provenance=prov)


def load_condition_masks(path: str | Path, names: list[str], size: int) -> dict[str, np.ndarray]:
    """Conditioning masks from a folder: a synthmed dataset or images + ``labels.csv`` with
    one mask column per name, or (for a model with one mask) a folder of mask images."""
    from synthmed.evaluate.data import load_image_set

    found = load_image_set(path, size=(size, size))
    if all(name in found.masks for name in names):
        return {name: found.masks[name] for name in names}
    if len(names) == 1:
        return {names[0]: found.images > 0.5}
    raise SynthmedError(f"{path}: needs masks named {', '.join(names)}; found "
                        f"{', '.join(sorted(found.masks)) or 'none'}")


def claim_sampled_output(out_dir: str | Path, model: LoadedModel, settings: dict,
                         formats: list[str] | None = None, overwrite: bool = False,
                         ) -> tuple[Path, list[str], str]:
    """Check the formats and make ``out_dir`` ready for samples of ``model`` with
    ``settings`` (call it before sampling, so a bad output folder fails at once).

    Returns the folder, the formats (a readable one first) and the dataset identity.
    """
    from synthmed.registry import EXPORTERS
    from synthmed.run.output import MANIFEST, claim_folder

    formats = sorted(dict.fromkeys(formats or ["png"]), key=lambda f: f != "png")
    if not {"png", "npz"} & set(formats):
        formats.insert(0, "png")
    for fmt in formats:
        EXPORTERS.get(fmt)
    identity = json.dumps({"model_sha256": model.sha256, **settings, "formats": formats},
                          sort_keys=True)
    root = Path(out_dir)
    claim_folder(root, identity, overwrite, "sampled from another model or with other "
                 "settings")
    (root / MANIFEST).unlink(missing_ok=True)
    return root, formats, identity


def write_dataset(samples: list[Sample], out_dir: str | Path, *, formats: list[str] | None = None,
                  model: LoadedModel, settings: dict, overwrite: bool = False) -> Path:
    """Write samples as a synthmed dataset: files, label records, manifest, card, run.json."""
    from synthmed.provenance.card import summarise
    from synthmed.run.output import RUN_FILE, finalize_exports, write_final_manifest
    from synthmed.run.task import write_sample

    root, formats, identity = claim_sampled_output(out_dir, model, settings, formats, overwrite)
    entries = {s.provenance.index: write_sample(s, root, s.provenance.index, formats)
               for s in samples}
    records = [json.loads((root / "labels" / f"{e['id']}.json").read_text())
               for _, e in sorted(entries.items())]
    dataset_files = finalize_exports(root, formats, records)
    summary = summarise(records)
    info = {"name": f"learned-{model.config.model}-{model.sha256[:12]}", "synthetic": True,
            "generator": f"learned:{model.config.model}", "model": model.meta["model"],
            "model_sha256": model.sha256, "settings": settings, "formats": formats,
            "versions": records[0]["provenance"]["versions"], **summary}
    atomic_write_text(root / "dataset.json", json.dumps(info, indent=1) + "\n")
    atomic_write_text(root / "dataset_card.md", _card(model, info))
    dataset_files += ["dataset_card.md", "dataset.json"]
    write_final_manifest(root, entries, dataset_files)
    atomic_write_text(root / RUN_FILE, json.dumps({
        "identity": identity, "count": len(samples),
        "state": "complete", "synthmed": __version__, "generator": info["generator"]},
        indent=1) + "\n")
    return root


def _card(model: LoadedModel, info: dict) -> str:
    n = max(info["count"], 1)
    rows = "\n".join(f"| {k} | {v} | {100 * v / n:.1f} % |" for k, v in info["classes"].items())
    data = model.meta["data"]
    return f"""# {info['name']} — dataset card

**Every image in this dataset is SYNTHETIC**, sampled from a learned generator. The
generator learned from the training images named below: if those were real patients'
images, samples can reproduce parts of them. Measure privacy before sharing.

## How it was made
- Generator: `{model.meta['model']}` model `{model.sha256}` (sha256 of its weights; see its
  `model_card.md`), trained {model.meta['steps']} steps on {data['count']} images from
  `{data['source']}`.
- Sampling: {json.dumps(info['settings'], sort_keys=True)}; sample *i* is reproducible
  alone from (model, seed, i) with these settings.
- Samples: {info['count']}; formats: {', '.join(info['formats'])}.
- Versions: {', '.join(f'{k} {v}' for k, v in info['versions'].items())}.

## Contents
| class | samples | share |
|---|---|---|
{rows}

Masks (samples that have each): {', '.join(f'{k} ({v})' for k, v in
info['samples_with_mask'].items()) or 'none'}.

## Known limitations
Class labels are the class the model was asked for, not a reading of the image: a weak
model can fail to draw the class it was given. Check with a classifier trained on real
data before relying on them.

## Files
`labels/{{id}}.json` holds each sample's labels and provenance (naming the model hash) and
lists its files; `manifest.jsonl` gives the sha256 of every file.
"""


def sample_dataset(model_dir: str | Path, out_dir: str | Path, n: int, *,
                   class_name: str | None = None, masks_dir: str | Path | None = None,
                   seed: int = 0, num_inference_steps: int = 50, guidance_scale: float = 1.0,
                   formats: list[str] | None = None, batch_size: int = 16,
                   device: str = "cpu", progress: bool = True, overwrite: bool = False) -> Path:
    """Load a model, sample ``n`` images and write them as a synthmed dataset."""
    model = load_model(model_dir, device)
    masks = (load_condition_masks(masks_dir, model.config.mask_names, model.config.size)
             if masks_dir is not None else None)
    settings = {"n": n, "class": class_name, "seed": seed, "masks": str(masks_dir or ""),
                "num_inference_steps": num_inference_steps, "guidance_scale": guidance_scale,
                "batch_size": batch_size}
    claim_sampled_output(out_dir, model, settings, formats, overwrite)
    samples = generate_samples(model, n, class_name=class_name, masks=masks, seed=seed,
                               num_inference_steps=num_inference_steps,
                               guidance_scale=guidance_scale, batch_size=batch_size,
                               progress=progress)
    return write_dataset(samples, out_dir, formats=formats, model=model, settings=settings,
                         overwrite=overwrite)
