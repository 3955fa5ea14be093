"""Clustering: k-means and a Gaussian mixture on the codes, k-means on the pixels, and the
class code of a categorical model (``cat_aae`` / ``m2`` trained with ``--labels 0``).

Clusters are fitted on the training images (labels unseen); each cluster is then named by
the majority label of its training members, and the test images are scored with that map
(the protocol of Makhzani et al. 2015 with 16 clusters). With as many clusters as classes,
the accuracy under the best one-to-one map (Hungarian) and NMI are reported as well.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from aezoo._validate import check_fields, option
from aezoo.rundir.run import Run
from aezoo.tasks import _common as common
from aezoo.tasks import metrics

COLUMNS = (
    ("features", "features"),
    ("method", "method"),
    ("clusters", "clusters"),
    ("test accuracy (majority map)", "accuracy"),
    ("test accuracy (Hungarian)", "hungarian_accuracy"),
    ("test NMI", "nmi"),
    ("seconds", "seconds"),
)


@dataclasses.dataclass(frozen=True)
class ClusteringOptions:
    """Settings of the clustering task."""

    clusters: tuple[int, ...] = option((16, 10), "numbers of clusters")
    num_train: int = option(0, "training images the clusters are fitted on (0: all)", low=0)
    seed: int = option(0, "seed of the sample and of the clusterings", low=0)

    def __post_init__(self) -> None:
        check_fields(self)


def cluster(method: str, train: np.ndarray, test: np.ndarray, k: int, seed: int):
    """Fit ``k`` clusters on ``train``; the cluster of every train and test row."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    if method == "kmeans":
        fitted = KMeans(k, n_init=4, random_state=seed).fit(train)
    else:
        fitted = GaussianMixture(
            k, covariance_type="full", n_init=2, reg_covar=1e-4, random_state=seed
        ).fit(train)
    return fitted.predict(train), fitted.predict(test)


def score(features: str, method: str, k: int, assign, ty, sy) -> dict:
    """``assign()`` -> the cluster of every train and test row; map clusters to labels on
    the training rows, score the test rows."""
    t0 = time.perf_counter()
    a_train, a_test = assign()
    mapping = metrics.majority_map(a_train, ty)
    classes = len(np.unique(ty))
    return {
        "features": features,
        "method": method,
        "clusters": k,
        "accuracy": metrics.majority_accuracy(a_test, sy, mapping),
        "hungarian_accuracy": metrics.hungarian_accuracy(a_test, sy) if k == classes else None,
        "nmi": metrics.nmi(a_test, sy),
        "seconds": time.perf_counter() - t0,
    }


def _run_rows(m, name: str, tx, ty, sx, sy, options: ClusteringOptions) -> list[dict]:
    """A classifying run's own class code (argmax), then k-means and GMM on its codes."""
    rows = []
    if m.spec.classifies:
        features = f"class code: {name}, labels seen: {common.labels_seen(m)}"
        own = lambda: (common.predicted_classes(m, tx), common.predicted_classes(m, sx))  # noqa: E731
        rows.append(score(features, "argmax", common.own_classes(m), own, ty, sy))
    train, test = common.codes(m, tx, ty), common.codes(m, sx, sy)
    for k in options.clusters:
        for method in ("kmeans", "gmm"):
            fit = functools.partial(cluster, method, train, test, k, options.seed)
            rows.append(score(f"codes: {name}", method, k, fit, ty, sy))
    return rows


def run(
    runs: Sequence[Run],
    options: ClusteringOptions,
    *,
    out: pathlib.Path,
    progress: bool = True,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_changed_data: bool = False,
) -> dict[str, Any]:
    """Cluster the codes of every run and the pixels; write ``clustering.json`` / ``.md``."""
    say = common.say_fn(progress)
    models = common.load_runs(runs, "clustering")
    out.mkdir(parents=True, exist_ok=True)
    tx, ty = common.subset(
        *common.split_for(models[0], "train", data_dir, cache_dir, allow_changed_data),
        options.num_train or None,
        options.seed,
    )
    sx, sy = common.split_for(models[0], "test", data_dir, cache_dir, allow_changed_data)
    rows = []
    for m, path in zip(models, runs, strict=True):
        found = _run_rows(m, common.run_name(m, path), tx, ty, sx, sy, options)
        rows += found
        for r in found:
            say(f"clustering: {_line(r)}")
    px, spx = common.pixels(tx), common.pixels(sx)
    for k in options.clusters:
        rows.append(
            score(
                "pixels",
                "kmeans",
                k,
                lambda k=k: cluster("kmeans", px, spx, k, options.seed),
                ty,
                sy,
            )
        )
        say(f"clustering: {_line(rows[-1])}")
    result = {
        "task": "clustering",
        "dataset": models[0].record.dataset_name,
        "num_train": len(ty),
        "num_test": len(sy),
        "rows": rows,
    }
    result["summary"] = [_line(r) for r in rows]
    common.write_outputs(out, "clustering", result, _markdown(result))
    return result


def _line(r: dict[str, Any]) -> str:
    hung = "" if r["hungarian_accuracy"] is None else f"  Hungarian {r['hungarian_accuracy']:.3f}"
    return (
        f"{r['features']:<44} {r['method']:<6} k={r['clusters']:<3} accuracy "
        f"{r['accuracy']:.3f}{hung}  NMI {r['nmi']:.3f}"
    )


def _markdown(result: dict[str, Any]) -> str:
    setup = (
        f"Fitted on {result['num_train']} training images; each cluster named by the "
        f"majority label of its training members; scored on the {result['num_test']} test "
        "images."
    )
    lines = [f"# Clustering on {result['dataset']}", "", setup, ""]
    return "\n".join(lines + common.table(result["rows"], COLUMNS)) + "\n"
