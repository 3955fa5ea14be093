"""The importance-sampled NLL's throughput: the program ``aezoo eval`` runs for ``nll_is``.

One row per density model: images/s of :func:`aezoo.eval.likelihood.make_log_px_fn` at K
samples per image on batches of ``aezoo eval``'s size, its compile time, and the GFLOP/s it
reaches (XLA's cost analysis of one chunk of K times the number of chunks), so that the row
can be read as a fraction of the machine's matmul peak. Parameters are freshly initialized:
the work per image does not depend on their values.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from aezoo import data
from aezoo.bench._common import IMAGE_SHAPE, cost_flops, median_rate
from aezoo.eval import likelihood
from aezoo.models import get_spec
from aezoo.train import init_params


def _chunk_flops(spec, module, params, batch, key, chunk: int) -> float:
    """XLA's FLOP count of one chunk of ``chunk`` samples per image, compiled on its own
    (the cost analysis counts a scan's body once, whatever its length)."""

    def one_chunk(params, batch, key):
        return spec.density(params, batch, key, module=module, num_samples=chunk)

    return cost_flops(jax.jit(one_chunk).lower(params, batch, key).compile())


def bench_is_nll(
    model: str,
    *,
    num_samples: int,
    repeats: int,
    batch_size: int = likelihood.IS_BATCH,
    arch: str = "mlp",
) -> dict[str, Any]:
    """One ``eval`` row: images/s of the IS-NLL at ``num_samples`` per image (median of
    ``repeats`` timed batches after a warm-up), compile seconds and GFLOP/s."""
    spec = get_spec(model)
    _, module = spec.make(image_shape=IMAGE_SHAPE, arch=arch)
    log_px = likelihood.make_log_px_fn(spec, module, num_samples=num_samples, batch_size=batch_size)
    key = jax.random.key(0)
    params = init_params(module, key)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (batch_size, *IMAGE_SHAPE), np.uint8)
    batch = {
        "image": data.to_float(jnp.asarray(pixels)),
        "label": jnp.asarray(rng.integers(0, 10, (batch_size,)), jnp.int32),
    }
    t0 = time.perf_counter()
    compiled = log_px.lower(params, batch, key).compile()
    compile_seconds = time.perf_counter() - t0
    chunk = likelihood.chunk_size(num_samples, batch_size)
    flops = _chunk_flops(spec, module, params, batch, key, chunk) * (num_samples // chunk)
    rate = median_rate(
        lambda: compiled(params, batch, key).block_until_ready(), batch_size, repeats
    )
    return {
        "model": model,
        "arch": arch,
        "mode": "eval",
        "batch_size": batch_size,
        "num_samples": num_samples,
        "chunk": chunk,
        "repeats": repeats,
        "compile_seconds": compile_seconds,
        **rate,
        "gflops_per_sec": flops / batch_size * rate["examples_per_sec"] / 1e9,
        "flops_per_example": flops / batch_size,
        "step_flops": flops,
    }
