"""The ``aezoo`` command: argument parsing only; the work is done by ``fit`` and friends."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from aezoo.errors import AezooError, NonFiniteError


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


def _field_flag(parser: argparse.ArgumentParser, f: dataclasses.Field, hint: Any) -> None:
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

    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset",
        default="digits",
        help=f"dataset name: {', '.join(data.DATASETS)} or another TFDS image dataset "
        "(default: digits, embedded, no network)",
    )
    g.add_argument("--data-dir", default=None, help="TFDS data directory (default: $TFDS_DATA_DIR)")
    g.add_argument(
        "--cache-dir",
        default=None,
        help="keep decoded arrays here as .npy for faster reloads (default: $AEZOO_CACHE_DIR)",
    )
    g.add_argument(
        "--binarize",
        choices=data.BINARIZE_MODES,
        default=None,
        help="Bernoulli targets: dynamic (resampled every step), static (threshold 0.5) or "
        "none (default: dynamic for the bernoulli likelihood, none for gaussian)",
    )
    g = p.add_argument_group("training")
    g.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the data (default: 10; 100 for the small digits set)",
    )
    g.add_argument("--batch-size", type=int, default=128, help="examples per step (default: 128)")
    g.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    g.add_argument(
        "--workdir",
        default=None,
        help="output directory (default: runs/MODEL-DATASET)",
    )
    g.add_argument(
        "--per-step",
        action="store_true",
        help="run the per-step jitted loop instead of the scan-fused epoch (same result)",
    )
    g.add_argument(
        "--eval-batch-size", type=int, default=1000, help="test batch size (default: 1000)"
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")


def build_parser() -> argparse.ArgumentParser:
    from aezoo.models import MODELS

    parser = argparse.ArgumentParser(
        prog="aezoo", description="aezoo: the JAX model zoo for autoencoders."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="list models and datasets")
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

    print("models:")
    width = max(map(len, MODELS))
    for name, spec in MODELS.items():
        print(f"  {name:<{width}}  {spec.description}")
    print("datasets:")
    print("  digits         scikit-learn's 8x8 digits, embedded (no network)")
    for name in data.TFDS_IMAGE_DATASETS:
        print(f"  {name:<13}  TFDS (reads prepared data from $TFDS_DATA_DIR)")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import pathlib

    from aezoo import data
    from aezoo.models import get_spec
    from aezoo.train import fit
    from aezoo.train.loop import default_binarize

    spec = get_spec(args.model)
    if args.epochs is None:
        args.epochs = data.default_epochs(args.dataset)
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(spec.config_cls)
        if getattr(args, f.name, None) is not None
    }
    config = spec.make_config(**overrides)  # validates before any data is read
    workdir = pathlib.Path(args.workdir or f"runs/{args.model}-{args.dataset}")
    progress = not args.no_progress
    if progress:
        print(f"aezoo train {spec.name} -> {workdir}", file=sys.stderr)
        settings = {
            "dataset": args.dataset,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": args.seed,
            "binarize": args.binarize or default_binarize(config.likelihood),
            "fused": not args.per_step,
        }
        model_settings = {k: v for k, v in config.to_dict().items() if k != "image_shape"}
        print("  " + "  ".join(f"{k}={v}" for k, v in settings.items()), file=sys.stderr)
        print("  " + "  ".join(f"{k}={v}" for k, v in model_settings.items()), file=sys.stderr)
    train = data.load(args.dataset, "train", data_dir=args.data_dir, cache_dir=args.cache_dir)
    test = data.load(args.dataset, "test", data_dir=args.data_dir, cache_dir=args.cache_dir)
    result = fit(
        spec,
        train,
        test,
        config=overrides,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        binarize=args.binarize,
        fused=not args.per_step,
        eval_batch_size=args.eval_batch_size,
        dataset=args.dataset,
        workdir=workdir,
        progress=progress,
    )
    if result.history:
        last = result.history[-1]
        summary = ", ".join(
            f"{k} {last[k]:.3f}" for k in ("train/loss", "test/loss", "test/nll_bound") if k in last
        )
        print(f"done: {summary}; outputs in {workdir}")
    else:
        print(f"done: 0 epochs; outputs in {workdir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aezoo`` console script. Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _cmd_list()
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
