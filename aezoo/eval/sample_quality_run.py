"""The ``sample_quality`` evaluator: the model's samples against the evaluated split in the
feature space of the dataset's own classifier (:mod:`aezoo.eval.features`).

``aezoo eval RUN --evaluators sample_quality [--sampler prior|gmm|... --quality-samples N
--quality-draws D --quality-k K --rebuild-features]``. N samples (decoder means in [0, 1]
of N draws of the sampler: the model's own prior by default, or an ex-post density on its
training codes, :mod:`aezoo.samplers`) against the split's first N images (their grey
levels, as the classifier was trained on them), D times with fresh sample keys: mean and
std of the Fréchet distance ``fd_<dataset>_cnn``, precision, recall, density, coverage
(k-NN balls of size K), the class score and mode coverage of the classifier's predictions.
The reference ``fd_<dataset>_cnn_train`` is the same distance from N training images, the
floor a perfect sampler reaches at this N. Keys of an ex-post sampler end in its name
(``fd_mnist_cnn_gmm``), so one ``eval.json`` holds the prior's and the sampler's side by
side. A sampler with an exact density (``gmm``, ``flow``, ``autoregressive``, ``uniform``)
also reports ``code_nll_<sampler>``: the mean negative log-density (nats) of the N split
images' codes under it (for ``vqvae``, the exact likelihood of its discrete codes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from aezoo import samplers
from aezoo._validate import Options, option
from aezoo.errors import ConfigError
from aezoo.eval import features as feature_nets
from aezoo.eval import sample_quality as sq
from aezoo.eval._evaluator import Context, Evaluator
from aezoo.eval.run import load_split

SAMPLE_SEED = 20_240  # the sample draws' keys: fold_in(key(SAMPLE_SEED), draw)
SAMPLE_BATCH = 1000


def samples(sampler: samplers.Sampler, n: int, draw: int) -> np.ndarray:
    """``n`` samples (decoder means in [0, 1]), ``[n, H, W, C]`` float32."""
    key = jax.random.fold_in(jax.random.key(SAMPLE_SEED), draw)
    out = []
    for i, start in enumerate(range(0, n, SAMPLE_BATCH)):
        size = min(SAMPLE_BATCH, n - start)
        drawn = sampler.sample(size, jax.random.fold_in(key, i))
        out.append(np.clip(np.asarray(drawn["mean"], np.float32), 0.0, 1.0))
    return np.concatenate(out)


def code_nll(sampler: samplers.Sampler, images: np.ndarray) -> float:
    """The mean negative log-density (nats) of the images' codes under the sampler: how well
    the fitted density models held-out codes (exact for ``flow``, ``gmm``, ``autoregressive``)."""
    codes = samplers.codes_of(sampler.model, images, discrete=sampler.kind.discrete)
    parts = [
        np.asarray(sampler.log_prob(codes[i : i + SAMPLE_BATCH]), np.float64)
        for i in range(0, len(codes), SAMPLE_BATCH)
    ]
    return float(-np.mean(np.concatenate(parts)))


def _sampler(context: Context) -> samplers.Sampler:
    source = {k: context.source.get(k) for k in ("data_dir", "cache_dir")}
    name = context.options["sampler"]
    return samplers.get(context.run, name, model=context.m, say=context.say, **source)


def _net(context: Context) -> feature_nets.Features:
    if "feature_net" not in context.shared:
        dataset = context.m.record.dataset_name
        train_split = load_split(context.m, "train", context.source)
        test_split = load_split(context.m, "test", context.source)
        context.shared["feature_net"] = feature_nets.load(
            dataset,
            train_split,
            test_split,
            cache_dir=context.source.get("cache_dir"),
            rebuild=context.options["rebuild_features"],
            say=context.say,
        )
    return context.shared["feature_net"]


def _one_draw(real: np.ndarray, fake_images: np.ndarray, net, k: int) -> dict[str, float]:
    fake = net.features(fake_images)
    scores = {"fd": sq.frechet_distance(real, fake), **sq.precision_recall(real, fake, k)}
    return {**scores, **sq.class_statistics(net.logits(fake_images))}


def run(context: Context) -> dict[str, Any]:
    opts = context.options
    net = _net(context)
    sampler = _sampler(context)
    raw, _ = load_split(context.m, context.split, context.source)
    n = min(opts["quality_samples"], len(raw))
    context.say(
        f"sample_quality: {n} samples ({sampler.name}) x {opts['quality_draws']} draws against {n} "
        f"{context.split} images in the features of {net.name} (test accuracy "
        f"{net.test_accuracy:.4f})"
    )
    real = net.features(raw[:n])
    draws = []
    for draw in range(opts["quality_draws"]):
        draws.append(_one_draw(real, samples(sampler, n, draw), net, opts["quality_k"]))
        context.say(f"sample_quality: draw {draw + 1}: FD {draws[-1]['fd']:.3f}")
    train_x, _ = load_split(context.m, "train", context.source)
    tag = net.name if sampler.name == "prior" else f"{net.name}_{sampler.name}"
    out = sq.mean_std([{f"{key}_{tag}": v for key, v in d.items()} for d in draws])
    out[f"fd_{net.name}_train"] = sq.frechet_distance(real, net.features(train_x[:n]))
    out[f"modes_of_{net.name}"] = net.module.classes
    out[f"features_{net.name}_test_accuracy"] = net.test_accuracy
    out["quality_samples"] = n
    if sampler.arrays is not None and sampler.kind.log_prob is not None:
        out[f"code_nll_{sampler.name}"] = code_nll(sampler, raw[:n])
    return {context.prefix + key: value for key, value in out.items()}


@dataclasses.dataclass(frozen=True)
class SampleQualityOptions(Options):
    sampler: str = option(
        "prior",
        "sample_quality: prior (the model's own) or an ex-post sampler (aezoo list shows "
        "them): normal, gmm, two_stage, flow (continuous codes), autoregressive, uniform "
        "(vqvae's discrete code)",
    )
    quality_samples: int = option(10_000, "sample_quality: samples and data images compared", low=4)
    quality_draws: int = option(3, "sample_quality: independent sample draws, mean +/- std", low=1)
    quality_k: int = option(3, "sample_quality: k of the k-NN balls of precision/recall", low=1)
    rebuild_features: bool = option(
        False, "sample_quality: retrain the feature network instead of reading its cache"
    )


def _check(context: Context) -> str | None:
    opts = context.options
    if opts["quality_k"] >= opts["quality_samples"]:
        return "--quality-k must be smaller than --quality-samples"
    try:
        samplers.check_usable(context.m.spec, opts["sampler"])
    except ConfigError as err:
        return str(err)
    return None


EVALUATOR = Evaluator(
    "sample_quality",
    "samples vs data in the dataset's own classifier features: Fréchet distance, precision, "
    "recall, density, coverage, class score and mode coverage",
    run,
    needs=("encode",),
    images=True,
    labels=True,
    default=False,
    options_cls=SampleQualityOptions,
    check=_check,
)

__all__ = ["EVALUATOR", "samples"]
