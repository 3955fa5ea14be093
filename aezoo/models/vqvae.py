"""VQ-VAE (van den Oord et al., 2017): a discrete code from a learned codebook.

The encoder emits ``latent_dim`` vectors of size ``code_dim``; each is replaced by its
nearest of ``codebook_size`` codebook vectors, with straight-through gradients to the
encoder. Loss = reconstruction NLL + ``||sg(z_e) - e||^2`` (codebook) +
``commitment * ||z_e - sg(e)||^2``. With ``codebook_update=ema`` the codebook term is
replaced by exponential moving averages of the assigned encoder outputs, written as a
second phase: SGD with step ``1 - decay`` on the per-code mean squared distance *is* that
moving average (``e <- decay * e + (1 - decay) * mean(z_e assigned to e)``).
Metrics: ``perplexity`` (exp of the entropy of code usage) and ``usage`` (fraction of codes
used in the batch).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from aezoo.losses import image_nll
from aezoo.models._spec import Metrics, ModelSpec, Phase, option
from aezoo.models.ae import AEConfig
from aezoo.nn import check_images, make_decoder, make_encoder

UPDATES = ("loss", "ema")


@dataclasses.dataclass(frozen=True)
class VQVAEConfig(AEConfig):
    """VQ-VAE settings. ``latent_dim`` is the number of code vectors per image."""

    codebook_size: int = option(64, "K: number of codebook vectors", low=1)
    code_dim: int = option(8, "D: size of each code vector", low=1)
    commitment: float = option(0.25, "beta: weight of the commitment loss", sweep=True, low=0.0)
    codebook_update: str = option(
        "loss", "codebook learning: loss (gradient) or ema", choices=UPDATES
    )
    ema_decay: float = option(
        0.99, "decay of the EMA codebook updates", sweep=True, low=0.0, high=1.0, open="both"
    )


class Codebook(nn.Module):
    """Nearest-neighbour lookup in ``size`` learned vectors of size ``dim``."""

    size: int
    dim: int

    def setup(self) -> None:
        # Small initial codes (std 0.1), inside the cloud of initial encoder outputs: with
        # std 1 most codes were never nearest and stayed dead (27% used on digits vs 100%).
        self.embedding = self.param("embedding", nn.initializers.normal(0.1), (self.size, self.dim))

    def __call__(self, z_e: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``[..., dim]`` -> (nearest codebook vectors ``[..., dim]``, indices ``[...]``)."""
        codebook = self.embedding
        code_sq = jnp.sum(jnp.square(codebook), axis=-1).reshape((1,) * (z_e.ndim - 1) + (-1,))
        dist = jnp.sum(jnp.square(z_e), axis=-1, keepdims=True) - 2.0 * z_e @ codebook.T + code_sq
        idx = jnp.argmin(dist, axis=-1)
        return codebook[idx], idx

    def lookup(self, idx: jax.Array) -> jax.Array:
        """Indices ``[...]`` -> their codebook vectors ``[..., dim]``."""
        return self.embedding[idx]


class VQVAE(nn.Module):
    """Encoder -> ``[B, latent_dim, code_dim]`` -> quantize -> decoder."""

    config: VQVAEConfig

    def setup(self) -> None:
        cfg = self.config
        self.encoder = make_encoder(cfg, cfg.latent_dim * cfg.code_dim)
        self.codebook = Codebook(cfg.codebook_size, cfg.code_dim)
        self.decoder = make_decoder(cfg)

    def __call__(
        self, x: jax.Array, *, rng: jax.Array | None = None, train: bool = True, **cond
    ) -> dict[str, jax.Array]:
        q = self.encode(x)
        # Straight-through: the decoder sees e, the encoder gets the decoder's gradient.
        z_st = q["z_e"] + jax.lax.stop_gradient(q["z_q"] - q["z_e"])
        return {**q, **self.decode(z_st)}

    def encode(self, x: jax.Array, **cond) -> dict[str, jax.Array]:
        """``z_e`` and ``z_q`` (``[B, latent_dim, code_dim]``), ``codes`` (``[B, latent_dim]``)
        and ``z`` (``z_q`` flattened, ``[B, latent_dim * code_dim]``)."""
        check_images(x, self.config.image_shape)
        cfg = self.config
        z_e = self.encoder(x).reshape(x.shape[0], cfg.latent_dim, cfg.code_dim)
        z_q, codes = self.codebook(z_e)
        return {"z_e": z_e, "z_q": z_q, "codes": codes, "z": z_q.reshape(x.shape[0], -1)}

    def decode(self, z: jax.Array, **cond) -> dict[str, jax.Array]:
        """``[B, latent_dim, code_dim]`` or flattened codes -> image distribution."""
        return self.decoder(z.reshape(z.shape[0], -1))

    def decode_codes(self, codes: jax.Array, **cond) -> dict[str, jax.Array]:
        """Codebook indices ``[B, latent_dim]`` -> image distribution."""
        return self.decode(self.codebook.lookup(codes))

    def reconstruct(self, x: jax.Array, **cond) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z_q"])


def usage_metrics(codes: jax.Array, size: int) -> Metrics:
    """Perplexity of the code histogram and the fraction of codes used."""
    counts = jnp.sum(jax.nn.one_hot(codes.reshape(-1), size), axis=0)
    p = counts / jnp.sum(counts)
    entropy = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0))
    return {"perplexity": jnp.exp(entropy), "usage": jnp.mean((counts > 0).astype(jnp.float32))}


def loss_fn(params, batch, rng, *, module: VQVAE) -> tuple[jax.Array, Metrics]:
    """NLL + codebook loss (gradient mode only) + commitment * ||z_e - sg(e)||^2."""
    cfg = module.config
    x = batch["image"]
    out = module.apply({"params": params}, x, rng=rng)
    nll = jnp.mean(image_nll(cfg.likelihood, out, x))
    z_e, z_q = out["z_e"], out["z_q"]
    codebook = jnp.mean(jnp.sum(jnp.square(jax.lax.stop_gradient(z_e) - z_q), axis=(1, 2)))
    commit = jnp.mean(jnp.sum(jnp.square(z_e - jax.lax.stop_gradient(z_q)), axis=(1, 2)))
    loss = nll + cfg.commitment * commit
    if cfg.codebook_update == "loss":
        loss = loss + codebook
    return loss, {
        "loss": loss,
        "nll": nll,
        "commitment": commit,
        "codebook": codebook,
        **usage_metrics(out["codes"], cfg.codebook_size),
    }


def ema_codebook_loss(params, batch, rng, *, module: VQVAE) -> tuple[jax.Array, Metrics]:
    """Half the squared distance of each code to its assigned encoder outputs, divided by
    the number assigned: its gradient is ``e_k - mean(z_e assigned to k)`` (0 if none)."""
    cfg = module.config
    q = module.apply({"params": params}, batch["image"], method="encode")
    z_e = jax.lax.stop_gradient(q["z_e"]).reshape(-1, cfg.code_dim)
    onehot = jax.nn.one_hot(q["codes"].reshape(-1), cfg.codebook_size)  # [N, K]
    counts = jnp.sum(onehot, axis=0)
    codebook = params["codebook"]["embedding"]
    sq = jnp.sum(jnp.square(z_e[:, None, :] - codebook[None]), axis=-1)  # [N, K]
    loss = 0.5 * jnp.sum(jnp.sum(onehot * sq, axis=0) / jnp.maximum(counts, 1.0))
    return loss, {"ema_loss": loss}


def phases(config: VQVAEConfig) -> tuple[Phase, ...]:
    if config.codebook_update == "loss":
        return (Phase("main", loss_fn),)
    decay = config.ema_decay
    return (
        Phase("main", loss_fn, params=("encoder", "decoder")),
        Phase(
            "ema",
            ema_codebook_loss,
            params=("codebook",),
            optimizer=lambda _: optax.sgd(1.0 - decay),
        ),
    )


SPEC = ModelSpec(
    name="vqvae",
    description="VQ-VAE: nearest-codebook quantization, straight-through, commitment or EMA",
    config_cls=VQVAEConfig,
    module_cls=VQVAE,
    loss_fn=loss_fn,
    phases=phases,
    code_grid=lambda config: (config.latent_dim, config.codebook_size),
)
