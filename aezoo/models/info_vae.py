"""InfoVAE (Zhao et al., 2019): the VAE objective with the KL's weight lowered and a
maximum mean discrepancy between the aggregate posterior q(z) and the prior added, which
keeps information in the code (a VAE's per-example KL pushes every posterior to the prior
and, with a strong decoder, the code out of use) while the codes as a whole still match
N(0, I) for sampling.

``loss = NLL + (1 - alpha) * KL(q(z|x) || p(z)) + (alpha + lambda - 1) * MMD^2(q(z), p(z))``
with the MMD between the batch's reparameterized codes and as many prior draws
(:func:`aezoo.losses.mmd`, IMQ or RBF kernels). ``alpha = 0, lambda = 1`` is the VAE
exactly; ``alpha = 1`` drops the KL (MMD-VAE). Defaults alpha = 0 and lambda = 10, chosen
by the ``info_vae_lambda_mnist`` recipe (lambda 1 to 1000 on MNIST). It keeps the VAE's
Gaussian encoder, so the importance-sampled NLL applies; ``nll_bound`` reports the true
-ELBO whatever the weights.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.errors import ConfigError
from aezoo.losses import MMD_KERNELS, mmd
from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, elbo_outputs, log_importance_weights


@dataclasses.dataclass(frozen=True)
class InfoVAEConfig(VAEConfig):
    """InfoVAE settings: alpha (how much of the KL to drop), lambda and the MMD kernel."""

    alpha: float = option(0.0, "alpha: the KL's weight is 1 - alpha", sweep=True, low=0.0, high=1.0)
    mmd_weight: float = option(
        10.0, "lambda: the MMD's weight is alpha + lambda - 1", sweep=True, low=0.0
    )
    kernel: str = option(
        "imq", "MMD kernel: imq (inverse multiquadratic) or rbf", choices=MMD_KERNELS
    )

    def validate(self) -> None:
        super().validate()
        if self.alpha + self.mmd_weight < 1.0:
            raise ConfigError(
                f"alpha + mmd_weight must be >= 1 (the MMD's weight alpha + lambda - 1 is "
                f"not negative); got {self.alpha} + {self.mmd_weight}"
            )


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """NLL + (1 - alpha) KL + (alpha + lambda - 1) MMD^2, nats per example."""
    cfg = module.config
    vae_key, prior_key = jax.random.split(rng)
    out, nll, kl = elbo_outputs(params, batch, vae_key, module=module)
    z = out["z"]
    penalty = mmd(z, jax.random.normal(prior_key, z.shape, z.dtype), kernel=cfg.kernel)
    nll, kl = jnp.mean(nll), jnp.mean(kl)
    loss = nll + (1.0 - cfg.alpha) * kl + (cfg.alpha + cfg.mmd_weight - 1.0) * penalty
    return loss, {"loss": loss, "nll": nll, "kl": kl, "mmd": penalty, "nll_bound": nll + kl}


SPEC = ModelSpec(
    name="info_vae",
    description="InfoVAE: the KL's weight lowered, an MMD between q(z) and N(0, I) added",
    config_cls=InfoVAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
