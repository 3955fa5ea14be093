"""``aezoo eval WORKDIR --disentanglement``: score a run's codes with the disentanglement
metrics, draw its latent traversals; on a multi-seed run, every member and the spread."""

from __future__ import annotations

import json
import pathlib
import sys
import time
from typing import Any

import jax
import numpy as np

from aezoo import data, viz
from aezoo._validate import int_in, one_of, positive_int, writable_dir
from aezoo.errors import CheckpointError
from aezoo.eval import disentanglement as dm
from aezoo.train.load import LoadedModel, load
from aezoo.train.workdir import atomic_write

TABLE_KEYS = (
    "beta_vae_score",
    "factor_vae_score",
    "mig",
    "sap",
    "dci_disentanglement",
    "dci_completeness",
    "dci_informativeness",
    "modularity",
    "explicitness",
    "active_dims",
)
SUMMARY_KEYS = ("mig", "factor_vae_score", "beta_vae_score", "dci_disentanglement")
TRAVERSAL_STEPS = 10
TRAVERSAL_RANGE = 2.0  # prior standard deviations either side of the base code


def evaluate_disentanglement(
    workdir: str | pathlib.Path,
    *,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    seed: int = 0,
    metrics: str | tuple[str, ...] = "all",
    progress: bool = True,
) -> dict[str, Any]:
    """Every metric of :mod:`aezoo.eval.disentanglement` on the run in ``workdir`` (for a
    multi-seed run, on each member, then mean and std over the seeds of each swept value);
    writes ``disentanglement.json``, ``disentanglement.md`` and ``traversals.png`` per model.

    ``num_train`` / ``num_eval`` set the sample sizes of every metric (disentanglement_lib:
    10,000 and 5,000; FactorVAE's variance estimate uses ``num_train``); ``metrics`` a subset
    of :data:`~aezoo.eval.disentanglement.METRICS` (names or one comma-separated string)."""
    positive_int("--num-train", num_train)
    positive_int("--num-eval", num_eval)
    int_in("--metric-seed", seed, 0)
    which = _metric_names(metrics)
    root = writable_dir(workdir, "workdir")
    run = _run_record(root)
    truth = data.ground_truth(run["train"]["dataset"])  # one line if it has no factors
    say = (lambda msg: print(msg, file=sys.stderr)) if progress else (lambda msg: None)
    records = run.get("members") or []
    members = [root / "members" / r["name"] for r in records] or [root]
    sizes = {
        "num_train": num_train,
        "num_variance_estimate": num_train,
        "num_eval": num_eval,
        "num_test": num_eval,
    }
    scores = {}
    for i, member in enumerate(members):
        t0 = time.perf_counter()
        say(f"disentanglement {i + 1}/{len(members)}: {member} ({', '.join(which)})")
        scores[member.name] = _score_member(load(member), member, truth, sizes, seed, which)
        say(f"  {_line(scores[member.name])}  ({time.perf_counter() - t0:.0f} s)")
    result = {
        "dataset": truth.name,
        "seed": seed,
        "sizes": sizes,
        "metrics": list(which),
        "members": scores,
    }
    if len(members) > 1:
        result["groups"] = _groups(records, scores, _sweep_name(run))
        atomic_write(root / "disentanglement.json", json.dumps(result, indent=2) + "\n")
        atomic_write(root / "disentanglement.md", _markdown(run, result))
        say(f"wrote {root / 'disentanglement.json'} and {root / 'disentanglement.md'}")
    return result


def _metric_names(metrics: str | tuple[str, ...]) -> tuple[str, ...]:
    if metrics == "all":
        return dm.METRICS
    names = tuple(m.strip() for m in metrics.split(",")) if isinstance(metrics, str) else metrics
    return tuple(one_of("metric", name, dm.METRICS) for name in names) or dm.METRICS


def summary_lines(result: dict[str, Any]) -> list[str]:
    """``done: GROUP  mig ...`` per group (or the single model) of a result, as printed."""
    groups = result.get("groups") or [{"group": "", "mean": next(iter(result["members"].values()))}]
    keys = [k for k in SUMMARY_KEYS if k in groups[0]["mean"]]
    return [
        f"done: {g['group']}  " + "  ".join(f"{k} {g['mean'][k]:.3f}" for k in keys) for g in groups
    ]


def _run_record(root: pathlib.Path) -> dict[str, Any]:
    try:
        return json.loads((root / "config.json").read_text())
    except FileNotFoundError:
        raise CheckpointError(f"no run in {root}: config.json is missing") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{root / 'config.json'} is unreadable: {e}") from None


def _score_member(
    m: LoadedModel,
    out_dir: pathlib.Path,
    truth: data.GroundTruth,
    sizes: dict[str, int],
    seed: int,
    which: tuple[str, ...],
) -> dict[str, Any]:
    def represent(images: np.ndarray) -> np.ndarray:
        return np.asarray(m.encode(images)["z"]).reshape(len(images), -1)

    scores = dm.evaluate(represent, truth, seed=seed, which=which, sizes=sizes)
    # Which factor each code captures (the mutual information MIG ranks), for the figure.
    codes, factors = dm.sample_codes(
        represent, truth, sizes["num_train"], np.random.default_rng([seed, 99])
    )
    mi = dm.mutual_info_matrix(dm.discretize(codes), factors) / dm.factor_entropy(factors)
    scores["captures"] = _captures(mi, truth.factor_names)
    scores["model"], scores["epoch"] = m.spec.name, m.epoch
    _traversals(m, out_dir / "traversals.png", codes, scores["captures"], truth)
    atomic_write(out_dir / "disentanglement.json", json.dumps(scores, indent=2) + "\n")
    return scores


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


def _sweep_name(run: dict[str, Any]) -> str | None:
    sweep = run["train"].get("sweep")
    return next(iter(sweep)) if sweep else None


def _groups(records: list[dict], scores: dict[str, dict], sweep_name: str | None) -> list[dict]:
    """Mean and std over the seeds of each swept value (all members when nothing is swept)."""
    by_value: dict[Any, list[dict]] = {}
    for r in records:
        by_value.setdefault(r.get("sweep_value"), []).append(scores[r["name"]])
    groups = []
    for value, members in by_value.items():
        keys = [k for k, v in members[0].items() if isinstance(v, int | float)]
        table = {k: np.array([m[k] for m in members], float) for k in keys}
        std = {k: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for k, v in table.items()}
        label = f"{sweep_name}={value:g}" if sweep_name else "all"
        mean = {k: float(v.mean()) for k, v in table.items()}
        groups.append({"group": label, "seeds": len(members), "mean": mean, "std": std})
    return groups


def _line(s: dict[str, Any]) -> str:
    return "  ".join(f"{k} {s[k]:.3f}" for k in SUMMARY_KEYS if k in s)


def _markdown(run: dict[str, Any], result: dict[str, Any]) -> str:
    mean = result["groups"][0]["mean"]
    keys = [k for k in TABLE_KEYS if k in mean]
    keys += [k for k in mean if k.startswith("factor_vae_accuracy_")]  # per held factor
    lines = [
        f"# Disentanglement: {run['model']} on {result['dataset']}",
        "",
        f"Metric seed {result['seed']}; samples {result['sizes']}.",
        "",
        "| member | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for name, s in result["members"].items():
        lines.append(f"| {name} | " + " | ".join(f"{s[k]:.3f}" for k in keys) + " |")
    for g in result["groups"]:
        cells = " | ".join(f"{g['mean'][k]:.3f} +/- {g['std'][k]:.3f}" for k in keys)
        lines.append(f"| {g['group']}: mean +/- std over {g['seeds']} | {cells} |")
    return "\n".join(lines) + "\n"
