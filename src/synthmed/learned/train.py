"""Training the learned generators: loop, checkpoints that resume, weights and model card.

An output folder holds::

    model/
      checkpoint.pt   networks, optimisers, RNG state, step and loss history (for resuming)
      weights.pt      the networks' weights only (what sampling loads)
      model.json      config, training parameters, data summary, steps, losses, seed,
                      versions and the weights' sha256 (the model hash)
      model_card.md   the same for people

Running the same training again into the same folder resumes from the checkpoint (to a
larger ``steps`` if asked); the result is the same as an uninterrupted run. Every random
draw (batches, noise, timesteps, class dropout) comes from one seeded
:class:`torch.Generator` that is saved in the checkpoint.

``vae`` trains the autoencoder alone; ``ldm`` trains it for ``autoencoder_steps`` steps,
then freezes it, encodes the training images and trains the DDPM U-Net (the same loss as
``ddpm``, with the same class dropout) on their latents, scaled to unit standard deviation.
``gan`` updates its discriminator, then its generator, in each step, each with its own Adam
(:mod:`synthmed.learned.gan`); ``model.json`` keeps both losses under ``loss_parts`` (its
``loss`` is the generator's).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from synthmed import __version__
from synthmed._io import atomic_write_bytes, atomic_write_text, sha256_file
from synthmed.errors import OutputError, SynthmedError
from synthmed.evaluate._torch import progress_bar, require_torch, seeded
from synthmed.learned.autoencoder import encode_latents, vae_step
from synthmed.learned.data import TrainingData
from synthmed.learned.gan import LOSS_PARTS, gan_optimisers, gan_step
from synthmed.learned.models import ModelConfig, build_networks, make_scheduler

__all__ = ["TrainParams", "train", "FORMAT"]

FORMAT = "synthmed-learned-v1"
CHECKPOINT, WEIGHTS, MODEL_JSON, CARD = "checkpoint.pt", "weights.pt", "model.json", "model_card.md"


class TrainParams(BaseModel):
    """How a model is trained (stored in ``model.json``)."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(2000, ge=1, description="optimiser steps (batches)")
    batch_size: int = Field(16, ge=1, description="images per step")
    learning_rate: float = Field(1e-3, gt=0, description="Adam step size")
    class_dropout: float = Field(0.1, ge=0, lt=1, description="share of steps' images "
                                 "trained without their class (classifier-free guidance)")
    checkpoint_every: int = Field(500, ge=1, description="steps between checkpoints")
    autoencoder_steps: int | None = Field(None, ge=1, description="ldm: steps of the "
                                          "autoencoder before the latent diffusion (default: "
                                          "half of steps; give it to resume to more steps)")
    seed: int = Field(0, ge=0, description="weights, batches and noise")


def train(data: TrainingData, out_dir: str | Path, config: ModelConfig | None = None,
          params: TrainParams | None = None, *, device: str = "cpu", progress: bool = True,
          overwrite: bool = False) -> Path:
    """Train a generator on ``data``; write checkpoint, weights, ``model.json`` and card.

    Parameters
    ----------
    data : TrainingData
        From :func:`synthmed.learned.data.load_training_data`; its size must be ``config.size``.
    out_dir : path
        New or empty folder, or an earlier run of the same training (resumed).
    config : ModelConfig
        Default: ``ddpm`` at the data's size with its classes and masks.
    params : TrainParams
    device : str
        ``"cpu"`` or ``"cuda"``.
    overwrite : bool
        Replace a model trained differently in ``out_dir``.

    Returns the output folder.
    """
    torch = require_torch()
    params = params or TrainParams()
    config = config or ModelConfig(size=data.size, class_names=data.class_names,
                                   mask_names=data.mask_names)
    if config.size != data.size:
        raise SynthmedError(f"the model is {config.size} px but the images are {data.size} px")
    if config.mask_names != data.mask_names or (
            (config.model == "ddpm" or config.class_names)
            and config.class_names != data.class_names):
        raise SynthmedError("the model's classes/masks differ from the data's")
    ae_steps = None
    if config.model == "ldm":
        ae_steps = params.autoencoder_steps or max(1, params.steps // 2)
        if ae_steps >= params.steps:
            raise SynthmedError(f"ldm: autoencoder steps ({ae_steps}) must be fewer than "
                                f"steps ({params.steps})")
    params = params.model_copy(update={"autoencoder_steps": ae_steps})
    root = Path(out_dir)
    identity = {"format": FORMAT, "config": config.model_dump(mode="json"),
                "params": params.model_dump(exclude={"steps", "checkpoint_every"}),
                "data": data.fingerprint()}
    state = _claim(root, identity, overwrite, torch)

    with seeded(params.seed, device):
        nets = build_networks(config)
    module = torch.nn.ModuleDict(nets).to(device)
    optimisers = (gan_optimisers(module, params) if config.model == "gan" else
                  {"model": torch.optim.Adam(module.parameters(), lr=params.learning_rate)})
    generator = torch.Generator().manual_seed(params.seed)
    losses: list[list[float]] = []  # per step: the loss, or (generator, discriminator) for gan
    if state is not None:
        module.load_state_dict(state["networks"])
        for name, optimiser in optimisers.items():
            optimiser.load_state_dict(state["optimisers"][name])
        generator.set_state(state["generator"])
        losses = state["losses"].tolist()
    start = len(losses)
    if start > params.steps:
        raise SynthmedError(f"{root} already holds {start} steps; ask for at least that many")

    x = torch.from_numpy(data.images)[:, None] * 2 - 1
    masks = (torch.from_numpy(data.masks).float() * 2 - 1 if data.masks is not None
             else x.new_zeros(len(x), 0, *x.shape[-2:]))
    labels = torch.from_numpy(data.class_index) if config.class_names else None
    scheduler = make_scheduler(config, "ddpm")
    if config.model == "gan":
        step_fn = gan_step(module, optimisers, config, params, x, labels, device)
    elif config.model == "ddpm":
        step_fn = _descend(_ddpm_step(module["unet"], scheduler, config, params, x, masks,
                                      labels, device), optimisers["model"])
    else:
        step_fn = _descend(vae_step(module["vae"], config, params, x, device),
                           optimisers["model"])
    names = LOSS_PARTS if config.model == "gan" else ("loss",)

    module.train()
    with progress_bar(f"training {config.model}", params.steps - start, progress) as advance:
        for step in range(start, params.steps):
            if ae_steps is not None and step == max(start, ae_steps):
                step_fn = _descend(_latent_step(module, scheduler, config, params, x, labels,
                                                device), optimisers["model"])
            losses.append(step_fn(generator))
            recent = np.mean(losses[-50:], axis=0)
            advance(f"training {config.model}  "
                    + "  ".join(f"{k} {v:.4f}" for k, v in zip(names, recent, strict=True)))
            done = step + 1
            if done % params.checkpoint_every == 0 or done == params.steps:
                _save_checkpoint(root, module, optimisers, generator, losses, identity, torch)
    module.eval()
    _save(root / WEIGHTS, {k: v.cpu() for k, v in module.state_dict().items()}, torch)
    meta = _model_json(root, config, params, data, losses, torch)
    atomic_write_text(root / MODEL_JSON, json.dumps(meta, indent=1) + "\n")
    atomic_write_text(root / CARD, model_card(meta))
    return root


def _descend(loss_fn, optimiser):
    """A training step from a loss function: one update of ``optimiser``; gives ``[loss]``."""

    def step(generator):
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(generator)
        loss.backward()
        optimiser.step()
        return [float(loss.detach())]

    return step


def _ddpm_step(unet, scheduler, config, params, x, masks, labels, device):
    """Loss of one batch: noise a batch at random timesteps, predict the noise, velocity
    or clean image (MSE)."""
    import torch
    from torch.nn import functional as F

    n, b = len(x), params.batch_size

    def step(generator):
        idx = torch.randint(0, n, (b,), generator=generator)
        clean = x[idx]
        noise = torch.randn(clean.shape, generator=generator)
        t = torch.randint(0, config.num_train_timesteps, (b,), generator=generator)
        noisy = scheduler.add_noise(clean, noise, t)
        inputs = torch.cat([noisy, masks[idx]], 1).to(device)
        cls = None
        if labels is not None:
            drop = torch.rand(b, generator=generator) < params.class_dropout
            cls = torch.where(drop, config.null_class, labels[idx]).to(device)
        pred = unet(inputs, t.to(device), class_labels=cls)
        if config.prediction_type == "epsilon":
            target = noise
        elif config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(clean, noise, t)
        else:
            target = clean
        return F.mse_loss(pred.float(), target.to(device))

    return step


def _latent_step(module, scheduler, config, params, x, labels, device):
    """ldm's second stage: the DDPM loss (class labels with dropout, as ddpm) on the
    (frozen) autoencoder's scaled latents."""
    z = encode_latents(module["vae"], x, device)
    module["latent_scale"].value.fill_(float(1 / z.std().clamp_min(1e-6)))
    z = z * module["latent_scale"].value.cpu()
    return _ddpm_step(module["unet"], scheduler, config, params, z,
                      z.new_zeros(len(z), 0, *z.shape[-2:]), labels, device)


def _claim(root: Path, identity: dict, overwrite: bool, torch):
    """Make ``root`` ready; return the checkpoint state to resume from, or None."""
    if root.exists() and not root.is_dir():
        raise OutputError(f"output {root} is a file; give a folder path with -o")
    ckpt = root / CHECKPOINT
    if ckpt.is_file():
        try:
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint
            raise OutputError(f"{ckpt} is unreadable ({exc}); remove {root} or choose "
                              "another output folder") from None
        if state.get("identity") == json.dumps(identity, sort_keys=True):
            return state
        if not overwrite:
            raise OutputError(f"{root} holds a model trained differently (model, config, "
                              "training parameters or data differ); choose another output "
                              "folder or pass --overwrite to replace it")
        shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()):
        if not (overwrite and (root / MODEL_JSON).is_file()):
            raise OutputError(f"{root} is not empty and holds no synthmed checkpoint; choose "
                              "an empty or new output folder")
        shutil.rmtree(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {root}: {exc.strerror or exc}") from None
    return None


def _save_checkpoint(root, module, optimisers, generator, losses, identity, torch):
    state = {"identity": json.dumps(identity, sort_keys=True),
             "networks": {k: v.cpu() for k, v in module.state_dict().items()},
             "optimisers": {k: v.state_dict() for k, v in optimisers.items()},
             "generator": generator.get_state(),
             "losses": torch.tensor(losses, dtype=torch.float64)}
    _save(root / CHECKPOINT, state, torch)


def _save(path: Path, obj, torch) -> None:
    """torch.save atomically, through memory: the bytes do not depend on a temporary file
    name (torch names the archive after the file), so equal weights hash the same."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def loss_summary(losses: list[float]) -> dict:
    """Mean loss over the first and last 10 % of steps (at least one step each) and a curve
    of at most 100 points (means of equal runs of steps)."""
    arr = np.asarray(losses, np.float64)
    k = max(1, len(arr) // 10)
    chunks = np.array_split(arr, min(100, len(arr)))
    return {"first": float(arr[:k].mean()), "last": float(arr[-k:].mean()),
            "curve": [round(float(c.mean()), 6) for c in chunks]}


def _model_json(root, config, params, data, losses, torch) -> dict:
    import monai

    history = np.asarray(losses, np.float64)  # (steps, parts)
    extra = {}
    if params.autoencoder_steps:
        k = params.autoencoder_steps
        extra = {"loss_stages": {"autoencoder": loss_summary(history[:k, 0]),
                                 "diffusion": loss_summary(history[k:, 0])}}
    if config.model == "gan":
        extra = {"loss_parts": {name: loss_summary(history[:, j])
                                for j, name in enumerate(LOSS_PARTS)}}
    return {"format": FORMAT, "model": config.model, "config": config.model_dump(mode="json"),
            "training": params.model_dump(), "data": data.summary(), "steps": len(losses),
            "loss": loss_summary(history[:, 0]), **extra, "seed": params.seed,
            "versions": {"synthmed": __version__, "torch": torch.__version__,
                         "monai": monai.__version__, "numpy": np.__version__},
            "weights_sha256": sha256_file(root / WEIGHTS)}


_AE = "mean L1 reconstruction + {kl_weight} x KL"
_RES = "preset `{preset}`, channels {channels}, {num_res_blocks} residual block(s) per level"
_UNET = (_RES + ", attention {attention_levels}.\n- Noise schedule: `{schedule}`, "
         "{num_train_timesteps} steps; the network predicts `{prediction_type}`")
_KINDS = {  # kind, network, loss
    "ddpm": ("MONAI `DiffusionModelUNet`, DDPM training, DDIM sampling", _UNET,
             "MSE of the `{prediction_type}` prediction"),
    "vae": ("MONAI `AutoencoderKL`, {latent_channels} latent channels; sampling decodes "
            "prior noise z ~ N(0, I)", _RES, _AE),
    "ldm": ("MONAI `AutoencoderKL` ({latent_channels} latent channels), then a "
            "`DiffusionModelUNet` trained by DDPM on its latents; DDIM sampling in the latent, "
            "then decoding", _UNET,
            _AE + ", then MSE of the latent `{prediction_type}` prediction"),
    "gan": ("MONAI `Generator` from noise z ({latent_dim} values) joined to the one-hot class, "
            "trained against a `PatchDiscriminator` that sees the class as one-hot input maps; "
            "sampling maps z ~ N(0, I) through the generator",
            "preset `{preset}`, channels {channels} (the generator runs them in reverse, "
            "doubling the side per level, with instance-normalised residual units and a tanh "
            "output; the discriminator in order, with instance norm)",
            "generator: non-saturating logistic loss; discriminator: logistic loss + "
            "{r1_weight} / 2 x squared gradient at real images (R1); one Adam per network, "
            "betas (0.5, 0.999)"),
}


def _first_last(summary: dict) -> str:
    return f"first 10 % of steps {summary['first']:.4f}, last 10 % {summary['last']:.4f}"


def model_card(meta: dict) -> str:
    """``model_card.md`` from ``model.json``'s content."""
    cfg, data, tr = meta["config"], meta["data"], meta["training"]
    classes = ", ".join(f"{k} ({v})" for k, v in data["classes"].items()) or "none"
    kind, network, loss_text = (text.format(**cfg) for text in _KINDS[meta["model"]])
    losses = ("; ".join(f"{name} {_first_last(v)}" for name, v in meta.get("loss_parts",
                                                                             {}).items())
              or _first_last(meta["loss"]))
    stages = "".join(f"\n- {name} stage loss: {_first_last(v)}."
                     for name, v in meta.get("loss_stages", {}).items())
    dropout = (f"; class dropout {tr['class_dropout']}"
               if cfg["class_names"] and meta["model"] != "gan" else "")
    return f"""# synthmed learned generator — `{meta['model']}` model card

Model hash (sha256 of `weights.pt`): `{meta['weights_sha256']}`

**Images sampled from this model are SYNTHETIC**, but the model learned from the training
images below: if those were real patients' images, samples can reproduce parts of them.
Measure privacy (`synthmed evaluate --train`) before sharing samples.

## Model
- Kind: `{meta['model']}` ({kind});
  {cfg['size']} x {cfg['size']} px, one grey channel in [0, 1].
- Network: {network}.
- Conditioning: classes {cfg['class_names'] or 'none'}; masks {cfg['mask_names'] or 'none'}.

## Data
- Source: `{data['source']}`; {data['count']} images, modality {data['modality']},
  resized to {data['size']} px (pixel spacing {data['spacing_mm']} mm after resizing).
- Class column: `{data['label_column'] or 'none'}`; images per class: {classes}.
- Data sha256 (pixels and labels): `{data['sha256']}`.

## Training
- Steps: {meta['steps']} of batch {tr['batch_size']}; Adam, learning rate
  {tr['learning_rate']}{dropout}; seed {meta['seed']}.
- Loss ({loss_text}): {losses}.{stages}
- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}.

## Use
`synthmed sample MODEL_DIR -o out/ -n 100 [--class NAME]` writes a synthmed dataset whose
records name this model's hash.

## Limitations
A model trained for minutes on a CPU makes blurry, low-detail images: fine for tests and
pipelines, not for realism. Samples cover only what the training images show.
"""
