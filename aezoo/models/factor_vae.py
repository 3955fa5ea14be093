"""FactorVAE (Kim & Mnih, 2018): penalize total correlation estimated by a discriminator.

A discriminator ``D`` learns to tell codes ``z ~ q(z)`` (label 1) from codes whose dimensions
were shuffled across the batch independently (samples of ``prod_d q(z_d)``, label 0); its
logit estimates the density ratio, so ``TC = E_q[logit D(z)]``. Two phases per step, run by
the shared train step (each with its own Optax state):
  1. ``vae`` (encoder + decoder): ``NLL + KL + gamma * TC``;
  2. ``disc`` (discriminator): the logistic loss above, Adam(1e-4, b1=0.5, b2=0.9) as in the
     paper and disentanglement_lib.
``nll_bound`` is the negative ELBO.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from aezoo.losses import bernoulli_nll
from aezoo.models._spec import Metrics, ModelSpec, Phase, option
from aezoo.models.vae import VAE, VAEConfig, elbo_outputs, log_importance_weights
from aezoo.nn import MLP


@dataclasses.dataclass(frozen=True)
class FactorVAEConfig(VAEConfig):
    """FactorVAE settings: the TC weight and the discriminator."""

    gamma: float = option(35.0, "weight of the total correlation term", sweep=True, low=0.0)
    disc_hidden_dims: tuple[int, ...] = option(
        (512, 512, 512), "discriminator hidden widths (leaky ReLU; the paper: 6 x 1000)"
    )
    disc_learning_rate: float = option(
        1e-4, "discriminator Adam learning rate", low=0.0, open="low"
    )


class FactorVAE(VAE):
    """The VAE plus a code discriminator (parameter group ``discriminator``)."""

    config: FactorVAEConfig

    def setup(self) -> None:
        super().setup()
        self.discriminator = MLP((*self.config.disc_hidden_dims, 1), nn.leaky_relu)

    def __call__(self, x: jax.Array, **kwargs) -> dict[str, jax.Array]:
        """The VAE's outputs plus ``d_logits`` ``[B]``, the discriminator on ``z``."""
        out = super().__call__(x, **kwargs)
        return {**out, "d_logits": self.discriminate(out["z"])}

    def discriminate(self, z: jax.Array) -> jax.Array:
        """Logit ``[B]`` that ``z`` came from ``q(z)`` rather than its shuffled product."""
        return self.discriminator(z)[:, 0]


def permute_dims(rng: jax.Array, z: jax.Array) -> jax.Array:
    """Shuffle each column of ``z`` ``[B, D]`` over the batch, independently: samples of
    the product of the marginals."""
    keys = jax.random.split(rng, z.shape[1])
    shuffle = jax.vmap(jax.random.permutation, in_axes=(0, 1), out_axes=1)
    return shuffle(keys, z)


def vae_loss(params, batch, rng, *, module: FactorVAE) -> tuple[jax.Array, Metrics]:
    """Phase 1 (encoder + decoder): NLL + KL + gamma * TC, TC = mean discriminator logit."""
    out, nll, kl = elbo_outputs(params, batch, rng, module=module)
    tc = jnp.mean(module.apply({"params": params}, out["z"], method="discriminate"))
    nll, kl = jnp.mean(nll), jnp.mean(kl)
    loss = nll + kl + module.config.gamma * tc
    return loss, {"loss": loss, "nll": nll, "kl": kl, "tc": tc, "nll_bound": nll + kl}


def disc_loss(params, batch, rng, *, module: FactorVAE) -> tuple[jax.Array, Metrics]:
    """Phase 2 (discriminator): codes are 1, dimension-shuffled codes are 0."""
    enc_key, perm_key = jax.random.split(rng)
    variables = {"params": params}
    z = module.apply(variables, batch["image"], rng=enc_key)["z"]
    z = jax.lax.stop_gradient(z)
    real = module.apply(variables, z, method="discriminate")
    fake = module.apply(variables, permute_dims(perm_key, z), method="discriminate")
    loss = 0.5 * (jnp.mean(bernoulli_nll(real, 1.0)) + jnp.mean(bernoulli_nll(fake, 0.0)))
    accuracy = 0.5 * (jnp.mean(real > 0) + jnp.mean(fake <= 0))
    return loss, {"disc_loss": loss, "disc_accuracy": accuracy}


def loss_fn(params, batch, rng, *, module: FactorVAE) -> tuple[jax.Array, Metrics]:
    """Evaluation: the VAE objective with the discriminator's loss and accuracy."""
    vae_key, disc_key = jax.random.split(rng)
    loss, metrics = vae_loss(params, batch, vae_key, module=module)
    return loss, {**metrics, **disc_loss(params, batch, disc_key, module=module)[1]}


def phases(config: FactorVAEConfig) -> tuple[Phase, ...]:
    def disc_optimizer(_run_optimizer: optax.GradientTransformation):
        return optax.adam(config.disc_learning_rate, b1=0.5, b2=0.9)

    return (
        Phase("vae", vae_loss, params=("encoder", "decoder")),
        Phase("disc", disc_loss, params=("discriminator",), optimizer=disc_optimizer),
    )


SPEC = ModelSpec(
    name="factor_vae",
    description="FactorVAE: total correlation estimated by a discriminator on shuffled codes",
    config_cls=FactorVAEConfig,
    module_cls=FactorVAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    phases=phases,
    density=log_importance_weights,
)
