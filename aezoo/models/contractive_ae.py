"""Contractive autoencoder (Rifai et al., 2011): penalize the encoder's sensitivity.

Penalty = ``lambda * ||dz/dx||_F^2``, the squared Frobenius norm of the encoder Jacobian,
computed exactly with ``jax.jacrev`` per example (any activation, any architecture), not a
formula that holds for one sigmoid layer only. Metric ``jacobian_norm``: mean ||dz/dx||_F.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.ae import AE, AEConfig, reconstruction_loss


@dataclasses.dataclass(frozen=True)
class ContractiveAEConfig(AEConfig):
    """Contractive AE settings: the penalty weight."""

    contraction_weight: float = option(0.1, "lambda: weight of ||dz/dx||_F^2", sweep=True, low=0.0)


def jacobian_sq_norm(params, x: jax.Array, *, module: AE) -> jax.Array:
    """``||dz/dx||_F^2`` per example, ``[B]``, by reverse-mode Jacobians (one per example)."""

    def code(xi):
        return module.apply({"params": params}, xi[None], method="encode")["z"][0]

    jac = jax.vmap(jax.jacrev(code))(x)  # [B, latent, H, W, C]
    return jnp.sum(jnp.square(jac).reshape(x.shape[0], -1), axis=-1)


def loss_fn(params, batch, rng, *, module: AE) -> tuple[jax.Array, Metrics]:
    """Reconstruction NLL + lambda * ||dz/dx||_F^2 (nats per example)."""
    nll, _ = reconstruction_loss(params, batch, rng, module=module)
    sq = jacobian_sq_norm(params, batch["image"], module=module)
    penalty = module.config.contraction_weight * jnp.mean(sq)
    loss = nll + penalty
    return loss, {
        "loss": loss,
        "nll": nll,
        "penalty": penalty,
        "jacobian_norm": jnp.mean(jnp.sqrt(sq)),
    }


SPEC = ModelSpec(
    name="contractive_ae",
    description="contractive autoencoder: exact Frobenius norm of the encoder Jacobian",
    config_cls=ContractiveAEConfig,
    module_cls=AE,
    loss_fn=loss_fn,
)
