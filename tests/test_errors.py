"""Bad input at every edge gets one line naming the problem, never a traceback (>= 30 cases)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import aezoo
from aezoo.cli import main
from aezoo.train.workdir import load_params
from tests.conftest import TINY_NET, TINY_RUN, net_flags

SMALL = net_flags(TINY_NET)


@pytest.fixture
def trained(vae_run_copy):
    """A finished vae run on digits (2 epochs) to resume, load and damage: this test's copy
    of the session's run."""
    return vae_run_copy


# (argv after `aezoo`, expected fragment of the one-line message). {run} = a trained workdir.
CLI_CASES = [
    (["task", "anomaly", "vae", "--seeds", "2"], "trains one model per class: no --seeds"),
    (["train", "ae", "--dataset", "mnsit"], "unknown dataset 'mnsit'"),
    (["train", "ae", "--dataset", "imdb_reviews"], "not an image-classification dataset"),
    (["train", "ae", "--latent-dim", "0"], "latent_dim must be a positive integer; got 0"),
    (["train", "ae", "--latent-dim", "-4"], "latent_dim must be a positive integer; got -4"),
    (["train", "ae", "--hidden-dims", "64,0"], "hidden_dims entries must be a positive integer"),
    (["train", "ae", "--hidden-dims", "-8"], "hidden_dims entries must be a positive integer"),
    (["train", "ae", "--batch-size", "0"], "batch_size must be a positive integer; got 0"),
    (["train", "ae", "--batch-size", "-5"], "batch_size must be a positive integer"),
    (["train", "ae", "--batch-size", "5000"], "batch_size 5000 is larger than the training split"),
    (["train", "ae", "--epochs", "-1"], "epochs must be an integer >= 0; got -1"),
    (["train", "ae", "--lr", "0"], "learning_rate must be a finite number > 0; got 0.0"),
    (["train", "ae", "--lr", "-0.1"], "learning_rate must be a finite number > 0"),
    (["train", "ae", "--lr", "nan"], "learning_rate must be a finite number > 0; got nan"),
    (["train", "ae", "--lr", "inf"], "learning_rate must be a finite number > 0; got inf"),
    (["train", "ae", "--seed", "-1"], "seed must be an integer in [0, 4294967295]"),
    (["train", "ae", "--seed", str(2**40)], "seed must be an integer in [0, 4294967295]"),
    (["train", "ae", "--seeds", "0"], "seeds must be a positive integer; got 0"),
    (["train", "ae", "--sweep", "lr"], "--sweep expects NAME=V1,V2,..."),
    (["train", "ae", "--sweep", "lr=0.1,nan"], "sweep lr values must be a finite number"),
    (["train", "beta_vae", "--beta", "nan"], "beta must be a finite number >= 0; got nan"),
    (["train", "beta_vae", "--beta", "inf"], "beta must be a finite number >= 0; got inf"),
    (["train", "denoising_ae", "--noise-level", "nan"], "noise_level must be a finite number"),
    (["train", "vqvae", "--commitment", "nan"], "commitment must be a finite number >= 0"),
    (["train", "sparse_ae", "--rho", "1"], "rho must be a finite number in (0, 1); got 1.0"),
    (["train", "m2", "--labels", "15"], "labels must be a multiple of the 10 classes; got 15"),
    (["train", "m2", "--labels", "-1"], "labels must be an integer >= 0; got -1"),
    (["train", "m2", "--labels", "5000"], "class 0 has"),
    (["train", "m2", "--labelled-share", "1"], "labelled_share must be a finite number in (0, 1)"),
    (["train", "m2", "--alpha", "-1"], "alpha must be a finite number >= 0; got -1.0"),
    (["train", "adgm", "--aux-dim", "0"], "aux_dim must be a positive integer; got 0"),
    (["train", "vae", "--init-from", "{tmp}"], "vae cannot start from another run"),
    (["train", "gmvae", "--init-from", "{tmp}"], "config.json is missing"),
    (["train", "ae", "--eval-batch-size", "0"], "eval_batch_size must be a positive integer"),
    (["train", "ae", "--checkpoint-every", "0"], "checkpoint_every must be a positive integer"),
    (["train", "ae", "--keep", "0"], "keep must be a positive integer; got 0"),
    (["train", "ae", "--dataset", "fashion_mnist", "--data-dir", "{tmp}"], "is not prepared in"),
    (["train", "vae", "--workdir", "{run}"], "already holds a run; pass --resume"),
    (
        ["train", "vae", "--workdir", "{run}", "--resume", "--lr", "0.5"],
        "settings conflict with the run in",
    ),
    (
        ["train", "vae", "--workdir", "{run}", "--resume", "--latent-dim", "3"],
        "latent_dim 2 != 3; drop the conflicting flags to resume it",
    ),
    (["train", "ae", "--workdir", "{run}", "--resume"], "holds a 'vae' run, not 'ae'"),
    (["train", "vae", "--workdir", "{tmp}/empty", "--resume"], "nothing to resume"),
    (
        ["train", "vae", "--workdir", "{run}", "--resume", "--overwrite"],
        "--resume and --overwrite exclude each other",
    ),
    (["train", "vae", "--workdir", "{run}/config.json"], "config.json is a file, not a directory"),
    (["train", "vae", "--workdir", "{run}/config.json/sub"], "config.json is a file, not a"),
    (["train", "vae", "--workdir", ""], "--workdir is empty; give a directory"),
    (["train", "vae", "--workdir", "/sys/aezoo-run"], "cannot write to --workdir /sys/aezoo-run"),
    (
        ["train", "vae", "--workdir", "{run}", "--resume", "--epochs", "0"],
        "is at epoch 2; epochs=0 would not continue it",
    ),
    (
        ["eval", "{run}", "--evaluators", "nlll"],
        "unknown evaluator 'nlll'; did you mean 'nll'? available: clustering, disentanglement,",
    ),
    (["bench", "--quick", "--out", "{run}/config.json"], "config.json is a file, not a directory"),
    (["eval", "{run}", "--evaluators", "disentanglement"], "dataset 'digits' has no ground-truth"),
    (
        ["eval", "{run}", "--evaluators", "disentanglement", "--num-train", "0"],
        "--num-train must be a positive integer; got 0",
    ),
    (
        ["eval", "{run}", "--evaluators", "disentanglement", "--metrics", "mig,dci2"],
        "unknown metric 'dci2'",
    ),
    (
        ["eval", "{run}", "--num-train", "300"],
        "option 'num_train' belongs to evaluator disentanglement, which is not chosen",
    ),
    (["eval", "{run}", "--evaluators", "export"], "the export evaluator needs --export-codes PATH"),
    (["eval", "{tmp}", "--evaluators", "objective"], "config.json is missing"),
    (["eval", "{run}", "--export-codes", "{run}/codes.npz"], "is inside the run folder"),
    (["eval", "{run}", "--export-codes", "{run}/config.json"], "is inside the run folder"),
    (["eval", "{run}", "--export-codes", "{tmp}/missing/codes.npz"], "does not exist"),
    (["eval", "{run}", "--export-codes", "{tmp}"], "is not a file path"),
    (["task", "manifold", "{run}", "--methods", "pca,sne"], "unknown method 'sne'"),
    (["task", "manifold", "{run}", "--num-points", "5"], "num_points must be an integer >= 20"),
    (["task", "retrieval", "{tmp}"], "config.json is missing"),
    (["task", "clustering", "{run}", "--clusters", "16,0"], "clusters entries must be a positive"),
    (["task", "anomaly", "vae", "--classes", "3,12"], "classes [12] have no"),
    (["task", "anomaly", "vae", "--classes", "a"], "classes must be 'all' or"),
    (["task", "anomaly", "vae", "--latent-dim", "0"], "latent_dim must be a positive integer"),
    (["task", "semisupervised", "{run}", "--labels", "15"], "multiple of the 10 classes"),
]


@pytest.mark.optax
@pytest.mark.parametrize(
    ("argv", "message"), CLI_CASES, ids=[" ".join(c[0][1:4]) for c in CLI_CASES]
)
def test_cli_usage_errors(argv, message, trained, tmp_path, capsys):
    argv = [a.format(run=trained, tmp=tmp_path) for a in argv]
    if argv[0] == "train" and "--workdir" not in argv:
        argv += ["--workdir", str(tmp_path / "out")]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err, "no message"
    assert err[-1].startswith("aezoo: error: ")
    assert message in err[-1], err[-1]
    assert not any("Traceback" in line for line in err)


ARGPARSE_CASES = [
    (["train", "vae", "--labels", "50"], "unrecognized arguments: --labels 50"),
    (["train", "vea"], "invalid choice: 'vea'"),
    (["train", "ae", "--likelihood", "laplace"], "invalid choice: 'laplace'"),
    (["train", "ae", "--binarize", "maybe"], "invalid choice: 'maybe'"),
    (["train", "ae", "--on-nonfinite", "ignore"], "invalid choice: 'ignore'"),
    (["train", "ae", "--hidden-dims", "a,b"], "comma-separated integers"),
    (["train", "ae", "--epochs", "ten"], "invalid int value: 'ten'"),
    (["train", "ae", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["task", "manifold"], "the following arguments are required: WORKDIR"),
    (["task", "tsne", "runs/x"], "invalid choice: 'tsne'"),
    (["task", "anomaly", "vea"], "invalid choice: 'vea'"),
    (["task", "anomaly", "--model", "vae"], "unrecognized arguments: --model"),
]


@pytest.mark.parametrize(("argv", "message"), ARGPARSE_CASES)
def test_cli_parse_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _images(shape=(10, 8, 8, 1), dtype=np.uint8, fill=0):
    return np.full(shape, fill, dtype)


API_CASES = [
    (lambda d: aezoo.get("vea"), aezoo.ConfigError, "unknown model 'vea'"),
    (lambda d: aezoo.get("vae", latent_dim=0), aezoo.ConfigError, "latent_dim must be"),
    (lambda d: aezoo.get("m2", hidden_dims=()), aezoo.ConfigError, "m2 needs at least one"),
    (lambda d: aezoo.get("vae", image_shape=(28, 28)), aezoo.ConfigError, "image_shape must be"),
    (lambda d: aezoo.get("vae", latent=3), aezoo.ConfigError, "unknown option(s) latent"),
    (lambda d: aezoo.data.load("digits", "valid"), aezoo.DataError, "unknown split 'valid'"),
    (lambda d: aezoo.data.load("", "train"), aezoo.DataError, "must be a non-empty string"),
    (
        lambda d: aezoo.fit("ae", (_images((10, 64)), np.zeros(10, np.int32))),
        aezoo.ShapeError,
        "rank 4",
    ),
    (
        lambda d: aezoo.fit("ae", (_images(dtype=np.int64), np.zeros(10, np.int32))),
        aezoo.ShapeError,
        "must be uint8",
    ),
    (
        lambda d: aezoo.fit("ae", (_images(dtype=np.float32, fill=np.nan), np.zeros(10, np.int32))),
        aezoo.DataError,
        "NaN or infinite",
    ),
    (
        lambda d: aezoo.fit("ae", (_images(dtype=np.float32, fill=2.0), np.zeros(10, np.int32))),
        aezoo.DataError,
        "must lie in [0, 1]",
    ),
    (
        lambda d: aezoo.fit("ae", (_images(), np.zeros(7, np.int32))),
        aezoo.ShapeError,
        "labels must have shape [10]",
    ),
    (
        lambda d: aezoo.fit("ae", (_images((0, 8, 8, 1)), np.zeros(0, np.int32))),
        aezoo.DataError,
        "hold no examples",
    ),
    (
        lambda d: aezoo.fit(
            "ae",
            (_images(), np.zeros(10, np.int32)),
            (_images((5, 9, 9, 1)), np.zeros(5, np.int32)),
            batch_size=2,
        ),
        aezoo.ShapeError,
        "differ in shape",
    ),
    (
        lambda d: aezoo.fit(
            "ae", (_images(), np.zeros(10, np.int32)), batch_size=2, on_nonfinite="maybe"
        ),
        aezoo.ConfigError,
        "unknown on_nonfinite",
    ),
    (
        lambda d: aezoo.fit("ae", (_images(), np.zeros(10, np.int32)), batch_size=2, resume=True),
        aezoo.ConfigError,
        "resume needs a workdir",
    ),
    (
        lambda d: aezoo.fit("ae", _images()),
        aezoo.ShapeError,
        "training data must be an (images, labels) pair",
    ),
    (
        lambda d: aezoo.fit("cvae", (_images(), None), batch_size=2),
        aezoo.ConfigError,
        "training labels span -1..-1 but the model is conditioned on 10 classes (labels 0..9)",
    ),
    (
        lambda d: aezoo.fit("ae", (_images(), np.zeros(10)), config={"epochs": 1}),
        aezoo.ConfigError,
        "config must be an aezoo.TrainConfig (model settings go in model_config=)",
    ),
    (
        lambda d: aezoo.fit("ae", (_images(), np.zeros(10)), epoch=1),
        aezoo.ConfigError,
        "unknown training setting(s) epoch",
    ),
    (lambda d: aezoo.TrainConfig(keep=0), aezoo.ConfigError, "keep must be a positive integer"),
    (
        lambda d: aezoo.fit("ae", (_images(), None), batch_size=2, seeds=2, fused=False),
        aezoo.ConfigError,
        "vmapped members run the fused epoch; drop --per-step",
    ),
    (lambda d: aezoo.load(d / "nothing"), aezoo.CheckpointError, "config.json is missing"),
    (lambda d: aezoo.load(d / "run", epoch=99), aezoo.CheckpointError, "no checkpoint of epoch 99"),
    (
        lambda d: aezoo.load(d / "run", model="ae"),
        aezoo.CheckpointError,
        "is a 'vae' model, not 'ae'",
    ),
    (lambda d: aezoo.load(d / "nockpt"), aezoo.CheckpointError, "no checkpoint in"),
    (lambda d: aezoo.load(d / "badjson"), aezoo.CheckpointError, "is not valid JSON"),
    # The helpers of a loaded model follow the one image rule of fit, and check codes,
    # sample counts and keys.
    (lambda d: _loaded(d).reconstruct(_images((0, 8, 8, 1))), aezoo.DataError, "no examples"),
    (
        lambda d: _loaded(d).reconstruct(_images(dtype=np.int32)),
        aezoo.ShapeError,
        "must be uint8 (0..255) or float in [0, 1]; got dtype int32",
    ),
    (lambda d: _loaded(d).encode(_images().tolist()), aezoo.ShapeError, "got dtype int64"),
    (
        lambda d: _loaded(d).encode(_images(dtype=np.float32, fill=255.0)),
        aezoo.DataError,
        "must lie in [0, 1]; got values in [255, 255]",
    ),
    (
        lambda d: _loaded(d).encode(_images((2, 9, 9, 1))),
        aezoo.ShapeError,
        "must have shape [B, 8, 8, 1] for this model",
    ),
    (lambda d: _loaded(d).decode(np.zeros((2, 3))), aezoo.ShapeError, "codes must have shape"),
    (lambda d: _loaded(d).decode({"x": 1}), aezoo.ShapeError, "got keys ['x']"),
    (lambda d: _loaded(d).sample(-1, _key()), aezoo.ConfigError, "positive int number"),
    (lambda d: _loaded(d).sample(2.5, _key()), aezoo.ConfigError, "positive int number"),
    (lambda d: _loaded(d).sample(0, _key()), aezoo.ConfigError, "positive int number"),
    (lambda d: _loaded(d).sample(3, 0), aezoo.ConfigError, "one key from jax.random.key"),
    (
        lambda d: _loaded(d).sample(3, _key(), label=[1, 2]),
        aezoo.ShapeError,
        "label must be ints of shape [3]",
    ),
    (
        lambda d: load_params(d / "run" / "config.json"),
        aezoo.CheckpointError,
        "cannot read params from",
    ),
    (lambda d: _epoch(batch_size=0), aezoo.ConfigError, "batch_size must be a positive integer"),
    (
        lambda d: _epoch(batch_size=11),
        aezoo.ConfigError,
        "batch_size 11 is larger than the training split (10 examples)",
    ),
    (
        lambda d: _cvae_loss_without_label(),
        aezoo.ConfigError,
        "this model is conditioned on labels: pass label=",
    ),
    (
        lambda d: aezoo.fit("vae", _digits(), workdir=d / "lost", resume=True, **_SMALL_FIT),
        aezoo.CheckpointError,
        "nothing to resume in",
    ),
]


_SMALL_FIT = {"model_config": TINY_NET, **TINY_RUN}


def _loaded(d):
    return aezoo.load(d / "run")


def _key():
    import jax

    return jax.random.key(0)


def _digits():
    return aezoo.data.load("digits", "train")


def _epoch(batch_size: int):
    import optax

    from aezoo.train import make_train_epoch

    spec, module = aezoo.get("ae", image_shape=(8, 8, 1))
    return make_train_epoch(spec, module, optax.adam(1e-3), batch_size=batch_size, num_examples=10)


def _cvae_loss_without_label():
    import jax
    import jax.numpy as jnp

    spec, module = aezoo.get("cvae", image_shape=(8, 8, 1), hidden_dims=(8,))
    x = jnp.zeros((2, 8, 8, 1))
    params = module.init(jax.random.key(0), x, label=jnp.zeros(2, jnp.int32))["params"]
    return spec.loss_fn(params, {"image": x}, jax.random.key(1), module=module)


@pytest.mark.optax
@pytest.mark.parametrize(
    ("call", "error", "message"), API_CASES, ids=[f"api{i}" for i in range(len(API_CASES))]
)
def test_api_errors(call, error, message, trained, tmp_path):
    shutil.copytree(trained, tmp_path / "run")
    (tmp_path / "nockpt").mkdir()
    shutil.copy(trained / "config.json", tmp_path / "nockpt" / "config.json")
    shutil.copytree(trained, tmp_path / "lost")  # recorded epochs, checkpoints gone
    shutil.rmtree(tmp_path / "lost" / "checkpoints")
    (tmp_path / "badjson").mkdir()
    (tmp_path / "badjson" / "config.json").write_text("{not json")
    with pytest.raises(error) as info:
        call(tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_there_are_at_least_30_cases():
    assert len(CLI_CASES) + len(ARGPARSE_CASES) + len(API_CASES) >= 30
