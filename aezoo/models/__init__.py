"""The model registry. Adding a model = one file here + one line in ``MODELS``."""

from __future__ import annotations

from typing import Any

import flax.linen as nn

from aezoo.errors import ConfigError
from aezoo.models import (
    aae,
    ae,
    annealed_vae,
    beta_tcvae,
    beta_vae,
    cat_aae,
    contractive_ae,
    cvae,
    denoising_ae,
    dip_vae,
    factor_vae,
    gmvae,
    iwae,
    m2,
    sparse_ae,
    vae,
    vqvae,
)
from aezoo.models._spec import BaseConfig, ModelSpec, Phase

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


def get(name: str, **overrides: Any) -> tuple[ModelSpec, nn.Module]:
    """``(spec, module)`` for model ``name`` with config fields overridden by keyword."""
    spec = get_spec(name)
    _, module = spec.make(**overrides)
    return spec, module


__all__ = ["MODELS", "BaseConfig", "ModelSpec", "Phase", "get", "get_spec"]
