"""beta-TCVAE (Chen et al., 2018): penalize the total correlation of the aggregate posterior.

The KL term of the ELBO splits into index-code mutual information, total correlation (TC)
and dimension-wise KL; beta-TCVAE weights only the TC by beta:
``loss = NLL + KL + (beta - 1) * TC`` (= NLL + MI + beta * TC + dim-KL), with TC estimated
on the minibatch (:func:`aezoo.losses.total_correlation`), as in disentanglement_lib.
``nll_bound`` is the negative ELBO.

Measured on dSprites (MIG, FactorVAE score, with the commands): the docs' disentanglement page.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.losses import total_correlation
from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, elbo_outputs, log_importance_weights


@dataclasses.dataclass(frozen=True)
class BetaTCVAEConfig(VAEConfig):
    """beta-TCVAE settings: the weight of the total correlation."""

    beta: float = option(6.0, "weight of the total correlation term", sweep=True, low=0.0)


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """NLL + KL + (beta - 1) * TC (nats per example); TC from the minibatch."""
    out, nll, kl = elbo_outputs(params, batch, rng, module=module)
    tc = jnp.mean(total_correlation(out["z"], out["z_mean"], out["z_logvar"]))
    nll, kl = jnp.mean(nll), jnp.mean(kl)
    loss = nll + kl + (module.config.beta - 1.0) * tc
    return loss, {"loss": loss, "nll": nll, "kl": kl, "tc": tc, "nll_bound": nll + kl}


SPEC = ModelSpec(
    name="beta_tcvae",
    description="beta-TCVAE: the total correlation of the codes weighted by beta (minibatch)",
    config_cls=BetaTCVAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
