"""An autoregressive prior over a discrete code (VQ-VAE's grid of codebook indices; van den
Oord et al., 2017 fit a PixelCNN there): a small causal Transformer, trained after the
autoencoder on its training codes with aezoo's shared step, gives an exact log-likelihood
``log p(c) = sum_i log p(c_i | c_<i)`` and ancestral samples, position by position.

The codes reach the trainer as tabular vectors (the indices as floats, exact below 2^24); a
start token (index ``vocabulary``) begins every sequence; learned position embeddings;
pre-LayerNorm blocks of causal self-attention and a 4x GELU MLP.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aezoo.errors import DataError
from aezoo.models._spec import BaseConfig, Metrics, ModelSpec, option
from aezoo.samplers import _density


@dataclasses.dataclass(frozen=True)
class CodePriorConfig(BaseConfig):
    """The prior's settings; ``image_shape`` is ``(1, 1, L)`` for sequences of ``L`` codes."""

    likelihood: str = option("gaussian", "(codes reach the trainer as vectors)", cli=False)
    vocabulary: int = option(64, "number of distinct codes", low=1)
    width: int = option(128, "width of the Transformer", low=1)
    layers: int = option(2, "number of Transformer blocks", low=1)
    heads: int = option(4, "attention heads", low=1)


class Block(nn.Module):
    width: int
    heads: int

    @nn.compact
    def __call__(self, h: jax.Array, mask: jax.Array) -> jax.Array:
        a = nn.LayerNorm()(h)
        attention = nn.MultiHeadDotProductAttention(self.heads, qkv_features=self.width)
        h = h + attention(a, a, mask=mask)
        m = nn.Dense(self.width)(nn.gelu(nn.Dense(4 * self.width)(nn.LayerNorm()(h))))
        return h + m


class CodePrior(nn.Module):
    """Causal Transformer over code sequences ``[B, L]`` (or ``[B, 1, 1, L]`` floats)."""

    config: CodePriorConfig

    def setup(self) -> None:
        cfg = self.config
        self.embed = nn.Embed(cfg.vocabulary + 1, cfg.width)  # + the start token
        self.position = self.param(
            "position", nn.initializers.normal(0.02), (cfg.image_shape[-1], cfg.width)
        )
        self.blocks = [Block(cfg.width, cfg.heads) for _ in range(cfg.layers)]
        self.norm = nn.LayerNorm()
        self.head = nn.Dense(cfg.vocabulary)

    def __call__(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        return {"log_prob": self.log_prob(x)}

    def logits(self, codes: jax.Array) -> jax.Array:
        """``[B, L, vocabulary]``: position i's logits see codes ``< i`` only."""
        codes = tokens(codes)
        start = jnp.full((codes.shape[0], 1), self.config.vocabulary, codes.dtype)
        h = self.embed(jnp.concatenate([start, codes[:, :-1]], axis=1)) + self.position[None]
        mask = nn.make_causal_mask(codes)
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.norm(h))

    def log_prob(self, codes: jax.Array) -> jax.Array:
        """``[B]`` exact log-probabilities (nats) of whole code sequences."""
        c = tokens(codes)
        log_p = jax.nn.log_softmax(self.logits(c))
        return jnp.sum(jnp.take_along_axis(log_p, c[..., None], axis=-1)[..., 0], axis=-1)


def tokens(codes: jax.Array) -> jax.Array:
    """Integer codes ``[B, L]`` from ints or from the trainer's float vectors."""
    codes = codes.reshape(codes.shape[0], -1)
    if jnp.issubdtype(codes.dtype, jnp.floating):
        codes = jnp.round(codes)
    return codes.astype(jnp.int32)


def loss_fn(params, batch, rng, *, module: CodePrior) -> tuple[jax.Array, Metrics]:
    """The mean negative log-likelihood of a code sequence, nats per sequence."""
    loss = -jnp.mean(module.apply({"params": params}, batch["image"], method="log_prob"))
    return loss, {"loss": loss}


SPEC = ModelSpec(
    name="code_prior",
    description="causal Transformer prior over discrete codes (the autoregressive sampler)",
    config_cls=CodePriorConfig,
    module_cls=CodePrior,
    loss_fn=loss_fn,
    encodes=False,
)


@dataclasses.dataclass(frozen=True)
class AutoregressiveOptions(_density.TrainedOptions):
    width: int = option(64, "autoregressive: the Transformer's width", low=1)
    layers: int = option(2, "two_stage, autoregressive: hidden layers", low=1)
    epochs: int = option(
        20, "two_stage, flow, autoregressive: training epochs", low=1, flag="sampler-epochs"
    )


def fit(
    codes: np.ndarray,
    *,
    seed: int,
    vocabulary: int,
    say: Callable[[str], None] = print,
    **options: Any,
) -> dict[str, np.ndarray]:
    """Train the prior on integer codes ``[N, L]`` in ``0 .. vocabulary - 1``."""
    o = AutoregressiveOptions(**options)
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() >= vocabulary):
        raise DataError(f"codes must lie in 0..{vocabulary - 1}; got {codes.min()}..{codes.max()}")
    config = {"vocabulary": vocabulary, "width": o.width, "layers": o.layers}
    params = _density.train(
        SPEC,
        codes.astype(np.float32),
        config,
        seed=seed,
        epochs=o.epochs,
        batch_size=128,
        learning_rate=o.learning_rate,
        say=say,
    )
    return {"vocabulary": np.asarray(vocabulary), **params}


@functools.cache
def _module(positions: int, vocabulary: int, width: int, layers: int) -> CodePrior:
    config = {"image_shape": (1, 1, positions), "vocabulary": vocabulary}
    return SPEC.make(config, width=width, layers=layers)[1]


def _prior(arrays: dict[str, np.ndarray], options: dict) -> CodePrior:
    positions = arrays[_density.PARAM_PREFIX + "position"].shape[0]
    vocabulary = int(arrays["vocabulary"])
    return _module(positions, vocabulary, int(options["width"]), int(options["layers"]))


@functools.partial(jax.jit, static_argnums=(0, 2))
def _sample(module: CodePrior, params, n: int, key: jax.Array) -> jax.Array:
    positions = module.config.image_shape[-1]

    def step(i, codes):
        logits = module.apply({"params": params}, codes, method="logits")[:, i]
        drawn = jax.random.categorical(jax.random.fold_in(key, i), logits)
        return codes.at[:, i].set(drawn)

    return jax.lax.fori_loop(0, positions, step, jnp.zeros((n, positions), jnp.int32))


@functools.partial(jax.jit, static_argnums=0)
def _log_prob(module: CodePrior, params, codes: jax.Array) -> jax.Array:
    return module.apply({"params": params}, codes, method="log_prob")


def draw(arrays: dict[str, np.ndarray], n: int, key: jax.Array, **options) -> jax.Array:
    """``n`` code sequences ``[n, L]`` (int32), drawn position by position."""
    return _sample(_prior(arrays, options), _density.params_of(arrays), n, key)


def log_prob(arrays: dict[str, np.ndarray], codes: jax.Array, **options) -> jax.Array:
    """``[B]`` exact log-probabilities (nats) of integer code sequences ``[B, L]``."""
    codes = jnp.asarray(codes, jnp.int32)
    return _log_prob(_prior(arrays, options), _density.params_of(arrays), codes)
