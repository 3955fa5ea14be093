"""The ``disentanglement`` evaluator: a run's codes scored by the disentanglement metrics
(BetaVAE, FactorVAE, MIG, SAP, DCI, modularity, explicitness) against the dataset's
ground-truth factors, and its latent traversals (``traversals.png``).

``aezoo eval RUN --evaluators disentanglement [--num-train N --num-eval N --metric-seed S
--metrics mig,dci]``; on a multi-seed run, every member and the spread (as every evaluator).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import jax
import numpy as np

from aezoo import data, viz
from aezoo._validate import Options, one_of, option
from aezoo.errors import AezooError
from aezoo.eval import disentanglement as dm
from aezoo.eval._evaluator import Context, Evaluator
from aezoo.rundir.run import LoadedModel

PREFIX = "disentanglement/"
TRAVERSAL_STEPS = 10
TRAVERSAL_RANGE = 2.0  # prior standard deviations either side of the base code


@dataclasses.dataclass(frozen=True)
class DisentanglementOptions(Options):
    num_train: int = option(10_000, "disentanglement: the sample each metric fits on", low=1)
    num_eval: int = option(5_000, "disentanglement: the sample each metric scores", low=1)
    metric_seed: int = option(0, "disentanglement: the samples' seed", low=0)
    metrics: str = option(
        "all", "disentanglement: all, or a subset of beta_vae,factor_vae,mig,sap,dci,modularity"
    )


def _check(context: Context) -> str | None:
    o = context.options
    try:
        _metric_names(o["metrics"])
        data.ground_truth(context.m.record.dataset_name)
    except AezooError as e:  # an unknown metric name, no ground-truth factors
        return str(e)
    return None


def _run(context: Context) -> dict[str, Any]:
    """Every chosen metric on the run's codes (disentanglement_lib's sample sizes by default:
    10,000 to fit, 5,000 to score; FactorVAE's variance estimate uses ``num_train``)."""
    m, o = context.m, context.options
    truth = data.ground_truth(m.record.dataset_name)
    which = _metric_names(o["metrics"])
    sizes = {
        "num_train": o["num_train"],
        "num_variance_estimate": o["num_train"],
        "num_eval": o["num_eval"],
        "num_test": o["num_eval"],
    }
    context.say(f"disentanglement on {truth.name}: {', '.join(which)}")

    def represent(images: np.ndarray) -> np.ndarray:
        return np.asarray(m.encode(images)["z"]).reshape(len(images), -1)

    scores = dm.evaluate(represent, truth, seed=o["metric_seed"], which=which, sizes=sizes)
    # Which factor each code captures (the mutual information MIG ranks), for the figure.
    codes, factors = dm.sample_codes(
        represent, truth, sizes["num_train"], np.random.default_rng([o["metric_seed"], 99])
    )
    mi = dm.mutual_info_matrix(dm.discretize(codes), factors) / dm.factor_entropy(factors)
    scores["captures"] = _captures(mi, truth.factor_names)
    _traversals(m, context.workdir / "traversals.png", codes, scores["captures"], truth)
    return {PREFIX + k: v for k, v in scores.items()}


def _metric_names(metrics: str | tuple[str, ...]) -> tuple[str, ...]:
    if metrics == "all":
        return dm.METRICS
    names = tuple(m.strip() for m in metrics.split(",")) if isinstance(metrics, str) else metrics
    return tuple(one_of("metric", name, dm.METRICS) for name in names) or dm.METRICS


EVALUATOR = Evaluator(
    "disentanglement",
    "BetaVAE, FactorVAE, MIG, SAP, DCI, modularity and explicitness against the dataset's "
    "ground-truth factors (dsprites), with latent traversals",
    _run,
    needs=("encode",),
    images=True,
    default=False,
    options_cls=DisentanglementOptions,
    check=_check,
)


def _captures(mi: np.ndarray, names: tuple[str, ...]) -> list[str]:
    """Per code: the factors for which it is the most informative code (normalized mutual
    information in brackets), or ``-`` when it tops none."""
    best = np.argmax(mi, axis=0)  # [K]: the top code of each factor
    out = []
    for d in range(mi.shape[0]):
        named = [f"{names[j]} ({mi[d, j]:.2f})" for j in np.flatnonzero(best == d)]
        out.append(", ".join(named) or "-")
    return out


def _traversals(
    m: LoadedModel,
    path: pathlib.Path,
    codes: np.ndarray,
    captures: list[str],
    truth: data.GroundTruth,
) -> None:
    """One row per latent: decode the code of one image with that latent swept over +/- 2
    prior standard deviations, labelled with the factor MIG credits it with; latents whose
    posterior means barely vary (standard deviation < 0.05, the FactorVAE score's cut) are
    marked."""
    base = codes[0]
    sweep = np.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, TRAVERSAL_STEPS)
    active = dm.active_codes(codes)
    rows, labels = [], []
    for d in range(codes.shape[1]):
        z = np.repeat(base[None], TRAVERSAL_STEPS, axis=0)
        z[:, d] = sweep
        rows.append(np.asarray(jax.device_get(m.decode(z.astype(np.float32))["mean"])))
        labels.append(f"z{d}: {captures[d]}" + ("" if active[d] else " [inactive]"))
    viz.save_image_rows(
        path,
        rows,
        labels,
        title=f"{m.spec.name} on {truth.name}: latent traversals, z_d from -2 to 2 "
        "(label: the factor the code is MIG's top code for, normalized MI)",
    )


__all__ = ["EVALUATOR"]
