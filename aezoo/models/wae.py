"""Wasserstein autoencoder, WAE-MMD (Tolstikhin et al., 2018): a deterministic autoencoder
whose aggregate code distribution q(z) is pulled to the prior N(0, I) as a whole, by a
maximum mean discrepancy between the batch's codes and as many prior draws, instead of
pulling each example's posterior to the prior (the VAE's KL), so codes of different
images need not overlap.

``loss = NLL + lambda * MMD^2(codes, prior draws)``, the unbiased estimate with a sum of
inverse-multiquadratic (``imq``, the paper's choice) or Gaussian (``rbf``) kernels over
scales around ``2 * latent_dim`` (:func:`aezoo.losses.mmd`). It samples by decoding prior
draws. Default lambda = 10, as in the paper's MNIST setting.
"""

from __future__ import annotations

import dataclasses

import jax

from aezoo.losses import MMD_KERNELS, mmd
from aezoo.models._spec import Metrics, ModelSpec, option
from aezoo.models.ae import AE, AEConfig, reconstruction_loss


@dataclasses.dataclass(frozen=True)
class WAEConfig(AEConfig):
    """WAE-MMD settings: the MMD's weight and kernel."""

    mmd_weight: float = option(10.0, "lambda: weight of the MMD penalty", sweep=True, low=0.0)
    kernel: str = option(
        "imq", "MMD kernel: imq (inverse multiquadratic) or rbf", choices=MMD_KERNELS
    )


class WAE(AE):
    """A deterministic autoencoder with a N(0, I) prior to sample from."""

    def sample(self, n: int, rng: jax.Array, **cond) -> dict[str, jax.Array]:
        """Decode ``n`` draws from the prior N(0, I)."""
        return self.decode(jax.random.normal(rng, (n, self.config.latent_dim)))


def loss_fn(params, batch, rng, *, module: WAE) -> tuple[jax.Array, Metrics]:
    """NLL + lambda * MMD^2(codes, N(0, I) draws), nats per example."""
    cfg = module.config
    ae_key, prior_key = jax.random.split(rng)
    nll, out = reconstruction_loss(params, batch, ae_key, module=module)
    z = out["z"]
    penalty = mmd(z, jax.random.normal(prior_key, z.shape, z.dtype), kernel=cfg.kernel)
    loss = nll + cfg.mmd_weight * penalty
    return loss, {"loss": loss, "nll": nll, "mmd": penalty}


SPEC = ModelSpec(
    name="wae",
    description="Wasserstein AE (WAE-MMD): deterministic codes, MMD to N(0, I) over the batch",
    config_cls=WAEConfig,
    module_cls=WAE,
    loss_fn=loss_fn,
    generative=True,
)
