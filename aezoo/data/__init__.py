"""Data: whole splits as uint8 host arrays, then on-device preprocessing."""

from aezoo.data._preprocess import (
    BINARIZE_MODES,
    TEST_BINARIZATION_SEED,
    binarize,
    binarize_once,
    check_dataset,
    default_binarize,
    model_input,
    to_float,
)
from aezoo.data._sources import (
    DATASETS,
    EMBEDDED,
    TFDS_IMAGE_DATASETS,
    clear_cache,
    default_epochs,
    load,
    num_examples,
)

__all__ = [
    "BINARIZE_MODES",
    "DATASETS",
    "EMBEDDED",
    "TEST_BINARIZATION_SEED",
    "TFDS_IMAGE_DATASETS",
    "binarize",
    "binarize_once",
    "check_dataset",
    "clear_cache",
    "default_binarize",
    "default_epochs",
    "load",
    "model_input",
    "num_examples",
    "to_float",
]
