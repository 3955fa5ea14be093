"""ADGM, the auxiliary deep generative model (Maaløe et al., 2016), for few labels.

M2 (:mod:`aezoo.models.m2`) with an auxiliary variable ``a`` that makes the inference model
more expressive while leaving the generative model of ``x`` as it is:
- inference ``q(a | x) q(y | a, x) q(z | a, x, y)``: the classifier and the posterior of
  ``z`` both see a draw of ``a``, so ``q(y, z | x) = E_q(a|x)[q(y | a, x) q(z | a, x, y)]``
  is a continuous mixture, no longer a single Gaussian per class;
- generative ``p(y) p(z) p(x | y, z) p(a | x, y, z)``: ``p(y)`` uniform over the classes,
  ``p(z) = N(0, I)``; ``p(a | x, y, z)`` (a diagonal Gaussian) only makes the bound valid:
  the marginal of ``x`` is M2's.
Per example, with one draw ``a ~ q(a | x)``, ``z ~ q(z | a, x, y)``:
- labelled ``(x, y)``: ``L(x, y) = -log p(x | y, z) + KL(q(z | a, x, y) || p(z)) - log p(y)
  + log q(a | x) - log p(a | x, y, z)`` plus ``alpha * -log q(y | a, x)``;
- unlabelled ``x``: ``U(x) = sum_y q(y | a, x) L(x, y) - H(q(y | a, x))``, the class summed
  out exactly (one pass per class); both upper bounds on ``-log p(x, y)`` / ``-log p(x)``.
The objective, the metrics and the label handling are M2's (:func:`m2.bound_terms`).
``classify`` averages ``q(y | a, x)`` over ``classify_samples`` draws of ``a`` (the paper
scores with 100). ``sdgm`` (:mod:`aezoo.models.sdgm`) moves ``a`` into the generative model.

Train with hidden labels: ``aezoo train adgm --dataset mnist --labels 100``. The paper's MNIST
setting: ``--hidden-dims 500,500 --latent-dim 100 --aux-dim 100 --labelled-share 0.5 --alpha 60
--lr 3e-4 --batch-size 200`` (100 labelled and 100 unlabelled images a step on average; the
classifier term weighted 0.1 x 60,000 / 100), 1,000 epochs.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.errors import ConfigError
from aezoo.losses import gaussian_log_prob, image_nll, kl_normal_std
from aezoo.models import m2
from aezoo.models._few_labels import hide_labels
from aezoo.models._spec import Metrics, ModelSpec, Phase, option
from aezoo.models.cvae import figures
from aezoo.nn import (
    ACTIVATIONS,
    COMPUTE_DTYPES,
    MLP,
    WIDENING,
    Encoder,
    check_images,
    make_decoder,
    make_encoder,
    reparameterize,
)

CLASSIFY_SEED = 0  # the fixed draws of a behind classify (the same answer every call)


@dataclasses.dataclass(frozen=True)
class ADGMConfig(m2.M2Config):
    """ADGM settings: M2's (classes, ``alpha``, ``--labels``) and the auxiliary variable."""

    aux_dim: int = option(100, "size of the auxiliary variable a", low=1)
    classify_samples: int = option(
        100, "draws of a ~ q(a|x) averaged by classify: q(y|x) = E[q(y|a,x)]", low=1
    )


class ADGM(nn.Module):
    """``q(a|x)``, ``q(y|a,x)``, ``q(z|a,x,y)``; ``p(x|y,z)`` and ``p(a|x,y,z)``. The image
    enters each of the four nets that read it through its own first layer, computed once per
    image and shared by the classes."""

    config: ADGMConfig
    decoder_sees_a = False  # sdgm: p(x | a, y, z)
    aux_prior_sees_x = True  # sdgm: p(a | y, z)

    def setup(self) -> None:
        cfg = self.config
        first, *rest = cfg.hidden_dims
        first *= WIDENING.get(ACTIVATIONS[cfg.activation], 1)  # a gated layer: twice as wide
        net = (cfg.arch, cfg.conv_impl, cfg.activation, cfg.compute_dtype)
        act, dtype = ACTIVATIONS[cfg.activation], COMPUTE_DTYPES[cfg.compute_dtype]
        self.aux_posterior = make_encoder(cfg, cfg.aux_dim, gaussian=True)
        self.y_image, self.y_aux = Encoder((), first, *net), nn.Dense(first, use_bias=False)
        self.y_head = MLP((*rest, cfg.num_classes), act, dtype=dtype)
        self.z_image, self.z_aux = Encoder((), first, *net), nn.Dense(first, use_bias=False)
        self.z_class = nn.Dense(first, use_bias=False)
        self.z_head = MLP((*rest, 2 * cfg.latent_dim), act, dtype=dtype)
        if self.aux_prior_sees_x:
            self.a_image = Encoder((), first, *net)
        self.a_given = nn.Dense(first, use_bias=not self.aux_prior_sees_x)
        self.a_head = MLP((*rest, 2 * cfg.aux_dim), act, dtype=dtype)
        self.decoder = make_decoder(cfg)

    def _act(self, h: jax.Array) -> jax.Array:
        return ACTIVATIONS[self.config.activation](h)

    def _gaussian(self, head: nn.Module, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean, logvar = jnp.split(head(self._act(h)).astype(jnp.float32), 2, axis=-1)
        return mean, logvar

    def _y_logits(self, hx: jax.Array, a: jax.Array) -> jax.Array:
        """``q(y | a, x)`` logits from the image's first layer ``hx`` and a draw ``a``."""
        return self.y_head(self._act(hx + self.y_aux(a))).astype(jnp.float32)

    def _z_posterior(self, hx: jax.Array, a: jax.Array, y: jax.Array):
        onehot = jax.nn.one_hot(y, self.config.num_classes, dtype=hx.dtype)
        return self._gaussian(self.z_head, hx + self.z_aux(a) + self.z_class(onehot))

    def aux_prior(self, y: jax.Array, z: jax.Array, x: jax.Array | None = None):
        """``p(a | x, y, z)`` (mean, logvar) for ``[B * R]`` classes and codes and ``[B]``
        images (row ``b * R + r`` belongs to image ``b``); sdgm's ``p(a | y, z)`` reads no
        image."""
        given = jnp.concatenate([jax.nn.one_hot(y, self.config.num_classes), z], axis=-1)
        h = self.a_given(given)
        if self.aux_prior_sees_x:
            h = h + jnp.repeat(self.a_image(x), z.shape[0] // x.shape[0], axis=0)
        return self._gaussian(self.a_head, h)

    def classify(self, x: jax.Array) -> jax.Array:
        """``[B, H, W, C]`` -> ``[B, num_classes]`` log-probabilities of ``q(y | x)``: the
        mean of ``q(y | a, x)`` over ``classify_samples`` fixed draws of ``a``."""
        check_images(x, self.config.image_shape)
        mean, logvar = self.aux_posterior(x)
        n = self.config.classify_samples
        eps = jax.random.normal(jax.random.key(CLASSIFY_SEED), (n, *mean.shape))
        a = mean[None] + jnp.exp(0.5 * logvar)[None] * eps  # [S, B, A]
        log_p = jax.nn.log_softmax(self._y_logits(self.y_image(x)[None], a), axis=-1)
        return jax.nn.logsumexp(log_p, axis=0) - math.log(n)

    def encode(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """``z_mean``, ``z_logvar`` of ``q(z | a, x, y)`` at the mean of ``q(a | x)``
        (``z`` = the mean), ``a``, ``y_logits`` (:meth:`classify`) and ``y``: the label where
        given (>= 0), else the classifier's guess."""
        logits = self.classify(x)
        guess = jnp.argmax(logits, axis=-1)
        y = guess if label is None else jnp.where(label >= 0, label, guess)
        a, _ = self.aux_posterior(x)
        mean, logvar = self._z_posterior(self.z_image(x), a, y)
        return {"z": mean, "z_mean": mean, "z_logvar": logvar, "a": a, "y_logits": logits, "y": y}

    def decode(
        self, z: jax.Array, *, label: jax.Array | None = None, a: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        """``[B, latent]`` codes and ``[B]`` classes -> decoder parameters (sdgm: and ``a``,
        by default the mean of ``p(a | y, z)``)."""
        if label is None:
            name = type(self).__name__.lower()
            raise ConfigError(f"{name} decodes a class and a code: pass label=[B] ints")
        onehot = jax.nn.one_hot(label, self.config.num_classes)
        if not self.decoder_sees_a:
            return self.decoder(z, onehot)
        if a is None:
            a, _ = self.aux_prior(label, z)
        return self.decoder(z, jnp.concatenate([onehot, a], axis=-1))

    def reconstruct(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """Decode the code (the posterior mean of ``z``) with the given (else guessed) class,
        as :meth:`decode` does what :meth:`encode` gives (sdgm: ``a`` at the mean of
        ``p(a | y, z)``)."""
        q = self.encode(x, label=label)
        return self.decode(q["z_mean"], label=q["y"])

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
        pa_mean, _ = self.aux_prior(q["y"], z, x)  # every net runs (initialization)
        return {**q, "z": z, "pa_mean": pa_mean, **self.decode(z, label=q["y"], a=q["a"])}

    def all_classes(self, x: jax.Array, rng: jax.Array) -> dict[str, jax.Array]:
        """One draw ``a ~ q(a|x)`` per image, then every class: ``y_logits`` ``[B, K]``
        (``q(y | a, x)``), ``a``, ``a_mean``, ``a_logvar`` ``[B, A]``; ``z`` and its
        posterior, ``p(a | ...)``'s ``pa_mean``, ``pa_logvar`` and the decoder parameters,
        row ``b * K + k`` for image ``b`` and class ``k``."""
        a_key, z_key = jax.random.split(rng)
        a_mean, a_logvar = self.aux_posterior(x)
        a = reparameterize(a_key, a_mean, a_logvar)
        k = self.config.num_classes
        y = jnp.tile(jnp.arange(k), x.shape[0])
        a_rep = jnp.repeat(a, k, axis=0)
        z_mean, z_logvar = self._z_posterior(jnp.repeat(self.z_image(x), k, axis=0), a_rep, y)
        z = reparameterize(z_key, z_mean, z_logvar)
        pa_mean, pa_logvar = self.aux_prior(y, z, x)
        return {
            "y_logits": self._y_logits(self.y_image(x), a),
            **{"a": a, "a_mean": a_mean, "a_logvar": a_logvar},
            **{"z": z, "z_mean": z_mean, "z_logvar": z_logvar},
            **{"pa_mean": pa_mean, "pa_logvar": pa_logvar},
            **self.decode(z, label=y, a=a_rep),
        }

    def sample(
        self, n: int, rng: jax.Array, *, label: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        """Decode ``n`` prior draws, classes uniform unless given (sdgm: ``a`` drawn from
        ``p(a | y, z)``)."""
        z_key, label_key, a_key = jax.random.split(rng, 3)
        z = jax.random.normal(z_key, (n, self.config.latent_dim))
        if label is None:
            label = jax.random.randint(label_key, (n,), 0, self.config.num_classes)
        a = None
        if self.decoder_sees_a:
            a = reparameterize(a_key, *self.aux_prior(label, z))
        return self.decode(z, label=label, a=a)


def class_bounds(params, batch, rng, *, module: ADGM) -> tuple[jax.Array, jax.Array]:
    """``L(x, y)`` for every class ``[B, K]`` (nats, one draw of ``a`` and of ``z``, with
    ``-log p(y) = log K``) and ``log q(y | a, x)`` ``[B, K]`` at that draw of ``a``."""
    x = batch["image"]
    k = module.config.num_classes
    out = module.apply({"params": params}, x, rng, method="all_classes")
    nll = image_nll(module.config.likelihood, out, jnp.repeat(x, k, axis=0))
    kl_z = jnp.sum(kl_normal_std(out["z_mean"], out["z_logvar"]), axis=-1)
    a = jnp.repeat(out["a"], k, axis=0)
    log_pa = jnp.sum(gaussian_log_prob(a, out["pa_mean"], out["pa_logvar"]), axis=-1)
    log_qa = jnp.sum(gaussian_log_prob(out["a"], out["a_mean"], out["a_logvar"]), axis=-1)
    bound = (nll + kl_z - log_pa).reshape(x.shape[0], k) + log_qa[:, None] + math.log(k)
    return bound, jax.nn.log_softmax(out["y_logits"], axis=-1)


def _terms(params, batch, rng, module: ADGM) -> dict[str, jax.Array]:
    return m2.bound_terms(*class_bounds(params, batch, rng, module=module), batch["label"])


def train_loss(params, batch, rng, *, module: ADGM) -> tuple[jax.Array, Metrics]:
    """M2's objective with these bounds: ``L + alpha * CE`` on labelled rows, ``U`` on the
    others, averaged over the batch."""
    return m2.semi_supervised_loss(_terms(params, batch, rng, module), module.config.alpha)


def loss_fn(params, batch, rng, *, module: ADGM) -> tuple[jax.Array, Metrics]:
    """Evaluation: ``U(x)`` of every image (labels ignored), the classifier's error (at one
    draw of ``a``) on the labelled ones."""
    return m2.semi_supervised_eval(_terms(params, batch, rng, module))


def phases(config: ADGMConfig) -> tuple[Phase, ...]:
    return (Phase("main", train_loss),)


def spec(name: str, description: str, module_cls: type[ADGM]) -> ModelSpec:
    """The registry entry of an auxiliary-variable model (adgm, sdgm)."""
    return ModelSpec(
        name=name,
        description=description,
        config_cls=ADGMConfig,
        module_cls=module_cls,
        loss_fn=loss_fn,
        generative=True,
        phases=phases,
        figures=figures,
        semi_supervised=True,
        conditional=True,
        num_classes=lambda config: config.num_classes,
        training_split=hide_labels,
    )


SPEC = spec(
    "adgm",
    "Auxiliary deep generative model: M2 with an auxiliary variable in the inference model "
    "(train with --labels N)",
    ADGM,
)
