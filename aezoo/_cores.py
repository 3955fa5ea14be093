"""Which CPU cores this process may run on (``aezoo --threads N``).

XLA sizes its CPU thread pool by the process's CPU affinity when its backend starts
(jax-ml/jax#1539), and an intra-op parallel step waits for its slowest thread: with another
process busy on one of the cores, that thread runs at half speed and so does the whole step.
Pinning the process to fewer cores before JAX starts gives XLA a pool that size.
"""

from __future__ import annotations

import os

from aezoo.errors import ConfigError


def limit_cores(n: int) -> list[int]:
    """Pin this process to the first ``n`` cores it may use; returns them. Must run before
    JAX's backend starts (the first array or device query), or XLA keeps its pool."""
    if not hasattr(os, "sched_setaffinity"):
        raise ConfigError("--threads needs Linux (os.sched_setaffinity)")
    allowed = sorted(os.sched_getaffinity(0))
    if not 1 <= n <= len(allowed):
        raise ConfigError(f"--threads must be between 1 and {len(allowed)} (the usable cores)")
    _check_backend_not_started()
    cores = allowed[:n]
    os.sched_setaffinity(0, cores)
    return cores


def _check_backend_not_started() -> None:
    from jax._src import xla_bridge

    if xla_bridge._backends:  # private: JAX has no public "already started" query
        raise ConfigError("--threads must be set before JAX starts (before any computation)")


__all__ = ["limit_cores"]
