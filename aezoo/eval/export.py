"""``aezoo eval WORKDIR --export-codes PATH``: a run's codes as a dataset of vectors.

The codes (posterior means; an AE's code) of the run's training and test splits, in grey
levels (as the tasks encode them), with their labels, go to one ``.npz`` with the keys of a
``--dataset npz:PATH`` source (``x_train``, ``y_train``, ``x_test``, ``y_test``), rows in the
order of the run's dataset. A second model trained on it is stacked on the first: M1+M2 of
Kingma et al. (2014) is ``aezoo train m2 --dataset npz:PATH --likelihood gaussian``.
"""

from __future__ import annotations

import io
import pathlib
import sys
from typing import Any

import numpy as np

from aezoo import data
from aezoo._validate import writable_file
from aezoo.eval.likelihood import encode_and_reconstruct
from aezoo.eval.run import data_source, reloadable_dataset
from aezoo.train.load import load
from aezoo.train.workdir import atomic_write


def export_codes(
    workdir: str | pathlib.Path,
    path: str | pathlib.Path,
    *,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    best: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the codes of ``workdir``'s run for its train and test splits to ``path``;
    returns ``{split: (rows, code size)}``. A semi-supervised model encodes without the
    labels (its classifier's guess), a conditional one with them."""
    out = writable_file(path, "--export-codes")
    m = load(workdir, best=best)
    dataset = reloadable_dataset(m, workdir)
    source, arrays, shapes = data_source(m, data_dir, cache_dir), {}, {}
    for split in ("train", "test"):
        x, y = data.load(dataset, split, **source)
        x, y = np.asarray(x), np.asarray(y, np.int32)
        given = np.full_like(y, -1) if m.spec.semi_supervised else y
        z = encode_and_reconstruct(m.spec, m.module, m.params, x, given)["code"]
        arrays[f"x_{split}"], arrays[f"y_{split}"] = z.astype(np.float32), y
        shapes[split] = z.shape
        if progress:
            print(f"export: {dataset}/{split}: {z.shape[0]} codes of {z.shape[1]}", file=sys.stderr)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(out, buffer.getvalue())
    return shapes
