"""VAE with a VampPrior (Tomczak & Welling, 2018): the prior is the mixture of the posteriors
of K learned pseudo-inputs.

``p(z) = (1/K) sum_k q(z | u_k)``, where the pseudo-inputs ``u_k`` are images (parameters,
kept in [0, 1] by a hard clip as in the paper, initialized near 0.05 +/- 0.01) encoded by the
model's own encoder, so the prior works for any encoder architecture and follows the
encoder as it learns. The loss is the negative ELBO with the KL estimated on the
reparameterized sample and the pseudo-input summed out exactly (log-sum-exp):
``-ELBO = -log p(x|z) + log q(z|x) - log p(z)``. ``log_prior`` is exact, so the
importance-sampled NLL is too; ``sample`` draws a pseudo-input uniformly, then a code from
its posterior. The pseudo-inputs themselves are images: :meth:`VampVAE.pseudo_inputs`.
``--kl-warmup-steps`` weighs the KL by ``min(1, step / N)`` in training, as the paper does
over its first 100 epochs; ``nll_bound`` and evaluation use the full KL.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from aezoo.losses import gaussian_log_prob
from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import (
    VAE,
    VAEConfig,
    learned_prior_loss_fn,
    linear_warmup,
    log_importance_weights,
)
from aezoo.nn import reparameterize

PSEUDO_INIT_MEAN, PSEUDO_INIT_STD = 0.05, 0.01  # Tomczak & Welling's initialization


@dataclasses.dataclass(frozen=True)
class VampConfig(VAEConfig):
    """VampPrior settings: the number of pseudo-inputs (mixture components of the prior)."""

    pseudo_inputs: int = option(
        500, "K: learned pseudo-inputs whose posteriors are the prior", low=1
    )
    kl_warmup_steps: int = option(
        0, "steps of linear KL warm-up from 0 to 1 (0 = none; the paper: 100 epochs)", low=0
    )


def mixture_log_prob(z: jax.Array, means: jax.Array, logvars: jax.Array) -> jax.Array:
    """``log (1/K) sum_k N(z; means_k, exp(logvars_k))`` of ``[..., D]`` codes against K
    diagonal Gaussians ``[K, D]``: ``[...]`` (log-sum-exp over the components)."""
    flat = z.reshape(-1, 1, z.shape[-1])  # [N, 1, D] against [1, K, D]
    log_q = jnp.sum(gaussian_log_prob(flat, means[None], logvars[None]), axis=-1)
    log_p = jax.nn.logsumexp(log_q, axis=-1) - math.log(means.shape[0])
    return log_p.reshape(z.shape[:-1])


def pseudo_init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Pseudo-inputs near 0.05 +/- 0.01 (Tomczak & Welling's initialization)."""
    return PSEUDO_INIT_MEAN + PSEUDO_INIT_STD * jax.random.normal(key, shape, dtype)


class VampVAE(VAE):
    """The VAE's encoder and decoder with the VampPrior."""

    config: VampConfig

    def setup(self) -> None:
        super().setup()
        shape = (self.config.pseudo_inputs, *self.config.image_shape)
        self.pseudo = self.param("pseudo_inputs", pseudo_init, shape)

    def pseudo_inputs(self) -> jax.Array:
        """``[K, H, W, C]`` the pseudo-inputs as images in [0, 1]."""
        return jnp.clip(self.pseudo, 0.0, 1.0)

    def prior_components(self) -> tuple[jax.Array, jax.Array]:
        """``([K, D], [K, D])``: the mean and log-variance of ``q(z | u_k)`` per pseudo-input."""
        q = self.encode(self.pseudo_inputs())
        return q["z_mean"], q["z_logvar"]

    def log_prior(self, z: jax.Array) -> jax.Array:
        """``log p(z) = logsumexp_k log q(z | u_k) - log K`` of ``[..., D]`` codes: ``[...]``."""
        return mixture_log_prob(z, *self.prior_components())

    def sample(self, n: int, rng: jax.Array, *, label: jax.Array | None = None) -> dict:
        """Decode ``n`` draws from the VampPrior (a uniform pseudo-input, then its posterior)."""
        k_key, z_key = jax.random.split(rng)
        mean, logvar = self.prior_components()
        k = jax.random.randint(k_key, (n,), 0, self.config.pseudo_inputs)
        return self.decode(reparameterize(z_key, mean[k], logvar[k]))


def loss_fn(params, batch, rng, *, module: VampVAE) -> tuple[jax.Array, Metrics]:
    """Negative ELBO under the VampPrior (nats per example), the KL warmed up if asked."""
    weight = linear_warmup(batch.get("step"), module.config.kl_warmup_steps)
    loss, metrics = learned_prior_loss_fn(params, batch, rng, module=module, kl_weight=weight)
    return loss, {**metrics, "kl_weight": weight}


SPEC = ModelSpec(
    name="vamp",
    description="VAE with a VampPrior: the mixture of the posteriors of K learned pseudo-inputs",
    config_cls=VampConfig,
    module_cls=VampVAE,
    loss_fn=loss_fn,
    generative=True,
    density=log_importance_weights,
)
