"""``aezoo eval WORKDIR``: evaluate a trained run, write ``eval.json`` and ``report.md``."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from aezoo import data, viz
from aezoo._files import strict_json
from aezoo._registry import Registry
from aezoo._validate import Options, option, writable_dir
from aezoo.errors import ConfigError, DataError
from aezoo.eval import _spread, likelihood, representation
from aezoo.eval._evaluator import Context, Evaluator, check_given, choose
from aezoo.rundir.run import LoadedModel, Run, load_run_split
from aezoo.train import EVAL_SEED, TrainConfig, make_eval_fn, write_figures

REPORT_FIGURES = (
    ("reconstructions.png", "Test inputs and reconstructions"),
    ("samples.png", "Samples from the prior"),
    ("manifold.png", "2-D latent manifold: decoder outputs on a latent grid"),
    ("latent_scatter.png", "Test codes coloured by label"),
    ("interpolation.png", "Interpolation: latent space vs pixel space"),
)


def evaluate(
    workdir: str | pathlib.Path,
    *,
    evaluators: Sequence[str] | None = None,
    split: str = "test",
    data_dir: str | None = None,
    cache_dir: str | None = None,
    best: bool = False,
    progress: bool = True,
    allow_changed_data: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Evaluate the newest checkpoint in ``workdir`` (or with ``best`` the params kept by
    ``--keep-best``) on ``split``; returns the flat metrics also written to ``eval.json``
    (and ``report.md``, with figures, next to it). On a vmapped run (``seeds`` / ``sweep``),
    every member is evaluated in ``members/NAME/`` and the run's own ``eval.json`` holds them
    all with the mean and std over the seeds of each swept value.

    ``evaluators``: names from :data:`EVALUATORS` (one-line error for one the run cannot
    serve); default: every default evaluator the run can serve. ``options``: the chosen
    evaluators' settings (``nll_samples=100``, ``probe_train=2000``, ``num_train=...``;
    ``nll_samples=0`` leaves ``nll`` out of the default set). An ``eval.json`` of the same
    checkpoint and split is updated, not replaced, so evaluators can run one at a time.
    Data whose fingerprint differs from the one the run recorded is refused in one line;
    ``allow_changed_data`` scores it anyway and records what changed (``data_changed``).
    """
    if evaluators is not None and not list(evaluators):
        raise ConfigError(
            f"--evaluators names no evaluator; give one or more of {', '.join(EVALUATORS)} "
            "(or leave it out for the default set)"
        )
    check_given(EVALUATORS, options)
    run = Run.open(writable_dir(workdir, "workdir"))
    common = {"split": split, "data_dir": data_dir, "cache_dir": cache_dir, "best": best}
    common["allow_changed_data"] = allow_changed_data
    with run.lock():
        if run.record.vmapped:
            return _evaluate_members(run, evaluators, progress, common, options)
        return _evaluate_one(run, evaluators, progress, common, options)


def _evaluate_one(run: Run, names, progress: bool, common: dict, options: dict) -> dict[str, Any]:
    root = run.path
    m = run.model(best=common["best"])
    dataset = reloadable_dataset(run)
    say = _say(progress)
    source = data_source(m, common["data_dir"], common["cache_dir"])
    source["allow_changed_data"] = common["allow_changed_data"]
    split = common["split"]
    x_eval, y_eval = split_arrays(m, split, source)
    if len(y_eval) < 2:
        raise DataError(
            f"split {split!r} holds {len(y_eval)} example(s); an evaluation needs at least 2"
        )
    context = Context(m, run, split, x_eval, y_eval, source, {"progress": progress}, say)
    registry, given = EVALUATORS, dict(options)
    if given.get("nll_samples") == 0 and names is None:
        registry = {name: e for name, e in EVALUATORS.items() if name != "nll"}
        given.pop("nll_samples")
    chosen = choose(registry, names, context, given)
    say(
        f"aezoo eval {root}: {m.spec.name} on {dataset}/{split}, epoch {m.epoch} "
        f"({', '.join(e.name for e in chosen)})"
    )
    results: dict[str, Any] = {
        "model": m.spec.name,
        "dataset": dataset,
        "split": split,
        "epoch": m.epoch,
        "params": "best" if common["best"] else "newest checkpoint",
        "num_examples": len(y_eval),
        "evaluators": [e.name for e in chosen],
    }
    t0 = time.perf_counter()
    for evaluator in chosen:
        results.update(evaluator.run(context))
    results["seconds"] = time.perf_counter() - t0
    if source.get("changed"):
        results["data_changed"] = source["changed"]  # scored with --allow-changed-data
    results, document = _merged_with_previous(root / "eval.json", results)
    run.write("eval.json", strict_json(document, indent=2) + "\n")
    run.write("report.md", _report(m, results, root))
    say(f"wrote {root / 'eval.json'} and {root / 'report.md'}")
    return results


def _evaluate_members(run: Run, names, progress: bool, common: dict, options: dict):
    say = _say(progress)
    scores = {}
    members = run.members()
    for i, member in enumerate(members):
        name = member.path.name
        say(f"member {i + 1}/{len(members)}: {name}")
        with member.lock():
            scores[name] = _evaluate_one(member, names, progress, common, options)
    first = next(iter(scores.values()))
    result = {
        "model": run.record.model,
        "dataset": first["dataset"],
        "split": common["split"],
        "evaluators": first["evaluators"],
        "members": scores,
        "groups": _spread.groups(run.record.members, scores, run.record.sweep_name),
    }
    title = f"aezoo evaluation: {run.record.model} on {result['dataset']}/{common['split']}"
    run.write("eval.json", strict_json(result, indent=2) + "\n")
    run.write("report.md", _spread.markdown(title, result))
    say(f"wrote {run.path / 'eval.json'} and {run.path / 'report.md'}")
    return result


def _say(progress: bool):
    return (lambda msg: print(msg, file=sys.stderr)) if progress else (lambda msg: None)


_SAME_PARAMS = ("model", "dataset", "epoch", "params")


def _merged_with_previous(
    path: pathlib.Path, results: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(results, eval.json)``: ``results`` over the metrics of an earlier evaluation of the
    same params and split (so ``--evaluators disentanglement`` after a full evaluation keeps
    the NLL), and the file's document: one evaluation per split, the newest whole split at
    the top and the others under ``splits`` (an evaluation of a slice never replaces that
    of the whole split). Evaluations of other params are dropped."""
    entries, top = _previous_entries(path, results)
    split = results["split"]
    old = entries.get(split)
    if old is not None and old.get("num_examples") == results["num_examples"]:
        ran = list(dict.fromkeys([*old.get("evaluators", []), *results["evaluators"]]))
        results = {**old, **results, "evaluators": ran}
    entries[split] = results
    if "[" not in split or top is None or "[" in top:
        top = split
    others = {s: r for s, r in entries.items() if s != top}
    document = {**entries[top], **({"splits": others} if others else {})}
    return results, document


def _previous_entries(
    path: pathlib.Path, results: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """The evaluations in an earlier eval.json of the same params, by split, and the split
    at its top (None when there is none)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}, None
    if not isinstance(old, dict) or not isinstance(old.get("split"), str):
        return {}, None
    splits = old.pop("splits", None)
    found = {**(splits if isinstance(splits, dict) else {}), old["split"]: old}
    entries = {
        s: r
        for s, r in found.items()
        if isinstance(r, dict) and all(r.get(k) == results[k] for k in _SAME_PARAMS)
    }
    return entries, old["split"] if old["split"] in entries else None


def _codes(context: Context) -> np.ndarray:
    """The split's codes (computed once, by the objective evaluator or here)."""
    if "stats" not in context.shared:
        context.shared["stats"] = likelihood.encode_and_reconstruct(
            context.m.spec, context.m.module, context.m.params, context.x, context.y
        )
    return context.shared["stats"]["code"]


def _objective(context: Context) -> dict[str, Any]:
    results: dict[str, Any] = {}
    context.shared["stats"] = _objective_and_codes(
        context.m, context.x, context.y, context.prefix, results
    )
    return results


def _nll(context: Context) -> dict[str, Any]:
    k = context.options["nll_samples"]
    m, x, y = context.m, context.x, context.y
    return _is_nll(m, x, y, k, context.prefix, context.options["progress"])


def _probes_evaluator(context: Context) -> dict[str, Any]:
    context.say("probes: logistic regression and 5-NN on codes, pixels and PCA")
    n = context.options["probe_train"]
    args = (context.m, context.split, context.source, _codes(context))
    return _probes(*args, context.x, context.y, n)


def _figures_evaluator(context: Context) -> dict[str, Any]:
    label = context.run.member_label
    _figures(context.m, context.workdir, context.x, context.y, _codes(context), label)
    return {}


@dataclasses.dataclass(frozen=True)
class NllOptions(Options):
    nll_samples: int = option(
        5000, "nll: importance samples K; 0 leaves nll out of the default set", low=0
    )


@dataclasses.dataclass(frozen=True)
class ProbeOptions(Options):
    probe_train: int = option(
        10_000, "probes: training examples of the logistic-regression and k-NN probes", low=1
    )


EVALUATORS: Registry[Evaluator] = Registry(
    "evaluator",
    (
        Evaluator(
            "objective",
            "the model's own loss as in training (its fixed eval key), reconstruction NLL, "
            "MSE, PSNR, KL per dimension (models with a N(0, I) prior), active units",
            _objective,
            in_training=True,
        ),
        Evaluator(
            "nll",
            "importance-sampled negative log-likelihood with K = --nll-samples, bits/dim",
            _nll,
            needs=("density",),
            in_training=True,
            options_cls=NllOptions,
            check=lambda c: _at_least("--nll-samples", c.options["nll_samples"], 1),
        ),
        Evaluator(
            "probes",
            "logistic regression and 5-NN on the codes, beside pixels and PCA of the same size",
            _probes_evaluator,
            labels=True,
            in_training=True,
            options_cls=ProbeOptions,
        ),
        Evaluator(
            "figures",
            "reconstructions, samples, latent manifold, code scatter, interpolation",
            _figures_evaluator,
            images=True,
        ),
    ),
    extends=("aezoo.eval.builtin", "aezoo.tasks"),
)
register_evaluator = EVALUATORS.register
"""Add an evaluator (``aezoo.tasks`` adds its run-scoring tasks; a plug-in its own);
``replace=True`` replaces one of the same name."""


def _at_least(flag: str, value: Any, low: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        return f"{flag} must be an integer >= {low}; got {value!r}"
    return None


def reloadable_dataset(run: Run) -> str:
    """The name the run's dataset is reloaded by; a one-line error for arrays given to fit."""
    if run.record.dataset is None:
        raise DataError(
            f"the run in {run.path} was trained on arrays passed to fit (dataset "
            f"{run.record.dataset_name!r}): evaluation reloads the data by name; set "
            "TrainConfig(dataset=NAME) when training"
        )
    return run.record.dataset


def data_source(m: LoadedModel, data_dir: str | None, cache_dir: str | None) -> dict:
    """The keyword arguments of :func:`aezoo.data.load` that read a run's dataset as it was
    read for training."""
    options = TrainConfig.from_record(m.record.train).data_options()
    return {"data_dir": data_dir, "cache_dir": cache_dir, "options": options}


def split_arrays(m: LoadedModel, split: str, source: dict) -> tuple[np.ndarray, np.ndarray]:
    """A split of the run's dataset as the model scores it: binarized once with the fixed
    test key when the run binarizes, labels int32."""
    raw_x, raw_y = load_split(m, split, source)
    return data.binarize_once(raw_x, m.record.binarize), raw_y


def load_split(m: LoadedModel, split: str, source: dict) -> tuple[np.ndarray, np.ndarray]:
    """A split of the run's dataset read as for training (grey levels, labels int32), checked
    against the data fingerprint the run recorded: a one-line DataError when the data behind
    the name changed, unless ``source["allow_changed_data"]`` (then the change is noted in
    ``source["changed"]``, which evaluation records)."""
    x, y, why = load_run_split(
        m.record,
        split,
        data_dir=source.get("data_dir"),
        cache_dir=source.get("cache_dir"),
        allow_changed_data=bool(source.get("allow_changed_data")),
    )
    if why is not None:
        source.setdefault("changed", {})[split.split("[")[0].strip()] = why
    return x, y


def _objective_and_codes(m: LoadedModel, x, y, prefix: str, results: dict) -> dict:
    """Adds the model's own objective (as in training, with its fixed eval key), the
    reconstruction, KL per dimension and active units to ``results``; returns the codes."""
    evaluate_loss = make_eval_fn(m.spec, m.module, batch_size=500)
    rng = jax.random.key(EVAL_SEED)
    metrics = jax.device_get(evaluate_loss(m.params, jnp.asarray(x), jnp.asarray(y), rng))
    results.update({prefix + k: float(v) for k, v in metrics.items()})
    if "nll_bound" in metrics:
        results[prefix + "elbo"] = -float(metrics["nll_bound"])
        bits = likelihood.reported_bits_per_dim(float(metrics["nll_bound"]), m.config)
        if bits is not None:
            results[prefix + "bound_bits_per_dim"] = bits
    stats = likelihood.encode_and_reconstruct(m.spec, m.module, m.params, x, y)
    results[prefix + "recon"] = float(np.mean(stats["recon"]))
    results[prefix + "mse"] = float(np.mean(stats["mse"]))
    results[prefix + "psnr"] = float(np.mean(stats["psnr"]))
    results["latent_dim"] = int(stats["code"].shape[1])
    results["active_units"] = likelihood.active_units(stats["code"])
    if "kl_dims" in stats and "normal_prior" in m.spec.capabilities:
        results["kl_per_dim"] = [float(v) for v in np.mean(stats["kl_dims"], axis=0)]
    elif "kl_dims" in stats:  # a Gaussian code under another prior: KL to N(0, I) is not its KL
        results["kl_per_dim_note"] = (
            f"not reported: {m.spec.name}'s prior is not N(0, I) (normal_prior is not among "
            "its capabilities), and a KL to N(0, I) is not its KL"
        )
    return stats


def _is_nll(m: LoadedModel, x, y, k: int, prefix: str, progress: bool) -> dict[str, float]:
    batch_size = likelihood.IS_BATCH
    log_px_fn = likelihood.make_log_px_fn(m.spec, m.module, num_samples=k, batch_size=batch_size)
    rng = jax.random.key(EVAL_SEED + 1)
    values = []
    # Without a terminal (a log file) the bar still writes a line every 30 s.
    bar = tqdm(
        total=len(y),
        unit="img",
        desc=f"IS NLL K={k}",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
        mininterval=1.0 if sys.stderr.isatty() else 30.0,
    )
    for i, start in enumerate(range(0, len(y), batch_size)):
        batch = {
            "image": data.to_float(jnp.asarray(x[start : start + batch_size])),
            "label": jnp.asarray(y[start : start + batch_size]),
        }
        values.append(np.asarray(log_px_fn(m.params, batch, jax.random.fold_in(rng, i))))
        bar.update(len(batch["label"]))
    bar.close()
    log_px = np.concatenate(values)
    nll = float(-np.mean(log_px))
    out = {
        prefix + "nll_is": nll,
        prefix + "nll_is_stderr": float(np.std(log_px) / math.sqrt(len(log_px))),
        "nll_samples": k,
    }
    bits = likelihood.reported_bits_per_dim(nll, m.config)
    if bits is not None:
        out[prefix + "bits_per_dim"] = bits
    return out


def _probes(m: LoadedModel, split, source, test_codes, test_x, test_y, n_train):
    """Probe accuracies on codes, and on pixels / PCA of the code's dimension as baselines.

    The probes are fitted on the training split, or on the test split when the evaluated
    rows come from the training split: never on the rows they score."""
    binarize = m.record.binarize
    fit_split = "test" if split.split("[")[0].strip() == "train" else "train"
    train_x, train_y = load_split(m, fit_split, source)
    n = min(n_train, len(train_y))
    tx = data.binarize_once(np.asarray(train_x[:n]), binarize)
    ty = np.asarray(train_y[:n], np.int32)
    train_codes = likelihood.encode_and_reconstruct(m.spec, m.module, m.params, tx, ty)["code"]
    out = {}
    probe = representation.probe_accuracies(train_codes, ty, test_codes, test_y)
    out.update({f"probe/{k}": v for k, v in probe.items()})
    pix_train = np.asarray(data.to_float(jnp.asarray(tx))).reshape(n, -1)
    pix_test = np.asarray(data.to_float(jnp.asarray(test_x))).reshape(len(test_y), -1)
    probe = representation.probe_accuracies(pix_train, ty, pix_test, test_y)
    out.update({f"baseline/pixels_{k}": v for k, v in probe.items()})
    # PCA to the code's dimension, capped by what the pixels allow (a 100-D code on 8x8
    # digits is compared with all 64 components).
    dim = min(test_codes.shape[1], pix_train.shape[1], n)
    pca_train, pca_test = representation.pca_features(pix_train, pix_test, dim)
    probe = representation.probe_accuracies(pca_train, ty, pca_test, test_y)
    out.update({f"baseline/pca{dim}_{k}": v for k, v in probe.items()})
    out["probe/train_examples"] = n
    out["probe/fit_split"] = fit_split
    return out


def _decode_means(m: LoadedModel, z: jax.Array) -> np.ndarray:
    label = jnp.zeros((z.shape[0],), jnp.int32)  # conditional models: label 0
    return np.asarray(m.module.apply({"params": m.params}, z, label=label, method="decode")["mean"])


def _figures(
    m: LoadedModel, workdir: pathlib.Path, x, y, codes: np.ndarray, label: str = ""
) -> None:
    from scipy.stats import norm

    write_figures(workdir, m.spec, m.module, m.params, (x, y), label=label)
    name = f"{m.spec.name}{label}"
    note = " (decoded with label 0)" if m.spec.conditional else ""
    dim = codes.shape[1]
    if dim == 2 and m.config.latent_dim == 2:
        n = 20
        if "normal_prior" in m.spec.capabilities:  # a Gaussian-quantile grid over N(0, I)
            grid = norm.ppf(np.linspace(0.05, 0.95, n))
            kind = "Gaussian-quantile grid over the N(0, I) prior"
        else:  # no known prior density: span the test codes
            lo, hi = np.percentile(codes, [1, 99])
            grid = np.linspace(lo, hi, n)
            kind = "grid over the test codes' 1-99th percentiles"
        zz = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)  # row-major: z[1] rows
        images = _decode_means(m, jnp.asarray(zz, jnp.float32))
        viz.save_manifold(workdir / "manifold.png", images, grid, title=f"{name}: {kind}{note}")
        shown, axes = codes, ("z[0]", "z[1]")
    else:
        from sklearn.decomposition import PCA

        shown = PCA(n_components=2, random_state=0).fit_transform(codes)
        axes = ("PC 1 of the codes", "PC 2 of the codes")
    viz.save_latent_scatter(
        workdir / "latent_scatter.png",
        shown[:5000],
        y[:5000],
        title=f"{name}: test codes ({dim}-D{', PCA' if dim > 2 else ''})",
        axis_names=axes,
    )
    _interpolation(m, workdir, x, y, name)


def interpolation(m: LoadedModel, x, y, a: int, b: int, steps: int = 10) -> np.ndarray:
    """Decoder means ``[steps, H, W, C]`` along the straight line between the codes of
    test images ``a`` and ``b`` (posterior means; a VQ-VAE's code vectors re-quantized)."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    xa, xb = (data.to_float(jnp.asarray(x[i : i + 1])) for i in (a, b))
    q = m.module.apply(
        {"params": m.params},
        jnp.concatenate([xa, xb]),
        label=jnp.asarray(y[[a, b]]),
        method="encode",
    )
    za, zb = (q["z_mean"] if "z_mean" in q else q["z"]).reshape(2, -1)
    z_path = (1 - t) * za[None] + t * zb[None]
    if "z_q" in q:  # VQ-VAE: interpolate the code vectors, then re-quantize
        z_path = m.module.apply(
            {"params": m.params},
            z_path.reshape(steps, *q["z_q"].shape[1:]),
            method=lambda mod, z: mod.codebook(z)[0],
        )
    return _decode_means(m, jnp.asarray(z_path))


def other_class(y: np.ndarray, a: int = 0) -> int:
    """The first test image of another class than image ``a`` (unlabelled: the next one)."""
    return int(np.argmax(y != y[a])) or min(a + 1, len(y) - 1)


def _interpolation(m: LoadedModel, workdir: pathlib.Path, x, y, name: str) -> None:
    """Decoding a straight line between two test images' codes (of two classes where the
    data are labelled) vs blending their pixels."""
    a, b = 0, other_class(y)
    latent_row = interpolation(m, x, y, a, b)
    t = np.linspace(0.0, 1.0, 10, dtype=np.float32)[:, None, None, None]
    xa, xb = (np.asarray(data.to_float(jnp.asarray(x[i : i + 1]))) for i in (a, b))
    pixel_row = (1 - t) * xa + t * xb
    viz.save_image_rows(
        workdir / "interpolation.png",
        [latent_row, pixel_row],
        ["latent space", "pixel space"],
        title=f"{name}: test image {a} -> {b}"
        + (f" (class {y[a]} -> {y[b]})" if y[a] >= 0 else "")
        + "; decoding a straight line in latent space stays on the data manifold, blending "
        "pixels does not",
    )


def _report(m: LoadedModel, results: dict[str, Any], workdir: pathlib.Path) -> str:
    lines = [
        f"# aezoo evaluation: {m.spec.name} on {results['dataset']}/{results['split']}",
        "",
        f"Checkpoint epoch {results['epoch']}, {results['num_examples']} examples, "
        f"evaluated in {results['seconds']:.1f} s by {', '.join(results['evaluators'])}."
        + _probe_note(results),
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for k, v in results.items():
        if isinstance(v, float):
            lines.append(f"| `{k}` | {v:.4f} |")
        elif isinstance(v, int) and k not in ("epoch",):
            lines.append(f"| `{k}` | {v} |")
    if "kl_per_dim" in results:
        kl = ", ".join(f"{v:.2f}" for v in results["kl_per_dim"])
        lines += ["", f"KL per latent dimension (nats): {kl}"]
    if "kl_per_dim_note" in results:
        lines += ["", f"KL per latent dimension: {results['kl_per_dim_note']}"]
    lines += ["", "## Figures", ""]
    for name, caption in REPORT_FIGURES + tuple(
        (p.name, p.stem.replace("_", " "))
        for p in sorted(workdir.glob("*.png"))
        if p.name not in {n for n, _ in REPORT_FIGURES}
    ):
        if (workdir / name).exists():
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    return "\n".join(lines) + "\n"


def _probe_note(results: dict[str, Any]) -> str:
    if "probe/train_examples" not in results:
        return ""
    return (
        f" Probes fitted on {results['probe/train_examples']} examples of the "
        f"{results['probe/fit_split']} split."
    )


SUMMARY_KEYS = (
    "{split}/loss",
    "disentanglement/mig",
    "disentanglement/factor_vae_score",
    "{split}/elbo",
    "{split}/nll_is",
    "active_units",
    "probe/logreg_acc",
    "probe/knn_acc",
)


def summary_line(results: dict[str, Any]) -> str:
    """The headline numbers of an evaluation, on one line (of a multi-seed run: each group's
    means); the split's own keys (``val/loss`` for ``--split val``)."""
    if "groups" in results:
        return "; ".join(f"{g['group']}: {summary_line(g['mean'])}" for g in results["groups"])
    split = results.get("split", "test")
    keys = [k.format(split=split) for k in SUMMARY_KEYS]
    keys += [  # sample quality: the Fréchet distance of each sampler scored
        k for k in results if k.startswith(f"{split}/fd_") and not k.endswith(("_std", "_train"))
    ]
    return ", ".join(
        f"{k} {results[k]:.3f}" if isinstance(results[k], float) else f"{k} {results[k]}"
        for k in keys
        if k in results
    )
