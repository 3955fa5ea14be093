"""The parsers of the ``aezoo`` commands, one per command, built only for the command given
(``aezoo --help`` imports no JAX). Flags of settings are generated from the typed options of
what they set: :class:`aezoo.train.TrainConfig`, a model's config, an evaluator's, a sampler's
or a task's options; nothing here restates a plug-in's option or its range."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Iterable

from aezoo._flags import add_config_flags, field_flag, hints_of
from aezoo._registry import suggestion

ALLOW_CHANGED_HELP = (
    "go on with data whose fingerprint differs from the one the run recorded (recorded as "
    "data_changed); without it such data is refused"
)
DATA_FIELDS = (
    "image_size",
    "center_crop",
    "alpha_background",
    "test_fraction",
    "skip_bad_images",
    "follow_outside_links",
    "val_fraction",
)


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors suggest the nearest name or flag."""

    def error(self, message: str):  # type: ignore[override]
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            names = re.findall(r"'([^']*)'", choice.group(2))
            near = suggestion(choice.group(1), names)
            message = message.replace(f"'{choice.group(1)}' (", f"'{choice.group(1)}'{near} (")
        unknown = re.search(r"unrecognized arguments: (--?[\w-]+)", message)
        if unknown:
            flags = [s for a in self._actions for s in a.option_strings]
            message += suggestion(unknown.group(1), flags)
        super().error(message)


def source_flags(p: argparse.ArgumentParser) -> None:
    add = p.add_argument_group("data source").add_argument
    add("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    add("--cache-dir", help="keep decoded arrays here as .npy (default: $AEZOO_CACHE_DIR)")


def run_flags(p: argparse.ArgumentParser) -> None:
    """Flags that say where and how to run, not what to train (not recorded)."""
    add = p.add_argument_group("run").add_argument
    add("--workdir", help="output directory (default: runs/MODEL-DATASET)")
    add(
        "--resume",
        action="store_true",
        help="continue the run in --workdir from its newest valid checkpoint, with its saved "
        "settings (a flag that conflicts with them is an error; --epochs may extend the run)",
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
        help="multi-host with the cluster's settings (SLURM, Open MPI, ...) for what the flags "
        "and JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID leave unset",
    )


def union_flags(p: argparse.ArgumentParser, owners: Iterable[tuple[str, type]], title: str):
    """One flag per option field of the owners' options classes (a field several owners
    share is one flag; its help names each owner's default). Returns the fields' names."""
    fields: dict[str, tuple[dataclasses.Field, object, list[str]]] = {}
    for owner, cls in owners:
        hints = hints_of(cls)
        for f in dataclasses.fields(cls):
            _, _, defaults = fields.setdefault(f.name, (f, hints[f.name], []))
            defaults.append(f"{owner} {f.default}")
    group = p.add_argument_group(title)
    for f, hint, defaults in fields.values():
        shown = defaults[0].split(" ", 1)[1] if len(defaults) == 1 else "; ".join(defaults)
        field_flag(group, f, hint, shown=shown)
    return tuple(fields)


def model_parser(prog: str, spec, description: str) -> Parser:
    """``aezoo train MODEL``'s flags: the model's config, then TrainConfig's."""
    from aezoo.train import TrainConfig

    p = Parser(prog=prog, description=description)
    add_config_flags(p, spec.config_cls, f"model options ({spec.name})")
    add_config_flags(p, TrainConfig)
    return p


def train(prog: str, model: str) -> Parser:
    from aezoo.models import MODELS

    spec = MODELS.get(model)
    p = model_parser(prog, spec, spec.description)
    run_flags(p)
    source_flags(p)
    during_training_flags(p)
    return p


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def during_training_flags(p: argparse.ArgumentParser) -> None:
    """``--evaluators`` during training, how often, and those evaluators' options."""
    from aezoo.eval import EVALUATORS

    usable = [e for e in EVALUATORS.values() if e.in_training]
    add = p.add_argument_group("evaluation during training").add_argument
    add(
        "--evaluators",
        type=_names,
        metavar="NAME,...",
        help="run these evaluators on the held-out split during training; their metrics join "
        f"the epoch's line in metrics.jsonl ({', '.join(e.name for e in usable)})",
    )
    add("--eval-every", type=int, default=1, help="every N epochs and at the last (1)")
    owners = [(e.name, e.options_cls) for e in usable if e.options_cls]
    p.set_defaults(option_names=union_flags(p, owners, "options of those evaluators"))


def eval_(prog: str) -> Parser:
    from aezoo.eval import EVALUATORS

    p = Parser(
        prog=prog,
        description="Evaluate the newest checkpoint in WORKDIR; writes eval.json and report.md "
        "(with figures) into WORKDIR.",
    )
    add = p.add_argument
    add("workdir", help="a directory written by `aezoo train` (a multi-seed run: every member)")
    add(
        "--evaluators",
        type=_names,
        metavar="NAME,...",
        help="run only these evaluators (default: each default one the run can serve); "
        f"available: {', '.join(EVALUATORS)}",
    )
    add("--split", default="test", help="split to evaluate (default: test)")
    add("--best", action="store_true", help="evaluate the params kept by --keep-best")
    add("--allow-changed-data", action="store_true", help=ALLOW_CHANGED_HELP)
    add("--no-progress", action="store_true", help="no progress output")
    source_flags(p)
    owners = [(e.name, e.options_cls) for e in EVALUATORS.values() if e.options_cls]
    p.set_defaults(option_names=union_flags(p, owners, "evaluator options"))
    return p


def sample(prog: str) -> Parser:
    from aezoo.samplers import PRIOR, SAMPLERS

    p = Parser(
        prog=prog,
        description="Decode N draws of a sampler into a PNG grid. prior: the model's own; the "
        "others are fitted once to the run's training codes and saved in RUN/samplers/ "
        "(refitted when the checkpoint changed, or with --refit). aezoo list shows them.",
    )
    add = p.add_argument
    add("workdir", help="a directory written by `aezoo train`")
    add(
        "--sampler",
        help=f"{PRIOR} or {', '.join(SAMPLERS)}; default: the model's own (its {PRIOR}; "
        "autoregressive for a discrete code; gmm for a model without a prior)",
    )
    add("--n", type=int, default=64, help="how many samples (64)")
    add("--seed", type=int, default=0, help="the draws' seed (0)")
    add("--out", help="the PNG grid to write (default: samples.png in the run folder)")
    add("--overwrite", action="store_true", help="replace an existing --out file")
    add("--refit", action="store_true", help="fit the sampler again even if it is saved")
    source_flags(p)
    owners = [(k.name, k.options_cls) for k in SAMPLERS.values() if k.options_cls]
    p.set_defaults(option_names=union_flags(p, owners, "sampler options"))
    return p


def gallery(prog: str) -> Parser:
    p = Parser(
        prog=prog,
        description="One small picture per run (test inputs, reconstructions, samples of the "
        "model's own sampler and of a Gaussian mixture on its codes, a latent "
        "interpolation), the runs' manifold.png and filters.png beside them, gallery.json "
        "listing them all, and strip.png of the --strip runs' samples.",
    )
    add = p.add_argument
    add("runs", nargs="+", metavar="WORKDIR", help="trained runs")
    add("--out", required=True, help="the folder the pictures go to")
    add("--strip", default="", help="run folder names whose samples make strip.png (a,b,...)")
    return p


def task(prog: str, name: str, model: str | None) -> Parser:
    """``aezoo task NAME RUN...``, or for a task that trains ``aezoo task NAME MODEL``."""
    from aezoo.tasks import TASKS

    t = TASKS.get(name)
    if t.takes_runs:
        p = Parser(prog=prog, description=t.description)
        p.add_argument("runs", nargs="+", metavar="WORKDIR", help="trained runs to compare")
    else:
        from aezoo.models import MODELS

        p = model_parser(prog, MODELS.get(model), t.description)
    add_config_flags(p, t.options_cls, f"options ({name})")
    p.add_argument("--out", help=f"output directory (default: runs/task-{name})")
    p.add_argument("--allow-changed-data", action="store_true", help=ALLOW_CHANGED_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    source_flags(p)
    return p


def data(prog: str) -> Parser:
    from aezoo.train import TrainConfig

    p = Parser(
        prog=prog,
        description="Print sizes, shapes, dtypes, value ranges and label counts "
        "of a dataset's splits, and write a grid of training images.",
    )
    p.add_argument("dataset", help="a dataset (aezoo list), folder:PATH, npz:PATH or npy:PATH")
    add_config_flags(p, TrainConfig, "reading", DATA_FIELDS)
    p.add_argument(
        "--out",
        default="data-preview.png",
        help="preview grid (PNG) to write, never inside the dataset or a run folder; an "
        "existing file only if aezoo drew it or with --overwrite (default: data-preview.png)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    source_flags(p)
    return p


def bench(prog: str) -> Parser:
    from aezoo.bench.suite import ALL_MODES, MODES

    p = Parser(
        prog=prog,
        description="Time the shared step per model x batch size x mode, and PyTorch on the "
        "same VAE (eager with Adam and fused Adam, torch.compile) when torch is installed "
        "(pip install 'aezoo[bench]'). Writes bench.json and bench.md into --out.",
    )
    add = p.add_argument
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
        help="devices of the mesh mode; on a CPU with fewer, forced host devices in a "
        "subprocess (default: 4)",
    )
    add("--repeats", type=int, default=5, help="timed epochs per row; median reported (5)")
    add("--examples", type=int, default=12_800, help="examples per timed epoch (12800)")
    add("--nll-samples", type=int, default=5000, help="K of the eval mode's IS-NLL (5000)")
    add("--quick", action="store_true", help="smoke test: vae, batch 128, small (< 2 minutes)")
    add("--no-torch", action="store_true", help="skip the PyTorch baselines")
    add("--out", default="benchmarks/out", help="output directory (default: benchmarks/out)")
    return p


def reproduce(prog: str) -> Parser:
    p = Parser(
        prog=prog,
        description="Run every command of a recipe (aezoo reproduce --list), then write "
        "results/recipes/NAME.json with the measured numbers, the machine and the commit; "
        "the docs' results pages are generated from these files.",
    )
    add = p.add_argument
    add("name", nargs="?", help="the recipe (see --list)")
    add("--list", action="store_true", help="list the recipes and their budgets")
    add("--runs", help="folder of the recipe's runs (default: runs/recipes/NAME)")
    add("--results", default="results/recipes", help="where NAME.json goes")
    add("--overwrite", action="store_true", help="redo a recipe whose runs exist")
    add("--resume", action="store_true", help="continue a stopped recipe where it stopped")
    add("--dry-run", action="store_true", help="print the commands, run nothing")
    return p


def features(prog: str) -> Parser:
    p = Parser(
        prog=prog,
        description="The classifier whose features the sample_quality evaluator compares "
        "samples in: trained on DATASET's train split with a fixed recipe, cached by content "
        "under $AEZOO_CACHE_DIR/features (or --cache-dir); prints its test accuracy.",
    )
    p.add_argument("dataset", help="a dataset with labels (mnist, digits, a folder, ...)")
    p.add_argument("--rebuild", action="store_true", help="retrain even if it is cached")
    source_flags(p)
    return p


def plain(prog: str, description: str) -> Parser:
    return Parser(prog=prog, description=description)


__all__ = ["ALLOW_CHANGED_HELP", "DATA_FIELDS", "Parser", "source_flags"]
