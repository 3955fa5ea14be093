"""The ``aezoo`` command: list, train, help, and one-line usage errors (exit status 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aezoo.cli import main


def test_list_shows_models_samplers_and_datasets(capsys):
    from aezoo.samplers import PRIOR, SAMPLERS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("ae", "vae", "digits", "mnist", "cifar10"):
        assert word in out
    listed = out.split("samplers")[1].split("datasets:")[0]
    assert [line.split()[0] for line in listed.splitlines()[1:]] == [PRIOR, *SAMPLERS]
    can = "classify, conditional, generative, normal_prior, semi_supervised"
    assert f"(can also: {can}; --sweep: lr, alpha)" in out


def test_train_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "vae", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--latent-dim",
        "--hidden-dims",
        "--likelihood",
        "--dataset",
        "--epochs",
        "--batch-size",
        "--lr",
        "--seed",
        "--workdir",
        "--binarize",
        "--per-step",
    ):
        assert flag in out


@pytest.mark.optax
def test_train_writes_outputs(tmp_path, capsys):
    code = main(
        [
            "train",
            "ae",
            "--epochs",
            "2",
            "--hidden-dims",
            "32",
            "--latent-dim",
            "4",
            "--workdir",
            str(tmp_path),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "done: train/loss" in captured.out
    assert "latent_dim=4" in captured.err  # the settings print at start
    assert "epoch 2/2" in captured.err
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "test/loss" in json.loads(lines[-1])
    assert (tmp_path / "reconstructions.png").exists()
    assert not (tmp_path / "samples.png").exists()  # ae is not generative


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "ae", "--dataset", "mnsit"], "unknown dataset 'mnsit'"),
        (["train", "ae", "--latent-dim", "0"], "latent_dim must be a positive integer"),
        (["train", "ae", "--batch-size", "100000"], "larger than the training split"),
        (["train", "ae", "--epochs", "-2"], "epochs must be an integer >= 0"),
        (["train", "ae", "--lr", "-1"], "learning_rate must be a finite number > 0"),
        (["train", "ae", "--lr", "nan"], "learning_rate must be a finite number > 0"),
        (["train", "m2", "--hidden-dims", "none"], "m2 needs at least one hidden layer"),
        (["train", "hvae2", "--hidden-dims", "none"], "hidden_dims must be a non-empty list"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(argv, message, capsys, tmp_path):
    code = main([*argv, "--workdir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("aezoo: error: ") and message in err[-1]
    assert not any("Traceback" in line for line in err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "vea"], "invalid choice: 'vea'"),
        (["train", "ae", "--hidden-dims", "a,b"], "comma-separated integers"),
        (["train", "ae", "--likelihood", "laplace"], "invalid choice: 'laplace'"),
        (["train", "ae", "--binarize", "maybe"], "invalid choice: 'maybe'"),
    ],
)
def test_argparse_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow  # the fast tier stays < 2 min
def test_console_errors_print_no_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aezoo.cli",
            "train",
            "vae",
            "--dataset",
            "nope",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "aezoo: error: unknown dataset 'nope'" in proc.stderr


@pytest.mark.slow  # a fresh process
def test_threads_pins_the_process_before_jax_starts():
    code = (
        "import os, jax; from aezoo._cores import limit_cores; print(limit_cores(1)); "
        "jax.numpy.zeros(1).block_until_ready(); print(sorted(os.sched_getaffinity(0)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, after = out.stdout.split("\n")[:2]
    assert first == after and len(json.loads(first)) == 1


@pytest.mark.unit
@pytest.mark.parametrize(
    ("threads", "message"), [("0", "--threads must be between 1 and"), ("1", "before JAX starts")]
)
def test_a_bad_or_late_threads_setting_is_a_one_line_error(threads, message, capsys):
    import jax

    jax.numpy.zeros(1).block_until_ready()  # this process's backend has started
    assert main(["--threads", threads, "list"]) == 2
    assert message in capsys.readouterr().err
