"""Checkpoints: exact resume (also after SIGKILL), non-finite guard, loading, damaged files."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import aezoo
from aezoo.train import create_train_state, load_params, make_train_step
from tests.conftest import SMALL_NET

pytestmark = pytest.mark.optax
SMALL = SMALL_NET
TIMING = ("examples_per_sec", "seconds", "eval_seconds", "compile_seconds")


def _strip_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def _metrics(workdir: pathlib.Path):
    return _strip_timing(
        json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()
    )


@pytest.mark.slow
def test_resume_in_process_equals_uninterrupted_run(digits, tmp_path):
    train, test = digits
    kw = {"model_config": SMALL, "batch_size": 64, "dataset": "digits", "progress": False}
    straight = aezoo.fit("vae", train, test, epochs=4, workdir=tmp_path / "a", **kw)
    aezoo.fit("vae", train, test, epochs=2, workdir=tmp_path / "b", **kw)
    resumed = aezoo.fit("vae", train, test, epochs=4, workdir=tmp_path / "b", resume=True, **kw)
    chex.assert_trees_all_equal(jax.device_get(straight.params), jax.device_get(resumed.params))
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]


@pytest.mark.slow
def test_checkpoints_keep_the_last_k(digits, tmp_path):
    train, test = digits
    aezoo.fit(
        "ae",
        train,
        test,
        model_config=SMALL,
        epochs=5,
        batch_size=256,
        workdir=tmp_path,
        keep=2,
        checkpoint_every=2,
        checkpoint_seconds=0,
        progress=False,
    )
    # every 2 epochs and at the end (5), newest 2 kept
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir()) == [4, 5]


# --- kill a real training process and resume it ------------------------------------------

# The whole optimizer chain (clipping, AdamW, a warm-up + cosine schedule factor) has state
# to checkpoint and restore.
REFERENCE_OPTIMIZER = {
    "optimizer": "adamw",
    "weight_decay": 1e-4,
    "clip_norm": 1.0,
    "warmup_steps": 20,
    "lr_schedule": "warmup_cosine",
}

CLI = [
    sys.executable,
    "-m",
    "aezoo.cli",
    "train",
    "vae",
    "--dataset",
    "digits",
    "--epochs",
    "6",
    "--batch-size",
    "32",
    "--hidden-dims",
    "64",
    "--latent-dim",
    "4",
    "--seed",
    "7",
    "--checkpoint-seconds",  # a checkpoint every epoch: the kill points need epoch 2's
    "0",
    *(
        part
        for name, value in REFERENCE_OPTIMIZER.items()
        for part in (f"--{name.replace('_', '-')}", str(value))
    ),
]


def _run(workdir, *extra, env=None):
    proc = subprocess.run(
        [*CLI, "--workdir", str(workdir), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _kill_when(workdir, predicate, *, delay=0.0, env=None):
    """Start training, wait until ``predicate(stderr_so_far, workdir)``, then SIGKILL it."""
    proc = subprocess.Popen(
        [*CLI, "--workdir", str(workdir)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True
    )
    reader.start()
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if predicate("".join(lines), workdir):
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    return proc.returncode, "".join(lines)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reference")
    _run(workdir)
    return workdir


KILL_POINTS = {
    "before-first-checkpoint": ({"when": lambda s, w: (w / "config.json").exists()}, None),
    "just-after-epoch-1": ({"when": lambda s, w: "epoch 1/6" in s}, None),
    "mid-epoch-3": ({"when": lambda s, w: "epoch 2/6" in s, "delay": 0.03}, None),
    "late-epoch-5": ({"when": lambda s, w: "epoch 4/6" in s, "delay": 0.06}, None),
    "during-checkpoint-write-2": ({"when": lambda s, w: False}, "2"),
    "during-final-checkpoint-write": ({"when": lambda s, w: False}, "6"),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_sigkill_then_resume_is_bit_identical(point, reference_run, tmp_path):
    how, fault_epoch = KILL_POINTS[point]
    env = dict(os.environ)
    if fault_epoch is not None:
        env["AEZOO_TEST_KILL_DURING_SAVE"] = fault_epoch
    code, _ = _kill_when(tmp_path, how["when"], delay=how.get("delay", 0.0), env=env)
    assert code == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (tmp_path / "params.msgpack").exists()
    resumed = _run(tmp_path, "--resume")
    assert "done:" in resumed.stdout
    ref = load_params(reference_run / "params.msgpack")
    got = load_params(tmp_path / "params.msgpack")
    chex.assert_trees_all_equal(ref, got)  # bit-identical, not merely close
    assert _metrics(tmp_path) == _metrics(reference_run)


@pytest.mark.slow
def test_same_seed_in_two_processes_gives_identical_results(reference_run, tmp_path):
    _run(tmp_path)
    chex.assert_trees_all_equal(
        load_params(reference_run / "params.msgpack"), load_params(tmp_path / "params.msgpack")
    )
    assert _metrics(tmp_path) == _metrics(reference_run)


# --- non-finite guard ---------------------------------------------------------------------


def _poisoned_ae_spec():
    """The registered ``ae`` with one change: a batch holding a label < 0 has a NaN loss.

    Training data with such a label is the injected non-finite batch.
    """
    import dataclasses

    from aezoo.models import ae

    def loss_fn(params, batch, rng, *, module):
        loss, metrics = ae.loss_fn(params, batch, rng, module=module)
        poison = jnp.any(batch["label"] < 0)
        loss = jnp.where(poison, jnp.nan, loss)
        return loss, {**metrics, "loss": loss}

    return dataclasses.replace(ae.SPEC, loss_fn=loss_fn)


def _poison(split, n=1):
    images, labels = split
    labels = labels.copy()
    labels[:n] = -1
    return images, labels


@pytest.mark.slow
def test_nonfinite_stop_names_step_and_metric_and_keeps_last_checkpoint(digits, tmp_path):
    train, test = digits
    spec = _poisoned_ae_spec()
    kw = {"model_config": SMALL, "batch_size": 64, "workdir": tmp_path, "progress": False}
    aezoo.fit(spec, train, test, epochs=2, **kw)
    good = load_params(tmp_path / "params.msgpack")
    # Resume the same run for two more epochs with a poisoned training set.
    with pytest.raises(aezoo.NonFiniteError) as info:
        aezoo.fit(spec, _poison(train), test, epochs=4, resume=True, **kw)
    msg = str(info.value)
    assert "non-finite loss at step" in msg and "(epoch 3)" in msg
    step = int(msg.split("at step ")[1].split()[0])
    assert 2 * 22 <= step < 3 * 22  # a step of epoch 3 (22 steps per epoch)
    assert f"{tmp_path / 'checkpoints' / '2'} (epoch 2) is intact" in msg
    # No NaN reached a checkpoint: the newest is still epoch 2, with the good params.
    restored = aezoo.load(tmp_path)
    assert restored.epoch == 2
    chex.assert_trees_all_equal(jax.device_get(restored.params), good)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow
def test_nonfinite_skip_drops_and_counts_bad_updates(digits, tmp_path):
    train, test = digits
    result = aezoo.fit(
        _poisoned_ae_spec(),
        _poison(train),
        test,
        model_config=SMALL,
        epochs=3,
        batch_size=64,
        on_nonfinite="skip",
        progress=False,
    )
    # One poisoned example: exactly one batch per epoch holds it, unless the epoch's
    # permutation dropped it with the last partial batch.
    skipped = [r["train/skipped"] for r in result.history]
    assert all(s in (0.0, 1.0) for s in skipped) and sum(skipped) >= 2
    assert all(np.isfinite(r["train/loss"]) for r in result.history)
    chex.assert_tree_all_finite(result.params)
    assert result.history[-1]["test/loss"] < result.history[0]["test/loss"]


def test_skipped_update_leaves_state_unchanged(digits):
    (images, _labels), _ = digits
    spec = _poisoned_ae_spec()
    _, module = aezoo.get("ae", image_shape=(8, 8, 1), **SMALL)
    optimizer = optax.adam(1e-3)
    step = make_train_step(spec, module, optimizer, on_nonfinite="skip")
    state = create_train_state(spec, module, optimizer, jax.random.key(0))
    before = jax.device_get(state)
    bad = {
        "image": aezoo.data.to_float(jnp.asarray(images[:16])),
        "label": jnp.full((16,), -1, jnp.int32),
    }
    state, metrics = step(state, bad, jax.random.key(1))
    assert float(metrics["skipped"]) == 1.0
    chex.assert_trees_all_equal(jax.device_get(state.params), before.params)
    chex.assert_trees_all_equal(jax.device_get(state.opt_state), before.opt_state)
    assert int(state.step) == 1  # the step counter (and so the key) still advances


# --- loading ------------------------------------------------------------------------------


@pytest.mark.slow
def test_load_in_a_new_process(reference_run):
    code = f"""
import jax, numpy as np, aezoo
m = aezoo.load({str(reference_run)!r})
x = aezoo.data.load("digits", "test")[0][:5]
enc = m.encode(x)
rec = m.reconstruct(x)["mean"]
smp = m.sample(3, jax.random.key(0))["mean"]
dec = m.decode(enc["z_mean"])["mean"]
assert m.spec.name == "vae" and m.epoch == 6 and m.config.latent_dim == 4
assert enc["z_mean"].shape == (5, 4) and rec.shape == (5, 8, 8, 1) and smp.shape == (3, 8, 8, 1)
assert np.allclose(dec, rec, atol=1e-6) and np.isfinite(np.asarray(smp)).all()
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
    params = load_params(reference_run / "params.msgpack")
    chex.assert_trees_all_equal(jax.device_get(aezoo.load(reference_run).params), params)


def _copy_run(src, dst):
    shutil.copytree(src, dst)
    return dst


@pytest.mark.slow
def test_truncated_newest_checkpoint_falls_back_to_the_previous(reference_run, tmp_path):
    run = _copy_run(reference_run, tmp_path / "run")
    for f in (run / "checkpoints" / "6").rglob("*"):
        if f.is_file() and f.stat().st_size > 100 and "state" in f.parts:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.warns(UserWarning, match="checkpoints/6 is corrupt or truncated"):
        loaded = aezoo.load(run)
    assert loaded.epoch == 5


@pytest.mark.slow
def test_every_checkpoint_corrupt_is_a_clear_error(reference_run, tmp_path):
    run = _copy_run(reference_run, tmp_path / "run")
    for f in (run / "checkpoints").rglob("*"):
        if f.is_file() and "state" in f.parts:
            f.write_bytes(b"garbage")
    with (
        pytest.warns(UserWarning),
        pytest.raises(aezoo.CheckpointError, match="corrupt or truncated"),
    ):
        aezoo.load(run)


@pytest.mark.slow
def test_checkpoint_of_another_model_is_refused(reference_run, tmp_path, digits):
    train, test = digits
    other = tmp_path / "ae"
    aezoo.fit(
        "ae",
        train,
        test,
        model_config=SMALL,
        epochs=1,
        batch_size=64,
        workdir=other,
        progress=False,
        figures=False,
    )
    with pytest.raises(aezoo.CheckpointError, match="is a 'ae' model, not 'vae'"):
        aezoo.load(other, model="vae")
    # A vae's config.json over an ae's checkpoints: the metadata says otherwise.
    run = _copy_run(reference_run, tmp_path / "mixed")
    shutil.rmtree(run / "checkpoints")
    shutil.copytree(other / "checkpoints", run / "checkpoints")
    with pytest.raises(aezoo.CheckpointError, match=r"checkpoints/1 is of model 'ae', not 'vae'"):
        aezoo.load(run)
    # ... and resuming such a workdir is refused the same way.
    with pytest.raises(aezoo.CheckpointError, match="is of model 'ae', not 'vae'"):
        aezoo.fit(
            "vae",
            train,
            test,
            model_config={"latent_dim": 4, "hidden_dims": (64,)},
            epochs=6,
            batch_size=32,
            seed=7,
            dataset="digits",
            workdir=run,
            resume=True,
            progress=False,
            **REFERENCE_OPTIMIZER,
        )


@pytest.mark.slow
@pytest.mark.optax
def test_epoch_with_every_update_skipped_reports_nan_and_warns(digits, tmp_path, capsys):
    """No applied step: the epoch's train metrics are n/a (NaN), never a mean of nothing."""
    train, test = digits
    images, labels = train
    result = aezoo.fit(
        _poisoned_ae_spec(),
        (images, np.full_like(labels, -1)),  # every batch poisoned
        test,
        model_config=SMALL,
        epochs=1,
        batch_size=64,
        on_nonfinite="skip",
    )
    record = result.history[0]
    assert record["train/skipped"] == len(images) // 64
    assert np.isnan(record["train/loss"]) and np.isnan(record["train/nll"])
    err = capsys.readouterr().err
    assert "train/loss n/a" in err and "(no update applied)" in err
    assert "warning: no update was applied in epoch(s) 1" in err
