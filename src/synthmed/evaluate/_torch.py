"""Shared torch plumbing for the learned evaluation metrics: seeding, training loop, progress.

Nothing here touches the global torch RNG outside :func:`seeded`, which forks it; shuffling
and augmentation draw from an explicit :class:`torch.Generator`. Only ``torch`` (and, for
the networks, ``monai``) are needed: both come with ``pip install synthmed[learned]``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from synthmed._io import atomic_path, atomic_write_text, cache_dir
from synthmed.errors import OutputError, SynthmedError

__all__ = ["require_torch", "seeded", "progress_bar", "fit", "predict", "to_tensor",
           "ExtractorParams", "FeatureExtractor", "train_feature_extractor",
           "cached_feature_extractor", "default_cache_dir", "extractor_key"]

_FORMAT = "synthmed-ssl-v1"  # bump when the network or its training changes


def require_torch():
    """Import torch and monai, or say how to install them."""
    try:
        import monai  # noqa: F401
        import torch
    except ImportError as exc:
        raise SynthmedError(f"the learned metrics need torch and monai ({exc.name} is missing): "
                            "pip install 'synthmed[learned]'") from None
    return torch


@contextmanager
def seeded(seed: int, device: str = "cpu") -> Iterator[None]:
    """Seed torch's global RNG inside a fork of it (weights init, dropout), restored after."""
    import torch

    dev = torch.device(device)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def progress_bar(description: str, total: int, enabled: bool) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``advance(text=None)`` (``text`` replaces the
    description, e.g. to show a loss). Does nothing when not ``enabled``."""
    if not enabled:
        yield lambda text=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda text=None: bar.update(task, advance=1,
                                           **({"description": text} if text else {}))


def to_tensor(images: np.ndarray):
    """(n, rows, cols) float images -> float32 tensor (n, 1, rows, cols)."""
    import torch

    images = np.asarray(images, np.float32)
    if images.ndim != 3:
        raise SynthmedError(f"expected images of shape (n, rows, cols), got {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images))[:, None]


def augment(x, y, generator, *, spatial_target: bool):
    """Light augmentation: left-right flip (p=0.5), gain x0.9-1.1 and offset +-0.05.

    ``x`` is (b, 1, rows, cols); ``y`` is flipped with ``x`` when ``spatial_target``.
    """
    import torch

    b = x.shape[0]
    flip = torch.rand(b, generator=generator) < 0.5
    gain = 0.9 + 0.2 * torch.rand(b, 1, 1, 1, generator=generator)
    offset = 0.1 * torch.rand(b, 1, 1, 1, generator=generator) - 0.05
    x = torch.where(flip[:, None, None, None], x.flip(-1), x) * gain + offset
    if spatial_target:
        y = torch.where(flip[:, None, None, None], y.flip(-1), y)
    return x, y


def fit(model, loss_fn, x, y, *, epochs: int, batch_size: int, learning_rate: float,
        seed: int, device: str, progress: bool, description: str,
        augment_spatial: bool | None = None, extra_step: Callable | None = None,
        extra_parameters: list | None = None):
    """Train ``model`` with Adam on tensors ``x`` (n, 1, r, c) and ``y`` for ``epochs``.

    The learning rate follows a one-cycle schedule (warm-up over the first 20 % of steps to
    ``learning_rate``, cosine decay to ~0), so the final weights do not depend on where the
    last epoch happened to stop.

    ``augment_spatial`` None: no augmentation; False: image-only augmentation; True: flips
    applied to ``y`` too (masks). ``extra_step(model, xb, yb, generator)`` may replace the
    default ``loss_fn(model(xb), yb)`` (self-supervised objectives), with
    ``extra_parameters`` (its heads) optimised too. The model is returned in
    eval mode. Batches of one image are skipped (batch norm needs two).
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    model = model.to(device).train()
    optimiser = torch.optim.Adam([*model.parameters(), *(extra_parameters or [])],
                                 lr=learning_rate)
    n = x.shape[0]
    steps = epochs * max(1, sum(1 for s in range(0, n, batch_size) if min(batch_size, n - s) > 1))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=steps,
                                                   pct_start=0.2)
    with progress_bar(description, epochs, progress) as advance:
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                if len(idx) < 2 and n > 1:
                    continue
                xb, yb = x[idx], y[idx]
                if augment_spatial is not None:
                    xb, yb = augment(xb, yb, generator, spatial_target=augment_spatial)
                xb, yb = xb.to(device), yb.to(device)
                optimiser.zero_grad(set_to_none=True)
                if extra_step is None:
                    loss = loss_fn(model(xb), yb)
                else:
                    loss = extra_step(model, xb, yb, generator)
                loss.backward()
                optimiser.step()
                schedule.step()
            advance()
    return model.eval()


def predict(model, x, *, device: str, batch_size: int = 64) -> np.ndarray:
    """Run ``model`` on ``x`` in batches without gradients; float64 numpy output."""
    import torch

    model = model.to(device).eval()
    out = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            out.append(model(x[start:start + batch_size].to(device)).float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


# --------------------------------------------------------------------------- learned features
def ssl_network(dim: int, input_size: int):
    """Encoder, decoder and rotation head of the self-supervised feature network.

    Encoder: four conv(3x3, stride 2)-batchnorm-ReLU blocks (16, 32, 64, 128 channels) from
    ``input_size``² to (input_size/16)², flattened, then a linear layer to ``dim``.
    """
    import torch
    from torch import nn

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    def up(c_in, c_out, last=False):
        layers = [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
        return layers if last else layers + [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    side = input_size // 16
    encoder = nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64), *block(64, 128),
                            nn.Flatten(), nn.Linear(128 * side * side, dim))
    decoder = nn.Sequential(nn.Linear(dim, 128 * side * side), nn.Unflatten(1, (128, side, side)),
                            *up(128, 64), *up(64, 32), *up(32, 16), *up(16, 1, last=True))
    heads = nn.ModuleDict({"encoder": encoder, "decoder": decoder,
                           "rotation": nn.Linear(dim, 4)})

    class Embed(nn.Module):
        """Images (n, 1, rows, cols) in [0, 1], any size -> embeddings (n, dim)."""

        def __init__(self, encoder: nn.Module, size: int):
            super().__init__()
            self.encoder = encoder
            self.size = size

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear",
                                          align_corners=False, antialias=True)
            return self.encoder(x)

    return heads, Embed(encoder, input_size)


def ssl_step(heads):
    """Loss of one batch: reconstruct a rotated image and predict its rotation (0/90/180/270°).

    Reconstruction error is divided by the batch variance so both terms are of order one;
    the autoencoder term keeps the features useful where rotation is ambiguous (round
    objects), the rotation term makes them attend to anatomy and orientation.
    """
    import torch
    from torch.nn import functional as F

    def step(embed, xb, _yb, generator):
        k = torch.randint(0, 4, (xb.shape[0],), generator=generator)
        rotated = torch.stack([torch.rot90(img, int(r), dims=(-2, -1))
                               for img, r in zip(xb, k, strict=True)])
        z = embed(rotated)
        recon = heads["decoder"](z)
        return (F.mse_loss(recon, rotated) / rotated.var().clamp_min(1e-4)
                + F.cross_entropy(heads["rotation"](z), k.to(z.device)))

    return step


class ExtractorParams(BaseModel):
    """The self-supervised feature network and its training (part of the cache key)."""

    model_config = ConfigDict(extra="forbid")
    dim: int = Field(128, ge=2, description="embedding length")
    input_size: int = Field(64, ge=16, multiple_of=16, description="images resized to this, px")
    epochs: int = Field(30, ge=1, description="passes over the real set")
    batch_size: int = Field(32, ge=2, description="images per step")
    learning_rate: float = Field(1e-3, gt=0, description="Adam step size")


@dataclass
class FeatureExtractor:
    """Callable images (n, rows, cols) in [0, 1] -> float64 embeddings (n, dim).

    ``name`` identifies the features for reports (numbers are only comparable with the same
    name); ``torchscript_path`` is the saved model when cached (``torchscript:<path>``);
    ``from_cache`` says whether it was loaded rather than trained.
    """

    module: object
    params: dict
    key: str
    torchscript_path: Path | None = None
    from_cache: bool = False
    device: str = "cpu"

    @property
    def name(self) -> str:
        return f"synthmed-ssl:{self.key[:12]}"

    @property
    def dim(self) -> int:
        return self.params["dim"]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return predict(self.module, to_tensor(images), device=self.device)


def _images(real) -> np.ndarray:
    images = real.images if hasattr(real, "images") else np.asarray(real)
    if images.ndim != 3 or len(images) < 2:
        raise SynthmedError(f"need at least two images (n, rows, cols), got {images.shape}")
    return np.asarray(images, np.float32)


def extractor_key(real, params: ExtractorParams | None = None, seed: int = 0) -> str:
    """sha256 of the real images (shape and float32 pixels), the params, seed and format."""
    images = _images(real)
    h = hashlib.sha256(f"{_FORMAT}|{images.shape}|{seed}|".encode())
    h.update(json.dumps((params or ExtractorParams()).model_dump(), sort_keys=True).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()


def train_feature_extractor(real, *, params: ExtractorParams | None = None, seed: int = 0,
                            device: str = "cpu", progress: bool = True) -> FeatureExtractor:
    """Train a small CNN on the real images, self-supervised, as an offline feature extractor.

    The network (:func:`ssl_network`) reconstructs each image rotated by 0/90/180/270° and
    predicts the rotation; its encoder's output is the embedding. Robust with ~100 images
    (a few seconds on a CPU at the default 64² input).

    Parameters
    ----------
    real : ImageSet or ndarray (n, rows, cols)
        Real reference images in [0, 1].
    params : ExtractorParams
    seed : int
        Weights initialisation, shuffling and rotations.

    >>> rng = np.random.default_rng(0)
    >>> f = train_feature_extractor(rng.random((8, 32, 32)), params=ExtractorParams(epochs=1),
    ...                             progress=False)
    >>> f(rng.random((3, 40, 40))).shape
    (3, 128)
    """
    torch = require_torch()
    params = params or ExtractorParams()
    images = _images(real)
    x = torch.nn.functional.interpolate(to_tensor(images), size=(params.input_size,) * 2,
                                        mode="bilinear", align_corners=False, antialias=True)
    with seeded(seed, device):
        heads, embed = ssl_network(params.dim, params.input_size)
        heads.to(device)
        heads.train()
        fit(embed, None, x, x, epochs=params.epochs, batch_size=params.batch_size,
            learning_rate=params.learning_rate, seed=seed, device=device, progress=progress,
            description="feature extractor", augment_spatial=True, extra_step=ssl_step(heads),
            extra_parameters=[*heads["decoder"].parameters(), *heads["rotation"].parameters()])
    return FeatureExtractor(embed.eval(), params.model_dump(), extractor_key(images, params, seed),
                            device=device)


def default_cache_dir() -> Path:
    """``$SYNTHMED_CACHE_DIR/features`` or ``~/.cache/synthmed/features``."""
    return cache_dir("features")


def cached_feature_extractor(real, cache_dir: str | Path | None = None, *,
                             params: ExtractorParams | None = None, seed: int = 0,
                             device: str = "cpu", progress: bool = True) -> FeatureExtractor:
    """:func:`train_feature_extractor`, saved under ``cache_dir`` and reloaded when there.

    Files are named by :func:`extractor_key`: ``<key>.pt`` (weights), ``<key>.torchscript.pt``
    (the embedding model for ``torchscript:<path>``: input float32 (n, 1, rows, cols) in
    [0, 1], any size; output (n, dim)) and ``<key>.json`` (params, image count, source).
    ``cache_dir`` defaults to :func:`default_cache_dir`.
    """
    torch = require_torch()
    params = params or ExtractorParams()
    images = _images(real)
    key = extractor_key(images, params, seed)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    weights, script = folder / f"{key}.pt", folder / f"{key}.torchscript.pt"
    if weights.is_file() and script.is_file():
        _, embed = ssl_network(params.dim, params.input_size)
        embed.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return FeatureExtractor(embed.eval(), params.model_dump(), key, script, True, device)
    extractor = train_feature_extractor(images, params=params, seed=seed, device=device,
                                        progress=progress)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        module = extractor.module.to("cpu")
        with atomic_path(weights) as tmp:
            torch.save(module.state_dict(), tmp)
        with warnings.catch_warnings(), atomic_path(script) as tmp:
            # TorchScript is deprecated but still the format asked for
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.script(module), str(tmp))
        meta = {"format": _FORMAT, "params": params.model_dump(), "seed": seed,
                "n_images": len(images), "image_shape": list(images.shape[1:]),
                "source": getattr(real, "source", ""), "torch": torch.__version__}
        atomic_write_text(folder / f"{key}.json", json.dumps(meta, indent=2))
    except OSError as exc:
        raise OutputError(f"cannot write the feature cache in {folder}: {exc}; set "
                          "SYNTHMED_CACHE_DIR to a writable folder") from None
    extractor.torchscript_path = script
    return extractor

