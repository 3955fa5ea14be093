"""The ladder VAE (Sønderby et al., 2016) with two stochastic layers: the generative model
of :mod:`aezoo.models.hvae2` (``p(z2) p(z1 | z2) p(x | z1)``, the same options and sizes),
inferred top-down.

A deterministic bottom-up pass gives Gaussian estimates at each layer (the zoo's encoder:
``(m1, v1)`` from ``x``; an MLP: ``(m2, v2)`` from ``m1``). The top posterior is
``q(z2 | x) = N(m2, v2)``; going down, ``q(z1 | x, z2)`` is the precision-weighted product
of the bottom-up estimate and the generative ``p(z1 | z2) = N(mp, vp)``:
``1 / v = 1 / v1 + 1 / vp``, ``m = v (m1 / v1 + mp / vp)``, so the posterior of the lower
layer shares the prior's information about ``z2``. The log-weight of a joint sample is
``log p(x|z1) + log p(z1|z2) + log p(z2) - log q(z1|x, z2) - log q(z2|x)``; the ELBO, the
K-sample bound, the KL warm-up, the VampPrior top and the IS-NLL are as in ``hvae2``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from aezoo.losses import gaussian_log_prob
from aezoo.models._spec import ModelSpec
from aezoo.models.hvae2 import HVAE2, HVAE2Config, bound_functions
from aezoo.models.vae import decoded_log_px
from aezoo.nn import check_images, reparameterize


def precision_weighted(
    mean_a: jax.Array, logvar_a: jax.Array, mean_b: jax.Array, logvar_b: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The normalized product of two diagonal Gaussians: ``(mean, logvar)``."""
    logvar = -jnp.logaddexp(-logvar_a, -logvar_b)
    weight_a = jax.nn.sigmoid(logvar_b - logvar_a)  # (1 / v_a) / (1 / v_a + 1 / v_b)
    return weight_a * mean_a + (1.0 - weight_a) * mean_b, logvar


class LVAE(HVAE2):
    """Two-layer ladder VAE: ``q_top`` maps the bottom-up estimate ``m1`` to the top's."""

    def __call__(self, x: jax.Array, *, rng: jax.Array | None = None, **_) -> dict[str, jax.Array]:
        q = self.bottom_up(x)
        k1, k2 = jax.random.split(rng) if rng is not None else (None, None)
        z2 = q["z2_mean"] if rng is None else reparameterize(k2, q["z2_mean"], q["z2_logvar"])
        prior_mean, prior_logvar = self.p_mid(z2)
        mean, logvar = precision_weighted(q["up_mean"], q["up_logvar"], prior_mean, prior_logvar)
        z1 = mean if rng is None else reparameterize(k1, mean, logvar)
        out = {**q, "z": z1, "z_mean": mean, "z_logvar": logvar, "z2": z2}
        return {
            **out,
            "z1_prior_mean": prior_mean,
            "z1_prior_logvar": prior_logvar,
            **self.decode(z1),
        }

    def bottom_up(self, x: jax.Array) -> dict[str, jax.Array]:
        """The deterministic pass: ``up_mean``, ``up_logvar`` (layer 1's estimate) and the
        top posterior ``z2_mean``, ``z2_logvar``."""
        check_images(x, self.config.image_shape)
        mean, logvar = self.encoder(x, None)
        top_mean, top_logvar = self.q_top(mean)
        return {"up_mean": mean, "up_logvar": logvar, "z2_mean": top_mean, "z2_logvar": top_logvar}

    def encode(self, x: jax.Array, *, label=None) -> dict[str, jax.Array]:
        """``q(z1 | x, z2)`` at the top posterior's mean (``z`` = its mean) and ``q(z2|x)``."""
        q = self.bottom_up(x)
        prior_mean, prior_logvar = self.p_mid(q["z2_mean"])
        mean, logvar = precision_weighted(q["up_mean"], q["up_logvar"], prior_mean, prior_logvar)
        return {**q, "z": mean, "z_mean": mean, "z_logvar": logvar}

    def reconstruct(self, x: jax.Array, *, label=None) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z_mean"])


def log_weight_terms(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: LVAE, num_samples: int
) -> tuple[jax.Array, jax.Array]:
    """For K joint samples, top-down: ``log p(x | z1)`` and the latent terms, ``[K, B]``."""
    x = batch["image"]
    variables = {"params": params}
    q = module.apply(variables, x, method="bottom_up")
    k1, k2 = jax.random.split(rng)
    top_mean, top_logvar = q["z2_mean"][None], q["z2_logvar"][None]
    eps2 = jax.random.normal(k2, (num_samples, *q["z2_mean"].shape), top_mean.dtype)
    z2 = top_mean + jnp.exp(0.5 * top_logvar) * eps2  # [K, B, D2]
    mid_mean, mid_logvar = module.apply(variables, z2, method="prior_mid")
    mean, logvar = precision_weighted(
        q["up_mean"][None], q["up_logvar"][None], mid_mean, mid_logvar
    )
    z1 = mean + jnp.exp(0.5 * logvar) * jax.random.normal(k1, mean.shape, mean.dtype)
    log_px = decoded_log_px(params, x, z1, module=module)
    log_p = jnp.sum(gaussian_log_prob(z1, mid_mean, mid_logvar), axis=-1)
    log_p += module.apply(variables, z2, method="log_prior_top")
    log_q = jnp.sum(gaussian_log_prob(z1, mean, logvar), axis=-1)
    log_q += jnp.sum(gaussian_log_prob(z2, top_mean, top_logvar), axis=-1)
    return log_px, log_p - log_q


log_importance_weights, loss_fn = bound_functions(log_weight_terms)


SPEC = ModelSpec(
    name="lvae",
    description="ladder VAE: two stochastic layers inferred top-down (precision-weighted)",
    config_cls=HVAE2Config,
    module_cls=LVAE,
    loss_fn=loss_fn,
    generative=True,
    density=log_importance_weights,
)
