"""Model configurations and network construction (MONAI), split from training and sampling.

A :class:`ModelConfig` freezes everything needed to rebuild the networks (stored in
``model.json``); :func:`build_networks` makes them. ``preset="cpu"`` gives a small network
that trains at 32-64 px on a CPU in minutes; ``"gpu"`` a larger one (with attention) for
128-256 px on a GPU.

Kinds: ``ddpm`` (a diffusion U-Net on pixels, class- and mask-conditioned), ``vae`` (a
MONAI ``AutoencoderKL``; sampling decodes prior noise; unconditional), ``ldm`` (the
autoencoder, then a class-conditioned diffusion U-Net in its latent space) and ``gan`` (a
class-conditional generator from noise z and a patch discriminator; see
:mod:`synthmed.learned.gan`). Only ``ddpm`` takes masks.

>>> cfg = ModelConfig(model="ddpm", size=32, class_names=["disc", "square"])
>>> net = build_networks(cfg)["unet"]
>>> sum(p.numel() for p in net.parameters()) > 0
True
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthmed.learned.gan import build_gan

__all__ = ["ModelConfig", "build_networks", "PRESETS", "MODELS"]

MODELS = ("ddpm", "vae", "ldm", "gan")
PRESETS = {
    # channels per level, residual blocks per level, attention per level, group-norm groups
    "cpu": {"channels": (16, 32, 32), "num_res_blocks": 1,
            "attention_levels": (False, False, False), "norm_num_groups": 8},
    "gpu": {"channels": (64, 128, 256, 256), "num_res_blocks": 2,
            "attention_levels": (False, False, True, True), "norm_num_groups": 32},
}


class ModelConfig(BaseModel):
    """What a model is: kind, image size, network widths, conditioning, noise schedule."""

    model_config = ConfigDict(extra="forbid")
    model: Literal["ddpm", "vae", "ldm", "gan"] = Field("ddpm", description="generator kind")
    size: int = Field(64, ge=16, le=1024, description="square image side, px")
    preset: Literal["cpu", "gpu"] = Field("cpu", description="network size")
    channels: tuple[int, ...] | None = Field(None, description="channels per level "
                                             "(default: the preset's)")
    num_res_blocks: int | None = Field(None, ge=1, description="residual blocks per level")
    attention_levels: tuple[bool, ...] | None = Field(None, description="attention per level")
    norm_num_groups: int | None = Field(None, ge=1, description="group-norm groups")
    num_train_timesteps: int = Field(1000, ge=10, description="diffusion steps in training")
    schedule: Literal["linear_beta", "scaled_linear_beta"] = Field(
        "linear_beta", description="noise (beta) schedule")
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = Field(
        "v_prediction", description="what the network predicts: the noise, the velocity "
        "(learns faster and samples better in few steps) or the clean image")
    latent_channels: int = Field(3, ge=1, description="autoencoder latent channels (vae, ldm)")
    kl_weight: float = Field(1e-4, ge=0, description="weight of the KL term (per image, summed "
                             "over the latent) against the mean L1 reconstruction (vae, ldm)")
    latent_dim: int = Field(64, ge=1, description="length of the generator's noise z (gan)")
    r1_weight: float = Field(0.1, ge=0, description="weight (gamma) of the R1 penalty: gamma / 2 "
                             "x squared gradient of the discriminator at real images (gan)")
    class_names: list[str] = Field(default_factory=list, description="conditioning classes")
    mask_names: list[str] = Field(default_factory=list, description="conditioning masks "
                                  "(extra input channels)")

    @model_validator(mode="after")
    def _fill_preset(self) -> ModelConfig:
        for k, v in PRESETS[self.preset].items():
            if getattr(self, k) is None:
                setattr(self, k, v)
        if len(self.attention_levels) != len(self.channels):
            raise ValueError(f"attention_levels has {len(self.attention_levels)} values for "
                             f"{len(self.channels)} channel levels")
        if any(c % self.norm_num_groups for c in self.channels):
            raise ValueError(f"channels {self.channels} must be multiples of norm_num_groups "
                             f"{self.norm_num_groups}")
        if self.model == "vae" and (self.class_names or self.mask_names):
            raise ValueError("model 'vae' takes no classes or masks (it is unconditional); "
                             "train with --label-column '' and no --mask")
        if self.model != "ddpm" and self.mask_names:
            raise ValueError(f"model {self.model!r} takes no masks (only ddpm is conditioned "
                             "on masks); train without --mask")
        down = 2 ** (len(self.channels) - 1) * (2 ** (len(self.channels) - 1)
                                                if self.model == "ldm" else 1)
        if self.size % down:
            raise ValueError(f"size {self.size} must be a multiple of {down} for "
                             f"{len(self.channels)} levels")
        return self

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one sample's starting noise: the image (ddpm), the latent (vae, ldm) or
        the generator's z (gan)."""
        if self.model == "ddpm":
            return (1, self.size, self.size)
        if self.model == "gan":
            return (self.latent_dim,)
        side = self.size // 2 ** (len(self.channels) - 1)
        return (self.latent_channels, side, side)

    @property
    def null_class(self) -> int:
        """Class index meaning "no class" (classifier-free guidance)."""
        return self.num_classes


def build_networks(config: ModelConfig) -> dict:
    """The networks of ``config`` as ``{name: torch.nn.Module}`` (fresh weights)."""
    import torch
    from monai.networks.nets import AutoencoderKL, DiffusionModelUNet

    if config.model == "gan":
        return build_gan(config)
    nets = {}
    if config.model in ("vae", "ldm"):
        nets["vae"] = AutoencoderKL(
            spatial_dims=2, in_channels=1, out_channels=1, channels=config.channels,
            num_res_blocks=config.num_res_blocks, attention_levels=(False,) * len(config.channels),
            latent_channels=config.latent_channels, norm_num_groups=config.norm_num_groups,
            with_encoder_nonlocal_attn=False, with_decoder_nonlocal_attn=False)
        # 1 / std of the training latents (ldm; set when the diffusion stage starts)
        nets["latent_scale"] = torch.nn.Module()
        nets["latent_scale"].register_buffer("value", torch.ones(()))
    if config.model == "vae":
        return nets
    ch = 1 if config.model == "ddpm" else config.latent_channels
    heads = [max(8, c // 4) for c in config.channels]
    nets["unet"] = DiffusionModelUNet(
        spatial_dims=2, in_channels=ch + len(config.mask_names), out_channels=ch,
        channels=config.channels, num_res_blocks=config.num_res_blocks,
        attention_levels=config.attention_levels, norm_num_groups=config.norm_num_groups,
        num_head_channels=heads,
        num_class_embeds=config.num_classes + 1 if config.num_classes else None)
    return nets


def make_scheduler(config: ModelConfig, kind: Literal["ddpm", "ddim"] = "ddpm"):
    """The noise schedule of ``config``, as a MONAI DDPM (training) or DDIM (sampling) scheduler."""
    from monai.networks.schedulers import DDIMScheduler, DDPMScheduler

    cls = DDPMScheduler if kind == "ddpm" else DDIMScheduler
    return cls(num_train_timesteps=config.num_train_timesteps, schedule=config.schedule,
               prediction_type=config.prediction_type,
               clip_sample=config.model == "ddpm")  # latents are not bounded to [-1, 1]
