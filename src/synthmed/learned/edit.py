"""Edit a real or synthetic image toward a class with a diffusion model (SDEdit).

SDEdit (Meng et al., ICLR 2022): noise the image part of the way, to timestep
``t0 = strength x T``, then denoise it with the model, conditioned on the requested class
(with classifier-free guidance). What the noise left standing (layout, anatomy, contrast)
stays; what the class decides is redrawn. ``strength`` trades the two: 0 returns the
input, 1 draws a new image of the class that ignores it.

Works for the diffusion models, ``ddpm`` (in pixels) and ``ldm`` (in the autoencoder's
scaled latent: encoded first, decoded last), when they were trained with classes. ``vae``
(and ``gan``) have no denoising steps to start part-way, so they cannot edit.

The image (PNG/JPEG/TIFF/BMP, DICOM, ``.npy``, 2D NIfTI; grey or colour, any bit depth) is
read to [0, 1] as training images are (8-bit / 255, 16-bit / 65535; DICOM de-identified in
memory, its modality LUT applied, then min-max; arrays: floats in [0, 1] as they are,
unsigned 8/16-bit by their range, anything else min-max; the scaling is recorded),
converted to grey and resized to the model's square size (like training images: the
aspect ratio is not kept). The edited image is at the model's size.

Masks: a model trained with ``--mask`` needs the masks of the image; they are taken from
the source when it is a file of a synthmed dataset (its ``labels/ID.json`` record names
them), and recorded with the edited sample. Other sources are refused for such models.

The noise of edit ``index`` comes from ``sample_streams(seed, index)[1]`` (as sampling's
does), and DDIM (``eta=0``) adds none after it, so an edit is reproducible from (model,
image, class, strength, steps, guidance, seed, index), all recorded in its provenance
with the source's file name and sha256 (never anything read from a DICOM header).

>>> from synthmed.learned.sample import load_model
>>> model = load_model("model/")                                # doctest: +SKIP
>>> requested_class(model, "kl_grade", 3)                       # doctest: +SKIP
'3'
>>> s = edit_image(model, "knee.png", class_name="3", strength=0.6, seed=0)  # doctest: +SKIP
>>> s.provenance.edits, s.labels.classes["3"]                   # doctest: +SKIP
({'class': '3'}, True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmed._io import sha256_file
from synthmed.errors import SynthmedError
from synthmed.evaluate._torch import progress_bar, require_torch
from synthmed.evaluate.data import IMAGE_SUFFIXES, read_image_file, to_grey
from synthmed.learned.autoencoder import decode, encode_latents
from synthmed.learned.data import label_text
from synthmed.learned.models import make_scheduler
from synthmed.learned.sample import (LoadedModel, check_masks, claim_sampled_output, denoise,
                                     to_sample, write_dataset)
from synthmed.sample import Sample
from synthmed.seeding import sample_streams

__all__ = ["SourceImage", "read_image", "image_paths", "requested_class", "edit_image",
           "edit_dataset", "EDITABLE"]

EDITABLE = ("ddpm", "ldm")
SUFFIXES = (*IMAGE_SUFFIXES, ".npy", ".nii", ".nii.gz")


@dataclass
class SourceImage:
    """An image to edit: grey, float32 in [0, 1] (rows, cols), at its own size.

    ``name`` is the file name (no folders), ``sha256`` the file's hash, ``scaling`` how its
    values were brought to [0, 1]; ``path`` is None for an array given directly.
    """

    image: np.ndarray
    name: str
    sha256: str
    scaling: str
    path: Path | None = None


def read_image(path: str | Path) -> SourceImage:
    """Read a 2D image file to grey values in [0, 1] (see the module for formats and scaling).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(p, np.array([[0, 1000], [2000, 4000]], np.int16))
    >>> s = read_image(p)
    >>> s.image.tolist(), s.scaling
    ([[0.0, 0.25], [0.5, 1.0]], 'min-max from [0, 4000]')
    """
    path = Path(path)
    if not path.is_file():
        raise SynthmedError(f"{path}: no such image file")
    name = path.name.lower()
    if name.endswith(".npy"):
        try:
            image, scaling = _unit_range(np.load(path, allow_pickle=False))
        except (ValueError, OSError, EOFError) as exc:
            raise SynthmedError(f"{path}: cannot read the array ({exc})") from None
    elif name.endswith((".nii", ".nii.gz")):
        from synthmed.export.nifti import from_nifti_order, load_nifti_data

        data = np.squeeze(load_nifti_data(path))
        if data.ndim != 2:
            raise SynthmedError(f"{path}: a NIfTI image of shape {data.shape}; give one 2D "
                                "slice")
        image, scaling = _unit_range(from_nifti_order(data[:, :, None], 2))
    else:  # as training images are read
        image = read_image_file(path)
        scaling = ("modality LUT, then min-max" if name.endswith(".dcm")
                   else "8-bit / 255, 16-bit / 65535")
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = to_grey(image, image.shape[:2])
    if image.ndim != 2:
        raise SynthmedError(f"{path}: an image of shape {image.shape}; give a 2D image")
    return SourceImage(np.asarray(image, np.float32), path.name, sha256_file(path), scaling,
                       path)


def _unit_range(array: np.ndarray) -> tuple[np.ndarray, str]:
    """Values in [0, 1]: unsigned 8/16-bit by their range, floats in [0, 1] as they are,
    anything else min-max; with a description of what was done."""
    a = np.asarray(array)
    if a.dtype in (np.uint8, np.uint16):
        top = np.iinfo(a.dtype).max
        return a.astype(np.float32) / top, f"/ {top}"
    if a.dtype.kind not in "uif" or a.size == 0:
        raise SynthmedError(f"cannot edit an array of dtype {a.dtype} and shape {a.shape}")
    is_float, a = a.dtype.kind == "f", a.astype(np.float32)
    lo, hi = float(a.min()), float(a.max())
    if is_float and 0 <= lo and hi <= 1:
        return a, "none (float in [0, 1])"
    return (a - lo) / max(hi - lo, 1e-12), f"min-max from [{lo:g}, {hi:g}]"


def image_paths(path: str | Path) -> list[Path]:
    """The images to edit: ``path`` itself, the images of a synthmed dataset, or the image
    files under a folder (recursive, sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SynthmedError(f"{path}: no such image or folder")
    if (path / "labels").is_dir() and (path / "run.json").is_file():
        from synthmed.dataset import open_dataset

        ds = open_dataset(path)
        found = [path / f for sid in ds.ids for role, f in
                 sorted(ds.record(sid)["files"].items()) if role.startswith("image/")]
        if len(found) != len(ds):
            raise SynthmedError(f"{path}: edit needs one PNG image per sample (export the "
                                "dataset with the png format), or give its files")
    else:
        found = [p for p in sorted(path.rglob("*"))
                 if p.is_file() and p.name.lower().endswith(SUFFIXES)
                 and not any(part.startswith(".") for part in p.relative_to(path).parts)]
    if not found:
        raise SynthmedError(f"{path}: no images found ({', '.join(SUFFIXES)})")
    return found


def _source_masks(path: Path) -> dict[str, np.ndarray]:
    """Masks of the synthmed sample whose file ``path`` is ({} if it is not one)."""
    from synthmed.dataset import open_dataset
    from synthmed.edit import record_of

    try:
        record = record_of(path)
    except SynthmedError:
        return {}
    return open_dataset(record.parent.parent).load(record.stem).labels.masks


def requested_class(model: LoadedModel, name: str, value) -> str:
    """The model class that ``--set NAME=VALUE`` asks for.

    ``NAME`` is the label column the model was trained on (``kl_grade=3`` gives class
    ``"3"``; a boolean column ``pneumonia=true`` gives ``pneumonia``, ``false``
    ``no_pneumonia``), or ``class`` to name a class directly (``class=square``).
    """
    _check_editable(model)
    classes = model.class_names
    if not classes:
        raise SynthmedError(f"this {model.config.model} model was trained without classes, so "
                            "it cannot edit toward one; train it with --label-column")
    column = model.meta["data"].get("label_column", "")
    if name == "class":
        chosen = str(value)
    elif name == column:
        chosen = (name if value else f"no_{name}") if isinstance(value, bool) else label_text(value)
    else:
        raise SynthmedError(f"cannot set {name!r}: this model is conditioned on "
                            f"{column or 'its classes'!r}; use --set {column or 'class'}=VALUE "
                            f"or --set class=NAME with a class of {', '.join(classes)}")
    if chosen not in classes:
        raise SynthmedError(f"{name}={value}: {chosen!r} is not a class this model knows; "
                            f"choose from {', '.join(classes)}")
    return chosen


def edit_image(model: LoadedModel, image: np.ndarray | str | Path, *, class_name: str,
               strength: float = 0.5, num_inference_steps: int = 50,
               guidance_scale: float = 1.0, seed: int = 0, index: int = 0,
               masks: dict[str, np.ndarray] | None = None) -> Sample:
    """Edit ``image`` toward class ``class_name`` by SDEdit; return the edited :class:`Sample`.

    Parameters
    ----------
    model : LoadedModel
        A class-conditioned ``ddpm`` or ``ldm`` model (:func:`load_model`).
    image : float ndarray (rows, cols) in [0, 1], or path
        The image to edit, or its file (any format :func:`read_image` reads).
    class_name : str
        Class to edit toward, one of ``model.class_names`` (see :func:`requested_class`).
    strength : float
        Fraction of the noise schedule to noise the image by, in [0, 1]: 0 keeps it,
        ~0.3-0.6 changes what the class decides, 1 ignores the image.
    num_inference_steps : int
        DDIM steps over the whole schedule; about ``strength`` x this many are run.
    guidance_scale : float
        Classifier-free guidance weight; 1 uses the class alone, > 1 pushes harder toward it.
    seed, index : int
        The noise is drawn from ``sample_streams(seed, index)``.
    masks : dict of str to bool ndarray (rows, cols), optional
        The image's masks, for a model trained with masks (default: those of the source
        sample, when ``image`` is a file of a synthmed dataset).

    Returns
    -------
    Sample
        Image ``"image"`` (float32 in [0, 1], model size), ``labels.classes`` set to the
        requested class, ``provenance.edits == {"class": class_name}`` and the source,
        strength and settings in ``provenance.params``.
    """
    torch = require_torch()
    cfg = model.config
    _check_editable(model)
    if not 0 <= strength <= 1:
        raise SynthmedError(f"strength must be between 0 and 1, got {strength}")
    if class_name not in cfg.class_names:
        requested_class(model, "class", class_name)  # raises with the list of classes
    source = read_image(image) if isinstance(image, (str, Path)) else _array_source(image)
    if masks is None and cfg.mask_names and source.path is not None:
        masks = _source_masks(source.path)
    size = (cfg.size, cfg.size)
    masks = {k: to_grey(np.asarray(m, np.float32), size) > 0.5 for k, m in (masks or {}).items()}
    if cfg.mask_names and set(cfg.mask_names) - set(masks):
        raise SynthmedError(f"this model is conditioned on masks {', '.join(cfg.mask_names)}: "
                            "edit a file of a synthmed dataset that has them (or pass masks)")
    mask_array = check_masks(cfg, {k: masks[k][None] for k in cfg.mask_names} or None)
    pixels = to_grey(source.image, size).clip(0, 1)

    scheduler = make_scheduler(cfg, "ddim")
    scheduler.set_timesteps(num_inference_steps)
    timesteps = scheduler.timesteps[scheduler.timesteps < strength * cfg.num_train_timesteps]
    g = torch.Generator().manual_seed(int(sample_streams(seed, index)[1].integers(2**63)))
    noise = torch.randn((1, *cfg.latent_shape), generator=g)
    nets, device = model.networks, model.device
    with torch.no_grad():
        x = torch.from_numpy(pixels)[None, None] * 2 - 1
        if cfg.model == "ldm":
            x = encode_latents(nets["vae"], x, device) * nets["latent_scale"].value.cpu()
        if len(timesteps):
            x = scheduler.add_noise(x, noise, timesteps[:1])
            cond = (None if mask_array is None
                    else (torch.from_numpy(mask_array).float() * 2 - 1).to(device))
            labels = torch.tensor([cfg.class_names.index(class_name)], device=device)
            x = denoise(model, x.to(device), cond, labels, scheduler, timesteps, guidance_scale)
        if cfg.model == "ldm":
            x = decode(nets["vae"], x.to(device) / nets["latent_scale"].value)
    edited = ((x[0, 0].clamp(-1, 1) + 1) / 2).float().cpu().numpy()
    sample = to_sample(model, edited, cfg.class_names.index(class_name),
                        {k: masks[k] for k in cfg.mask_names}, seed, index,
                        num_inference_steps, guidance_scale)
    sample.provenance.params.update(
        source=source.name, source_sha256=source.sha256, intensity_scaling=source.scaling,
        strength=strength, start_timestep=int(timesteps[0]) if len(timesteps) else None)
    sample.provenance.edits = {"class": class_name}
    sample.report = (f"Image {source.name} edited toward class {class_name} by learned model "
                     f"{model.sha256[:12]} (SDEdit, strength {strength:g}).")
    return sample


def _check_editable(model: LoadedModel) -> None:
    if model.config.model not in EDITABLE:
        raise SynthmedError(f"a {model.config.model} model cannot edit images: editing noises "
                            "the image part-way and denoises it, which needs a diffusion "
                            f"model ({' or '.join(EDITABLE)})")


def _array_source(image) -> SourceImage:
    a = np.asarray(image)
    if a.ndim != 2:
        raise SynthmedError(f"give a 2D grey image, got an array of shape {a.shape}")
    image, scaling = _unit_range(a)
    digest = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
    return SourceImage(image, "array", digest, scaling)


def edit_dataset(model: LoadedModel, source: str | Path, out_dir: str | Path,
                 class_names: list[str], *, strength: float = 0.5,
                 num_inference_steps: int = 50, guidance_scale: float = 1.0, seed: int = 0,
                 formats: list[str] | None = None, progress: bool = True,
                 overwrite: bool = False) -> Path:
    """Edit every image of ``source`` toward each class of ``class_names``; write a dataset.

    Output ``k = i * len(class_names) + j`` is image ``i`` edited toward class ``j``, with
    noise stream ``(seed, k)``; its record names the source file and its sha256.
    """
    paths = image_paths(source)
    settings = {"edit": "sdedit", "classes": class_names, "sources": len(paths),
                "strength": strength, "seed": seed, "num_inference_steps": num_inference_steps,
                "guidance_scale": guidance_scale}
    claim_sampled_output(out_dir, model, settings, formats, overwrite)
    samples = []
    with progress_bar("editing", len(paths) * len(class_names), progress) as advance:
        for i, path in enumerate(paths):
            for j, name in enumerate(class_names):
                samples.append(edit_image(
                    model, path, class_name=name, strength=strength,
                    num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                    seed=seed, index=i * len(class_names) + j))
                advance()
    return write_dataset(samples, out_dir, formats=formats, model=model, settings=settings,
                         overwrite=overwrite)
