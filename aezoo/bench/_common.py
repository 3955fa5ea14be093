"""What the bench's rows share: the image shape they time, a median rate over repeats, XLA's
FLOP count."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

IMAGE_SHAPE = (28, 28, 1)  # MNIST's: every row times 28 x 28 x 1 images


def median_rate(fn: Callable[[], object], work: float, repeats: int) -> dict[str, float]:
    """``work`` per second of ``fn`` (which must block on its result): the median over
    ``repeats`` timed calls after one warm-up call, with their min and max."""
    fn()  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        rates.append(work / (time.perf_counter() - t0))
    return {
        "examples_per_sec": float(np.median(rates)),
        "examples_per_sec_min": float(np.min(rates)),
        "examples_per_sec_max": float(np.max(rates)),
    }


def cost_flops(compiled) -> float:
    """FLOPs of a compiled program by XLA's cost analysis (a loop body counts once)."""
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else {}
    return float((cost or {}).get("flops", 0.0))
