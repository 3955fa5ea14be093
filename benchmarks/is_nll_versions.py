"""The importance-sampled NLL of two or more versions of aezoo, side by side (issue 29).

    python benchmarks/is_nll_versions.py 8155c6b~1 HEAD --samples 5000 --rounds 3

Each git revision is checked out into a temporary worktree (the working tree itself is the
revision ``WORKTREE``); in each round every version runs in its own fresh process, in turn:
the default VAE (784-512-256-20, Bernoulli decoder, initialized with key 0) scores the same
100 binary images with ``make_log_px_fn`` at K samples per image, as ``aezoo eval`` does
(one warm-up call that compiles, then ``--calls`` timed calls). Reports images/s per version
(median over all its timed calls), each version's speed-up over the first, and the largest
difference of its estimates from the first's. Writes ``benchmarks/results/NAME.json``
(``--name``, default ``is-nll-versions``).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKTREE = "WORKTREE"
CHILD = """
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
import aezoo
from aezoo.eval import likelihood
k, calls, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
spec, module = aezoo.get("vae", image_shape=(28, 28, 1))
params = aezoo.train.init_params(module, jax.random.key(0))
x = (np.random.default_rng(0).uniform(size=(100, 28, 28, 1)) < 0.3).astype(np.float32)
batch = {"image": jnp.asarray(x), "label": jnp.zeros(100, jnp.int32)}
fn = likelihood.make_log_px_fn(spec, module, num_samples=k, batch_size=100)
np.save(out, np.asarray(fn(params, batch, jax.random.key(1))))
rates = []
for _ in range(calls):
    t = time.perf_counter()
    fn(params, batch, jax.random.key(1)).block_until_ready()
    rates.append(100 / (time.perf_counter() - t))
print(json.dumps(rates))
"""


def _checkout(rev: str, into: pathlib.Path) -> pathlib.Path:
    if rev == WORKTREE:
        return ROOT
    path = into / rev.replace("/", "_").replace("~", "_")
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def _run(path: pathlib.Path, args, out: pathlib.Path) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(path), "JAX_PLATFORMS": "cpu"}
    got = subprocess.run(
        [sys.executable, "-c", CHILD, str(args.samples), str(args.calls), str(out)],
        env=env,
        cwd=out.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(got.stdout.strip().splitlines()[-1])


def _matmul_peak() -> float:
    from aezoo.bench.suite import matmul_peak

    return matmul_peak()


def main() -> None:
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("revisions", nargs="+", help=f"git revisions, or {WORKTREE}")
    p.add_argument("--samples", type=int, default=5000, help="K per image (5000)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=2, help="timed calls per process")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--name", default="is-nll-versions", help="result file name (no .json)")
    args = p.parse_args()
    peaks = [_matmul_peak()]
    rates: dict[str, list[float]] = {rev: [] for rev in args.revisions}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        paths = {rev: _checkout(rev, tmp) for rev in args.revisions}
        for i in range(args.rounds):
            for rev, path in paths.items():
                rates[rev] += _run(path, args, tmp / f"{i}-{args.revisions.index(rev)}.npy")
                print(f"round {i + 1} {rev}: {statistics.median(rates[rev]):.2f} images/s")
        estimates = {
            rev: np.load(tmp / f"0-{args.revisions.index(rev)}.npy") for rev in args.revisions
        }
        for path in paths.values():
            if path != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "-f", str(path)])
    peaks.append(_matmul_peak())
    first = args.revisions[0]
    base = statistics.median(rates[first])
    rows = [
        {
            "revision": rev,
            "commit": _commit(rev),
            "images_per_sec": statistics.median(rates[rev]),
            "rates": rates[rev],
            "speedup": statistics.median(rates[rev]) / base,
            "max_abs_diff": float(np.max(np.abs(estimates[rev] - estimates[first]))),
            "mean_log_px": float(np.mean(estimates[rev])),
        }
        for rev in args.revisions
    ]
    for r in rows:
        print(
            f"{r['revision']:>12}: {r['images_per_sec']:.2f} images/s, x{r['speedup']:.2f}, "
            f"estimates within {r['max_abs_diff']:.2e} nats of {first}'s"
        )
    result = {
        "kind": "is_nll_versions",
        "samples": args.samples,
        "rounds": args.rounds,
        "calls": args.calls,
        "cpu": _cpu(),
        "matmul_peak_gflops_start_end": peaks,
        "command": "python benchmarks/is_nll_versions.py "
        + " ".join(args.revisions)
        + f" --samples {args.samples} --rounds {args.rounds} --calls {args.calls}",
        "rows": rows,
    }
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / args.name}.json")


def _commit(rev: str) -> str:
    got = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD" if rev == WORKTREE else rev],
        capture_output=True,
        text=True,
    )
    return got.stdout.strip() + (" + working tree" if rev == WORKTREE else "")


def _cpu() -> str:
    from aezoo.bench.suite import device_info

    return device_info()["cpu"]


if __name__ == "__main__":
    main()
