"""The ``gan`` model: a class-conditional GAN from MONAI parts, its networks, losses and step.

* Generator: the noise z (``config.latent_dim`` values) joined to the class as a one-hot
  vector (the first linear layer learns the class embedding), through MONAI's
  :class:`~monai.networks.nets.Generator` (a linear layer to a small feature map, then
  transposed convolutions that double the side, with instance-normalised residual units)
  and ``tanh``: an image in [-1, 1].
* Discriminator: MONAI's :class:`~monai.networks.nets.PatchDiscriminator` (instance norm)
  on the image with the class as one-hot maps (extra input channels): a grid of real/fake
  logits, one per patch.
* Loss: the non-saturating logistic GAN loss, with an R1 penalty (``config.r1_weight`` / 2 x
  the squared gradient of the discriminator at real images), which keeps training stable
  without normalisation tricks. Each step updates the discriminator, then the generator,
  each with its own Adam (betas 0.5, 0.999).

Every random draw (batch, z) comes from the caller's seeded :class:`torch.Generator`, so
training resumes exactly; the networks have no batch statistics, so a sample depends on its
own z and class only.

>>> from synthmed.learned.models import ModelConfig
>>> nets = build_gan(ModelConfig(model="gan", size=16, class_names=["a", "b"]))
>>> import torch; z = torch.zeros(2, 64)
>>> generate(nets["generator"], z, torch.tensor([0, 1]), num_classes=2).shape
torch.Size([2, 1, 16, 16])
"""

from __future__ import annotations

__all__ = ["build_gan", "gan_optimisers", "gan_step", "generate", "LOSS_PARTS"]

LOSS_PARTS = ("generator", "discriminator")


def build_gan(config) -> dict:
    """The generator and discriminator of a ``gan`` :class:`ModelConfig` (fresh weights).

    The generator starts from a ``channels[-1]`` x ``size / 2**(levels - 1)`` square map and
    doubles its side once per level; the discriminator's first layer has ``channels[0]``
    filters, followed by ``levels`` normalised layers (fewer for small images: its last
    normalised map keeps at least 3 x 3 px)."""
    from monai.networks.nets import Generator, PatchDiscriminator

    levels = len(config.channels)
    side = config.size // 2 ** (levels - 1)
    up = tuple(reversed(config.channels[:-1]))
    generator = Generator(
        latent_shape=(config.latent_dim + config.num_classes,),
        start_shape=(config.channels[-1], side, side), channels=(*up, 1),
        strides=(2,) * (levels - 1) + (1,), num_res_units=1)
    discriminator = PatchDiscriminator(
        spatial_dims=2, channels=config.channels[0], in_channels=1 + config.num_classes,
        num_layers_d=min(levels, (config.size // 4).bit_length() - 1), norm="INSTANCE")
    return {"generator": generator, "discriminator": discriminator}


def generate(generator, z, labels=None, num_classes: int = 0):
    """Images in [-1, 1], (n, 1, size, size), from noise ``z`` (n, latent_dim) and class
    indices ``labels`` (n,) of ``num_classes`` (None and 0 for an unconditional model)."""
    import torch
    from torch.nn import functional as F

    if labels is not None:
        z = torch.cat([z, F.one_hot(labels, num_classes).to(z)], 1)
    return torch.tanh(generator(z))


def _discriminate(discriminator, images, labels, num_classes):
    """Patch logits of ``images`` given their classes (one-hot maps as extra channels)."""
    import torch
    from torch.nn import functional as F

    if labels is not None:
        maps = F.one_hot(labels, num_classes).to(images)[:, :, None, None]
        images = torch.cat([images, maps.expand(-1, -1, *images.shape[-2:])], 1)
    return discriminator(images)[-1]


def gan_optimisers(nets, params) -> dict:
    """Adam (betas 0.5, 0.999) for the generator and for the discriminator."""
    import torch

    return {name: torch.optim.Adam(nets[name].parameters(), lr=params.learning_rate,
                                   betas=(0.5, 0.999)) for name in LOSS_PARTS}


def gan_step(nets, optimisers, config, params, x, labels, device):
    """One step: a discriminator update (logistic loss on a real batch and on fakes of the
    same classes, + R1 on the real batch), then a generator update (non-saturating loss).
    The returned step gives ``(generator loss, discriminator loss)`` (R1 included)."""
    import torch
    from torch.nn import functional as F

    gen, disc = nets["generator"], nets["discriminator"]
    opt_g, opt_d = (optimisers[name] for name in LOSS_PARTS)
    n, b, k = len(x), params.batch_size, config.num_classes

    def step(generator):
        idx = torch.randint(0, n, (b,), generator=generator)
        real = x[idx].to(device).requires_grad_(config.r1_weight > 0)
        cls = labels[idx].to(device) if labels is not None else None
        z = torch.randn((b, config.latent_dim), generator=generator).to(device)
        fake = generate(gen, z, cls, k)

        opt_d.zero_grad(set_to_none=True)
        real_logits = _discriminate(disc, real, cls, k)
        d_loss = (F.softplus(-real_logits).mean()
                  + F.softplus(_discriminate(disc, fake.detach(), cls, k)).mean())
        if config.r1_weight > 0:
            grad, = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            d_loss = d_loss + config.r1_weight / 2 * grad.pow(2).sum((1, 2, 3)).mean()
        d_loss.backward()
        opt_d.step()

        opt_g.zero_grad(set_to_none=True)
        disc.requires_grad_(False)
        g_loss = F.softplus(-_discriminate(disc, fake, cls, k)).mean()
        g_loss.backward()
        disc.requires_grad_(True)
        opt_g.step()
        return float(g_loss.detach()), float(d_loss.detach())

    return step
