"""Manifold learning: autoencoder codes beside classical dimensionality reduction.

The same test images are embedded by every trained run (its codes, of the run's latent size)
and by PCA, Isomap, LLE and t-SNE (scikit-learn; UMAP with ``umap-learn`` installed) to each
of the runs' code sizes. Each embedding is scored by trustworthiness and continuity (k
neighbours), leave-one-out 5-NN accuracy, and its time; whether the method can embed a new
point without refitting (an encoder can; t-SNE cannot) is a column of the table.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from aezoo import viz
from aezoo._validate import check_fields, one_of, option
from aezoo.errors import DataError
from aezoo.rundir.run import Run
from aezoo.tasks import _common as common
from aezoo.tasks import metrics

METHODS = ("pca", "isomap", "lle", "tsne", "umap")
OUT_OF_SAMPLE = {"pca": True, "isomap": True, "lle": True, "tsne": False, "umap": True}
COLUMNS = (
    ("method", "method"),
    ("dims", "dims"),
    ("trustworthiness", "trustworthiness"),
    ("continuity", "continuity"),
    ("5-NN acc (LOO)", "knn_acc"),
    ("seconds", "seconds"),
    ("embeds new points", "out_of_sample"),
)


@dataclasses.dataclass(frozen=True)
class ManifoldOptions:
    """Settings of the manifold-learning task."""

    num_points: int = option(2000, "test images embedded by every method", low=20)
    neighbors: int = option(10, "k of trustworthiness and continuity", low=1)
    methods: str = option(
        "pca,isomap,lle,tsne",
        "classical methods beside the runs, "
        "comma-separated: pca, isomap, lle, tsne, umap (needs umap-learn)",
    )
    seed: int = option(0, "seed of the image sample and of the methods", low=0)

    def __post_init__(self) -> None:
        check_fields(self)
        for name in self.method_names():
            one_of("method", name, METHODS)
        if "umap" in self.method_names():
            _require_umap()

    def method_names(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.methods.split(",") if m.strip())


def _require_umap() -> None:
    import importlib.util

    from aezoo.errors import ConfigError

    if importlib.util.find_spec("umap") is None:
        raise ConfigError("method umap needs umap-learn: pip install 'aezoo[umap]'")


def embed(method: str, x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """``x [N, D]`` embedded to ``dims`` dimensions by a classical method."""
    from sklearn import decomposition, manifold

    k = max(10, dims + 2)  # LLE needs more neighbours than output dimensions
    if method == "pca":
        return decomposition.PCA(dims, random_state=seed).fit_transform(x)
    if method == "isomap":
        return manifold.Isomap(n_neighbors=k, n_components=dims).fit_transform(x)
    if method == "lle":
        lle = manifold.LocallyLinearEmbedding(
            n_neighbors=k, n_components=dims, random_state=seed, eigen_solver="dense"
        )
        return lle.fit_transform(x)
    if method == "tsne":
        return manifold.TSNE(dims, init="pca", random_state=seed).fit_transform(x)
    import umap  # optional extra, checked by ManifoldOptions

    return umap.UMAP(n_components=dims, random_state=seed).fit_transform(x)


def _score(
    name: str,
    dims: int,
    x: np.ndarray,
    y: np.ndarray,
    e: np.ndarray,
    seconds: float,
    k: int,
    out_of_sample: bool,
) -> dict[str, Any]:
    return {
        "method": name,
        "dims": dims,
        "seconds": seconds,
        "out_of_sample": out_of_sample,
        "trustworthiness": metrics.trustworthiness(x, e, k),
        "continuity": metrics.continuity(x, e, k),
        "knn_acc": metrics.knn_accuracy(e, y),
    }


def _check_size(n: int, options: ManifoldOptions) -> None:
    """One line when ``n`` points are too few for the neighbourhoods the scores and the
    graph-based methods use (k neighbours of each point among the others)."""
    least = 2 * max(options.neighbors, 10) + 2
    if n < least:
        raise DataError(
            f"task manifold needs at least {least} test examples for --neighbors "
            f"{options.neighbors}; the run's test split has {n} test examples"
        )


def run(
    runs: Sequence[Run],
    options: ManifoldOptions,
    *,
    out: pathlib.Path,
    progress: bool = True,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_changed_data: bool = False,
) -> dict[str, Any]:
    """Embed ``options.num_points`` test images with every run and method; write
    ``manifold.json``, ``manifold.md`` and ``manifold.png`` (the 2-D embeddings)."""
    say = common.say_fn(progress)
    models = common.load_runs(runs, "manifold")
    x, y = common.subset(
        *common.split_for(models[0], "test", data_dir, cache_dir, allow_changed_data),
        options.num_points,
        options.seed,
    )
    _check_size(len(x), options)
    out.mkdir(parents=True, exist_ok=True)
    flat, k = common.pixels(x), options.neighbors
    # The original space: trustworthiness and continuity are 1 by definition.
    rows = [
        {
            "method": "pixels",
            "dims": flat.shape[1],
            "knn_acc": metrics.knn_accuracy(flat, y),
            "seconds": 0.0,
            "out_of_sample": True,
        }
    ]
    panels = []
    for m, path in zip(models, runs, strict=True):
        t0 = time.perf_counter()
        e = common.codes(m, x, y)
        rows.append(
            _score(
                common.run_name(m, path), e.shape[1], flat, y, e, time.perf_counter() - t0, k, True
            )
        )
        panels += [(_caption(rows[-1]), e)] if e.shape[1] == 2 else []
        say(f"manifold: {rows[-1]['method']}: trustworthiness {rows[-1]['trustworthiness']:.3f}")
    for dims in sorted({m.config.latent_dim for m in models}):
        for method in options.method_names():
            if method == "tsne" and dims > 3:  # Barnes-Hut t-SNE is for 2-D / 3-D maps
                continue
            say(f"manifold: {method} to {dims}-D on {len(y)} points")
            t0 = time.perf_counter()
            e = embed(method, flat, dims, options.seed)
            rows.append(
                _score(method, dims, flat, y, e, time.perf_counter() - t0, k, OUT_OF_SAMPLE[method])
            )
            panels += [(_caption(rows[-1]), e)] if dims == 2 else []
    if panels:
        viz.save_scatter_grid(
            out / "manifold.png", panels, y, title=f"2-D embeddings of {len(y)} test images"
        )
    result = {
        "task": "manifold",
        "dataset": models[0].record.dataset_name,
        "num_points": len(y),
        "neighbors": k,
        "rows": rows,
    }
    result["summary"] = [_line(r) for r in rows]
    common.write_outputs(out, "manifold", result, _markdown(result, bool(panels)))
    return result


def _caption(row: dict[str, Any]) -> str:
    return (
        f"{row['method']}\ntrustworthiness {row['trustworthiness']:.2f}, 5-NN {row['knn_acc']:.2f}"
    )


def _line(row: dict[str, Any]) -> str:
    value = lambda key: "  -  " if row.get(key) is None else f"{row[key]:.3f}"  # noqa: E731
    return (
        f"{row['method']:<40} {row['dims']:>4}-D  trust {value('trustworthiness')}  "
        f"cont {value('continuity')}  5-NN {row['knn_acc']:.3f}  {row['seconds']:.1f} s"
    )


def _markdown(result: dict[str, Any], figure: bool) -> str:
    lines = [
        f"# Manifold learning on {result['dataset']} ({result['num_points']} test images)",
        "",
        f"Trustworthiness / continuity with k = {result['neighbors']}; 5-NN accuracy leave-one-"
        "out within each embedding. Seconds: fitting (classical methods) or encoding (runs, "
        "trained beforehand). t-SNE cannot embed a new point without refitting.",
        "",
        *common.table(result["rows"], COLUMNS),
    ]
    if figure:
        lines += ["", "![2-D embeddings](manifold.png)"]
    return "\n".join(lines) + "\n"
