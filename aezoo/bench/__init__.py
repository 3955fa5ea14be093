"""Benchmarks: throughput and compile time of the shared step, with PyTorch baselines."""

from aezoo.bench.is_nll import bench_is_nll
from aezoo.bench.suite import (
    ALL_MODES,
    MODES,
    bench_aezoo,
    device_info,
    matmul_peak,
    run_and_write,
    run_suite,
    to_markdown,
)

__all__ = [
    "ALL_MODES",
    "MODES",
    "bench_aezoo",
    "bench_is_nll",
    "device_info",
    "matmul_peak",
    "run_and_write",
    "run_suite",
    "to_markdown",
]
