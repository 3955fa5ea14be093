"""Data: whole splits as uint8 host arrays, then on-device preprocessing."""

from aezoo.data import _fingerprint as fingerprints
from aezoo.data._factors import WITH_FACTORS, GroundTruth, ground_truth
from aezoo.data._labels import draw_labels, few_labels, repeats_for_share
from aezoo.data._preprocess import (
    BINARIZE_MODES,
    TEST_BINARIZATION_SEED,
    binarize,
    binarize_once,
    check_dataset,
    check_labels,
    default_binarize,
    for_device,
    is_vectors,
    model_input,
    to_float,
)
from aezoo.data._preview import format_summary, summarize, write_preview
from aezoo.data._sources import (
    DATASETS,
    EMBEDDED,
    PROCEDURAL,
    TFDS_IMAGE_DATASETS,
    clear_cache,
    dataset_lines,
    default_epochs,
    describe_source,
    has_own_val,
    load,
    num_examples,
)
from aezoo.data._user import DataOptions, cache_root, is_user_source, parse_image_size, source_paths

__all__ = [
    "DataOptions",
    "GroundTruth",
    "PROCEDURAL",
    "WITH_FACTORS",
    "ground_truth",
    "BINARIZE_MODES",
    "DATASETS",
    "EMBEDDED",
    "TEST_BINARIZATION_SEED",
    "TFDS_IMAGE_DATASETS",
    "binarize",
    "binarize_once",
    "check_dataset",
    "cache_root",
    "check_labels",
    "clear_cache",
    "dataset_lines",
    "default_binarize",
    "default_epochs",
    "describe_source",
    "draw_labels",
    "few_labels",
    "fingerprints",
    "for_device",
    "has_own_val",
    "is_user_source",
    "is_vectors",
    "load",
    "model_input",
    "num_examples",
    "parse_image_size",
    "repeats_for_share",
    "source_paths",
    "summarize",
    "format_summary",
    "write_preview",
    "to_float",
]
