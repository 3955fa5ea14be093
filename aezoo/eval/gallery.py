"""A gallery of what trained models do, drawn from their runs: ``aezoo gallery RUN... --out
DIR``.

For each run, one small labelled picture ``DIR/NAME.png`` (NAME: the run folder's name):
test inputs (one per class where the data are labelled), their reconstructions, samples from
the model's own sampler (its prior; the autoregressive code prior of a discrete code; a
Gaussian mixture on the codes of a model without a prior), samples from the Gaussian-mixture
ex-post sampler where the model has a prior too and a code of at most 64 numbers (Ghosh et
al. 2020), and the decoded straight
line between two test images' codes. A run's own figures that only some runs have (the 2-D
``manifold.png`` that ``aezoo eval`` draws, the sparse autoencoder's ``filters.png``) are
copied beside it. ``DIR/gallery.json`` lists every picture with its caption and run, so the
docs' gallery page is generated from it (``aezoo reproduce gallery_mnist`` writes it under
``docs/gallery/``), and ``DIR/strip.png`` puts a few of them side by side for the README.
"""

from __future__ import annotations

import json
import pathlib
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from aezoo import data, samplers, viz
from aezoo._files import atomic_write
from aezoo.errors import ConfigError
from aezoo.eval.run import data_source, interpolation, other_class, split_arrays
from aezoo.rundir.run import Run

COLUMNS = 10
SEED = 0
GMM_MOST_DIMS = 64  # wider codes (gumbel_vae's 200 relaxed one-hots): EM takes tens of minutes
COPIED = (
    ("manifold.png", "the decoder over a grid of the 2-D code"),
    ("filters.png", "the encoder's first-layer filters"),
)


def examples(y: np.ndarray, n: int = COLUMNS) -> np.ndarray:
    """Indices of ``n`` test images: the first of each class in class order where the data
    are labelled (then the next images), else the first ``n``."""
    if len(y) == 0 or y[0] < 0:
        return np.arange(min(n, len(y)))
    firsts = [int(np.argmax(y == c)) for c in np.unique(y)][:n]
    rest = [i for i in range(len(y)) if i not in set(firsts)][: n - len(firsts)]
    return np.asarray(firsts + rest)


def _samples(run: Run, name: str, say: Callable[[str], None]) -> np.ndarray:
    sampler = samplers.get(run, name, say=say)
    drawn = sampler.sample(COLUMNS, jax.random.key(SEED))["mean"]
    return np.clip(np.asarray(drawn), 0.0, 1.0)


def _width(m, x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the model's code has at most :data:`GMM_MOST_DIMS` numbers."""
    z = m.encode(x[:1], label=y[:1])["z"]
    return int(np.prod(np.shape(z)[1:])) <= GMM_MOST_DIMS


def picture_rows(run: Run, say: Callable[[str], None]) -> tuple[list[np.ndarray], list[str]]:
    """The rows of a run's gallery picture and their labels."""
    m = run.model()
    x, y = split_arrays(m, "test", data_source(m, None, None))
    idx = examples(y)
    shown = np.asarray(data.to_float(x[idx]))
    recon = np.asarray(m.reconstruct(x[idx], label=y[idx])["mean"])
    own = samplers.default(m.spec)
    rows = [shown, np.clip(recon, 0.0, 1.0), _samples(run, own, say)]
    labels = ["test input", "reconstruction", f"samples: {own}"]
    if own == samplers.PRIOR and "gmm" in samplers.available(m.spec) and _width(m, x, y):
        rows.append(_samples(run, "gmm", say))
        labels.append("samples: gmm")
    rows.append(np.clip(interpolation(m, x, y, 0, other_class(y)), 0.0, 1.0))
    labels.append("interpolation")
    return rows, labels


def describe(run: Run) -> str:
    """``vae, 20-D code, mlp, mnist, 10 epochs``: what a picture shows."""
    m = run.record
    config = m.model_config
    return (
        f"{m.model}, {config.get('latent_dim')}-D code, {config.get('arch', 'mlp')}, "
        f"{m.dataset_name}, {m.train.get('epochs')} epochs{run.member_label}"
    )


def _check_free(path: pathlib.Path) -> pathlib.Path:
    """``path`` if the gallery may write it: new, or a figure (or gallery.json) it wrote."""
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link; aezoo never writes through one")
    if not path.exists():
        return path
    ours = viz.drawn_by_aezoo(path) if path.suffix == ".png" else _is_gallery_json(path)
    if not ours:
        raise ConfigError(f"{path} exists and is not the gallery's; choose another --out")
    return path


def _is_gallery_json(path: pathlib.Path) -> bool:
    try:
        return "entries" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def draw(run: Run, out: pathlib.Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The pictures of one run in ``out``: its entry (``pictures``: ``[{file, caption}]``,
    ``samples``: the row of its own sampler's samples, for the strip)."""
    name = run.path.name
    rows, labels = picture_rows(run, say)
    what = describe(run)
    viz.save_image_rows(_check_free(out / f"{name}.png"), rows, labels, title=what)
    pictures = [{"file": f"{name}.png", "caption": f"{what}: reconstructions and samples"}]
    for figure, caption in COPIED:
        if (run.path / figure).is_file() and viz.drawn_by_aezoo(run.path / figure):
            target = f"{name}-{figure}"
            shutil.copyfile(run.path / figure, _check_free(out / target))
            pictures.append({"file": target, "caption": f"{what}: {caption}"})
    return {"run": name, "model": run.record.model, "pictures": pictures, "samples": rows[2]}


def strip(out: pathlib.Path, entries: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    """``strip.png``: the samples of the runs called ``names`` (those of one image shape),
    one row each: what a newcomer sees first."""
    chosen = [e for name in names for e in entries if e["run"] == name]
    chosen = [e for e in chosen if e["samples"].shape == chosen[0]["samples"].shape]
    if chosen:
        viz.save_image_rows(
            _check_free(out / "strip.png"),
            [e["samples"] for e in chosen],
            [e["model"] for e in chosen],
            title="samples from aezoo models (aezoo reproduce gallery_mnist)",
        )


def gallery(
    runs: Sequence[str | pathlib.Path],
    out: str | pathlib.Path,
    say: Callable[[str], None],
    strip_runs: Sequence[str] = (),
) -> dict[str, Any]:
    """Draw every run's pictures into ``out`` (and ``strip.png`` of ``strip_runs``, run
    folder names) and write ``gallery.json``; returns it."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in runs:
        for run in Run.open(path):  # a vmapped run: each member
            say(f"gallery: {run.path}")
            entries.append(draw(run, out, say))
    strip(out, entries, strip_runs)
    result = {
        "entries": [{k: v for k, v in e.items() if k != "samples"} for e in entries],
        "strip": "strip.png" if (out / "strip.png").is_file() else None,
    }
    atomic_write(_check_free(out / "gallery.json"), json.dumps(result, indent=1) + "\n")
    return result


__all__ = ["describe", "examples", "gallery", "picture_rows"]
