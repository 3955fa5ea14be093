"""What autoencoders are for, as measured tasks: manifold learning beside classical
dimensionality reduction, retrieval (real codes and semantic hashing), clustering,
semi-supervised classification with few labels, and one-class anomaly detection. Each task
is ``run(runs, options, out=..., ...) -> dict`` and writes ``NAME.json`` and ``NAME.md``
(and figures) into its output directory.

>>> from aezoo.tasks import TASKS
>>> sorted(TASKS)
['anomaly', 'clustering', 'manifold', 'retrieval', 'semisupervised']
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

from aezoo import data
from aezoo._registry import Registry
from aezoo._validate import output_dir
from aezoo.eval import Context, Evaluator, register_evaluator
from aezoo.rundir.run import Run
from aezoo.tasks import anomaly, clustering, manifold, metrics, retrieval, semisupervised


@dataclasses.dataclass(frozen=True)
class Task:
    """A task: its options dataclass (CLI flags are generated from it) and its runner."""

    name: str
    description: str
    options_cls: type
    run: Callable[..., dict[str, Any]]
    takes_runs: bool = True


def flat_metrics(task: str, rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """A task's result rows as flat metrics: ``TASK/ROW/KEY`` for every number of a row,
    the row named by its text fields and sizes (``retrieval/codes: vae (...)/euclidean/map``)."""
    out = {}
    for row in rows:
        names = [str(v) for k, v in row.items() if isinstance(v, str) or k in _ROW_SIZES]
        for key, value in row.items():
            if key in _ROW_SIZES or key == "seconds" or isinstance(value, bool | str):
                continue
            if isinstance(value, int | float):
                out[f"{task}/{'/'.join(names)}/{key}"] = value
    return out


_ROW_SIZES = ("dims", "clusters", "class")


def _as_evaluator(task: Task) -> Evaluator:
    """The task on one run, as an evaluator: its outputs in ``RUN/task-NAME/``, its rows as
    flat metrics (not a default: each task costs more than the rest of an evaluation)."""

    def run(context: Context) -> dict[str, Any]:
        result = task.run(
            [context.run],
            task.options_cls(),
            out=context.workdir / f"task-{task.name}",
            progress=context.options["progress"],
            data_dir=context.source["data_dir"],
            cache_dir=context.source["cache_dir"],
            allow_changed_data=bool(context.source.get("allow_changed_data")),
        )
        return flat_metrics(task.name, result["rows"])

    return Evaluator(
        task.name,
        f"task {task.name} on this run with its defaults: {task.description}",
        run,
        images=task.name != "semisupervised",
        labels=True,
        default=False,
    )


def _also_evaluator(task: Task) -> None:
    if task.takes_runs:
        register_evaluator(_as_evaluator(task), replace=True)


TASKS: Registry[Task] = Registry(
    "task",
    (
        Task(
            "manifold",
            "2-D / 10-D embeddings: codes vs PCA, Isomap, LLE, t-SNE (UMAP): "
            "trustworthiness, continuity, k-NN accuracy, time",
            manifold.ManifoldOptions,
            manifold.run,
        ),
        Task(
            "retrieval",
            "test queries against the training set: mAP and precision@k of codes, "
            "bits (semantic hashing), pixels, PCA, LSH",
            retrieval.RetrievalOptions,
            retrieval.run,
        ),
        Task(
            "clustering",
            "k-means and a Gaussian mixture on codes vs k-means on pixels: "
            "accuracy (majority map, Hungarian), NMI",
            clustering.ClusteringOptions,
            clustering.run,
        ),
        Task(
            "semisupervised",
            "few labels: logistic regression on codes (M1) vs classifiers on the labelled "
            "pixels alone; test error over label draws",
            semisupervised.SemiSupervisedOptions,
            semisupervised.run,
        ),
        Task(
            "anomaly",
            "one-class anomaly detection: a model per normal class, AUROC of "
            "reconstruction (NLL, squared error), -ELBO, IS NLL and latent density",
            anomaly.AnomalyOptions,
            anomaly.run,
            takes_runs=False,
        ),
    ),
    then=_also_evaluator,
)
register_task = TASKS.register
"""Add a task (a plug-in's); one that takes runs is also an evaluator of one run."""


def run_task(
    name: str,
    runs: Sequence[str | pathlib.Path | Run] = (),
    *,
    out: str | pathlib.Path | None = None,
    progress: bool = True,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_changed_data: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Run task ``name`` on the trained ``runs`` (workdirs; none for ``anomaly``, which
    trains its own) with ``options`` (fields of the task's options class); outputs go to
    ``out`` (default ``runs/task-NAME``), never into the data a run was trained on.
    ``allow_changed_data`` scores data that differ from what the runs recorded. Returns the
    result also written as JSON."""
    task = TASKS.get(name)
    opts = task.options_cls(**options)
    opened = [Run.open(r) for r in runs]  # one line for a folder that holds no run
    if name == "anomaly":
        datasets = data.source_paths(opts.dataset)
    else:
        datasets = [p for run in opened for p in data.source_paths(run.record.dataset_name)]
    target = output_dir(out if out is not None else f"runs/task-{name}", "--out", datasets=datasets)
    return task.run(
        opened,
        opts,
        out=target,
        progress=progress,
        data_dir=data_dir,
        cache_dir=cache_dir,
        allow_changed_data=allow_changed_data,
    )


__all__ = [
    "TASKS",
    "Task",
    "anomaly",
    "clustering",
    "flat_metrics",
    "manifold",
    "metrics",
    "register_task",
    "retrieval",
    "run_task",
    "semisupervised",
]
