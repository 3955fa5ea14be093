"""Ex-post samplers: a density fitted to a trained model's training codes, decoded by the
model, so that any model that encodes and decodes can generate, and a VAE can sample from
its aggregate posterior instead of its prior.

``aezoo sample RUN --sampler prior|gmm --n 64 --out samples.png``; in Python
``aezoo.samplers.get(RUN, "gmm").sample(64, jax.random.key(0))``. A sampler is fitted once,
on the codes of the run's training split (``encode(x)["z"]``: a VAE's posterior mean), with a
fixed seed, and saved in ``RUN/samplers/NAME.npz`` (arrays only, read without pickle) with
``NAME.json`` (the checkpoint it was fitted on: epoch and a digest of the params; its
options); a later call reloads it, and refits when the run's params or the options
changed. ``prior`` is the model's own ``sample`` (no fitting). Each sampler is one file here
with ``fit`` and ``draw``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pathlib
import time
import zipfile
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from aezoo import data
from aezoo.errors import ConfigError
from aezoo.models import require
from aezoo.samplers import gmm
from aezoo.train.load import LoadedModel, load
from aezoo.train.workdir import atomic_write

FIT_SEED = 0
ENCODE_BATCH = 1000


@dataclasses.dataclass(frozen=True)
class SamplerKind:
    """One ex-post sampler: ``fit(codes [N, D], *, seed, **options) -> arrays`` and
    ``draw(arrays, n, key) -> codes [n, D]``, with its options and their defaults."""

    name: str
    description: str
    fit: Callable[..., dict[str, np.ndarray]]
    draw: Callable[[dict[str, np.ndarray], int, jax.Array], jax.Array]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


SAMPLERS: dict[str, SamplerKind] = {
    "gmm": SamplerKind(
        "gmm",
        "Gaussian mixture, full covariances, on the training codes (Ghosh et al. 2020)",
        gmm.fit,
        gmm.draw,
        {"components": 10},
    ),
}
NAMES = ("prior", *SAMPLERS)


@dataclasses.dataclass(frozen=True)
class Sampler:
    """A model with a way to draw codes: ``codes(n, key)`` and ``sample(n, key)`` (the
    decoder's outputs, as :meth:`LoadedModel.sample` returns them)."""

    name: str
    model: LoadedModel
    arrays: dict[str, np.ndarray] | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def codes(self, n: int, key: jax.Array) -> jax.Array:
        if self.arrays is None:
            raise ConfigError("the prior sampler draws inside the model: use sample()")
        return SAMPLERS[self.name].draw(self.arrays, n, key)

    def sample(self, n: int, key: jax.Array) -> dict[str, jax.Array]:
        if self.arrays is None:
            return self.model.sample(n, key)
        z = self.codes(n, key).reshape(n, *self.model.code_shape())
        return self.model.decode(z)


def get(
    workdir: str | os.PathLike,
    name: str = "prior",
    *,
    model: LoadedModel | None = None,
    refit: bool = False,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    say: Callable[[str], None] = print,
    **options: Any,
) -> Sampler:
    """The sampler ``name`` of the run in ``workdir`` (``model``: the run already loaded):
    read from ``RUN/samplers/`` when it was fitted on this checkpoint with these options,
    else fitted on the training codes and saved there."""
    m = model if model is not None else load(workdir)
    if name == "prior":
        require(m.spec, "sample", "--sampler prior")
        return Sampler("prior", m)
    kind = _kind(name)
    require(m.spec, "encode", f"--sampler {name}")
    if m.spec.conditional:
        raise ConfigError(
            f"--sampler {name} fits codes without their labels; {m.spec.name} decodes with a "
            "label: use its own prior (--sampler prior)"
        )
    unknown = sorted(set(options) - set(kind.options))
    if unknown:
        raise ConfigError(f"unknown option(s) of --sampler {name}: {', '.join(unknown)}")
    wanted = {"sampler": name, "epoch": m.epoch, "params": params_hash(m.params)}
    wanted["options"] = {**kind.options, **options}
    folder = pathlib.Path(workdir) / "samplers"
    saved = None if refit else _read(folder, name, wanted)
    if saved is not None:
        return Sampler(name, m, *saved)
    return _fit_and_save(
        m, kind, folder, wanted, {"data_dir": data_dir, "cache_dir": cache_dir}, say
    )


def params_hash(params: Any) -> str:
    """A digest of the parameters' bytes: a sampler fitted on other params is refitted (a
    run trained again from scratch can reach the same epoch number)."""
    h = hashlib.blake2b(digest_size=12)
    for leaf in jax.tree.leaves(params):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()


def _kind(name: str) -> SamplerKind:
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; available: {', '.join(NAMES)}")
    return SAMPLERS[name]


def _read(folder: pathlib.Path, name: str, wanted: dict) -> tuple[dict, dict] | None:
    """The saved arrays and record, when they were fitted as ``wanted`` says."""
    try:
        meta = json.loads((folder / f"{name}.json").read_text())
        if any(meta.get(k) != v for k, v in wanted.items()):
            return None
        with np.load(folder / f"{name}.npz", allow_pickle=False) as f:
            return {k: f[k] for k in f.files}, meta
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def train_codes(m: LoadedModel, source: dict) -> np.ndarray:
    """The codes of the run's training split (binarized as the run binarizes), ``[N, D]``."""
    x, _ = m.dataset("train", **source)
    x = data.binarize_once(np.asarray(x), m.run["train"]["binarize"])
    parts = [
        np.asarray(m.encode(x[i : i + ENCODE_BATCH])["z"], np.float32)
        for i in range(0, len(x), ENCODE_BATCH)
    ]
    codes = np.concatenate(parts)
    return codes.reshape(len(codes), -1)


def _fit_and_save(m, kind: SamplerKind, folder, wanted: dict, source: dict, say) -> Sampler:
    start = time.perf_counter()
    codes = train_codes(m, source)
    say(f"fitting the {kind.name} sampler on {len(codes)} training codes of {codes.shape[1]} dims")
    arrays = kind.fit(codes, seed=FIT_SEED, **wanted["options"])
    meta = {**wanted, "rows": len(codes), "seconds": time.perf_counter() - start}
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(folder / f"{kind.name}.npz", buffer.getvalue())
    atomic_write(folder / f"{kind.name}.json", json.dumps(meta, indent=1) + "\n")
    say(f"saved {folder / kind.name}.npz ({meta['seconds']:.1f} s)")
    return Sampler(kind.name, m, arrays, meta)


__all__ = ["NAMES", "SAMPLERS", "Sampler", "SamplerKind", "get", "train_codes"]
