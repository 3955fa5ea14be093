"""The ``aezoo`` command: parse and dispatch only; ``fit``, ``evaluate`` and the bench suite
do the work. Training and model flags are generated from the config dataclasses' fields."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aezoo._flags import add_config_flags
from aezoo._flags import given as given_flags
from aezoo.errors import AezooError, NonFiniteError


def _add_source_flags(add) -> None:
    add("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    add("--cache-dir", help="keep decoded arrays here as .npy (default: $AEZOO_CACHE_DIR)")


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    """Flags that say where and how to run, not what to train (not recorded)."""
    add = p.add_argument_group("run").add_argument
    _add_source_flags(add)
    add("--workdir", help="output directory (default: runs/MODEL-DATASET)")
    add(
        "--resume",
        action="store_true",
        help="continue the run in --workdir from its newest "
        "valid checkpoint, with its saved settings (a flag that conflicts with them is an "
        "error; --epochs may extend the run)",
    )
    add("--overwrite", action="store_true", help="start afresh in a --workdir holding a run")
    add("--no-progress", action="store_true", help="no progress bar or epoch lines")
    add("--coordinator", metavar="HOST:PORT", help="multi-host: process 0's address")
    add("--num-processes", type=int, help="multi-host: number of processes")
    add("--process-id", type=int, help="multi-host: this process's index")
    add(
        "--distributed",
        action="store_true",
        help="multi-host with the cluster's settings "
        "(SLURM, Open MPI, ...) for what the flags and JAX_COORDINATOR_ADDRESS / "
        "JAX_NUM_PROCESSES / JAX_PROCESS_ID leave unset",
    )


def _names(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` (a comma-separated list of names)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _add_eval(sub) -> None:
    from aezoo.eval import EVALUATORS

    ev = sub.add_parser(
        "eval",
        help="evaluate a trained run: likelihood, reconstruction, probes, figures",
        description="Evaluate the newest checkpoint in WORKDIR; writes eval.json and report.md "
        "(with figures) into WORKDIR.",
    )
    add = ev.add_argument
    add("workdir", help="a directory written by `aezoo train`")
    add(
        "--nll-samples",
        type=int,
        default=5000,
        help="importance samples K for the NLL of VAE-family models; 0 skips it (default: 5000)",
    )
    add("--split", default="test", help="split to evaluate (default: test)")
    _add_source_flags(add)
    add(
        "--probe-train",
        type=int,
        default=10_000,
        help="training examples for the logistic-regression and k-NN probes (default: 10000)",
    )
    add(
        "--evaluators",
        type=_names,
        metavar="NAME,...",
        help="run only these evaluators (default: each one the run can serve); "
        f"available: {', '.join(EVALUATORS)}",
    )
    add("--best", action="store_true", help="evaluate the params kept by --keep-best")
    add(
        "--disentanglement",
        action="store_true",
        help="instead: the disentanglement metrics "
        "(BetaVAE, FactorVAE, MIG, SAP, DCI, modularity) and latent traversals, on a dataset "
        "with ground-truth factors (dsprites); every member of a multi-seed run",
    )
    add("--num-train", type=int, default=10_000, help="--disentanglement: training sample (10000)")
    add("--num-eval", type=int, default=5_000, help="--disentanglement: evaluation sample (5000)")
    add("--metric-seed", type=int, default=0, help="--disentanglement: the samples' seed (0)")
    add(
        "--metrics",
        default="all",
        help="--disentanglement: comma-separated subset of "
        "beta_vae,factor_vae,mig,sap,dci,modularity (default: all)",
    )
    add(
        "--export-codes",
        metavar="PATH",
        help="instead: the codes and labels of the train and "
        "test splits to PATH (.npz), a dataset for --dataset npz:PATH (M1+M2)",
    )
    add("--no-progress", action="store_true", help="no progress output")


def _add_task(sub) -> None:
    from aezoo.tasks import TASKS

    p = sub.add_parser(
        "task",
        help="what autoencoders are for: manifold, retrieval, clustering, anomaly",
        description="Run an application task; writes TASK.json, TASK.md and figures into --out.",
    )
    tasks = p.add_subparsers(dest="task", required=True, metavar="TASK")
    for name, task in TASKS.items():
        t = tasks.add_parser(name, help=task.description, description=task.description)
        if task.takes_runs:
            t.add_argument("runs", nargs="+", metavar="WORKDIR", help="trained runs to compare")
        add_config_flags(t, task.options_cls, f"options ({name})")
        t.add_argument("--out", help=f"output directory (default: runs/task-{name})")
        _add_source_flags(t.add_argument)
        t.add_argument("--no-progress", action="store_true", help="no progress output")


def _add_data(sub) -> None:
    from aezoo.train import TrainConfig

    p = sub.add_parser(
        "data",
        help="show what a dataset holds and write a preview grid",
        description="Print sizes, shapes, dtypes, value ranges and label counts "
        "of a dataset's splits, and write a grid of training images.",
    )
    p.add_argument("dataset", help="digits, a TFDS name, folder:PATH, npz:PATH or npy:PATH")
    add_config_flags(p, TrainConfig, "reading", DATA_FIELDS)
    p.add_argument("--out", default="data-preview.png", help="preview grid (PNG) to write")
    _add_source_flags(p.add_argument)


DATA_FIELDS = ("image_size", "center_crop", "test_fraction", "skip_bad_images", "val_fraction")


def _add_bench(sub) -> None:
    from aezoo.bench.suite import MODES

    be = sub.add_parser(
        "bench",
        help="time training throughput and compile time (with PyTorch baselines if installed)",
        description="Time the shared step "
        "per model x batch size x mode, and PyTorch's eager loop on the same MLP "
        "VAE when torch is installed (pip install 'aezoo[bench]'). Writes "
        "bench.json and bench.md into --out.",
    )
    add = be.add_argument
    add("--models", nargs="+", default=["vae"], metavar="MODEL", help="models, or 'all'")
    add("--batch-sizes", nargs="+", type=int, default=[128, 1024], metavar="B", help="batches")
    add("--modes", nargs="+", choices=MODES, default=list(MODES), help="(default: all)")
    add("--arch", nargs="+", default=["mlp"], help="mlp, conv and/or resnet (default: mlp)")
    add("--seeds", type=int, default=8, help="models in the vmap mode (default: 8)")
    add(
        "--mesh-devices",
        type=int,
        default=4,
        help="devices of the mesh mode; on a CPU with "
        "fewer, forced host devices in a subprocess (default: 4)",
    )
    add("--repeats", type=int, default=5, help="timed epochs per row; median reported (5)")
    add("--examples", type=int, default=12_800, help="examples per timed epoch (12800)")
    add("--quick", action="store_true", help="smoke test: vae, batch 128, small (< 2 minutes)")
    add("--no-torch", action="store_true", help="skip the PyTorch baselines")
    add("--out", default="benchmarks/out", help="output directory (default: benchmarks/out)")


def build_parser() -> argparse.ArgumentParser:
    from aezoo.models import MODELS
    from aezoo.train import TrainConfig

    parser = argparse.ArgumentParser(
        prog="aezoo", description="aezoo: the JAX model zoo for autoencoders."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="list models and datasets")
    _add_eval(sub)
    _add_bench(sub)
    _add_data(sub)
    _add_task(sub)
    train = sub.add_parser(
        "train",
        help="train a model (aezoo train MODEL --help for its options)",
        description="Train a model. Each model has its own options: aezoo train MODEL --help.",
    )
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, spec in MODELS.items():
        p = models.add_parser(name, help=spec.description, description=spec.description)
        add_config_flags(p, spec.config_cls, f"model options ({name})")
        add_config_flags(p, TrainConfig)
        _add_run_flags(p)
    return parser


def _cmd_list() -> int:
    from aezoo import data
    from aezoo.models import MODELS
    from aezoo.models._spec import sweepable

    print("models:")
    width = max(map(len, MODELS))
    for name, spec in MODELS.items():
        print(f"  {name:<{width}}  {spec.description}")
        can = ", ".join(sorted(spec.capabilities - {"encode"})) or "-"
        sweep = ", ".join(("lr", *sweepable(spec.config_cls)))
        print(f"  {'':<{width}}  (can also: {can}; --sweep: {sweep})")
    print("datasets:", *data.dataset_lines(), sep="\n")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import jax

    from aezoo._validate import writable_dir
    from aezoo.models import get_spec
    from aezoo.train import TrainConfig, fit, sharding
    from aezoo.train.records import resolve_settings

    spec = get_spec(args.model)
    given = given_flags(args, TrainConfig)
    if not args.resume:
        given.setdefault("dataset", "digits")
    TrainConfig(**given)  # one-line errors for the flags before anything else happens
    sharding.init_distributed(
        args.coordinator, args.num_processes, args.process_id, detect=args.distributed
    )
    default_dir = f"runs/{args.model}-{given.get('dataset', 'digits')}"
    workdir = writable_dir(default_dir if args.workdir is None else args.workdir, "--workdir")
    config, model_config = resolve_settings(
        spec, workdir, given, given_flags(args, spec.config_cls), resume=args.resume
    )
    progress = not args.no_progress and jax.process_index() == 0
    if progress:
        _print_settings(spec.name, workdir, args.resume, config, model_config)
    train, test, val = sharding.load_splits(
        config.dataset,
        devices=config.devices,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        options=config.data_options(),
    )
    result = fit(
        spec,
        train,
        test,
        val=val,
        config=config,
        model_config=model_config,
        workdir=workdir,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=progress,
    )
    if jax.process_index() == 0:
        print(result.report())
    return 0


def _print_settings(model: str, workdir, resume: bool, config, model_config) -> None:
    print(f"aezoo {'resume' if resume else 'train'} {model} -> {workdir}", file=sys.stderr)
    for settings in (config.to_record(), model_config.to_dict()):
        shown = {k: v for k, v in settings.items() if k != "image_shape"}
        print("  " + "  ".join(f"{k}={v}" for k, v in shown.items()), file=sys.stderr)


def _cmd_eval(args: argparse.Namespace) -> int:
    from aezoo._validate import int_in, positive_int
    from aezoo.eval import evaluate, export_codes, summary_line

    int_in("--nll-samples", args.nll_samples, 0)
    positive_int("--probe-train", args.probe_train)
    if args.disentanglement:
        return _cmd_disentanglement(args)
    if args.export_codes:  # instead of the evaluation
        kw = {k: getattr(args, k) for k in ("data_dir", "cache_dir", "best")}
        shapes = export_codes(args.workdir, args.export_codes, progress=not args.no_progress, **kw)
        print(f"wrote {args.export_codes} {shapes}; train on it: --dataset npz:{args.export_codes}")
        return 0
    names = ("nll_samples", "split", "data_dir", "probe_train", "best", "cache_dir", "evaluators")
    kw = {k: getattr(args, k) for k in names}
    results = evaluate(args.workdir, progress=not args.no_progress, **kw)
    print(f"done: {summary_line(results)}")
    return 0


def _cmd_disentanglement(args: argparse.Namespace) -> int:
    from aezoo.eval import evaluate_disentanglement, summary_lines

    kw = {k: getattr(args, k) for k in ("num_train", "num_eval", "metrics")}
    kw["progress"] = not args.no_progress
    result = evaluate_disentanglement(args.workdir, seed=args.metric_seed, **kw)
    print("\n".join(summary_lines(result)))
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from aezoo import data
    from aezoo._validate import writable_file
    from aezoo.train import TrainConfig

    options = TrainConfig(**given_flags(args, TrainConfig)).data_options()
    out = writable_file(args.out, "--out")
    kw = {"options": options, "data_dir": args.data_dir, "cache_dir": args.cache_dir}
    print(data.format_summary(data.summarize(args.dataset, **kw)))
    print(f"wrote {data.write_preview(out, args.dataset, **kw)}")
    return 0


def _cmd_task(args: argparse.Namespace) -> int:
    from aezoo.tasks import TASKS, run_task

    options = given_flags(args, TASKS[args.task].options_cls)
    source = {"data_dir": args.data_dir, "cache_dir": args.cache_dir}
    result = run_task(
        args.task,
        getattr(args, "runs", ()),
        out=args.out,
        progress=not args.no_progress,
        **source,
        **options,
    )
    print("\n".join(result["summary"]))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from aezoo.bench import run_and_write

    kw = {k: getattr(args, k) for k in ("seeds", "repeats", "mesh_devices", "quick", "out")}
    run_and_write(
        args.models,
        args.batch_sizes,
        args.modes,
        examples_per_epoch=args.examples,
        archs=args.arch,
        torch=not args.no_torch,
        **kw,
    )
    return 0


COMMANDS = {
    "list": lambda args: _cmd_list(),
    "eval": _cmd_eval,
    "bench": _cmd_bench,
    "train": _cmd_train,
    "data": _cmd_data,
    "task": _cmd_task,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aezoo`` console script. Returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
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
