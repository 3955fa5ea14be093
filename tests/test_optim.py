"""The optimizer as a value: built from TrainConfig fields, or any Optax transformation
given to fit(); recorded, checked on resume, loadable."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import aezoo
from aezoo.train.config import OPTIMIZERS, TrainConfig
from aezoo.train.optim import _FACTORIES, make_optimizer, schedule_factor
from tests.conftest import TINY_NET

pytestmark = pytest.mark.optax

PARAMS = {"w": jnp.array([0.5, -1.0, 2.0])}
GRADS = {"w": jnp.array([1.0, -2.0, 0.5])}
SMALL = TINY_NET


def _updates(tx: optax.GradientTransformation, steps: int = 4, grads=GRADS) -> list:
    state, out = tx.init(PARAMS), []
    for _ in range(steps):
        update, state = tx.update(grads, state, PARAMS)
        out.append(update["w"])
    return out


@pytest.mark.unit
def test_every_optimizer_name_has_a_factory():
    assert set(OPTIMIZERS) == set(_FACTORIES)


@pytest.mark.unit
def test_the_default_is_exactly_optax_adam():
    # Runs trained before optimizers became settings keep their bits.
    chex.assert_trees_all_equal(_updates(make_optimizer(TrainConfig())), _updates(optax.adam(1e-3)))


@pytest.mark.unit
@pytest.mark.parametrize(
    ("settings", "reference"),
    [
        ({"optimizer": "adamw", "weight_decay": 0.1}, optax.adamw(1e-3, weight_decay=0.1)),
        ({"optimizer": "lamb", "weight_decay": 0.1}, optax.lamb(1e-3, weight_decay=0.1)),
        ({"optimizer": "sgd", "momentum": 0.9}, optax.sgd(1e-3, momentum=0.9)),
        ({"optimizer": "rmsprop"}, optax.rmsprop(1e-3)),
        (
            {"optimizer": "sgd", "weight_decay": 0.1},
            optax.chain(optax.add_decayed_weights(0.1), optax.sgd(1e-3)),
        ),
        (
            {"clip_norm": 0.5},
            optax.chain(optax.clip_by_global_norm(0.5), optax.adam(1e-3)),
        ),
    ],
)
def test_settings_build_the_optax_transformation_they_name(settings, reference):
    got = make_optimizer(TrainConfig(**settings))
    chex.assert_trees_all_close(_updates(got), _updates(reference), rtol=1e-6)


@pytest.mark.unit
def test_clip_norm_bounds_the_gradient_before_the_update():
    sgd = make_optimizer(TrainConfig(optimizer="sgd", learning_rate=1.0, clip_norm=1.0))
    (update,) = _updates(sgd, steps=1, grads={"w": jnp.array([30.0, 40.0, 0.0])})
    np.testing.assert_allclose(update, [-0.6, -0.8, 0.0], rtol=1e-6)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # step -> factor on the updates, over a run of 10 steps
        ({}, None),
        ({"lr_schedule": "cosine"}, {0: 1.0, 5: 0.5, 10: 0.0}),
        ({"lr_schedule": "exponential", "lr_decay": 0.01}, {0: 1.0, 5: 0.1, 10: 0.01}),
        ({"warmup_steps": 4}, {0: 0.0, 2: 0.5, 4: 1.0, 10: 1.0}),
        (
            {"lr_schedule": "warmup_cosine", "warmup_steps": 2},
            {0: 0.0, 1: 0.5, 2: 1.0, 6: 0.5, 10: 0.0},
        ),
        ({"lr_schedule": "cosine", "warmup_steps": 2}, {1: 0.5, 2: 1.0, 6: 0.5, 10: 0.0}),
    ],
)
def test_schedules_scale_the_updates_by_their_factor(settings, expected):
    factor = schedule_factor(TrainConfig(**settings), total_steps=10)
    if expected is None:
        assert factor is None
        return
    got = {step: float(factor(step)) for step in expected}
    np.testing.assert_allclose(list(got.values()), list(expected.values()), atol=1e-6)


@pytest.mark.unit
def test_the_burda_staircase_steps_down_where_their_epochs_end():
    # Burda et al.: 3^i epochs at 10^(-i/7), i = 0..7; one step per epoch of their 3,280.
    factor = schedule_factor(TrainConfig(lr_schedule="burda", lr_decay=0.1), total_steps=3280)
    starts = (0, 1, 4, 13, 40, 121, 364, 1093)
    for i, start in enumerate(starts):
        np.testing.assert_allclose(float(factor(start)), 10 ** (-i / 7), rtol=1e-5)
        np.testing.assert_allclose(float(factor(start - 1)), 10 ** (-max(i - 1, 0) / 7), rtol=1e-5)
    np.testing.assert_allclose(float(factor(3279)), 0.1, rtol=1e-5)


@pytest.mark.unit
def test_a_short_burda_staircase_merges_stages_and_still_ends_at_lr_decay():
    factor = schedule_factor(TrainConfig(lr_schedule="burda", lr_decay=0.01), total_steps=20)
    got = np.array([float(factor(s)) for s in range(20)])
    assert np.all(np.diff(got) <= 0), got
    np.testing.assert_allclose(got[-1], 0.01, rtol=1e-5)


@pytest.mark.unit
def test_a_scheduled_optimizer_keeps_its_count_in_the_state():
    adam, cosine = (
        make_optimizer(TrainConfig()),
        make_optimizer(TrainConfig(lr_schedule="cosine"), total_steps=4),
    )
    for step, (a, c) in enumerate(zip(_updates(adam, 5), _updates(cosine, 5), strict=True)):
        factor = 0.5 * (1 + np.cos(np.pi * min(step, 4) / 4))
        np.testing.assert_allclose(c, factor * a, rtol=1e-5, atol=1e-8)


@pytest.mark.unit
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_swept_learning_rate_is_a_traced_hyperparameter(name):
    config = TrainConfig(optimizer=name, learning_rate=0.1, clip_norm=1.0, warmup_steps=2)
    swept = make_optimizer(config, 10, lr_swept=True)
    state = optax.tree_utils.tree_set(swept.init(PARAMS), learning_rate=jnp.asarray(0.1))
    plain_state = make_optimizer(config, 10).init(PARAMS)
    update, _ = swept.update(GRADS, state, PARAMS)
    plain, _ = make_optimizer(config, 10).update(GRADS, plain_state, PARAMS)
    np.testing.assert_allclose(update["w"], plain["w"], rtol=1e-6)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'; expected one of adam, adamw"),
        ({"lr_schedule": "warmup_cosine"}, "warmup_cosine needs warmup_steps >= 1"),
        ({"momentum": 0.9}, "momentum is a setting of sgd and rmsprop, not adam"),
        ({"weight_decay": -1.0}, "weight_decay must be a finite number >= 0"),
        ({"clip_norm": 0.0}, "clip_norm must be a finite number > 0"),
        ({"lr_decay": 0.0}, r"lr_decay must be a finite number in \(0, 1\]"),
    ],
)
def test_impossible_optimizer_settings_are_one_line_errors(settings, message):
    with pytest.raises(aezoo.ConfigError, match=message):
        TrainConfig(**settings)


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory, digits):
    workdir = tmp_path_factory.mktemp("custom-optimizer")
    train = (digits[0][0][:256], digits[0][1][:256])
    kw = {"epochs": 2, "batch_size": 64, "progress": False, "figures": False}
    result = aezoo.fit(
        "vae",
        train,
        digits[1],
        model_config=SMALL,
        workdir=workdir,
        optimizer=optax.adamw(1e-3, weight_decay=1e-4),
        **kw,
    )
    return workdir, train, digits[1], kw, result


def test_fit_takes_an_optax_transformation_and_records_it(custom_run):
    workdir, *_, result = custom_run
    assert [r["epoch"] for r in result.history] == [1, 2]
    assert '"custom_optimizer": true' in (workdir / "config.json").read_text()
    loaded = aezoo.load(workdir)  # its optimizer state's structure is unknown to load
    chex.assert_trees_all_close(loaded.params, jax.tree.map(np.asarray, result.params))


def test_a_run_with_its_own_optimizer_resumes_only_with_one(custom_run):
    workdir, train, test, kw, _ = custom_run
    with pytest.raises(aezoo.ConfigError, match="optimizer given to fit\\(\\) != built from"):
        aezoo.fit("vae", train, test, model_config=SMALL, workdir=workdir, resume=True, **kw)
    again = aezoo.fit(
        "vae",
        train,
        test,
        model_config=SMALL,
        workdir=workdir,
        resume=True,
        optimizer=optax.adamw(1e-3, weight_decay=1e-4),
        **{**kw, "epochs": 3},
    )
    assert [r["epoch"] for r in again.history] == [1, 2, 3]


def test_a_changed_optimizer_setting_is_refused_on_resume(digits, tmp_path):
    train = (digits[0][0][:128], digits[0][1][:128])
    kw = {"epochs": 1, "batch_size": 64, "progress": False, "figures": False}
    aezoo.fit("ae", train, None, model_config=SMALL, workdir=tmp_path, **kw)
    with pytest.raises(aezoo.ConfigError, match="optimizer 'adam' != 'sgd'"):
        aezoo.fit(
            "ae",
            train,
            None,
            model_config=SMALL,
            workdir=tmp_path,
            resume=True,
            optimizer="sgd",
            **kw,
        )


def test_fit_refuses_an_optimizer_that_is_not_an_optax_value(digits):
    with pytest.raises(aezoo.ConfigError, match=r"optimizer must be an optax\.Gradient"):
        aezoo.fit("ae", digits[0], None, optimizer=optax.adamw, epochs=1, progress=False)
