"""What aezoo knows about the TFDS image sets it lists: how each is prepared (one line, for
the docs and the error of an unprepared set), where its labels are, and how its images are
made uniform (CelebA: PyTorch-VAE's centre crop; Omniglot: one channel).

Any other TFDS image-classification set is read as it is; ``--image-size`` and
``--center-crop`` resize any TFDS set as they resize a user's folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from aezoo.data._user import DataOptions, resize_image

BUILD = "tfds build {name} --data_dir $TFDS_DATA_DIR --file_format array_record"


@dataclasses.dataclass(frozen=True)
class TfdsSet:
    """One TFDS set's preparation and reading.

    Attributes:
      prepare: how to prepare it, one line (``{name}`` filled in).
      label: the feature that holds the class (None: unlabelled, labels -1).
      ignored: what is in the records and not read, in words (for the docs).
      grey: keep one channel (the set stores three equal ones).
      crop: a centred square of this side is cut first (None: no crop).
      size: ``(H, W)`` the images are resized to unless ``--image-size`` says otherwise.
    """

    prepare: str = (
        BUILD + " (downloads from the set's public site; needs TensorFlow: pip install "
        "'aezoo[prepare]')"
    )
    label: str | None = "label"
    ignored: str = ""
    grey: bool = False
    crop: int | None = None
    size: tuple[int, int] | None = None


SETS: dict[str, TfdsSet] = {
    "celeb_a": TfdsSet(
        prepare=BUILD + " (1.4 GB from Google Drive, often over its download quota: then put "
        "img_align_celeba.zip and the list files in TFDS's manual_dir)",
        label=None,
        ignored="the 40 attributes, landmarks and identity are not read (unlabelled, -1)",
        crop=148,
        size=(64, 64),
    ),
    "omniglot": TfdsSet(
        ignored="alphabet ids are not read; the label is the character (1,623 classes)",
        grey=True,
    ),
}


def info(name: str) -> TfdsSet:
    """What aezoo knows about TFDS set ``name`` (the defaults for a set it does not list)."""
    return SETS.get(name.split(":")[0].split("/")[0], TfdsSet())


def prepare_line(name: str) -> str:
    """How to prepare TFDS set ``name``, one line."""
    return info(name).prepare.format(name=name)


def transform(
    name: str, shape: tuple[int, ...], options: DataOptions
) -> tuple[tuple[int, ...], Callable[[np.ndarray], np.ndarray] | None]:
    """The stored image ``shape`` -> ``(shape read, per-image function or None)``: the set's
    own crop and channel choice, then ``--image-size`` / ``--center-crop``."""
    known = info(name)
    size = options.image_size or known.size
    if known.crop is None and size is None and not known.grey:
        return tuple(shape), None
    channels = 1 if known.grey else shape[-1]
    out = (*(size or shape[:2]), channels)

    def apply(image: np.ndarray) -> np.ndarray:
        if known.grey:
            image = image[..., :1]
        if known.crop is not None:
            top = (image.shape[0] - known.crop) // 2
            left = (image.shape[1] - known.crop) // 2
            image = image[top : top + known.crop, left : left + known.crop]
        if size is None:
            return image
        return resize_image(image, size, options.center_crop)

    return out, apply


__all__ = ["SETS", "TfdsSet", "info", "prepare_line", "transform"]
