"""The application tasks: their metrics on cases with a known answer, and each task end to
end on digits (small), through the CLI."""

from __future__ import annotations

import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import aezoo
from aezoo import data
from aezoo.cli import main
from aezoo.errors import DataError, ShapeError
from aezoo.eval.likelihood import relative_error
from aezoo.tasks import TASKS, anomaly, flat_metrics, metrics, retrieval

# ---------------------------------------------------------------- metrics, known answers


def _clusters(n_per: int = 40, classes: int = 4, dims: int = 5, spread: float = 0.05, seed=0):
    """Points in tight, far-apart clusters: a perfect encoder's codes."""
    r = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per)
    centres = 10.0 * np.eye(classes, dims)
    return centres[y] + spread * r.standard_normal((len(y), dims)), y


def test_trustworthiness_and_continuity_of_identity_and_noise():
    x, _ = _clusters(dims=6)
    assert metrics.trustworthiness(x, x) == pytest.approx(1.0)
    assert metrics.continuity(x, x) == pytest.approx(1.0)
    noise = np.random.default_rng(1).standard_normal((len(x), 2))
    assert metrics.trustworthiness(x, noise) < 0.75
    assert metrics.continuity(x, noise) < 0.75


def test_knn_accuracy_perfect_and_chance():
    x, y = _clusters()
    assert metrics.knn_accuracy(x, y) == 1.0
    shuffled = np.random.default_rng(0).permutation(y)
    assert metrics.knn_accuracy(x, shuffled) < 0.5


def test_retrieval_scores_hand_computed():
    # Query label 0; database ranked by distance: labels 0, 1, 0 -> AP = (1/1 + 2/3) / 2.
    db = np.array([[0.0], [1.0], [2.0]])
    scores = metrics.retrieval_scores(
        np.zeros((1, 1)), np.array([0]), db, np.array([0, 1, 0]), ks=(1, 2)
    )
    assert scores["map"] == pytest.approx((1 + 2 / 3) / 2)
    assert scores["precision@1"] == 1.0
    assert scores["precision@2"] == 0.5


def test_retrieval_perfect_codes_and_random_codes():
    x, y = _clusters(n_per=50)
    q, d = x[::5], np.delete(x, np.s_[::5], axis=0)
    qy, dy = y[::5], np.delete(y, np.s_[::5])
    perfect = metrics.retrieval_scores(q, qy, d, dy)
    assert perfect == {"map": 1.0, "precision@10": 1.0, "precision@100": pytest.approx(0.4)}
    r = np.random.default_rng(0)
    rand = metrics.retrieval_scores(r.standard_normal(q.shape), qy, r.standard_normal(d.shape), dy)
    assert abs(rand["map"] - 0.25) < 0.06  # 4 balanced classes: chance = 1/4
    bits = metrics.retrieval_scores(q > 5, qy, d > 5, dy, hamming=True)
    assert bits["map"] == 1.0


def test_hamming_distances_match_counting():
    r = np.random.default_rng(0)
    a, b = r.random((6, 13)) > 0.5, r.random((9, 13)) > 0.5
    expected = (a[:, None, :] != b[None, :, :]).sum(-1)
    np.testing.assert_array_equal(metrics.hamming_distances(a, b), expected)


def test_median_bits_are_balanced():
    d = np.random.default_rng(0).standard_normal((1000, 8)) * np.arange(1, 9)
    bd, bq = retrieval.binarize_codes(d, d[:10])
    np.testing.assert_allclose(bd.mean(0), 0.5, atol=0.002)
    assert bq.dtype == bool and bq.shape == (10, 8)


def test_inactive_units_give_constant_bits():
    r = np.random.default_rng(0)
    d = np.concatenate([r.random((1000, 3)), 0.5 + 0.01 * r.standard_normal((1000, 2))], axis=1)
    bd, bq = retrieval.binarize_codes(d, d[:10], only_active=True)
    assert not bd[:, 3:].any() and not bq[:, 3:].any()  # std 0.01: variance 1e-4 <= 0.01
    np.testing.assert_allclose(bd[:, :3].mean(0), 0.5, atol=0.002)
    all_bits, _ = retrieval.binarize_codes(d, d[:10])
    np.testing.assert_allclose(all_bits.mean(0), 0.5, atol=0.002)  # the median split of noise


def test_cluster_accuracies_known_answers():
    y = np.repeat(np.arange(4), 24)
    assert metrics.majority_accuracy(y, y) == 1.0
    split = y * 2 + (np.arange(96) % 2)  # 8 clusters, each inside one class
    assert metrics.majority_accuracy(split, y) == 1.0
    assert metrics.hungarian_accuracy(split, y) == 0.5  # one-to-one: half of each class
    relabelled = (y + 1) % 4
    assert metrics.hungarian_accuracy(relabelled, y) == 1.0
    assert metrics.nmi(relabelled, y) == pytest.approx(1.0)
    random = np.random.default_rng(0).integers(0, 4, 96)
    assert metrics.nmi(random, y) < 0.1
    # A map learned elsewhere: clusters it has not seen count as wrong.
    assert metrics.majority_accuracy(np.array([0, 1, 9]), np.array([0, 1, 1]), {0: 0, 1: 1}) == (
        pytest.approx(2 / 3)
    )


def test_auroc_known_answers_and_errors():
    anomalous = np.array([0, 0, 0, 1, 1], bool)
    assert metrics.auroc(np.array([0.1, 0.2, 0.3, 0.8, 0.9]), anomalous) == 1.0
    assert metrics.auroc(-np.array([0.1, 0.2, 0.3, 0.8, 0.9]), anomalous) == 0.0
    r = np.random.default_rng(0)
    assert abs(metrics.auroc(r.random(4000), r.random(4000) > 0.5) - 0.5) < 0.03
    with pytest.raises(ShapeError, match="finite"):
        metrics.auroc(np.array([0.1, np.nan, 0.3, 0.8, 0.9]), anomalous)


def test_anomaly_scores_of_a_vae_match_their_definitions():
    spec, module = aezoo.get("vae", image_shape=(8, 8, 1), hidden_dims=(16,), latent_dim=3)
    params = module.init(jax.random.key(0), jnp.zeros((2, 8, 8, 1)))["params"]
    x = np.random.default_rng(0).integers(0, 256, (7, 8, 8, 1)).astype(np.uint8)
    s = anomaly.anomaly_scores(spec, module, params, x, x, normal=0, nll_samples=4)
    assert set(s) == set(anomaly.SCORES) and all(v.shape == (7,) for v in s.values())
    xf = x / 255.0
    out = module.apply({"params": params}, jnp.asarray(xf), method="reconstruct")
    mean = np.asarray(out["mean"])
    mse = ((mean - xf) ** 2).mean((1, 2, 3))
    np.testing.assert_allclose(s["squared_error"], mse, rtol=1e-5)
    ink = xf.mean((1, 2, 3)) + mean.mean((1, 2, 3))
    np.testing.assert_allclose(s["relative_error"], mse / ink, rtol=1e-5)
    bce = -(xf * np.log(mean) + (1 - xf) * np.log1p(-mean)).sum((1, 2, 3))
    np.testing.assert_allclose(s["reconstruction"], bce, rtol=1e-4)
    assert np.all(s["nll_is"] <= s["neg_elbo"] + 1e-4)  # the IS bound is the tighter one


def test_relative_error_ranks_a_simple_anomaly_above_a_busy_normal_image():
    # A busy normal image (ink everywhere) reconstructed a little too faint, and a sparse
    # anomaly (one column) reconstructed half as faint: the squared error ranks the anomaly
    # as the more normal (0.04 < 0.09), the relative error as the more anomalous.
    busy, busy_rec = np.full((4, 4, 1), 0.9), np.full((4, 4, 1), 0.6)
    sparse, sparse_rec = np.zeros((4, 4, 1)), np.zeros((4, 4, 1))
    sparse[:, 1], sparse_rec[:, 1] = 0.9, 0.5
    x, rec = jnp.asarray(np.stack([busy, sparse])), jnp.asarray(np.stack([busy_rec, sparse_rec]))
    np.testing.assert_allclose(jnp.mean((rec - x) ** 2, (1, 2, 3)), [0.09, 0.04], rtol=1e-6)
    got = relative_error(x, rec)
    np.testing.assert_allclose(got, [0.09 / 1.5, 0.04 / (0.225 + 0.125)], rtol=1e-6)
    assert float(got[1]) > float(got[0])


def test_gaussian_latent_density_matches_scipy():
    r = np.random.default_rng(0)
    train = r.standard_normal((500, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.2], [0, 0, 0.3]])
    x = r.standard_normal((7, 3))
    mean, cov = train.mean(0), np.cov(train, rowvar=False) + 1e-6 * np.eye(3)
    expected = -multivariate_normal(mean, cov).logpdf(x)
    np.testing.assert_allclose(anomaly._gauss_nll(train, x), expected, rtol=1e-6)


def test_label_draws_are_balanced_seeded_and_checked():
    y = np.repeat(np.arange(10), 30)
    idx = data.draw_labels(y, 100, seed=0)
    assert len(set(idx)) == 100 and np.all(np.bincount(y[idx]) == 10)
    np.testing.assert_array_equal(idx, data.draw_labels(y, 100, seed=0))
    assert set(idx) != set(data.draw_labels(y, 100, seed=1))
    with pytest.raises(DataError, match="multiple of the 10 classes"):
        data.draw_labels(y, 105, seed=0)
    with pytest.raises(DataError, match="class 0 has 30 training images; 40 asked for"):
        data.draw_labels(y, 400, seed=0)


# ---------------------------------------------------------------- each task on digits

SMALL = ["--hidden-dims", "32", "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A VAE with a 2-D code and an AE with an 8-D code, trained briefly on digits."""
    root = tmp_path_factory.mktemp("runs")
    for model, dims in (("vae", "2"), ("ae", "8")):
        argv = ["train", model, "--latent-dim", dims, "--epochs", "15", *SMALL]
        assert main([*argv, "--workdir", str(root / f"{model}{dims}")]) == 0
    return [str(root / "vae2"), str(root / "ae8")]


@pytest.fixture(scope="module")
def m2_runs(tmp_path_factory):
    """Two M2 runs on digits with 50 labels, label draws 0 and 1 (semi-supervised)."""
    root = tmp_path_factory.mktemp("m2")
    for seed in ("0", "1"):
        argv = [
            "train",
            "m2",
            "--labels",
            "50",
            "--label-seed",
            seed,
            "--latent-dim",
            "8",
            "--epochs",
            "8",
            "--hidden-dims",
            "128",
            "--no-progress",
        ]
        assert main([*argv, "--workdir", str(root / f"m2-{seed}")]) == 0
    return [str(root / "m2-0"), str(root / "m2-1")]


def _task(name: str, args: list[str], out, capsys) -> dict:
    assert main(["task", name, *args, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / f"{name}.json").read_text())
    assert printed.strip() == "\n".join(result["summary"])
    assert (out / f"{name}.md").read_text().count("|") > 10
    return result


@pytest.mark.slow
def test_manifold_task_on_digits(runs, tmp_path, capsys):
    args = [*runs, "--num-points", "200", "--methods", "pca,isomap,lle"]
    rows = _task("manifold", args, tmp_path, capsys)["rows"]
    names = [(r["method"], r["dims"]) for r in rows]
    assert names[0] == ("pixels", 64) and ("pca", 2) in names and ("lle", 8) in names
    assert len(rows) == 3 + 3 * 2  # pixels, two runs, three methods to 2-D and to 8-D
    assert "trustworthiness" not in rows[0]  # the original space itself
    for r in rows[1:]:
        assert 0.0 <= r["knn_acc"] <= 1.0 and 0.0 < r["continuity"] <= 1.0
    assert rows[0]["knn_acc"] > 0.9  # 5-NN on digits' pixels
    assert (tmp_path / "manifold.png").stat().st_size > 10_000  # the 2-D panels


@pytest.mark.slow
def test_retrieval_task_on_digits(runs, tmp_path, capsys):
    result = _task("retrieval", [*runs, "--num-queries", "100"], tmp_path, capsys)
    rows = {r["name"]: r for r in result["rows"]}
    assert result["database"] > 1000 and result["num_queries"] == 100
    assert {"pixels", "PCA 8", "PCA hashing 8", "LSH 8", "PCA 2"} <= set(rows)
    assert rows["bits: ae (8-D, ae8)"]["distance"] == "hamming"
    assert 0 < rows["bits: ae (8-D, ae8)"]["active"] == rows["codes: ae (8-D, ae8)"]["active"] <= 8
    # Anything better than chance (10 balanced classes) has learned something.
    assert rows["pixels"]["map"] > 0.3 and rows["codes: ae (8-D, ae8)"]["map"] > 0.15
    assert (tmp_path / "retrieval.png").exists()


@pytest.mark.slow
@pytest.mark.optax
def test_clustering_task_on_digits(runs, m2_runs, tmp_path, capsys):
    capsys.readouterr()  # a classifying run's class code is a clustering too
    rows = _task("clustering", [m2_runs[0], runs[1], "--clusters", "12,10"], tmp_path, capsys)
    rows = rows["rows"]
    assert [(r["features"][:6], r["method"], r["clusters"]) for r in rows] == [
        ("class ", "argmax", 10),
        *[("codes:", m, k) for _ in range(2) for k in (12, 10) for m in ("kmeans", "gmm")],
        ("pixels", "kmeans", 12),
        ("pixels", "kmeans", 10),
    ]
    assert rows[0]["features"] == "class code: m2 (8-D, m2-0), labels seen: 50"
    assert rows[0]["accuracy"] > 0.5 and rows[0]["hungarian_accuracy"] > 0.5  # chance: 0.1
    assert rows[-1]["hungarian_accuracy"] is not None and rows[-2]["hungarian_accuracy"] is None
    assert rows[-2]["accuracy"] > 0.5  # k-means on digits' pixels is far above chance


@pytest.mark.slow
@pytest.mark.optax
def test_clustering_task_scores_a_gmvae_run_by_its_own_components(tmp_path, capsys):
    argv = [
        "train",
        "gmvae",
        "--components",
        "10",
        "--latent-dim",
        "4",
        "--epochs",
        "60",
        *SMALL,
        "--workdir",
        str(tmp_path / "gm"),
    ]
    assert main(argv) == 0
    logits = np.asarray(aezoo.load(tmp_path / "gm").classify(data.load("digits", "test")[0]))
    assert logits.shape[1] == 10 and np.isfinite(logits).all()  # one logit per component
    capsys.readouterr()
    rows = _task("clustering", [str(tmp_path / "gm"), "--clusters", "10"], tmp_path, capsys)
    own = rows["rows"][0]
    assert own["features"] == "class code: gmvae (4-D, gm), labels seen: none"
    assert (own["method"], own["clusters"]) == ("argmax", 10)
    assert own["accuracy"] > 0.3 and own["nmi"] > 0.25  # chance: 0.1, 0; measured 0.43, 0.42


@pytest.mark.slow
@pytest.mark.optax
def test_semisupervised_task_on_digits(runs, m2_runs, tmp_path, capsys):
    capsys.readouterr()
    args = [runs[1], *m2_runs, "--labels", "50", "--draws", "2"]
    result = _task("semisupervised", args, tmp_path, capsys)
    rows = {r["name"]: r for r in result["rows"]}
    assert list(rows) == [
        "m2 trained with 50 labels (8-D; label seeds 0, 1)",
        "pixels: logistic regression",
        "pixels: MLP (32,)",
        "M1: logistic regression on codes of ae (8-D, ae8)",
    ]
    for r in rows.values():
        assert 0.0 <= r["error"] < 60.0 and len(r["per_draw"].split(", ")) == 2  # chance: 90%
    assert main(["task", "semisupervised", m2_runs[0], "--labels", "100"]) == 2
    assert "was trained with 50 label(s)" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.optax
def test_export_codes_is_a_dataset_of_the_runs_codes(tmp_path, capsys):
    run, path = tmp_path / "ae", tmp_path / "codes.npz"
    argv = ["train", "ae", "--latent-dim", "3", "--epochs", "1", *SMALL, "--workdir", str(run)]
    assert main(argv) == 0
    assert main(["eval", str(run), "--export-codes", str(path), "--no-progress"]) == 0
    assert f"--dataset npz:{path}" in capsys.readouterr().out
    m, found = aezoo.load(run), np.load(path)
    assert sorted(found.files) == ["x_test", "x_train", "y_test", "y_train"]
    for split in ("train", "test"):
        x, y = data.load("digits", split)
        np.testing.assert_array_equal(found[f"y_{split}"], y)  # the dataset's rows, in order
        np.testing.assert_allclose(found[f"x_{split}"], m.encode(x)["z"], rtol=1e-5, atol=1e-6)
    vectors, labels = data.load(f"npz:{path}", "train")  # what a second model trains on
    assert vectors.shape == (len(found["x_train"]), 1, 1, 3) and data.is_vectors(vectors.shape)
    np.testing.assert_allclose(vectors.mean((0, 1, 2)), 0.0, atol=1e-5)  # standardized
    np.testing.assert_array_equal(labels, found["y_train"])
    arrays = tmp_path / "arrays"  # trained on arrays given to fit: nothing to reload by name
    aezoo.fit(
        "ae",
        data.load("digits", "train"),
        epochs=1,
        progress=False,
        workdir=arrays,
        model_config={"hidden_dims": (8,), "latent_dim": 2},
        figures=False,
    )
    assert main(["eval", str(arrays), "--export-codes", str(tmp_path / "no.npz")]) == 2
    assert "trained on arrays passed to fit" in capsys.readouterr().err
    assert not (tmp_path / "no.npz").exists()


@pytest.mark.slow
@pytest.mark.optax
def test_semisupervised_task_scores_m2_stacked_on_exported_codes(runs, tmp_path, capsys):
    codes = tmp_path / "ae8-codes.npz"
    assert main(["eval", runs[1], "--export-codes", str(codes), "--no-progress"]) == 0
    argv = [
        "train",
        "m2",
        "--dataset",
        f"npz:{codes}",
        "--likelihood",
        "gaussian",
        "--labels",
        "50",
        "--latent-dim",
        "4",
        "--epochs",
        "20",
        *SMALL,
    ]
    assert main([*argv, "--workdir", str(tmp_path / "m1m2")]) == 0
    capsys.readouterr()
    args = [str(tmp_path / "m1m2"), "--labels", "50", "--draws", "1"]
    rows = {r["name"]: r for r in _task("semisupervised", args, tmp_path / "task", capsys)["rows"]}
    assert list(rows) == [
        "m2 trained with 50 labels (4-D; label seeds 0)",
        "vectors: logistic regression",
        "vectors: MLP (32,)",
    ]
    # M1+M2 classifies the test images through the codes better than chance (90%)
    assert rows["m2 trained with 50 labels (4-D; label seeds 0)"]["error"] < 50.0


@pytest.mark.slow
@pytest.mark.optax
def test_anomaly_task_on_digits_trains_then_reuses(tmp_path, capsys):
    args = [
        "vae",
        "--dataset",
        "digits",
        "--classes",
        "0,1",
        "--epochs",
        "20",
        "--latent-dim",
        "4",
        "--nll-samples",
        "8",
        "--hidden-dims",
        "64",
    ]
    result = _task("anomaly", args, tmp_path, capsys)
    assert [r["class"] for r in result["rows"]] == [0, 1]
    assert set(result["mean"]) == set(anomaly.SCORES)
    assert result["mean"][result["best_score"]] > 85.0  # far above chance (50)
    assert all(math.isfinite(v) for r in result["rows"] for v in r.values())
    history = (tmp_path / "class-0" / "metrics.jsonl").read_text()
    again = _task("anomaly", args, tmp_path, capsys)  # the finished runs are reloaded
    assert again["rows"] == result["rows"]
    assert (tmp_path / "class-0" / "metrics.jsonl").read_text() == history  # not one more epoch


def test_every_task_is_in_the_cli():
    assert sorted(TASKS) == ["anomaly", "clustering", "manifold", "retrieval", "semisupervised"]


def test_task_rows_become_flat_metrics_named_by_their_text_fields():
    rows = [
        {"name": "pixels", "distance": "euclidean", "map": 0.5, "seconds": 1.0},
        {"features": "codes: ae", "method": "kmeans", "clusters": 10, "nmi": 0.7, "ok": True},
    ]
    assert flat_metrics("t", rows) == {
        "t/pixels/euclidean/map": 0.5,
        "t/codes: ae/kmeans/10/nmi": 0.7,
    }


@pytest.mark.slow
def test_a_task_runs_as_an_evaluator_of_one_run(runs, tmp_path, capsys):
    assert main(["eval", runs[1], "--evaluators", "retrieval", "--no-progress"]) == 0
    metrics = json.loads((pathlib.Path(runs[1]) / "eval.json").read_text())
    task = json.loads((pathlib.Path(runs[1]) / "task-retrieval" / "retrieval.json").read_text())
    assert "retrieval" in metrics["evaluators"]  # beside what ran before on this run
    expected = flat_metrics("retrieval", task["rows"])
    assert expected["retrieval/pixels/euclidean/64/map"] == task["rows"][0]["map"]
    assert {k: metrics[k] for k in expected} == expected
    assert main(["eval", runs[1], "--evaluators", "anomaly"]) == 2  # trains its own runs
    assert "unknown evaluator 'anomaly'" in capsys.readouterr().err
