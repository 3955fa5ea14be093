"""Retrieval: test images as queries against the training set, ranked by code distance.

For each run: its real-valued codes (Euclidean), then the same codes thresholded at their
median over the database into bits (semantic hashing, Hamming distance; a run with a 16-,
32- or 64-D code gives 16, 32 or 64 bits). A code dimension that is not one of Burda et
al.'s active units (variance over the database at most 0.01: a posterior that stays at the
prior, e.g. a binary latent whose probability is 0.5 for every image) gives a constant bit:
it carries no information, and splitting its tiny variations at their median would add
Hamming noise. Baselines of the same size in the same table:
raw pixels, PCA to the code's dimension, and for bits PCA hashing (PCA projections
thresholded at their medians) and random-projection LSH. mAP over the whole ranked database
and precision@10 / @100, relevant = same label.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from aezoo import viz
from aezoo._validate import check_fields, option
from aezoo.eval.likelihood import ACTIVE_UNIT_THRESHOLD, active_mask
from aezoo.rundir.run import Run
from aezoo.tasks import _common as common
from aezoo.tasks import metrics

COLUMNS = (
    ("representation", "name"),
    ("distance", "distance"),
    ("dims / bits", "dims"),
    ("active", "active"),
    ("mAP", "map"),
    ("precision@10", "precision@10"),
    ("precision@100", "precision@100"),
    ("seconds", "seconds"),
)
SHOWN_QUERIES = 8


@dataclasses.dataclass(frozen=True)
class RetrievalOptions:
    """Settings of the retrieval task."""

    num_queries: int = option(1000, "test images used as queries", low=1)
    database: int = option(0, "training images in the database (0: the whole split)", low=0)
    seed: int = option(0, "seed of the query and database samples and of LSH", low=0)

    def __post_init__(self) -> None:
        check_fields(self)


def binarize_codes(
    database: np.ndarray, queries: np.ndarray, *, only_active: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Bits: each dimension thresholded at its median over the database (balanced bits).
    ``only_active``: a dimension that is not an active unit (:func:`active_mask` of the
    database) gives a constant 0 bit."""
    median = np.median(database, axis=0)
    keep = active_mask(database) if only_active else np.ones(database.shape[1], bool)
    return (database > median) & keep, (queries > median) & keep


def _rank(name, distance, q, qy, d, dy, active: int | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    scores = metrics.retrieval_scores(q, qy, d, dy, hamming=distance == "hamming")
    return {
        "name": name,
        "distance": distance,
        "dims": q.shape[1],
        "active": q.shape[1] if active is None else active,
        **scores,
        "seconds": time.perf_counter() - t0,
    }


def _baselines(dims: int, q, qy, d, dy, seed: int) -> list[dict[str, Any]]:
    """PCA (real and hashed) and random-projection LSH of the pixels, ``dims`` wide."""
    from sklearn.decomposition import PCA

    dims = min(dims, d.shape[1])
    pca = PCA(dims, random_state=seed).fit(d)
    pd_, pq = pca.transform(d), pca.transform(q)
    rows = [_rank(f"PCA {dims}", "euclidean", pq, qy, pd_, dy)]
    rows.append(_rank(f"PCA hashing {dims}", "hamming", *_bits(pq, qy, pd_, dy)))
    planes = np.random.default_rng(seed).standard_normal((d.shape[1], dims)).astype(np.float32)
    mean = d.mean(0)
    rows.append(
        _rank(f"LSH {dims}", "hamming", *_bits((q - mean) @ planes, qy, (d - mean) @ planes, dy))
    )
    return rows


def _bits(q, qy, d, dy):
    bd, bq = binarize_codes(d, q)
    return bq, qy, bd, dy


def run(
    runs: Sequence[Run],
    options: RetrievalOptions,
    *,
    out: pathlib.Path,
    progress: bool = True,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_changed_data: bool = False,
) -> dict[str, Any]:
    """Rank the training images for ``options.num_queries`` test queries with every run and
    baseline; write ``retrieval.json``, ``retrieval.md`` and ``retrieval.png``."""
    say = common.say_fn(progress)
    models = common.load_runs(runs, "retrieval")
    out.mkdir(parents=True, exist_ok=True)
    qx, qy = common.subset(
        *common.split_for(models[0], "test", data_dir, cache_dir, allow_changed_data),
        options.num_queries,
        options.seed,
    )
    dx, dy = common.subset(
        *common.split_for(models[0], "train", data_dir, cache_dir, allow_changed_data),
        options.database or None,
        options.seed + 1,
    )
    q_pix, d_pix = common.pixels(qx), common.pixels(dx)
    say(f"retrieval: {len(qy)} queries against {len(dy)} training images")
    rows = [_rank("pixels", "euclidean", q_pix, qy, d_pix, dy)]
    for m, path in zip(models, runs, strict=True):
        name = common.run_name(m, path)
        q, d = common.codes(m, qx, qy), common.codes(m, dx, dy)
        active = int(np.sum(active_mask(d)))
        rows.append(_rank(f"codes: {name}", "euclidean", q, qy, d, dy, active))
        bd, bq = binarize_codes(d, q, only_active=True)
        rows.append(_rank(f"bits: {name}", "hamming", bq, qy, bd, dy, active))
        say(f"retrieval: {name}: mAP {rows[-2]['map']:.3f} (codes), {rows[-1]['map']:.3f} (bits)")
        if m is models[0]:
            _figure(out / "retrieval.png", qx, qy, dx, dy, q, d, name)
    for dims in sorted({m.config.latent_dim for m in models}):
        rows += _baselines(dims, q_pix, qy, d_pix, dy, options.seed)
    result = {
        "task": "retrieval",
        "dataset": models[0].record.dataset_name,
        "num_queries": len(qy),
        "database": len(dy),
        "rows": rows,
    }
    result["summary"] = [
        f"{r['name']:<48} {r['distance']:<9} mAP {r['map']:.3f}  "
        f"P@10 {r['precision@10']:.3f}  P@100 {r['precision@100']:.3f}"
        for r in rows
    ]
    common.write_outputs(out, "retrieval", result, _markdown(result))
    return result


def _figure(path, qx, qy, dx, dy, q, d, name: str) -> None:
    """The first queries and their 10 nearest training images by code distance."""
    top = np.argsort(metrics.euclidean_distances(q[:SHOWN_QUERIES], d), axis=1)[:, :10]
    rows = [np.concatenate([qx[i : i + 1], dx[top[i]]]) for i in range(len(top))]
    labels = [f"{qy[i]}: {int(np.sum(dy[top[i]] == qy[i]))}/10" for i in range(len(top))]
    scale = 255.0 if qx.dtype == np.uint8 else 1.0
    viz.save_image_rows(
        path,
        [r / scale for r in rows],
        labels,
        title=f"{name}: query (first column) and its 10 nearest training "
        "images; row label: query digit, matches in the top 10",
    )


def _markdown(result: dict[str, Any]) -> str:
    return (
        "\n".join(
            [
                f"# Retrieval on {result['dataset']}: {result['num_queries']} test queries, "
                f"{result['database']} training images",
                "",
                "Relevant = same label. mAP over the whole ranking; ties (Hamming) in a random "
                "database order. Bits: each dimension thresholded at its database median; a "
                "learned code's inactive dimensions (variance <= "
                f"{ACTIVE_UNIT_THRESHOLD:g}, Burda et al.) give "
                "constant bits (the active column counts a code's active dimensions).",
                "",
                *common.table(result["rows"], COLUMNS),
                "",
                "![queries and their top 10](retrieval.png)",
            ]
        )
        + "\n"
    )
