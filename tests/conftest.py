"""Test-wide settings: fail loudly on silent broadcasting or dtype promotion."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

# Tests compile hundreds of small programs and run each for milliseconds: XLA's optimizing
# passes cost more than they save there (the tests timed both ways ran 29-39% faster
# without them: docs/development.md).
# Set before JAX starts, so that the subprocesses of the CLI and multi-process tests inherit
# it; AEZOO_TEST_OPTIMIZED=1 runs the suite on the optimizing compiler that users get (the
# benchmarks and recipes always do).
if os.environ.get("AEZOO_TEST_OPTIMIZED") != "1":
    os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
# Many tests compile the same small programs (the same model, shapes and settings): a
# compilation cache for the session turns the repeats into loads.
# Subprocesses (multi-process and SIGKILL tests) inherit it through the environment.
_OWN_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _OWN_CACHE = tempfile.mkdtemp(prefix="aezoo-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update(
    "jax_persistent_cache_min_compile_time_secs",
    float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
)


@pytest.fixture(autouse=True)
def strict_dtype_promotion(request):
    """Strict dtype promotion for aezoo's own code. Tests that run Optax's update opt out
    with ``@pytest.mark.optax`` (Optax's Adam mixes Python floats with int32 counters)."""
    if request.node.get_closest_marker("optax"):
        yield
        return
    with jax.numpy_dtype_promotion("strict"):
        yield


# One network size per purpose, defined once, so that tests compile the same programs (the
# session's compilation cache then turns the repeats into loads):
TINY_NET = {"hidden_dims": (16,), "latent_dim": 2}  # runs whose numbers do not matter
SMALL_NET = {"hidden_dims": (32,), "latent_dim": 4}  # runs that must learn something
TINY_RUN = {"dataset": "digits", "batch_size": 64, "progress": False}  # fit() settings


# The fast tier runs the registry-wide contract tests on one model of each kind (a plain
# code, a density with a prior, adversarial phases, a discrete code, a conditional decoder);
# the full suite runs them on every registered model and each model's own test file (its
# unit tests in every tier). So the development loop does not grow with the zoo.
FAST_MODELS = ("ae", "vae", "aae", "vqvae", "cvae")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """A zoo model's own test file (``pytestmark = pytest.mark.model_file``) runs in the full
    suite, its unit tests in every tier: the fast tier does not grow with the zoo. Working on
    a model, run its file: ``pytest tests/test_iaf.py`` selects every test in it."""
    for item in items:
        if item.get_closest_marker("model_file") and not item.get_closest_marker("unit"):
            item.add_marker(pytest.mark.slow)


def every_model(names) -> list:
    """``names`` as pytest params, those outside :data:`FAST_MODELS` in the full suite only."""
    return [n if n in FAST_MODELS else pytest.param(n, marks=pytest.mark.slow) for n in names]


def net_flags(net: dict) -> list[str]:
    """A network's settings as ``aezoo train`` flags."""
    dims = ",".join(map(str, net["hidden_dims"]))
    return ["--hidden-dims", dims, "--latent-dim", str(net["latent_dim"])]


MNIST_DIR = os.environ.get("TFDS_DATA_DIR")


def has_mnist() -> bool:
    return bool(MNIST_DIR) and os.path.isdir(os.path.join(MNIST_DIR, "mnist"))


@pytest.fixture(scope="session")
def digits():
    from aezoo import data

    return data.load("digits", "train"), data.load("digits", "test")


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory, digits):
    """A two-epoch ``vae`` run on digits (TINY_NET, checkpointed every epoch), trained once
    per session. Never changed: tests that write take :func:`vae_run_copy`."""
    import aezoo

    workdir = tmp_path_factory.mktemp("vae-run") / "w"
    aezoo.fit("vae", *digits, workdir=workdir, epochs=2, model_config=TINY_NET, **TINY_RUN)
    return workdir


@contextlib.contextmanager
def xla_optimized():
    """Compile with XLA's optimizations, for a program that runs for seconds."""
    before = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", before)


@pytest.fixture(scope="session")
def digits_net(digits, tmp_path_factory):
    """The digits feature network of the sample-quality metrics, trained once per session
    into a cache of its own: ``(features, cache_dir, progress lines)``. Tests that evaluate
    sample quality pass ``cache_dir`` so that they read it instead of training again."""
    from aezoo.eval import features

    cache = tmp_path_factory.mktemp("features-cache")
    lines = []
    with xla_optimized():  # 1,500 steps: compiling it well pays
        net = features.load("digits", *digits, cache_dir=cache, say=lines.append)
    return net, cache, lines


@pytest.fixture
def vae_run_copy(vae_run, tmp_path):
    """A copy of :func:`vae_run` this test may change."""
    return shutil.copytree(vae_run, tmp_path / "vae-run")


@pytest.fixture
def fresh_data_cache(tmp_path, monkeypatch):
    """No in-memory copy of a user source and a disk cache of this test's own, before and
    after it (tests that write files a source reads use it)."""
    from aezoo import data

    monkeypatch.setenv("AEZOO_CACHE_DIR", str(tmp_path / "cache"))
    data.clear_cache()
    yield
    data.clear_cache()


@pytest.fixture
def rng():
    return jax.random.key(0)


@pytest.fixture
def small_batch():
    """A batch of 8 digits-shaped images in [0, 1]."""
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype(np.float32)
    return {"image": x, "label": np.arange(8, dtype=np.int32)}


def pytest_sessionfinish(session, exitstatus):
    """Remove the session's compilation cache (not one the environment named)."""
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
