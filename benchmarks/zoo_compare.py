"""Compare trained zoo models on a test set: the numbers behind the README's zoo table.

Train the runs first (10 epochs of MNIST each, defaults):

    for m in ae sparse_ae denoising_ae contractive_ae vae beta_vae iwae cvae aae vqvae; do
      aezoo train $m --dataset mnist --epochs 10 --batch-size 128 --seed 0 --workdir runs/zoo/$m
    done
    python benchmarks/zoo_compare.py --runs runs/zoo --dataset mnist

Prints a Markdown table (and writes JSON with ``--out``): each run's final test loss from its
``metrics.jsonl`` plus the property each model is for, measured here against plain ``ae`` on
the same test images: sparsity of codes (sparse_ae), error on corrupted inputs (denoising_ae),
encoder Jacobian norm (contractive_ae), codebook use (vqvae), distance of codes to the prior
(aae), and the bound gap (iwae vs vae).
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

import aezoo
from aezoo import data
from aezoo.models import contractive_ae, denoising_ae, sparse_ae


def _last(run: pathlib.Path) -> dict:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="directory holding one workdir per model")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n", type=int, default=2000, help="test images for the property metrics")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args()
    root = pathlib.Path(args.runs)
    images, _ = data.load(args.dataset, "test")
    runs = {p.name: p for p in sorted(root.iterdir()) if (p / "metrics.jsonl").exists()}
    loaded = {name: aezoo.load(path) for name, path in runs.items()}

    def test_images(name: str) -> jax.Array:
        binarize = loaded[name].run["train"]["binarize"]
        x = data.binarize_once(np.asarray(images[: args.n]), binarize)
        return data.to_float(jnp.asarray(x))

    rows = []
    for name, run in runs.items():
        last = _last(run)
        row = {"model": name, "test/loss": last.get("test/loss"), "epochs": last["epoch"]}
        if "test/nll_bound" in last:
            row["test/nll_bound"] = last["test/nll_bound"]
        rows.append(row)
    by_name = {r["model"]: r for r in rows}

    if "ae" in loaded:
        x = test_images("ae")
        ae = loaded["ae"]
        ae_codes = ae.encode(x)["z"]
        base = sparse_ae.sparsity_metrics(ae_codes)
        by_name["ae"].update({k: float(v) for k, v in base.items()})
        by_name["ae"]["jacobian_norm"] = float(
            jnp.mean(
                jnp.sqrt(contractive_ae.jacobian_sq_norm(ae.params, x[:500], module=ae.module))
            )
        )
        if "sparse_ae" in loaded:
            s = loaded["sparse_ae"]
            m = sparse_ae.sparsity_metrics(s.encode(x)["z"])
            by_name["sparse_ae"].update({k: float(v) for k, v in m.items()})
        if "contractive_ae" in loaded:
            c = loaded["contractive_ae"]
            by_name["contractive_ae"]["jacobian_norm"] = float(
                jnp.mean(
                    jnp.sqrt(contractive_ae.jacobian_sq_norm(c.params, x[:500], module=c.module))
                )
            )
        if "denoising_ae" in loaded:
            d = loaded["denoising_ae"]
            batch = {"image": x}
            key = jax.random.key(0)

            def corrupted_err(params, d=d, batch=batch, key=key):
                return float(denoising_ae.loss_fn(params, batch, key, module=d.module)[0])

            by_name["denoising_ae"]["corrupted_input_nll"] = corrupted_err(d.params)
            by_name["ae"]["corrupted_input_nll"] = corrupted_err(ae.params)
    for name in ("vqvae", "aae"):
        if name in runs:
            last = _last(runs[name])
            for key in ("test/perplexity", "test/usage", "test/mmd"):
                if key in last:
                    by_name[name][key.split("/")[1]] = last[key]

    cols = [
        "model",
        "epochs",
        "test/loss",
        "test/nll_bound",
        "mean_activation",
        "frac_near_zero",
        "corrupted_input_nll",
        "jacobian_norm",
        "perplexity",
        "usage",
        "mmd",
    ]
    cols = [c for c in cols if any(c in r for r in rows)]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c]:.3f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols]
        print("| " + " | ".join(cells) + " |")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
