"""Ex-post samplers: a density fitted to a trained model's training codes, decoded by the
model, so that any model that encodes and decodes can generate, and a VAE can sample from
its aggregate posterior instead of its prior.

``aezoo sample RUN --sampler prior|normal|gmm|two_stage|flow|autoregressive|uniform --n 64
--out samples.png``; in Python ``aezoo.samplers.get(RUN, "gmm").sample(64, jax.random.key(0))``.
A sampler is fitted once, on the codes of the run's training split (``encode(x)["z"]``: a
VAE's posterior mean; for a discrete code, its codebook indices ``encode(x)["codes"]``), with
a fixed seed, and saved in ``RUN/samplers/NAME.npz`` (arrays only, read without pickle) with
``NAME.json`` (the checkpoint it was fitted on: epoch and a digest of the params; its
options); a later call reloads it, and refits when the run's params or the options
changed. ``prior`` is the model's own ``sample`` (no fitting). Each sampler is one file here
with ``fit`` and ``draw`` (and ``log_prob`` where its density is exact); the trained ones
(``two_stage``, ``flow``, ``autoregressive``) are Flax modules trained by :func:`aezoo.fit`,
the same jitted step as every model.

Continuous codes: ``normal`` (N(0, I), nothing fitted), ``gmm`` (full-covariance mixture,
Ghosh et al. 2020), ``two_stage`` (a
second VAE, Dai & Wipf 2019), ``flow`` (RealNVP). Discrete codes (``vqvae``):
``autoregressive`` (a causal Transformer prior) and ``uniform`` (the baseline).
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
from aezoo._files import atomic_write
from aezoo._registry import Registry, suggestion
from aezoo._validate import Options
from aezoo.errors import ConfigError
from aezoo.models import ModelSpec, having
from aezoo.rundir.run import LoadedModel, Run
from aezoo.samplers import autoregressive, flow, gmm, normal, two_stage, uniform

FIT_SEED = 0
ENCODE_BATCH = 1000


@dataclasses.dataclass(frozen=True)
class SamplerKind:
    """One ex-post sampler: ``fit(codes, *, seed, say, **options) -> arrays`` and
    ``draw(arrays, n, key, **options) -> codes``, with its typed options (``options_cls``,
    an :class:`aezoo._validate.Options` dataclass; ``aezoo sample`` generates flags from it).

    ``discrete``: it models codebook indices ``[N, positions]`` (``fit`` also receives
    ``vocabulary=``) instead of continuous codes ``[N, D]``. ``log_prob(arrays, codes,
    **options) -> [B]``: the exact log-density (nats) where the sampler has one.
    """

    name: str
    description: str
    fit: Callable[..., dict[str, np.ndarray]]
    draw: Callable[..., jax.Array]
    options_cls: type[Options] | None = None
    discrete: bool = False
    log_prob: Callable[..., jax.Array] | None = None

    @property
    def options(self) -> dict[str, Any]:
        """Its options' defaults, by name."""
        return self.options_cls.defaults() if self.options_cls is not None else {}

    def settings(self, given: dict[str, Any]) -> dict[str, Any]:
        """Its options: ``given`` over the defaults, checked (one line naming the flag)."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            raise ConfigError(f"unknown option(s) of --sampler {self.name}: {', '.join(unknown)}")
        return self.options_cls(**given).to_dict() if self.options_cls is not None else {}


_KINDS = (
    SamplerKind(
        "normal",
        "N(0, I) on the code, decoded (a VAE's assumed prior, for any model that encodes)",
        normal.fit,
        normal.draw,
        log_prob=normal.log_prob,
    ),
    SamplerKind(
        "gmm",
        "Gaussian mixture, full covariances, on the training codes (Ghosh et al. 2020)",
        gmm.fit,
        gmm.draw,
        gmm.GmmOptions,
        log_prob=gmm.log_prob,
    ),
    SamplerKind(
        "two_stage",
        "a second VAE on the training codes, learned decoder variance (Dai & Wipf 2019)",
        two_stage.fit,
        two_stage.draw,
        two_stage.TwoStageOptions,
    ),
    SamplerKind(
        "flow",
        "RealNVP affine-coupling flow on the training codes, exact density",
        flow.fit,
        flow.draw,
        flow.FlowOptions,
        log_prob=flow.log_prob,
    ),
    SamplerKind(
        "autoregressive",
        "causal Transformer prior over a discrete code's indices, exact likelihood",
        autoregressive.fit,
        autoregressive.draw,
        autoregressive.AutoregressiveOptions,
        discrete=True,
        log_prob=autoregressive.log_prob,
    ),
    SamplerKind(
        "uniform",
        "every code position uniform over the codebook (the baseline of a discrete code)",
        uniform.fit,
        uniform.draw,
        discrete=True,
        log_prob=uniform.log_prob,
    ),
)
SAMPLERS: Registry[SamplerKind] = Registry("sampler", _KINDS)
register_sampler = SAMPLERS.register
"""Add an ex-post sampler (a plug-in's); ``replace=True`` replaces one."""
PRIOR = "prior"  # the model's own prior: no sampler is fitted


def default(spec: ModelSpec) -> str:
    """The model's own sampler, what ``aezoo sample`` draws without ``--sampler``: the
    autoregressive prior for a discrete code (``vqvae``), the model's prior where it has
    one, else a Gaussian mixture fitted to its codes (an autoencoder made generative)."""
    if "discrete" in spec.capabilities:
        return "autoregressive"
    if "generative" in spec.capabilities:
        return PRIOR
    if "encode" in spec.capabilities and not spec.conditional:
        return "gmm"
    raise ConfigError(f"model {spec.name} neither samples nor encodes: no sampler can serve it")


def available(spec: ModelSpec) -> tuple[str, ...]:
    """The samplers a model can use: ``prior`` if it samples; the continuous ones if it
    encodes (and decodes without a label); the discrete ones if its code is discrete."""
    names = [PRIOR] if "generative" in spec.capabilities else []
    for kind in SAMPLERS.values():
        if kind.discrete:
            usable = "discrete" in spec.capabilities
        else:
            usable = "encode" in spec.capabilities and not spec.conditional
        if usable:
            names.append(kind.name)
    return tuple(names)


@dataclasses.dataclass(frozen=True)
class Sampler:
    """A model with a way to draw codes: ``codes(n, key)`` and ``sample(n, key)`` (the
    decoder's outputs, as :meth:`LoadedModel.sample` returns them)."""

    name: str
    model: LoadedModel
    arrays: dict[str, np.ndarray] | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def codes(self, n: int, key: jax.Array) -> jax.Array:
        """``n`` codes: ``[n, D]`` floats, or ``[n, positions]`` indices (discrete)."""
        if self.arrays is None:
            raise ConfigError("the prior sampler draws inside the model: use sample()")
        return self.kind.draw(self.arrays, n, key, **self.meta["options"])

    def sample(self, n: int, key: jax.Array) -> dict[str, jax.Array]:
        if self.arrays is None:
            return self.model.sample(n, key)
        if self.kind.discrete:
            return self.model.decode_codes(self.codes(n, key))
        z = self.codes(n, key).reshape(n, *self.model.code_shape())
        return self.model.decode(z)

    @property
    def kind(self) -> SamplerKind:
        return SAMPLERS[self.name]

    def log_prob(self, codes: Any) -> jax.Array:
        """``[B]`` exact log-densities (nats) of codes under the fitted sampler (``gmm``,
        ``flow``, ``autoregressive``, ``uniform``); the codes as :meth:`codes` returns them."""
        if self.arrays is None or self.kind.log_prob is None:
            raise ConfigError(f"the {self.name} sampler has no exact density")
        return self.kind.log_prob(self.arrays, codes, **self.meta["options"])


def get(
    workdir: str | os.PathLike | Run,
    name: str = "prior",
    *,
    model: LoadedModel | None = None,
    refit: bool = False,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    say: Callable[[str], None] = print,
    **options: Any,
) -> Sampler:
    """The sampler ``name`` of the run in ``workdir`` (a folder or a :class:`Run`; ``model``:
    the run already loaded):
    read from ``RUN/samplers/`` when it was fitted on this checkpoint with these options,
    else fitted on the training codes and saved there."""
    if model is None:
        run = Run.open(workdir)
        m, folder = run.model(), run.path / "samplers"
    else:  # the run already loaded (or a model held in memory): its folder keeps the fit
        m = model
        folder = (workdir.path if isinstance(workdir, Run) else pathlib.Path(workdir)) / "samplers"
    kind = None if name == "prior" else _kind(name)
    check_usable(m.spec, name)
    if kind is None:
        return Sampler("prior", m)
    wanted = {"sampler": name, "epoch": m.epoch, "params": params_hash(m.params)}
    wanted["options"] = kind.settings(options)
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
        names = (PRIOR, *SAMPLERS)
        hint = suggestion(name, names) or ";"
        raise ConfigError(f"unknown sampler {name!r}{hint} available: {', '.join(names)}")
    return SAMPLERS[name]


def check_usable(spec: ModelSpec, name: str) -> None:
    """A one-line :class:`ConfigError` unless ``spec`` can use sampler ``name``."""
    if name != "prior":
        _kind(name)
    if name in available(spec):
        return
    usable = ", ".join(available(spec)) or "none"
    if name == "prior":
        why = "has no prior of its own"
    elif SAMPLERS[name].discrete:
        why = f"has no discrete code (models with one: {', '.join(having('discrete'))})"
    elif spec.conditional:
        why = "decodes with a label, which codes fitted without their labels cannot give"
    else:
        why = "does not encode"
    raise ConfigError(f"--sampler {name}: {spec.name} {why}; its samplers: {usable}")


def _read(folder: pathlib.Path, name: str, wanted: dict) -> tuple[dict, dict] | None:
    """The saved arrays and record, when they were fitted as ``wanted`` says and the arrays
    are the bytes that were saved (a damaged or edited file is refitted, never applied)."""
    try:
        meta = json.loads((folder / f"{name}.json").read_text())
        if any(meta.get(k) != v for k, v in wanted.items()):
            return None
        with np.load(folder / f"{name}.npz", allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return (arrays, meta) if meta.get("arrays") == arrays_hash(arrays) else None


def arrays_hash(arrays: dict[str, np.ndarray]) -> str:
    """A digest of named arrays (names, dtypes, shapes and bytes)."""
    h = hashlib.blake2b(digest_size=12)
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def train_codes(m: LoadedModel, source: dict, *, discrete: bool = False) -> np.ndarray:
    """The codes of the run's training split: see :func:`codes_of`."""
    x, _ = m.dataset("train", **source)
    return codes_of(m, x, discrete=discrete)


def codes_of(m: LoadedModel, images: np.ndarray, *, discrete: bool = False) -> np.ndarray:
    """The codes of ``images`` (binarized as the run binarizes): ``[N, D]`` floats, or with
    ``discrete`` the codebook indices ``[N, positions]``."""
    x = data.binarize_once(np.asarray(images), m.record.binarize)
    key, dtype = ("codes", np.int32) if discrete else ("z", np.float32)
    parts = [
        np.asarray(m.encode(x[i : i + ENCODE_BATCH])[key], dtype)
        for i in range(0, len(x), ENCODE_BATCH)
    ]
    codes = np.concatenate(parts)
    return codes.reshape(len(codes), -1)


def _fit_and_save(m, kind: SamplerKind, folder, wanted: dict, source: dict, say) -> Sampler:
    start = time.perf_counter()
    codes = train_codes(m, source, discrete=kind.discrete)
    what = "discrete codes of" if kind.discrete else "codes of"
    say(f"fitting the {kind.name} sampler on {len(codes)} training {what} {codes.shape[1]} dims")
    extra = {"vocabulary": m.spec.code_grid(m.config)[1]} if kind.discrete else {}
    arrays = kind.fit(codes, seed=FIT_SEED, say=say, **extra, **wanted["options"])
    meta = {**wanted, "rows": len(codes), "seconds": time.perf_counter() - start}
    meta["arrays"] = arrays_hash(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / f"{kind.name}.npz", buffer.getvalue())
        atomic_write(folder / f"{kind.name}.json", json.dumps(meta, indent=1) + "\n")
    except OSError as e:  # a run one may read but not write: use the sampler unsaved
        say(
            f"cannot save the {kind.name} sampler in {folder} ({e.strerror or e}); using it unsaved"
        )
        return Sampler(kind.name, m, arrays, meta)
    say(f"saved {folder / kind.name}.npz ({meta['seconds']:.1f} s)")
    return Sampler(kind.name, m, arrays, meta)


__all__ = [
    "PRIOR",
    "SAMPLERS",
    "Sampler",
    "SamplerKind",
    "available",
    "check_usable",
    "codes_of",
    "get",
    "register_sampler",
    "train_codes",
]
