"""A recipe: the commands that measure one published result (or one results table), the
published numbers it is compared with, and how its result JSON becomes a docs table.

``aezoo reproduce NAME`` runs the commands one after another (each as its own ``aezoo``
process, exactly as printed), then gathers what they wrote (``eval.json`` of every trained
run, ``TASK.json`` of every task) into ``results/recipes/NAME.json`` with the machine (its
measured fp32 matmul GFLOP/s), the commit, the date and the seconds of every step. The docs'
results pages are generated from those files (``benchmarks/docs_results.py``), so no
measured number is typed by hand.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aezoo._files import atomic_write, strict_json
from aezoo._lock import LOCK_NAME, check_unlocked, command_line, run_lock
from aezoo._validate import writable_dir
from aezoo.errors import ConfigError

MARKER = ".aezoo-recipe"  # in a recipe's runs folder: --overwrite may remove that folder


@dataclasses.dataclass(frozen=True)
class Quote:
    """A published number, labelled as quoted: what it is, its value, where it is from."""

    what: str
    value: float
    source: str


@dataclasses.dataclass(frozen=True)
class Table:
    """How a docs table is read from a result JSON.

    Rows are either named outputs (``rows``: ``(label, output)``, an output being a trained
    run's ``eval.json``; of a multi-seed run, one row per group: mean +/- std over its seeds)
    or the rows of a task's JSON (``task``; each row a dict; ``output``: the task's
    ``--out`` folder name when it is not the task's). ``columns``: ``(header, key)``; for a
    task, its own table's columns by default (the task module's ``COLUMNS``).
    """

    title: str
    columns: tuple[tuple[str, str], ...] = ()
    rows: tuple[tuple[str, str], ...] = ()
    task: str | None = None
    output: str | None = None
    digits: int = 3


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One result as aezoo measures it.

    Attributes:
      name: what ``aezoo reproduce`` calls it (and its result file's name).
      title: a heading.
      protocol: the setup in words (data, architecture, schedule, what is scored).
      steps: ``aezoo`` commands (without the leading ``aezoo``); ``{runs}`` is the recipe's
        runs folder. ``train`` steps count towards ``train_seconds``.
      tables: how the docs show the result.
      quoted: published numbers beside ours (never measured here).
      headline: ``(output, key)`` pairs copied to the result's top level (``test/nll_is``).
      budget: the time it took here, in words, to plan a session by.
      notes: what the numbers say, in words (no number typed here: they are in the tables).
    """

    name: str
    title: str
    protocol: str
    steps: tuple[str, ...]
    tables: tuple[Table, ...] = ()
    quoted: tuple[Quote, ...] = ()
    headline: tuple[tuple[str, str], ...] = ()
    budget: str = ""
    notes: str = ""

    def commands(self, runs: str | os.PathLike = "runs/recipes/NAME") -> list[str]:
        """The steps as a user types them (``{runs}`` filled in, quoted for the shell)."""
        root = shlex.quote(str(runs).replace("NAME", self.name))
        return ["aezoo " + step.format(runs=root) for step in self.steps]

    def argvs(self, runs: str | os.PathLike) -> list[list[str]]:
        """The steps as argument lists (what runs; a folder name with spaces stays one)."""
        return [shlex.split(command)[1:] for command in self.commands(runs)]


def run_recipe(
    recipe: Recipe,
    *,
    runs: str | os.PathLike,
    results: str | os.PathLike,
    overwrite: bool = False,
    resume: bool = False,
    say: Callable[[str], None] = lambda msg: None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run every step of ``recipe`` into ``runs`` and write ``results/NAME.json``; returns
    the result. A step that fails stops the recipe with a one-line error naming it (its own
    output is on the terminal above). The runs folder is locked while the recipe runs; it
    records each finished step, so ``resume`` continues a stopped recipe at its first
    unfinished step."""
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    out = writable_dir(results, "--results")
    root = pathlib.Path(runs)
    with run_lock(root, command_line()):
        steps = _start(root, recipe, overwrite=overwrite, resume=resume)
        t_start = time.perf_counter() - sum(s["seconds"] for s in steps)
        for i, (argv, command) in enumerate(
            zip(recipe.argvs(root), recipe.commands(root), strict=True)
        ):
            if i < len(steps):
                say(f"reproduce {recipe.name}: step {i + 1}/{len(recipe.steps)} done before")
                continue
            say(f"reproduce {recipe.name}: step {i + 1}/{len(recipe.steps)}: {command}")
            steps.append(_run_step(recipe, i, argv, command, env))
            _write_progress(root, recipe, steps)
        result = _result(recipe, root, steps, time.perf_counter() - t_start)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{recipe.name}.json"
    atomic_write(path, strict_json(result, indent=2) + "\n")
    say(f"wrote {path}")
    return result


def _run_step(recipe: Recipe, i: int, argv: list[str], command: str, env) -> dict[str, Any]:
    t0 = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "aezoo.cli", *argv], env=env)
    seconds = time.perf_counter() - t0
    if code != 0:
        raise ConfigError(
            f"recipe {recipe.name}: step {i + 1} exited {code}: {command} (continue with "
            f"`aezoo reproduce {recipe.name} --resume` once it is fixed)"
        )
    return {"command": command, "seconds": round(seconds, 1), "kind": argv[0]}


def _result(recipe: Recipe, root: pathlib.Path, steps: list, seconds: float) -> dict[str, Any]:
    result = {
        "recipe": recipe.name,
        "title": recipe.title,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": _machine(),
        "command": f"aezoo reproduce {recipe.name}",
        "steps": steps,
        "train_seconds": round(sum(s["seconds"] for s in steps if s["kind"] == "train"), 1),
        "seconds": round(seconds, 1),
        "outputs": collect_outputs(recipe, root),
    }
    for output, key in recipe.headline:
        result[key] = result["outputs"][output][key]
    return result


def collect_outputs(recipe: Recipe, root: pathlib.Path) -> dict[str, Any]:
    """What the steps wrote: ``{run: eval.json}`` for every ``--workdir`` of a ``train``
    step (with its last epoch's record), ``{task-OUT: TASK.json}`` for every task (OUT: the
    name of its ``--out`` folder), ``{gallery: gallery.json}`` of a gallery step (with the
    folder it wrote, ``out``)."""
    outputs: dict[str, Any] = {}
    for argv in recipe.argvs(root):
        if argv[0] == "train":
            workdir = pathlib.Path(_flag(argv, "--workdir"))
            outputs[workdir.name] = _run_output(workdir)
        elif argv[0] == "task":
            out = pathlib.Path(_flag(argv, "--out"))
            outputs[f"task-{out.name}"] = json.loads((out / f"{argv[1]}.json").read_text())
        elif argv[0] == "gallery":
            out = pathlib.Path(_flag(argv, "--out"))
            outputs["gallery"] = {
                "out": str(out),
                **json.loads((out / "gallery.json").read_text()),
            }
    return outputs


def _run_output(workdir: pathlib.Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    if lines:
        last = json.loads(lines[-1])
        found.update({f"last/{k}": v for k, v in last.items()})
    if (workdir / "eval.json").exists():
        found.update(json.loads((workdir / "eval.json").read_text()))
    return found


def _flag(argv: Sequence[str], flag: str) -> str:
    if flag not in argv:
        raise ConfigError(f"a recipe's {argv[0]} step needs {flag}: {shlex.join(argv)}")
    return argv[argv.index(flag) + 1]


def _start(root: pathlib.Path, recipe: Recipe, *, overwrite: bool, resume: bool) -> list:
    """The steps already finished in ``root`` (``resume``), or none once the folder is
    fresh: new or empty, or (``overwrite``) an earlier reproduction, cleared when no run
    below it is in use."""
    marker = root / MARKER
    if resume:
        done = _progress(marker, recipe)
        if done is None:
            raise ConfigError(f"nothing to resume in {root}: no reproduction of {recipe.name}")
        return done
    held = {LOCK_NAME, *(p.name for p in root.glob(".aezoo-lock-*"))}
    if any(p.name not in held for p in root.iterdir()):
        if not marker.exists():
            raise ConfigError(
                f"{root} was not made by aezoo reproduce; refusing to use or clear it "
                "(choose another --runs)"
            )
        if not overwrite:
            raise ConfigError(
                f"{root} holds an earlier reproduction; pass --resume to continue it or "
                "--overwrite to redo it"
            )
        check_unlocked(root, below=True)
        for p in root.iterdir():
            if p.name not in held:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    _write_progress(root, recipe, [])
    return []


def _progress(marker: pathlib.Path, recipe: Recipe) -> list | None:
    """The finished steps recorded in ``marker`` (None: no progress of ``recipe``)."""
    try:
        found = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(found, dict) and found.get("recipe") == recipe.name
    steps = found.get("steps") if ok else None
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        return None
    return steps[: len(recipe.steps)]


def _write_progress(root: pathlib.Path, recipe: Recipe, steps: list) -> None:
    note = "made by aezoo reproduce: --overwrite may clear this folder, --resume continues it"
    record = {"recipe": recipe.name, "note": note, "steps": steps}
    atomic_write(root / MARKER, json.dumps(record, indent=1) + "\n")


def _commit() -> str:
    here = pathlib.Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def _machine() -> dict[str, Any]:
    from aezoo.bench.suite import device_info, matmul_peak

    info = device_info()
    keys = ("platform", "device_kind", "num_devices", "cpu", "cpu_count", "jax")
    return {**{k: info[k] for k in keys}, "matmul_gflops": round(matmul_peak(), 1)}


__all__ = ["Quote", "Recipe", "Table", "collect_outputs", "run_recipe"]
