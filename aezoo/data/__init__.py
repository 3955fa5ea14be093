"""Data: whole splits as uint8 host arrays, then on-device preprocessing."""

from aezoo.data import _fingerprint as fingerprints
from aezoo.data._factors import GroundTruth
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
    clear_cache,
    describe_source,
    has_own_val,
    load,
    num_examples,
)
from aezoo.data._spec import (
    DATASETS,
    DatasetSpec,
    dataset_lines,
    default_epochs,
    ground_truth,
    is_binary,
    register_dataset,
    spec_of,
    with_factors,
)
from aezoo.data._user import (
    DataOptions,
    absolute_source,
    cache_root,
    is_user_source,
    parse_image_size,
    source_paths,
)

__all__ = [
    "DataOptions",
    "GroundTruth",
    "ground_truth",
    "BINARIZE_MODES",
    "DATASETS",
    "DatasetSpec",
    "is_binary",
    "register_dataset",
    "spec_of",
    "with_factors",
    "TEST_BINARIZATION_SEED",
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
    "absolute_source",
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
