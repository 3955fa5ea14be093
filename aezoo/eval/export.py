"""The ``export`` evaluator: a run's codes as a dataset of vectors.

``aezoo eval RUN --export-codes PATH`` (alone, it runs only this evaluator). The codes
(posterior means; an AE's code) of the run's training and test splits, in grey levels (as
the tasks encode them), with their labels, go to one ``.npz`` with the keys of a
``--dataset npz:PATH`` source (``x_train``, ``y_train``, ``x_test``, ``y_test``), rows in the
order of the run's dataset. A second model trained on it is stacked on the first: M1+M2 of
Kingma et al. (2014) is ``aezoo train m2 --dataset npz:PATH --likelihood gaussian``.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
from typing import Any

import numpy as np

from aezoo import data
from aezoo._files import atomic_write
from aezoo._validate import Options, option, output_file
from aezoo.errors import AezooError
from aezoo.eval._evaluator import Context, Evaluator
from aezoo.eval.likelihood import encode_and_reconstruct
from aezoo.eval.run import load_split


@dataclasses.dataclass(frozen=True)
class ExportOptions(Options):
    export_codes: str | None = option(
        None,
        "export: the .npz of the train and test codes and labels (--dataset npz:PATH, "
        "M1+M2); alone, it runs only the export evaluator",
    )
    overwrite: bool = option(False, "export: replace an existing --export-codes file")


def _target(context: Context) -> pathlib.Path:
    path = context.options["export_codes"]
    if path is None:
        raise AezooError("the export evaluator needs --export-codes PATH (an .npz to write)")
    return output_file(
        path,
        "--export-codes",
        overwrite=context.options["overwrite"],
        datasets=data.source_paths(context.m.record.dataset_name),
    )


def _check(context: Context) -> str | None:
    try:
        _target(context)
    except AezooError as e:
        return str(e)
    return None


def _run(context: Context) -> dict[str, Any]:
    """Writes the codes of the run's train and test splits; a semi-supervised model encodes
    without the labels (its classifier's guess), a conditional one with them."""
    m, out = context.m, _target(context)
    dataset = m.record.dataset_name
    arrays, results = {}, {}
    for split in ("train", "test"):
        x, y = load_split(m, split, context.source)
        given = np.full_like(y, -1) if m.spec.semi_supervised else y
        z = encode_and_reconstruct(m.spec, m.module, m.params, x, given)["code"]
        arrays[f"x_{split}"], arrays[f"y_{split}"] = z.astype(np.float32), y
        results[f"export/{split}_rows"], results["export/code_size"] = z.shape
        context.say(f"export: {dataset}/{split}: {z.shape[0]} codes of {z.shape[1]}")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(out, buffer.getvalue())
    context.say(f"wrote {out}; train on it: --dataset npz:{out}")
    return {**results, "export/path": str(out)}


EVALUATOR = Evaluator(
    "export",
    "the codes and labels of the train and test splits to --export-codes PATH (.npz), a "
    "dataset for --dataset npz:PATH (M1+M2)",
    _run,
    needs=("encode",),
    default=False,
    options_cls=ExportOptions,
    check=_check,
)


__all__ = ["EVALUATOR"]
