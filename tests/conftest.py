"""Shared fixtures: a tiny in-process preset for spec tests (not usable by worker pools),
and torch on one thread."""

from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from synthmed.registry import register_preset
from synthmed.sample import Labels, Sample


class ToyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_size: tuple[int, int] = Field((16, 16), description="rows, cols")
    level: float = Field(0.5, ge=0, le=1, description="background grey level")
    radius_px: int = Field(3, ge=1, le=6, description="disc radius, pixels")
    shape: Literal["disc", "square"] = Field("disc", description="outline")
    lesion: bool = Field(False, description="class flag")


@register_preset("toy", params=ToyParams)
def toy(params: ToyParams, rng: np.random.Generator) -> Sample:
    """A disc on a noisy background (for tests only)."""
    rows, cols = params.image_size
    r, c = np.ogrid[:rows, :cols]
    mask = (r - rows / 2) ** 2 + (c - cols / 2) ** 2 < params.radius_px ** 2
    img = np.clip(params.level + 0.05 * rng.standard_normal((rows, cols)), 0, 1)
    img[mask] = 1.0
    return Sample(images={"image": img.astype(np.float32)}, spacing_mm=(1.0, 1.0),
                  modality="OT", labels=Labels(masks={"disc": mask}, label_table={"disc": 1},
                                               classes={"lesion": params.lesion}))


@pytest.fixture
def toy_spec_text():
    return ("name: toy\npreset: toy\ncount: 3\nseed: 1\nparams:\n"
            "  level: {uniform: [0.2, 0.8]}\n  radius_px: {uniform: [2, 5]}\n"
            "  shape: {choice: {disc: 0.7, square: 0.3}}\n  lesion: {bernoulli: 0.5}\n")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests train and run tiny networks, fastest on one thread; with two test workers on
    two cores, torch's default of one thread per core oversubscribes the machine and its
    threads spin-wait (the same 150 GAN steps took 2 s on one thread and 75 s on two)."""
    try:
        import torch
    except ImportError:  # the core install, without the learned extra
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
