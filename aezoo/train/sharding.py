"""Data parallelism on a device mesh: one ``data`` axis, batches sharded over it.

The same jitted step runs on 1 CPU and on N devices (and N hosts): the dataset is laid out
as a global ``jax.Array`` whose rows are sharded over the mesh (each process holds only its
own rows), the batch gathered inside the step is constrained to ``P("data")``, and the train
state is replicated, or with ``shard_params`` sharded FSDP-style (each array along its
largest dimension that the mesh size divides). XLA's SPMD partitioner inserts the gradient
all-reduce (or the parameter all-gathers); there is no ``pmap`` and no hand-written
collective. Example order is global (a permutation of example indices), so a run on N
devices follows the same data order as on one device.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from aezoo import data
from aezoo.errors import ConfigError

DATA_AXIS = "data"


def make_mesh(devices: int | Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``data`` over ``devices`` (a count of the first devices, or a list).

    Default: every device of every process. Devices are ordered by process, so each
    process's devices hold one contiguous block of rows.
    """
    available = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    if devices is None:
        chosen = available
    elif isinstance(devices, int) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ConfigError(
                f"devices must be in 1..{len(available)} (the devices JAX sees: "
                f"{available[0].platform} x{len(available)}); got {devices}"
            )
        if jax.process_count() > 1 and devices != len(available):
            raise ConfigError(
                f"with {jax.process_count()} processes every device is used; "
                f"got devices={devices} of {len(available)}"
            )
        chosen = available[:devices]
    else:
        chosen = list(devices)
    return Mesh(np.array(chosen), (DATA_AXIS,))


def mesh_size(mesh: Mesh | None) -> int:
    return 1 if mesh is None else int(mesh.shape[DATA_AXIS])


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def row_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (example / batch) axis split over the ``data`` axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def constrain_batch(batch: dict[str, jax.Array], mesh: Mesh | None) -> dict[str, jax.Array]:
    """Inside jit: every array of the batch sharded along its leading (batch) axis."""
    if mesh is None or mesh.size == 1:  # nothing to split: leave the program as it is
        return batch
    sharding = row_sharding(mesh)
    return {
        k: jax.lax.with_sharding_constraint(v, sharding) if getattr(v, "ndim", 0) else v
        for k, v in batch.items()
    }


def leaf_spec(shape: tuple[int, ...], size: int, shard: bool) -> PartitionSpec:
    """FSDP rule: shard the largest dimension that ``size`` divides; else replicate."""
    if not shard or size == 1 or not shape:
        return PartitionSpec()
    order = sorted(range(len(shape)), key=lambda i: -shape[i])
    for axis in order:
        if shape[axis] % size == 0 and shape[axis] >= size:
            spec: list[str | None] = [None] * len(shape)
            spec[axis] = DATA_AXIS
            return PartitionSpec(*spec)
    return PartitionSpec()


def state_shardings(tree: Any, mesh: Mesh, shard_params: bool = False) -> Any:
    """A sharding per leaf of a train state (params and optimizer moments alike)."""
    size = mesh_size(mesh)
    return jax.tree.map(
        lambda x: NamedSharding(mesh, leaf_spec(tuple(np.shape(x)), size, shard_params)), tree
    )


def constrain_state(state: Any, mesh: Mesh | None, shard_params: bool) -> Any:
    """Inside jit: pin the train state to its replicated (or FSDP) layout."""
    if mesh is None or mesh.size == 1:
        return state
    return jax.lax.with_sharding_constraint(state, state_shardings(state, mesh, shard_params))


@dataclasses.dataclass(frozen=True)
class RowLayout:
    """How ``num_examples`` rows are spread over a mesh (padded at the end to fill it)."""

    num_examples: int
    padded: int  # a multiple of the mesh size
    start: int  # this process's rows: [start, stop) of the padded array
    stop: int

    @property
    def real_stop(self) -> int:
        return min(self.stop, self.num_examples)


def row_layout(num_examples: int, mesh: Mesh) -> RowLayout:
    """Rows per device = ceil(n / devices); this process owns its devices' contiguous rows."""
    size = mesh_size(mesh)
    padded = math.ceil(num_examples / size) * size
    index_map = row_sharding(mesh).addressable_devices_indices_map((padded,))
    starts = [idx[0].start or 0 for idx in index_map.values()]
    stops = [idx[0].stop if idx[0].stop is not None else padded for idx in index_map.values()]
    return RowLayout(num_examples, padded, min(starts), max(stops))


def put_rows(rows: np.ndarray, layout: RowLayout, mesh: Mesh) -> jax.Array:
    """This process's rows (``layout.start`` .. ``layout.real_stop`` of the dataset) as one
    global array of ``layout.padded`` rows sharded over the mesh (zero rows pad the end)."""
    want = layout.real_stop - layout.start
    if len(rows) != want:
        raise ValueError(f"expected {want} rows for this process; got {len(rows)}")
    local = np.zeros((layout.stop - layout.start, *rows.shape[1:]), rows.dtype)
    local[:want] = rows
    sharding = row_sharding(mesh)
    if jax.process_count() == 1:
        return jax.device_put(local, sharding)
    return jax.make_array_from_process_local_data(sharding, local, (layout.padded, *rows.shape[1:]))


@dataclasses.dataclass(frozen=True)
class LocalRows:
    """This process's share of a split: rows ``start .. start + len(images)`` of a split of
    ``num_examples`` examples (what each process of a multi-host run loads; see
    :func:`load_local_rows`)."""

    images: np.ndarray
    labels: np.ndarray
    num_examples: int
    start: int


def load_local_rows(
    name: str,
    split: str,
    mesh: Mesh,
    *,
    data_dir: Any = None,
    cache_dir: Any = None,
    options: Any = None,
) -> LocalRows:
    """Read only this process's rows of a split (all of it on a single process)."""
    n = data.num_examples(name, split, data_dir=data_dir, options=options)
    layout = row_layout(n, mesh)
    rows = (layout.start, layout.real_stop)
    load = {"data_dir": data_dir, "cache_dir": cache_dir, "options": options}
    images, labels = data.load(name, split, rows=rows, **load)
    return LocalRows(images, labels, n, layout.start)


def load_splits(
    name: str,
    *,
    devices: int | None = None,
    data_dir: Any = None,
    cache_dir: Any = None,
    options: Any = None,
) -> tuple[Any, Any, Any]:
    """The train, test and validation (``None`` without ``options.val_fraction`` or a
    source's own ``val/`` folder) splits
    of dataset ``name`` for this process: whole arrays on one process; on several, only the
    rows this process's devices hold (:class:`LocalRows`)."""
    load = {"data_dir": data_dir, "cache_dir": cache_dir, "options": options}
    with_val = (options is not None and options.val_fraction) or data.has_own_val(name, **load)
    names = ("train", "test", "val") if with_val else None
    splits = names or ("train", "test")
    if jax.process_count() == 1:
        out = [data.load(name, split, **load) for split in splits]
    else:
        mesh = make_mesh(devices)
        out = [load_local_rows(name, split, mesh, **load) for split in splits]
    return out[0], out[1], (out[2] if names else None)


def init_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    detect: bool = False,
) -> None:
    """``jax.distributed.initialize`` for a multi-host run (before any JAX work); nothing
    when no setting is given.

    A setting left out is taken from ``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES`` /
    ``JAX_PROCESS_ID``; with ``detect`` whatever is still unset is detected from the cluster
    (SLURM, Open MPI, ...) by JAX.
    """
    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS") or None
    num_processes = _int_setting("--num-processes", num_processes, "JAX_NUM_PROCESSES")
    process_id = _int_setting("--process-id", process_id, "JAX_PROCESS_ID")
    given = [coordinator, num_processes, process_id]
    if not detect and all(v is None for v in given):
        return
    if not detect and any(v is None for v in given):
        raise ConfigError(
            "multi-host needs --coordinator HOST:PORT, --num-processes P and --process-id I "
            "together (or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID; or "
            "--distributed to detect them from the cluster)"
        )
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes must be >= 1; got {num_processes}")
    if process_id is not None and not 0 <= process_id < (num_processes or 1):
        raise ConfigError(
            f"--process-id must be in 0..{(num_processes or 1) - 1}; got {process_id}"
        )
    if coordinator is not None and not coordinator.rpartition(":")[2].isdigit():
        raise ConfigError(f"--coordinator must be HOST:PORT; got {coordinator!r}")
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
        )
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"jax.distributed.initialize failed: {first}") from None


def _int_setting(flag: str, value: int | None, env_name: str) -> int | None:
    if value is not None:
        return value
    text = os.environ.get(env_name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{env_name}={text!r} is not an integer (for {flag})") from None


def fetch(tree: Any) -> Any:
    """Host copies of global arrays, on any number of processes (sharded ones are gathered:
    call it on every process)."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            if x.is_fully_replicated:
                return np.asarray(x.addressable_data(0))
            from jax.experimental import multihost_utils

            # A collective: every process reaches this line with the same tree.
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(one, tree)


__all__ = [
    "DATA_AXIS",
    "LocalRows",
    "RowLayout",
    "constrain_batch",
    "constrain_state",
    "fetch",
    "init_distributed",
    "leaf_spec",
    "load_local_rows",
    "load_splits",
    "make_mesh",
    "mesh_size",
    "put_rows",
    "replicated",
    "row_layout",
    "row_sharding",
    "state_shardings",
]
