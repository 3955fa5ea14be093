"""Sparse autoencoder: a reconstruction NLL plus a sparsity penalty on the code.

Two penalties (``--penalty``): ``l1``, ``lambda * sum_j |z_j|`` on a linear code (an L1
activity penalty); ``kl``, sigmoid code units pushed to a target mean activation ``rho`` by
``beta * sum_j KL(rho || rho_hat_j)``, with ``rho_hat`` the batch mean (Ng's lecture notes).
Metrics ``mean_activation`` and ``frac_near_zero`` (units with |z| < 0.05) measure sparsity.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.losses import kl_bernoulli_rate, l1_activity
from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.ae import AE, AEConfig, reconstruction_loss

PENALTIES = ("l1", "kl")
NEAR_ZERO = 0.05


@dataclasses.dataclass(frozen=True)
class SparseAEConfig(AEConfig):
    """Sparse AE settings: the penalty and its weights."""

    penalty: str = option(
        "l1", "sparsity penalty: l1 (activity) or kl (target rate)", choices=PENALTIES
    )
    l1_weight: float = option(0.5, "lambda: weight of the L1 activity penalty", sweep=True, low=0.0)
    rho: float = option(
        0.05,
        "target mean activation of the sigmoid code units (kl)",
        sweep=True,
        low=0.0,
        high=1.0,
        open="both",
    )
    kl_weight: float = option(
        3.0, "beta: weight of the target-rate KL penalty (kl)", sweep=True, low=0.0
    )


class SparseAE(AE):
    """An :class:`AE` whose code units are sigmoids for the ``kl`` penalty, offset by
    ``logit(rho)`` so that they start at the target rate: from 0.5, the penalty's first
    steps drive every unit into the sigmoid's flat tail before the reconstruction can use
    it, and a first-order optimizer (Adam) then learns nothing (Ng's notes use L-BFGS)."""

    config: SparseAEConfig

    def activate_code(self, h: jax.Array) -> jax.Array:
        if self.config.penalty != "kl":
            return h
        rho = self.config.rho  # a traced value when swept (--sweep rho=...)
        return jax.nn.sigmoid(h + jnp.log(rho) - jnp.log1p(-rho))


def sparsity_metrics(z: jax.Array) -> Metrics:
    """Mean |code| and the fraction of code entries with |z| < 0.05."""
    return {
        "mean_activation": jnp.mean(jnp.abs(z)),
        "frac_near_zero": jnp.mean((jnp.abs(z) < NEAR_ZERO).astype(jnp.float32)),
    }


def loss_fn(params, batch, rng, *, module: SparseAE) -> tuple[jax.Array, Metrics]:
    """Reconstruction NLL + sparsity penalty (nats per example)."""
    cfg = module.config
    nll, out = reconstruction_loss(params, batch, rng, module=module)
    z = out["z"]
    if cfg.penalty == "l1":
        penalty = cfg.l1_weight * jnp.mean(jnp.sum(l1_activity(z), axis=-1))
    else:
        penalty = cfg.kl_weight * jnp.sum(kl_bernoulli_rate(cfg.rho, jnp.mean(z, axis=0)))
    loss = nll + penalty
    return loss, {"loss": loss, "nll": nll, "penalty": penalty, **sparsity_metrics(z)}


SPEC = ModelSpec(
    name="sparse_ae",
    description="sparse autoencoder: L1 activity or KL target-rate penalty on the code",
    config_cls=SparseAEConfig,
    module_cls=SparseAE,
    loss_fn=loss_fn,
)
