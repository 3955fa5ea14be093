"""Shared network blocks: MLP encoders/decoders and Gaussian sampling."""

from aezoo.nn._mlp import MLP, Decoder, Encoder, GaussianEncoder, check_images, reparameterize

__all__ = ["MLP", "Decoder", "Encoder", "GaussianEncoder", "check_images", "reparameterize"]
