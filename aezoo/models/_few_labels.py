"""What a model that learns from a few labels adds to its config, and how it prepares its
training split (``m2``, ``cat_aae``): every image, all but N labels hidden."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from aezoo import data
from aezoo._validate import option
from aezoo.models._spec import BaseConfig

MAX_SEED = 2**32 - 1


@dataclasses.dataclass(frozen=True)
class FewLabelsConfig(BaseConfig):
    """The semi-supervised settings (``--labels N --label-seed S --labelled-share F``)."""

    labels: int | None = option(
        None,
        "keep the labels of N training images (N / classes per class, drawn with "
        "--label-seed) and hide the others (-1; 0 hides every label: unsupervised)",
        low=0,
        metavar="N",
    )
    label_seed: int = option(0, "with --labels: seed of the label draw", low=0, high=MAX_SEED)
    labelled_share: float = option(
        0.1,
        "with --labels: repeat the labelled images so that they are this share of each "
        "epoch (so of each batch, on average)",
        low=0.0,
        high=1.0,
        open="both",
    )


def hide_labels(
    config: FewLabelsConfig, images: Any, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The training split as the model learns from it: with ``labels`` set, all but N
    labels hidden and the labelled rows repeated to ``labelled_share``
    (:func:`aezoo.data.few_labels`); unchanged otherwise."""
    if config.labels is None:
        return images, labels
    images, labels, _ = data.few_labels(
        np.asarray(images), labels, config.labels, config.label_seed, config.labelled_share
    )
    return images, labels


__all__ = ["FewLabelsConfig", "hide_labels"]
