"""The ``aezoo`` command: argument parsing only; the work is done by ``fit`` and friends."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from aezoo.errors import AezooError, ConfigError, NonFiniteError

# Training flags: CLI dest -> (TrainConfig / fit keyword, default). Defaults are applied after
# parsing so that, on --resume, a flag given explicitly can be told from one left out.
TRAIN_FLAGS: dict[str, tuple[str, Any]] = {
    "dataset": ("dataset", "digits"),
    "epochs": ("epochs", None),  # 10, or 100 for digits (data.default_epochs)
    "batch_size": ("batch_size", 128),
    "lr": ("learning_rate", 1e-3),
    "seed": ("seed", 0),
    "binarize": ("binarize", None),  # from the likelihood
    "eval_batch_size": ("eval_batch_size", 1000),
    "on_nonfinite": ("on_nonfinite", "stop"),
    "checkpoint_every": ("checkpoint_every", 1),
    "keep": ("keep", 3),
}


def _parse_int_tuple(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", ",").split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 512,256; got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer, like 512,256")
    return values


def _field_flag(parser: argparse._ActionsContainer, f: dataclasses.Field, hint: Any) -> None:
    """Add ``--field-name`` for one config field, typed from its annotation."""
    flag = "--" + f.name.replace("_", "-")
    help_text = f.metadata.get("help", "")
    default = f.default
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # Optional[X] -> X
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    kwargs: dict[str, Any] = {"dest": f.name, "default": None}
    if hint is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif origin is tuple:
        kwargs.update(type=_parse_int_tuple, metavar="N,N,...")
        default = ",".join(map(str, default)) if isinstance(default, tuple) else default
    elif hint in (int, float, str):
        kwargs["type"] = hint
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
    else:
        return
    parser.add_argument(flag, help=f"{help_text} (default: {default})", **kwargs)


def _add_train_flags(p: argparse.ArgumentParser) -> None:
    from aezoo import data
    from aezoo.train.step import NONFINITE_POLICIES

    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset",
        help=f"dataset name: {', '.join(data.DATASETS)} or another TFDS image dataset "
        "(default: digits, embedded, no network)",
    )
    g.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    g.add_argument(
        "--cache-dir",
        help="keep decoded arrays here as .npy for faster reloads (default: $AEZOO_CACHE_DIR)",
    )
    g.add_argument(
        "--binarize",
        choices=data.BINARIZE_MODES,
        help="Bernoulli targets: dynamic (resampled every step), static (threshold 0.5) or "
        "none (default: dynamic for the bernoulli likelihood, none for gaussian)",
    )
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, help="passes over the data (default: 10; 100 for digits)")
    g.add_argument("--batch-size", type=int, help="examples per step (default: 128)")
    g.add_argument("--lr", type=float, help="Adam learning rate (default: 1e-3)")
    g.add_argument("--seed", type=int, help="random seed, >= 0 (default: 0)")
    g.add_argument("--eval-batch-size", type=int, help="test batch size (default: 1000)")
    g.add_argument(
        "--on-nonfinite",
        choices=NONFINITE_POLICIES,
        help="on a NaN/inf loss or gradient: stop (keeping the last good checkpoint) or "
        "skip the update and count it (default: stop)",
    )
    g.add_argument(
        "--per-step",
        action="store_true",
        help="run the per-step jitted loop instead of the scan-fused epoch (same result)",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    g = p.add_argument_group("scaling (many models, many devices, many hosts)")
    g.add_argument(
        "--seeds",
        type=int,
        help="train N models at once with jax.vmap, seeds --seed .. --seed+N-1 (one compile); "
        "reports mean +/- std, writes each member to WORKDIR/members/",
    )
    g.add_argument(
        "--sweep",
        metavar="NAME=V1,V2,...",
        help="also vmap over values of one numeric setting: lr or a model field that "
        "`aezoo list` shows as sweepable (e.g. beta=0.5,1,2,4); members = values x seeds",
    )
    g.add_argument(
        "--devices",
        type=int,
        help="data parallel over the first N devices (default: all; the batch is split "
        "over them, --batch-size is the global batch); with --seeds/--sweep the models are "
        "split over them instead",
    )
    g.add_argument(
        "--shard-params",
        action="store_true",
        help="FSDP-style: shard params and optimizer state over the devices instead of "
        "replicating them",
    )
    g.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="multi-host: address of process 0's coordinator (jax.distributed.initialize)",
    )
    g.add_argument("--num-processes", type=int, help="multi-host: number of processes")
    g.add_argument("--process-id", type=int, help="multi-host: this process's index")
    g.add_argument(
        "--distributed",
        action="store_true",
        help="multi-host with the cluster's own settings (SLURM, Open MPI, ...): "
        "jax.distributed.initialize() detects what the flags and JAX_COORDINATOR_ADDRESS / "
        "JAX_NUM_PROCESSES / JAX_PROCESS_ID leave unset",
    )
    g = p.add_argument_group("outputs and checkpoints")
    g.add_argument("--workdir", help="output directory (default: runs/MODEL-DATASET)")
    g.add_argument(
        "--checkpoint-every", type=int, help="checkpoint every N epochs and at the end (default: 1)"
    )
    g.add_argument("--keep", type=int, help="keep the last K checkpoints (default: 3)")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --workdir from its newest valid checkpoint, with its saved "
        "settings (a flag that conflicts with them is an error; --epochs may extend the run)",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in a --workdir that already holds a run (deletes its outputs)",
    )


def build_parser() -> argparse.ArgumentParser:
    from aezoo.models import MODELS

    parser = argparse.ArgumentParser(
        prog="aezoo", description="aezoo: the JAX model zoo for autoencoders."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="list models and datasets")
    ev = sub.add_parser(
        "eval",
        help="evaluate a trained run: likelihood, reconstruction, probes, figures",
        description="Evaluate the newest checkpoint in WORKDIR; writes eval.json and report.md "
        "(with figures) into WORKDIR.",
    )
    ev.add_argument("workdir", help="a directory written by `aezoo train`")
    ev.add_argument(
        "--nll-samples",
        type=int,
        default=5000,
        help="importance samples K for the NLL estimate of VAE-family models; 0 skips it "
        "(default: 5000)",
    )
    ev.add_argument("--split", default="test", help="split to evaluate (default: test)")
    ev.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    ev.add_argument(
        "--probe-train",
        type=int,
        default=10_000,
        help="training examples for the logistic-regression and k-NN probes (default: 10000)",
    )
    ev.add_argument(
        "--append-readme",
        metavar="README",
        help="also add a row to the evaluation results table in this README",
    )
    ev.add_argument("--no-progress", action="store_true", help="no progress output")
    from aezoo.bench.suite import MODES

    be = sub.add_parser(
        "bench",
        help="time training throughput and compile time (with PyTorch baselines if installed)",
        description="Time the shared train step per model x batch size x mode; PyTorch's "
        "eager loop on the same MLP VAE is measured in the same run when torch is installed "
        "(pip install 'aezoo[bench]'). Writes bench.json and bench.md into --out.",
    )
    be.add_argument(
        "--models",
        nargs="+",
        default=["vae"],
        metavar="MODEL",
        help="models to time, or 'all' (default: vae)",
    )
    be.add_argument(
        "--batch-sizes",
        nargs="+",
        type=int,
        default=[128, 1024],
        metavar="B",
        help="batch sizes (default: 128 1024)",
    )
    be.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES),
        help="fused epoch, per-step loop, vmap over seeds (default: all)",
    )
    be.add_argument("--seeds", type=int, default=8, help="models in the vmap mode (default: 8)")
    be.add_argument(
        "--mesh-devices",
        type=int,
        default=4,
        help="devices of the mesh mode; on a CPU with fewer, forced host devices in a "
        "subprocess (default: 4)",
    )
    be.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed epochs per row; the median is reported (default: 5)",
    )
    be.add_argument(
        "--examples", type=int, default=12_800, help="examples per timed epoch (default: 12800)"
    )
    be.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: vae, batch 128, 3 repeats of small epochs (< 2 minutes)",
    )
    be.add_argument("--no-torch", action="store_true", help="skip the PyTorch baselines")
    be.add_argument(
        "--out", default="benchmarks/out", help="output directory (default: benchmarks/out)"
    )
    train = sub.add_parser(
        "train",
        help="train a model (aezoo train MODEL --help for its options)",
        description="Train a model. Each model has its own options: aezoo train MODEL --help.",
    )
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, spec in MODELS.items():
        p = models.add_parser(name, help=spec.description, description=spec.description)
        g = p.add_argument_group(f"model options ({name})")
        hints = typing.get_type_hints(spec.config_cls)
        for f in dataclasses.fields(spec.config_cls):
            if f.metadata.get("cli", True):
                _field_flag(g, f, hints[f.name])
        _add_train_flags(p)
    return parser


def _cmd_list() -> int:
    from aezoo import data
    from aezoo.models import MODELS
    from aezoo.models._spec import sweepable

    print("models:")
    width = max(map(len, MODELS))
    for name, spec in MODELS.items():
        print(f"  {name:<{width}}  {spec.description}")
        fields = ", ".join(("lr", *sweepable(spec.config_cls)))
        print(f"  {'':<{width}}  (--sweep: {fields})")
    print("datasets:")
    print("  digits         scikit-learn's 8x8 digits, embedded (no network)")
    for name in data.TFDS_IMAGE_DATASETS:
        print(f"  {name:<13}  TFDS (reads prepared data from $TFDS_DATA_DIR)")
    return 0


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _resolve_resume(args: argparse.Namespace, spec, workdir: pathlib.Path) -> dict[str, Any]:
    """Saved settings of the run in ``workdir``; an explicit flag may not contradict them."""
    path = workdir / "config.json"
    if not path.is_file():
        raise ConfigError(f"nothing to resume: {workdir} holds no run (no config.json)")
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    if saved.get("model") != spec.name:
        raise ConfigError(
            f"{workdir} holds a {saved.get('model')!r} run, not {spec.name!r}; "
            f"resume it with `aezoo train {saved.get('model')} --resume --workdir {workdir}`"
        )
    train, model_config = saved.get("train", {}), saved.get("model_config", {})
    for dest, (key, _) in TRAIN_FLAGS.items():
        given = getattr(args, dest)
        if given is not None and dest != "epochs" and key in train and given != train[key]:
            raise ConfigError(
                f"{_flag(dest)} {given} conflicts with the run in {workdir} ({key}={train[key]}); "
                "drop the flag to resume it"
            )
    for f in dataclasses.fields(spec.config_cls):
        given = getattr(args, f.name, None)
        old = model_config.get(f.name)
        if given is not None and old is not None and list(_as_list(given)) != _as_list(old):
            raise ConfigError(
                f"{_flag(f.name)} {given} conflicts with the run in {workdir} ({f.name}={old}); "
                "drop the flag to resume it"
            )
    return saved


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _init_distributed(args: argparse.Namespace) -> None:
    """``jax.distributed.initialize`` from the multi-host flags (before any JAX work).

    A flag left out is taken from ``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES`` /
    ``JAX_PROCESS_ID``; with ``--distributed`` whatever is still unset is detected from the
    cluster (SLURM, Open MPI, ...) by JAX.
    """
    env = os.environ
    coordinator = args.coordinator or env.get("JAX_COORDINATOR_ADDRESS") or None
    num_processes = _int_setting("--num-processes", args.num_processes, "JAX_NUM_PROCESSES")
    process_id = _int_setting("--process-id", args.process_id, "JAX_PROCESS_ID")
    given = [coordinator, num_processes, process_id]
    if not args.distributed and all(v is None for v in given):
        return
    if not args.distributed and any(v is None for v in given):
        raise ConfigError(
            "multi-host needs --coordinator HOST:PORT, --num-processes P and --process-id I "
            "together (or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID; or "
            "--distributed to detect them from the cluster)"
        )
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes must be >= 1; got {num_processes}")
    if process_id is not None and not 0 <= process_id < (num_processes or 1):
        raise ConfigError(
            f"--process-id must be in 0..{(num_processes or 1) - 1}; got {process_id}"
        )
    if coordinator is not None and not coordinator.rpartition(":")[2].isdigit():
        raise ConfigError(f"--coordinator must be HOST:PORT; got {coordinator!r}")
    import jax

    try:
        jax.distributed.initialize(
            coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
        )
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"jax.distributed.initialize failed: {first}") from None


def _int_setting(flag: str, value: int | None, env_name: str) -> int | None:
    if value is not None:
        return value
    text = os.environ.get(env_name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{env_name}={text!r} is not an integer (for {flag})") from None


def _cmd_train(args: argparse.Namespace) -> int:
    from aezoo import data
    from aezoo.models import get_spec
    from aezoo.train import fit
    from aezoo.train.loop import default_binarize
    from aezoo.train.members import parse_sweep

    spec = get_spec(args.model)
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer; got {args.seeds}")
    sweep = parse_sweep(args.sweep) if args.sweep is not None else None
    _init_distributed(args)
    import jax

    is_main = jax.process_index() == 0
    given_dataset = args.dataset or TRAIN_FLAGS["dataset"][1]
    workdir = pathlib.Path(args.workdir or f"runs/{args.model}-{given_dataset}")
    settings: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    if args.resume:
        saved = _resolve_resume(args, spec, workdir)
        settings = {k: v for k, v in saved["train"].items() if k != "fused"}
        overrides = {k: v for k, v in saved["model_config"].items() if k != "image_shape"}
        if args.epochs is not None:
            settings["epochs"] = args.epochs
        members = saved.get("members")
        saved_seeds = list(dict.fromkeys(m["seed"] for m in members)) if members else None
        saved_sweep = saved.get("sweep")
        if args.seeds is not None and (saved_seeds is None or len(saved_seeds) != args.seeds):
            raise ConfigError(
                f"--seeds {args.seeds} conflicts with the run in {workdir} "
                f"({len(saved_seeds) if saved_seeds else 'a single model'}); drop the flag"
            )
        if sweep is not None and sweep != saved_sweep:
            raise ConfigError(
                f"--sweep {args.sweep} conflicts with the run in {workdir} ({saved_sweep}); "
                "drop the flag to resume it"
            )
        seeds, sweep = saved_seeds, saved_sweep
    else:
        for dest, (key, default) in TRAIN_FLAGS.items():
            value = getattr(args, dest)
            settings[key] = value if value is not None else default
        if settings["epochs"] is None:
            settings["epochs"] = data.default_epochs(settings["dataset"])
        overrides = {
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(spec.config_cls)
            if getattr(args, f.name, None) is not None
        }
        seeds = None
        if args.seeds is not None or sweep is not None:
            seeds = list(range(settings["seed"], settings["seed"] + (args.seeds or 1)))
    config = spec.make_config(**overrides)  # validates before any data is read
    if settings["binarize"] is None:
        settings["binarize"] = default_binarize(config.likelihood)
    progress = not args.no_progress and is_main
    if progress:
        verb = "resume" if args.resume else "train"
        print(f"aezoo {verb} {spec.name} -> {workdir}", file=sys.stderr)
        shown = {**settings, "fused": not args.per_step}
        model_settings = {k: v for k, v in config.to_dict().items() if k != "image_shape"}
        print("  " + "  ".join(f"{k}={v}" for k, v in shown.items()), file=sys.stderr)
        print("  " + "  ".join(f"{k}={v}" for k, v in model_settings.items()), file=sys.stderr)
        if seeds is not None:
            print(f"  members: seeds={seeds}  sweep={sweep}", file=sys.stderr)
    dataset = settings.pop("dataset")
    load = {"data_dir": args.data_dir, "cache_dir": args.cache_dir}
    if seeds is None and jax.process_count() > 1:
        from aezoo.train.sharding import load_local_rows, make_mesh

        # Each process reads only the rows that its devices hold.
        mesh = make_mesh(args.devices)
        train = load_local_rows(dataset, "train", mesh, **load)
        test = load_local_rows(dataset, "test", mesh, **load)
    else:
        train = data.load(dataset, "train", **load)
        test = data.load(dataset, "test", **load)
    result = fit(
        spec,
        train,
        test,
        config=overrides,
        dataset=dataset,
        fused=not args.per_step,
        workdir=workdir,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=progress,
        devices=args.devices,
        shard_params=args.shard_params,
        seeds=seeds,
        sweep=sweep,
        **settings,
    )
    if not is_main:
        return 0
    if seeds is not None:
        from aezoo.train.members import summary_markdown

        print(summary_markdown(result.summary, result.sweep_name), end="")
        print(f"done: {len(result.members)} models; outputs in {workdir} (members/ per model)")
        return 0
    if result.history:
        last = result.history[-1]
        summary = ", ".join(
            f"{k} {last[k]:.3f}" for k in ("train/loss", "test/loss", "test/nll_bound") if k in last
        )
        print(f"done: {summary}; outputs in {workdir}")
    else:
        print(f"done: 0 epochs; outputs in {workdir}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from aezoo.eval.run import append_readme_row, evaluate

    if args.nll_samples < 0:
        raise ConfigError(f"--nll-samples must be >= 0; got {args.nll_samples}")
    if args.probe_train <= 0:
        raise ConfigError(f"--probe-train must be a positive integer; got {args.probe_train}")
    results = evaluate(
        args.workdir,
        nll_samples=args.nll_samples,
        split=args.split,
        data_dir=args.data_dir,
        probe_train=args.probe_train,
        progress=not args.no_progress,
    )
    keys = (
        "test/loss",
        "test/elbo",
        "test/nll_is",
        "active_units",
        "probe/logreg_acc",
        "probe/knn_acc",
    )
    shown = ", ".join(
        f"{k} {results[k]:.3f}" if isinstance(results[k], float) else f"{k} {results[k]}"
        for k in keys
        if k in results
    )
    print(f"done: {shown}")
    if args.append_readme:
        append_readme_row(args.append_readme, args.workdir, results)
        print(f"added a row to {args.append_readme}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from aezoo.bench import run_suite, to_markdown
    from aezoo.models import MODELS, get_spec

    models = list(MODELS) if args.models == ["all"] else args.models
    for name in models:
        get_spec(name)  # one-line error for an unknown model
    for b in args.batch_sizes:
        if b <= 0:
            raise ConfigError(f"--batch-sizes must be positive integers; got {b}")
    if min(args.seeds, args.repeats, args.examples, args.mesh_devices) <= 0:
        raise ConfigError(
            "--seeds, --repeats, --examples and --mesh-devices must be positive integers"
        )
    kw = {
        "seeds": args.seeds,
        "repeats": args.repeats,
        "examples_per_epoch": args.examples,
        "mesh_devices": args.mesh_devices,
    }
    if args.quick:
        models, batch_sizes = ["vae"], [128]
        kw = {"seeds": 2, "repeats": 3, "examples_per_epoch": 1280, "mesh_devices": 2}
    else:
        batch_sizes = args.batch_sizes
    result = run_suite(models, batch_sizes, args.modes, torch=not args.no_torch, **kw)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "bench.md").write_text(to_markdown(result))
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aezoo`` console script. Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "eval":
            return _cmd_eval(args)
        if args.command == "bench":
            return _cmd_bench(args)
        return _cmd_train(args)
    except NonFiniteError as e:
        print(f"aezoo: error: {e}", file=sys.stderr)
        return 1
    except AezooError as e:
        print(f"aezoo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aezoo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
