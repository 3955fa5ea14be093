"""Shared network blocks: MLP/conv encoders and decoders, Gaussian sampling."""

from aezoo.nn._conv import CONV_IMPLS, Conv, ConvTranspose, resolve_impl
from aezoo.nn._mlp import (
    ACTIVATIONS,
    ARCHS,
    COMPUTE_DTYPES,
    MLP,
    WIDENING,
    Decoder,
    Encoder,
    GaussianEncoder,
    check_images,
    make_decoder,
    make_encoder,
    reparameterize,
)

__all__ = [
    "ACTIVATIONS",
    "ARCHS",
    "COMPUTE_DTYPES",
    "CONV_IMPLS",
    "Conv",
    "ConvTranspose",
    "MLP",
    "WIDENING",
    "Decoder",
    "Encoder",
    "GaussianEncoder",
    "check_images",
    "make_decoder",
    "make_encoder",
    "reparameterize",
    "resolve_impl",
]
