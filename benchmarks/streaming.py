"""Streamed vs device-resident training, side by side (issue 13's streaming check).

    TFDS_DATA_DIR=../shared/tfds python benchmarks/streaming.py --dataset mnist --epochs 3

Trains the same VAE with the same seed twice per round, alternating: once with the data on
the device, once with ``device_memory`` below the training split so the fused epoch streams
from the host (Grain prefetching). Reports steady-state examples/s (epochs after the first,
median over rounds), the ratio, and whether the final parameters are bit-identical.
Writes ``benchmarks/results/streaming-<device>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics

import jax
import numpy as np

import aezoo


def run(split, test, device_memory, args):
    result = aezoo.fit(
        "vae",
        split,
        test,
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        device_memory=device_memory,
        progress=False,
    )
    rates = [r["examples_per_sec"] for r in result.history[1:]]
    return statistics.median(rates), result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device-memory", default="16M", help="the streamed run's budget")
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args()
    train, test = aezoo.data.load(args.dataset, "train"), aezoo.data.load(args.dataset, "test")
    rows = {"resident": [], "streamed": []}
    identical = True
    for i in range(args.rounds):
        for name, budget in (("resident", None), ("streamed", args.device_memory)):
            rate, result = run(train, test, budget, args)
            rows[name].append(rate)
            if name == "resident":
                ref = result
            else:
                same = jax.tree.map(
                    lambda a, b: bool(np.array_equal(a, b)), ref.params, result.params
                )
                identical &= all(jax.tree.leaves(same))
                identical &= ref.history[-1]["test/loss"] == result.history[-1]["test/loss"]
            print(
                f"round {i + 1} {name}: {rate:.0f} ex/s, test/loss "
                f"{result.history[-1]['test/loss']:.4f}",
                flush=True,
            )
    res, st = statistics.median(rows["resident"]), statistics.median(rows["streamed"])
    device = jax.devices()[0].device_kind.replace(" ", "-").lower()
    out = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "device_memory": args.device_memory,
        "train_bytes": int(train[0].nbytes),
        "device": jax.devices()[0].device_kind,
        "cpu": platform.processor(),
        "resident_ex_s": rows["resident"],
        "streamed_ex_s": rows["streamed"],
        "ratio": st / res,
        "bit_identical": identical,
        "jax": jax.__version__,
    }
    path = pathlib.Path(args.out)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"streaming-{device}.json").write_text(json.dumps(out, indent=2) + "\n")
    each = {k: ", ".join(f"{r:,.0f}" for r in v) for k, v in rows.items()}
    md = (
        f"# Streamed vs device-resident epoch ({args.dataset}, VAE, batch {args.batch_size})\n\n"
        f"Device: {out['device']}; training split {out['train_bytes'] / 2**20:.1f} MiB; "
        f"streamed with --device-memory {args.device_memory}. Median over {args.rounds} "
        f"alternating rounds of the epochs after the first ({args.epochs} epochs per run).\n\n"
        "| data | examples/s (median) | each round |\n|---|---|---|\n"
        f"| on the device | {res:,.0f} | {each['resident']} |\n"
        f"| streamed from the host | {st:,.0f} | {each['streamed']} |\n\n"
        f"Streamed / resident: **{st / res:.2f}x**. Final params and test loss bit-identical: "
        f"**{identical}**.\n"
    )
    (path / f"streaming-{device}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
