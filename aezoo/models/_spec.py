"""What every model file provides: a config dataclass, a Linen module, a loss, a spec."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import optax

from aezoo._validate import check_fields, option
from aezoo.errors import ConfigError
from aezoo.losses import LIKELIHOODS
from aezoo.nn import ACTIVATIONS, ARCHS, COMPUTE_DTYPES, CONV_IMPLS

Metrics = dict[str, jax.Array]
LossFn = Callable[..., tuple[jax.Array, Metrics]]


def sweepable(config_cls: type) -> tuple[str, ...]:
    """Numeric config fields that may vary along a vmapped axis (``option(..., sweep=True)``):
    they enter the loss only as arithmetic, so they can be traced values."""
    return tuple(f.name for f in dataclasses.fields(config_cls) if f.metadata.get("sweep"))


def traced_config(config: Any, values: Mapping[str, Any]) -> Any:
    """A copy of ``config`` with some sweepable fields set to traced values.

    Validation is skipped (a tracer has no concrete value); the concrete values were
    validated before tracing (each member's config is built and checked first).
    """
    if not values:
        return config
    unknown = sorted(set(values) - set(sweepable(type(config))))
    if unknown:
        raise ConfigError(f"not sweepable for {type(config).__name__}: {', '.join(unknown)}")
    new = copy.copy(config)
    for name, value in values.items():
        object.__setattr__(new, name, value)
    return new


@dataclasses.dataclass(frozen=True)
class BaseConfig:
    """Settings shared by every autoencoder: data shape, latent size, nets, likelihood."""

    image_shape: tuple[int, ...] = option(
        (28, 28, 1), "input image shape H W C (set from the dataset)", cli=False
    )
    latent_dim: int = option(20, "size of the latent code", low=1)
    hidden_dims: tuple[int, ...] = option(
        (512, 256),
        "widths of the encoder's hidden layers (the decoder mirrors them); none: no hidden "
        "layer, a linear encoder and decoder (linear hashing for binary_vae)",
        empty=True,
    )
    activation: str = option(
        "relu",
        "activation of the dense hidden layers of encoder and decoder (conv blocks keep "
        "relu); tanh is Burda et al.'s; gated (a layer twice as wide whose second half, "
        "through a sigmoid, gates the first) is Tomczak & Welling's",
        choices=tuple(ACTIVATIONS),
    )
    likelihood: str = option(
        "bernoulli",
        "decoder distribution: bernoulli (cross-entropy), gaussian (squared error, one "
        "learned variance), gaussian_pixel (a variance per pixel) or logistic (discretized "
        "logistic for 8-bit images; results in bits/dim)",
        choices=LIKELIHOODS,
    )
    obs_logvar: float | None = option(
        None,
        "fixed log-variance of the Gaussian decoder (0: squared error halved, Ng's sparse "
        "autoencoder); unset = learned",
    )
    arch: str = option(
        "mlp",
        "network: mlp, or conv (two stride-2 convolutions before the MLP layers)",
        choices=ARCHS,
    )
    conv_impl: str = option(
        "auto",
        "convolutions through oneDNN (CPU), as matmuls (fast inside the fused epoch on any "
        "backend) or XLA's native ones; auto: onednn on CPU where it is built (pip install "
        "'aezoo[onednn]'), else matmul; xla on GPU/TPU. Same parameters either way",
        choices=CONV_IMPLS,
        resumable=True,
    )

    compute_dtype: str = option(
        "float32",
        "dtype of the matmuls and convolutions of encoder and decoder (bfloat16 is for "
        "accelerators with bf16 matrix units; the parameters, the network's outputs and the "
        "loss stay float32)",
        choices=tuple(COMPUTE_DTYPES),
    )

    def __post_init__(self) -> None:
        # Accept lists from JSON/CLI but store tuples so configs stay hashable.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` with a one-line message for an impossible setting.

        Each field is checked from its annotation and ``option`` metadata; subclasses add
        checks that involve several fields after ``super().validate()``.
        """
        check_fields(self)
        if len(self.image_shape) != 3:
            raise ConfigError(f"image_shape must be (H, W, C); got {self.image_shape!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Capability -> what a model with it can do (the words of the one-line refusals).
CAPABILITIES = {
    "encode": "encode and decode",
    "generative": "sample from a prior",
    "density": "give a tractable density for the importance-sampled NLL",
    "classify": "classify with its own classifier or clusters",
    "clusters": "cluster without labels",
    "semi_supervised": "learn from a few labels",
    "conditional": "condition on a label",
    "discrete": "encode to a discrete code (codebook indices) and decode one",
    "normal_prior": "put a N(0, I) prior on a Gaussian code (z_mean, z_logvar)",
}


@dataclasses.dataclass(frozen=True)
class Phase:
    """One objective of a model trained with several (adversarial AE, EMA codebooks, ...).

    Attributes:
      name: short name; metrics of later phases carry it (``grad_norm_<name>``).
      loss_fn: ``loss_fn(params, batch, rng, *, module) -> (loss, metrics)`` like a model's.
      params: top-level parameter groups (``"encoder"``, ``"discriminator"``, ...) this phase
        updates; ``None`` = all. The others are frozen for it via ``optax.transforms.partition``.
      optimizer: ``lr -> GradientTransformation`` for this phase; ``None`` = the run's own.
    """

    name: str
    loss_fn: LossFn
    params: tuple[str, ...] | None = None
    optimizer: Callable[[optax.GradientTransformation], optax.GradientTransformation] | None = None


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One registry entry: everything the shared trainer, evaluator and CLI need.

    Attributes:
      name: registry name (``aezoo train NAME``).
      description: one line for ``aezoo list`` and the README's model table.
      config_cls: the frozen config dataclass.
      module_cls: the Linen module; constructed as ``module_cls(config=config)``.
      loss_fn: ``loss_fn(params, batch, rng, *, module) -> (loss, metrics)``.
      generative: whether the module has a ``sample(n, rng)`` method (prior samples).
      phases: ``config -> tuple[Phase, ...]`` for models with several objectives, run in
        order by the one shared train step; ``None`` = one phase, ``loss_fn`` over all params.
        ``loss_fn`` is always the objective that evaluation reports.
      figures: optional ``(out_dir, module, params, split, rng) -> None`` writing the
        model's own figures next to the shared ones.
      density: for models with a tractable prior, encoder and decoder density:
        ``(params, batch, rng, *, module, num_samples) -> [K, B]`` log importance weights
        ``log p(x|z) + log p(z) - log q(z|x)``; evaluation's importance-sampled NLL uses it.
      semi_supervised: the model learns from labelled rows and unlabelled ones (label -1)
        alike and classifies (a ``classify`` method: ``[B, classes]`` logits); its config
        is a :class:`~aezoo.models._few_labels.FewLabelsConfig` (``--labels N`` hides all
        but N labels) and its ``training_split`` hides them.
      clusters: the model assigns inputs to its own clusters without labels (a ``classify``
        method as above, one logit per cluster; ``gmvae``).
      conditional: ``encode`` / ``decode`` / ``sample`` take ``label=`` (``[B]`` ints in
        ``0 .. classes(config) - 1``) and the training labels must lie in that range.
      num_classes: ``config -> int``, how many classes the model's labels, classifier or
        clusters range over (read through :meth:`classes`); ``None`` = it has none.
      encodes: the module has ``encode`` / ``decode`` (every model so far).
      training_split: ``(config, images, labels) -> (images, labels)``: how the model
        prepares its training split before it goes to the devices (``m2``, ``cat_aae``:
        all but ``--labels N`` labels hidden); ``None`` = as given.
      code_grid: for models whose code is discrete: ``config -> (positions, vocabulary)``,
        ``encode`` returning ``codes`` (ints ``[B, positions]`` in ``0 .. vocabulary - 1``)
        and a ``decode_codes`` method (``vqvae``); an autoregressive prior
        (:mod:`aezoo.samplers`) is fitted on them.
      normal_prior: the prior on the code is N(0, I) and ``encode`` gives a factorized
        Gaussian posterior (``z_mean``, ``z_logvar``); statistics that assume it (the KL
        per dimension) are reported only for such models, never against a prior the model
        does not have (False by default: a model says so).
      warm_start: ``(config, shapes, source, images, seed) -> params``: the params the model
        starts from given a finished run (``--init-from RUN``; ``shapes`` the fresh params'
        ``jax.ShapeDtypeStruct`` tree, ``source`` a :class:`~aezoo.train.load.LoadedModel`,
        ``images`` the training images): every value is the warm start's; ``gmvae`` takes an
        ``ae``'s nets and fits its prior to their codes (VaDE's pretraining); ``None`` = it
        cannot.

    What a model can do is :attr:`capabilities`; callers ask for one with
    :func:`aezoo.models.require` instead of branching on the model's name.
    """

    name: str
    description: str
    config_cls: type[BaseConfig]
    module_cls: type[nn.Module]
    loss_fn: LossFn
    generative: bool = False
    phases: Callable[[Any], tuple[Phase, ...]] | None = None
    figures: Callable[..., None] | None = None
    density: Callable[..., jax.Array] | None = None
    semi_supervised: bool = False
    clusters: bool = False
    conditional: bool = False
    num_classes: Callable[[Any], int] | None = None
    encodes: bool = True
    training_split: Callable[..., tuple[Any, Any]] | None = None
    code_grid: Callable[[Any], tuple[int, int]] | None = None
    normal_prior: bool = False
    warm_start: Callable[..., Any] | None = None

    @property
    def classifies(self) -> bool:
        """Whether the module has ``classify`` (semi-supervised or clustering models)."""
        return self.semi_supervised or self.clusters

    @property
    def capabilities(self) -> frozenset[str]:
        """What the model can do, named as in :data:`CAPABILITIES`."""
        has = {
            "encode": self.encodes,
            "generative": self.generative,
            "density": self.density is not None,
            "classify": self.classifies,
            "clusters": self.clusters,
            "semi_supervised": self.semi_supervised,
            "conditional": self.conditional,
            "discrete": self.code_grid is not None,
            "normal_prior": self.normal_prior,
        }
        return frozenset(name for name, yes in has.items() if yes)

    def classes(self, config: Any) -> int:
        """How many classes its labels, classifier or clusters range over (0: none)."""
        return 0 if self.num_classes is None else int(self.num_classes(config))

    def label_range(self, config: Any) -> tuple[int, int] | None:
        """The labels its training data may hold, ``(low, high)`` inclusive (-1 =
        unlabelled, for semi-supervised models); ``None``: any (labels are not read)."""
        if not (self.conditional or self.semi_supervised):
            return None
        return (-1 if self.semi_supervised else 0), self.classes(config) - 1

    def phases_for(self, config: Any) -> tuple[Phase, ...]:
        """The training phases for ``config`` (a single phase for one-objective models)."""
        if self.phases is None:
            return (Phase("main", self.loss_fn),)
        return self.phases(config)

    def optimizers(
        self, config: Any, optimizer: optax.GradientTransformation
    ) -> tuple[optax.GradientTransformation, ...]:
        """One Optax transformation per phase: the phase's optimizer on its parameter groups,
        zero updates elsewhere (``optax.transforms.partition``)."""
        txs = []
        for phase in self.phases_for(config):
            tx = phase.optimizer(optimizer) if phase.optimizer is not None else optimizer
            if phase.params is not None:
                groups = phase.params

                def labels(params, groups=groups):
                    return {k: "train" if k in groups else "frozen" for k in params}

                tx = optax.transforms.partition(
                    {"train": tx, "frozen": optax.set_to_zero()}, labels
                )
            txs.append(tx)
        return tuple(txs)

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
