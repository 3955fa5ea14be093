"""A VAE with a normalizing-flow posterior: ``z_0 ~ N(mean, exp(logvar))`` from the encoder,
then ``flow_steps`` invertible steps, ``q(z_T|x) = N(z_0) / |det dz_T/dz_0|``, exact, so
both the ELBO (one sample, Monte Carlo KL) and the importance-sampled NLL use it.

- ``--flow iaf`` (Kingma et al., 2016): inverse autoregressive flow. Each step has a MADE
  (Germain et al., 2015) over ``z`` plus a context ``h`` from the encoder, giving ``m`` and
  ``s`` with output ``i`` a function of ``z_<i`` only, and the numerically stable update
  ``sigma = sigmoid(s + 1.5)``, ``z = sigma * z + (1 - sigma) * m``, ``log|det| = sum
  log sigma`` (triangular Jacobian). The dimensions are reversed between steps.
- ``--flow planar`` (Rezende & Mohamed, 2015): ``z + u' tanh(w.z + b)`` with ``(u, w, b)``
  per example from the encoder, ``u'`` the projection that keeps the step invertible
  (``w.u' >= -1``), ``log|det| = log(1 + (1 - tanh^2) w.u')``.

The prior is N(0, I); ``encode`` gives the flow applied to the posterior mean as ``z``.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aezoo.losses import gaussian_log_prob
from aezoo.models._spec import BaseConfig, Metrics, ModelSpec, option
from aezoo.models.vae import decoded_log_px, standard_normal_log_prob
from aezoo.nn import check_images, make_decoder, make_encoder

FLOWS = ("iaf", "planar")
GATE_BIAS = 1.5  # sigmoid(1.5) = 0.82: each IAF step starts close to the identity


@dataclasses.dataclass(frozen=True)
class FlowVAEConfig(BaseConfig):
    """Flow-posterior VAE settings."""

    flow: str = option("iaf", "posterior flow: iaf (MADE steps) or planar", choices=FLOWS)
    flow_steps: int = option(4, "number of flow steps", low=1)
    made_hidden: int = option(
        256, "iaf: width of each MADE's hidden layer and of the encoder's context", low=1
    )


def made_masks(dim: int, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """MADE masks ``[dim, hidden]`` and ``[hidden, dim]``: input ``i`` (degree ``i + 1``)
    reaches hidden unit ``k`` iff ``deg(k) >= i + 1``; unit ``k`` reaches output ``j`` iff
    ``j + 1 > deg(k)``; so output ``j`` sees inputs ``< j`` only."""
    degrees_in = np.arange(1, dim + 1)
    degrees_hidden = np.arange(hidden) % max(dim - 1, 1) + 1
    first = degrees_hidden[None, :] >= degrees_in[:, None]
    second = degrees_in[None, :] > degrees_hidden[:, None]
    return first.astype(np.float32), second.astype(np.float32)


class MaskedDense(nn.Module):
    """A dense layer whose kernel is multiplied by a fixed 0/1 mask."""

    features: int
    mask_fn: tuple[int, int, int]  # (dim, hidden, which mask) - hashable, rebuilt at trace

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dim, hidden, which = self.mask_fn
        mask = jnp.asarray(made_masks(dim, hidden)[which])
        kernel = self.param("kernel", nn.initializers.lecun_normal(), mask.shape)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return x @ (kernel * mask) + bias[None]


class IAFStep(nn.Module):
    """One inverse autoregressive step: MADE(z, h) -> (m, s)."""

    dim: int
    hidden: int

    @nn.compact
    def __call__(self, z: jax.Array, context: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = MaskedDense(self.hidden, (self.dim, self.hidden, 0), name="made_in")(z)
        h = nn.elu(h + nn.Dense(self.hidden, name="context")(context))
        outs = []
        for name in ("m", "s"):
            masked = MaskedDense(self.dim, (self.dim, self.hidden, 1), name=f"made_{name}")(h)
            outs.append(masked + nn.Dense(self.dim, name=f"context_{name}")(context))
        m, s = outs
        sigma = nn.sigmoid(s + GATE_BIAS)
        return sigma * z + (1.0 - sigma) * m, jnp.sum(jnp.log(sigma), axis=-1)


def planar_step(z: jax.Array, params: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One planar step with per-example ``params = [u, w, b]`` (``[B, 2D + 1]``)."""
    dim = z.shape[-1]
    u, w, b = params[:, :dim], params[:, dim : 2 * dim], params[:, 2 * dim]
    wu = jnp.sum(w * u, axis=-1, keepdims=True)
    w_sq = jnp.sum(jnp.square(w), axis=-1, keepdims=True) + 1e-8
    u_hat = u + (nn.softplus(wu) - 1.0 - wu) * w / w_sq  # w . u_hat = softplus(wu) - 1 > -1
    t = jnp.tanh(jnp.sum(w * z, axis=-1) + b)
    det = 1.0 + (1.0 - jnp.square(t)) * jnp.sum(w * u_hat, axis=-1)
    return z + u_hat * t[:, None], jnp.log(jnp.maximum(det, 1e-12))


class FlowVAE(nn.Module):
    """Encoder -> (mean, logvar, flow context) -> flow -> decoder."""

    config: FlowVAEConfig

    def setup(self) -> None:
        cfg = self.config
        d = cfg.latent_dim
        extra = cfg.made_hidden if cfg.flow == "iaf" else cfg.flow_steps * (2 * d + 1)
        self.encoder = make_encoder(cfg, 2 * d + extra)
        self.decoder = make_decoder(cfg)
        if cfg.flow == "iaf":
            self.steps = [IAFStep(d, cfg.made_hidden) for _ in range(cfg.flow_steps)]

    def __call__(self, x: jax.Array, *, rng: jax.Array | None = None, **_) -> dict[str, jax.Array]:
        q = self.encode(x)
        z0 = q["z0_mean"]
        if rng is not None:
            z0 = z0 + jnp.exp(0.5 * q["z0_logvar"]) * jax.random.normal(rng, z0.shape)
        z, log_det = self.flow(z0, q["context"])
        return {**q, "z0": z0, "z": z, "log_det": log_det, **self.decode(z)}

    def encode(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        """``z0_mean``, ``z0_logvar`` (the Gaussian of ``z_0``), ``context`` and the code
        ``z``: the flow applied to ``z0_mean`` (not the mean of q(z_T|x), which has no closed
        form; hence no ``z_mean`` key)."""
        check_images(x, self.config.image_shape)
        d = self.config.latent_dim
        h = self.encoder(x)
        mean, logvar, context = h[:, :d], h[:, d : 2 * d], h[:, 2 * d :]
        z, _ = self.flow(mean, context)
        return {"z": z, "z0_mean": mean, "z0_logvar": logvar, "context": context}

    def flow(self, z: jax.Array, context: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``z_0 [B, D]`` -> ``(z_T, log|det dz_T/dz_0| [B])``."""
        total = jnp.zeros(z.shape[0], z.dtype)
        for t in range(self.config.flow_steps):
            if self.config.flow == "iaf":
                z, log_det = self.steps[t](z, context)
                z = z[:, ::-1]  # reverse the order (a permutation: |det| = 1)
            else:
                width = 2 * z.shape[-1] + 1
                z, log_det = planar_step(z, context[:, t * width : (t + 1) * width])
            total = total + log_det
        return z, total

    def decode(self, z: jax.Array, **_) -> dict[str, jax.Array]:
        return self.decoder(z)

    def log_prior(self, z: jax.Array) -> jax.Array:
        return standard_normal_log_prob(z)

    def reconstruct(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z"])

    def sample(self, n: int, rng: jax.Array, **_) -> dict[str, jax.Array]:
        """Decode ``n`` draws from the prior N(0, I)."""
        return self.decode(jax.random.normal(rng, (n, self.config.latent_dim)))


def log_terms(
    params, batch, rng, *, module: FlowVAE, num_samples: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(log p(x|z_T), log p(z_T), log q(z_T|x))``, each ``[K, B]``, at K posterior draws."""
    variables = {"params": params}
    x = batch["image"]
    q = module.apply(variables, x, method="encode")
    mean, logvar = q["z0_mean"], q["z0_logvar"]
    eps = jax.random.normal(rng, (num_samples, *mean.shape), mean.dtype)
    z0 = mean[None] + jnp.exp(0.5 * logvar)[None] * eps  # [K, B, D]
    context = jnp.broadcast_to(q["context"][None], (num_samples, *q["context"].shape))
    flat = z0.reshape(-1, z0.shape[-1])
    z, log_det = module.apply(variables, flat, context.reshape(flat.shape[0], -1), method="flow")
    z = z.reshape(z0.shape)
    log_q0 = jnp.sum(gaussian_log_prob(z0, mean[None], logvar[None]), axis=-1)
    log_q = log_q0 - log_det.reshape(z0.shape[:2])
    return decoded_log_px(params, x, z, module=module), standard_normal_log_prob(z), log_q


def log_importance_weights(params, batch, rng, *, module: FlowVAE, num_samples: int):
    """``log p(x|z) + log p(z) - log q(z|x)`` with the flow's exact density: ``[K, B]``."""
    log_px, log_pz, log_q = log_terms(params, batch, rng, module=module, num_samples=num_samples)
    return log_px + log_pz - log_q


def loss_fn(params, batch, rng, *, module: FlowVAE) -> tuple[jax.Array, Metrics]:
    """Negative ELBO at one posterior draw (the KL by Monte Carlo), nats per example."""
    log_px, log_pz, log_q = log_terms(params, batch, rng, module=module, num_samples=1)
    nll, kl = -jnp.mean(log_px), jnp.mean(log_q - log_pz)
    loss = nll + kl
    return loss, {"loss": loss, "nll": nll, "kl": kl, "nll_bound": loss}


SPEC = ModelSpec(
    name="iaf",
    description="VAE with a flow posterior: inverse autoregressive (MADE) or planar steps",
    config_cls=FlowVAEConfig,
    module_cls=FlowVAE,
    loss_fn=loss_fn,
    generative=True,
    density=log_importance_weights,
)
