"""A RealNVP density on the training codes (Dinh et al., 2017): affine coupling layers that
alternate which half of the dimensions (even or odd) conditions the other, over a standard
normal base. Exact log-density (change of variables) and exact sampling (the inverse pass),
trained by maximum likelihood with aezoo's shared step on the standardized codes.

Each coupling: ``y = x_a, x_b * exp(s(x_a)) + t(x_a)``, ``log|det| = sum s``, with ``s`` a
``tanh`` bounded by a learned per-dimension scale (zero at the start: the flow begins as the
identity) for stable training.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aezoo.models._spec import BaseConfig, Metrics, ModelSpec, option
from aezoo.nn import MLP
from aezoo.samplers import _density

LOG_2PI = math.log(2.0 * math.pi)


@dataclasses.dataclass(frozen=True)
class FlowConfig(BaseConfig):
    """The density's settings; ``image_shape`` is ``(1, 1, D)`` for ``D``-dimensional codes."""

    likelihood: str = option("gaussian", "codes are real-valued", cli=False)
    hidden_dims: tuple[int, ...] = option((256, 256), "widths of each coupling's network")
    flow_steps: int = option(8, "number of affine coupling layers", low=2)


class Coupling(nn.Module):
    """One affine coupling: the dimensions of ``parity`` condition the others."""

    dim: int
    parity: int
    hidden_dims: tuple[int, ...]

    def setup(self) -> None:
        self.mask = jnp.asarray(np.arange(self.dim) % 2 == self.parity, jnp.float32)[None]
        self.net = MLP(self.hidden_dims, activate_final=True)
        self.out = nn.Dense(2 * self.dim, kernel_init=nn.initializers.zeros)
        self.log_scale = self.param("log_scale", nn.initializers.zeros, (self.dim,))

    def _shift_scale(self, x_kept: jax.Array) -> tuple[jax.Array, jax.Array]:
        s, t = jnp.split(self.out(self.net(x_kept)), 2, axis=-1)
        free = 1.0 - self.mask
        return free * jnp.tanh(s) * jnp.exp(self.log_scale)[None], free * t

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``x -> (y, log|det dy/dx|)``."""
        s, t = self._shift_scale(x * self.mask)
        return x * jnp.exp(s) + t, jnp.sum(s, axis=-1)

    def inverse(self, y: jax.Array) -> jax.Array:
        s, t = self._shift_scale(y * self.mask)
        return (y - t) * jnp.exp(-s)


class RealNVP(nn.Module):
    """Codes ``[B, 1, 1, D]`` (as the trainer feeds them) or ``[B, D]``."""

    config: FlowConfig

    def setup(self) -> None:
        cfg = self.config
        dim = cfg.image_shape[-1]
        self.layers = [Coupling(dim, i % 2, cfg.hidden_dims) for i in range(cfg.flow_steps)]

    def __call__(self, x: jax.Array, **_) -> dict[str, jax.Array]:
        return {"log_prob": self.log_prob(x)}

    def log_prob(self, x: jax.Array) -> jax.Array:
        """``[B]`` exact log-densities (nats)."""
        z = x.reshape(x.shape[0], -1)
        total = jnp.zeros(z.shape[0])
        for layer in self.layers:
            z, log_det = layer(z)
            total = total + log_det
        base = -0.5 * jnp.sum(jnp.square(z) + LOG_2PI, axis=-1)
        return base + total

    def sample(self, n: int, rng: jax.Array) -> jax.Array:
        """``[n, D]`` draws: base normals through the inverse layers."""
        z = jax.random.normal(rng, (n, self.config.image_shape[-1]))
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


def loss_fn(params, batch, rng, *, module: RealNVP) -> tuple[jax.Array, Metrics]:
    """The mean negative log-likelihood of the codes, nats per code."""
    log_p = module.apply({"params": params}, batch["image"], method="log_prob")
    loss = -jnp.mean(log_p)
    return loss, {"loss": loss}


SPEC = ModelSpec(
    name="flow_density",
    description="RealNVP density on code vectors (the flow sampler)",
    config_cls=FlowConfig,
    module_cls=RealNVP,
    loss_fn=loss_fn,
    encodes=False,
)


@dataclasses.dataclass(frozen=True)
class FlowOptions(_density.TrainedOptions):
    flow_steps: int = option(8, "flow: affine coupling layers", low=1)
    hidden: int = option(256, "two_stage, flow: hidden width of the density network", low=1)


def fit(
    codes: np.ndarray,
    *,
    seed: int,
    say: Callable[[str], None] = print,
    **options: Any,
) -> dict[str, np.ndarray]:
    """Train the flow on the standardized ``[N, D]`` codes; its params and the statistics."""
    o = FlowOptions(**options)
    vectors, stats = _density.standardize(codes)
    config = {"flow_steps": o.flow_steps, "hidden_dims": (o.hidden, o.hidden)}
    params = _density.train(
        SPEC,
        vectors,
        config,
        seed=seed,
        epochs=o.epochs,
        batch_size=256,
        learning_rate=o.learning_rate,
        say=say,
    )
    return {**stats, **params}


@functools.cache
def _module(dim: int, flow_steps: int, hidden: int) -> RealNVP:
    return SPEC.make(
        {"image_shape": (1, 1, dim), "flow_steps": flow_steps, "hidden_dims": (hidden, hidden)}
    )[1]


def _flow(arrays: dict[str, np.ndarray], options: dict) -> RealNVP:
    return _module(arrays["mean"].shape[0], int(options["flow_steps"]), int(options["hidden"]))


@functools.partial(jax.jit, static_argnums=(0, 2))
def _sample(module: RealNVP, params, n: int, key: jax.Array) -> jax.Array:
    return module.apply({"params": params}, n, key, method="sample")


@functools.partial(jax.jit, static_argnums=0)
def _log_prob(module: RealNVP, params, z: jax.Array) -> jax.Array:
    return module.apply({"params": params}, z, method="log_prob")


def draw(arrays: dict[str, np.ndarray], n: int, key: jax.Array, **options) -> jax.Array:
    """``n`` codes ``[n, D]``: flow samples, un-standardized."""
    z = _sample(_flow(arrays, options), _density.params_of(arrays), n, key)
    return _density.unstandardize(z, arrays)


def log_prob(arrays: dict[str, np.ndarray], codes: jax.Array, **options) -> jax.Array:
    """``[B]`` exact log-densities of codes ``[B, D]`` (nats; the standardization's Jacobian
    included)."""
    z = (jnp.asarray(codes, jnp.float32) - arrays["mean"][None]) / arrays["std"][None]
    log_p = _log_prob(_flow(arrays, options), _density.params_of(arrays), z)
    return log_p - float(np.sum(np.log(arrays["std"])))
