"""MIWAE (Rainforth et al., 2018): the mean of M independent K-sample importance-weighted
bounds.

``MIWAE(M, K) = (1/M) sum_m log (1/K) sum_k w_{m,k}``: M = 1 is the IWAE bound, K = 1 the
ELBO. With M * K samples fixed, larger M trades tightness for a stronger signal to the
encoder (the IWAE encoder gradient's signal-to-noise ratio falls as 1/sqrt(K)). The loss is
minus this bound; ``nll_bound`` is the tighter IWAE bound of all M * K samples, so runs
compare on the same quantity.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from aezoo.errors import ConfigError
from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.iwae import bound_metrics, grouped_bound
from aezoo.models.vae import VAE, VAEConfig, log_importance_weights


@dataclasses.dataclass(frozen=True)
class MIWAEConfig(VAEConfig):
    """MIWAE settings: M bounds of K samples each (M * K samples per example)."""

    num_samples: int = option(8, "K: importance samples in each bound", low=1)
    num_groups: int = option(8, "M: independent K-sample bounds averaged", low=1)

    def validate(self) -> None:
        super().validate()
        if self.num_samples * self.num_groups > 4096:
            raise ConfigError(
                f"num_samples * num_groups = {self.num_samples * self.num_groups} samples per "
                "example is more than 4096; lower --num-samples or --num-groups"
            )


def total_samples(config: MIWAEConfig) -> int:
    """M * K: the samples drawn per example."""
    return config.num_samples * config.num_groups


def loss_fn(params, batch, rng, *, module: VAE) -> tuple[jax.Array, Metrics]:
    """Minus the MIWAE(M, K) bound (nats per example)."""
    cfg = module.config
    log_w = log_importance_weights(
        params, batch, rng, module=module, num_samples=total_samples(cfg)
    )
    loss = -jnp.mean(grouped_bound(log_w, cfg.num_groups))
    return loss, bound_metrics(loss, log_w)


SPEC = ModelSpec(
    name="miwae",
    description="MIWAE: the mean of M independent K-sample importance-weighted bounds",
    config_cls=MIWAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
