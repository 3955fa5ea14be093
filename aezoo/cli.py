"""The ``aezoo`` command: parse and dispatch only; ``fit``, ``evaluate`` and the bench suite
do the work. Training and model flags are generated from the config dataclasses' fields."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from aezoo._cores import limit_cores
from aezoo._flags import add_config_flags
from aezoo._flags import given as given_flags
from aezoo.errors import AezooError, ConfigError, NonFiniteError


def _add_source_flags(add) -> None:
    add("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    add("--cache-dir", help="keep decoded arrays here as .npy (default: $AEZOO_CACHE_DIR)")


ALLOW_CHANGED_HELP = (
    "go on with data whose fingerprint differs from the one the run recorded (recorded as "
    "data_changed); without it such data is refused"
)


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
    add("--allow-changed-data", action="store_true", help=ALLOW_CHANGED_HELP)
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
    add("workdir", help="a directory written by `aezoo train` (a multi-seed run: every member)")
    add(
        "--evaluators",
        type=_names,
        metavar="NAME,...",
        help="run only these evaluators (default: each default one the run can serve); "
        f"available: {', '.join(EVALUATORS)}",
    )
    add("--split", default="test", help="split to evaluate (default: test)")
    _add_source_flags(add)
    add("--best", action="store_true", help="evaluate the params kept by --keep-best")
    add("--allow-changed-data", action="store_true", help=ALLOW_CHANGED_HELP)
    _add_evaluator_options(add)
    add("--no-progress", action="store_true", help="no progress output")
    add("--disentanglement", action="store_true", help=argparse.SUPPRESS)


# The evaluators' options on the command line: (flag, type, help); defaults are the
# evaluators' own (aezoo.eval.EVALUATORS[...].options), passed on only when given.
EVALUATOR_FLAGS = (
    ("--nll-samples", int, "nll: importance samples K (5000); 0 leaves nll out of the default set"),
    ("--probe-train", int, "probes: training examples of the logistic-regression and k-NN probes"),
    ("--num-train", int, "disentanglement: the sample each metric fits on (10000)"),
    ("--num-eval", int, "disentanglement: the sample each metric scores (5000)"),
    ("--metric-seed", int, "disentanglement: the samples' seed (0)"),
    ("--metrics", str, "disentanglement: subset of beta_vae,factor_vae,mig,sap,dci,modularity"),
    (
        "--sampler",
        str,
        "sample_quality: prior (the model's own) or an ex-post sampler: normal, gmm, "
        "two_stage, flow (continuous codes), autoregressive, uniform (vqvae's discrete code)",
    ),
    ("--quality-samples", int, "sample_quality: samples and data images compared (10000)"),
    ("--quality-draws", int, "sample_quality: independent sample draws, mean +/- std (3)"),
    ("--quality-k", int, "sample_quality: k of the k-NN balls of precision/recall (3)"),
    (
        "--export-codes",
        str,
        "export: the .npz of the train and test codes and labels "
        "(--dataset npz:PATH, M1+M2); alone, it runs only the export evaluator",
    ),
)


def _add_evaluator_options(add) -> None:
    for flag, kind, text in EVALUATOR_FLAGS:
        add(flag, type=kind, default=None, help=text)
    add("--overwrite", action="store_true", help="export: replace an existing --export-codes file")
    add(
        "--rebuild-features",
        action="store_true",
        help="sample_quality: retrain the feature network instead of reading its cache",
    )


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
            _add_task_flags(t, name, task)
        else:  # it trains its own runs: one subcommand per model, as `aezoo train MODEL`
            _add_training_task(t, name, task)


def _add_task_flags(t: argparse.ArgumentParser, name: str, task) -> None:
    add_config_flags(t, task.options_cls, f"options ({name})")
    t.add_argument("--out", help=f"output directory (default: runs/task-{name})")
    t.add_argument("--allow-changed-data", action="store_true", help=ALLOW_CHANGED_HELP)
    _add_source_flags(t.add_argument)
    t.add_argument("--no-progress", action="store_true", help="no progress output")


def _add_training_task(t: argparse.ArgumentParser, name: str, task) -> None:
    from aezoo.models import MODELS
    from aezoo.train import TrainConfig

    models = t.add_subparsers(dest="model", required=True, metavar="MODEL")
    for model, spec in MODELS.items():
        m = models.add_parser(model, help=spec.description, description=task.description)
        add_config_flags(m, spec.config_cls, f"model options ({model})")
        add_config_flags(m, TrainConfig)
        _add_task_flags(m, name, task)


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
    p.add_argument(
        "--out",
        default="data-preview.png",
        help="preview grid (PNG) to write, never inside the dataset or a run folder; an "
        "existing file only if aezoo drew it or with --overwrite (default: data-preview.png)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    _add_source_flags(p.add_argument)


DATA_FIELDS = (
    "image_size",
    "center_crop",
    "alpha_background",
    "test_fraction",
    "skip_bad_images",
    "follow_outside_links",
    "val_fraction",
)


def _add_bench(sub) -> None:
    from aezoo.bench.suite import ALL_MODES, MODES

    be = sub.add_parser(
        "bench",
        help="time training throughput and compile time (with PyTorch baselines if installed)",
        description="Time the shared step "
        "per model x batch size x mode, and PyTorch on the same VAE (eager with Adam and "
        "fused Adam, torch.compile) when torch is installed (pip install 'aezoo[bench]'). Writes "
        "bench.json and bench.md into --out.",
    )
    add = be.add_argument
    add("--models", nargs="+", default=["vae"], metavar="MODEL", help="models, or 'all'")
    add("--batch-sizes", nargs="+", type=int, default=[128, 1024], metavar="B", help="batches")
    add(
        "--modes",
        nargs="+",
        choices=ALL_MODES,
        default=list(MODES),
        help="training modes (default: all four); eval: the IS-NLL of `aezoo eval`",
    )
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
    add("--nll-samples", type=int, default=5000, help="K of the eval mode's IS-NLL (5000)")
    add("--quick", action="store_true", help="smoke test: vae, batch 128, small (< 2 minutes)")
    add("--no-torch", action="store_true", help="skip the PyTorch baselines")
    add("--out", default="benchmarks/out", help="output directory (default: benchmarks/out)")


def _add_reproduce(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="run a recipe: the commands behind a published result, into its result JSON",
        description="Run every command of a recipe (aezoo reproduce --list), then write "
        "results/recipes/NAME.json with the measured numbers, the machine and the commit; "
        "the docs' results pages are generated from these files.",
    )
    p.add_argument("name", nargs="?", help="the recipe (see --list)")
    p.add_argument("--list", action="store_true", help="list the recipes and their budgets")
    p.add_argument("--runs", help="folder of the recipe's runs (default: runs/recipes/NAME)")
    p.add_argument("--results", default="results/recipes", help="where NAME.json goes")
    p.add_argument("--overwrite", action="store_true", help="redo a recipe whose runs exist")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a stopped recipe at its first unfinished step",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")


def _add_features(sub) -> None:
    p = sub.add_parser(
        "features",
        help="train (or show the cached) feature network of a dataset for sample quality",
        description="The classifier whose features the sample_quality evaluator compares "
        "samples in: trained on DATASET's train split with a fixed recipe, cached by content "
        "under $AEZOO_CACHE_DIR/features (or --cache-dir); prints its test accuracy.",
    )
    p.add_argument("dataset", help="a dataset with labels (mnist, digits, a folder, ...)")
    p.add_argument("--rebuild", action="store_true", help="retrain even if it is cached")
    _add_source_flags(p.add_argument)


def _add_sample(sub) -> None:
    p = sub.add_parser(
        "sample",
        help="draw samples of a trained run: its prior, or an ex-post sampler on its codes",
        description="Decode N draws of a sampler into a PNG grid. prior: the model's own; the "
        "others are fitted once to the run's training codes and saved in RUN/samplers/ "
        "(refitted when the checkpoint changed, or with --refit): normal (N(0, I)), gmm (a "
        "Gaussian mixture), "
        "two_stage (a second VAE), flow (RealNVP); for a discrete code (vqvae) "
        "autoregressive (a causal Transformer prior) or uniform.",
    )
    add = p.add_argument
    add("workdir", help="a directory written by `aezoo train`")
    add(
        "--sampler",
        default="prior",
        help="prior (default), normal, gmm, two_stage, flow, autoregressive or uniform",
    )
    add("--n", type=int, default=64, help="how many samples (64)")
    add("--seed", type=int, default=0, help="the draws' seed (0)")
    add("--out", required=True, help="the PNG grid to write")
    add("--overwrite", action="store_true", help="replace an existing --out file")
    add("--refit", action="store_true", help="fit the sampler again even if it is saved")
    add("--components", type=int, default=None, help="gmm: mixture components (10)")
    add(
        "--sampler-epochs",
        type=int,
        default=None,
        help="two_stage, flow, autoregressive: training epochs (30, 30, 20)",
    )
    _add_source_flags(add)


def build_parser() -> argparse.ArgumentParser:
    from aezoo.models import MODELS
    from aezoo.train import TrainConfig

    parser = argparse.ArgumentParser(
        prog="aezoo", description="aezoo: the JAX model zoo for autoencoders."
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="run on N CPU cores (XLA's thread pool is that size): on a machine shared with "
        "a busy process, fewer threads wait less for the slowest one (docs/benchmarks.md)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="list models and datasets")
    _add_eval(sub)
    _add_bench(sub)
    _add_data(sub)
    _add_task(sub)
    _add_reproduce(sub)
    _add_features(sub)
    _add_sample(sub)
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
    from aezoo import data, samplers
    from aezoo.models import MODELS
    from aezoo.models._spec import sweepable

    print("models:")
    width = max(map(len, MODELS))
    for name, spec in MODELS.items():
        print(f"  {name:<{width}}  {spec.description}")
        can = ", ".join(sorted(spec.capabilities - {"encode"})) or "-"
        sweep = ", ".join(("lr", *sweepable(spec.config_cls)))
        print(f"  {'':<{width}}  (can also: {can}; --sweep: {sweep})")
    print("samplers (aezoo sample RUN --sampler NAME; --evaluators sample_quality --sampler NAME):")
    print(f"  {'prior':<{width}}  the model's own prior (models that can sample)")
    for kind in samplers.SAMPLERS.values():
        print(f"  {kind.name:<{width}}  {kind.description}")
    print("datasets:", *data.dataset_lines(), sep="\n")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import jax

    from aezoo import data
    from aezoo._validate import output_dir
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
    workdir = output_dir(
        default_dir if args.workdir is None else args.workdir,
        "--workdir",
        datasets=data.source_paths(given.get("dataset")),
        runs=False,  # a run folder is what --resume and --overwrite take
    )
    config, model_config = resolve_settings(
        spec, workdir, given, given_flags(args, spec.config_cls), resume=args.resume
    )
    progress = not args.no_progress and jax.process_index() == 0
    train, test, val = sharding.load_splits(
        config.dataset,
        devices=config.devices,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        options=config.data_options(),
    )
    if progress:  # after the data loaded: a bad input is one line, not a banner and a line
        _print_settings(spec.name, workdir, args.resume, config, model_config)
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
        allow_changed_data=args.allow_changed_data,
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
    from aezoo._validate import int_in
    from aezoo.eval import evaluate, summary_line

    if args.disentanglement:
        raise ConfigError("--disentanglement is now --evaluators disentanglement")
    options = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
        for flag, _, _ in EVALUATOR_FLAGS
    }
    options = {k: v for k, v in options.items() if v is not None}
    for key, low in (
        ("nll_samples", 0),
        ("probe_train", 1),
        ("num_train", 1),
        ("num_eval", 1),
        ("quality_samples", 4),
        ("quality_draws", 1),
        ("quality_k", 1),
    ):
        if key in options:  # the flags' ranges, before a run is read
            int_in(f"--{key.replace('_', '-')}", options[key], low)
    for flag in ("overwrite", "rebuild_features"):
        if getattr(args, flag):
            options[flag] = True
    names = args.evaluators
    if names is None and "export_codes" in options:
        names = ["export"]
    kw = {k: getattr(args, k) for k in ("split", "data_dir", "best", "cache_dir")}
    kw["allow_changed_data"] = args.allow_changed_data
    results = evaluate(
        args.workdir, evaluators=names, progress=not args.no_progress, **kw, **options
    )
    print(f"done: {summary_line(results)}")
    if "export/path" in results:
        print(f"train on the codes: --dataset npz:{results['export/path']}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from aezoo import data, viz
    from aezoo._validate import output_file
    from aezoo.train import TrainConfig

    options = TrainConfig(**given_flags(args, TrainConfig)).data_options()
    out = output_file(
        args.out,
        "--out",
        overwrite=args.overwrite,
        datasets=data.source_paths(args.dataset),
        owned=viz.drawn_by_aezoo,
    )
    kw = {"options": options, "data_dir": args.data_dir, "cache_dir": args.cache_dir}
    print(data.format_summary(data.summarize(args.dataset, **kw)))
    print(f"wrote {data.write_preview(out, args.dataset, **kw)}")
    return 0


def _cmd_task(args: argparse.Namespace) -> int:
    from aezoo.tasks import TASKS, run_task

    options = given_flags(args, TASKS[args.task].options_cls)
    if getattr(args, "model", None) is not None:  # a task that trains: the settings of train
        from aezoo.models import get_spec
        from aezoo.train import TrainConfig

        given = given_flags(args, TrainConfig)
        given.setdefault("dataset", "digits")
        options["model"] = args.model
        options["config"] = TrainConfig(**given)
        options["model_config"] = given_flags(args, get_spec(args.model).config_cls)
    source = {"data_dir": args.data_dir, "cache_dir": args.cache_dir}
    result = run_task(
        args.task,
        getattr(args, "runs", ()),
        out=args.out,
        progress=not args.no_progress,
        allow_changed_data=args.allow_changed_data,
        **source,
        **options,
    )
    print("\n".join(result["summary"]))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from aezoo.recipes import RECIPES, get_recipe, run_recipe

    if args.list:
        for recipe in RECIPES.values():
            print(f"{recipe.name:<16} {recipe.title} ({recipe.budget or 'budget not measured'})")
        return 0
    if args.name is None:
        raise ConfigError("name a recipe (aezoo reproduce --list shows them)")
    recipe = get_recipe(args.name)
    runs = args.runs or f"runs/recipes/{recipe.name}"
    if args.dry_run:
        print("\n".join(recipe.commands(runs)))
        return 0
    result = run_recipe(
        recipe,
        runs=runs,
        results=args.results,
        overwrite=args.overwrite,
        resume=args.resume,
        say=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    minutes = result["seconds"] / 60
    print(f"done: {recipe.name} in {minutes:.1f} minutes; {args.results}/{recipe.name}.json")
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    from aezoo.eval import features

    net = features.for_dataset(
        args.dataset,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        rebuild=args.rebuild,
        say=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(f"{net.name}: test accuracy {net.test_accuracy:.4f} ({net.path})")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from aezoo import data, samplers, viz
    from aezoo._validate import int_in, output_file
    from aezoo.train.records import dataset_of

    int_in("--n", args.n, 1)
    out = output_file(
        args.out,
        "--out",
        overwrite=args.overwrite,
        datasets=data.source_paths(dataset_of(args.workdir)),
        owned=viz.drawn_by_aezoo,
    )
    given = {"components": args.components, "epochs": args.sampler_epochs}
    options = {k: v for k, v in given.items() if v is not None}
    sampler = samplers.get(
        args.workdir,
        args.sampler,
        refit=args.refit,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        say=lambda msg: print(msg, file=sys.stderr, flush=True),
        **options,
    )
    images = np.clip(np.asarray(sampler.sample(args.n, jax.random.key(args.seed))["mean"]), 0, 1)
    title = f"{sampler.model.spec.name}: {args.n} samples ({args.sampler})"
    print(f"wrote {viz.save_image_grid(out, images, title=title)}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from aezoo.bench import run_and_write

    kw = {k: getattr(args, k) for k in ("seeds", "repeats", "mesh_devices", "quick", "out")}
    run_and_write(
        args.models,
        args.batch_sizes,
        args.modes,
        examples_per_epoch=args.examples,
        nll_samples=args.nll_samples,
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
    "reproduce": _cmd_reproduce,
    "features": _cmd_features,
    "sample": _cmd_sample,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aezoo`` console script. Returns the exit status."""
    args = build_parser().parse_args(argv)
    with _sigterm_as_interrupt():
        return _run(args)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what SLURM preemption and `kill` send), stopping a command the way Ctrl-C
    does: checkpoints finish writing, the lock is released, the run resumes."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.threads is not None:
            limit_cores(args.threads)
        return COMMANDS[args.command](args)
    except NonFiniteError as e:
        print(f"aezoo: error: {e}", file=sys.stderr)
        return 1
    except AezooError as e:
        print(f"aezoo: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, read-only, permission, name too long: where and why
        print(f"aezoo: error: {os_error_line(e)}", file=sys.stderr)
        return 2
    except Terminated:
        print("aezoo: interrupted (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("aezoo: interrupted", file=sys.stderr)
        return 130


def os_error_line(e: OSError) -> str:
    """An operating-system error in one line: what failed, on which path."""
    where = f" {e.filename}" if e.filename else ""
    return f"cannot use{where}: {e.strerror or e}"


if __name__ == "__main__":
    sys.exit(main())
