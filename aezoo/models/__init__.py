"""The model registry. Adding a model = one file here + one line in ``MODELS``."""

from __future__ import annotations

from typing import Any

import flax.linen as nn

from aezoo._registry import Registry
from aezoo.errors import ConfigError
from aezoo.models import (
    aae,
    adgm,
    ae,
    annealed_vae,
    beta_tcvae,
    beta_vae,
    binary_vae,
    cat_aae,
    ciwae,
    contractive_ae,
    cvae,
    denoising_ae,
    dip_vae,
    factor_vae,
    gmvae,
    gumbel_vae,
    hvae2,
    iaf,
    info_vae,
    iwae,
    lvae,
    m2,
    miwae,
    piwae,
    rae,
    sdgm,
    sparse_ae,
    vae,
    vamp,
    vqvae,
    wae,
)
from aezoo.models._spec import CAPABILITIES, BaseConfig, ModelSpec, Phase


def _check_spec(spec: ModelSpec) -> None:
    """One line for a spec the zoo could not use: parts that are not what they must be
    (the registry checks the name: it becomes a flag, a folder and a file name)."""
    if not isinstance(spec, ModelSpec):
        raise ConfigError(f"register takes a ModelSpec; got {type(spec).__name__}")
    if not callable(spec.loss_fn):
        raise ConfigError(f"model {spec.name}: loss_fn must be callable; got {spec.loss_fn!r}")
    for what, cls in (("config_cls", spec.config_cls), ("module_cls", spec.module_cls)):
        if not isinstance(cls, type):
            raise ConfigError(f"model {spec.name}: {what} must be a class; got {cls!r}")
    if not issubclass(spec.config_cls, BaseConfig):
        raise ConfigError(f"model {spec.name}: config_cls must subclass aezoo.models.BaseConfig")
    needed = {"encode": spec.encodes, "decode": spec.encodes, "reconstruct": spec.encodes}
    needed.update(sample=spec.generative, classify=spec.classifies)
    missing = [
        m for m, yes in needed.items() if yes and not callable(getattr(spec.module_cls, m, None))
    ]
    if missing:
        raise ConfigError(
            f"model {spec.name}: module_cls {spec.module_cls.__name__} lacks the method(s) "
            f"{', '.join(missing)} that its spec promises"
        )


BUILTIN: tuple[ModelSpec, ...] = (  # aezoo's own models, in the order listings show them
    ae.SPEC,
    sparse_ae.SPEC,
    denoising_ae.SPEC,
    contractive_ae.SPEC,
    vae.SPEC,
    beta_vae.SPEC,
    iwae.SPEC,
    cvae.SPEC,
    aae.SPEC,
    vqvae.SPEC,
    beta_tcvae.SPEC,
    factor_vae.SPEC,
    dip_vae.SPEC,
    annealed_vae.SPEC,
    m2.SPEC,
    adgm.SPEC,
    sdgm.SPEC,
    cat_aae.SPEC,
    gmvae.SPEC,
    vamp.SPEC,
    miwae.SPEC,
    ciwae.SPEC,
    piwae.SPEC,
    hvae2.SPEC,
    lvae.SPEC,
    rae.SPEC,
    wae.SPEC,
    info_vae.SPEC,
    iaf.SPEC,
    gumbel_vae.SPEC,
    binary_vae.SPEC,
)
MODELS: Registry[ModelSpec] = Registry(
    "model",
    BUILTIN,
    check=_check_spec,
    name_of=lambda spec: getattr(spec, "name", None),
)
get_spec = MODELS.get
"""The :class:`ModelSpec` registered as ``name`` (one-line error if unknown)."""
register = MODELS.register
"""Add a model defined outside aezoo (its own file with a config, a module, a loss and a
SPEC); every command and evaluator then knows it. ``replace=True`` replaces one."""


def having(capability: str) -> list[str]:
    """The registered models with ``capability`` (see :data:`CAPABILITIES`), sorted."""
    return list(MODELS.having(lambda spec: capability in spec.capabilities))


def require(spec: ModelSpec, capability: str, purpose: str) -> None:
    """A one-line :class:`ConfigError` unless ``spec`` has ``capability``; the message names
    the models that have it (read from the registry)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    if capability not in spec.capabilities:
        raise ConfigError(
            f"{purpose} needs a model that can {CAPABILITIES[capability]} "
            f"({', '.join(having(capability))}); {spec.name} cannot"
        )


def get(name: str, **overrides: Any) -> tuple[ModelSpec, nn.Module]:
    """``(spec, module)`` for model ``name`` with config fields overridden by keyword."""
    spec = get_spec(name)
    _, module = spec.make(**overrides)
    return spec, module


__all__ = [
    "CAPABILITIES",
    "MODELS",
    "BaseConfig",
    "ModelSpec",
    "Phase",
    "get",
    "get_spec",
    "having",
    "register",
    "require",
]
