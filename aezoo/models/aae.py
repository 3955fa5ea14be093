"""Adversarial autoencoder (Makhzani et al., 2016): match the code distribution to a prior
with a discriminator instead of a KL term.

Three objectives per step, each a phase of the spec with its own optimizer state (Optax
``partition``), all run by the one shared train step:
  1. ``recon`` (encoder + decoder): reconstruction NLL;
  2. ``disc`` (discriminator): tell prior samples (label 1) from codes (label 0);
  3. ``gen`` (encoder): make codes look like prior samples to the discriminator.
Priors: ``normal`` N(0, I); ``mixture`` of 10 Gaussians on a circle and ``swiss_roll``
(both 2-D). With ``conditional_prior`` the label picks the mixture component / roll segment
and the discriminator sees it too (the lecture's "incorporating label information").
The reported (test) loss is the reconstruction NLL; ``mmd`` measures codes vs prior.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data
from aezoo.errors import ConfigError
from aezoo.losses import bernoulli_nll, image_nll, mmd_rbf
from aezoo.models._spec import Metrics, ModelSpec, Phase, option
from aezoo.models.ae import AEConfig
from aezoo.nn import MLP, check_images, make_decoder, make_encoder, reparameterize
from aezoo.viz import save_latent_scatter

PRIORS = ("normal", "mixture", "swiss_roll")
ENCODERS = ("deterministic", "gaussian")
NUM_COMPONENTS = 10


@dataclasses.dataclass(frozen=True)
class AAEConfig(AEConfig):
    """Adversarial AE settings: encoder kind, prior, discriminator."""

    encoder: str = option("deterministic", "encoder: deterministic or gaussian", choices=ENCODERS)
    prior: str = option(
        "normal", "prior on codes: normal, mixture (2-D) or swiss_roll (2-D)", choices=PRIORS
    )
    conditional_prior: bool = option(
        False, "label picks the prior's component/segment; the discriminator sees the label"
    )
    disc_hidden_dims: tuple[int, ...] = option((256, 256), "discriminator hidden widths")

    def validate(self) -> None:
        super().validate()
        if self.prior != "normal" and self.latent_dim != 2:
            raise ConfigError(
                f"prior {self.prior!r} is 2-D: use latent_dim 2 (got {self.latent_dim})"
            )


def sample_prior(
    config: AAEConfig, rng: jax.Array, n: int, label: jax.Array | None = None
) -> jax.Array:
    """``n`` draws ``[n, latent]`` from the configured prior (label-conditioned if given)."""
    d = config.latent_dim
    if config.prior == "normal":
        return jax.random.normal(rng, (n, d))
    pick_key, noise_key, t_key = jax.random.split(rng, 3)
    comp = label if label is not None else jax.random.randint(pick_key, (n,), 0, NUM_COMPONENTS)
    comp = comp.astype(jnp.float32)
    if config.prior == "mixture":
        angle = 2.0 * math.pi * comp / NUM_COMPONENTS
        centers = 4.0 * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
        return centers + 0.5 * jax.random.normal(noise_key, (n, 2))
    # swiss roll: position t in [0, 1] along the roll; a label selects its tenth of the roll.
    t = (comp + jax.random.uniform(t_key, (n,))) / NUM_COMPONENTS
    u = jnp.sqrt(t)
    angle = 3.0 * math.pi * u
    radius = 0.5 + 4.0 * u
    point = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
    return point + 0.1 * jax.random.normal(noise_key, (n, 2))


class AAE(nn.Module):
    """Encoder, decoder and a code discriminator (top-level param groups of those names)."""

    config: AAEConfig

    def setup(self) -> None:
        cfg = self.config
        if cfg.encoder == "gaussian":
            self.encoder = make_encoder(cfg, cfg.latent_dim, gaussian=True)
        else:
            self.encoder = make_encoder(cfg, cfg.latent_dim)
        self.decoder = make_decoder(cfg)
        self.discriminator = MLP((*cfg.disc_hidden_dims, 1))

    def __call__(
        self,
        x: jax.Array,
        *,
        rng: jax.Array | None = None,
        train: bool = True,
        label: jax.Array | None = None,
    ) -> dict[str, jax.Array]:
        q = self.encode(x, rng=rng)
        return {**q, **self.decoder(q["z"]), "d_logits": self.discriminate(q["z"], label=label)}

    def encode(self, x: jax.Array, *, rng: jax.Array | None = None, **cond) -> dict:
        """``{"z"}`` (plus ``z_mean``, ``z_logvar`` for the Gaussian encoder), ``[B, latent]``."""
        check_images(x, self.config.image_shape)
        if self.config.encoder == "deterministic":
            return {"z": self.encoder(x)}
        mean, logvar = self.encoder(x)
        z = mean if rng is None else reparameterize(rng, mean, logvar)
        return {"z": z, "z_mean": mean, "z_logvar": logvar}

    def decode(self, z: jax.Array, **cond) -> dict[str, jax.Array]:
        return self.decoder(z)

    def reconstruct(self, x: jax.Array, **cond) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z"])

    def discriminate(self, z: jax.Array, *, label: jax.Array | None = None) -> jax.Array:
        """Logit ``[B]`` that ``z`` was drawn from the prior (label joins if conditional)."""
        if self.config.conditional_prior:
            if label is None:
                raise ConfigError("conditional_prior: the discriminator needs label=")
            z = jnp.concatenate([z, jax.nn.one_hot(label, NUM_COMPONENTS)], axis=-1)
        return self.discriminator(z)[:, 0]

    def sample(
        self, n: int, rng: jax.Array, *, label: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        """Decode ``n`` draws from the prior."""
        return self.decode(sample_prior(self.config, rng, n, label))


def _label(batch, module: AAE) -> jax.Array | None:
    return batch.get("label") if module.config.conditional_prior else None


def recon_loss(params, batch, rng, *, module: AAE) -> tuple[jax.Array, Metrics]:
    """Phase 1 (encoder + decoder): reconstruction NLL."""
    x = batch["image"]
    q = module.apply({"params": params}, x, rng=rng, method="encode")
    out = module.apply({"params": params}, q["z"], method="decode")
    nll = jnp.mean(image_nll(module.config.likelihood, out, x))
    return nll, {"loss": nll, "nll": nll}


def disc_loss(params, batch, rng, *, module: AAE) -> tuple[jax.Array, Metrics]:
    """Phase 2 (discriminator): prior samples are real, codes are fake."""
    enc_key, prior_key = jax.random.split(rng)
    variables = {"params": params}
    label = _label(batch, module)
    z_fake = module.apply(variables, batch["image"], rng=enc_key, method="encode")["z"]
    z_fake = jax.lax.stop_gradient(z_fake)
    z_real = sample_prior(module.config, prior_key, z_fake.shape[0], label)
    real = module.apply(variables, z_real, label=label, method="discriminate")
    fake = module.apply(variables, z_fake, label=label, method="discriminate")
    loss = jnp.mean(bernoulli_nll(real, 1.0)) + jnp.mean(bernoulli_nll(fake, 0.0))
    return loss, {"disc_loss": loss}


def gen_loss(params, batch, rng, *, module: AAE) -> tuple[jax.Array, Metrics]:
    """Phase 3 (encoder): make the discriminator call the codes real."""
    variables = {"params": params}
    label = _label(batch, module)
    z = module.apply(variables, batch["image"], rng=rng, method="encode")["z"]
    loss = jnp.mean(
        bernoulli_nll(module.apply(variables, z, label=label, method="discriminate"), 1.0)
    )
    return loss, {"gen_loss": loss}


def loss_fn(params, batch, rng, *, module: AAE) -> tuple[jax.Array, Metrics]:
    """Evaluation: reconstruction NLL, the adversarial losses and MMD(codes, prior)."""
    recon_key, disc_key, mmd_key = jax.random.split(rng, 3)
    nll, metrics = recon_loss(params, batch, recon_key, module=module)
    _, d = disc_loss(params, batch, disc_key, module=module)
    _, g = gen_loss(params, batch, disc_key, module=module)
    z = module.apply({"params": params}, batch["image"], method="encode")["z"]
    prior = sample_prior(module.config, mmd_key, z.shape[0], _label(batch, module))
    return nll, {**metrics, **d, **g, "mmd": mmd_rbf(z, prior)}


def phases(config: AAEConfig) -> tuple[Phase, ...]:
    return (
        Phase("recon", recon_loss, params=("encoder", "decoder")),
        Phase("disc", disc_loss, params=("discriminator",)),
        Phase("gen", gen_loss, params=("encoder",)),
    )


def figures(out_dir: pathlib.Path, module: AAE, params, split, rng: jax.Array) -> None:
    """``latent.png``: test codes (first two dimensions) coloured by label over the prior."""
    x = data.to_float(jnp.asarray(split[0][:2000]))
    labels = np.asarray(split[1][:2000])
    z = np.asarray(module.apply({"params": params}, x, method="encode")["z"])
    label = jnp.asarray(labels) if module.config.conditional_prior else None
    prior = np.asarray(sample_prior(module.config, rng, len(labels), label))
    dims = module.config.latent_dim
    suffix = f" (first two of {dims} dims)" if dims > 2 else ""
    save_latent_scatter(
        out_dir / "latent.png",
        z[:, :2],
        labels,
        background=prior[:, :2],
        title=f"aae: test codes over the {module.config.prior} prior{suffix}",
    )


SPEC = ModelSpec(
    name="aae",
    description="adversarial autoencoder: a discriminator matches codes to a chosen prior",
    config_cls=AAEConfig,
    module_cls=AAE,
    loss_fn=loss_fn,
    generative=True,
    phases=phases,
    figures=figures,
)
