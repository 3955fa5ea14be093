"""The optimizer of a run, built as one Optax value from its :class:`TrainConfig` fields.

An optimizer is an ``optax.GradientTransformation``: importers pass their own to
:func:`aezoo.fit` (``optimizer=``); the CLI and ``fit`` without one build it here from
``optimizer``, ``learning_rate``, ``weight_decay``, ``momentum``, ``clip_norm``,
``warmup_steps``, ``lr_schedule`` and ``lr_decay``. The result is, in order::

    clip_by_global_norm(clip_norm)        # if clip_norm is set
    OPTIMIZER(learning_rate, ...)         # the learning rate is a plain hyperparameter
    scale_by_schedule(factor(step))       # if the schedule is not constant

The schedule is a factor in [0, 1] on the updates (its count lives in the optimizer state,
so a resumed run continues it), which keeps the learning rate one number: a swept ``lr`` is
a traced value in the state (``optax.inject_hyperparams``) whatever the schedule. With the
defaults (Adam, constant) the value is exactly ``optax.adam(learning_rate)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import optax

from aezoo.train.config import TrainConfig

# name -> (factory, the TrainConfig fields it takes as keyword arguments)
_FACTORIES: dict[str, tuple[Callable[..., optax.GradientTransformation], tuple[str, ...]]] = {
    "adam": (optax.adam, ()),
    "adamw": (optax.adamw, ("weight_decay",)),
    "lamb": (optax.lamb, ("weight_decay",)),
    "sgd": (optax.sgd, ("momentum",)),
    "rmsprop": (optax.rmsprop, ("momentum",)),
}


def decoupled_weight_decay(name: str) -> bool:
    """Whether optimizer ``name`` applies ``weight_decay`` itself (decoupled, AdamW-style);
    the others add ``weight_decay * params`` to the gradient (L2)."""
    return "weight_decay" in _FACTORIES[name][1]


def make_optimizer(
    config: TrainConfig, total_steps: int = 1, *, lr_swept: bool = False
) -> optax.GradientTransformation:
    """The run's optimizer (see the module docstring).

    Args:
      config: the training settings; its optimizer fields are read.
      total_steps: steps of the whole run (the schedules decay over them).
      lr_swept: put the learning rate in the state as a traced hyperparameter
        (``optax.inject_hyperparams``), so vmapped members can each have their own.
    """
    factory, fields = _FACTORIES[config.optimizer]
    kwargs = {f: getattr(config, f) for f in fields}
    if lr_swept:
        tx = optax.inject_hyperparams(functools.partial(factory, **kwargs))(
            learning_rate=config.learning_rate
        )
    else:
        tx = factory(config.learning_rate, **kwargs)
    parts = []
    if config.clip_norm is not None:
        parts.append(optax.clip_by_global_norm(config.clip_norm))
    if config.weight_decay and not decoupled_weight_decay(config.optimizer):
        parts.append(optax.add_decayed_weights(config.weight_decay))
    parts.append(tx)
    factor = schedule_factor(config, total_steps)
    if factor is not None:
        parts.append(optax.scale_by_schedule(factor))
    return parts[0] if len(parts) == 1 else optax.chain(*parts)


def schedule_factor(config: TrainConfig, total_steps: int) -> optax.Schedule | None:
    """``step -> factor`` of ``config.lr_schedule`` over ``total_steps`` (None: constant)."""
    total = max(int(total_steps), 1)
    warmup = config.warmup_steps
    name = config.lr_schedule
    if name == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup, max(total, warmup + 1))
    decays: dict[str, Any] = {
        "constant": None,
        "cosine": lambda steps: optax.cosine_decay_schedule(1.0, steps),
        "exponential": lambda steps: optax.exponential_decay(1.0, steps, config.lr_decay),
        "burda": lambda steps: burda_staircase(steps, config.lr_decay),
    }
    decay = decays[name]
    if not warmup:
        return None if decay is None else decay(total)
    ramp = optax.linear_schedule(0.0, 1.0, warmup)
    rest = optax.constant_schedule(1.0) if decay is None else decay(max(total - warmup, 1))
    return optax.join_schedules([ramp, rest], [warmup])


def burda_staircase(total_steps: int, final: float, stages: int = 8) -> optax.Schedule:
    """Burda et al. (2015)'s schedule over ``total_steps``: ``stages`` constant stages, stage
    ``i`` lasting ``3^i / sum_j 3^j`` of the steps at the factor ``final^(i / (stages - 1))``
    (theirs: 8 stages of 1, 3, ..., 2187 epochs, 3,280 in all, and ``final = 0.1``)."""
    lengths = [3**i for i in range(stages)]
    step_down = final ** (1 / (stages - 1))
    boundaries, seen = {}, 0
    for length in lengths[:-1]:
        seen += length
        at = round(total_steps * seen / sum(lengths))
        boundaries[at] = boundaries.get(at, 1.0) * step_down  # short runs merge stages
    return optax.piecewise_constant_schedule(1.0, boundaries)


__all__ = ["burda_staircase", "decoupled_weight_decay", "make_optimizer", "schedule_factor"]
