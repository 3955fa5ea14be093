"""DIP-VAE (Kumar et al., 2018): push the covariance of the aggregate posterior to identity.

``loss = -ELBO + lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2`` with ``C``
the batch covariance of the posterior means (``dip_type`` i) or that plus the mean posterior
variance (ii: the covariance of the codes themselves). As in disentanglement_lib,
``lambda_d = d_factor * lambda_od`` with ``d_factor`` 10 for type i and 1 for type ii unless
set. ``nll_bound`` is the negative ELBO.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, elbo_outputs, log_importance_weights

DIP_TYPES = ("i", "ii")


@dataclasses.dataclass(frozen=True)
class DIPVAEConfig(VAEConfig):
    """DIP-VAE settings: which covariance, and the weights of its off-diagonal and diagonal."""

    dip_type: str = option(
        "i", "covariance matched to I: i (of the means) or ii (of z)", choices=DIP_TYPES
    )
    lambda_od: float = option(
        10.0, "weight of the squared off-diagonal covariances", sweep=True, low=0.0
    )
    d_factor: float | None = option(
        None, "lambda_d / lambda_od (default: 10 for type i, 1 for type ii)", low=0.0
    )


def code_covariance(mean: jax.Array, logvar: jax.Array, dip_type: str) -> jax.Array:
    """``[D, D]``: covariance of the batch's posterior means, plus (type ii) their mean
    variance on the diagonal: the covariance of ``z`` under the batch's aggregate posterior."""
    centered = mean - jnp.mean(mean, axis=0, keepdims=True)
    cov = centered.T @ centered / mean.shape[0]
    if dip_type == "ii":
        cov = cov + jnp.diag(jnp.mean(jnp.exp(logvar), axis=0))
    return cov


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """-ELBO + the DIP penalty on the code covariance (nats per example)."""
    cfg = module.config
    out, nll, kl = elbo_outputs(params, batch, rng, module=module)
    cov = code_covariance(out["z_mean"], out["z_logvar"], cfg.dip_type)
    diag = jnp.diagonal(cov)
    off_diag = jnp.sum(jnp.square(cov)) - jnp.sum(jnp.square(diag))
    on_diag = jnp.sum(jnp.square(diag - 1.0))
    d_factor = cfg.d_factor if cfg.d_factor is not None else (10.0 if cfg.dip_type == "i" else 1.0)
    penalty = cfg.lambda_od * off_diag + cfg.lambda_od * d_factor * on_diag
    nll, kl = jnp.mean(nll), jnp.mean(kl)
    loss = nll + kl + penalty
    metrics = {"loss": loss, "nll": nll, "kl": kl, "nll_bound": nll + kl}
    return loss, {**metrics, "dip_off_diag": off_diag, "dip_on_diag": on_diag}


SPEC = ModelSpec(
    name="dip_vae",
    description="DIP-VAE (I or II): the ELBO plus a penalty matching the code covariance to I",
    config_cls=DIPVAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
