"""Reliability (issue 47), as tables: nothing a user owns is deleted, no cache returns the
wrong rows, no symlink leads a read or a write astray, every failure is one line. Each test
names the numbered defect of the issue it guards; each failed on the commit before the fix."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import aezoo
from aezoo import data
from aezoo._lock import LOCK_NAME, run_lock
from aezoo.cli import main
from tests.conftest import TINY_NET, TINY_RUN

pytestmark = pytest.mark.optax  # the rows that train run Optax's update

TRAIN = ["train", "vae", "--epochs", "1", "--batch-size", "8", "--hidden-dims", "16"]
TRAIN += ["--latent-dim", "2", "--no-progress"]


@pytest.fixture(autouse=True)
def fresh(fresh_data_cache):
    """Each test starts with no in-memory copy of a source and its own disk cache."""


def _one_line(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err and err[-1].startswith("aezoo: error: "), err
    assert not any("Traceback" in line for line in err)
    return err[-1]


def _images(root: pathlib.Path, classes: dict[str, int]) -> pathlib.Path:
    """``classes[name]`` 8x8 digits as PNGs in ``root/name/``."""
    x, _ = data.load("digits", "train")
    i = 0
    for name, n in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for _ in range(n):
            Image.fromarray(x[i, ..., 0]).save(root / name / f"{i:03d}.png")
            i += 1
    return root


def _snapshot(root: pathlib.Path) -> dict[pathlib.Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A run trained on a folder of images: ``(run, dataset folder)``."""
    root = tmp_path_factory.mktemp("folder-run")
    images = _images(root / "images", {"a": 20, "b": 20})
    assert main([*TRAIN, "--dataset", f"folder:{images}", "--workdir", str(root / "run")]) == 0
    return root / "run", images


# --- 1: a run folder is created, never cleared -----------------------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
def test_1_a_folder_that_is_not_a_run_is_refused_and_kept(overwrite, tmp_path, capsys):
    mine = tmp_path / "mine"
    _images(mine, {"cats": 3})
    for name in ("report.md", "eval.json", "summary.json", "holiday.png"):
        (mine / name).write_text("the user's own")
    (mine / "task-notes").mkdir()
    (mine / "task-notes" / "a.txt").write_text("the user's own")
    before = _snapshot(mine)
    argv = [*TRAIN, "--dataset", "digits", "--workdir", str(mine)]
    line = _one_line([*argv, "--overwrite"] if overwrite else argv, capsys)
    assert f"{mine} is not empty and holds no aezoo run" in line
    assert _snapshot(mine) == before
    with pytest.raises(aezoo.ConfigError, match="holds no aezoo run"):
        aezoo.fit("vae", data.load("digits", "train"), workdir=mine, epochs=1, **TINY_RUN)
    assert _snapshot(mine) == before


def test_1_overwrite_removes_what_aezoo_wrote_and_keeps_the_rest(vae_run_copy, capsys):
    run = vae_run_copy
    (run / "my-notes.txt").write_text("the user's own")
    (run / "photo.png").write_bytes(b"not drawn by aezoo")
    argv = [*TRAIN, "--dataset", "digits", "--workdir", str(run), "--overwrite"]
    assert main(argv) == 0
    assert (run / "my-notes.txt").read_text() == "the user's own"
    assert (run / "photo.png").read_bytes() == b"not drawn by aezoo"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1


def test_1_a_new_or_empty_folder_is_a_fresh_run(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    assert main([*TRAIN, "--dataset", "digits", "--workdir", "."]) == 0
    assert (tmp_path / "empty" / "config.json").is_file()


# --- 2: cache keys are exact -----------------------------------------------------------------


@pytest.mark.parametrize(
    "splits",
    [("test[:5]", "test[5:]"), ("train[:10%]", "train[10:]", "train[:10]")],
)
def test_2_the_disk_cache_never_returns_another_splits_rows(splits, tmp_path, monkeypatch):
    monkeypatch.delenv("AEZOO_CACHE_DIR")
    truth = {}
    for split in splits:  # read without any disk cache
        truth[split] = np.asarray(data.load("digits", split)[1])
        data.clear_cache()
    assert len({t.tobytes() for t in truth.values()}) == len(splits)
    cache = tmp_path / "cache"
    for split in splits:  # each read through one shared disk cache, in a fresh process state
        data.clear_cache()
        np.testing.assert_array_equal(data.load("digits", split, cache_dir=cache)[1], truth[split])
    for split in reversed(splits):
        data.clear_cache()
        np.testing.assert_array_equal(data.load("digits", split, cache_dir=cache)[1], truth[split])


@pytest.mark.parametrize("split", ["test[::2]", "test[1:9:2]", "train[:2]x"])
def test_2_a_slice_with_a_step_is_refused_everywhere(split, tmp_path):
    cache = tmp_path / "cache"
    data.load("digits", "test[:2]", cache_dir=cache)  # a cache entry it could be taken for
    data.clear_cache()
    with pytest.raises(aezoo.DataError, match="unknown split"):
        data.load("digits", split, cache_dir=cache)


# --- 3 and 11h: locks cover recipes; an interrupted recipe continues -------------------------


def _tiny_recipe(name: str = "tiny_test_recipe"):
    from aezoo.recipes import Recipe

    steps = tuple(
        f"train vae --dataset digits --epochs 1 --workdir {{runs}}/{w} --no-progress"
        for w in ("a", "b", "c")
    )
    return Recipe(name=name, title="three runs", protocol="test", steps=steps)


class _FakeSteps:
    """Stands for the step processes: records each argv, writes what a train step writes,
    and raises KeyboardInterrupt at step ``interrupt`` (1-based)."""

    def __init__(self, interrupt: int | None = None):
        self.calls: list[list[str]] = []
        self.interrupt = interrupt

    def __call__(self, argv, env=None):
        argv = argv[3:]  # drop python -m aezoo.cli
        self.calls.append(argv)
        if len(self.calls) == self.interrupt:
            raise KeyboardInterrupt
        workdir = pathlib.Path(argv[argv.index("--workdir") + 1])
        workdir.mkdir(parents=True)
        (workdir / "metrics.jsonl").write_text('{"epoch": 1, "train/loss": 1.0}\n')
        return 0


@pytest.fixture
def tiny_recipe(monkeypatch):
    from aezoo import recipes

    recipe = recipes.RECIPES.register(_tiny_recipe(), replace=True)
    monkeypatch.setattr("aezoo.recipes._recipe._machine", lambda: {"matmul_gflops": 0.0})
    yield recipe
    recipes.RECIPES.unregister(recipe.name)


def test_3_overwrite_refuses_while_a_run_below_is_locked(
    tiny_recipe, tmp_path, monkeypatch, capsys
):
    fake = _FakeSteps()
    monkeypatch.setattr("aezoo.recipes._recipe.subprocess.call", fake)
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["reproduce", tiny_recipe.name, "--runs", str(runs), "--results", str(results)]
    assert main(argv) == 0
    before = _snapshot(runs)
    with run_lock(runs / "b", "aezoo train vae (a live run)"):
        line = _one_line([*argv, "--overwrite"], capsys)
    assert "is in use by `aezoo train vae (a live run)`" in line
    assert _snapshot(runs) == before
    assert main([*argv, "--overwrite"]) == 0  # the lock released: redone
    assert len(fake.calls) == 6


def test_3_a_running_reproduction_holds_its_runs_folder(tiny_recipe, tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    with run_lock(runs, "aezoo reproduce tiny (another)"):
        line = _one_line(["reproduce", tiny_recipe.name, "--runs", str(runs)], capsys)
    assert "is in use by `aezoo reproduce tiny (another)`" in line


def test_11h_an_interrupted_recipe_resumes_at_its_first_unfinished_step(
    tiny_recipe, tmp_path, monkeypatch, capsys
):
    runs, results = tmp_path / "runs", tmp_path / "results"
    argv = ["reproduce", tiny_recipe.name, "--runs", str(runs), "--results", str(results)]
    first = _FakeSteps(interrupt=2)
    monkeypatch.setattr("aezoo.recipes._recipe.subprocess.call", first)
    assert main(argv) == 130
    assert not (results / f"{tiny_recipe.name}.json").exists()
    second = _FakeSteps()
    monkeypatch.setattr("aezoo.recipes._recipe.subprocess.call", second)
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    assert [c[c.index("--workdir") + 1][-1] for c in second.calls] == ["b", "c"]
    result = json.loads((results / f"{tiny_recipe.name}.json").read_text())
    assert [s["command"][-len("--no-progress") :] for s in result["steps"]] == ["--no-progress"] * 3
    assert sorted(result["outputs"]) == ["a", "b", "c"]


# --- 4: resume checks the data ------------------------------------------------------------


def test_4_resume_refuses_changed_data_unless_allowed(tmp_path, capsys):
    x, y = data.load("digits", "train")
    npz = tmp_path / "d.npz"
    np.savez(npz, x=np.asarray(x)[:100], y=np.asarray(y)[:100])
    run = tmp_path / "run"
    assert main([*TRAIN, "--dataset", f"npz:{npz}", "--workdir", str(run)]) == 0
    np.savez(npz, x=np.asarray(x)[:101], y=np.asarray(y)[:101])  # one image added
    data.clear_cache()
    resume = [*TRAIN[:2], "--epochs", "2", "--resume", "--workdir", str(run), "--no-progress"]
    line = _one_line(resume, capsys)
    assert "changed since the run was trained" in line and "--allow-changed-data" in line
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert main([*resume, "--allow-changed-data"]) == 0
    record = json.loads((run / "config.json").read_text())
    assert "rows when trained" in str(record["data_changed"])


# --- 5: a class folder named like a split -----------------------------------------------------


def test_5_a_class_named_train_beside_other_classes_is_a_class(tmp_path):
    root = _images(tmp_path / "vehicles", {"bicycle": 4, "bus": 4, "train": 4})
    source = data.describe_source(f"folder:{root}")
    assert source["classes"] == ["bicycle", "bus", "train"]
    images, labels = data.load(f"folder:{root}", "train")
    test_images, test_labels = data.load(f"folder:{root}", "test")
    assert len(images) + len(test_images) == 12
    assert sorted(set(labels) | set(test_labels)) == [0, 1, 2]


# --- 6: sample and task outputs never land in the run's dataset ------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "{run}", "--out", "{images}/a/grid.png"],
        ["task", "clustering", "{run}", "--out", "{images}/a/clusters"],
        ["task", "retrieval", "{run}", "--out", "{images}"],
    ],
)
def test_6_outputs_never_land_in_the_runs_dataset(argv, folder_run, capsys):
    run, images = folder_run
    before = _snapshot(images)
    argv = [a.format(run=run, images=images) for a in argv]
    assert "is inside the dataset" in _one_line(argv, capsys)
    assert _snapshot(images) == before


# --- 7 and 11e: lock files ----------------------------------------------------------------


def test_7_a_lock_that_cannot_be_written_leaves_no_lock(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("aezoo._lock._text", full)
    with pytest.raises(aezoo.ConfigError, match="No space left on device"), run_lock(tmp_path, "x"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    monkeypatch.undo()
    with run_lock(tmp_path, "aezoo train"):  # the retry takes it
        assert (tmp_path / LOCK_NAME).is_file()


def test_7_an_empty_lock_file_is_stale(tmp_path, capsys):
    (tmp_path / LOCK_NAME).write_text("")
    with run_lock(tmp_path, "aezoo eval"):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["command"] == "aezoo eval"
    assert "taking over the stale lock" in capsys.readouterr().err


def test_11e_a_live_pid_of_an_earlier_boot_is_stale(tmp_path, capsys):
    import socket

    with run_lock(tmp_path, "aezoo train"):
        mine = json.loads((tmp_path / LOCK_NAME).read_text())
    # The same pid on the same host, but the process that held it started at another time
    # (a restarted container where aezoo is PID 1 again).
    mine.update(pid=os.getpid(), host=socket.gethostname(), pid_start="another start")
    (tmp_path / LOCK_NAME).write_text(json.dumps(mine))
    with run_lock(tmp_path, "aezoo eval"):
        pass
    assert "taking over the stale lock" in capsys.readouterr().err
    # A lock naming this very process (the same start) is held, not stale:
    held = run_lock(tmp_path, "aezoo train")
    with held, pytest.raises(aezoo.ConfigError, match="is in use"), run_lock(tmp_path, "eval"):
        pass


# --- 8: reads stay inside the dataset ---------------------------------------------------------


def test_8_a_symlink_out_of_the_dataset_is_skipped_unless_allowed(tmp_path, capsys):
    root = _images(tmp_path / "data", {"a": 5})
    elsewhere = _images(tmp_path / "elsewhere", {"x": 7})
    (root / "b").symlink_to(elsewhere / "x", target_is_directory=True)
    inside = root / "a2"
    inside.symlink_to(root / "a", target_is_directory=True)  # inside the root: followed
    with pytest.warns(UserWarning, match=r"skipped 1 link\(s\) leading out of .*: b"):
        source = data.describe_source(f"folder:{root}")
    assert source["num_train"] + source["num_test"] == 5
    assert source["outside_links"] == ["b"]
    data.clear_cache()
    allowed = data.DataOptions(follow_outside_links=True)
    source = data.describe_source(f"folder:{root}", allowed)
    assert source["num_train"] + source["num_test"] == 12


# --- 9: writes never go through a symlink ---------------------------------------------------


def test_9_figures_replace_a_symlink_instead_of_writing_through_it(vae_run_copy, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("samples.png", "reconstructions.png", "report.md"):
        (vae_run_copy / name).unlink(missing_ok=True)
        (vae_run_copy / name).symlink_to(victim)
    assert main(["eval", str(vae_run_copy), "--nll-samples", "0", "--no-progress"]) == 0
    assert victim.read_text() == "precious"
    assert not (vae_run_copy / "samples.png").is_symlink()
    assert (vae_run_copy / "samples.png").read_bytes()[:4] == b"\x89PNG"


def test_9_an_out_that_is_a_symlink_is_refused(tmp_path, capsys):
    link = tmp_path / "preview.png"
    link.symlink_to(tmp_path / "nowhere" / "x.png")  # dangling
    line = _one_line(["data", "digits", "--out", str(link)], capsys)
    assert "is a symbolic link" in line
    assert not (tmp_path / "nowhere").exists()


def test_9_a_recipe_result_replaces_a_symlink(tiny_recipe, tmp_path, monkeypatch):
    monkeypatch.setattr("aezoo.recipes._recipe.subprocess.call", _FakeSteps())
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{tiny_recipe.name}.json").symlink_to(victim)
    argv = ["reproduce", tiny_recipe.name, "--runs", str(tmp_path / "runs")]
    assert main([*argv, "--results", str(tmp_path / "results")]) == 0
    assert victim.read_text() == "precious"


# --- 10: one line, never a traceback -----------------------------------------------------------

CONFIG_CASES = [
    (b"\xff\xfe not utf-8", "config.json is not valid JSON"),
    (b"[1, 2]", "config.json must hold a JSON object"),
    ({"members": "many"}, "config.json: members must be a list"),
    ({"members": [{"seed": 0}]}, "config.json: members[0] has no name"),
    ({"data_fingerprint": [1, 2]}, "config.json: data_fingerprint must be an object"),
    (
        {"data_fingerprint": {"test": {"rows": 3, "shape": [8, 8, 1], "dtype": "|u1"}}},
        "data_fingerprint.test lacks hash",
    ),
    ({"model_config": [1]}, "config.json: model_config must be an object"),
]


@pytest.mark.parametrize(("change", "message"), CONFIG_CASES)
def test_10_a_malformed_config_json_is_one_line(change, message, vae_run_copy, capsys):
    path = vae_run_copy / "config.json"
    if isinstance(change, bytes):
        path.write_bytes(change)
    else:
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    assert message in _one_line(["eval", str(vae_run_copy), "--nll-samples", "0"], capsys)
    with pytest.raises(aezoo.AezooError, match=re.escape(message.split(": ", 1)[-1])):
        aezoo.load(vae_run_copy)


@pytest.mark.parametrize("flag", ["--warmup-steps", "--epochs", "--checkpoint-every", "--keep"])
def test_10_integer_options_are_bounded_to_what_the_step_takes(flag, tmp_path, capsys):
    argv = [*TRAIN, "--dataset", "digits", "--workdir", str(tmp_path / "w"), flag, str(2**31)]
    if flag == "--warmup-steps":
        argv += ["--lr-schedule", "warmup_cosine"]
    assert "2147483647" in _one_line(argv, capsys)
    assert not (tmp_path / "w").exists()


def test_10_a_task_on_a_tiny_split_is_one_line(tmp_path, capsys):
    x, y = data.load("digits", "train")
    npz = tmp_path / "tiny.npz"
    xs, ys = np.asarray(x), np.asarray(y)
    np.savez(npz, x_train=xs[:60], y_train=ys[:60], x_test=xs[60:64], y_test=ys[60:64])
    run = tmp_path / "run"
    assert main([*TRAIN, "--dataset", f"npz:{npz}", "--workdir", str(run)]) == 0
    line = _one_line(["task", "manifold", str(run), "--out", str(tmp_path / "m")], capsys)
    assert "4 test examples" in line


def test_10_a_full_disk_during_training_is_one_line(tmp_path, monkeypatch, capsys):
    import orbax.checkpoint as ocp

    def full(self, *args, **kwargs):
        raise ValueError("RESOURCE_EXHAUSTED: Failed to write: No space left on device")

    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    line = _one_line([*TRAIN, "--dataset", "digits", "--workdir", str(tmp_path / "w")], capsys)
    assert "no space left on the device" in line and str(tmp_path / "w") in line


def test_10_a_workdir_name_too_long_is_one_line(tmp_path, capsys):
    long = tmp_path / ("w" * 300)
    line = _one_line([*TRAIN, "--dataset", "digits", "--workdir", str(long)], capsys)
    assert "name too long" in line.lower()


def test_10_reproduce_results_that_is_a_file_is_refused_before_anything(
    tiny_recipe, tmp_path, capsys
):
    (tmp_path / "results").write_text("a file")
    argv = ["reproduce", tiny_recipe.name, "--runs", str(tmp_path / "runs")]
    line = _one_line([*argv, "--results", str(tmp_path / "results")], capsys)
    assert "--results" in line and "not a directory" in line
    assert not (tmp_path / "runs").exists()


def test_10_a_runs_folder_with_a_space_reaches_every_step(tiny_recipe, tmp_path, monkeypatch):
    fake = _FakeSteps()
    monkeypatch.setattr("aezoo.recipes._recipe.subprocess.call", fake)
    runs = tmp_path / "my runs"
    argv = ["reproduce", tiny_recipe.name, "--runs", str(runs)]
    assert main([*argv, "--results", str(tmp_path / "results")]) == 0
    assert [c[c.index("--workdir") + 1] for c in fake.calls] == [str(runs / w) for w in "abc"]


@pytest.mark.parametrize(
    "labels",
    [
        np.array(list(range(10)) * 10, dtype=object),  # a pandas column of ints
        np.arange(100, dtype=np.uint16) % 10,
    ],
)
def test_10_integer_like_labels_of_any_dtype_are_accepted(labels):
    x, _ = data.load("digits", "train")
    result = aezoo.fit("vae", (np.asarray(x)[:100], labels), epochs=1, **TINY_RUN)
    assert len(result.history) == 1


def test_10_object_labels_that_are_not_integers_are_one_line():
    x, _ = data.load("digits", "train")
    labels = np.array(["a", 1] * 50, dtype=object)
    with pytest.raises(aezoo.DataError, match="integer class indices"):
        aezoo.fit("vae", (np.asarray(x)[:100], labels), epochs=1, **TINY_RUN)


def test_10_a_sampler_on_a_read_only_run_is_used_unsaved(
    vae_run_copy, tmp_path, monkeypatch, capsys
):
    def read_only(path, text):
        raise PermissionError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("aezoo.samplers.atomic_write", read_only)
    out = tmp_path / "s.png"
    argv = ["sample", str(vae_run_copy), "--sampler", "gmm", "--n", "4", "--out", str(out)]
    assert main([*argv, "--components", "2"]) == 0
    assert out.is_file()
    assert "cannot save the gmm sampler" in capsys.readouterr().err


# --- 11: smaller -----------------------------------------------------------------------


def test_11a_an_eval_on_a_slice_keeps_the_full_evaluation(vae_run_copy):
    run = vae_run_copy
    assert main(["eval", str(run), "--nll-samples", "3", "--no-progress"]) == 0
    full = json.loads((run / "eval.json").read_text())
    assert main(["eval", str(run), "--nll-samples", "0", "--split", "test[:50]"]) == 0
    after = json.loads((run / "eval.json").read_text())
    assert after["split"] == "test" and after["test/nll_is"] == full["test/nll_is"]
    assert after["splits"]["test[:50]"]["num_examples"] == 50


def test_11b_an_empty_evaluator_list_is_one_line(vae_run_copy, capsys):
    line = _one_line(["eval", str(vae_run_copy), "--evaluators", ""], capsys)
    assert "--evaluators names no evaluator" in line


def test_11c_metrics_files_are_strict_json(tmp_path):
    from tests.test_checkpoint import _poisoned_ae_spec

    x, y = data.load("digits", "train")
    result = aezoo.fit(
        _poisoned_ae_spec(),
        (x, np.full_like(y, -1)),  # every batch poisoned: the epoch's train loss is NaN
        epochs=1,
        on_nonfinite="skip",
        workdir=tmp_path / "w",
        model_config=TINY_NET,
        **TINY_RUN,
    )
    assert np.isnan(result.history[0]["train/loss"])

    def strict(text):
        raise AssertionError(f"not strict JSON: {text}")

    line = json.loads((tmp_path / "w" / "metrics.jsonl").read_text(), parse_constant=strict)
    assert line["train/loss"] is None and "train/loss" in line["nonfinite"]


@pytest.mark.slow
def test_11d_sigterm_stops_a_run_like_ctrl_c_and_it_resumes(tmp_path):
    argv = [sys.executable, "-m", "aezoo.cli", *TRAIN[:2], "--dataset", "digits"]
    argv += ["--epochs", "400", "--hidden-dims", "16", "--latent-dim", "2", "--no-progress"]
    argv += ["--workdir", str(tmp_path / "w")]  # checkpoints at epoch 1, then by the minute
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "w" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (
        not metrics.exists() or len(metrics.read_text().splitlines()) < 3
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    # The last line aezoo prints (Orbax's threads may add noise at interpreter exit).
    assert "aezoo: interrupted (SIGTERM)" in err.strip().splitlines()
    assert not (tmp_path / "w" / LOCK_NAME).exists()
    resume = [*argv[:-2], "--epochs", "5", "--workdir", str(tmp_path / "w"), "--resume"]
    assert subprocess.run(resume, capture_output=True, timeout=300).returncode == 0


def test_11f_a_dataset_path_is_recorded_absolute(tmp_path, monkeypatch):
    _images(tmp_path / "images", {"a": 10, "b": 10})
    monkeypatch.chdir(tmp_path)
    assert main([*TRAIN, "--dataset", "folder:images", "--workdir", "run"]) == 0
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["train"]["dataset"] == f"folder:{tmp_path / 'images'}"
    monkeypatch.chdir(tmp_path / "run")  # evaluated from elsewhere
    assert main(["eval", ".", "--nll-samples", "0", "--no-progress"]) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "model name must be"),
        ({"name": "../evil"}, "model name must be"),
        ({"loss_fn": None}, "loss_fn must be callable"),
    ],
)
def test_11g_register_validates_the_spec(change, message):
    from aezoo.models import MODELS, register
    from aezoo.models.vae import SPEC

    with pytest.raises(aezoo.ConfigError, match=message):
        register(dataclasses.replace(SPEC, **change))
    assert "" not in MODELS and "../evil" not in MODELS


def test_11i_a_negative_label_error_does_not_speak_of_wrapping():
    from aezoo.data._preprocess import check_labels

    with pytest.raises(aezoo.DataError) as info:
        check_labels(np.array([0, -5, 2]))
    assert "wrap" not in str(info.value) and "-5" in str(info.value)


def test_11j_task_takes_the_allow_changed_data_it_advises(folder_run, tmp_path, capsys):
    from aezoo.cli import parse

    run, _ = folder_run
    args = parse(["task", "clustering", str(run), "--allow-changed-data", "--out", str(tmp_path)])
    assert args.allow_changed_data is True


# --- the main job: checkpoints by time --------------------------------------------------------


def test_checkpoints_by_time_the_first_and_the_last(tmp_path):
    result = aezoo.fit(
        "vae",
        data.load("digits", "train"),
        epochs=5,
        workdir=tmp_path / "w",
        model_config=TINY_NET,
        checkpoint_seconds=3600,
        **TINY_RUN,
    )
    assert len(result.history) == 5
    assert sorted(p.name for p in (tmp_path / "w" / "checkpoints").iterdir()) == ["1", "5"]
