"""Ground-truth factors of variation: what the disentanglement metrics sample and score."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from aezoo.data import _dsprites


@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """A dataset whose images are a function of known discrete factors.

    Attributes:
      name: the dataset.
      factor_names: the factors the metrics score (dSprites: shape, scale, orientation,
        posX, posY; its one colour is left out, as in disentanglement_lib).
      factor_sizes: how many values each takes.
      observe: factor class indices int ``[N, K]`` -> images ``[N, H, W, C]`` (uint8, or float
        in [0, 1]); ``observations_from_factors`` in disentanglement_lib.
    """

    name: str
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    observe: Callable[[np.ndarray], np.ndarray]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` factor vectors drawn uniformly and independently: int32 ``[n, K]``."""
        return np.stack([rng.integers(0, s, n) for s in self.factor_sizes], axis=1).astype(np.int32)


def dsprites_truth() -> GroundTruth:
    def observe(factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors)
        color = np.zeros((len(factors), 1), factors.dtype)
        return _dsprites.images_from_factors(np.concatenate([color, factors], axis=1))

    return GroundTruth(
        _dsprites.NAME, _dsprites.FACTOR_NAMES[1:], _dsprites.FACTOR_SIZES[1:], observe
    )
