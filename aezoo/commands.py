"""What each ``aezoo`` command does with its parsed flags: a thin caller of ``fit``,
``evaluate``, the tasks, samplers, recipes and the bench suite (``aezoo.cli`` parses)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aezoo._flags import given as given_flags
from aezoo.errors import ConfigError


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The generated plug-in options (evaluator or sampler) given on the command line."""
    names = getattr(args, "option_names", ())
    return {k: getattr(args, k) for k in names if getattr(args, k) is not None}


def list_(args: argparse.Namespace) -> int:
    from aezoo import data, samplers
    from aezoo.eval import EVALUATORS
    from aezoo.models import MODELS
    from aezoo.models._spec import sweepable
    from aezoo.recipes import RECIPES
    from aezoo.tasks import TASKS

    width = max(16, *map(len, MODELS))
    print("models:")
    for name, spec in MODELS.items():
        print(f"  {name:<{width}}  {spec.description}")
        can = ", ".join(sorted(spec.capabilities - {"encode"})) or "-"
        sweep = ", ".join(("lr", *sweepable(spec.config_cls)))
        print(f"  {'':<{width}}  (can also: {can}; --sweep: {sweep})")
    print("samplers (aezoo sample RUN --sampler NAME; --evaluators sample_quality --sampler NAME):")
    print(f"  {samplers.PRIOR:<{width}}  the model's own prior (models that can sample)")
    for kind in samplers.SAMPLERS.values():
        print(f"  {kind.name:<{width}}  {kind.description}")
    print("datasets:", *data.dataset_lines(), sep="\n")
    for title, registry in (
        ("evaluators (aezoo eval RUN --evaluators NAME,...)", EVALUATORS),
        ("tasks (aezoo task NAME ...)", TASKS),
    ):
        print(f"{title}:")
        for name, value in registry.items():
            print(f"  {name:<{width}}  {value.description}")
    print("recipes (aezoo reproduce NAME):")
    for recipe in RECIPES.values():
        print(f"  {recipe.name:<{width}}  {recipe.title}")
    return 0


def train(args: argparse.Namespace) -> int:
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
    during = _during_training(args)
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
    train_split, test, val = sharding.load_splits(
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
        train_split,
        test,
        val=val,
        config=config,
        model_config=model_config,
        workdir=workdir,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=progress,
        allow_changed_data=args.allow_changed_data,
        evaluators=during,
    )
    if jax.process_index() == 0:
        print(result.report())
    return 0


def _during_training(args: argparse.Namespace):
    """The evaluators to run during training (``--evaluators``), or None."""
    if not args.evaluators:
        return None
    from aezoo.eval import in_training

    return in_training(args.evaluators, every=args.eval_every, **_given(args))


def _print_settings(model: str, workdir, resume: bool, config, model_config) -> None:
    print(f"aezoo {'resume' if resume else 'train'} {model} -> {workdir}", file=sys.stderr)
    for settings in (config.to_record(), model_config.to_dict()):
        shown = {k: v for k, v in settings.items() if k != "image_shape"}
        print("  " + "  ".join(f"{k}={v}" for k, v in shown.items()), file=sys.stderr)


def eval_(args: argparse.Namespace) -> int:
    from aezoo.eval import evaluate, summary_line

    options = _given(args)
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


def data(args: argparse.Namespace) -> int:
    from aezoo import data as datasets
    from aezoo import viz
    from aezoo._validate import output_file
    from aezoo.train import TrainConfig

    options = TrainConfig(**given_flags(args, TrainConfig)).data_options()
    out = output_file(
        args.out,
        "--out",
        overwrite=args.overwrite,
        datasets=datasets.source_paths(args.dataset),
        owned=viz.drawn_by_aezoo,
    )
    kw = {"options": options, "data_dir": args.data_dir, "cache_dir": args.cache_dir}
    print(datasets.format_summary(datasets.summarize(args.dataset, **kw)))
    print(f"wrote {datasets.write_preview(out, args.dataset, **kw)}")
    return 0


def task(args: argparse.Namespace) -> int:
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


def reproduce(args: argparse.Namespace) -> int:
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
        say=_say,
    )
    minutes = result["seconds"] / 60
    print(f"done: {recipe.name} in {minutes:.1f} minutes; {args.results}/{recipe.name}.json")
    return 0


def features(args: argparse.Namespace) -> int:
    from aezoo.eval import features as feature_nets

    net = feature_nets.for_dataset(
        args.dataset,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        rebuild=args.rebuild,
        say=_say,
    )
    print(f"{net.name}: test accuracy {net.test_accuracy:.4f} ({net.path})")
    return 0


def sample(args: argparse.Namespace) -> int:
    import jax
    import numpy as np

    from aezoo import data, samplers, viz
    from aezoo._files import record_output
    from aezoo._validate import int_in, output_file
    from aezoo.rundir import dataset_of
    from aezoo.rundir.run import Run

    int_in("--n", args.n, 1)
    run = Run.open(args.workdir)
    name = args.sampler or samplers.default(run.record.spec())
    if args.out is None:
        out = _run_figure(run, "samples.png")
    else:
        out = output_file(
            args.out,
            "--out",
            overwrite=args.overwrite,
            datasets=data.source_paths(dataset_of(args.workdir)),
            owned=viz.drawn_by_aezoo,
        )
    sampler = samplers.get(
        run,
        name,
        refit=args.refit,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        say=_say,
        **_given(args),
    )
    images = np.clip(np.asarray(sampler.sample(args.n, jax.random.key(args.seed))["mean"]), 0, 1)
    title = f"{sampler.model.spec.name}{run.member_label}: {args.n} samples ({name})"
    print(f"wrote {viz.save_image_grid(out, images, title=title)}")
    if args.out is None:
        record_output(run.path, out.name)
    return 0


def _run_figure(run, name: str):
    """A figure's path in the run's folder: refused (one line) when a file of that name is
    there that aezoo did not draw."""
    from aezoo import viz

    out = run.path / name
    if out.is_symlink() or (out.exists() and not viz.drawn_by_aezoo(out)):
        raise ConfigError(f"{out} is not a figure aezoo drew; name another file with --out")
    return out


def gallery(args: argparse.Namespace) -> int:
    from aezoo._validate import output_dir
    from aezoo.eval.gallery import gallery as draw_gallery

    out = output_dir(args.out, "--out")
    names = [name for name in args.strip.split(",") if name]
    result = draw_gallery(args.runs, out, _say, strip_runs=names)
    pictures = sum(len(e["pictures"]) for e in result["entries"])
    print(f"wrote {pictures} pictures of {len(result['entries'])} runs and gallery.json in {out}")
    return 0


def bench(args: argparse.Namespace) -> int:
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


__all__ = [
    "bench",
    "data",
    "eval_",
    "features",
    "list_",
    "reproduce",
    "sample",
    "task",
    "train",
]
