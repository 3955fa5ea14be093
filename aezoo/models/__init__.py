"""The model registry. Adding a model = one file here + one line in ``MODELS``."""

from __future__ import annotations

import re
from typing import Any

import flax.linen as nn

from aezoo.errors import ConfigError
from aezoo.models import (
    aae,
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
    sparse_ae,
    vae,
    vamp,
    vqvae,
    wae,
)
from aezoo.models._spec import CAPABILITIES, BaseConfig, ModelSpec, Phase

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
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
}


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered as ``name`` (one-line error if unknown)."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}"
        ) from None


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add ``spec`` to :data:`MODELS` (a model defined outside aezoo: its own file with a
    config, a module, a loss and a SPEC); every command and evaluator then knows it."""
    if not isinstance(spec, ModelSpec):
        raise ConfigError(f"register takes a ModelSpec; got {type(spec).__name__}")
    _check_spec(spec)
    if spec.name in MODELS and not replace:
        raise ConfigError(f"a model named {spec.name!r} is registered already")
    MODELS[spec.name] = spec
    return spec


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def _check_spec(spec: ModelSpec) -> None:
    """One line for a spec the zoo could not use: a name that is not a plain word (it
    becomes a flag, a folder and a file name), or parts that are not what they must be."""
    if not isinstance(spec.name, str) or not _NAME.fullmatch(spec.name):
        raise ConfigError(
            f"model name must be a letter then letters, digits, _ or - (at most 64); "
            f"got {spec.name!r}"
        )
    if not callable(spec.loss_fn):
        raise ConfigError(f"model {spec.name}: loss_fn must be callable; got {spec.loss_fn!r}")
    for what, cls in (("config_cls", spec.config_cls), ("module_cls", spec.module_cls)):
        if not isinstance(cls, type):
            raise ConfigError(f"model {spec.name}: {what} must be a class; got {cls!r}")
    if not issubclass(spec.config_cls, BaseConfig):
        raise ConfigError(f"model {spec.name}: config_cls must subclass aezoo.models.BaseConfig")


def having(capability: str) -> list[str]:
    """The registered models with ``capability`` (see :data:`CAPABILITIES`), sorted."""
    return sorted(name for name, spec in MODELS.items() if capability in spec.capabilities)


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
