"""Regularized autoencoder (Ghosh et al., 2020, "From variational to deterministic
autoencoders"): a deterministic autoencoder whose code is kept small and whose decoder is
kept smooth, sampled afterwards by a density fitted to its codes.

``loss = NLL + beta * mean(||z||^2 / 2) + lambda * R``, with ``R`` the squared L2 norm of
the decoder's weights (``--regularizer l2``: RAE-L2) or the gradient penalty
``mean ||d sum(g(z)) / dz||^2`` of the decoder's mean at the codes (``gp``: RAE-GP). It has
no prior of its own: ``aezoo sample RUN --sampler gmm`` and ``aezoo eval RUN --evaluators
sample_quality --sampler gmm`` generate with the ex-post Gaussian mixture, as the paper
does. Defaults: beta 1e-4 and lambda 1e-7 (as in the paper's and Pythae's settings; the
reconstruction term here is in nats per image, summed over pixels).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.ae import AE, AEConfig, reconstruction_loss

REGULARIZERS = ("l2", "gp")


@dataclasses.dataclass(frozen=True)
class RAEConfig(AEConfig):
    """RAE settings: the code penalty's weight and the decoder regularizer."""

    regularizer: str = option(
        "l2", "decoder regularizer: l2 (its weights) or gp (gradient penalty)", choices=REGULARIZERS
    )
    embedding_weight: float = option(
        1e-4, "beta: weight of ||z||^2 / 2, the code penalty", sweep=True, low=0.0
    )
    reg_weight: float = option(
        1e-7, "lambda: weight of the decoder regularizer", sweep=True, low=0.0
    )


def decoder_l2(params) -> jax.Array:
    """The squared L2 norm of every decoder parameter."""
    return sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(params["decoder"]))


def gradient_penalty(params, z: jax.Array, *, module: AE) -> jax.Array:
    """``mean_b ||d sum(mean(g(z_b))) / d z_b||^2``: how fast the decoded images move with
    the code, averaged over the batch."""

    def decoded_sum(code: jax.Array) -> jax.Array:
        out = module.apply({"params": params}, code[None], method="decode")
        return jnp.sum(out["mean"])

    grads = jax.vmap(jax.grad(decoded_sum))(z)
    return jnp.mean(jnp.sum(jnp.square(grads), axis=-1))


def loss_fn(params, batch, rng, *, module: AE) -> tuple[jax.Array, Metrics]:
    """NLL + beta * code penalty + lambda * decoder regularizer (nats per example)."""
    cfg = module.config
    nll, out = reconstruction_loss(params, batch, rng, module=module)
    code = jnp.mean(0.5 * jnp.sum(jnp.square(out["z"]), axis=-1))
    if cfg.regularizer == "gp":
        reg = gradient_penalty(params, out["z"], module=module)
    else:
        reg = decoder_l2(params)
    loss = nll + cfg.embedding_weight * code + cfg.reg_weight * reg
    return loss, {"loss": loss, "nll": nll, "code_penalty": code, "decoder_reg": reg}


SPEC = ModelSpec(
    name="rae",
    description="regularized AE (RAE-L2 or RAE-GP): small codes, smooth decoder; sample by GMM",
    config_cls=RAEConfig,
    module_cls=AE,
    loss_fn=loss_fn,
)
