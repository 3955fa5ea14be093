"""Disentanglement metrics against representations whose answer is known: the true factors
score (near) 1, noise scores chance, a rotation of the factors loses what needs alignment."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.data import GroundTruth
from aezoo.eval import disentanglement as dm

SIZES = (3, 6, 10, 8, 8)
SMALL = {"num_train": 1500, "num_eval": 800, "num_test": 800, "num_variance_estimate": 1500}


def _truth() -> GroundTruth:
    # "Images" are the factor indices themselves, as [N, 1, 1, K] floats.
    return GroundTruth(
        "toy", tuple("abcde"), SIZES, lambda f: np.asarray(f, np.float32)[:, None, None, :]
    )


def _identity(x):
    return x.reshape(len(x), -1)


def _rotated(x):
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(len(SIZES), len(SIZES))))
    return (_identity(x) / np.asarray(SIZES)) @ q


def _noise(x):
    return np.random.default_rng(len(x) + int(x.sum()) % 1000).normal(size=(len(x), 5))


@pytest.fixture(scope="module")
def scores():
    truth = _truth()
    return {
        name: dm.evaluate(fn, truth, seed=0, sizes=SMALL)
        for name, fn in (("true", _identity), ("rotated", _rotated), ("noise", _noise))
    }


@pytest.mark.slow
def test_the_true_factors_score_near_one_on_every_metric(scores):
    s = scores["true"]
    near_one = (
        "beta_vae_score",
        "factor_vae_score",
        "dci_disentanglement",
        "dci_completeness",
        "dci_informativeness",
        "modularity",
        "explicitness",
    )
    for key in near_one:
        assert s[key] >= 0.99, (key, s[key])
    assert s["mig"] >= 0.95 and s["active_dims"] == 5
    assert all(s[f"factor_vae_accuracy_{f}"] >= 0.99 for f in "abcde")  # every factor named
    # SAP: a linear SVM on one code cannot name all 10 classes of a factor even from the
    # factor itself; its gap over the other codes is still far above a rotation's.
    assert s["sap"] > 3 * scores["rotated"]["sap"]


@pytest.mark.slow
def test_noise_scores_chance(scores):
    s = scores["noise"]
    assert s["beta_vae_score"] < 0.3 and s["factor_vae_score"] < 0.3  # chance: 1/5
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness"):
        assert s[key] < 0.05, (key, s[key])
    assert s["explicitness"] == pytest.approx(0.5, abs=0.05)  # AUC of a coin
    assert s["dci_informativeness"] < 0.3


@pytest.mark.slow
def test_a_rotation_keeps_the_information_but_not_the_alignment(scores):
    s, true = scores["rotated"], scores["true"]
    assert s["explicitness"] >= 0.99  # a linear read-out still recovers every factor
    assert s["mig"] < 0.5 * true["mig"]
    assert s["dci_disentanglement"] < 0.6 and s["dci_completeness"] < 0.6
    assert s["factor_vae_score"] < 0.9 and s["modularity"] < 0.9


@pytest.mark.slow
def test_scores_are_seeded():
    truth = _truth()
    a = dm.evaluate(_rotated, truth, seed=3, which=("mig", "factor_vae"), sizes=SMALL)
    b = dm.evaluate(_rotated, truth, seed=3, which=("mig", "factor_vae"), sizes=SMALL)
    c = dm.evaluate(_rotated, truth, seed=4, which=("mig", "factor_vae"), sizes=SMALL)
    assert a == b and a != c


@pytest.mark.unit
def test_closed_forms_of_modularity_dci_and_entropy():
    assert dm.modularity_from(np.eye(4)) == 1.0
    assert dm.modularity_from(np.ones((4, 4))) == pytest.approx(0.0)
    assert dm.modularity_from(np.zeros((3, 4))) == 0.0  # codes without information count 0
    assert dm.dci_from_importance(np.eye(5)) == pytest.approx((1.0, 1.0))
    assert dm.dci_from_importance(np.ones((5, 5))) == pytest.approx((0.0, 0.0), abs=1e-9)
    # One code explains two factors: completeness stays 1, disentanglement halves (base 2).
    d, c = dm.dci_from_importance(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert (d, c) == pytest.approx((0.0, 1.0), abs=1e-9)
    factors = np.repeat(np.arange(8), 50)[:, None]
    assert dm.factor_entropy(factors) == pytest.approx([np.log(8)])


@pytest.mark.unit
def test_mig_is_zero_when_two_codes_carry_the_same_factor():
    factors = np.random.default_rng(0).integers(0, 8, size=(4000, 2))
    codes = np.stack([factors[:, 0], factors[:, 0], factors[:, 1]], axis=1).astype(float)
    # factor 0: two equally good codes -> gap 0; factor 1: one code -> gap ~1.
    assert dm.mig_from(codes, factors) == pytest.approx(0.5, abs=0.01)


@pytest.mark.unit
def test_a_collapsed_representation_has_no_active_dimension():
    constant = lambda x: np.zeros((len(x), 3))  # noqa: E731
    out = dm.factor_vae_score(
        constant,
        _truth(),
        np.random.default_rng(0),
        num_train=10,
        num_eval=10,
        num_variance_estimate=100,
    )
    assert out["factor_vae_score"] == 0.0 and out["active_dims"] == 0
    assert out["factor_vae_accuracy_a"] == 0.0 and "factor_vae_accuracy_e" in out


@pytest.mark.unit
def test_factor_vae_prunes_on_the_standard_deviation_as_disentanglement_lib():
    # prune_dims.threshold = 0.05 applies to sqrt(variance): a code with standard deviation
    # 0.1 (variance 0.01) still votes, one with standard deviation 0.01 does not.
    def represent(x):
        f = _identity(x)[:, :2] / np.sqrt((np.square(SIZES[:2]) - 1) / 12)  # unit variance
        return f * np.array([0.1, 0.01])

    out = dm.factor_vae_score(
        represent,
        _truth(),
        np.random.default_rng(0),
        num_train=10,
        num_eval=10,
        num_variance_estimate=500,
    )
    assert out["active_dims"] == 1


@pytest.mark.unit
def test_factor_vae_accuracies_split_the_score_by_held_factor():
    # Codes 0 and 1 name factor 0, code 2 names factor 1, nothing names factor 2.
    votes = np.array([[30, 10, 0], [5, 0, 40], [20, 0, 10]])
    classifier = np.argmax(votes, axis=0)
    acc = dm.factor_vae_accuracies(votes, classifier, ("a", "b", "c"))
    assert acc == {
        "factor_vae_accuracy_a": 1.0,
        "factor_vae_accuracy_b": 40 / 45,
        "factor_vae_accuracy_c": 0.0,
    }
    total = sum(acc[f"factor_vae_accuracy_{n}"] * votes[i].sum() for i, n in enumerate("abc"))
    assert total / votes.sum() == pytest.approx(80 / 115)  # the score: right votes / all


@pytest.mark.unit
def test_discretize_bins_each_dimension_over_its_range():
    codes = np.stack([np.linspace(0, 1, 100), np.linspace(-5, 5, 100)], axis=1)
    binned = dm.discretize(codes, 20)
    assert binned.min() == 1 and binned.max() == 20
    np.testing.assert_array_equal(binned[:, 0], binned[:, 1])


@pytest.mark.slow
@pytest.mark.optax
def test_eval_disentanglement_scores_every_member_and_draws_traversals(tmp_path, capsys):
    import json

    import aezoo
    from aezoo.cli import main

    x, y = aezoo.data.load("dsprites", "train[:3000]")
    test = aezoo.data.load("dsprites", "test[:500]")
    aezoo.fit(
        "beta_tcvae",
        (x, y),
        test,
        dataset="dsprites",
        epochs=1,
        batch_size=100,
        seeds=2,
        binarize="none",
        workdir=tmp_path,
        progress=False,
        figures=False,
        model_config={"hidden_dims": (32,), "latent_dim": 3},
    )
    argv = ["eval", str(tmp_path), "--evaluators", "disentanglement"]
    assert main([*argv, "--num-train", "300", "--num-eval", "200", "--no-progress"]) == 0
    out = json.loads((tmp_path / "eval.json").read_text())
    assert sorted(out["members"]) == ["seed0", "seed1"]
    for name, scores in out["members"].items():
        member = tmp_path / "members" / name
        assert (member / "traversals.png").stat().st_size > 10_000
        saved = json.loads((member / "eval.json").read_text())
        assert saved["disentanglement/mig"] == scores["disentanglement/mig"]
        assert len(scores["disentanglement/captures"]) == 3
        assert 0.0 <= scores["disentanglement/mig"] <= 1.0
    (group,) = out["groups"]  # nothing swept: one group of both seeds
    assert group["group"] == "all" and group["seeds"] == 2
    mean = np.mean([s["disentanglement/mig"] for s in out["members"].values()])
    assert group["mean"]["disentanglement/mig"] == pytest.approx(mean)
    assert "| all (2 seeds) |" in (tmp_path / "report.md").read_text()
    assert "all: disentanglement/mig" in capsys.readouterr().out


@pytest.mark.unit
def test_spread_is_over_the_seeds_of_each_swept_value():
    from aezoo.eval._spread import groups as _groups
    from aezoo.rundir import MemberRecord

    records = [
        MemberRecord(i, 0, n, v) for i, (n, v) in enumerate((("a", 1.0), ("b", 1.0), ("c", 4.0)))
    ]
    scores = {"a": {"mig": 0.1, "captures": ["-"]}, "b": {"mig": 0.3}, "c": {"mig": 0.5}}
    one, four = _groups(records, scores, "beta")
    assert (one["group"], one["seeds"], four["group"]) == ("beta=1", 2, "beta=4")
    assert one["mean"]["mig"] == pytest.approx(0.2) and four["mean"]["mig"] == 0.5
    assert one["std"]["mig"] == pytest.approx(np.std([0.1, 0.3], ddof=1))
