"""Benchmarks: throughput and compile time of the shared step, with PyTorch baselines."""

from aezoo.bench.suite import (
    MODES,
    bench_aezoo,
    device_info,
    matmul_peak,
    run_and_write,
    run_suite,
    to_markdown,
)

__all__ = [
    "MODES",
    "bench_aezoo",
    "device_info",
    "matmul_peak",
    "run_and_write",
    "run_suite",
    "to_markdown",
]
