"""Semi-supervised classification with few labels: what unlabelled data buy through codes.

``labels`` training images (the same number per class, drawn with the seed) keep their
labels; the rest of the training split is unlabelled (it trained the runs). Test error over
``draws`` label draws (mean and std), for:
- a classifier on the labelled pixels alone: logistic regression, and an MLP of the size of
  the runs' encoders (scikit-learn, Adam, early stopping on the training loss);
- M1 (Kingma et al. 2014): logistic regression on each run's codes of the labelled images;
- runs of a semi-supervised model (``aezoo train m2 --labels N --label-seed S``): their own
  classifier, one run per label draw (their label seeds are named in the row).
Runs trained on a dataset of vectors are scored on it, the baselines then classify those
vectors instead of pixels: M1+M2 is an ``m2`` trained on the codes a first run exported
(``aezoo eval M1RUN --export-codes codes.npz``, ``aezoo train m2 --dataset npz:codes.npz``),
and logistic regression on the labelled codes is then M1.
Published numbers beside them (MNIST, 100 labels; quoted, not measured here).
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from aezoo import data
from aezoo._validate import check_fields, option
from aezoo.errors import DataError
from aezoo.rundir.run import Run
from aezoo.tasks import _common as common

QUOTED = {
    "M2 (Kingma et al. 2014)": 11.97,
    "M1+M2 (Kingma et al. 2014)": 3.33,
    "AAE (Makhzani et al. 2015)": 1.90,
}
COLUMNS = (
    ("classifier", "name"),
    ("test error % (mean)", "error"),
    ("std", "std"),
    ("per draw", "per_draw"),
)


@dataclasses.dataclass(frozen=True)
class SemiSupervisedOptions:
    """Settings of the semi-supervised task."""

    labels: int = option(100, "labelled training images, the same number per class", low=1)
    draws: int = option(3, "independent label draws (mean and std over them)", low=1)
    seed: int = option(0, "seed of the first draw (draw d uses seed + d)", low=0)

    def __post_init__(self) -> None:
        check_fields(self)


def _logreg_error(train, ty, test, sy, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return 100.0 * (1.0 - clf.fit(train, ty).score(test, sy))


def _mlp_error(train, ty, test, sy, hidden: tuple[int, ...], seed: int) -> float:
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden, max_iter=1000, random_state=seed)
    return 100.0 * (1.0 - clf.fit(train, ty).score(test, sy))


def _trained_errors(trained, sx, sy, options, say) -> dict[str, list[float]]:
    """Each semi-supervised run's test error, grouped by model and code size (the runs of a
    group are its label draws, ``--label-seed``)."""
    groups: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for m, path in trained:
        labels = m.config.labels
        if labels != options.labels:
            raise DataError(
                f"{path} was trained with {'every' if labels is None else labels} label(s): "
                f"this table is for "
                f"--labels {options.labels} (train it with --labels {options.labels})"
            )
        error = 100.0 * float(np.mean(common.predicted_classes(m, sx) != sy))
        say(f"semisupervised: {common.run_name(m, path)}: test error {error:.2f}%")
        key = (m.spec.name, m.config.latent_dim)
        groups.setdefault(key, []).append((m.config.label_seed, error))
    return {
        f"{name} trained with {options.labels} labels ({dim}-D; label seeds "
        f"{', '.join(str(s) for s, _ in found)})": [e for _, e in found]
        for (name, dim), found in groups.items()
    }


def _baseline_errors(coders, hidden, tx, ty, sx, sy, options, say) -> dict[str, list[float]]:
    """Per label draw: classifiers of the labelled pixels (or vectors; the MLP with
    ``hidden`` layers), and M1 on every run's codes."""
    draws = [data.draw_labels(ty, options.labels, options.seed + d) for d in range(options.draws)]
    test_codes = [common.codes(m, sx, sy) for m, _ in coders]
    inputs = "vectors" if data.is_vectors(sx.shape[1:]) else "pixels"
    errors: dict[str, list[float]] = {}
    for d, idx in enumerate(draws):
        seed, px, py = options.seed + d, common.pixels(tx[idx]), ty[idx]
        found = {
            f"{inputs}: logistic regression": _logreg_error(px, py, common.pixels(sx), sy, seed),
            f"{inputs}: MLP {hidden}": _mlp_error(px, py, common.pixels(sx), sy, hidden, seed),
        }
        for (m, path), codes in zip(coders, test_codes, strict=True):
            train_codes = common.codes(m, tx[idx], py)
            name = f"M1: logistic regression on codes of {common.run_name(m, path)}"
            found[name] = _logreg_error(train_codes, py, codes, sy, seed)
        for k, v in found.items():
            errors.setdefault(k, []).append(v)
        say(
            f"semisupervised: draw {d + 1}/{len(draws)}: "
            + ", ".join(f"{k} {v:.1f}%" for k, v in found.items())
        )
    return errors


def run(
    runs: Sequence[Run],
    options: SemiSupervisedOptions,
    *,
    out: pathlib.Path,
    progress: bool = True,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_changed_data: bool = False,
) -> dict[str, Any]:
    """Test error of every classifier: the baselines and M1 over the label draws, and each
    semi-supervised run's own classifier; writes ``semisupervised.json`` and ``.md``."""
    say = common.say_fn(progress)
    models = common.load_runs(runs, "semisupervised", vectors=True)
    tx, ty = common.split_for(models[0], "train", data_dir, cache_dir, allow_changed_data)
    sx, sy = common.split_for(models[0], "test", data_dir, cache_dir, allow_changed_data)
    out.mkdir(parents=True, exist_ok=True)
    pairs = list(zip(models, runs, strict=True))
    coders = [(m, p) for m, p in pairs if not m.spec.semi_supervised]
    trained = [(m, p) for m, p in pairs if m.spec.semi_supervised]
    errors = _trained_errors(trained, sx, sy, options, say)
    hidden = tuple(models[0].config.hidden_dims)
    errors.update(_baseline_errors(coders, hidden, tx, ty, sx, sy, options, say))
    rows = [
        {
            "name": k,
            "error": float(np.mean(v)),
            "std": float(np.std(v)),
            "per_draw": ", ".join(f"{e:.2f}" for e in v),
        }
        for k, v in errors.items()
    ]
    result = {
        "task": "semisupervised",
        "dataset": models[0].record.dataset_name,
        "labels": options.labels,
        "draws": options.draws,
        "rows": rows,
        "quoted_error": QUOTED,
    }
    result["summary"] = [f"{r['name']:<64} {r['error']:6.2f} +/- {r['std']:.2f} %" for r in rows]
    common.write_outputs(out, "semisupervised", result, _markdown(result))
    return result


def _markdown(result: dict[str, Any]) -> str:
    quoted = ", ".join(f"{k} {v}%" for k, v in result["quoted_error"].items())
    setup = (
        f"{result['labels']} labelled training images (the same number per class), "
        f"{result['draws']} label draws; test error in % over the test split."
    )
    lines = [f"# Semi-supervised classification on {result['dataset']}", "", setup, ""]
    lines += common.table(result["rows"], COLUMNS)
    lines += ["", f"Quoted, not measured here (MNIST, 100 labels): {quoted}."]
    return "\n".join(lines) + "\n"
