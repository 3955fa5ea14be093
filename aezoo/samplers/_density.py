"""What the trained samplers share: a density model on codes, trained by :func:`aezoo.fit`
(the one jitted Optax step, the epoch fused into one ``lax.scan``) on the codes as tabular
vectors ``[N, 1, 1, D]``, and its parameters kept as flat arrays in the sampler's ``.npz``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np

from aezoo._validate import Options, option, positive_int
from aezoo.errors import ConfigError
from aezoo.models import ModelSpec
from aezoo.train import fit

PARAM_PREFIX = "param/"


@dataclasses.dataclass(frozen=True)
class TrainedOptions(Options):
    """What every trained sampler's options share: how long and how fast it trains."""

    epochs: int = option(
        30, "two_stage, flow, autoregressive: training epochs", low=1, flag="sampler-epochs"
    )
    learning_rate: float = option(
        1e-3, "the sampler's Adam learning rate", low=0, open="low", flag="sampler-lr"
    )


def standardize(codes: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Codes with zero mean and unit variance per dimension (a constant dimension keeps
    scale 1), and the statistics to undo it."""
    mean = codes.mean(axis=0).astype(np.float32)
    std = codes.std(axis=0).astype(np.float32)
    std = np.where(std > 1e-8, std, 1.0).astype(np.float32)
    return ((codes - mean) / std).astype(np.float32), {"mean": mean, "std": std}


def train(
    spec: ModelSpec,
    vectors: np.ndarray,
    model_config: Mapping[str, Any],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    say: Callable[[str], None],
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Fit ``spec`` on ``vectors`` ``[N, D]`` with the shared step (its progress bar and
    epoch lines on stderr with ``progress``); its params as flat arrays."""
    epochs = positive_int("epochs", epochs)
    rows = len(vectors)
    if rows < 2:
        raise ConfigError(f"{rows} training code(s) cannot fit a density")
    batch = min(positive_int("batch_size", batch_size), rows)
    say(f"  training the {spec.name} on {rows} codes: {epochs} epochs of batch {batch}")
    result = fit(
        spec,
        (np.asarray(vectors, np.float32)[:, None, None, :], None),
        model_config=dict(model_config),
        epochs=epochs,
        batch_size=batch,
        learning_rate=learning_rate,
        binarize="none",
        seed=seed,
        progress=progress,
        figures=False,
    )
    last = result.history[-1]
    say(f"  {spec.name}: {epochs} epochs, train loss {last['train/loss']:.4f}")
    return flat_params(result.params)


def flat_params(params: Any) -> dict[str, np.ndarray]:
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params), sep="/")
    return {PARAM_PREFIX + k: np.asarray(v) for k, v in flat.items()}


def unstandardize(z: jax.Array, arrays: Mapping[str, np.ndarray]) -> jax.Array:
    """Codes ``[B, D]`` back on the scale of the training codes."""
    return z * jnp.asarray(arrays["std"])[None] + jnp.asarray(arrays["mean"])[None]


def params_of(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The nested params saved by :func:`flat_params`."""
    flat = {k[len(PARAM_PREFIX) :]: v for k, v in arrays.items() if k.startswith(PARAM_PREFIX)}
    return flax.traverse_util.unflatten_dict(flat, sep="/")
