"""Per-layer convolution micro-benchmark (issue 29): where the conv and ResNet nets spend time.

    python benchmarks/conv_layers.py --rounds 2

Every convolution of the ``conv`` and ``resnet`` encoders/decoders at batch 128 on 28 x 28 x 1
images, forward and backward (the gradients of the input and of the kernel), timed in turn
by each way of computing it:

- ``onednn, in scan``: ``aezoo.nn.Conv`` / ``ConvTranspose`` with ``--conv-impl onednn``
  (oneDNN's forward, backward-data and backward-weights primitives through the XLA FFI, what
  ``auto`` runs on CPU where it is built), steps inside one ``lax.scan``, as in the fused epoch;
- ``matmul, in scan``: the same layers as matmuls (im2col / one matmul per output phase; what
  ``auto`` runs without oneDNN), in the same scan;
- ``XLA conv, in scan``: ``lax.conv_general_dilated`` / ``lax.conv_transpose`` in the same
  scan (what ``--conv-impl xla`` trains with);
- ``XLA conv, jit per step``: the same native convolution, one jitted call per step (outside
  any loop: what a per-step loop would run);
- ``torch eager``: ``conv2d`` / ``conv_transpose2d`` (NCHW, what the PyTorch baselines use)
  with ``backward()``.

Reports ms per step (the median over the rounds of each round's median) and GFLOP/s (3x the
forward's multiply-adds, x2). Writes ``benchmarks/results/NAME.json`` (``--name``, default
``conv-layers``), which the docs' results page renders.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shlex
import statistics
import sys
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aezoo.bench import suite, torch_baseline  # noqa: E402 (after the path is set)
from aezoo.nn import _conv  # noqa: E402
from aezoo.nn._mlp import CONV_CHANNELS  # noqa: E402

BATCH = 128
FULL, TOP = CONV_CHANNELS
# name -> (transposed?, input [H, W, C_in], kernel [k, k, C_in, C_out], stride): the layers
# of aezoo.nn._mlp's conv and resnet nets on 28 x 28 x 1 images (each shape once).
LAYERS: dict[str, tuple[bool, tuple[int, int, int], tuple[int, int, int, int], int]] = {
    "conv enc 1 (4x4/2, 1->32)": (False, (28, 28, 1), (4, 4, 1, FULL), 2),
    "conv enc 2 (4x4/2, 32->64)": (False, (14, 14, FULL), (4, 4, FULL, TOP), 2),
    "conv dec 1 (4x4/2 transposed, 64->32)": (True, (7, 7, TOP), (4, 4, TOP, FULL), 2),
    "conv dec 2 (4x4/2 transposed, 32->1)": (True, (14, 14, FULL), (4, 4, FULL, 1), 2),
    "resnet stem (3x3, 1->32)": (False, (28, 28, 1), (3, 3, 1, FULL), 1),
    "resnet block 28x28 (3x3, 32->32)": (False, (28, 28, FULL), (3, 3, FULL, FULL), 1),
    "resnet block 14x14 (3x3, 64->64)": (False, (14, 14, TOP), (3, 3, TOP, TOP), 1),
    "resnet block 7x7 (3x3, 64->64)": (False, (7, 7, TOP), (3, 3, TOP, TOP), 1),
    "resnet down 1 (4x4/2, 32->64)": (False, (28, 28, FULL), (4, 4, FULL, TOP), 2),
    "resnet down 2 (4x4/2, 64->64)": (False, (14, 14, TOP), (4, 4, TOP, TOP), 2),
    "resnet up 1 (4x4/2 transposed, 64->64)": (True, (7, 7, TOP), (4, 4, TOP, TOP), 2),
    "resnet up 2 (4x4/2 transposed, 64->32)": (True, (14, 14, TOP), (4, 4, TOP, FULL), 2),
    "resnet head (3x3, 32->1)": (False, (28, 28, FULL), (3, 3, FULL, 1), 1),
}
# How many times each layer runs in a step of its net (the resnet's blocks hold two 3x3
# convolutions each, one block per resolution in the encoder and one in the decoder).
USES = {name: 4 if "block" in name else 1 for name in LAYERS}
VARIANTS = (
    "onednn, in scan",
    "matmul, in scan",
    "XLA conv, in scan",
    "XLA conv, jit per step",
    "torch eager",
)


def layer_flops(transposed: bool, shape, kernel, stride: int) -> float:
    """FLOPs of forward + backward: 3 matmul-sized passes of 2 x the forward's multiply-adds
    (a transposed convolution's output pixels are the input's times stride^2)."""
    h, w, _ = shape
    kh, kw, cin, cout = kernel
    pixels = h * w * stride**2 if transposed else -(-h // stride) * -(-w // stride)
    taps = kh * kw / stride**2 if transposed else kh * kw
    return 6.0 * BATCH * pixels * taps * cin * cout


def _op(transposed: bool, impl: str) -> Callable[..., jax.Array]:
    layer = _conv.ConvTranspose if transposed else _conv.Conv
    return layer.OPS[_conv.resolve_impl(impl)]


def _inputs(shape, kernel, steps: int) -> tuple[jax.Array, jax.Array]:
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((steps, BATCH, *shape)).astype(np.float32)
    k = 0.1 * rng.standard_normal(kernel).astype(np.float32)
    return jnp.asarray(xs), jnp.asarray(k)


def time_jax(layer, impl: str, in_scan: bool, steps: int, repeats: int) -> float:
    """Median ms per forward + backward step of one layer computed by ``impl``."""
    transposed, shape, kernel, stride = layer
    op = _op(transposed, impl)
    grad = jax.grad(lambda x, k: jnp.sum(op(x, k, (stride, stride)) ** 2), argnums=(0, 1))

    def body(carry, x):
        # Both gradients are used whole (a sum of the input's gradients is carried), so XLA
        # cannot compute only the part of one that a sliced output would need.
        k, acc = carry
        gx, gk = grad(x, k)
        return (k - 1e-6 * gk, acc + gx), None

    xs, k = _inputs(shape, kernel, steps)
    carry = (k, jnp.zeros_like(xs[0]))
    if in_scan:
        run = jax.jit(lambda c, xs: lax.scan(body, c, xs)).lower(carry, xs).compile()
        call = lambda: jax.block_until_ready(run(carry, xs))  # noqa: E731
    else:
        one = jax.jit(body).lower(carry, xs[0]).compile()
        call = lambda: jax.block_until_ready([one(carry, x) for x in xs])  # noqa: E731
    rate = suite.median_rate(call, steps, repeats)
    return 1e3 / rate["examples_per_sec"]


def time_torch(layer, steps: int, repeats: int) -> float:
    """Median ms per forward + backward step of the same layer in PyTorch eager (NCHW)."""
    import torch
    import torch.nn.functional as F

    transposed, (h, w, cin), (kh, _, _, cout), stride = layer
    pad = 1  # SAME for 3x3 stride 1 and (transposed) 4x4 stride 2
    x = torch.randn(BATCH, cin, h, w, requires_grad=True)
    if transposed:
        k = torch.randn(cin, cout, kh, kh, requires_grad=True)
        f = lambda: F.conv_transpose2d(x, k, stride=stride, padding=pad)  # noqa: E731
    else:
        k = torch.randn(cout, cin, kh, kh, requires_grad=True)
        f = lambda: F.conv2d(x, k, stride=stride, padding=pad)  # noqa: E731

    def call() -> None:
        for _ in range(steps):
            x.grad = k.grad = None
            (f() ** 2).sum().backward()

    rate = suite.median_rate(call, steps, repeats)
    return 1e3 / rate["examples_per_sec"]


def _measure(variant: str, layer, args: argparse.Namespace) -> float | None:
    if variant == "torch eager":
        return time_torch(layer, args.steps, args.repeats) if torch_baseline.available() else None
    if variant in ("onednn, in scan", "matmul, in scan"):
        return time_jax(layer, variant.split(",")[0], True, args.steps, args.repeats)
    # XLA:CPU's native convolutions are slow: fewer steps keep the run short.
    return time_jax(layer, "xla", variant.endswith("in scan"), args.xla_steps, args.repeats)


def run(args: argparse.Namespace) -> dict:
    times: dict[str, dict[str, list[float]]] = {n: {v: [] for v in VARIANTS} for n in LAYERS}
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; expected some of {list(VARIANTS)}")
    variants = [v for v in VARIANTS if v in args.variants]
    for r in range(args.rounds):
        for name, layer in LAYERS.items():
            for variant in variants:
                ms = _measure(variant, layer, args)
                if ms is not None:
                    times[name][variant].append(ms)
                    print(f"round {r + 1}  {name:<40} {variant:<24} {ms:9.2f} ms", flush=True)
    rows = []
    for name, layer in LAYERS.items():
        flops = layer_flops(*layer)
        ms = {v: statistics.median(t) for v, t in times[name].items() if t}
        gflops = {v: flops / (m * 1e6) for v, m in ms.items()}
        row = {"layer": name, "uses": USES[name], "flops": flops, "ms": ms, "gflops": gflops}
        rows.append(row)
    return {
        "kind": "conv_layers",
        "command": "python benchmarks/conv_layers.py " + shlex.join(sys.argv[1:]),
        "batch_size": BATCH,
        "rounds": args.rounds,
        "device": suite.device_info(),
        "matmul_peak_gflops": suite.matmul_peak(),
        "variants": variants,
        "rows": rows,
        "times": times,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (2)")
    p.add_argument("--steps", type=int, default=20, help="steps per timed call (20)")
    p.add_argument("--xla-steps", type=int, default=2, help="steps of the native conv (2)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per round (3)")
    p.add_argument("--name", default="conv-layers", help="result file name")
    p.add_argument(
        "--variants",
        type=lambda text: [v.strip() for v in text.split(";") if v.strip()],
        default=list(VARIANTS),
        help="the ways to time, separated by ';' (default: all)",
    )
    args = p.parse_args()
    result = run(args)
    out = ROOT / "benchmarks" / "results" / f"{args.name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
