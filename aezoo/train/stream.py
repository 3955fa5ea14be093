"""Training data larger than the device budget: the fused epoch in chunks fed from the host.

The epoch's permutation is drawn exactly as on the device-resident path
(:func:`~aezoo.train.step.epoch_batches` with the epoch key); the host gathers each chunk of
``K`` batches (uint8) and a Grain pipeline prefetches the next chunks in a thread while the
device runs the current one (:func:`~aezoo.train.step.make_train_chunk`: the same step body,
keys and batches). The per-step metrics of the chunks are summarized once per epoch, on the
device, as the fused epoch does: same numbers for the same seed (tested), one host fetch.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from aezoo.train.sharding import DATA_AXIS, Mesh
from aezoo.train.state import TrainState
from aezoo.train.step import epoch_batches, summarize

# A chunk is at most this many bytes of uint8 images (or a quarter of the budget): big
# enough that one dispatch covers many steps, small enough to double-buffer.
CHUNK_BYTES = 64 * 2**20
PREFETCH_CHUNKS = 2


def device_budget(device_memory: int | None) -> int:
    """Bytes of training data that may live on each device: ``device_memory`` if set, else
    half of what this process's first device reports (``bytes_limit``), else a quarter of
    the host's RAM (the CPU backend's memory is the host's)."""
    if device_memory is not None:
        return device_memory
    stats = jax.local_devices()[0].memory_stats() or {}
    if stats.get("bytes_limit"):
        return int(stats["bytes_limit"]) // 2
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4


def needs_streaming(images: np.ndarray, devices: int, budget: int) -> bool:
    """Whether the training images (rows split over ``devices``) exceed the budget."""
    return images.nbytes / max(devices, 1) > budget


class StreamedEpoch:
    """One fused epoch over host-resident data: ``(state, rng, epoch_key) -> (state,
    summary)`` like the device-resident epoch."""

    def __init__(
        self,
        chunk_fn,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        mesh: Mesh,
        budget: int,
    ):
        self._chunk, self._images, self._labels = chunk_fn, images, labels
        self.batch_size, self.mesh = batch_size, mesh
        self.steps = len(images) // batch_size
        step_bytes = batch_size * (images[0].nbytes + 4)
        self.chunk_steps = int(np.clip(min(CHUNK_BYTES, budget // 4) // step_bytes, 1, self.steps))
        size = mesh.size if mesh is not None else 1
        spec = PartitionSpec(None, DATA_AXIS) if size > 1 else PartitionSpec()
        self._sharding = NamedSharding(mesh, spec) if mesh is not None else None
        self._summarize = jax.jit(summarize)
        self._order = jax.jit(epoch_batches, static_argnums=(1, 2))

    def compile(self, state: TrainState, rng: jax.Array) -> float:
        """Compile the chunk program for its (at most two) chunk lengths; seconds."""
        t0 = time.perf_counter()
        lengths = {self.chunk_steps, self.steps % self.chunk_steps} - {0}
        for k in sorted(lengths):
            x = jax.ShapeDtypeStruct(
                (k, self.batch_size, *self._images.shape[1:]),
                self._images.dtype,
                sharding=self._sharding,
            )
            y = jax.ShapeDtypeStruct((k, self.batch_size), jnp.int32, sharding=self._sharding)
            self._chunk.lower(state, x, y, rng).compile()
        return time.perf_counter() - t0

    def __call__(self, state: TrainState, rng: jax.Array, epoch_key: jax.Array):
        import grain

        idx = np.asarray(self._order(epoch_key, len(self._images), self.batch_size))
        bounds = [
            (a, min(a + self.chunk_steps, self.steps))
            for a in range(0, self.steps, self.chunk_steps)
        ]
        chunks = (
            grain.MapDataset.source(bounds)
            .map(self._gather(idx))
            .to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=PREFETCH_CHUNKS))
        )
        start = jnp.array(state.step)  # a copy: the state itself is donated to the chunks
        collected: list[dict[str, Any]] = []
        for x, y in chunks:
            x, y = jax.device_put((x, y), self._sharding)
            state, metrics = self._chunk(state, x, y, rng)
            collected.append(metrics)
        metrics = {k: jnp.concatenate([m[k] for m in collected]) for k in collected[0]}
        return state, self._summarize(metrics, start, state.params)

    def _gather(self, idx: np.ndarray):
        images, labels = self._images, self._labels

        def gather(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
            rows = idx[bounds[0] : bounds[1]]
            return images[rows], labels[rows].astype(np.int32)

        return gather


__all__ = ["StreamedEpoch", "device_budget", "needs_streaming"]
