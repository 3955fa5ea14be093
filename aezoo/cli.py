"""The ``aezoo`` command: parse and dispatch only. ``aezoo COMMAND ...`` builds the parser of
that one command (``aezoo --help`` and a mistyped name answer without importing JAX); the
flags of settings are generated from the typed options of what they set (:mod:`aezoo._parsers`)
and :mod:`aezoo.commands` does the work through ``fit``, ``evaluate`` and the registries."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from aezoo import _parsers, _plugins
from aezoo._cores import limit_cores
from aezoo.errors import AezooError, NonFiniteError

# name -> (help, how its parser is built from "aezoo NAME" and the names before its flags)
COMMANDS: dict[str, tuple[str, Callable[..., argparse.ArgumentParser]]] = {
    "train": ("train a model (aezoo train MODEL --help for its options)", _parsers.train),
    "eval": ("evaluate a trained run: likelihood, reconstruction, probes, figures", _parsers.eval_),
    "sample": ("draw samples of a trained run: its prior or an ex-post sampler", _parsers.sample),
    "task": ("what autoencoders are for: manifold, retrieval, clustering, anomaly", _parsers.task),
    "gallery": ("draw what trained runs do: reconstructions, samples, paths", _parsers.gallery),
    "data": ("show what a dataset holds and write a preview grid", _parsers.data),
    "list": ("list models, samplers, datasets, evaluators, tasks and recipes", _parsers.plain),
    "reproduce": ("run a recipe: the commands behind a published result", _parsers.reproduce),
    "features": ("train (or show) the feature network of sample quality", _parsers.features),
    "bench": ("time training throughput against PyTorch baselines", _parsers.bench),
}


def _top() -> _parsers.Parser:
    lines = "\n".join(f"  {name:<10} {text}" for name, (text, _) in COMMANDS.items())
    p = _parsers.Parser(
        prog="aezoo",
        description="aezoo: the JAX model zoo for autoencoders.",
        epilog=f"commands:\n{lines}\n\naezoo COMMAND --help shows a command's flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="run on N CPU cores (XLA's thread pool is that size): on a machine shared with "
        "a busy process, fewer threads wait less for the slowest one (docs/benchmarks.md)",
    )
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="load a plug-in (a module path or a .py file) that registers models, evaluators, "
        f"samplers, tasks, recipes or datasets; repeatable (also ${_plugins.ENV}, and the "
        f"'{_plugins.GROUP}' entry points)",
    )
    p.add_argument("command", choices=COMMANDS, metavar="COMMAND")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def _head(prog: str, what: str, names: Sequence[str], rest: list[str]) -> tuple[str, list]:
    """The name that comes before a command's flags (a model, a task): chosen among
    ``names``, with "did you mean" for a typo; ``--help`` alone lists them."""
    p = _parsers.Parser(prog=prog, description=f"{prog} {what.upper()} [flags]")
    p.add_argument(what, choices=names, metavar=what.upper(), help=", ".join(names))
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    head = p.parse_args(rest)
    return getattr(head, what), head.rest


def _command_parser(command: str, rest: list[str]):
    """The parser of ``aezoo COMMAND`` and the flags it parses."""
    prog = f"aezoo {command}"
    build = COMMANDS[command][1]
    if command == "train":
        from aezoo.models import MODELS

        model, rest = _head(prog, "model", MODELS.names(), rest)
        return build(f"{prog} {model}", model), rest, {"model": model}
    if command == "task":
        from aezoo.models import MODELS
        from aezoo.tasks import TASKS

        name, rest = _head(prog, "task", TASKS.names(), rest)
        heads = {"task": name, "model": None}
        if not TASKS[name].takes_runs:  # it trains its own runs: a model, as `aezoo train`
            heads["model"], rest = _head(f"{prog} {name}", "model", MODELS.names(), rest)
        prog = f"{prog} {' '.join(filter(None, heads.values()))}"
        return build(prog, heads["task"], heads["model"]), rest, heads
    if command == "list":
        return build(prog, COMMANDS[command][0]), rest, {}
    return build(prog), rest, {}


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line: top-level flags, ``command`` and the command's flags.
    Plug-ins named by ``--plugin`` are loaded first (their names become choices)."""
    top = _top().parse_args(argv)
    for plugin in top.plugin:
        _plugins.add(plugin)
    parser, rest, heads = _command_parser(top.command, top.rest)
    args = parser.parse_args(rest)
    for key, value in {**heads, "command": top.command, "threads": top.threads}.items():
        setattr(args, key, value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aezoo`` console script. Returns the exit status."""
    try:
        args = parse(argv)
    except AezooError as e:  # a plug-in that does not load
        print(f"aezoo: error: {e}", file=sys.stderr)
        return 2
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


def _dispatch(args: argparse.Namespace) -> int:
    from aezoo import commands

    run = {"list": commands.list_, "eval": commands.eval_}.get(args.command)
    return (run or getattr(commands, args.command))(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.threads is not None:
            limit_cores(args.threads)
        return _dispatch(args)
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
