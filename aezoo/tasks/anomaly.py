"""Anomaly detection, one-class protocol (Ruff et al. 2018): one model per class, trained on
that class's training images only; every test image is scored, the other classes being the
anomalies; AUROC per class and its mean over the classes.

Scores (higher = more anomalous), each from the same trained model:
- ``reconstruction``: -log p(x | decode(code)), the NLL of the image under the decoder of its
  own code (the posterior mean for a VAE);
- ``squared_error``: the mean squared difference between the image and the mean of that
  reconstruction, the reconstruction error of the autoencoder literature (the DCAE of Ruff
  et al.); a pixel's error is at most 1, where the Bernoulli NLL of a pixel the decoder is
  sure of grows without bound;
- ``relative_error``: that squared error over the mean intensity of the image plus that of
  its reconstruction, the share of the ink that is wrong. The squared error grows with how
  much ink an image has, so a model of a busy digit (an 8) reconstructs a simple anomaly (a
  1) with a small error; divided by the ink, the 1's error is as large as it is;
- ``neg_elbo`` and ``nll_is`` (models with a density): the negative ELBO and the
  importance-sampled -log p(x), both from the same ``nll_samples`` posterior draws;
- ``latent_density``: -log N(code; mean, covariance of the training codes), a Gaussian
  fitted to the class's codes.
Images are scored in grey levels: for a Bernoulli decoder that is the expected NLL over the
binarizations the model was trained on (the cross-entropy is linear in the target).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data
from aezoo._validate import check_fields, option
from aezoo.errors import ConfigError, DataError
from aezoo.eval.likelihood import encode_and_reconstruct
from aezoo.models import ModelSpec, get_spec
from aezoo.rundir.run import Run
from aezoo.tasks import _common as common
from aezoo.tasks import metrics
from aezoo.train import TrainConfig, fit

SCORES = (
    "reconstruction",
    "squared_error",
    "relative_error",
    "neg_elbo",
    "nll_is",
    "latent_density",
)
QUOTED = {"Deep SVDD (one-class)": 94.8, "DCAE": 89.7}  # Ruff et al. 2018, mean AUROC


@dataclasses.dataclass(frozen=True)
class AnomalyOptions:
    """Settings of the one-class anomaly-detection task. What each class's model trains is
    not re-declared here: it is a :class:`~aezoo.train.TrainConfig` (``config``; the
    dataset, epochs, optimizer, ...) and the model's own config (``model_config``), as for
    ``aezoo train``: ``aezoo task anomaly MODEL [model flags] [training flags]``."""

    model: str = option(
        "vae", "model trained on each normal class (a name in aezoo list)", cli=False
    )
    classes: str = option("all", "normal classes, comma-separated (all: every label)")
    nll_samples: int = option(100, "posterior draws of -ELBO and the IS NLL per image", low=1)
    config: TrainConfig | None = dataclasses.field(
        default=None,
        metadata={
            "help": "training settings of each class's model (TrainConfig; digits)",
            "cli": False,
        },
    )
    model_config: Mapping[str, Any] | None = dataclasses.field(
        default=None, metadata={"help": "the model's config fields (its defaults)", "cli": False}
    )

    def __post_init__(self) -> None:
        check_fields(self)
        spec = get_spec(self.model)  # the registry as it is now (models registered since count)
        if self.config is not None and not isinstance(self.config, TrainConfig):
            raise ConfigError(f"config must be a TrainConfig; got {type(self.config).__name__}")
        if (self.train_config.seeds or 1) > 1 or self.train_config.sweep:
            raise ConfigError("task anomaly trains one model per class: no --seeds or --sweep")
        spec.config_cls(**dict(self.model_config or {}))  # its one-line errors, now

    @property
    def train_config(self) -> TrainConfig:
        """The training settings (``config``, else TrainConfig's defaults on ``digits``)."""
        return self.config if self.config is not None else TrainConfig(dataset="digits")

    @property
    def dataset(self) -> str:
        return self.train_config.dataset

    def class_list(self, labels: np.ndarray) -> list[int]:
        present = sorted(int(c) for c in np.unique(labels) if c >= 0)
        if self.classes == "all":
            return present
        try:
            wanted = [int(c) for c in self.classes.split(",")]
        except ValueError:
            raise ConfigError(
                f"classes must be 'all' or integers like 0,3; got {self.classes!r}"
            ) from None
        missing = sorted(set(wanted) - set(present))
        if missing:
            raise DataError(f"classes {missing} have no training images; present: {present}")
        return wanted


@functools.cache
def _bound_fn(spec: ModelSpec, module, k: int):
    @jax.jit
    def bounds(params, batch, rng):
        log_w = spec.density(params, batch, rng, module=module, num_samples=k)
        return -jnp.mean(log_w, 0), -(jax.nn.logsumexp(log_w, 0) - math.log(k))

    return bounds


def anomaly_scores(
    spec: ModelSpec, module, params, train_x, x, normal: int, nll_samples: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Every score of the module docstring for the images ``x`` (uint8 or [0, 1] floats),
    for a model trained on ``train_x``; conditional models are given the normal label."""
    label = np.full(len(x), normal, np.int32)
    stats = encode_and_reconstruct(spec, module, params, x, label)
    train_codes = encode_and_reconstruct(
        spec, module, params, train_x, np.full(len(train_x), normal, np.int32)
    )["code"]
    out = {
        "reconstruction": stats["recon"],
        "squared_error": stats["mse"],
        "relative_error": stats["relative_error"],
        "latent_density": _gauss_nll(train_codes, stats["code"]),
    }
    if spec.density is not None:
        bounds = _bound_fn(spec, module, nll_samples)
        parts = [
            bounds(
                params,
                {
                    "image": data.to_float(jnp.asarray(x[i : i + 100])),
                    "label": jnp.asarray(label[i : i + 100]),
                },
                jax.random.fold_in(jax.random.key(seed), i),
            )
            for i in range(0, len(x), 100)
        ]
        out["neg_elbo"] = np.concatenate([np.asarray(p[0]) for p in parts])
        out["nll_is"] = np.concatenate([np.asarray(p[1]) for p in parts])
    return out


def _gauss_nll(train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """-log N(x; mean, cov) of a Gaussian fitted to ``train`` (ridge 1e-6)."""
    mean = train.mean(0)
    cov = np.cov(train, rowvar=False).reshape(train.shape[1], train.shape[1])
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(len(cov)))
    white = np.linalg.solve(chol, (x - mean).T)
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    return 0.5 * (np.sum(white**2, 0) + logdet + len(cov) * math.log(2 * math.pi))


def _of_class(split: tuple[np.ndarray, np.ndarray], c: int):
    x, y = split
    return x[y == c], y[y == c]


def train_class(
    options: AnomalyOptions, train, test, normal: int, out: pathlib.Path, progress: bool
):
    """Train (or, when its directory holds the finished run, reload) one normal class's
    model; returns the :class:`~aezoo.train.FitResult`."""
    workdir = out / f"class-{normal}"
    return fit(
        options.model,
        _of_class(train, normal),
        _of_class(test, normal),
        config=options.train_config,
        model_config=dict(options.model_config or {}),
        workdir=workdir,
        resume=(workdir / "config.json").exists(),
        progress=progress,
        figures=False,
    )


def run(
    runs: Sequence[Run],
    options: AnomalyOptions,
    *,
    out: pathlib.Path,
    progress: bool = True,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_changed_data: bool = False,
) -> dict[str, Any]:
    """Train one model per normal class into ``out/class-C`` (a finished one is reused),
    score the whole test split with each; write ``anomaly.json`` and ``anomaly.md``."""
    if runs:
        raise ConfigError("task anomaly trains its own models (one per class): give no WORKDIR")
    say = common.say_fn(progress)
    del allow_changed_data  # it trains on the data it reads: nothing recorded to differ from
    source = {"data_dir": data_dir, "cache_dir": cache_dir}
    source["options"] = options.train_config.data_options()
    train = data.load(options.dataset, "train", **source)
    test = data.load(options.dataset, "test", **source)
    for name, split in (("train", train), ("test", test)):
        common.require_labels(options.dataset, name, np.asarray(split[1]))
    spec, classes = get_spec(options.model), options.class_list(train[1])
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for c in classes:
        say(f"anomaly: class {c} is normal; training {spec.name} on its training images")
        fitted = train_class(options, train, test, c, out, progress)
        scores = anomaly_scores(
            spec,
            fitted.module,
            fitted.params,
            _of_class(train, c)[0],
            test[0],
            c,
            options.nll_samples,
            options.train_config.seed,
        )
        aucs = {k: 100 * metrics.auroc(v, test[1] != c) for k, v in scores.items()}
        rows.append({"class": c, "epochs": fitted.train_config.epochs, **aucs})
        say("  AUROC " + ", ".join(f"{k} {v:.1f}" for k, v in aucs.items()))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in SCORES if k in rows[0]}
    best = max(mean, key=mean.get)
    result = {
        "task": "anomaly",
        "dataset": options.dataset,
        "options": {
            "model": options.model,
            "classes": options.classes,
            "nll_samples": options.nll_samples,
        },
        "config": fitted.train_config.to_record(),
        "model_config": spec.config_cls(**dict(options.model_config or {})).to_dict(),
        "rows": rows,
        "mean": mean,
        "best_score": best,
        "quoted_mean": QUOTED,
    }
    result["summary"] = [
        f"mean AUROC over {len(rows)} classes: "
        + ", ".join(f"{k} {v:.1f}" for k, v in mean.items())
        + f" (best: {best})"
    ]
    common.write_outputs(out, "anomaly", result, _markdown(result))
    return result


def _markdown(result: dict[str, Any]) -> str:
    o, names = result["options"], [k for k in SCORES if k in result["mean"]]
    columns = [("normal class", "class"), *((f"AUROC {k}", k) for k in names)]
    rows = [*result["rows"], {"class": "**mean**", **result["mean"]}]
    tc, mc = result["config"], result["model_config"]
    shown = {k: v for k, v in mc.items() if k != "image_shape"}
    setup = (
        f"One `{o['model']}` per normal class ({tc['epochs']} epochs, batch "
        f"{tc['batch_size']}, lr {tc['learning_rate']}, {tc['optimizer']}, seed {tc['seed']}; "
        f"model {', '.join(f'{k}={v}' for k, v in shown.items())}); all test images scored; "
        "AUROC in %, higher score = more anomalous. -ELBO and IS NLL from "
        f"{o['nll_samples']} posterior draws."
    )
    quoted = ", ".join(f"{k} {v}" for k, v in result["quoted_mean"].items())
    lines = [f"# One-class anomaly detection on {result['dataset']}", "", setup, ""]
    lines += common.table(rows, columns)
    lines += ["", f"Mean AUROC quoted from Ruff et al. (2018), not measured here: {quoted}."]
    return "\n".join(lines) + "\n"
