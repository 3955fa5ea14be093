"""The extension point, proved: a model defined in its own file outside aezoo (its config,
module, loss and SPEC), registered, is trained, resumed, loaded, evaluated and sampled, and
every task its capabilities allow runs on it, without any other file knowing it."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import jax
import numpy as np
import pytest

import aezoo
from aezoo.models import MODELS, register
from aezoo.tasks import run_task

MODEL_FILE = textwrap.dedent(
    '''
    """A user's model: a Gaussian-encoder VAE with a linear code map, written from aezoo's
    public building blocks only."""

    import dataclasses

    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    from aezoo import losses
    from aezoo.models import BaseConfig, ModelSpec
    from aezoo.nn import make_decoder, make_encoder, reparameterize


    @dataclasses.dataclass(frozen=True)
    class TinyConfig(BaseConfig):
        kl_weight: float = 1.0


    class Tiny(nn.Module):
        config: TinyConfig

        def setup(self):
            self.encoder = make_encoder(self.config, 2 * self.config.latent_dim)
            self.decoder = make_decoder(self.config)

        def encode(self, x, **cond):
            mean, logvar = jnp.split(self.encoder(x), 2, axis=-1)
            return {"z": mean, "z_mean": mean, "z_logvar": logvar}

        def decode(self, z, **cond):
            return self.decoder(z)

        def reconstruct(self, x, **cond):
            return self.decode(self.encode(x)["z"])

        def sample(self, n, rng, **cond):
            return self.decode(jax.random.normal(rng, (n, self.config.latent_dim)))

        def __call__(self, x, *, rng=None, train=True, **cond):
            q = self.encode(x)
            z = q["z"] if rng is None else reparameterize(rng, q["z_mean"], q["z_logvar"])
            return {**q, "z": z, **self.decode(z)}


    def loss_fn(params, batch, rng, *, module):
        out = module.apply({"params": params}, batch["image"], rng=rng)
        nll = losses.image_nll(module.config.likelihood, out, batch["image"])
        kl = losses.kl_normal_std(out["z_mean"], out["z_logvar"]).sum(-1)
        loss = jnp.mean(nll + module.config.kl_weight * kl)
        return loss, {"loss": loss, "nll": jnp.mean(nll), "kl": jnp.mean(kl)}


    def log_weights(params, batch, rng, *, module, num_samples):
        q = module.apply({"params": params}, batch["image"], method="encode")
        eps = jax.random.normal(rng, (num_samples, *q["z_mean"].shape))
        z = q["z_mean"][None] + jnp.exp(0.5 * q["z_logvar"])[None] * eps
        log_q = losses.gaussian_log_prob(z, q["z_mean"][None], q["z_logvar"][None]).sum(-1)
        log_p = losses.gaussian_log_prob(z, jnp.zeros_like(z), jnp.zeros_like(z)).sum(-1)
        decode = lambda zk: module.apply({"params": params}, zk, method="decode")
        nll = jax.vmap(lambda o: losses.image_nll("bernoulli", o, batch["image"]))(
            jax.vmap(decode)(z)
        )
        return log_p - log_q - nll


    SPEC = ModelSpec(
        name="tiny_user_vae",
        description="a user's VAE, registered from its own file",
        config_cls=TinyConfig,
        module_cls=Tiny,
        loss_fn=loss_fn,
        generative=True,
        density=log_weights,
    )
    '''
)

SMALL = {"hidden_dims": (32,), "latent_dim": 2}
FIT = {"batch_size": 64, "progress": False, "figures": False, "dataset": "digits"}


@pytest.fixture(scope="module")
def user_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "tiny_user_vae.py"
    path.write_text(MODEL_FILE)
    spec = importlib.util.spec_from_file_location("tiny_user_vae", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tiny_user_vae"] = module
    spec.loader.exec_module(module)
    register(module.SPEC)
    yield module.SPEC
    MODELS.unregister(module.SPEC.name)
    sys.modules.pop("tiny_user_vae")


@pytest.fixture(scope="module")
def user_run(user_model, tmp_path_factory, digits):
    workdir = tmp_path_factory.mktemp("user-run")
    aezoo.fit(user_model.name, *digits, model_config=SMALL, workdir=workdir, epochs=2, **FIT)
    return workdir


@pytest.mark.optax
def test_a_registered_model_trains_resumes_and_loads(user_model, user_run, digits):
    again = aezoo.fit(
        user_model.name,
        *digits,
        model_config=SMALL,
        workdir=user_run,
        resume=True,
        epochs=3,
        **FIT,
    )
    assert [r["epoch"] for r in again.history] == [1, 2, 3]
    assert again.history[-1]["test/loss"] < again.history[0]["test/loss"]
    m = aezoo.load(user_run)
    assert m.spec is user_model and m.epoch == 3
    x = digits[1][0][:5]
    assert m.encode(x)["z"].shape == (5, 2)
    assert m.decode(m.encode(x))["logits"].shape == (5, 8, 8, 1)
    assert m.sample(4, jax.random.key(0))["logits"].shape == (4, 8, 8, 1)
    with pytest.raises(aezoo.ConfigError, match="tiny_user_vae cannot"):
        m.classify(x)


@pytest.mark.optax
def test_a_registered_model_is_evaluated_like_the_zoo_models(user_run):
    result = aezoo.evaluate(user_run, nll_samples=20, probe_train=500, progress=False)
    assert result["model"] == "tiny_user_vae"
    assert np.isfinite(result["test/nll"]) and result["test/nll"] <= result["test/loss"] + 1.0
    assert result["probe/logreg_acc"] > 0.15  # above chance (0.1) after 3 short epochs


@pytest.mark.slow
@pytest.mark.optax
def test_every_task_its_capabilities_allow_runs_on_a_registered_model(
    user_model, user_run, tmp_path
):
    runs = [str(user_run)]
    options = {
        "manifold": {"num_points": 200, "methods": "pca"},
        "retrieval": {"num_queries": 50},
        "clustering": {"clusters": (10,)},
        "semisupervised": {"labels": 50, "draws": 1},
    }
    for task, opts in options.items():
        result = run_task(task, runs, out=tmp_path / task, progress=False, **opts)
        assert any("tiny_user_vae" in line for line in result["summary"]), task
    result = run_task(
        "anomaly",
        out=tmp_path / "anomaly",
        progress=False,
        model=user_model.name,
        classes="0",
        nll_samples=4,
        config=aezoo.TrainConfig(dataset="digits", epochs=3),
        model_config={"latent_dim": 2, "hidden_dims": (32,)},
    )
    assert [r["class"] for r in result["rows"]] == [0]
