"""The feature network of the sample-quality metrics: a small conv classifier that aezoo
trains itself on a dataset's train split, its penultimate layer the feature space.

Inception weights cannot be fetched here and fit 28x28 digits poorly; a classifier trained
on the domain is the usual substitute, so the metrics are named after it
(``fd_mnist_cnn``: a Fréchet distance in this network's features on MNIST, comparable
across runs that use the same network, not with published FIDs). The network is trained
with a fixed seed and a fixed recipe (:data:`RECIPE`); training is deterministic, so the
same data and recipe give the same bytes. It is cached by content (the recipe, the code
version and the train split's hash) under ``$AEZOO_CACHE_DIR/features`` and rebuilt on
demand (``aezoo features DATASET --rebuild``); it is never committed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import time
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aezoo import data
from aezoo._files import atomic_write
from aezoo.errors import ConfigError
from aezoo.nn import Conv

VERSION = 1  # bump when the network or its training changes: the cache key changes with it


@dataclasses.dataclass(frozen=True)
class FeatureRecipe:
    """How the feature network is built and trained (all of it enters the cache key)."""

    channels: tuple[int, ...] = (32, 64)
    features: int = 128
    epochs: int = 6
    min_steps: int = 1500  # small datasets train for more epochs, to this many steps
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    shift: float = 0.07  # random translations up to this share of the side (2 px of 28)
    seed: int = 0

    def epochs_for(self, rows: int) -> int:
        """Epochs for ``rows`` training images: ``epochs``, or more to reach ``min_steps``."""
        per_epoch = rows // self.batch_size
        return max(self.epochs, -(-self.min_steps // per_epoch))

    def shift_for(self, shape: tuple[int, ...]) -> int:
        """The largest translation in pixels for images of ``shape`` (H, W, C)."""
        return round(self.shift * min(shape[0], shape[1]))


RECIPE = FeatureRecipe()


class FeatureNet(nn.Module):
    """Two 5x5 stride-2 convolutions (ReLU), a dense feature layer (ReLU), class logits.

    ``__call__(x)`` -> logits ``[B, classes]``; ``features(x)`` -> ``[B, features]``.
    """

    classes: int
    channels: tuple[int, ...] = RECIPE.channels
    width: int = RECIPE.features

    def setup(self) -> None:
        self.convs = [Conv(c, (5, 5), (2, 2)) for c in self.channels]
        self.dense = nn.Dense(self.width)
        self.head = nn.Dense(self.classes)

    def features(self, x: jax.Array) -> jax.Array:
        for conv in self.convs:
            x = nn.relu(conv(x))
        return nn.relu(self.dense(x.reshape(x.shape[0], -1)))

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(self.features(x))


@dataclasses.dataclass(frozen=True)
class Features:
    """A trained feature network: ``features(images)`` and ``logits(images)`` on uint8 or
    [0, 1] float images ``[N, H, W, C]`` (in batches, float32 numpy out)."""

    dataset: str
    module: FeatureNet
    params: Any
    test_accuracy: float
    path: pathlib.Path | None = None

    @property
    def name(self) -> str:
        """The metrics' suffix: ``fd_<name>``, ``precision_<name>``..."""
        return f"{_safe(self.dataset)}_cnn"

    def features(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        return self._map(images, "features", batch_size)

    def logits(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        return self._map(images, "__call__", batch_size)

    def _map(self, images: np.ndarray, method: str, batch_size: int) -> np.ndarray:
        fn = _apply_fn(self.module, method)
        out = [
            np.asarray(fn(self.params, _as_float(images[i : i + batch_size])))
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out)


_APPLY: dict[tuple[FeatureNet, str], Callable] = {}


def _apply_fn(module: FeatureNet, method: str) -> Callable:
    key = (module, method)
    if key not in _APPLY:
        _APPLY[key] = jax.jit(lambda p, x: module.apply({"params": p}, x, method=method))
    return _APPLY[key]


def _as_float(images: np.ndarray) -> jax.Array:
    """uint8 images to [0, 1]; float images as they are (already in [0, 1])."""
    x = jnp.asarray(np.asarray(images), jnp.float32)
    return x / 255.0 if np.asarray(images).dtype == np.uint8 else x


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "data"


def _shift(images: jax.Array, key: jax.Array, shift: int) -> jax.Array:
    """Each image translated by up to ``shift`` pixels each way (zero fill)."""
    if shift == 0:
        return images
    _, h, w, c = images.shape
    pad = ((0, 0), (shift, shift), (shift, shift), (0, 0))
    padded = jnp.pad(images, pad)
    offsets = jax.random.randint(key, (images.shape[0], 2), 0, 2 * shift + 1)

    def crop(image: jax.Array, offset: jax.Array) -> jax.Array:
        return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

    return jax.vmap(crop)(padded, offsets)


def _make_epoch(module: FeatureNet, tx: optax.GradientTransformation, batch_size: int, shift: int):
    """One jitted epoch (``lax.scan`` over the batches of a fresh permutation)."""

    def loss_fn(params, x, y):
        logits = module.apply({"params": params}, x)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    def epoch(params, opt_state, images, labels, key):
        steps = images.shape[0] // batch_size
        perm_key, shift_key = jax.random.split(key)
        idx = jax.random.permutation(perm_key, images.shape[0])[: steps * batch_size]
        idx = idx.reshape(steps, batch_size)

        def body(carry, inputs):
            params, opt_state = carry
            rows, k = inputs
            x = _shift(images[rows].astype(jnp.float32) / 255.0, k, shift)
            loss, grads = jax.value_and_grad(loss_fn)(params, x, labels[rows])
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        keys = jax.random.split(shift_key, steps)
        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), (idx, keys))
        return params, opt_state, jnp.mean(losses)

    return jax.jit(epoch, donate_argnums=(0, 1))


def _uint8(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _classes(labels: np.ndarray, dataset: str) -> int:
    data.check_labels(labels, what=f"{dataset} labels")
    y = np.asarray(labels)
    if y.size == 0 or y.min() < 0 or y.max() < 1:
        raise ConfigError(
            f"the feature network of {dataset} is a classifier: its train split needs labels "
            "of at least two classes on every row"
        )
    return int(y.max()) + 1


def train(
    dataset: str,
    train_split: tuple[np.ndarray, np.ndarray],
    test_split: tuple[np.ndarray, np.ndarray],
    *,
    recipe: FeatureRecipe = RECIPE,
    say: Callable[[str], None] = print,
) -> Features:
    """Train the feature network on ``train_split`` (images ``[N, H, W, C]``, integer labels)
    and score it on ``test_split``. Deterministic for a given recipe and data."""
    x, y = _uint8(train_split[0]), np.asarray(train_split[1], np.int32)
    classes = _classes(y, dataset)
    if len(x) < recipe.batch_size:
        raise ConfigError(f"{dataset}: {len(x)} training images, fewer than one batch")
    module = FeatureNet(classes=classes, channels=recipe.channels, width=recipe.features)
    init_key, key = jax.random.split(jax.random.key(recipe.seed))
    params = module.init(init_key, jnp.zeros((1, *x.shape[1:]), jnp.float32))["params"]
    epochs = recipe.epochs_for(len(x))
    schedule = optax.cosine_decay_schedule(
        recipe.learning_rate, epochs * (len(x) // recipe.batch_size)
    )
    tx = optax.adamw(schedule, weight_decay=recipe.weight_decay)
    opt_state = tx.init(params)
    epoch = _make_epoch(module, tx, recipe.batch_size, recipe.shift_for(x.shape[1:]))
    images, labels = jnp.asarray(x), jnp.asarray(y)
    start = time.perf_counter()
    every = max(1, epochs // 10)  # at most about ten progress lines
    for i in range(epochs):
        params, opt_state, loss = epoch(
            params, opt_state, images, labels, jax.random.fold_in(key, i)
        )
        if (i + 1) % every == 0 or i + 1 == epochs:
            say(
                f"feature network ({dataset}): epoch {i + 1}/{epochs}, loss {float(loss):.4f}, "
                f"{time.perf_counter() - start:.0f} s"
            )
    net = Features(dataset, module, params, 0.0)
    accuracy = accuracy_of(net, test_split)
    return dataclasses.replace(net, test_accuracy=accuracy)


def accuracy_of(net: Features, split: tuple[np.ndarray, np.ndarray]) -> float:
    """The classifier's accuracy on a labelled split."""
    predicted = np.argmax(net.logits(split[0]), axis=1)
    return float(np.mean(predicted == np.asarray(split[1])))


def cache_key(
    dataset: str, train_split: tuple[np.ndarray, np.ndarray], recipe: FeatureRecipe
) -> str:
    """What the cached network depends on: the recipe, the code version and the data."""
    h = hashlib.blake2b(digest_size=8)
    h.update(
        json.dumps({"version": VERSION, **dataclasses.asdict(recipe)}, sort_keys=True).encode()
    )
    h.update(data.fingerprints.fingerprint(_uint8(train_split[0]), train_split[1])["hash"].encode())
    return f"{_safe(dataset)}-{h.hexdigest()}"


def cache_root(cache_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The data cache's root (:func:`aezoo.data.cache_root`), then ``features/``."""
    return data.cache_root(cache_dir) / "features"


def _write_atomic(path: pathlib.Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, payload)


def _read_cached(path: pathlib.Path, module: FeatureNet, shape: tuple[int, ...]) -> Any | None:
    """The cached params, or None when there are none or they do not fit the network."""
    try:
        template = module.init(jax.random.key(0), jnp.zeros((1, *shape), jnp.float32))["params"]
        return flax.serialization.from_bytes(template, path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cached_accuracy(meta_path: pathlib.Path) -> float | None:
    """The test accuracy recorded beside cached params (None: missing or unreadable)."""
    try:
        return float(json.loads(meta_path.read_text())["test_accuracy"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load(
    dataset: str,
    train_split: tuple[np.ndarray, np.ndarray],
    test_split: tuple[np.ndarray, np.ndarray],
    *,
    cache_dir: str | os.PathLike | None = None,
    rebuild: bool = False,
    recipe: FeatureRecipe = RECIPE,
    say: Callable[[str], None] = print,
) -> Features:
    """The feature network of ``dataset`` trained on ``train_split`` (scored on
    ``test_split``): from the cache when its key matches, else trained (about a minute for
    MNIST on 2 CPU cores) and cached. ``rebuild`` retrains."""
    key = cache_key(dataset, train_split, recipe)
    path = cache_root(cache_dir) / f"{key}.msgpack"
    meta_path = path.with_suffix(".json")
    classes = _classes(np.asarray(train_split[1]), dataset)
    module = FeatureNet(classes=classes, channels=recipe.channels, width=recipe.features)
    params = None if rebuild else _read_cached(path, module, train_split[0].shape[1:])
    accuracy = None if params is None else _cached_accuracy(meta_path)
    if accuracy is not None:
        return Features(dataset, module, params, accuracy, path)
    net = train(dataset, train_split, test_split, recipe=recipe, say=say)
    _write_atomic(path, flax.serialization.to_bytes(net.params))
    meta = {
        "dataset": dataset,
        "test_accuracy": net.test_accuracy,
        "recipe": dataclasses.asdict(recipe),
        "version": VERSION,
        "key": key,
    }
    _write_atomic(meta_path, json.dumps(meta, indent=1).encode())
    say(f"feature network ({dataset}): test accuracy {net.test_accuracy:.4f}, cached in {path}")
    return dataclasses.replace(net, path=path)


def for_dataset(
    dataset: str,
    *,
    data_dir: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    rebuild: bool = False,
    say: Callable[[str], None] = print,
) -> Features:
    """:func:`load` on a dataset's train and test splits read by name (``aezoo features``)."""
    kw = {"data_dir": data_dir}
    train_split, test_split = data.load(dataset, "train", **kw), data.load(dataset, "test", **kw)
    return load(dataset, train_split, test_split, cache_dir=cache_dir, rebuild=rebuild, say=say)
