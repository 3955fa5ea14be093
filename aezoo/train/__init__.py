"""Training: the settings, the jitted step and fused epoch, the device programs, the loop.

``fit`` and ``TrainConfig`` are the entry points; the step builders are here for people who
write their own loop (see docs/python-api.md).
"""

from aezoo.train.checkpoint import Checkpointer
from aezoo.train.config import RunOptions, TrainConfig
from aezoo.train.figures import write_figures
from aezoo.train.load import LoadedModel, load
from aezoo.train.loop import FitResult, fit
from aezoo.train.parallel import create_train_states, make_vmapped_train_epoch
from aezoo.train.state import TrainState, create_train_state, init_params
from aezoo.train.step import (
    EVAL_SEED,
    GUARDED_METRICS,
    epoch_batches,
    gather_batch,
    make_eval_fn,
    make_train_epoch,
    make_train_step,
)
from aezoo.train.workdir import load_params, save_params

__all__ = [
    "EVAL_SEED",
    "write_figures",
    "GUARDED_METRICS",
    "Checkpointer",
    "FitResult",
    "RunOptions",
    "LoadedModel",
    "TrainConfig",
    "TrainState",
    "create_train_state",
    "create_train_states",
    "epoch_batches",
    "fit",
    "gather_batch",
    "init_params",
    "load",
    "load_params",
    "make_eval_fn",
    "make_train_epoch",
    "make_train_step",
    "make_vmapped_train_epoch",
    "save_params",
]
