"""VAE with a Gaussian-mixture prior, for clustering (in the spirit of VaDE, Jiang et al. 2017).

``p(z) = (1/K) sum_c N(z; mu_c, diag exp(logvar_c))`` with the K components' means and
log-variances learned with the encoder and decoder (uniform weights: a component cannot
win by its weight alone). The loss is the negative ELBO with the KL estimated on the
reparameterized sample and the component summed out exactly (log-sum-exp):
``-ELBO = -log p(x|z) + log q(z|x) - log p(z)``. The cluster of an image is the component
that explains its posterior mean best, ``argmax_c p(c | z)`` (:meth:`GMVAE.classify`); the
``clustering`` task scores it beside k-means and a Gaussian mixture fitted to the codes.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from aezoo.losses import gaussian_log_prob
from aezoo.models._spec import ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, learned_prior_loss_fn, log_importance_weights
from aezoo.nn import reparameterize


@dataclasses.dataclass(frozen=True)
class GMVAEConfig(VAEConfig):
    """Mixture-prior VAE settings: the number of mixture components (clusters)."""

    components: int = option(10, "Gaussian components of the prior (the clusters)", low=2)


class GMVAE(VAE):
    """The VAE's encoder and decoder with a learned mixture of Gaussians as the prior."""

    config: GMVAEConfig

    def setup(self) -> None:
        super().setup()
        shape = (self.config.components, self.config.latent_dim)
        self.prior_mean = self.param("prior_mean", jax.nn.initializers.normal(1.0), shape)
        self.prior_logvar = self.param("prior_logvar", jax.nn.initializers.zeros, shape)

    def component_log_probs(self, z: jax.Array) -> jax.Array:
        """``[B, D]`` -> ``[B, K]``: ``log p(c) + log N(z; mu_c, var_c)`` per component."""
        log_n = gaussian_log_prob(z[:, None, :], self.prior_mean[None], self.prior_logvar[None])
        return jnp.sum(log_n, axis=-1) - math.log(self.config.components)

    def log_prior(self, z: jax.Array) -> jax.Array:
        """``log p(z)`` of ``[..., D]`` codes under the mixture: ``[...]``."""
        flat = z.reshape(-1, z.shape[-1])
        return jax.nn.logsumexp(self.component_log_probs(flat), axis=-1).reshape(z.shape[:-1])

    def classify(self, x: jax.Array) -> jax.Array:
        """``[B, H, W, C]`` -> ``[B, K]`` logits of ``p(c | z)`` at the posterior mean."""
        return self.component_log_probs(self.encode(x)["z_mean"])

    def sample(self, n: int, rng: jax.Array, *, label: jax.Array | None = None) -> dict:
        """Decode ``n`` draws from the mixture prior (a uniform component, then its Gaussian)."""
        c_key, z_key = jax.random.split(rng)
        c = jax.random.randint(c_key, (n,), 0, self.config.components)
        return self.decode(reparameterize(z_key, self.prior_mean[c], self.prior_logvar[c]))


SPEC = ModelSpec(
    name="gmvae",
    description="VAE with a learned Gaussian-mixture prior; its components are the clusters",
    config_cls=GMVAEConfig,
    module_cls=GMVAE,
    loss_fn=learned_prior_loss_fn,
    generative=True,
    density=log_importance_weights,
    clusters=True,
    num_classes=lambda config: config.components,
)
