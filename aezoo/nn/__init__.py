"""Shared network blocks: MLP/conv encoders and decoders, Gaussian sampling."""

from aezoo.nn._mlp import (
    ARCHS,
    MLP,
    Decoder,
    Encoder,
    GaussianEncoder,
    check_images,
    make_decoder,
    reparameterize,
)

__all__ = [
    "ARCHS",
    "MLP",
    "Decoder",
    "Encoder",
    "GaussianEncoder",
    "check_images",
    "make_decoder",
    "reparameterize",
]
