"""A VAE with two stochastic layers (Burda et al., 2016, section 5; the bottom-up
hierarchy of Rezende et al., 2014).

Generative model ``p(z2) p(z1 | z2) p(x | z1)``: ``z2 ~ N(0, I)`` (``top_latent_dim``),
``z1 | z2`` a diagonal Gaussian from an MLP (``top_hidden_dims``), ``x | z1`` the zoo's
decoder. Inference ``q(z1 | x) q(z2 | z1)``: the zoo's Gaussian encoder (any arch), then an
MLP. The log-weight of one joint sample is
``log p(x|z1) + log p(z1|z2) + log p(z2) - log q(z1|x) - log q(z2|z1)``: with
``num_samples = 1`` the loss is the negative ELBO (every term by Monte Carlo), with K > 1 the
K-sample importance-weighted bound (Burda's 2-layer IWAE), and the importance-sampled NLL
uses the same log-weights over both layers. ``encode`` gives ``z1`` (its posterior mean;
``z2`` beside it), ``decode`` maps ``z1`` to images, ``sample`` draws down the hierarchy.
``--kl-warmup-steps`` (one sample only) weighs the latent terms by ``min(1, step / N)``
(Sønderby et al., 2016); ``nll_bound`` stays the true bound. ``--top-prior vamp`` puts a
VampPrior on z2 (Tomczak & Welling's HVAE + VampPrior): the mixture of
``q(z2 | z1 = mean of q(z1 | u_k))`` over K learned pseudo-inputs, exact in the IS-NLL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.errors import ConfigError
from aezoo.losses import gaussian_log_prob
from aezoo.models._spec import BaseConfig, Metrics, ModelSpec, option
from aezoo.models.vae import decoded_log_px, iw_bound, linear_warmup, standard_normal_log_prob
from aezoo.models.vamp import mixture_log_prob, pseudo_init
from aezoo.nn import (
    ACTIVATIONS,
    COMPUTE_DTYPES,
    MLP,
    check_images,
    make_decoder,
    make_encoder,
    reparameterize,
)

TOP_PRIORS = ("normal", "vamp")


@dataclasses.dataclass(frozen=True)
class HVAE2Config(BaseConfig):
    """Two stochastic layers: ``latent_dim`` (z1) under ``hidden_dims``, ``top_latent_dim``
    (z2) under ``top_hidden_dims``; Burda et al.'s sizes are the defaults."""

    latent_dim: int = option(100, "size of z1, the lower stochastic layer", low=1)
    hidden_dims: tuple[int, ...] = option(
        (200, 200), "widths between x and z1 (the decoder mirrors them)"
    )
    top_latent_dim: int = option(50, "size of z2, the top stochastic layer", low=1)
    top_hidden_dims: tuple[int, ...] = option((100, 100), "widths between z1 and z2, each way")
    num_samples: int = option(1, "K: 1 = the ELBO, K > 1 = the K-sample IWAE bound", low=1)
    top_prior: str = option(
        "normal",
        "p(z2): normal (N(0, I)) or vamp (a VampPrior: the mixture of q(z2 | u_k) over learned "
        "pseudo-inputs u_k, Tomczak & Welling's HVAE + VampPrior)",
        choices=TOP_PRIORS,
    )
    pseudo_inputs: int = option(500, "K pseudo-inputs of the vamp top prior", low=1)
    kl_warmup_steps: int = option(
        0, "steps of linear warm-up of the latent terms (one sample only; 0 = none)", low=0
    )

    def validate(self) -> None:
        super().validate()
        if self.kl_warmup_steps and self.num_samples > 1:
            raise ConfigError(
                "--kl-warmup-steps weighs the ELBO's terms: use it with --num-samples 1"
            )


class GaussianMLP(nn.Module):
    """``[..., D_in]`` -> a diagonal Gaussian ``(mean, logvar)`` of ``out_dim``."""

    hidden_dims: Sequence[int]
    out_dim: int
    activation: str = "relu"
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        act, dtype = ACTIVATIONS[self.activation], COMPUTE_DTYPES[self.compute_dtype]
        out = MLP((*self.hidden_dims, 2 * self.out_dim), act, dtype=dtype, name="mlp")(h)
        out = out.astype(jnp.float32)
        mean, logvar = jnp.split(out, 2, axis=-1)
        return mean, logvar


class HVAE2(nn.Module):
    """Two-layer VAE; ``__call__(x, rng=key)`` returns both layers' posteriors, a joint
    sample (``z``, ``z2``), ``p(z1 | z2)`` at it and the decoder's outputs."""

    config: HVAE2Config

    def setup(self) -> None:
        cfg = self.config
        self.encoder = make_encoder(cfg, cfg.latent_dim, gaussian=True)
        self.decoder = make_decoder(cfg)
        net = (cfg.activation, cfg.compute_dtype)
        self.q_top = GaussianMLP(cfg.top_hidden_dims, cfg.top_latent_dim, *net)
        self.p_mid = GaussianMLP(tuple(reversed(cfg.top_hidden_dims)), cfg.latent_dim, *net)
        if cfg.top_prior == "vamp":
            shape = (cfg.pseudo_inputs, *cfg.image_shape)
            self.pseudo = self.param("pseudo_inputs", pseudo_init, shape)

    def __call__(
        self, x: jax.Array, *, rng: jax.Array | None = None, train: bool = True, label=None
    ) -> dict[str, jax.Array]:
        q = self.encode(x)
        if rng is None:
            z1, z2 = q["z_mean"], q["z2_mean"]
        else:
            k1, k2 = jax.random.split(rng)
            z1 = reparameterize(k1, q["z_mean"], q["z_logvar"])
            z2 = reparameterize(k2, *self.q_top(z1))
        prior_mean, prior_logvar = self.p_mid(z2)  # p(z1 | z2) (and its params at init)
        out = {**q, "z": z1, "z2": z2, "z1_prior_mean": prior_mean}
        return {**out, "z1_prior_logvar": prior_logvar, **self.decode(z1)}

    def encode(self, x: jax.Array, *, label=None) -> dict[str, jax.Array]:
        """``{"z", "z_mean", "z_logvar"}`` of z1 (``z`` its mean) and ``z2_mean``,
        ``z2_logvar`` of ``q(z2 | z1)`` at that mean."""
        check_images(x, self.config.image_shape)
        mean, logvar = self.encoder(x, None)
        top_mean, top_logvar = self.q_top(mean)
        return {
            "z": mean,
            "z_mean": mean,
            "z_logvar": logvar,
            "z2_mean": top_mean,
            "z2_logvar": top_logvar,
        }

    def decode(self, z: jax.Array, *, label=None) -> dict[str, jax.Array]:
        """``[B, latent_dim]`` z1 -> decoder distribution parameters ``[B, H, W, C]``."""
        return self.decoder(z, None)

    def reconstruct(self, x: jax.Array, *, label=None) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z_mean"])

    def prior_mid(self, z2: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``p(z1 | z2)``: its mean and log-variance."""
        return self.p_mid(z2)

    def posterior_top(self, z1: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``q(z2 | z1)``: its mean and log-variance."""
        return self.q_top(z1)

    def top_components(self) -> tuple[jax.Array, jax.Array]:
        """The vamp top prior's components ``q(z2 | z1 = mean of q(z1 | u_k))``: means and
        log-variances ``[K, top_latent_dim]``."""
        mean, _ = self.encoder(jnp.clip(self.pseudo, 0.0, 1.0), None)
        return self.q_top(mean)

    def log_prior_top(self, z2: jax.Array) -> jax.Array:
        """``log p(z2)`` of ``[..., D2]`` codes: ``[...]`` (exact for either prior)."""
        if self.config.top_prior == "normal":
            return standard_normal_log_prob(z2)
        return mixture_log_prob(z2, *self.top_components())

    def sample(self, n: int, rng: jax.Array, *, label=None) -> dict[str, jax.Array]:
        """Decode ``n`` draws down the hierarchy: ``z2`` from the top prior, then
        ``z1 ~ p(z1 | z2)``."""
        k2, k1, kc = jax.random.split(rng, 3)
        if self.config.top_prior == "normal":
            z2 = jax.random.normal(k2, (n, self.config.top_latent_dim))
        else:
            mean, logvar = self.top_components()
            k = jax.random.randint(kc, (n,), 0, self.config.pseudo_inputs)
            z2 = reparameterize(k2, mean[k], logvar[k])
        z1 = reparameterize(k1, *self.p_mid(z2))
        return self.decode(z1)


def log_weight_terms(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: HVAE2, num_samples: int
) -> tuple[jax.Array, jax.Array]:
    """For K joint samples ``(z1, z2) ~ q``: ``log p(x | z1)`` and the latent terms
    ``log p(z1|z2) + log p(z2) - log q(z1|x) - log q(z2|z1)``, each ``[K, B]``."""
    x = batch["image"]
    variables = {"params": params}
    q = module.apply(variables, x, method="encode")
    mean, logvar = q["z_mean"], q["z_logvar"]
    k1, k2 = jax.random.split(rng)
    eps1 = jax.random.normal(k1, (num_samples, *mean.shape), mean.dtype)
    z1 = mean[None] + jnp.exp(0.5 * logvar)[None] * eps1  # [K, B, D1]
    top_mean, top_logvar = module.apply(variables, z1, method="posterior_top")
    eps2 = jax.random.normal(k2, top_mean.shape, top_mean.dtype)
    z2 = top_mean + jnp.exp(0.5 * top_logvar) * eps2  # [K, B, D2]
    mid_mean, mid_logvar = module.apply(variables, z2, method="prior_mid")
    log_px = decoded_log_px(params, x, z1, module=module)
    log_p = jnp.sum(gaussian_log_prob(z1, mid_mean, mid_logvar), axis=-1)
    log_p += module.apply(variables, z2, method="log_prior_top")
    log_q = jnp.sum(gaussian_log_prob(z1, mean[None], logvar[None]), axis=-1)
    log_q += jnp.sum(gaussian_log_prob(z2, top_mean, top_logvar), axis=-1)
    return log_px, log_p - log_q


def bound_functions(terms: Callable[..., tuple[jax.Array, jax.Array]]) -> tuple[Callable, Callable]:
    """``(log_importance_weights, loss_fn)`` of a two-layer model from its ``terms(params,
    batch, rng, *, module, num_samples) -> (log p(x|z1), latent terms)``, each ``[K, B]``:
    the log-weights are their sum; the loss the ELBO (K = 1) or K-sample bound."""

    def log_importance_weights(params, batch, rng, *, module, num_samples: int) -> jax.Array:
        """``log p(x, z1, z2) - log q(z1, z2 | x)`` of K joint posterior samples: ``[K, B]``."""
        log_px, latent = terms(params, batch, rng, module=module, num_samples=num_samples)
        return log_px + latent

    def loss_fn(params, batch, rng, *, module) -> tuple[jax.Array, Metrics]:
        """The negative ELBO (K = 1) or K-sample bound over both layers, nats per example."""
        cfg = module.config
        log_px, latent = terms(params, batch, rng, module=module, num_samples=cfg.num_samples)
        return bound_loss(log_px, latent, cfg, batch.get("step"))

    return log_importance_weights, loss_fn


def bound_loss(
    log_px: jax.Array, latent: jax.Array, config: HVAE2Config, step: jax.Array | None
) -> tuple[jax.Array, Metrics]:
    """The loss from ``log p(x|z1)`` and the latent terms (``[K, B]``): the K-sample bound,
    or for K = 1 the ELBO with the latent terms warmed up; ``nll_bound`` the true bound."""
    bound = -jnp.mean(iw_bound(log_px + latent))
    weight = linear_warmup(step, config.kl_warmup_steps)
    loss = bound if config.num_samples > 1 else -jnp.mean(log_px + weight * latent)
    return loss, {
        "loss": loss,
        "nll_bound": bound,
        "nll": -jnp.mean(log_px),
        "kl": -jnp.mean(latent),
        "kl_weight": weight,
    }


log_importance_weights, loss_fn = bound_functions(log_weight_terms)

SPEC = ModelSpec(
    name="hvae2",
    description="VAE with two stochastic layers (z2 -> z1 -> x); ELBO or K-sample bound",
    config_cls=HVAE2Config,
    module_cls=HVAE2,
    loss_fn=loss_fn,
    generative=True,
    density=log_importance_weights,
)
