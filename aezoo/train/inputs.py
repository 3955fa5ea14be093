"""The data a run trains on, checked and placed: one-line errors for splits the run cannot
use, the labels a model accepts, the fingerprints of a user source's splits, and the rows
on the device mesh."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from aezoo import data
from aezoo.errors import AezooError, ConfigError, ShapeError
from aezoo.models import BaseConfig, ModelSpec
from aezoo.train import sharding
from aezoo.train.config import TrainConfig
from aezoo.train.sharding import LocalRows
from aezoo.train.step import check_batch

Arrays = tuple[np.ndarray, np.ndarray]
Split = Arrays | LocalRows


def fingerprints(
    train_config: TrainConfig, splits: Mapping[str, Split | None]
) -> dict[str, dict[str, Any]]:
    """The data fingerprint of every split of a user source (``folder:`` / ``npz:`` /
    ``npy:``, the data that can change behind its name; named datasets are versioned or
    drawn in code) given whole: a part of a split, or one process's rows, is not the split a
    reader will load by name."""
    name = train_config.dataset
    if not data.is_user_source(name):
        return {}
    options = train_config.data_options()
    return {
        split: data.fingerprints.fingerprint(*arrays)
        for split, arrays in splits.items()
        if arrays is not None
        and not isinstance(arrays, LocalRows)
        and len(arrays[0]) == _rows_by_name(name, split, options)
    }


def _rows_by_name(name: str, split: str, options: data.DataOptions) -> int | None:
    """How many rows ``split`` of ``name`` holds when read by name (None: it cannot be)."""
    try:
        return data.num_examples(name, split, options=options)
    except AezooError:
        return None


def check_splits(
    train: Split, test: Split | None, what: str = "test"
) -> tuple[Split, Split | None, tuple]:
    """One-line errors for unusable training/test data; returns both splits (labels None
    becomes -1, unlabelled) and the image shape."""
    train, test = _labelled(train, "training"), _labelled(test, what)
    images, labels = arrays(train)
    data.check_dataset(images, labels, what="training images")
    if test is not None:
        data.check_dataset(*arrays(test), what=f"{what} images")
        if tuple(arrays(test)[0].shape[1:]) != tuple(images.shape[1:]):
            raise ShapeError(
                f"{what} images {tuple(arrays(test)[0].shape[1:])} differ in shape from "
                f"training images {tuple(images.shape[1:])}"
            )
    return train, test, tuple(int(d) for d in images.shape[1:])


def _labelled(split: Any, what: str) -> Any:
    if split is None or isinstance(split, LocalRows):
        return split
    if not isinstance(split, tuple | list) or len(split) != 2:
        raise ShapeError(
            f"{what} data must be an (images, labels) pair, e.g. from aezoo.data.load; "
            f"got {type(split).__name__}"
        )
    images, labels = split
    if labels is None:
        labels = np.full(np.shape(images)[0] if np.ndim(images) else 0, -1, np.int32)
    return images, labels


def num_examples(split: Split) -> int:
    return split.num_examples if isinstance(split, LocalRows) else len(split[0])


def arrays(split: Split) -> Arrays:
    return (split.images, split.labels) if isinstance(split, LocalRows) else split


def model_split(spec: ModelSpec, config: BaseConfig, train: Split) -> Split:
    """The training split as the model prepares it (``spec.training_split``: e.g. all but
    ``--labels N`` labels hidden)."""
    if spec.training_split is None:
        return train
    if isinstance(train, LocalRows):
        raise ConfigError(
            f"{spec.name} prepares its training split from the whole split; train it in one process"
        )
    return spec.training_split(config, *train)


def check_data_fits_model(
    spec: ModelSpec, config: BaseConfig, train: Split, test: Split | None
) -> None:
    """Tabular vectors need a real-valued likelihood; a conditional model, labels in range
    (a semi-supervised one accepts -1, unlabelled)."""
    if data.is_vectors(config.image_shape) and config.likelihood not in (
        "gaussian",
        "gaussian_pixel",
    ):
        raise ConfigError(
            f"tabular vectors {tuple(config.image_shape)} are real-valued: train them with "
            f"--likelihood gaussian or gaussian_pixel, not {config.likelihood}"
        )
    accepted = spec.label_range(config)
    for split_name, split in (("training", train), ("test", test)):
        if accepted is not None and split is not None:
            labels = arrays(split)[1]
            lo, hi = int(np.min(labels)), int(np.max(labels))
            if lo < accepted[0] or hi > accepted[1]:
                raise ConfigError(
                    f"{split_name} labels span {lo}..{hi} but the model is conditioned on "
                    f"{accepted[1] + 1} classes (labels 0..{accepted[1]})"
                )


def place(split: Split, mesh) -> tuple[jax.Array, jax.Array]:
    """A split as global uint8 images and int32 labels, rows sharded over ``mesh``."""
    images, labels = arrays(split)
    layout = sharding.row_layout(num_examples(split), mesh)
    if isinstance(split, LocalRows):
        if split.start != layout.start or len(images) != layout.real_stop - layout.start:
            raise ConfigError(
                f"process {jax.process_index()} was given rows {split.start}.."
                f"{split.start + len(images)} but owns rows {layout.start}..{layout.real_stop} "
                "on this mesh (load them with aezoo.train.sharding.load_local_rows)"
            )
    else:
        images = images[layout.start : layout.real_stop]
        labels = labels[layout.start : layout.real_stop]
    x = sharding.put_rows(data.for_device(images), layout, mesh)
    y = sharding.put_rows(np.asarray(labels, np.int32), layout, mesh)
    return x, y


def binarize_on(x: jax.Array, mode: str, mesh) -> jax.Array:
    """:func:`aezoo.data.binarize_once` of the global array, computed where its rows live."""
    if mode == "none":
        return x
    binarize = functools.partial(data.binarize_once, mode=mode)
    return jax.jit(binarize, out_shardings=sharding.row_sharding(mesh))(x)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A run's data and settings, checked and resolved: the training split as the model
    prepares it, the per-epoch evaluation split (``val`` when given, else ``test``), the
    model config with the data's image shape, the resolved training settings and the
    fingerprints of a user source's splits."""

    train: Split
    held: Split | None
    config: BaseConfig
    train_config: TrainConfig
    fingerprints: dict[str, dict[str, Any]]
    eval_prefix: str  # the held-out split's name in the metrics: "val" or "test"


def prepare(
    spec: ModelSpec,
    train: Split,
    test: Split | None,
    val: Split | None,
    train_config: TrainConfig,
    model_config: BaseConfig | Mapping[str, Any] | None,
) -> Prepared:
    """Check the splits and the settings against each other (one line each) and resolve
    them: what every program is built from."""
    if val is not None:
        train, val, _ = check_splits(train, val, what="validation")
    train, test, image_shape = check_splits(train, test)
    found = fingerprints(train_config, {"train": train, "test": test, "val": val})
    if isinstance(model_config, BaseConfig):
        config = dataclasses.replace(model_config, image_shape=image_shape)
    else:
        config = spec.make_config(**{**dict(model_config or {}), "image_shape": image_shape})
    train_config = train_config.resolved(config.likelihood)
    train = model_split(spec, config, train)
    check_batch(train_config.batch_size, num_examples(train))
    held = test if val is None else val
    check_data_fits_model(spec, config, train, held)
    return Prepared(train, held, config, train_config, found, "test" if val is None else "val")


__all__ = [
    "Arrays",
    "Prepared",
    "Split",
    "arrays",
    "binarize_on",
    "check_data_fits_model",
    "check_splits",
    "fingerprints",
    "model_split",
    "num_examples",
    "place",
    "prepare",
]
