"""What every task shares: trained runs and their data, codes, outputs, Markdown tables."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aezoo import data
from aezoo._files import atomic_write, strict_json
from aezoo.errors import ConfigError, DataError
from aezoo.eval.likelihood import encode_and_reconstruct
from aezoo.eval.run import data_source, load_split
from aezoo.rundir.run import LoadedModel, Run


def say_fn(progress: bool) -> Callable[[str], None]:
    return (lambda msg: print(msg, file=sys.stderr)) if progress else (lambda msg: None)


def load_runs(
    runs: Sequence[str | pathlib.Path | Run], task: str, *, vectors: bool = False
) -> list[LoadedModel]:
    """The newest checkpoints of ``runs``: at least one, all trained on the same dataset (of
    images, unless the task takes ``vectors`` too)."""
    if not runs:
        raise ConfigError(f"task {task} needs at least one trained run (a workdir) to score")
    models = [Run.open(r).model() for r in runs]
    names = {m.record.dataset_name for m in models}
    if len(names) > 1:
        raise DataError(f"task {task}: the runs were trained on different datasets ({names})")
    if not vectors and data.is_vectors(models[0].config.image_shape):
        raise DataError(f"task {task} needs image runs; these were trained on tabular vectors")
    return models


def run_name(m: LoadedModel, path: str | pathlib.Path) -> str:
    """How a run is named in tables: the model and its code size, then the directory."""
    return f"{m.spec.name} ({m.config.latent_dim}-D, {pathlib.Path(path).name})"


def subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int):
    """``n`` rows drawn without replacement with ``seed`` (all rows, in a seeded random order,
    when ``n`` is None or at least the size of the split)."""
    order = np.random.default_rng(seed).permutation(len(y))
    order = np.sort(order[:n]) if n is not None and n < len(y) else order
    return x[order], y[order]


def split_for(m: LoadedModel, split: str, data_dir=None, cache_dir=None, allow_changed=False):
    """A split of the run's dataset, read as for training, in grey levels (not binarized:
    codes and pixel baselines see the same deterministic images); checked against the data
    the run recorded unless ``allow_changed``."""
    source = {**data_source(m, data_dir, cache_dir), "allow_changed_data": allow_changed}
    x, y = load_split(m, split, source)
    require_labels(m.record.dataset_name, split, y)
    return x, y


def require_labels(dataset: str, split: str, labels: np.ndarray) -> None:
    """One line when a split has unlabelled rows: the tasks score codes against labels
    (neighbours, clusters, relevance, classes); ``aezoo eval`` serves unlabelled runs."""
    unlabelled = int(np.sum(labels < 0))
    if unlabelled:
        raise DataError(
            f"the tasks score codes against labels, and {unlabelled} of the {len(labels)} rows "
            f"of the {split} split of {dataset!r} are unlabelled; label them (class folders, "
            "a y array) or use aezoo eval, which serves unlabelled runs"
        )


def codes(m: LoadedModel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[N, D]`` codes: the posterior mean of a VAE, the code of an AE."""
    return encode_and_reconstruct(m.spec, m.module, m.params, x, y)["code"]


def predicted_classes(m: LoadedModel, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """``[N]`` argmax of a classifying run's ``classify`` (semi-supervised models)."""
    parts = [
        np.argmax(np.asarray(m.classify(x[i : i + batch_size])), axis=-1)
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(parts)


def labels_seen(m: LoadedModel) -> str:
    """How many training labels a run saw: ``--labels N``, all of them, or none (a model that
    clusters without labels)."""
    # A semi-supervised model's config is a FewLabelsConfig (the registry test checks it).
    n = m.config.labels if m.spec.semi_supervised else None
    return "none" if m.spec.clusters else "all" if n is None else str(n)


def own_classes(m: LoadedModel) -> int:
    """How many classes (or clusters) a classifying run's ``classify`` tells apart."""
    return m.spec.classes(m.config)


def pixels(x: np.ndarray) -> np.ndarray:
    """Images as ``[N, H*W*C]`` floats in [0, 1]."""
    x = np.asarray(x)
    flat = x.reshape(len(x), -1).astype(np.float32)
    return flat / 255.0 if x.dtype == np.uint8 else flat


def write_outputs(out: pathlib.Path, name: str, result: dict[str, Any], markdown: str) -> None:
    atomic_write(out / f"{name}.json", strict_json(result, indent=2) + "\n")
    atomic_write(out / f"{name}.md", markdown)


def table(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> list[str]:
    """A Markdown table: ``columns`` are (header, key); floats with 3 decimals, booleans
    yes / no, missing values '-'."""
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for _, key in columns:
            v = row.get(key)
            if isinstance(v, bool):
                v = "yes" if v else "no"
            cells.append("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return lines
