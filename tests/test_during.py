"""Evaluators during training: the same registry and typed options as `aezoo eval`, run on
the held-out split every N epochs and at the last; they observe training without changing
it; a bad request is one line before anything is written."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import aezoo
from aezoo.cli import main
from tests.conftest import TINY_NET, TINY_RUN, net_flags

pytestmark = pytest.mark.optax  # they train


def test_evaluators_run_every_n_epochs_and_leave_training_unchanged(digits, tmp_path):
    hook = aezoo.eval.in_training(["nll", "probes"], every=2, nll_samples=4, probe_train=200)
    kw = {"epochs": 3, "model_config": TINY_NET, "figures": False, **TINY_RUN}
    watched = aezoo.fit("vae", *digits, evaluators=hook, workdir=tmp_path / "w", **kw)
    plain = aezoo.fit("vae", *digits, **kw)
    scored = [r["epoch"] for r in watched.history if "test/nll_is" in r]
    assert scored == [2, 3] and all("probe/knn_acc" in r for r in watched.history[1:])
    for a, b in zip(jax.tree.leaves(watched.params), jax.tree.leaves(plain.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    lines = [json.loads(x) for x in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    assert "test/nll_is" in lines[-1] and "test/nll_is" not in lines[0]


@pytest.mark.parametrize(
    ("model", "names", "options", "message"),
    [
        ("vae", ["figures"], {}, "evaluator figures writes into the run folder"),
        ("vae", ["nl"], {}, "unknown evaluator 'nl'; did you mean 'nll'?"),
        ("vae", ["nll"], {"nll_samples": -1}, "--nll-samples must be an integer >= 0"),
        ("ae", ["nll"], {}, "evaluator nll needs a model that can give a tractable density"),
    ],
)
def test_a_bad_request_is_one_line_and_writes_nothing(
    digits, tmp_path, model, names, options, message
):
    workdir = tmp_path / "w"
    with pytest.raises(aezoo.ConfigError, match=message):
        hook = aezoo.eval.in_training(names, **options)
        aezoo.fit(model, *digits, evaluators=hook, workdir=workdir, epochs=1, **TINY_RUN)
    assert not workdir.exists()


def test_the_command_line_takes_evaluators_and_their_options(tmp_path, capsys):
    argv = ["train", "vae", "--epochs", "2", *net_flags(TINY_NET), "--no-progress"]
    argv += ["--evaluators", "nll", "--eval-every", "0", "--nll-samples", "4"]
    assert main([*argv, "--workdir", str(tmp_path)]) == 0
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert ["test/nll_is" in r for r in lines] == [False, True]  # 0: the last epoch only
