"""VAE with a Gaussian-mixture prior, for clustering (in the spirit of VaDE, Jiang et al. 2017).

``p(z) = (1/K) sum_c N(z; mu_c, diag exp(logvar_c))`` with the K components' means and
log-variances learned with the encoder and decoder (uniform weights: a component cannot
win by its weight alone). The loss is the negative ELBO with the KL estimated on the
reparameterized sample and the component summed out exactly (log-sum-exp):
``-ELBO = -log p(x|z) + log q(z|x) - log p(z)``. The cluster of an image is the component
that explains its posterior mean best, ``argmax_c p(c | z)`` (:meth:`GMVAE.classify`); the
``clustering`` task scores it beside k-means and a Gaussian mixture fitted to the codes.

VaDE's recipe (``aezoo reproduce vade_mnist``): pretrain an ``ae`` with the same nets, then
``aezoo train gmvae --init-from AE_RUN``: the encoder's hidden layers and the decoder are the
ae's, the posterior mean head is the ae's code layer, and the prior's components are a
diagonal Gaussian mixture fitted to the ae's codes of the training images
(:func:`warm_start`; the mixture's weights stay uniform).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np

from aezoo.errors import ConfigError
from aezoo.losses import gaussian_log_prob
from aezoo.models._spec import ModelSpec, option
from aezoo.models.vae import VAE, VAEConfig, learned_prior_loss_fn, log_importance_weights
from aezoo.nn import reparameterize


@dataclasses.dataclass(frozen=True)
class GMVAEConfig(VAEConfig):
    """Mixture-prior VAE settings: the number of mixture components (clusters)."""

    components: int = option(10, "Gaussian components of the prior (the clusters)", low=2)


class GMVAE(VAE):
    """The VAE's encoder and decoder with a learned mixture of Gaussians as the prior."""

    config: GMVAEConfig

    def setup(self) -> None:
        super().setup()
        shape = (self.config.components, self.config.latent_dim)
        self.prior_mean = self.param("prior_mean", jax.nn.initializers.normal(1.0), shape)
        self.prior_logvar = self.param("prior_logvar", jax.nn.initializers.zeros, shape)

    def component_log_probs(self, z: jax.Array) -> jax.Array:
        """``[B, D]`` -> ``[B, K]``: ``log p(c) + log N(z; mu_c, var_c)`` per component."""
        log_n = gaussian_log_prob(z[:, None, :], self.prior_mean[None], self.prior_logvar[None])
        return jnp.sum(log_n, axis=-1) - math.log(self.config.components)

    def log_prior(self, z: jax.Array) -> jax.Array:
        """``log p(z)`` of ``[..., D]`` codes under the mixture: ``[...]``."""
        flat = z.reshape(-1, z.shape[-1])
        return jax.nn.logsumexp(self.component_log_probs(flat), axis=-1).reshape(z.shape[:-1])

    def classify(self, x: jax.Array) -> jax.Array:
        """``[B, H, W, C]`` -> ``[B, K]`` logits of ``p(c | z)`` at the posterior mean."""
        return self.component_log_probs(self.encode(x)["z_mean"])

    def sample(self, n: int, rng: jax.Array, *, label: jax.Array | None = None) -> dict:
        """Decode ``n`` draws from the mixture prior (a uniform component, then its Gaussian)."""
        c_key, z_key = jax.random.split(rng)
        c = jax.random.randint(c_key, (n,), 0, self.config.components)
        return self.decode(reparameterize(z_key, self.prior_mean[c], self.prior_logvar[c]))


POSTERIOR_SHRINK = 0.1  # q(z|x)'s starting variance, as a share of a component's


def warm_start(config: GMVAEConfig, params: Any, source: Any, images: np.ndarray, seed: int):
    """VaDE's start from a pretrained autoencoder ``source`` (a loaded ``ae`` run, or a
    ``vae``/``gmvae``): its encoder and decoder, and a diagonal Gaussian mixture (EM,
    scikit-learn, k-means start) fitted to its codes of ``images`` as the prior. The
    posterior log-variance head starts constant at a tenth of the components' mean
    variance (an ae has none)."""
    from sklearn.mixture import GaussianMixture

    codes = _codes(source, images)
    gmm = GaussianMixture(
        config.components, covariance_type="diag", reg_covar=1e-6, random_state=seed
    ).fit(codes)
    logvar = np.log(gmm.covariances_)
    out = flax.core.unfreeze(params)
    out["decoder"] = _same_shapes(params["decoder"], source.params["decoder"], "decoder")
    head = np.log(POSTERIOR_SHRINK) + logvar.mean(0)
    out["encoder"]["encoder"] = _encoder(params["encoder"]["encoder"], source.params, head)
    out["prior_mean"] = jnp.asarray(gmm.means_, jnp.float32)
    out["prior_logvar"] = jnp.asarray(logvar, jnp.float32)
    return out


def _codes(source: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    parts = []
    for i in range(0, len(images), batch_size):
        parts.append(np.asarray(source.encode(images[i : i + batch_size])["z"], np.float64))
    return np.concatenate(parts)


def _flat(tree: Any) -> dict[tuple[str, ...], Any]:
    return flax.traverse_util.flatten_dict(flax.core.unfreeze(tree))


def _same_shapes(target: Any, source: Any, what: str) -> Any:
    """``source`` where its layers and shapes are ``target``'s, else a one-line error."""
    shapes = {k: np.shape(v) for k, v in _flat(target).items()}
    if {k: np.shape(v) for k, v in _flat(source).items()} != shapes:
        raise ConfigError(f"--init-from: the run's {what} differs from this model's (its nets)")
    return jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), flax.core.unfreeze(source))


def _encoder(target: Any, source: Any, logvar_bias: np.ndarray) -> Any:
    """The source's encoder net (an ae's ``encoder``; a vae's ``encoder/encoder``), its
    code layer the mean half of the last layer, whose log-variance half is constant."""
    net = source["encoder"]
    if "encoder" in net:  # a vae or gmvae: the same net, mean and log-variance heads
        return _same_shapes(target, net["encoder"], "encoder")
    given, out = _flat(net), {}
    for key, value in _flat(target).items():
        part = given.get(key)
        if part is not None and 2 * part.shape[-1] == value.shape[-1]:  # the code layer
            extra = np.zeros_like(part) if key[-1] == "kernel" else logvar_bias
            part = np.concatenate([part, np.broadcast_to(extra, part.shape)], -1)
        if part is None or np.shape(part) != np.shape(value):
            where = "/".join(key)
            raise ConfigError(
                f"--init-from: the run's encoder differs from this model's at {where}"
            )
        out[key] = jnp.asarray(part, jnp.float32)
    return flax.traverse_util.unflatten_dict(out)


SPEC = ModelSpec(
    name="gmvae",
    description="VAE with a learned Gaussian-mixture prior; its components are the clusters",
    config_cls=GMVAEConfig,
    module_cls=GMVAE,
    loss_fn=learned_prior_loss_fn,
    generative=True,
    density=log_importance_weights,
    clusters=True,
    num_classes=lambda config: config.components,
    warm_start=warm_start,
)
