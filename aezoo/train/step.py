"""The jitted programs of training: one train step, and a whole epoch fused with ``lax.scan``.

Both run the same step body, so the fused epoch and the per-step loop give the same result
for the same keys. The step's key is ``fold_in(rng, state.step)``: a resumed run draws the
same numbers as an uninterrupted one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from aezoo import data
from aezoo._validate import one_of, positive_int
from aezoo.errors import ConfigError
from aezoo.models import ModelSpec
from aezoo.models._spec import traced_config
from aezoo.train.config import NONFINITE_POLICIES
from aezoo.train.sharding import Mesh, constrain_batch, constrain_state
from aezoo.train.state import TrainState

Metrics = dict[str, jax.Array]
Batch = dict[str, jax.Array]

# Test-set evaluation noise (VAE samples) is the same for every run and every epoch, so test
# numbers are comparable across seeds and epochs.
EVAL_SEED = 0
# XLA options of the training jits. Region-based copy insertion lets XLA update each weight
# in place after the backward pass has read it; the default analysis copies every weight
# that the backward pass reads (5 of the 6 MLP VAE kernels, every step): +3-5% per VAE step
# at batch 128 on CPU, bit-identical results. Only XLA:CPU reads this option.
TRAIN_COMPILER_OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": True}
# Metrics checked for NaN/inf every step, in the order their code is reported.
GUARDED_METRICS = ("loss", "grad_norm")


def train_step_body(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    binarize: str,
    on_nonfinite: str = "stop",
) -> Callable[[TrainState, Batch, jax.Array], tuple[TrainState, Metrics]]:
    """The un-jitted step: binarize on device, then for each phase of the model
    value_and_grad and its Optax update (one phase for most models), then norms.

    The batch the losses see carries ``"step"`` (the global step, e.g. for KL warm-up).
    With ``on_nonfinite="skip"`` a step whose loss or gradient norm is NaN/inf is not
    applied (params and optimizer state stay as they were; ``skipped`` is 1 for that step).
    With ``"stop"`` the update is applied and the caller stops at the end of the epoch.
    """
    phases = spec.phases_for(module.config)
    txs = spec.optimizers(module.config, optimizer)
    grad_fns = [
        jax.value_and_grad(functools.partial(p.loss_fn, module=module), has_aux=True)
        for p in phases
    ]

    def step(state: TrainState, batch: Batch, rng: jax.Array) -> tuple[TrainState, Metrics]:
        key = jax.random.fold_in(rng, state.step)
        data_key, model_key = jax.random.split(key)
        batch = {
            **batch,
            "image": data.binarize(batch["image"], data_key, binarize),
            "step": state.step,
        }
        params, opt_states, metrics = state.params, [], {}
        finite = []
        for i, (phase, tx, grad_fn) in enumerate(zip(phases, txs, grad_fns, strict=True)):
            phase_key = model_key if i == 0 else jax.random.fold_in(model_key, i)
            (loss, phase_metrics), grads = grad_fn(params, batch, phase_key)
            updates, opt_state = tx.update(grads, state.opt_state[i], params)
            params = optax.apply_updates(params, updates)
            opt_states.append(opt_state)
            # The gradient norm is logged every step (spikes show here first); the parameter
            # norm once per epoch in `summarize`: a per-step pass over all params costs ~3%.
            grad_norm = global_norm(grads)
            metrics.update(phase_metrics)
            metrics["grad_norm" if i == 0 else f"grad_norm_{phase.name}"] = grad_norm
            finite.append(jnp.isfinite(loss) & jnp.isfinite(grad_norm))
        new = TrainState(step=state.step + 1, params=params, opt_state=tuple(opt_states))
        if on_nonfinite == "skip":
            ok = functools.reduce(jnp.logical_and, finite)
            kept = jax.tree.map(
                lambda n, o: jnp.where(ok, n, o),
                (new.params, new.opt_state),
                (state.params, state.opt_state),
            )
            new = TrainState(step=state.step + 1, params=kept[0], opt_state=kept[1])
            metrics["skipped"] = (~ok).astype(jnp.float32)
        return new, metrics

    return step


def global_norm(tree: Any) -> jax.Array:
    """The L2 norm of all leaves (NaN/inf propagate), one fused pass per leaf.

    ``vdot(x, x)`` alone becomes ``reduce(x * x)``, and XLA merges that ``x * x`` with
    Adam's ``g ** 2`` (common subexpressions): the square is then written out in full and
    summed by a separate tree reduction, 7% of a VAE step at batch 128 on CPU. The
    optimization barrier on one operand keeps the two apart, so the square and the sum
    fuse into one read of the gradient (the step is as fast as with no norm at all).
    """
    leaves = [jnp.ravel(x) for x in jax.tree.leaves(tree)]
    return jnp.sqrt(sum(jnp.vdot(x, jax.lax.optimization_barrier(x)) for x in leaves))


def make_train_step(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    *,
    binarize: str | None = None,
    on_nonfinite: str = "stop",
    mesh: Mesh | None = None,
    shard_params: bool = False,
) -> Callable[[TrainState, Batch, jax.Array], tuple[TrainState, Metrics]]:
    """Jitted ``(state, batch, rng) -> (state, metrics)``; the state is donated.

    Args:
      spec, module: the model (from :func:`aezoo.models.get`).
      optimizer: any Optax transformation.
      binarize: ``dynamic`` / ``static`` / ``none`` (default: ``dynamic`` for a Bernoulli
        decoder, else ``none``, as in ``fit``): how ``batch["image"]`` (float in [0, 1],
        ``[B, H, W, C]``) becomes the Bernoulli targets, on device, inside the step.
      on_nonfinite: ``stop`` (apply every update) or ``skip`` (drop non-finite updates).
      mesh: data parallel over this mesh's ``data`` axis (batch sharded, state replicated or,
        with ``shard_params``, FSDP-sharded); ``None``: wherever the inputs are.
    """
    binarize = check_options(binarize, on_nonfinite, module)
    body = train_step_body(spec, module, optimizer, binarize, on_nonfinite)

    def step(state, batch, rng):
        state = constrain_state(state, mesh, shard_params)
        state, metrics = body(state, constrain_batch(batch, mesh), rng)
        return constrain_state(state, mesh, shard_params), metrics

    return jax.jit(step, donate_argnums=0, compiler_options=TRAIN_COMPILER_OPTIONS)


def with_hparams(module: nn.Module, hparams: dict[str, jax.Array] | None) -> nn.Module:
    """``module`` with some sweepable config fields replaced by (traced) values."""
    if not hparams:
        return module
    return module.clone(config=traced_config(module.config, hparams))


def epoch_batches(epoch_key: jax.Array, num_examples: int, batch_size: int) -> jax.Array:
    """``[steps, batch_size]`` example indices of one epoch (a permutation; remainder dropped)."""
    steps = num_examples // batch_size
    perm = jax.random.permutation(epoch_key, num_examples)
    return perm[: steps * batch_size].reshape(steps, batch_size)


def gather_batch(images: jax.Array, labels: jax.Array, idx: jax.Array) -> Batch:
    """The batch at indices ``idx`` from device-resident uint8 data, as [0, 1] floats."""
    return {"image": data.to_float(images[idx]), "label": labels[idx]}


def make_train_epoch(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    binarize: str | None = None,
    on_nonfinite: str = "stop",
    num_examples: int | None = None,
    mesh: Mesh | None = None,
    shard_params: bool = False,
    jit: bool = True,
) -> Callable[..., tuple[TrainState, Metrics]]:
    """Jitted ``(state, images, labels, rng, epoch_key[, hparams]) -> (state, metrics)``.

    ``images`` (uint8 ``[N, H, W, C]``) and ``labels`` stay on the device; the permutation is
    drawn from ``epoch_key`` on device and each batch is gathered inside a ``lax.scan``.
    Returned metrics are epoch means computed on device (see :func:`summarize`).

    ``num_examples``: only the first rows are data (the rest pads a sharded dataset).
    ``mesh`` / ``shard_params``: data parallel, as in :func:`make_train_step`.
    ``hparams``: optional ``{field: value}`` for sweepable config fields, as traced values
    (one compile for every value). ``jit=False``: the plain function (to vmap, then jit).
    """
    binarize = check_options(binarize, on_nonfinite, module)
    positive_int("batch_size", batch_size)
    if num_examples is not None:
        check_batch(batch_size, positive_int("num_examples", num_examples))

    def epoch(state, images, labels, rng, epoch_key, hparams=None):
        step = train_step_body(
            spec, with_hparams(module, hparams), optimizer, binarize, on_nonfinite
        )
        n = images.shape[0] if num_examples is None else num_examples
        check_batch(batch_size, n)
        batches = epoch_batches(epoch_key, n, batch_size)
        state = constrain_state(state, mesh, shard_params)
        start = state.step

        def body(state, idx):
            batch = constrain_batch(gather_batch(images, labels, idx), mesh)
            state, metrics = step(state, batch, rng)
            return constrain_state(state, mesh, shard_params), metrics

        state, metrics = jax.lax.scan(body, state, batches)
        return state, summarize(metrics, start, state.params)

    if not jit:
        return epoch
    return jax.jit(epoch, donate_argnums=0, compiler_options=TRAIN_COMPILER_OPTIONS)


def make_train_chunk(
    spec: ModelSpec,
    module: nn.Module,
    optimizer: optax.GradientTransformation,
    *,
    binarize: str | None = None,
    on_nonfinite: str = "stop",
    mesh: Mesh | None = None,
    shard_params: bool = False,
) -> Callable[..., tuple[TrainState, Metrics]]:
    """Jitted ``(state, images [K, B, ...], labels [K, B], rng) -> (state, metrics [K])``:
    ``K`` steps of :func:`make_train_epoch`'s scan over batches fed from the host (the
    streamed epoch of data larger than the device budget). Same step, same keys, same
    batches as the device-resident epoch when the host gathers the same indices."""
    binarize = check_options(binarize, on_nonfinite, module)
    step = train_step_body(spec, module, optimizer, binarize, on_nonfinite)

    def chunk(state, images, labels, rng):
        state = constrain_state(state, mesh, shard_params)

        def body(state, xy):
            batch = constrain_batch({"image": data.to_float(xy[0]), "label": xy[1]}, mesh)
            state, metrics = step(state, batch, rng)
            return constrain_state(state, mesh, shard_params), metrics

        return jax.lax.scan(body, state, (images, labels))

    return jax.jit(chunk, donate_argnums=0, compiler_options=TRAIN_COMPILER_OPTIONS)


def summarize(metrics: Metrics, start_step: jax.Array | int, params: Any) -> Metrics:
    """Epoch summary of per-step metrics ``[steps]``, computed on device.

    Returns the means over the applied (not skipped) steps (NaN when every step was
    skipped: there is nothing to average), ``skipped`` as a count, the
    end-of-epoch ``param_norm``, ``nonfinite_step`` (global step of the first NaN/inf loss or
    gradient norm, -1 if none) and ``nonfinite_metric`` (index into ``GUARDED_METRICS``).
    """
    bad_by_metric = jnp.stack([~jnp.isfinite(metrics[k]) for k in GUARDED_METRICS])
    bad = bad_by_metric.any(axis=0)
    first = jnp.argmax(bad)
    skipped = metrics.get("skipped")
    if skipped is None:
        means = {k: jnp.mean(v) for k, v in metrics.items()}
    else:
        ok = skipped == 0
        count = jnp.sum(ok)
        means = {
            k: jnp.where(count > 0, jnp.sum(jnp.where(ok, v, 0.0)) / jnp.maximum(count, 1), jnp.nan)
            for k, v in metrics.items()
        }
        means["skipped"] = jnp.sum(skipped)
    return {
        **means,
        "param_norm": optax.tree.norm(params),
        "nonfinite_step": jnp.where(bad.any(), start_step + first, -1),
        "nonfinite_metric": jnp.argmax(bad_by_metric[:, first]),
    }


def make_eval_fn(
    spec: ModelSpec,
    module: nn.Module,
    *,
    batch_size: int,
    mesh: Mesh | None = None,
    members: bool = False,
) -> Callable[..., Metrics]:
    """``(params, images, labels, rng[, hparams][, num_examples]) -> metrics``: example-weighted
    means over the first ``num_examples`` rows (default: all).

    Full batches run in one jitted scan; a smaller remainder batch (if any) in one more call.
    The rng is folded with the batch index, so the same params always give the same numbers.
    With ``members``, params (and ``hparams`` values) carry a leading member axis and every
    metric comes back as ``[members]`` (one vmapped program). With ``mesh``, each batch is
    sharded over its ``data`` axis.
    """
    full, rest = _eval_programs(spec, module, batch_size, mesh, members)

    def evaluate(
        params: Any,
        images: jax.Array,
        labels: jax.Array,
        rng: jax.Array,
        hparams: dict[str, jax.Array] | None = None,
        num_examples: int | None = None,
    ) -> Metrics:
        n = images.shape[0] if num_examples is None else num_examples
        hparams = hparams or {}
        n_full = (n // batch_size) * batch_size
        parts: list[tuple[int, Metrics]] = []
        if n_full:
            parts.append((n_full, full(params, images, labels, rng, hparams, n // batch_size)))
        if n > n_full:
            shard = mesh is not None and (n - n_full) % mesh.size == 0
            parts.append((n - n_full, rest(params, images, labels, rng, hparams, n, shard)))
        return {k: sum(w * m[k] for w, m in parts) / n for k in parts[0][1]}

    return evaluate


def _eval_programs(spec, module, batch_size: int, mesh: Mesh | None, members: bool):
    """The two jitted programs of :func:`make_eval_fn`: a scan over the full batches and
    the remainder batch."""

    def one(params, batch, rng, hparams, shard=True):
        loss_fn = functools.partial(spec.loss_fn, module=with_hparams(module, hparams))
        return loss_fn(params, constrain_batch(batch, mesh if shard else None), rng)[1]

    shard_full = mesh is not None and batch_size % mesh.size == 0

    def full(params, images, labels, rng, hparams, steps):
        idx = jnp.arange(steps * batch_size).reshape(steps, batch_size)

        def body(_, i):
            batch = gather_batch(images, labels, idx[i])
            return None, one(params, batch, jax.random.fold_in(rng, i), hparams, shard_full)

        _, metrics = jax.lax.scan(body, None, jnp.arange(steps))
        return {k: jnp.mean(v) for k, v in metrics.items()}

    def rest(params, images, labels, rng, hparams, n, shard):
        # The remainder batch is sharded only if the mesh divides it.
        idx = jnp.arange((n // batch_size) * batch_size, n)
        batch = gather_batch(images, labels, idx)
        return one(params, batch, jax.random.fold_in(rng, n // batch_size), hparams, shard)

    if members:
        full = jax.vmap(full, in_axes=(0, None, None, None, 0, None))
        rest = jax.vmap(rest, in_axes=(0, None, None, None, 0, None, None))
    return jax.jit(full, static_argnums=5), jax.jit(rest, static_argnums=(5, 6))


def run_epoch_per_step(
    step_fn: Callable[[TrainState, Batch, jax.Array], tuple[TrainState, Metrics]],
    state: TrainState,
    images: jax.Array,
    labels: jax.Array,
    rng: jax.Array,
    epoch_key: jax.Array,
    batch_size: int,
    num_examples: int | None = None,
) -> tuple[TrainState, Metrics]:
    """The per-step jitted loop over one epoch: same batches and keys as the fused epoch."""
    start = int(state.step)  # read before the state is donated to the first step
    collected = []
    n = images.shape[0] if num_examples is None else num_examples
    for idx in epoch_batches(epoch_key, n, batch_size):
        state, metrics = step_fn(state, gather_batch(images, labels, idx), rng)
        collected.append(metrics)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *collected)
    return state, jax.jit(summarize)(stacked, start, state.params)


def check_batch(batch_size: int, num_examples: int) -> None:
    """The one check that an epoch of ``num_examples`` holds a full batch."""
    if batch_size > num_examples:
        raise ConfigError(
            f"batch_size {batch_size} is larger than the training split ({num_examples} "
            f"examples); use --batch-size <= {num_examples}"
        )


def check_options(binarize: str | None, on_nonfinite: str, module: nn.Module) -> str:
    """One-line errors for an unknown binarize mode or non-finite policy; returns the mode
    (``None``: :func:`aezoo.data.default_binarize` of the module's likelihood)."""
    if binarize is None:
        binarize = data.default_binarize(module.config.likelihood)
    one_of("binarize mode", binarize, data.BINARIZE_MODES)
    one_of("on_nonfinite policy", on_nonfinite, NONFINITE_POLICIES)
    return binarize


__all__ = [
    "EVAL_SEED",
    "GUARDED_METRICS",
    "check_batch",
    "check_options",
    "epoch_batches",
    "gather_batch",
    "global_norm",
    "make_eval_fn",
    "make_train_chunk",
    "make_train_epoch",
    "make_train_step",
    "run_epoch_per_step",
    "summarize",
    "train_step_body",
    "with_hparams",
]
