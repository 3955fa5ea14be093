"""Training speed with a busy neighbour on one core (issue 29), aezoo and PyTorch side by side.

    python benchmarks/busy_neighbour.py --arch conv --rounds 3

A "neighbour" is another process spinning on the last core (``while True: pass``, pinned
there). In each round, with and without the neighbour, every variant runs in its own fresh
process, in turn: aezoo's fused epoch of the VAE (``bench_aezoo``, what ``aezoo train`` runs)
on all cores and pinned to the cores the neighbour leaves free (``aezoo --threads``), and
PyTorch eager on the same net with one thread per core it may use, on the same core sets.
Reports examples/s (each process's median epoch; the median over the rounds), each
variant's rate with the neighbour as a fraction of its quiet rate, and aezoo / PyTorch with
the same cores under the same condition. Writes ``benchmarks/results/NAME.json``
(``--name``, default ``busy-neighbour``), which the docs' results page renders.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import statistics
import subprocess
import sys
from collections.abc import Iterator

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aezoo.bench import suite, torch_baseline  # noqa: E402 (after the path is set)


@contextlib.contextmanager
def neighbour(core: int | None) -> Iterator[None]:
    """A process spinning on ``core`` for the duration (nothing when ``core`` is None)."""
    if core is None:
        yield
        return
    spin = f"import os\nos.sched_setaffinity(0, [{core}])\nwhile True: pass"
    proc = subprocess.Popen([sys.executable, "-c", spin])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def _variants(cores: list[int]) -> dict[str, tuple[str, list[int]]]:
    """name -> (library, cores): every core, and the cores a neighbour on the last leaves."""
    free = cores[:-1]
    return {
        f"aezoo, {len(cores)} threads": ("aezoo", cores),
        f"aezoo, {len(free)} threads (--threads {len(free)})": ("aezoo", free),
        f"torch eager, {len(cores)} threads": ("torch", cores),
        f"torch eager, {len(free)} threads": ("torch", free),
    }


def _measure(library: str, cores: list[int], args: argparse.Namespace) -> float:
    """Examples/s of one fresh process (the median of its timed epochs)."""
    steps = max(5, args.examples // args.batch_size)
    if library == "aezoo":
        row = suite.bench_in_subprocess(
            "vae",
            args.batch_size,
            "fused",
            cores=cores,
            steps=steps,
            repeats=args.repeats,
            arch=args.arch,
        )
        return row["examples_per_sec"]
    res = torch_baseline.measure_in_subprocess(
        cores=cores,
        batch_size=args.batch_size,
        steps=steps,
        repeats=args.repeats,
        arch=args.arch,
    )
    return res["examples_per_sec"]


def run(args: argparse.Namespace) -> dict:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("busy_neighbour: needs at least 2 cores")
    variants = _variants(cores)
    rates: dict[str, dict[str, list[float]]] = {
        cond: {name: [] for name in variants} for cond in ("quiet", "neighbour")
    }
    for r in range(args.rounds):
        for cond, core in (("quiet", None), ("neighbour", cores[-1])):
            with neighbour(core):
                for name, (library, use) in variants.items():
                    rates[cond][name].append(_measure(library, use, args))
                    print(f"round {r + 1} {cond:<9} {name:<34} {rates[cond][name][-1]:8.0f} ex/s")
    return _summary(rates, variants, args)


def _summary(rates, variants, args) -> dict:
    median = {c: {n: statistics.median(v) for n, v in got.items()} for c, got in rates.items()}
    names = list(variants)
    pairs = {names[0]: names[2], names[1]: names[3]}  # aezoo -> torch on the same cores
    rows = []
    for name in names:
        row = {
            "variant": name,
            "quiet": median["quiet"][name],
            "neighbour": median["neighbour"][name],
            "kept": median["neighbour"][name] / median["quiet"][name],
        }
        if name in pairs:
            for cond in ("quiet", "neighbour"):
                row[f"x_torch_{cond}"] = median[cond][name] / median[cond][pairs[name]]
        rows.append(row)
    return {
        "kind": "busy_neighbour",
        "command": "python benchmarks/busy_neighbour.py " + " ".join(sys.argv[1:]),
        "arch": args.arch,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "device": suite.device_info(),
        "torch": torch_baseline.available(),
        "rows": rows,
        "rates": rates,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="conv", choices=("mlp", "conv", "resnet"))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--examples", type=int, default=6400, help="examples per timed epoch")
    p.add_argument("--repeats", type=int, default=3, help="timed epochs per process")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--name", default="busy-neighbour")
    args = p.parse_args()
    if torch_baseline.available() is None:
        raise SystemExit("busy_neighbour: needs PyTorch (pip install 'aezoo[bench]')")
    result = run(args)
    for row in result["rows"]:
        ratios = "".join(
            f"  x{row[k]:.2f} torch {k[8:]}"
            for k in ("x_torch_quiet", "x_torch_neighbour")
            if k in row
        )
        print(
            f"{row['variant']:<34} quiet {row['quiet']:7.0f}  neighbour {row['neighbour']:7.0f}"
            f"  kept {row['kept']:.2f}{ratios}"
        )
    out = ROOT / "benchmarks" / "results" / f"{args.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
