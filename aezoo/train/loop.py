"""``fit``: the one host loop, for a single run and for vmapped members alike.

Each epoch: fold the key, (compile once,) run the device program, fetch its metrics, stop on
a non-finite loss, evaluate, build one record per member, write the records, checkpoint.
Everything the loop handles carries a member axis (``N = 1`` for a single run); the device
side is a :class:`~aezoo.train.programs.Program`.

A ``workdir`` receives ``config.json`` (the run record), ``metrics.jsonl`` (one line per
member and epoch), Orbax checkpoints in ``checkpoints/`` (every ``checkpoint_every`` epochs
and at the end, the last ``keep`` kept), the final ``params.msgpack`` and figures; a
vmapped run also ``summary.json`` / ``summary.md`` and ``members/NAME/`` per model, and
``tensorboard/`` holds event files with ``tensorboard=True``. In a multi-host run only
process 0 writes logs, figures and params; all processes write the checkpoints together.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import sys
import time
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import optax

from aezoo import data
from aezoo._files import strict_json
from aezoo._lock import command_line, run_lock
from aezoo.errors import CheckpointError, ConfigError, DataError, NonFiniteError
from aezoo.models import BaseConfig, ModelSpec, get_spec
from aezoo.rundir.record import RunRecord
from aezoo.train import records, sharding
from aezoo.train import workdir as run_dir
from aezoo.train.checkpoint import Checkpointer
from aezoo.train.config import OPTIMIZERS, RunOptions, TrainConfig, with_settings
from aezoo.train.load import LoadedModel
from aezoo.train.members import Member, summary_markdown
from aezoo.train.programs import Carry, Program, Split, make_program
from aezoo.train.state import TrainState
from aezoo.train.step import GUARDED_METRICS
from aezoo.train.writers import JsonlWriter, ProgressWriter, TensorBoardWriter, Writers


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: the model(s), final state and one record per member and epoch.

    For a vmapped run (``seeds`` / ``sweep``) ``state`` has a leading member axis, ``members``
    lists them and ``summary`` holds mean +/- std over seeds per swept value.
    """

    spec: ModelSpec
    module: nn.Module
    config: BaseConfig
    state: TrainState
    history: list[dict[str, Any]]
    workdir: pathlib.Path | None = None
    train_config: TrainConfig | None = None
    members: list[Member] = dataclasses.field(default_factory=list)
    sweep_name: str | None = None
    summary: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def params(self) -> Any:
        return self.state.params

    def member_params(self, i: int) -> Any:
        """Member ``i``'s params (of a vmapped run)."""
        return jax.tree.map(lambda x: x[i], self.state.params)

    def report(self) -> str:
        """What ``aezoo train`` prints at the end: the last epoch's losses, or for a vmapped
        run the summary table (mean +/- std over seeds), and where the outputs are."""
        where = f"outputs in {self.workdir}"
        if self.train_config is not None and self.train_config.vmapped:
            table = summary_markdown(self.summary, self.sweep_name)
            return f"{table}done: {len(self.members)} models; {where} (members/ per model)"
        if not self.history:
            return f"done: 0 epochs; {where}"
        last = self.history[-1]
        keys = ("train/loss", "val/loss", "test/loss", "test/nll_bound")
        return f"done: {', '.join(f'{k} {last[k]:.3f}' for k in keys if k in last)}; {where}"


def fit(
    model: str | ModelSpec,
    train: Split,
    test: Split | None = None,
    *,
    val: Split | None = None,
    config: TrainConfig | None = None,
    model_config: BaseConfig | Mapping[str, Any] | None = None,
    optimizer: optax.GradientTransformation | str | None = None,
    workdir: str | os.PathLike | None = None,
    **settings: Any,
) -> FitResult:
    """Train ``model`` on ``train`` images, evaluating on ``test`` each epoch.

    >>> import aezoo
    >>> train, test = aezoo.data.load("digits", "train"), aezoo.data.load("digits", "test")
    >>> result = aezoo.fit("vae", train, test, epochs=2, progress=False,
    ...                    model_config={"hidden_dims": (64,), "latent_dim": 4})
    >>> [r["epoch"] for r in result.history], result.history[-1]["test/loss"] < 60
    ([1, 2], True)

    Args:
      model: a registry name (``"vae"``) or a :class:`ModelSpec`.
      train, test, val: ``(images, labels)`` (uint8 ``[N, H, W, C]`` or floats in [0, 1];
        int ``[N]`` or None), e.g. from :func:`aezoo.data.load`, or per process
        :class:`~aezoo.train.sharding.LocalRows`; per-epoch metrics use ``val`` if given.
      config, settings: a :class:`TrainConfig` (default ``TrainConfig()``), its fields
        overridden by keyword (``epochs=3, seeds=4``); the keywords of
        :class:`RunOptions` say how this call runs: ``resume``, ``overwrite``,
        ``progress``, ``figures``, ``allow_changed_data`` (below).
      model_config: the model's config (object or dict); ``image_shape`` comes from the data.
      optimizer: any ``optax.GradientTransformation`` (``optax.adamw(1e-3)``), or the name
        of one the settings build (``"adamw"``, the ``optimizer`` setting); default: the
        one the settings describe (``optimizer``, ``learning_rate``, ``lr_schedule``, ...;
        see :mod:`aezoo.train.optim`). A run trained with one resumes only with one.
      workdir, resume, overwrite: where the outputs go (see the module docstring); continue
        the run there (bit-identical to an uninterrupted run) or replace it.
      progress, figures: a progress bar and epoch lines on stderr; figures at the end.
      allow_changed_data: resume although the data differ from what the run recorded
        (the change is recorded in config.json as ``data_changed``); else a one-line
        DataError.

    Returns a :class:`FitResult`: the final state and one record per member and epoch.

    Raises:
      ConfigError, ShapeError, DataError, CheckpointError: one-line messages.
      NonFiniteError: a NaN/inf loss or gradient norm (``on_nonfinite="stop"``), naming the
        step and the metric; the last checkpoint stays intact.
    """
    spec = model if isinstance(model, ModelSpec) else get_spec(model)
    if isinstance(optimizer, str):
        settings, optimizer = {**settings, "optimizer": optimizer}, None
    how, settings = RunOptions.split(settings)
    train_config = with_settings(config, settings)
    if train_config.tensorboard:
        TensorBoardWriter.require()
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise ConfigError(
            f"optimizer must be an optax.GradientTransformation (e.g. optax.adamw(1e-3)) or "
            f"the name of one ({', '.join(OPTIMIZERS)}); "
            f"got {type(optimizer).__name__}"
        )
    program = make_program(spec, train, test, train_config, model_config, val, optimizer)
    if how.evaluators is not None:  # before anything is written: one line, nothing left
        InTraining(program, None, how.evaluators).check(program.start())
    is_main = jax.process_index() == 0
    held = workdir is not None and is_main  # one command per run folder (train/_lock.py)
    with run_lock(workdir, command_line()) if held else contextlib.nullcontext():
        extra = _config_extra(program)
        out_dir = run_dir.prepare(
            workdir,
            program.record(),
            resume=how.resume,
            overwrite=how.overwrite,
            write=is_main,
            **extra,
        )
        if how.resume and out_dir is not None:
            extra.update(_data_changes(program, out_dir, allow=how.allow_changed_data))
        carry, history = _train(program, out_dir, extra, how, is_main)
        summary = program.finish(out_dir, carry, history, how.figures and is_main)
    _warn_skipped(history, how.progress and is_main)
    return FitResult(
        spec,
        program.module,
        program.config,
        carry.state,
        history,
        out_dir,
        program.train_config,
        program.members,
        program.sweep_name,
        summary,
    )


def _train(
    program: Program,
    out_dir: pathlib.Path | None,
    extra: dict[str, Any],
    how: RunOptions,
    is_main: bool,
) -> tuple[Carry, list[dict[str, Any]]]:
    """The epochs: start (or resume), run, record, checkpoint. Returns the final carry and
    the history (one record per member and epoch)."""
    train_config, run = program.train_config, program.record()
    carry, history, start = program.start(), [], 1
    ckpt = Checkpointer(out_dir / "checkpoints", keep=train_config.keep) if out_dir else None
    if ckpt is not None and how.resume:
        carry, history, start = _resume(ckpt, program, carry, run, extra, write=is_main)
    during = InTraining(program, out_dir, how.evaluators)
    writers = _writers(program, out_dir, start, how.progress and is_main, ckpt)
    best = _best_so_far(program, history)
    schedule = _CheckpointSchedule(train_config, saved=start > 1)
    try:
        for epoch in range(start, train_config.epochs + 1):
            carry, records = _run_epoch(program, carry, epoch, ckpt, compile=epoch == start)
            records[0].update(during.metrics(carry, epoch))
            history.extend(records)
            if train_config.keep_best and out_dir is not None:
                best = _keep_best(program, out_dir, carry, records[0], best)
            if ckpt is not None and schedule.due(epoch):
                ckpt.save(
                    epoch,
                    program.saved(carry),
                    {**run.to_dict(), "epoch": epoch, "history": history},
                )
            writers.write(records)
    finally:
        writers.close()
        if ckpt is not None:
            ckpt.close()
    return carry, history


@dataclasses.dataclass(frozen=True)
class EpochView:
    """A model in training as an evaluator sees it: the model at its current params (with
    the run's record), and the held-out split (``split``: test or val) as the model scores it
    (binarized once)."""

    model: LoadedModel
    split: str
    x: np.ndarray
    y: np.ndarray
    workdir: pathlib.Path | None


class InTraining:
    """Evaluators during training (``fit(evaluators=aezoo.eval.in_training(...))``): checked
    on the initial params before the first epoch, then run every ``hook.every`` epochs and
    at the last one."""

    def __init__(self, program: Program, out_dir: pathlib.Path | None, hook: Any) -> None:
        self.program, self.out_dir, self.hook = program, out_dir, hook
        if hook is None:
            return
        if program.vmapped or jax.process_count() > 1 or program.held_out is None:
            raise ConfigError(
                "evaluators during training run on one model in one process with a test or "
                "val split; evaluate the others after training with `aezoo eval`"
            )

    def metrics(self, carry: Carry, epoch: int) -> dict[str, Any]:
        """The evaluators' metrics at ``epoch`` ({} when they are not due)."""
        last = epoch == self.program.train_config.epochs
        if self.hook is None or not self.hook.due(epoch, last=last):
            return {}
        return self.hook(self.view(carry, epoch))

    def check(self, carry: Carry) -> None:
        if self.hook is not None:
            self.hook.check(self.view(carry, 0))

    def view(self, carry: Carry, epoch: int) -> EpochView:
        p, held = self.program, self.program.held_out
        params = jax.tree.map(np.asarray, sharding.fetch(carry.state.params))
        x, y = np.asarray(held.x)[: held.num_examples], np.asarray(held.y)[: held.num_examples]
        model = LoadedModel(p.spec, p.module, p.config, params, p.record(), epoch)
        return EpochView(model, p.eval_prefix, x, y, self.out_dir)


class _CheckpointSchedule:
    """When to checkpoint: at the first multiple of ``checkpoint_every``, at the last epoch,
    and between them at multiples of ``checkpoint_every`` once ``checkpoint_seconds`` have
    passed since the last checkpoint (the default run spends its time training, not
    saving). Every process of a multi-host run takes process 0's decision."""

    def __init__(self, config: TrainConfig, *, saved: bool) -> None:
        self.config = config
        self.saved = saved  # a checkpoint exists already (a resumed run)
        self.last = time.monotonic()

    def due(self, epoch: int) -> bool:
        config = self.config
        if epoch == config.epochs:
            return True
        if epoch % config.checkpoint_every:
            return False
        due = not self.saved or time.monotonic() - self.last >= config.checkpoint_seconds
        if jax.process_count() > 1:  # clocks differ; the save is collective
            from jax.experimental import multihost_utils

            due = bool(multihost_utils.broadcast_one_to_all(np.asarray(due)))
        if due:
            self.saved, self.last = True, time.monotonic()
        return due


def _run_epoch(
    program: Program, carry: Carry, epoch: int, ckpt: Checkpointer | None, *, compile: bool
) -> tuple[Carry, list[dict[str, Any]]]:
    """One epoch on the devices, then its records (one per member)."""
    compile_seconds = program.compile(carry, epoch) if compile else None
    t0 = time.perf_counter()
    carry, metrics = program.train_epoch(carry, epoch)
    seconds = time.perf_counter() - t0
    bad_steps = metrics.pop("nonfinite_step")
    bad_metrics = metrics.pop("nonfinite_metric")
    if program.train_config.on_nonfinite == "stop" and (bad_steps >= 0).any():
        raise NonFiniteError(_nonfinite_message(program, epoch, bad_steps, bad_metrics, ckpt))
    t1 = time.perf_counter()
    test_metrics = program.evaluate(carry)
    steps = program.steps(carry)
    timing: dict[str, float] = {
        "examples_per_sec": len(program.members)
        * program.steps_per_epoch
        * program.train_config.batch_size
        / seconds,
        "seconds": seconds,
        "eval_seconds": time.perf_counter() - t1,
    }
    if compile_seconds is not None:
        timing["compile_seconds"] = compile_seconds
    records = []
    for m in program.members:
        record: dict[str, Any] = {"epoch": epoch}
        if program.vmapped:
            record.update(member=m.index, seed=m.seed)
            if program.sweep_name is not None:
                record[program.sweep_name] = m.sweep_value
        record["step"] = int(steps[m.index])
        record.update({f"train/{k}": float(v[m.index]) for k, v in metrics.items()})
        prefix = program.eval_prefix
        record.update({f"{prefix}/{k}": float(v[m.index]) for k, v in test_metrics.items()})
        records.append({**record, **timing})
    return carry, records


def _nonfinite_message(
    program: Program, epoch: int, bad_steps: np.ndarray, bad_metrics: np.ndarray, ckpt
) -> str:
    i = int(np.argmax(bad_steps >= 0))
    who = f" in member {i} ({program.members[i].name})" if program.vmapped else ""
    last = ckpt.epochs()[-1] if ckpt is not None and ckpt.epochs() else None
    where = (
        f"; last good checkpoint {ckpt.path(last)} (epoch {last}) is intact"
        if last is not None
        else "; no checkpoint was written yet"
    )
    return (
        f"non-finite {GUARDED_METRICS[int(bad_metrics[i])]}{who} at step {int(bad_steps[i])} "
        f"(epoch {epoch}); training stopped{where} (use on_nonfinite='skip' / "
        "--on-nonfinite skip to drop such updates)"
    )


def _resume(
    ckpt: Checkpointer,
    program: Program,
    carry: Carry,
    run: Mapping[str, Any],
    extra: dict[str, Any],
    *,
    write: bool,
) -> tuple[Carry, list[dict[str, Any]], int]:
    """``(carry, history, start_epoch)`` from the newest checkpoint that restores; then (on
    the writing process) ``config.json`` is rewritten and metrics.jsonl cut back to the
    restored history. A run stopped before its first checkpoint starts again at epoch 1;
    otherwise no restorable checkpoint, or a run already past ``epochs``, is an error and
    nothing is written."""
    out_dir = ckpt.directory.parent
    restored = ckpt.restore_latest(program.saved(carry), model=program.spec.name)
    if restored is None and _before_first_checkpoint(out_dir, program.train_config):
        if write:
            run_dir.write_config(out_dir, run, **extra)
            run_dir.write_jsonl(out_dir / "metrics.jsonl", [])
        return carry, [], 1
    if restored is None:
        why = "every checkpoint is corrupt or truncated" if ckpt.epochs() else "no checkpoint"
        raise CheckpointError(
            f"nothing to resume in {out_dir}: {why}, but the run has recorded epochs; "
            "pass --overwrite (overwrite=True) to start it over"
        )
    epoch, tree, meta = restored
    diffs = records.differences(RunRecord.from_dict(meta, where=str(ckpt.path(epoch))), run)
    if diffs:
        raise CheckpointError(
            f"checkpoint {ckpt.path(epoch)} belongs to another run ({'; '.join(diffs)}); "
            "use another --workdir"
        )
    if epoch > program.train_config.epochs:
        raise ConfigError(
            f"the run in {out_dir} is at epoch {epoch}; epochs={program.train_config.epochs} would "
            f"not continue it: ask for --epochs {epoch} or more (or load the run as it is)"
        )
    if write:
        run_dir.write_config(out_dir, run, **extra)
        run_dir.write_jsonl(out_dir / "metrics.jsonl", list(meta["history"]))
    return program.restored(tree), list(meta["history"]), epoch + 1


def _best_so_far(program: Program, history: list[dict[str, Any]]) -> float:
    """The lowest per-epoch evaluation loss in ``history`` (a resumed run's included)."""
    key = f"{program.eval_prefix}/loss"
    return min((r[key] for r in history if np.isfinite(r.get(key, np.nan))), default=np.inf)


def _keep_best(
    program: Program, out_dir: pathlib.Path, carry: Carry, record: dict[str, Any], best: float
) -> float:
    """Write ``best/params.msgpack`` and ``best/best.json`` when this epoch's evaluation
    loss is the lowest so far; returns the best loss."""
    key = f"{program.eval_prefix}/loss"
    value = record.get(key, np.nan)
    if not value < best:  # NaN never wins
        return best
    params = sharding.fetch(carry.state.params)
    if jax.process_index() == 0:
        (out_dir / "best").mkdir(exist_ok=True)
        run_dir.save_params(out_dir / "best" / "params.msgpack", params)
        info = {"epoch": record["epoch"], "step": record["step"], "metric": key, "value": value}
        run_dir.atomic_write(out_dir / "best" / "best.json", strict_json(info, indent=2) + "\n")
    return value


def _before_first_checkpoint(out_dir: pathlib.Path, train_config: TrainConfig) -> bool:
    """Whether the run stopped before its first checkpoint could have been committed: no
    final params and no recorded epoch past the first checkpoint's (a run killed while that
    checkpoint was being written has nothing a checkpoint could hold)."""
    if (out_dir / "params.msgpack").exists():
        return False
    metrics = out_dir / "metrics.jsonl"
    lines = metrics.read_text().splitlines() if metrics.is_file() else []
    try:
        epochs = [json.loads(line).get("epoch", 0) for line in lines if line.strip()]
    except (ValueError, AttributeError):  # unreadable lines: assume they recorded something
        return False
    return max(epochs, default=0) <= min(train_config.checkpoint_every, train_config.epochs)


def _config_extra(program: Program) -> dict[str, Any]:
    """What config.json records beside the run: the devices, a user source's description
    (its classes, split sizes, standardization) and the data fingerprint of each split."""
    extra = {"devices": program.devices, **program.train_config.data_record()}
    if program.fingerprints:
        extra["data_fingerprint"] = program.fingerprints
    return extra


def _data_changes(program: Program, out_dir: pathlib.Path, *, allow: bool) -> dict[str, Any]:
    """What differs between the data of this resumed run and the fingerprints the run
    recorded: a one-line DataError unless ``allow`` (then ``{"data_changed": {split: why}}``
    for config.json, with what an earlier resume recorded)."""
    saved = records.saved_run(out_dir)
    recorded, now = saved.data_fingerprint or {}, program.fingerprints or {}
    dataset = program.train_config.dataset
    changes = dict(saved.data_changed or {})
    for split in sorted(set(recorded) & set(now)):
        why = data.fingerprints.changed(recorded[split], now[split])
        if why is None:
            continue
        if not allow:
            raise DataError(
                f"the {split} split of {dataset!r} changed since the run was trained ({why}); "
                "resuming would train on other data: retrain, or pass --allow-changed-data "
                "(allow_changed_data=True) to go on"
            )
        changes[split] = why
    return {"data_changed": changes} if changes else {}


def _writers(
    program: Program, out_dir: pathlib.Path | None, start: int, progress: bool, ckpt
) -> Writers:
    """The run's metric writers: JSONL and TensorBoard in the workdir (on process 0), and
    the progress line."""
    writers: list[Any] = []
    if out_dir is not None and jax.process_index() == 0:
        writers.append(JsonlWriter(out_dir / "metrics.jsonl"))
        if program.train_config.tensorboard:
            names = [m.name for m in program.members] if program.vmapped else None
            # Records are logged at their epoch's last step: a resumed run purges the events
            # after the checkpointed epoch's (TensorBoard drops steps >= purge_step).
            purge = (start - 1) * program.steps_per_epoch + 1 if start > 1 else 0
            writers.append(TensorBoardWriter(out_dir / "tensorboard", names, purge))
    if progress:
        train_config, n = program.train_config, len(program.members)
        desc = f"{program.spec.name}/{train_config.dataset}" + (f" x{n}" if program.vmapped else "")
        if program.vmapped and program.devices > 1:
            desc += f" on {program.devices} devices"
        resumed = f"resumed from {ckpt.path(start - 1)} (epoch {start - 1})" if start > 1 else ""
        writers.append(ProgressWriter(desc, train_config.epochs, start, resumed))
    return Writers(writers)


def _warn_skipped(history: list[dict[str, Any]], progress: bool) -> None:
    skipped = sum(r.get("train/skipped", 0) for r in history)
    if not skipped or not progress:
        return
    print(f"warning: {int(skipped)} non-finite updates were skipped", file=sys.stderr)
    empty = sorted(
        {r["epoch"] for r in history if r.get("train/skipped") and not np.isfinite(r["train/loss"])}
    )
    if empty:
        epochs = ", ".join(map(str, empty))
        print(
            f"warning: no update was applied in epoch(s) {epochs}: their train metrics are "
            "n/a (NaN) and the params did not change",
            file=sys.stderr,
        )


__all__ = ["FitResult", "fit"]
