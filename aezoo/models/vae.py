"""Variational autoencoder (Kingma & Welling, 2014): maximize the ELBO.

``-ELBO(x) = E_q(z|x)[-log p(x|z)] + KL(q(z|x) || N(0, I))`` with a diagonal Gaussian
encoder (log-variance parameterization), one reparameterized sample and the analytic KL.
The loss is the negative ELBO in nats per example, an upper bound on -log p(x).

The module also serves ``beta_vae``, ``iwae``, the disentangling VAEs (``beta_tcvae``,
``dip_vae``, ``annealed_vae``; ``factor_vae`` adds a discriminator) and (with
``num_classes > 0``, one-hot label conditioning of encoder and decoder) ``cvae``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from collections.abc import Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.errors import ConfigError
from aezoo.losses import gaussian_log_prob, image_nll, kl_normal_std, pixel_nll
from aezoo.models._spec import BaseConfig, Metrics, ModelSpec, option
from aezoo.nn import check_images, make_decoder, make_encoder, reparameterize


@dataclasses.dataclass(frozen=True)
class VAEConfig(BaseConfig):
    """VAE settings (see :class:`BaseConfig`)."""

    num_classes: int = option(
        0, "condition encoder and decoder on one-hot labels of this many classes", cli=False, low=0
    )


class VAE(nn.Module):
    """Gaussian-encoder VAE, optionally label-conditioned (``label=`` keyword, ``[B]`` ints).

    ``__call__(x, rng=key)`` returns ``z_mean``, ``z_logvar`` (``[B, latent]``), a sample
    ``z`` (the mean when ``rng`` is None) and the decoder outputs (``[B, H, W, C]``).
    """

    config: VAEConfig

    def setup(self) -> None:
        cfg = self.config
        self.encoder = make_encoder(cfg, cfg.latent_dim, gaussian=True)
        self.decoder = make_decoder(cfg)

    def _cond(self, label: jax.Array | None) -> jax.Array | None:
        n = self.config.num_classes
        if n == 0:
            return None
        if label is None:
            raise ConfigError(f"this model is conditioned on labels: pass label=[B] ints < {n}")
        return jax.nn.one_hot(label, n)

    def __call__(
        self,
        x: jax.Array,
        *,
        rng: jax.Array | None = None,
        train: bool = True,
        label: jax.Array | None = None,
    ) -> dict[str, jax.Array]:
        q = self.encode(x, label=label)
        z = q["z_mean"] if rng is None else reparameterize(rng, q["z_mean"], q["z_logvar"])
        return {**q, "z": z, **self.decode(z, label=label)}

    def encode(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """``[B, H, W, C]`` -> ``{"z", "z_mean", "z_logvar"}``, each ``[B, latent]``; the code
        ``z`` is the posterior mean."""
        check_images(x, self.config.image_shape)
        mean, logvar = self.encoder(x, self._cond(label))
        return {"z": mean, "z_mean": mean, "z_logvar": logvar}

    def decode(self, z: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """``[B, latent]`` -> decoder distribution parameters ``[B, H, W, C]``."""
        return self.decoder(z, self._cond(label))

    def log_prior(self, z: jax.Array) -> jax.Array:
        """``log p(z)`` of ``[..., D]`` codes under N(0, I): ``[...]``."""
        return standard_normal_log_prob(z)

    def reconstruct(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """Decode the posterior mean (deterministic)."""
        return self.decode(self.encode(x, label=label)["z_mean"], label=label)

    def sample(
        self, n: int, rng: jax.Array, *, label: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        """Decode ``n`` draws from the prior N(0, I) (labels drawn uniformly if needed)."""
        z_key, label_key = jax.random.split(rng)
        z = jax.random.normal(z_key, (n, self.config.latent_dim))
        if self.config.num_classes and label is None:
            label = jax.random.randint(label_key, (n,), 0, self.config.num_classes)
        return self.decode(z, label=label)


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
    """``log N(z; 0, I)`` of ``[..., D]`` codes: ``[...]``."""
    return jnp.sum(gaussian_log_prob(z, jnp.zeros_like(z), jnp.zeros_like(z)), axis=-1)


def _label(batch: dict[str, jax.Array], module: VAE) -> jax.Array | None:
    return batch.get("label") if module.config.num_classes else None


def elbo_outputs(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: VAE
) -> tuple[dict[str, jax.Array], jax.Array, jax.Array]:
    """The module's outputs (``z`` one reparameterized sample, ``z_mean``, ``z_logvar``,
    decoder parameters) with the per-example reconstruction NLL and KL, each ``[B]`` nats."""
    x = batch["image"]
    out = module.apply({"params": params}, x, rng=rng, label=_label(batch, module))
    nll = image_nll(module.config.likelihood, out, x)
    kl = jnp.sum(kl_normal_std(out["z_mean"], out["z_logvar"]), axis=-1)
    return out, nll, kl


def elbo_terms(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: VAE
) -> tuple[jax.Array, jax.Array]:
    """Per-example reconstruction NLL and KL, each ``[B]`` nats (one reparameterized z)."""
    _, nll, kl = elbo_outputs(params, batch, rng, module=module)
    return nll, kl


def posterior_samples(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: VAE, num_samples: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``num_samples`` reparameterized codes per example and the posterior they come from:
    ``(z [K, B, D], mean [B, D], logvar [B, D])`` (the encoder runs once per example)."""
    q = module.apply(
        {"params": params}, batch["image"], label=_label(batch, module), method="encode"
    )
    mean, logvar = q["z_mean"], q["z_logvar"]
    eps = jax.random.normal(rng, (num_samples, *mean.shape), mean.dtype)
    z = mean[None] + jnp.exp(0.5 * logvar)[None] * eps  # [K, B, D]
    return z, mean, logvar


_DECODE_ROWS: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "decode_rows", default=None
)


@contextlib.contextmanager
def decode_in_blocks(rows: int) -> Iterator[None]:
    """While tracing inside this block, :func:`decoded_log_px` decodes more than ``rows``
    codes x images in blocks of at most ``rows`` (a ``lax.map``) whose activations stay in
    cache; the values are the same up to float rounding (the order of the pixel sum). The
    IS-NLL traces its chunks inside it; training never does, so its programs and gradients
    are unchanged. The setting is read at trace time: a function jitted outside the block
    and called inside it keeps its earlier trace."""
    token = _DECODE_ROWS.set(rows)
    try:
        yield
    finally:
        _DECODE_ROWS.reset(token)


def decoded_log_px(
    params, x: jax.Array, z: jax.Array, *, module, label: jax.Array | None = None
) -> jax.Array:
    """``log p(x | z_k)`` of the images ``x [B, ...]`` decoded from K codes each
    (``z [K, B, D]``; labels repeated per code for a conditional decoder): ``[K, B]``.

    The decodes, as ``[K, B, pixels]``, score the images ``[1, B, pixels]`` by broadcasting:
    a K-fold copy of the images laid out as ``[K * B, H, W, C]`` made this 1.7x slower on
    XLA:CPU (K = 500, B = 100; the same values to the bit). Inside
    :func:`decode_in_blocks` the codes run in blocks."""
    num_samples, batch = z.shape[0], x.shape[0]
    rows = _DECODE_ROWS.get()
    per_block = num_samples if rows is None else max(1, rows // batch)
    if num_samples <= per_block:
        return _decoded_block(params, x, z, module=module, label=label)
    full = num_samples // per_block * per_block
    blocks = z[:full].reshape(full // per_block, per_block, *z.shape[1:])
    out = jax.lax.map(
        lambda zb: _decoded_block(params, x, zb, module=module, label=label), blocks
    ).reshape(full, batch)
    if full == num_samples:
        return out
    rest = _decoded_block(params, x, z[full:], module=module, label=label)
    return jnp.concatenate([out, rest])


def _decoded_block(params, x, z, *, module, label):
    num_samples = z.shape[0]
    rep_label = None if label is None else jnp.tile(label, num_samples)
    cond = {} if rep_label is None else {"label": rep_label}
    out = module.apply({"params": params}, z.reshape(-1, z.shape[-1]), method="decode", **cond)
    flat = {k: v.reshape(num_samples, x.shape[0], -1) for k, v in out.items()}
    nll = pixel_nll(module.config.likelihood, flat, x.reshape(1, x.shape[0], -1))
    return -jnp.sum(nll, axis=-1)


def log_weights_at(
    params,
    batch: dict[str, jax.Array],
    z: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    *,
    module: VAE,
) -> jax.Array:
    """``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` at given codes ``z [K, B, D]`` of the
    posterior ``N(mean, exp(logvar))``: ``[K, B]``. Estimators that route gradients their
    own way (DReG, PIWAE) call it with some inputs behind ``stop_gradient``.

    ``p(z)`` is the module's ``log_prior`` (a mixture for ``gmvae``), or N(0, I) for a
    module without one.
    """
    variables = {"params": params}
    log_px = decoded_log_px(params, batch["image"], z, module=module, label=_label(batch, module))
    if hasattr(module, "log_prior"):  # the module's own prior (a mixture for gmvae)
        log_pz = module.apply(variables, z, method="log_prior")
    else:  # a module of your own with encode/decode only: N(0, I)
        log_pz = standard_normal_log_prob(z)
    log_qz = jnp.sum(gaussian_log_prob(z, mean[None], logvar[None]), axis=-1)
    return log_px + log_pz - log_qz


def log_importance_weights(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: VAE, num_samples: int
) -> jax.Array:
    """``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` for ``k < num_samples``: ``[K, B]``.

    ``logsumexp`` over K minus ``log K`` is the importance-weighted bound (IWAE), the
    estimator of ``log p(x)`` that evaluation uses too.
    """
    z, mean, logvar = posterior_samples(params, batch, rng, module=module, num_samples=num_samples)
    return log_weights_at(params, batch, z, mean, logvar, module=module)


def iw_bound(log_w: jax.Array) -> jax.Array:
    """``logsumexp_k log_w - log K`` over axis 0: ``[K, B] -> [B]`` (a lower bound on log p)."""
    return jax.nn.logsumexp(log_w, axis=0) - math.log(log_w.shape[0])


def linear_warmup(step: jax.Array | None, steps: int) -> jax.Array:
    """``min(1, step / steps)``: a KL weight that grows linearly from 0 (Bowman et al. 2016,
    Sønderby et al. 2016); 1 without a step (evaluation) or with ``steps = 0``."""
    if step is None or steps == 0:
        return jnp.float32(1.0)
    return jnp.minimum(1.0, step.astype(jnp.float32) / steps)


def learned_prior_loss_fn(
    params,
    batch: dict[str, jax.Array],
    rng: jax.Array,
    *,
    module: VAE,
    kl_weight: jax.Array | float = 1.0,
) -> tuple[jax.Array, Metrics]:
    """Negative ELBO (nats per example) under the module's own ``log_prior`` (a learned prior
    with no closed-form KL: ``gmvae``, ``vamp``): NLL + ``log q(z|x) - log p(z)`` at the one
    reparameterized sample, the prior's mixture summed out exactly by its ``log_prior``.
    ``kl_weight`` < 1 (a warm-up) weighs the KL term of the loss; ``nll_bound`` stays the
    true negative ELBO."""
    out, nll, _ = elbo_outputs(params, batch, rng, module=module)  # its N(0, I) KL unused
    log_q = jnp.sum(gaussian_log_prob(out["z"], out["z_mean"], out["z_logvar"]), axis=-1)
    log_p = module.apply({"params": params}, out["z"], method="log_prior")
    nll, kl = jnp.mean(nll), jnp.mean(log_q - log_p)
    loss = nll + kl_weight * kl
    return loss, {"loss": loss, "nll": nll, "kl": kl, "nll_bound": nll + kl}


def loss_fn(
    params, batch: dict[str, jax.Array], rng: jax.Array, *, module: VAE
) -> tuple[jax.Array, Metrics]:
    """Negative ELBO, nats per example (one reparameterized sample, analytic KL)."""
    nll, kl = elbo_terms(params, batch, rng, module=module)
    loss = jnp.mean(nll + kl)
    return loss, {"loss": loss, "nll": jnp.mean(nll), "kl": jnp.mean(kl), "nll_bound": loss}


SPEC = ModelSpec(
    name="vae",
    description="variational autoencoder: Gaussian encoder, analytic KL, maximizes the ELBO",
    config_cls=VAEConfig,
    module_cls=VAE,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    density=log_importance_weights,
)
