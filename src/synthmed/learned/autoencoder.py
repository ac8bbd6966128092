"""The autoencoder of the ``vae`` and ``ldm`` models (MONAI ``AutoencoderKL``): its training
loss, encoding training images to latents and decoding latents to images.

Every random draw (batch, reparameterisation noise) comes from the caller's seeded
:class:`torch.Generator`, never torch's global one, so training resumes exactly.
"""

from __future__ import annotations

__all__ = ["vae_step", "encode_latents", "decode"]


def vae_step(vae, config, params, x, device):
    """Loss of one batch: mean L1 reconstruction + ``config.kl_weight`` x KL(q(z|x) || N(0, I))
    (per image, summed over the latent)."""
    import torch

    n, b = len(x), params.batch_size

    def step(generator):
        idx = torch.randint(0, n, (b,), generator=generator)
        batch = x[idx].to(device)
        mu, sigma = vae.encode(batch)
        eps = torch.randn(mu.shape, generator=generator).to(device)
        recon = vae.decode(mu + sigma * eps)
        l1 = (recon.float() - batch).abs().mean()
        var = sigma.float() ** 2
        kl = 0.5 * (mu.float() ** 2 + var - torch.log(var.clamp_min(1e-12)) - 1).sum((1, 2, 3))
        return l1 + config.kl_weight * kl.mean()

    return step


def encode_latents(vae, x, device, batch_size: int = 64):
    """Latent means of images ``x`` (n, 1, h, w) in [-1, 1], on the CPU."""
    import torch

    with torch.no_grad():
        return torch.cat([vae.encode(x[i:i + batch_size].to(device))[0].float().cpu()
                          for i in range(0, len(x), batch_size)])


def decode(vae, z):
    """Images in [-1, 1] (clamped) from latents ``z``."""
    return vae.decode(z).clamp(-1, 1)
