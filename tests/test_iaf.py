"""The flow-posterior VAE: MADE is autoregressive, each flow's log-determinant is the exact
log|det| of its Jacobian (so q(z_T|x) is the exact density the IS-NLL needs), planar steps
stay invertible, the loss is the negative ELBO of those terms."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import aezoo
from aezoo.models.iaf import made_masks, planar_step

pytestmark = pytest.mark.model_file

SHAPE = (8, 8, 1)
DIM = 4


def _model(flow: str):
    spec, module = aezoo.get(
        "iaf", image_shape=SHAPE, latent_dim=DIM, hidden_dims=(16,), flow=flow, made_hidden=12
    )
    params = aezoo.train.init_params(module, jax.random.key(0))
    # Move off the near-identity start so the test sees a real transformation.
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(9), len(leaves))
    leaves = [p + 0.1 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys, strict=True)]
    return spec, module, jax.tree.unflatten(tree, leaves)


@pytest.mark.unit
def test_made_masks_let_output_j_see_only_inputs_before_j():
    first, second = made_masks(5, 13)
    reach = (first @ second) > 0  # [in, out]: is there a path from input i to output j
    assert not reach[np.tril_indices(5)].any()  # i >= j never
    assert reach[np.triu_indices(5, 1)].all()  # i < j always (every hidden degree used)


def test_an_iaf_step_is_autoregressive():
    _, module, params = _model("iaf")
    context = jax.random.normal(jax.random.key(1), (1, 12))

    def step(z):
        return module.apply(
            {"params": params}, z[None], context, method=lambda m, z, c: m.steps[0](z, c)[0]
        )[0]

    jac = np.asarray(jax.jit(jax.jacfwd(step))(jax.random.normal(jax.random.key(2), (DIM,))))
    np.testing.assert_array_equal(jac[np.triu_indices(DIM, 1)], 0.0)  # dz_j/dz_i = 0, i > j


@pytest.mark.parametrize("flow", ["iaf", "planar"])
def test_the_flow_log_det_is_the_log_det_of_its_jacobian(flow):
    _, module, params = _model(flow)
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (3, *SHAPE)).astype(jnp.float32)
    q = module.apply({"params": params}, x, method="encode")
    z0 = jax.random.normal(jax.random.key(2), (3, DIM))

    def flow_one(z, context):
        out, log_det = module.apply({"params": params}, z[None], context[None], method="flow")
        return out[0], log_det[0]

    jacobian = jax.jit(jax.jacfwd(lambda z, c: flow_one(z, c)[0]))
    for b in range(3):
        jac = jacobian(z0[b], q["context"][b])
        sign, expected = np.linalg.slogdet(np.asarray(jac, np.float64))
        assert sign != 0
        np.testing.assert_allclose(flow_one(z0[b], q["context"][b])[1], expected, atol=2e-4)


@pytest.mark.unit
def test_planar_steps_stay_invertible_whatever_u():
    z = jax.random.normal(jax.random.key(0), (256, 3))
    params = jax.random.normal(jax.random.key(1), (256, 7)) * 3.0
    params = params.at[:, :3].set(-params[:, 3:6] * 5.0)  # u against w: w.u << -1
    step = jax.jit(planar_step)  # one compile per shape, not a dispatch per operation
    _, log_det = step(z, params)
    assert np.isfinite(log_det).all()
    # Along w the map is 1-D: a + (w.u') tanh(a) with w.u' > -1, strictly increasing.
    w, b = params[0, 3:6], params[0, 6]
    line = jnp.linspace(-5, 5, 401)[:, None] * w[None] / jnp.sum(w**2)
    out, _ = step(line, jnp.broadcast_to(params[0], (401, 7)))
    proj = out @ w + b
    assert np.all(np.diff(np.asarray(proj)) > 0)


@pytest.mark.parametrize("flow", ["iaf", "planar"])
def test_the_loss_is_the_negative_elbo_of_the_flow_density(flow):
    spec, module, params = _model(flow)
    x = jax.random.bernoulli(jax.random.key(1), 0.3, (5, *SHAPE)).astype(jnp.float32)
    batch, key = {"image": x}, jax.random.key(3)
    loss, m = jax.jit(functools.partial(spec.loss_fn, module=module))(params, batch, key)
    out = jax.jit(lambda p: module.apply({"params": p}, x, rng=jax.random.key(4)))(params)
    assert out["z"].shape == (5, DIM) and np.isfinite(out["log_det"]).all()
    log_weights = jax.jit(
        functools.partial(spec.density, module=module), static_argnames="num_samples"
    )
    log_w = log_weights(params, batch, key, num_samples=1)
    np.testing.assert_allclose(loss, -np.mean(log_w), rtol=1e-5)
    np.testing.assert_allclose(loss, m["nll"] + m["kl"], rtol=1e-5)
    # Many draws: the importance-weighted bound is tighter than the ELBO.
    log_w = log_weights(params, batch, key, num_samples=200)
    iw = jax.nn.logsumexp(log_w, axis=0) - np.log(200)
    assert np.all(iw >= np.mean(log_w, axis=0))


@pytest.mark.unit
def test_an_unknown_flow_is_refused_in_one_line():
    with pytest.raises(aezoo.ConfigError, match="flow"):
        aezoo.get("iaf", flow="radial")
