"""Image-to-image translation: pix2pix (paired) and CycleGAN (unpaired), on 2D slices.

The ``brain_mri`` preset makes every contrast and modality of one subject from one tissue map
on one grid, so its T1, T2, FLAIR, CT and PET volumes are exact voxel pairs: the training
data for paired translation (T1 -> T2, MRI -> CT). :func:`paired_slices` cuts them into
normalised 2D slices; :func:`train_pix2pix` learns a mapping from pairs, :func:`train_cyclegan`
from two unpaired sets; both return a :class:`Translator` that saves to a folder
(:meth:`Translator.save`, :func:`load_translator`) and maps images to images.

Intensities: see :mod:`synthmed.learned.slices` (MR/PET by the brain's 99.5th percentile,
CT by a [-100, 1500] HU window).

Networks (MONAI, randomly initialised, nothing downloaded): the generator is
:class:`monai.networks.nets.UNet` (2D, instance norm, residual units, linear output), the
discriminator :class:`monai.networks.nets.PatchDiscriminator` with least-squares GAN losses.
Randomness comes from ``seed`` only: weights under :func:`~synthmed.evaluate._torch.seeded`,
batches and flips from an explicit :class:`torch.Generator`.

Example
-------
>>> src, tgt = paired_slices("out/brain", "t1", "t2", size=48)          # doctest: +SKIP
>>> model = train_pix2pix(src, tgt, steps=2000, seed=0)                  # doctest: +SKIP
>>> model.save("models/t1_to_t2"); fake_t2 = model(src[:4])              # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthmed._io import atomic_path, atomic_write_text
from synthmed.errors import SynthmedError
from synthmed.learned.slices import (CT_WINDOW_HU, MR_CLIP, _check_modality, _open, _resize,
                                     _volume_slices, paired_slices, unpaired_slices)

__all__ = ["paired_slices", "unpaired_slices", "train_pix2pix", "train_cyclegan", "Translator",
           "load_translator", "translation_errors", "translate_command"]

_FORMAT = "synthmed-translate-v1"
_MODELS = ("pix2pix", "cyclegan")


def _generator(config: dict):
    from monai.networks.nets import UNet

    channels = tuple(config["channels"])
    return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=channels,
                strides=(2,) * (len(channels) - 1), num_res_units=config["num_res_units"],
                norm="INSTANCE")


def _discriminator(config: dict, in_channels: int):
    from monai.networks.nets import PatchDiscriminator

    return PatchDiscriminator(spatial_dims=2, channels=config["disc_channels"],
                              in_channels=in_channels, out_channels=1,
                              num_layers_d=config["disc_layers"])


def _config(model: str, size: int, channels, *, steps, batch_size, lr, seed, **extra) -> dict:
    channels = [int(c) for c in channels]
    if len(channels) < 2:
        raise SynthmedError(f"channels needs at least two levels, got {channels}")
    if size % 2 ** (len(channels) - 1):
        raise SynthmedError(f"image size {size} must be divisible by "
                            f"{2 ** (len(channels) - 1)} for {len(channels)} UNet levels")
    return {"format": _FORMAT, "model": model, "size": int(size), "channels": channels,
            "num_res_units": 1, "disc_channels": 32, "disc_layers": 2 if size <= 64 else 3,
            "steps": int(steps), "batch_size": int(batch_size), "lr": float(lr),
            "seed": int(seed), **extra}


def _tensors(*arrays, device):
    import torch

    out = []
    for a in arrays:
        a = np.asarray(a, np.float32)
        if a.ndim != 3 or a.shape[1] != a.shape[2] or len(a) < 2:
            raise SynthmedError(f"expected at least two square images (n, size, size), got "
                                f"{a.shape}")
        out.append(torch.from_numpy(np.ascontiguousarray(a))[:, None].to(device))
    return out


def _batch(x, n_batch, generator, device):
    """Random batch with replacement, each image flipped left-right with p = 0.5."""
    import torch

    idx = torch.randint(0, x.shape[0], (n_batch,), generator=generator)
    flip = (torch.rand(n_batch, generator=generator) < 0.5).to(device)
    return idx.to(device), flip


def _apply(x, idx, flip):
    import torch

    b = x[idx]
    return torch.where(flip[:, None, None, None], b.flip(-1), b)


def _lsgan(prediction, real: bool):
    import torch

    p = prediction[-1]
    return torch.mean((p - (1.0 if real else 0.0)) ** 2)


def _optimisers(nets, lr, steps):
    """Adam(beta1 = 0.5) per net, lr constant for the first half, linear decay to 0."""
    import torch

    opts = [torch.optim.Adam(n.parameters(), lr=lr, betas=(0.5, 0.999)) for n in nets]
    half = steps // 2

    def factor(step):
        return 1.0 if step < half else max(0.0, 1.0 - (step - half) / max(1, steps - half))

    scheds = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in opts]
    return opts, scheds


def _summary(history: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {}
    for k, v in history.items():
        tail = v[-max(1, len(v) // 10):]
        out[k] = {"first": round(v[0], 6), "last_10pct_mean": round(float(np.mean(tail)), 6)}
    return out


# --------------------------------------------------------------------------- training
def train_pix2pix(src: np.ndarray, tgt: np.ndarray, *, steps: int = 2000,
                  batch_size: int = 8, lr: float = 1e-3, lambda_l1: float = 100.0,
                  seed: int = 0, channels: Sequence[int] = (32, 64, 128, 256),
                  device: str = "cpu", progress: bool = True, source: str = "",
                  target: str = "", data: str = "") -> Translator:
    """Train a pix2pix translator (conditional GAN plus L1) on paired images.

    Parameters
    ----------
    src, tgt : float32 ndarray (n, size, size)
        Paired images (from :func:`paired_slices`); ``size`` divisible by
        ``2 ** (len(channels) - 1)``.
    steps : int
        Optimiser steps (each one generator and one discriminator update).
    batch_size : int
        Image pairs per step, drawn with replacement, flipped left-right with p = 0.5.
    lr : float
        Adam step size (beta1 0.5), constant for half the steps, then linear decay to 0.
    lambda_l1 : float
        Weight of the L1 loss against the least-squares adversarial loss.
    seed : int
        Weights, batches and flips.
    channels : sequence of int
        UNet feature channels per level (each level halves the image).
    device : str
        Torch device (``"cpu"``, ``"cuda"``).
    progress : bool
        Progress bar on stderr.
    source, target, data : str
        Recorded in the config and model card.

    Returns
    -------
    Translator
        In eval mode; ``history`` holds the per-step losses ``g_adv``, ``g_l1`` and ``d``.
    """
    from synthmed.evaluate._torch import progress_bar, require_torch, seeded

    torch = require_torch()
    if len(src) != len(tgt):
        raise SynthmedError(f"pix2pix needs paired images: {len(src)} sources, {len(tgt)} "
                            "targets")
    x, y = _tensors(src, tgt, device=device)
    if x.shape != y.shape:
        raise SynthmedError(f"source and target shapes differ: {tuple(x.shape)}, "
                            f"{tuple(y.shape)}")
    config = _config("pix2pix", x.shape[-1], channels, steps=steps, batch_size=batch_size, lr=lr,
                     seed=seed, lambda_l1=float(lambda_l1), source=source, target=target,
                     data=str(data), n_train=int(len(x)))
    with seeded(seed, device):
        gen = _generator(config).to(device).train()
        disc = _discriminator(config, 2).to(device).train()
    generator = torch.Generator().manual_seed(seed)
    (opt_g, opt_d), scheds = _optimisers((gen, disc), lr, steps)
    history = {"g_adv": [], "g_l1": [], "d": []}
    start = time.perf_counter()
    with progress_bar("pix2pix", steps, progress) as advance:
        for _ in range(steps):
            idx, flip = _batch(x, batch_size, generator, device)
            xb, yb = _apply(x, idx, flip), _apply(y, idx, flip)
            fake = gen(xb)
            opt_d.zero_grad(set_to_none=True)
            d_loss = 0.5 * (_lsgan(disc(torch.cat([xb, yb], 1)), True)
                            + _lsgan(disc(torch.cat([xb, fake.detach()], 1)), False))
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            adv = _lsgan(disc(torch.cat([xb, fake], 1)), True)
            l1 = torch.mean(torch.abs(fake - yb))
            (adv + lambda_l1 * l1).backward()
            opt_g.step()
            for s in scheds:
                s.step()
            history["g_adv"].append(float(adv.detach()))
            history["g_l1"].append(float(l1.detach()))
            history["d"].append(float(d_loss.detach()))
            advance()
    config["seconds_per_step"] = round((time.perf_counter() - start) / max(1, steps), 4)
    return Translator(gen.eval(), config, history, device=device)


def train_cyclegan(src_unpaired: np.ndarray, tgt_unpaired: np.ndarray, *, steps: int = 2000,
                   batch_size: int = 4, lr: float = 2e-4, lambda_cycle: float = 10.0,
                   lambda_identity: float = 0.5, seed: int = 0,
                   channels: Sequence[int] = (32, 64, 128, 256), device: str = "cpu",
                   progress: bool = True, source: str = "", target: str = "",
                   data: str = "") -> Translator:
    """Train a CycleGAN: two generators (source -> target, target -> source), two patch
    discriminators, least-squares adversarial, cycle-consistency and identity losses.

    ``src_unpaired`` and ``tgt_unpaired`` (float32 (n, size, size), any two counts) need not
    show the same anatomy (:func:`unpaired_slices`). The identity loss weighs
    ``lambda_identity * lambda_cycle``. Other parameters as :func:`train_pix2pix`.

    Returns a :class:`Translator` for source -> target; its ``inverse`` maps back.
    ``history`` holds per-step ``g_adv``, ``cycle`` (mean L1 of both round trips),
    ``identity`` and ``d``.
    """
    from synthmed.evaluate._torch import progress_bar, require_torch, seeded

    torch = require_torch()
    a, b = _tensors(src_unpaired, tgt_unpaired, device=device)
    if a.shape[1:] != b.shape[1:]:
        raise SynthmedError(f"source and target images differ in size: {tuple(a.shape[2:])}, "
                            f"{tuple(b.shape[2:])}")
    config = _config("cyclegan", a.shape[-1], channels, steps=steps, batch_size=batch_size,
                     lr=lr, seed=seed, lambda_cycle=float(lambda_cycle),
                     lambda_identity=float(lambda_identity), source=source, target=target,
                     data=str(data), n_train=[int(len(a)), int(len(b))])
    with seeded(seed, device):
        g_ab, g_ba = _generator(config).to(device), _generator(config).to(device)
        d_a, d_b = _discriminator(config, 1).to(device), _discriminator(config, 1).to(device)
    nets = (g_ab, g_ba, d_a, d_b)
    for n in nets:
        n.train()
    generator = torch.Generator().manual_seed(seed)
    (opt_gab, opt_gba, opt_da, opt_db), scheds = _optimisers(nets, lr, steps)
    history = {"g_adv": [], "cycle": [], "identity": [], "d": []}
    start = time.perf_counter()
    with progress_bar("cyclegan", steps, progress) as advance:
        for _ in range(steps):
            ab = _apply(a, *_batch(a, batch_size, generator, device))
            bb = _apply(b, *_batch(b, batch_size, generator, device))
            opt_gab.zero_grad(set_to_none=True)
            opt_gba.zero_grad(set_to_none=True)
            fake_b, fake_a = g_ab(ab), g_ba(bb)
            adv = _lsgan(d_b(fake_b), True) + _lsgan(d_a(fake_a), True)
            cycle = 0.5 * (torch.mean(torch.abs(g_ba(fake_b) - ab))
                           + torch.mean(torch.abs(g_ab(fake_a) - bb)))
            ident = 0.5 * (torch.mean(torch.abs(g_ab(bb) - bb))
                           + torch.mean(torch.abs(g_ba(ab) - ab)))
            (adv + 2 * lambda_cycle * cycle + 2 * lambda_identity * lambda_cycle * ident
             ).backward()
            opt_gab.step()
            opt_gba.step()
            opt_da.zero_grad(set_to_none=True)
            opt_db.zero_grad(set_to_none=True)
            d_loss = 0.5 * (_lsgan(d_a(ab), True) + _lsgan(d_a(fake_a.detach()), False)
                            + _lsgan(d_b(bb), True) + _lsgan(d_b(fake_b.detach()), False))
            d_loss.backward()
            opt_da.step()
            opt_db.step()
            for s in scheds:
                s.step()
            history["g_adv"].append(float(adv.detach()))
            history["cycle"].append(float(cycle.detach()))
            history["identity"].append(float(ident.detach()))
            history["d"].append(float(d_loss.detach()))
            advance()
    config["seconds_per_step"] = round((time.perf_counter() - start) / max(1, steps), 4)
    inverse_config = {**config, "source": target, "target": source}
    inverse = Translator(g_ba.eval(), inverse_config, history, device=device)
    return Translator(g_ab.eval(), config, history, inverse=inverse, device=device)


# --------------------------------------------------------------------------- the model
@dataclass
class Translator:
    """A trained generator: images (n, rows, cols) or (rows, cols), float, in the source's
    normalised intensities -> the same shape in the target's (see the module docstring).

    Images of another size are resized to ``config["size"]`` and back. Deterministic: the
    network runs in eval mode without gradients.
    """

    module: object
    config: dict
    history: dict[str, list[float]] = field(default_factory=dict)
    inverse: Translator | None = None
    device: str = "cpu"
    evaluation: dict[str, float] = field(default_factory=dict)

    def __call__(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        import torch

        images = np.asarray(images, np.float32)
        single = images.ndim == 2
        if single:
            images = images[None]
        if images.ndim != 3:
            raise SynthmedError(f"expected images (n, rows, cols) or (rows, cols), got "
                                f"{images.shape}")
        size = self.config["size"]
        x = torch.from_numpy(_resize(images, size))[:, None]
        self.module.to(self.device).eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                out.append(self.module(x[i:i + batch_size].to(self.device)).float().cpu())
        y = _resize(torch.cat(out)[:, 0].numpy(), images.shape[1:])
        return y[0] if single else y

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``generator.pt`` (+ ``inverse_generator.pt`` for a CycleGAN),
        ``config.json``, ``history.json`` and ``model_card.md`` into ``directory``."""
        import torch

        d = Path(directory)
        if d.exists() and not d.is_dir():
            raise SynthmedError(f"{d} is a file; give a folder for the model")
        d.mkdir(parents=True, exist_ok=True)
        for name, t in (("generator.pt", self), ("inverse_generator.pt", self.inverse)):
            if t is None:
                continue
            with atomic_path(d / name) as tmp:
                torch.save({k: v.detach().cpu() for k, v in t.module.state_dict().items()}, tmp)
        meta = {**self.config, "torch": torch.__version__, "evaluation": self.evaluation}
        atomic_write_text(d / "config.json", json.dumps(meta, indent=2, sort_keys=True))
        atomic_write_text(d / "history.json", json.dumps(self.history))
        atomic_write_text(d / "model_card.md", self.model_card())
        return d

    def model_card(self) -> str:
        """A short Markdown card: task, data, network, training, losses, evaluation."""
        from synthmed import __version__

        c = self.config
        lines = [f"# {c['model']} translator: {c.get('source') or 'source'} -> "
                 f"{c.get('target') or 'target'}", "",
                 f"Made by synthmed {__version__} (`synthmed.learned.translate`), trained from "
                 "scratch on synthetic images only (no downloaded weights). Not for clinical "
                 "use.", "", "## Data", "",
                 f"- dataset: `{c.get('data') or 'arrays in memory'}`",
                 f"- training images: {c.get('n_train')}, {c['size']}x{c['size']} px",
                 "- intensities: MR/PET / 99.5th brain percentile, clipped to "
                 f"[0, {MR_CLIP}]; CT window {CT_WINDOW_HU[0]:g}..{CT_WINDOW_HU[1]:g} HU -> "
                 "[0, 1]", "", "## Configuration", ""]
        keys = [k for k in sorted(c) if k not in ("format", "data")]
        lines += [f"- {k}: {c[k]}" for k in keys]
        lines += ["", "## Losses (first step, mean of the last 10 % of steps)", ""]
        lines += [f"- {k}: {v['first']:.4g} -> {v['last_10pct_mean']:.4g}"
                  for k, v in _summary(self.history).items()] if self.history else ["- none"]
        if self.evaluation:
            lines += ["", "## Held-out evaluation (mean absolute error, normalised units)", ""]
            lines += [f"- {k}: {v:.4g}" for k, v in self.evaluation.items()]
        return "\n".join(lines) + "\n"


def load_translator(directory: str | os.PathLike, device: str = "cpu") -> Translator:
    """Read a :class:`Translator` written by :meth:`Translator.save` (weights only)."""
    from synthmed.evaluate._torch import require_torch

    torch = require_torch()
    d = Path(directory)
    try:
        config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthmedError(f"{d} is not a saved translator (config.json: {exc}); give the "
                            "folder `synthmed translate` wrote") from None
    if config.get("format") != _FORMAT:
        raise SynthmedError(f"{d}/config.json has format {config.get('format')!r}; this "
                            f"synthmed reads {_FORMAT!r} (retrain the model)")
    evaluation = config.pop("evaluation", {}) or {}
    config.pop("torch", None)
    try:
        history = json.loads((d / "history.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        history = {}

    def net(name):
        module = _generator(config)
        module.load_state_dict(torch.load(d / name, map_location="cpu", weights_only=True))
        return module.to(device).eval()

    inverse = None
    if (d / "inverse_generator.pt").is_file():
        inverse = Translator(net("inverse_generator.pt"),
                             {**config, "source": config.get("target", ""),
                              "target": config.get("source", "")}, history, device=device)
    return Translator(net("generator.pt"), config, history, inverse, device, evaluation)


def translation_errors(translator, src: np.ndarray, tgt: np.ndarray) -> dict[str, float]:
    """Mean absolute error of ``translator(src)`` against ``tgt`` and of two trivial
    baselines: the source itself (``l1_identity``) and the mean target image
    (``l1_mean_target``, the mean of ``tgt``: an optimistic baseline)."""
    src, tgt = np.asarray(src, np.float32), np.asarray(tgt, np.float32)
    pred = translator(src)
    return {"l1": float(np.mean(np.abs(pred - tgt))),
            "l1_identity": float(np.mean(np.abs(src - tgt))),
            "l1_mean_target": float(np.mean(np.abs(tgt.mean(0, keepdims=True) - tgt)))}


# --------------------------------------------------------------------------- command
def translate_command(model: str, data: Path, output: Path, source: str = "t1",
                      target: str = "t2", steps: int = 2000, size: int = 64, seed: int = 0,
                      apply: Path | None = None, *, device: str = "cpu",
                      progress: bool = True) -> Path:
    """``synthmed translate``: train a translator, or apply a saved one.

    Train (``apply`` None): slices of the ``brain_mri`` dataset ``data`` (paired for pix2pix,
    :func:`unpaired_slices` for CycleGAN) train a ``model`` for ``steps`` steps at
    ``size``² px; with three or more subjects the last one is held out and its errors
    (:func:`translation_errors`) go into the model card. The model folder is ``output``.

    Apply (``apply`` = a saved model folder): every image of ``data`` is translated and
    written as 16-bit PNG to ``output``: for a synthmed dataset, all slices of each
    subject's ``source`` volume (``{id}_{slice:03d}.png``), normalised as in training; for
    a folder of PNGs, each image read as [0, 1] intensities (same file name). Output PNG
    values are the target's normalised intensities clipped to [0, 1].

    Returns ``output``.
    """
    if model not in _MODELS:
        raise SynthmedError(f"unknown translation model {model!r}; choose pix2pix or cyclegan")
    _check_modality(source, "source")
    _check_modality(target, "target")
    data, output = Path(data), Path(output)
    if not data.exists():
        raise SynthmedError(f"{data} does not exist; give a brain_mri dataset folder "
                            "(or, with --apply, a folder of PNG images)")
    if apply is not None:
        return _apply_command(model, data, output, source, target, Path(apply), device)
    if steps < 1:
        raise SynthmedError(f"steps must be at least 1, got {steps}")
    ds = _open(data)
    keys = list(range(len(ds)))
    held = keys[-1:] if len(keys) >= 3 else []
    train = keys[:-1] if held else keys
    common = {"steps": steps, "seed": seed, "device": device, "progress": progress,
              "source": source, "target": target, "data": str(data)}
    if model == "pix2pix":
        src, tgt = paired_slices(data, source, target, size, ids=train)
        translator = train_pix2pix(src, tgt, **common)
    else:
        src, tgt = unpaired_slices(data, source, target, size, ids=train)
        translator = train_cyclegan(src, tgt, **common)
    if held:
        hs, ht = paired_slices(data, source, target, size, ids=held)
        translator.evaluation = translation_errors(translator, hs, ht)
    translator.save(output)
    return output


def _apply_command(model, data, output, source, target, model_dir, device) -> Path:
    from synthmed.export.png import read_png, write_png

    translator = load_translator(model_dir, device)
    c = translator.config
    if c.get("model") != model:
        raise SynthmedError(f"{model_dir} holds a {c.get('model')} model, not {model}")
    if (c.get("source"), c.get("target")) != (source, target):
        raise SynthmedError(f"{model_dir} translates {c.get('source')} -> {c.get('target')}; "
                            f"pass --source {c.get('source')} --target {c.get('target')}")
    if not data.is_dir():
        raise SynthmedError(f"{data} is not a folder of images or a dataset")
    output.mkdir(parents=True, exist_ok=True)

    def write(path, image):
        write_png(path, np.rint(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16))

    if (data / "labels").is_dir():
        ds = _open(data)
        for sid in ds.ids:
            (slices,) = _volume_slices(ds[sid], (source,), 0, None, all_slices=True)
            for k, image in enumerate(translator(slices)):
                write(output / f"{sid}_{k:03d}.png", image)
        return output
    pngs = sorted(p for p in data.glob("*.png") if not p.name.startswith("."))
    if not pngs:
        raise SynthmedError(f"{data} has no PNG images and no labels/ folder; give a "
                            "synthmed dataset or a folder of grayscale PNGs")
    for p in pngs:
        pixels = read_png(p)
        if pixels.ndim != 2:
            raise SynthmedError(f"{p} is not a grayscale image (shape {pixels.shape})")
        scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
        write(output / p.name, translator(pixels.astype(np.float32) / scale))
    return output
