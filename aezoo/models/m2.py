"""M2 (Kingma et al., 2014): a VAE whose class is a latent variable, for few labels.

``p(x, y, z) = p(x | y, z) p(y) p(z)`` with a uniform ``p(y)`` over the classes and
``p(z) = N(0, I)``; inference ``q(y | x)`` (a classifier) and ``q(z | x, y)``. Per example:
- labelled ``(x, y)``: ``L(x, y) = -log p(x | y, z) + KL(q(z | x, y) || p(z)) - log p(y)``
  plus ``alpha * -log q(y | x)`` (the classifier otherwise learns only from unlabelled data);
- unlabelled ``x`` (label -1): ``U(x) = sum_y q(y | x) L(x, y) - H(q(y | x))``, the class
  summed out exactly (one decoder pass per class).
``U(x)`` is an upper bound on ``-log p(x)``: evaluation reports it for every test image
(labels ignored) as ``loss``/``nll_bound`` beside the classifier's ``error``.

Train with hidden labels: ``aezoo train m2 --dataset mnist --labels 100`` keeps 10 labels a
class and repeats those images to 10% of each epoch (``--labelled-share``).
The encoder computes its first layer of ``x`` once and adds a per-class term, so the classes
share the costliest matmul of ``q(z | x, y)``.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.errors import ConfigError
from aezoo.losses import image_nll, kl_normal_std
from aezoo.models._few_labels import FewLabelsConfig, hide_labels
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


@dataclasses.dataclass(frozen=True)
class M2Config(FewLabelsConfig):
    """M2 settings: the classes and the weight of the labelled classification loss."""

    num_classes: int = option(10, "number of classes (labels 0..num_classes-1)", low=2)
    alpha: float = option(
        100.0,
        "weight of the classification loss -log q(y|x) of each labelled image (beside its "
        "-ELBO, about 100 nats per MNIST image)",
        low=0.0,
        sweep=True,
    )

    def validate(self) -> None:
        super().validate()
        if not self.hidden_dims:  # q(z|x,y) joins the label at the first hidden layer
            raise ConfigError("m2 needs at least one hidden layer; got hidden_dims ()")


class M2(nn.Module):
    """Classifier ``q(y|x)``, encoder ``q(z|x,y)`` and decoder ``p(x|y,z)``."""

    config: M2Config

    def setup(self) -> None:
        cfg = self.config
        first, *rest = cfg.hidden_dims
        first *= WIDENING.get(ACTIVATIONS[cfg.activation], 1)  # a gated layer: twice as wide
        self.classifier = make_encoder(cfg, cfg.num_classes)
        # q(z|x,y): Dense([x, onehot y]) = Dense(x) + Dense(onehot y), the x part once.
        net = (cfg.activation, cfg.compute_dtype)
        self.features = Encoder((), first, cfg.arch, cfg.conv_impl, *net)
        self.class_term = nn.Dense(first, use_bias=False)
        dtype = COMPUTE_DTYPES[cfg.compute_dtype]
        self.posterior = MLP((*rest, 2 * cfg.latent_dim), ACTIVATIONS[cfg.activation], dtype=dtype)
        self.decoder = make_decoder(cfg)

    def classify(self, x: jax.Array) -> jax.Array:
        """``[B, H, W, C]`` -> ``[B, num_classes]`` logits of ``q(y | x)``."""
        check_images(x, self.config.image_shape)
        return self.classifier(x)

    def _posterior(self, h: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        onehot = jax.nn.one_hot(y, self.config.num_classes, dtype=h.dtype)
        act = ACTIVATIONS[self.config.activation]
        out = self.posterior(act(h + self.class_term(onehot))).astype(jnp.float32)
        mean, logvar = jnp.split(out, 2, axis=-1)
        return mean, logvar

    def encode(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """``z_mean``, ``z_logvar`` of ``q(z | x, y)`` (``z`` = the mean) and ``y_logits``;
        ``y`` is the label where given (>= 0), else the classifier's guess."""
        logits = self.classify(x)
        guess = jnp.argmax(logits, axis=-1)
        y = guess if label is None else jnp.where(label >= 0, label, guess)
        mean, logvar = self._posterior(self.features(x), y)
        return {"z": mean, "z_mean": mean, "z_logvar": logvar, "y_logits": logits, "y": y}

    def decode(self, z: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """``[B, latent]`` codes and ``[B]`` classes -> decoder parameters."""
        if label is None:
            raise ConfigError("m2 decodes a class and a code: pass label=[B] ints")
        return self.decoder(z, jax.nn.one_hot(label, self.config.num_classes))

    def reconstruct(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """Decode the posterior mean with the given (else guessed) class."""
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
        return {**q, "z": z, **self.decode(z, label=q["y"])}

    def all_classes(self, x: jax.Array, rng: jax.Array) -> dict[str, jax.Array]:
        """Every image with every class: ``y_logits`` ``[B, K]``; ``z_mean``, ``z_logvar``
        (``[B * K, latent]``) and decoder parameters (``[B * K, H, W, C]``), row ``b * K + k``
        for image ``b`` and class ``k``; one reparameterized ``z`` each."""
        logits = self.classify(x)
        k = self.config.num_classes
        y = jnp.tile(jnp.arange(k), x.shape[0])
        mean, logvar = self._posterior(jnp.repeat(self.features(x), k, axis=0), y)
        z = reparameterize(rng, mean, logvar)
        return {"y_logits": logits, "z_mean": mean, "z_logvar": logvar, **self.decode(z, label=y)}

    def sample(
        self, n: int, rng: jax.Array, *, label: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        """Decode ``n`` prior draws, classes uniform unless given."""
        z_key, label_key = jax.random.split(rng)
        z = jax.random.normal(z_key, (n, self.config.latent_dim))
        if label is None:
            label = jax.random.randint(label_key, (n,), 0, self.config.num_classes)
        return self.decode(z, label=label)


def class_bounds(params, batch, rng, *, module: M2) -> tuple[jax.Array, jax.Array]:
    """``L(x, y)`` for every class ``[B, K]`` (nats, with ``-log p(y) = log K``) and
    ``log q(y | x)`` ``[B, K]``."""
    x = batch["image"]
    k = module.config.num_classes
    out = module.apply({"params": params}, x, rng, method="all_classes")
    nll = image_nll(module.config.likelihood, out, jnp.repeat(x, k, axis=0))
    kl = jnp.sum(kl_normal_std(out["z_mean"], out["z_logvar"]), axis=-1)
    bound = (nll + kl).reshape(x.shape[0], k) + math.log(k)
    return bound, jax.nn.log_softmax(out["y_logits"], axis=-1)


def bound_terms(bound: jax.Array, log_q: jax.Array, label: jax.Array) -> dict[str, jax.Array]:
    """From ``L(x, y)`` of every class and ``log q(y | x)`` (each ``[B, K]``) and the labels
    (-1: none): per example ``L`` at the label (0 where unlabelled), ``U``, ``-log q(y|x)``,
    whether labelled and whether the classifier's guess is wrong, each ``[B]``. Every model
    whose class is a latent variable summed out (m2, adgm, sdgm) shares it."""
    labelled = label >= 0
    y = jnp.where(labelled, label, 0)[:, None]
    unlabelled = jnp.sum(jnp.exp(log_q) * (bound + log_q), axis=-1)
    return {
        "labelled_bound": jnp.take_along_axis(bound, y, axis=-1)[:, 0],
        "unlabelled_bound": unlabelled,
        "ce": -jnp.take_along_axis(log_q, y, axis=-1)[:, 0],
        "labelled": labelled.astype(jnp.float32),
        "wrong": (jnp.argmax(log_q, axis=-1) != y[:, 0]).astype(jnp.float32),
    }


def _terms(params, batch, rng, module: M2) -> dict[str, jax.Array]:
    return bound_terms(*class_bounds(params, batch, rng, module=module), batch["label"])


def _labelled_mean(value: jax.Array, labelled: jax.Array) -> jax.Array:
    return jnp.sum(value * labelled) / jnp.maximum(jnp.sum(labelled), 1.0)


def semi_supervised_loss(t: dict[str, jax.Array], alpha: float) -> tuple[jax.Array, Metrics]:
    """The semi-supervised objective of :func:`bound_terms`' terms: ``L + alpha * CE`` on
    labelled rows, ``U`` on the others, averaged over the batch."""
    on_labelled = t["labelled_bound"] + alpha * t["ce"]
    loss = jnp.mean(jnp.where(t["labelled"] > 0, on_labelled, t["unlabelled_bound"]))
    return loss, {
        "loss": loss,
        "nll_bound": jnp.mean(t["unlabelled_bound"]),
        "ce": _labelled_mean(t["ce"], t["labelled"]),
        "error": _labelled_mean(t["wrong"], t["labelled"]),
        "labelled_share": jnp.mean(t["labelled"]),
    }


def semi_supervised_eval(t: dict[str, jax.Array]) -> tuple[jax.Array, Metrics]:
    """Evaluation: ``U(x)`` of every image (labels ignored; an upper bound on ``-log p(x)``),
    and on the labelled images the classifier's ``error`` and ``-log q(y|x)``."""
    bound = jnp.mean(t["unlabelled_bound"])
    return bound, {
        "loss": bound,
        "nll_bound": bound,
        "labelled_bound": _labelled_mean(t["labelled_bound"], t["labelled"]),
        "ce": _labelled_mean(t["ce"], t["labelled"]),
        "error": _labelled_mean(t["wrong"], t["labelled"]),
    }


def train_loss(params, batch, rng, *, module: M2) -> tuple[jax.Array, Metrics]:
    """The semi-supervised objective: ``L + alpha * CE`` on labelled rows, ``U`` on the
    others, averaged over the batch."""
    return semi_supervised_loss(_terms(params, batch, rng, module), module.config.alpha)


def loss_fn(params, batch, rng, *, module: M2) -> tuple[jax.Array, Metrics]:
    """Evaluation: ``U(x)`` of every image (labels ignored), the classifier's error on the
    labelled ones."""
    return semi_supervised_eval(_terms(params, batch, rng, module))


def phases(config: M2Config) -> tuple[Phase, ...]:
    return (Phase("main", train_loss),)


SPEC = ModelSpec(
    name="m2",
    description="M2 semi-supervised VAE: the class is a latent variable (train with --labels N)",
    config_cls=M2Config,
    module_cls=M2,
    loss_fn=loss_fn,
    generative=True,
    normal_prior=True,
    phases=phases,
    figures=figures,
    semi_supervised=True,
    conditional=True,
    num_classes=lambda config: config.num_classes,
    training_split=hide_labels,
)
