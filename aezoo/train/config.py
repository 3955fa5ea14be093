"""``TrainConfig``: the single source of training settings.

One frozen dataclass whose fields carry their help text and checks (``option`` metadata, the
same as the model configs): the CLI generates its training flags from it, :func:`aezoo.fit`
takes it, ``config.json`` records it (:meth:`TrainConfig.to_record`) and a resumed run is
compared with the saved one field by field (:meth:`TrainConfig.diff`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aezoo import data
from aezoo._registry import suggestion
from aezoo._validate import byte_size, check_fields, finite, int_in, option
from aezoo.errors import ConfigError
from aezoo.rundir.record import ARRAYS

NONFINITE_POLICIES = ("stop", "skip")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "lamb")
LR_SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential", "burda")
LR_NAMES = ("lr", "learning_rate")  # the names a learning-rate sweep may use
MAX_SEED = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (the model's own live in its config class).

    ``None`` in ``epochs`` / ``binarize`` means "the default for this dataset / likelihood";
    :meth:`resolved` fills them in. ``resumable`` fields may change when a run is resumed.
    """

    dataset: str = option(
        ARRAYS,
        "dataset: digits (embedded), a TFDS image dataset (mnist, ...), folder:PATH (images; "
        "class subfolders are labels), npz:PATH or npy:PATH (arrays, or [N, D] tabular "
        "vectors); for fit(), also a name to record for your own arrays",
        group="data",
        cli_default="digits",
    )
    image_size: str | None = option(
        None,
        "folder: and TFDS sets: resize every image to H or HxW on load (celeb_a: 64 unless given)",
        metavar="H[xW]",
        group="data",
    )
    center_crop: bool = option(
        False,
        "folder: and TFDS sets: crop the centred box of the --image-size aspect ratio first",
        group="data",
    )
    alpha_background: str = option(
        "black",
        "folder: what transparent pixels (RGBA, LA, palette transparency) are composited on",
        choices=("black", "white"),
        group="data",
    )
    test_fraction: float = option(
        0.1,
        "folder:/npz:/npy: share of the examples held out as the fixed test split (unless "
        "the source has train/ and test/ subfolders or x_train / x_test arrays)",
        low=0.0,
        high=1.0,
        open="both",
        group="data",
    )
    skip_bad_images: bool = option(
        False, "folder: skip (and count) unreadable images instead of stopping", group="data"
    )
    follow_outside_links: bool = option(
        False,
        "folder: also read what symbolic links in the folder lead to outside it (default: "
        "such links are skipped, counted and named)",
        group="data",
    )
    val_fraction: float = option(
        0.0,
        "hold out this share of the training split (fixed rows) as a validation split: the "
        "per-epoch metric (val/*) and --keep-best use it instead of the test split",
        low=0.0,
        high=1.0,
        open="high",
        group="data",
    )
    binarize: str | None = option(
        None,
        "Bernoulli targets: dynamic (resampled every step), static (threshold 0.5) or none "
        "(default: dynamic for the bernoulli likelihood, none otherwise and on dsprites)",
        choices=data.BINARIZE_MODES,
        what="binarize mode",
        group="data",
    )
    epochs: int | None = option(
        None, "passes over the data (default: 10; 100 for digits)", low=0, resumable=True
    )
    batch_size: int = option(128, "examples per step (the global batch)", low=1)
    optimizer: str = option(
        "adam",
        "optimizer: adam, adamw (decoupled weight decay), sgd, rmsprop or lamb; fit() also "
        "takes any optax.GradientTransformation as optimizer=",
        choices=OPTIMIZERS,
        group="optimizer",
    )
    learning_rate: float = option(
        1e-3, "learning rate", low=0.0, open="low", flag="lr", group="optimizer"
    )
    weight_decay: float = option(
        0.0,
        "weight decay: decoupled for adamw and lamb, added to the gradient (L2) for the others",
        low=0.0,
        group="optimizer",
    )
    momentum: float | None = option(
        None,
        "sgd / rmsprop momentum (default: none)",
        low=0.0,
        high=1.0,
        open="high",
        group="optimizer",
    )
    clip_norm: float | None = option(
        None,
        "clip the gradient to this global norm before the update",
        low=0.0,
        open="low",
        group="optimizer",
    )
    warmup_steps: int = option(
        0,
        "ramp the learning rate up linearly from 0 over the first N steps",
        low=0,
        group="optimizer",
    )
    lr_schedule: str = option(
        "constant",
        "learning-rate schedule over the run's steps: constant, cosine (decays to 0; settles "
        "adversarial models, whose test metrics jump from epoch to epoch), warmup_cosine "
        "(needs --warmup-steps), exponential (decays to --lr-decay at the end) or burda (Burda "
        "et al. 2015's staircase: 8 stages, stage i lasting 3^i/3280 of the run at the factor "
        "lr_decay^(i/7); theirs is --lr-decay 0.1)",
        choices=LR_SCHEDULES,
        what="lr schedule",
        group="optimizer",
    )
    lr_decay: float = option(
        0.01,
        "with --lr-schedule exponential or burda: the factor the learning rate reaches at the end",
        low=0.0,
        high=1.0,
        open="low",
        group="optimizer",
    )
    seed: int = option(0, "random seed (keys, initialization, data order)", low=0, high=MAX_SEED)
    init_from: str | None = option(
        None,
        "start from the parameters of a finished run (its folder), as the model allows: "
        "gmvae takes an ae's encoder and decoder and fits its prior's components to the "
        "ae's codes of the training images (VaDE's pretraining)",
        metavar="RUN",
    )
    eval_batch_size: int = option(1000, "test batch size", low=1, resumable=True)
    on_nonfinite: str = option(
        "stop",
        "on a NaN/inf loss or gradient: stop (keeping the last good checkpoint) or skip the "
        "update and count it",
        choices=NONFINITE_POLICIES,
        what="on_nonfinite policy",
    )
    fused: bool = option(
        True,
        "run the per-step jitted loop instead of the scan-fused epoch (same result)",
        resumable=True,
        flag="per-step",
        negate=True,
    )
    seeds: int | None = option(
        None,
        "train N models at once with jax.vmap, seeds --seed .. --seed+N-1 (one compile); "
        "reports mean +/- std, writes each member to WORKDIR/members/",
        low=1,
        group="scaling",
    )
    sweep: Mapping[str, tuple[float, ...]] | None = option(
        None,
        "also vmap over values of one numeric setting: lr or a model field that `aezoo list` "
        "shows as sweepable (e.g. beta=0.5,1,2,4); members = values x seeds",
        metavar="NAME=V1,V2,...",
        group="scaling",
    )
    devices: int | None = option(
        None,
        "data parallel over the first N devices (default: all; the batch is split over them, "
        "--batch-size is the global batch); with --seeds/--sweep the models are split instead",
        low=1,
        resumable=True,
        group="scaling",
    )
    device_memory: str | None = option(
        None,
        "bytes of training data each device may hold (e.g. 512M, 2G; default: half the "
        "device's memory, a quarter of the host's RAM on CPU); bigger data stream from the "
        "host in chunks with prefetching (same results)",
        metavar="SIZE",
        resumable=True,
        group="scaling",
    )
    shard_params: bool = option(
        False,
        "FSDP-style: shard params and optimizer state over the devices instead of replicating them",
        resumable=True,
        group="scaling",
    )
    checkpoint_every: int = option(
        1, "checkpoint every N epochs and at the end", low=1, resumable=True, group="outputs"
    )
    checkpoint_seconds: float = option(
        60.0,
        "and at most one checkpoint per this many seconds, besides the first and the last "
        "(0: at every --checkpoint-every epochs); a stopped run resumes from the newest",
        low=0.0,
        resumable=True,
        group="outputs",
    )
    keep: int = option(3, "keep the last K checkpoints", low=1, resumable=True, group="outputs")
    keep_best: bool = option(
        False,
        "also keep the params of the epoch with the lowest validation (else test) loss in "
        "WORKDIR/best/ (aezoo.load(DIR, best=True), aezoo eval DIR --best)",
        group="outputs",
    )
    tensorboard: bool = option(
        False,
        "also write TensorBoard event files to WORKDIR/tensorboard "
        "(needs pip install 'aezoo[tensorboard]')",
        resumable=True,
        group="outputs",
    )

    def __post_init__(self) -> None:
        if isinstance(self.sweep, str):
            object.__setattr__(self, "sweep", parse_sweep(self.sweep))
        elif self.sweep is not None:
            object.__setattr__(self, "sweep", _normal_sweep(self.sweep))
        check_fields(self)
        object.__setattr__(self, "dataset", data.absolute_source(self.dataset))
        data.parse_image_size(self.image_size)
        if self.center_crop and self.image_size is None:
            raise ConfigError("center_crop crops to the aspect ratio of image_size: give both")
        byte_size("device_memory", self.device_memory)
        self._check_optimizer()

    def _check_optimizer(self) -> None:
        """One-line errors for optimizer settings that do not go together."""
        if self.lr_schedule == "warmup_cosine" and not self.warmup_steps:
            raise ConfigError("lr_schedule warmup_cosine needs warmup_steps >= 1")
        if self.momentum is not None and self.optimizer not in ("sgd", "rmsprop"):
            raise ConfigError(f"momentum is a setting of sgd and rmsprop, not {self.optimizer}")

    def data_options(self) -> data.DataOptions:
        """How ``dataset`` is read when it is a ``folder:`` / ``npz:`` / ``npy:`` source."""
        return data.DataOptions(
            image_size=data.parse_image_size(self.image_size),
            center_crop=self.center_crop,
            alpha_background=self.alpha_background,
            test_fraction=self.test_fraction,
            skip_bad_images=self.skip_bad_images,
            val_fraction=self.val_fraction,
            follow_outside_links=self.follow_outside_links,
        )

    def data_record(self) -> dict[str, Any]:
        """What config.json records about a user source (``{}`` for named datasets)."""
        if not data.is_user_source(self.dataset):
            return {}
        return {"data": data.describe_source(self.dataset, self.data_options())}

    @property
    def vmapped(self) -> bool:
        """Whether this run trains vmapped members (``seeds`` or ``sweep`` set)."""
        return self.seeds is not None or self.sweep is not None

    def member_seeds(self) -> list[int]:
        """The seeds of a vmapped run: ``seed .. seed + seeds - 1``."""
        seeds = list(range(self.seed, self.seed + (self.seeds or 1)))
        int_in("seed + seeds - 1", seeds[-1], 0, MAX_SEED)
        return seeds

    def resolved(self, likelihood: str) -> TrainConfig:
        """``epochs`` and ``binarize`` filled in (the dataset's epochs; dynamic binarization
        for Bernoulli decoders, none for the others and for binary datasets)."""
        return dataclasses.replace(
            self,
            epochs=self.epochs if self.epochs is not None else data.default_epochs(self.dataset),
            binarize=self.binarize or data.default_binarize(likelihood, self.dataset),
        )

    def to_record(self) -> dict[str, Any]:
        """JSON-ready fields (``config.json``'s ``train`` section)."""
        record = dataclasses.asdict(self)
        if self.sweep is not None:
            record["sweep"] = {k: list(v) for k, v in self.sweep.items()}
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TrainConfig:
        """The config a ``config.json`` recorded (fields this version lacks are dropped)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})

    def diff(self, saved: Mapping[str, Any]) -> list[str]:
        """``"name old != new"`` for every setting that differs from a saved record and may
        not change on resume (see the ``resumable`` fields)."""
        now = self.to_record()
        # A field the saved record lacks (written by an older aezoo) had its default.
        old = {f.name: saved.get(f.name, f.default) for f in dataclasses.fields(self)}
        return [
            f"{f.name} {old[f.name]!r} != {now[f.name]!r}"
            for f in dataclasses.fields(self)
            if not f.metadata.get("resumable") and old[f.name] != now[f.name]
        ]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How one call of :func:`fit` runs, not what it trains (never recorded): ``fit`` takes
    these fields by keyword beside the training settings.

    Attributes:
      resume: continue the run in ``workdir`` (bit-identical to an uninterrupted run).
      overwrite: replace the run in ``workdir`` (only what aezoo wrote is removed).
      progress: a progress bar and epoch lines on stderr.
      figures: write the figures at the end.
      allow_changed_data: resume although the data differ from what the run recorded (the
        change is recorded in config.json as ``data_changed``); else a one-line DataError.
      evaluators: evaluators run during training on the held-out split
        (``aezoo.eval.in_training(["nll"], every=5)``): their metrics join the epoch's line
        in metrics.jsonl; None: the per-epoch held-out loss only.
    """

    resume: bool = option(False, "continue the run in workdir")
    overwrite: bool = option(False, "replace the run in workdir")
    progress: bool = option(True, "a progress bar and epoch lines on stderr")
    figures: bool = option(True, "write the figures at the end")
    allow_changed_data: bool = option(False, "resume on data that changed")
    evaluators: Callable[..., Any] | None = dataclasses.field(
        default=None, metadata={"help": "evaluators during training (aezoo.eval.in_training)"}
    )

    def __post_init__(self) -> None:
        check_fields(self)
        hook = self.evaluators
        if hook is not None and not (callable(hook) and hasattr(hook, "due")):
            raise ConfigError(
                "evaluators= takes aezoo.eval.in_training([...], every=N); got "
                f"{type(hook).__name__}"
            )

    @classmethod
    def split(cls, settings: Mapping[str, Any]) -> tuple[RunOptions, dict[str, Any]]:
        """``(run options, training settings)`` from ``fit``'s keywords."""
        names = {f.name for f in dataclasses.fields(cls)}
        own = {k: v for k, v in settings.items() if k in names}
        return cls(**own), {k: v for k, v in settings.items() if k not in names}


def with_settings(config: TrainConfig | None, settings: Mapping[str, Any]) -> TrainConfig:
    """``config`` (default: ``TrainConfig()``) with keyword overrides; one-line error for a
    name that is not a training setting."""
    config = config if config is not None else TrainConfig()
    if not isinstance(config, TrainConfig):
        raise ConfigError(
            f"config must be an aezoo.TrainConfig (model settings go in model_config=); "
            f"got {type(config).__name__}"
        )
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(settings) - names)
    if unknown:
        run_options = [f.name for f in dataclasses.fields(RunOptions)]
        near = suggestion(unknown[0], [*names, *run_options])
        raise ConfigError(
            f"unknown training setting(s) {', '.join(unknown)}{near} (a model's own settings "
            f"go in model_config=; fit also takes {', '.join(run_options)}); accepted: "
            f"{', '.join(sorted(names))}"
        )
    return dataclasses.replace(config, **settings) if settings else config


def parse_sweep(text: str) -> dict[str, tuple[float, ...]]:
    """``"beta=0.5,1,2"`` -> ``{"beta": (0.5, 1.0, 2.0)}`` (one-line errors)."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise ConfigError(f"--sweep expects NAME=V1,V2,... like beta=0.5,1,2; got {text!r}")
    try:
        parsed = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"--sweep values must be numbers, like beta=0.5,1,2; got {text!r}"
        ) from None
    return _normal_sweep({name: parsed})


def _normal_sweep(sweep: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, ...]]:
    """One swept setting with distinct finite values, as floats."""
    if not isinstance(sweep, Mapping) or len(sweep) != 1:
        raise ConfigError(
            f"sweep one setting at a time, like {{'beta': [0.5, 1, 2]}}; got {sweep!r}"
        )
    ((name, values),) = sweep.items()
    values = list(values) if isinstance(values, Sequence) and not isinstance(values, str) else []
    if not values:
        raise ConfigError(f"sweep {name} has no values; expected e.g. {name}=0.5,1,2")
    floats = tuple(finite(f"sweep {name} values", v) for v in values)
    if len(set(floats)) != len(floats):
        raise ConfigError(f"sweep {name} values must be distinct; got {list(floats)}")
    return {"lr" if name in LR_NAMES else name: floats}


__all__ = [
    "LR_NAMES",
    "LR_SCHEDULES",
    "NONFINITE_POLICIES",
    "OPTIMIZERS",
    "TrainConfig",
    "parse_sweep",
    "with_settings",
]
