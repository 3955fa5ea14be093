"""What every model file provides: a config dataclass, a Linen module, a loss, a spec."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax

from aezoo.errors import ConfigError
from aezoo.losses import LIKELIHOODS

Metrics = dict[str, jax.Array]
LossFn = Callable[..., tuple[jax.Array, Metrics]]


def option(default: Any, help: str, **metadata: Any) -> Any:
    """A config field with the help text the CLI shows for its flag."""
    if isinstance(default, list | dict | set):
        raise TypeError("config defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")


@dataclasses.dataclass(frozen=True)
class BaseConfig:
    """Settings shared by every autoencoder: data shape, latent size, nets, likelihood."""

    image_shape: tuple[int, ...] = option(
        (28, 28, 1), "input image shape H W C (set from the dataset)", cli=False
    )
    latent_dim: int = option(20, "size of the latent code")
    hidden_dims: tuple[int, ...] = option(
        (512, 256), "widths of the encoder's hidden layers (the decoder mirrors them)"
    )
    likelihood: str = option(
        "bernoulli",
        "decoder distribution: bernoulli (cross-entropy) or gaussian (squared error)",
        choices=LIKELIHOODS,
    )
    obs_logvar: float | None = option(
        None, "fixed log-variance of the Gaussian decoder; unset = learned", cli=False
    )

    def __post_init__(self) -> None:
        # Accept lists from JSON/CLI but store tuples so configs stay hashable.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` with a one-line message for an impossible setting."""
        _positive_int("latent_dim", self.latent_dim)
        if len(self.image_shape) != 3:
            raise ConfigError(f"image_shape must be (H, W, C); got {self.image_shape!r}")
        for v in self.image_shape:
            _positive_int("image_shape entries", v)
        if not isinstance(self.hidden_dims, tuple) or not self.hidden_dims:
            raise ConfigError(
                f"hidden_dims must be a non-empty list of positive integers; "
                f"got {self.hidden_dims!r}"
            )
        for v in self.hidden_dims:
            _positive_int("hidden_dims entries", v)
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(
                f"unknown likelihood {self.likelihood!r}; expected one of {', '.join(LIKELIHOODS)}"
            )
        if self.obs_logvar is not None and not math.isfinite(self.obs_logvar):
            raise ConfigError(f"obs_logvar must be finite or unset; got {self.obs_logvar!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One registry entry: everything the shared trainer, evaluator and CLI need.

    Attributes:
      name: registry name (``aezoo train NAME``).
      description: one line for ``aezoo list`` and the README.
      config_cls: the frozen config dataclass.
      module_cls: the Linen module; constructed as ``module_cls(config=config)``.
      loss_fn: ``loss_fn(params, batch, rng, *, module) -> (loss, metrics)``.
      generative: whether the module has a ``sample(n, rng)`` method (prior samples).
    """

    name: str
    description: str
    config_cls: type[BaseConfig]
    module_cls: type[nn.Module]
    loss_fn: LossFn
    generative: bool = False

    def make_config(self, **overrides: Any) -> BaseConfig:
        known = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(unknown)} for model {self.name!r}; "
                f"accepted: {', '.join(sorted(known))}"
            )
        return self.config_cls(**overrides)

    def make(self, config: BaseConfig | Mapping[str, Any] | None = None, **overrides: Any):
        """Build ``(config, module)`` from a config (or dict) plus keyword overrides."""
        if isinstance(config, BaseConfig):
            config = dataclasses.replace(config, **overrides) if overrides else config
        else:
            config = self.make_config(**{**dict(config or {}), **overrides})
        return config, self.module_cls(config=config)
