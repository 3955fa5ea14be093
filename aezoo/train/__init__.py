"""Training: state, the jitted step and fused epoch, and the ``fit`` loop."""

from aezoo.train.checkpoint import Checkpointer
from aezoo.train.load import LoadedModel, load
from aezoo.train.loop import FitResult, TrainConfig, fit, load_params, save_params
from aezoo.train.state import TrainState, create_train_state, init_params
from aezoo.train.step import (
    epoch_batches,
    gather_batch,
    make_eval_fn,
    make_train_epoch,
    make_train_step,
)

__all__ = [
    "Checkpointer",
    "LoadedModel",
    "FitResult",
    "TrainConfig",
    "TrainState",
    "create_train_state",
    "epoch_batches",
    "fit",
    "gather_batch",
    "init_params",
    "load",
    "load_params",
    "make_eval_fn",
    "make_train_epoch",
    "make_train_step",
    "save_params",
]
