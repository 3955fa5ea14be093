"""Adversarial autoencoder with a categorical and a style code (Makhzani et al., 2016, sec. 5-6).

The encoder gives a class ``y`` (softmax over ``num_classes``) and a style ``z``; the decoder
reconstructs from both. Two discriminators match ``y`` to one-hot draws of a uniform
categorical and ``z`` to N(0, I), so ``y`` must name a category and ``z`` cannot carry it.
Phases (each with its own Optax state, run by the one shared train step):
  1. ``recon`` (encoder + decoder): reconstruction NLL;
  2. ``disc`` (both discriminators): prior draws are real, codes are fake;
  3. ``gen`` (encoder): make both codes look like prior draws;
  4. ``supervised`` (encoder): cross-entropy of ``y`` on the labelled rows of the batch
     (none: a zero gradient; only the phase's Adam momentum from earlier batches moves it).
Semi-supervised: ``aezoo train cat_aae --labels 100``; unsupervised: ``--labels 0
--num-classes 16`` (every label hidden). The code
``z`` the helpers return is ``[y probabilities, style]``; the evaluation loss is the
reconstruction NLL, with the classifier's ``error`` on labelled test rows.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from aezoo.losses import bernoulli_nll, image_nll
from aezoo.models._few_labels import FewLabelsConfig, hide_labels
from aezoo.models._spec import Metrics, ModelSpec, Phase, option
from aezoo.models.ae import AEConfig
from aezoo.nn import MLP, check_images, make_decoder, make_encoder


@dataclasses.dataclass(frozen=True)
class CatAAEConfig(FewLabelsConfig, AEConfig):
    """Categories, style size (``latent_dim``) and discriminators."""

    num_classes: int = option(10, "categories of the class code (clusters without labels)", low=2)
    disc_hidden_dims: tuple[int, ...] = option((256, 256), "discriminators' hidden widths")
    supervised_weight: float = option(
        1.0, "weight of the labelled rows' cross-entropy (phase 4)", low=0.0, sweep=True
    )


class CatAAE(nn.Module):
    """Encoder (class logits + style), decoder, and a discriminator for each code."""

    config: CatAAEConfig

    def setup(self) -> None:
        cfg = self.config
        self.encoder = make_encoder(cfg, cfg.num_classes + cfg.latent_dim)
        self.decoder = make_decoder(cfg)
        self.disc_class = MLP((*cfg.disc_hidden_dims, 1))
        self.disc_style = MLP((*cfg.disc_hidden_dims, 1))

    def classify(self, x: jax.Array) -> jax.Array:
        """``[B, num_classes]`` class logits."""
        return self.encode(x)["y_logits"]

    def encode(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """``y_logits``, ``y_probs``, ``style`` and the code ``z = [y_probs, style]``."""
        check_images(x, self.config.image_shape)
        logits, style = jnp.split(self.encoder(x), [self.config.num_classes], axis=-1)
        probs = jax.nn.softmax(logits, axis=-1)
        return {
            "z": jnp.concatenate([probs, style], axis=-1),
            "y_logits": logits,
            "y_probs": probs,
            "style": style,
        }

    def decode(self, z: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        """``[B, num_classes + latent]`` codes -> decoder parameters; a given ``label``
        replaces the class part by its one-hot."""
        k = self.config.num_classes
        probs, style = z[:, :k], z[:, k:]
        if label is not None:
            probs = jax.nn.one_hot(label, k, dtype=z.dtype)
        return self.decoder(style, probs)

    def reconstruct(self, x: jax.Array, *, label: jax.Array | None = None) -> dict[str, jax.Array]:
        return self.decode(self.encode(x)["z"], label=label)

    def __call__(
        self,
        x: jax.Array,
        *,
        rng: jax.Array | None = None,
        train: bool = True,
        label: jax.Array | None = None,
    ) -> dict[str, jax.Array]:
        q = self.encode(x)
        return {**q, **self.decode(q["z"]), **self.discriminate(q["y_probs"], q["style"])}

    def discriminate(self, probs: jax.Array, style: jax.Array) -> dict[str, jax.Array]:
        """Logits ``[B]`` that each code was drawn from its prior."""
        return {
            "d_class": self.disc_class(probs)[:, 0],
            "d_style": self.disc_style(style)[:, 0],
        }

    def sample(
        self, n: int, rng: jax.Array, *, label: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        """Decode prior draws: a uniform class (unless given) and a N(0, I) style."""
        probs, style = prior_draws(self.config, rng, n)
        return self.decode(jnp.concatenate([probs, style], axis=-1), label=label)


def prior_draws(config: CatAAEConfig, rng: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """``n`` one-hot uniform classes ``[n, K]`` and N(0, I) styles ``[n, latent]``."""
    class_key, style_key = jax.random.split(rng)
    cls = jax.random.randint(class_key, (n,), 0, config.num_classes)
    return (
        jax.nn.one_hot(cls, config.num_classes),
        jax.random.normal(style_key, (n, config.latent_dim)),
    )


def recon_loss(params, batch, rng, *, module: CatAAE) -> tuple[jax.Array, Metrics]:
    """Phase 1 (encoder + decoder): reconstruction NLL from both codes."""
    x = batch["image"]
    out = module.apply({"params": params}, x, method="reconstruct")
    nll = jnp.mean(image_nll(module.config.likelihood, out, x))
    return nll, {"loss": nll, "nll": nll}


def _codes(params, batch, module: CatAAE) -> dict[str, jax.Array]:
    return module.apply({"params": params}, batch["image"], method="encode")


def disc_loss(params, batch, rng, *, module: CatAAE) -> tuple[jax.Array, Metrics]:
    """Phase 2 (discriminators): prior draws are real, the encoder's codes fake."""
    q = jax.lax.stop_gradient(_codes(params, batch, module))
    probs, style = prior_draws(module.config, rng, batch["image"].shape[0])
    variables = {"params": params}
    real = module.apply(variables, probs, style, method="discriminate")
    fake = module.apply(variables, q["y_probs"], q["style"], method="discriminate")
    losses = {
        f"disc_{k[2:]}_loss": jnp.mean(bernoulli_nll(real[k], 1.0))
        + jnp.mean(bernoulli_nll(fake[k], 0.0))
        for k in real
    }
    loss = sum(losses.values())
    return loss, {"disc_loss": loss, **losses}


def gen_loss(params, batch, rng, *, module: CatAAE) -> tuple[jax.Array, Metrics]:
    """Phase 3 (encoder): make the discriminators call both codes real."""
    q = _codes(params, batch, module)
    fake = module.apply({"params": params}, q["y_probs"], q["style"], method="discriminate")
    loss = sum(jnp.mean(bernoulli_nll(v, 1.0)) for v in fake.values())
    return loss, {"gen_loss": loss}


def _supervised_terms(params, batch, module: CatAAE) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Mean cross-entropy and error over the labelled rows (0 when none) and their share."""
    logits = _codes(params, batch, module)["y_logits"]
    label = batch["label"]
    labelled = (label >= 0).astype(logits.dtype)
    y = jnp.where(label >= 0, label, 0)
    ce = -jnp.take_along_axis(jax.nn.log_softmax(logits, -1), y[:, None], axis=-1)[:, 0]
    wrong = (jnp.argmax(logits, -1) != y).astype(logits.dtype)
    count = jnp.maximum(jnp.sum(labelled), 1.0)
    return jnp.sum(ce * labelled) / count, jnp.sum(wrong * labelled) / count, jnp.mean(labelled)


def supervised_loss(params, batch, rng, *, module: CatAAE) -> tuple[jax.Array, Metrics]:
    """Phase 4 (encoder): cross-entropy of the class code on the labelled rows."""
    ce, error, share = _supervised_terms(params, batch, module)
    loss = module.config.supervised_weight * ce
    return loss, {"ce": ce, "error": error, "labelled_share": share}


def loss_fn(params, batch, rng, *, module: CatAAE) -> tuple[jax.Array, Metrics]:
    """Evaluation: reconstruction NLL, the adversarial losses and the labelled rows' error."""
    nll, metrics = recon_loss(params, batch, rng, module=module)
    _, d = disc_loss(params, batch, rng, module=module)
    _, g = gen_loss(params, batch, rng, module=module)
    ce, error, _ = _supervised_terms(params, batch, module)
    return nll, {**metrics, **d, **g, "ce": ce, "error": error}


def phases(config: CatAAEConfig) -> tuple[Phase, ...]:
    return (
        Phase("recon", recon_loss, params=("encoder", "decoder")),
        Phase("disc", disc_loss, params=("disc_class", "disc_style")),
        Phase("gen", gen_loss, params=("encoder",)),
        Phase("supervised", supervised_loss, params=("encoder",)),
    )


SPEC = ModelSpec(
    name="cat_aae",
    description="adversarial AE with a categorical and a style code: clustering "
    "(--labels 0) or semi-supervised (--labels N)",
    config_cls=CatAAEConfig,
    module_cls=CatAAE,
    loss_fn=loss_fn,
    generative=True,
    phases=phases,
    semi_supervised=True,
    conditional=True,
    num_classes=lambda config: config.num_classes,
    training_split=hide_labels,
)
