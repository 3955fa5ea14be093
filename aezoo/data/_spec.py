"""The dataset registry: one :class:`DatasetSpec` per named dataset. A dataset is a value
(its name, a description, its kind, a loader, default epochs, whether it is binary, its
ground-truth factors where known); ``aezoo list``, the loader, the default epochs, the
binarization and the disentanglement metrics all read it, so a dataset registered by a
plug-in (``aezoo.data.DATASETS.register(DatasetSpec(...))``) is one like the others.

Any TFDS image-classification dataset is accepted by name without an entry; the entries of
kind ``tfds`` are the ones aezoo lists. Users' own files (``folder:``, ``npz:``, ``npy:``)
are sources, not entries (:mod:`aezoo.data._user`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from aezoo._registry import Registry
from aezoo.data import _dsprites, _frey, _patches
from aezoo.data._factors import GroundTruth, dsprites_truth
from aezoo.errors import ConfigError, DataError

KINDS = ("embedded", "procedural", "tfds", "packaged", "file", "plugin")

Loader = Callable[[str], tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One named dataset.

    Attributes:
      name: what ``--dataset`` calls it.
      description: one line for ``aezoo list`` and the docs.
      kind: ``embedded`` (inside a package), ``procedural`` (drawn in code), ``tfds`` (read
        from a prepared TFDS directory), ``packaged`` (photographs shipped in a package),
        ``file`` (a file the user provides, checked by its sha256) or ``plugin``.
      loader: ``split -> (images, labels)`` for ``"train"`` and ``"test"``: images uint8
        ``[N, H, W, C]`` (or float32 in [0, 1]), labels int ``[N]`` (-1 = unlabelled).
        Slices (``train[:1000]``), validation rows and multi-host rows are taken by aezoo.
        ``None`` for ``tfds`` (read through ``tfds.data_source``).
      default_epochs: the CLI's epochs when ``--epochs`` is not given.
      binary: the pixels are 0 or 255 already (no binarization for a Bernoulli decoder).
      factors: ``() -> GroundTruth`` for a dataset drawn from known factors (the
        disentanglement metrics need one); ``None``: not known.
    """

    name: str
    description: str
    kind: str
    loader: Loader | None = None
    default_epochs: int = 10
    binary: bool = False
    factors: Callable[[], GroundTruth] | None = None


def _check(spec: DatasetSpec) -> None:
    if not isinstance(spec, DatasetSpec):
        raise ConfigError(f"register takes a DatasetSpec; got {type(spec).__name__}")
    if spec.kind not in KINDS:
        raise ConfigError(
            f"dataset {spec.name}: kind must be one of {', '.join(KINDS)}; got {spec.kind!r}"
        )
    if (spec.loader is None) != (spec.kind == "tfds"):
        raise ConfigError(f"dataset {spec.name}: a loader is what every kind but tfds needs")
    if isinstance(spec.default_epochs, bool) or not isinstance(spec.default_epochs, int):
        raise ConfigError(f"dataset {spec.name}: default_epochs must be an integer")
    if spec.default_epochs < 1:
        raise ConfigError(f"dataset {spec.name}: default_epochs must be >= 1")


def _digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # 0..16 gray levels -> 0..255, as [N, 8, 8, 1] uint8.
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = bunch.target.astype(np.int32)
    # Fixed, deterministic 80/20 split, independent of any global random state.
    order = np.random.default_rng(0).permutation(len(labels))
    n_test = 360
    idx = order[n_test:] if split == "train" else order[:n_test]
    return np.ascontiguousarray(images[idx]), labels[idx]


def _dsprites_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels, _ = _dsprites.load_split(split)
    return images, labels


def _patches_spec(name: str, family: _patches.Family) -> DatasetSpec:
    return DatasetSpec(
        name,
        family.describe(),
        "packaged",
        lambda split: _patches.load(family, split),
        default_epochs=10,
    )


def _tfds(name: str, description: str) -> DatasetSpec:
    return DatasetSpec(name, f"{description}; TFDS (prepared data in $TFDS_DATA_DIR)", "tfds")


DATASETS: Registry[DatasetSpec] = Registry(
    "dataset",
    (
        DatasetSpec(
            "digits",
            "scikit-learn's 8x8 digits, embedded (no network)",
            "embedded",
            _digits,
            default_epochs=100,
        ),
        DatasetSpec(
            _dsprites.NAME,
            "dSprites (737,280 64x64 shapes), drawn in code, with factors",
            "procedural",
            _dsprites_split,
            default_epochs=1,
            binary=True,
            factors=dsprites_truth,
        ),
        DatasetSpec(
            _frey.NAME,
            "Frey faces (1,965 28x20 grey, no labels; Kingma & Welling's face manifold): a "
            "file you provide, sha256-checked ($AEZOO_DATASETS)",
            "file",
            _frey.load_split,
            default_epochs=100,
        ),
        DatasetSpec(
            _patches.NAME,
            "8x8 colour patches of scikit-image's photographs (train and test from different "
            "photographs); patchesN (N 8..32), _grey, _white (ZCA-whitened grey)",
            "packaged",
            lambda split: _patches.load(_patches.Family(), split),
            default_epochs=10,
        ),
        _tfds("mnist", "handwritten digits, 28x28 grey"),
        _tfds("fashion_mnist", "Zalando's clothes, 28x28 grey"),
        _tfds("kmnist", "Kuzushiji (cursive Japanese), 28x28 grey"),
        _tfds("emnist", "handwritten letters and digits, 28x28 grey"),
        _tfds("cifar10", "10 classes of objects, 32x32 colour"),
        _tfds("svhn_cropped", "house numbers, 32x32 colour"),
        _tfds("celeb_a", "celebrity faces, centre 148x148 to 64x64 colour, unlabelled"),
        _tfds("omniglot", "1,623 handwritten characters of 50 alphabets, 105x105 grey"),
    ),
    check=_check,
    name_of=lambda spec: getattr(spec, "name", None),
)
register_dataset = DATASETS.register
"""Add a dataset (a plug-in's); ``replace=True`` replaces one."""


def spec_of(name: str) -> DatasetSpec | None:
    """The entry of dataset ``name`` (None: a TFDS name or a user source). A member of the
    patches family (``patches16_grey``) is registered on first use."""
    if not isinstance(name, str):
        return None
    spec = DATASETS.get(name, None)
    family = _patches.parse(name) if spec is None else None
    if family is not None:
        spec = DATASETS.register(_patches_spec(name, family))
    return spec


def default_epochs(name: str) -> int:
    """The CLI's default number of epochs for dataset ``name`` (its entry's; else 10)."""
    spec = spec_of(name)
    return spec.default_epochs if spec is not None else 10


def is_binary(name: str | None) -> bool:
    """Whether dataset ``name``'s pixels are binary already (dsprites)."""
    spec = spec_of(name) if name is not None else None
    return spec is not None and spec.binary


def with_factors() -> tuple[str, ...]:
    """The datasets with ground-truth factors."""
    return DATASETS.having(lambda spec: spec.factors is not None)


def ground_truth(name: str) -> GroundTruth:
    """The ground-truth factors of dataset ``name`` (one-line :class:`DataError` if it has
    none)."""
    spec = spec_of(name)
    if spec is None or spec.factors is None:
        raise DataError(
            f"dataset {name!r} has no ground-truth factors; the disentanglement metrics need "
            f"one of: {', '.join(with_factors())}"
        )
    return spec.factors()


def dataset_lines() -> list[str]:
    """One line per dataset, as `aezoo list` prints them, and the user sources."""
    width = max(13, *map(len, DATASETS))
    lines = [f"  {spec.name:<{width}}  {spec.description}" for spec in DATASETS.values()]
    lines.append(
        f"  {'folder:PATH':<{width}}  your images (class subfolders = labels); npz:PATH, "
        "npy:PATH arrays"
    )
    return lines


__all__ = [
    "DATASETS",
    "KINDS",
    "DatasetSpec",
    "dataset_lines",
    "default_epochs",
    "ground_truth",
    "is_binary",
    "register_dataset",
    "spec_of",
    "with_factors",
]
