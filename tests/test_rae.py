"""The regularized autoencoder: each penalty against its definition computed another way."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)


def _model(**config):
    spec, module = aezoo.get("rae", image_shape=SHAPE, latent_dim=3, hidden_dims=(16,), **config)
    params = aezoo.train.init_params(module, jax.random.key(0))
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (6, *SHAPE)).astype(jnp.float32)
    return spec, module, params, {"image": x}


@pytest.mark.parametrize("regularizer", ["l2", "gp"])
def test_the_loss_is_nll_plus_the_weighted_penalties(regularizer):
    spec, module, params, batch = _model(
        regularizer=regularizer, embedding_weight=0.1, reg_weight=0.01
    )
    loss, m = jax.jit(functools.partial(spec.loss_fn, module=module))(
        params, batch, jax.random.key(2)
    )
    z = module.apply({"params": params}, batch["image"], method="encode")["z"]
    np.testing.assert_allclose(
        m["code_penalty"], np.mean(0.5 * np.sum(np.square(z), -1)), rtol=1e-5
    )
    if regularizer == "l2":
        flat = np.concatenate([np.ravel(p) for p in jax.tree.leaves(params["decoder"])])
        expected = np.sum(np.square(flat))
    else:  # the Jacobian of the decoded image, summed over pixels, per code

        def decoded(code):
            return module.apply({"params": params}, code[None], method="decode")["mean"][0]

        jac = np.stack([np.asarray(jax.jacfwd(decoded)(c)).reshape(-1, 3) for c in z])
        expected = np.mean(np.sum(np.square(jac.sum(axis=1)), axis=-1))
    np.testing.assert_allclose(m["decoder_reg"], expected, rtol=1e-4)
    np.testing.assert_allclose(
        loss, m["nll"] + 0.1 * m["code_penalty"] + 0.01 * expected, rtol=1e-5
    )


@pytest.mark.optax
def test_the_penalties_shrink_the_codes_and_the_model_samples_through_a_gmm(digits, tmp_path):
    config = {"hidden_dims": (32,), "latent_dim": 4}
    kw = {"epochs": 4, "progress": False, "batch_size": 64, "dataset": "digits"}
    plain = aezoo.fit(
        "rae",
        *digits,
        model_config={**config, "embedding_weight": 0.0},
        workdir=tmp_path / "p",
        **{**kw, "dataset": "custom"},
    )  # trained on arrays without a name: an ex-post sampler cannot reload its codes
    with pytest.raises(aezoo.DataError, match="trained on arrays passed to fit"):
        aezoo.samplers.get(tmp_path / "p", "gmm")
    strong = aezoo.fit(
        "rae",
        *digits,
        model_config={**config, "embedding_weight": 1.0},
        workdir=tmp_path / "s",
        **kw,
    )

    def code_norm(result):
        z = result.module.apply({"params": result.params}, digits[1][0] / 255.0, method="encode")
        return float(jnp.mean(jnp.sum(jnp.square(z["z"]), -1)))

    assert code_norm(strong) < 0.5 * code_norm(plain)
    s = aezoo.samplers.get(tmp_path / "s", "gmm", components=2, say=lambda _: None)
    assert s.sample(3, jax.random.key(0))["mean"].shape == (3, *SHAPE)
    with pytest.raises(aezoo.ConfigError, match="--sampler prior: rae has no prior of its own"):
        aezoo.samplers.get(tmp_path / "s", "prior")
