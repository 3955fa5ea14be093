"""One source of settings: TrainConfig and its record, the option checks, the generated CLI
flags, and the metric writers (JSONL, progress line, TensorBoard)."""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import pytest

import aezoo
from aezoo import _validate
from aezoo.cli import parse
from aezoo.errors import ConfigError
from aezoo.train.config import TrainConfig, parse_sweep
from aezoo.train.writers import progress_line
from tests.conftest import SMALL_NET

SMALL = SMALL_NET


@pytest.mark.unit
def test_train_config_defaults_resolve_from_dataset_and_likelihood():
    assert TrainConfig(dataset="digits").resolved("bernoulli").epochs == 100
    assert TrainConfig(dataset="mnist").resolved("bernoulli").epochs == 10
    assert TrainConfig().resolved("bernoulli").binarize == "dynamic"
    assert TrainConfig().resolved("gaussian").binarize == "none"
    assert TrainConfig(binarize="static").resolved("gaussian").binarize == "static"
    assert TrainConfig(epochs=3).resolved("bernoulli").epochs == 3


@pytest.mark.unit
def test_train_config_record_round_trips_through_json():
    config = TrainConfig(epochs=3, seeds=2, sweep="beta=0.5,1", learning_rate=3e-4)
    record = json.loads(json.dumps(config.to_record()))
    assert record["sweep"] == {"beta": [0.5, 1.0]}
    assert TrainConfig.from_record(record) == config
    assert TrainConfig.from_record({**record, "from_a_later_version": 1}) == config


@pytest.mark.unit
def test_diff_names_only_the_settings_a_resume_may_not_change():
    saved = TrainConfig(epochs=3, keep=2, learning_rate=1e-3).to_record()
    resumable = TrainConfig(epochs=9, keep=5, checkpoint_every=2, fused=False, tensorboard=True)
    assert resumable.diff(saved) == []
    assert TrainConfig(epochs=3, learning_rate=0.5, seeds=2).diff(saved) == [
        "learning_rate 0.001 != 0.5",
        "seeds None != 2",
    ]


@pytest.mark.unit
def test_a_record_from_before_a_field_existed_resumes_with_its_default():
    tc = TrainConfig(dataset="digits", epochs=3)
    old = {k: v for k, v in tc.to_record().items() if k not in ("val_fraction", "keep_best")}
    assert tc.diff(old) == []
    assert TrainConfig(dataset="digits", val_fraction=0.2).diff(old) == ["val_fraction 0.0 != 0.2"]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": -1}, "epochs must be an integer >= 0; got -1"),
        ({"batch_size": 0}, "batch_size must be a positive integer; got 0"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer; got 2.5"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0; got 0.0"),
        ({"learning_rate": float("inf")}, "learning_rate must be a finite number > 0; got inf"),
        ({"learning_rate": "0.1"}, "learning_rate must be a finite number > 0; got '0.1'"),
        ({"seed": -1}, "seed must be an integer in [0, 4294967295]; got -1"),
        ({"binarize": "maybe"}, "unknown binarize mode 'maybe'; expected one of dynamic"),
        ({"on_nonfinite": "go"}, "unknown on_nonfinite policy 'go'; expected one of stop, skip"),
        ({"fused": "yes"}, "fused must be true or false; got 'yes'"),
        ({"seeds": 0}, "seeds must be a positive integer; got 0"),
        ({"sweep": {"beta": []}}, "sweep beta has no values"),
        ({"sweep": {"beta": [1], "lr": [1]}}, "sweep one setting at a time"),
        ({"sweep": {"beta": [1, 1.0]}}, "sweep beta values must be distinct"),
        ({"sweep": {"beta": [float("nan")]}}, "sweep beta values must be a finite number"),
    ],
)
def test_train_config_rejects_impossible_settings_in_one_line(kwargs, message):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.unit
def test_sweep_text_and_mapping_forms_agree():
    assert parse_sweep("beta=0.5, 1,2") == {"beta": (0.5, 1.0, 2.0)}
    assert TrainConfig(sweep={"learning_rate": [1e-3, 3e-3]}).sweep == {"lr": (1e-3, 3e-3)}
    assert TrainConfig(sweep="beta=1,2") == TrainConfig(sweep={"beta": [1, 2]})


@dataclasses.dataclass(frozen=True)
class _Example:
    count: int = _validate.option(1, "a count", low=1)
    weight: float = _validate.option(0.5, "in (0, 1)", low=0.0, high=1.0, open="both")
    shift: float | None = _validate.option(None, "anything finite or unset")
    name: str = _validate.option("a", "a name", choices=("a", "b"))
    widths: tuple[int, ...] = _validate.option((4,), "widths")
    layers: tuple[int, ...] = _validate.option((), "widths, none allowed", empty=True)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("count", 0, "count must be a positive integer; got 0"),
        ("count", True, "count must be a positive integer; got True"),
        ("weight", 1.0, "weight must be a finite number in (0, 1); got 1.0"),
        ("weight", float("nan"), "weight must be a finite number in (0, 1); got nan"),
        ("shift", float("-inf"), "shift must be a finite number; got -inf"),
        ("name", "c", "unknown name 'c'; expected one of a, b"),
        ("widths", (4, 0), "widths entries must be a positive integer; got 0"),
        ("widths", (), "widths must be a non-empty list of positive integers; got ()"),
        ("layers", (2, -1), "layers entries must be a positive integer; got -1"),
        ("layers", 3, "layers must be a list of positive integers; got 3"),
    ],
)
def test_check_fields_reads_each_fields_metadata(field, value, message):
    _validate.check_fields(_Example())  # the defaults pass
    _validate.check_fields(_Example(shift=None))
    with pytest.raises(ConfigError, match=None) as info:
        _validate.check_fields(dataclasses.replace(_Example(), **{field: value}))
    assert str(info.value) == message


@pytest.mark.unit
def test_every_training_setting_has_its_generated_flag():
    argv = [
        "train",
        "vae",
        "--lr",
        "0.01",
        "--seeds",
        "2",
        "--per-step",
        "--tensorboard",
        "--sweep",
        "lr=0.1,0.2",
        "--epochs",
        "3",
        "--latent-dim",
        "5",
    ]
    args = parse(argv)
    assert (args.learning_rate, args.seeds, args.fused, args.tensorboard) == (0.01, 2, False, True)
    assert (args.sweep, args.epochs, args.latent_dim) == ("lr=0.1,0.2", 3, 5)
    untouched = parse(["train", "vae"])
    for f in dataclasses.fields(TrainConfig):
        assert getattr(untouched, f.name) is None, f.name  # left out = not given (resume)
    from aezoo import _parsers

    text = _parsers.train("aezoo train vae", "vae").format_help()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.metadata.get("flag", f.name.replace("_", "-"))
        assert flag in text, flag


@pytest.mark.unit
def test_progress_line_for_one_model_and_for_members():
    one = {
        "epoch": 2,
        "train/loss": 1.23456,
        "test/loss": 2.5,
        "examples_per_sec": 1000.4,
        "seconds": 0.5,
        "compile_seconds": 1.26,
    }
    assert progress_line([one], 10) == (
        "epoch 2/10  train/loss 1.235  test/loss 2.500  1000 ex/s  0.50s  (compile 1.3s)"
    )
    two = [{**one, "train/loss": 1.0, "train/skipped": 2}, {**one, "train/loss": 3.0}]
    line = progress_line(two, 10)
    assert line.startswith("epoch 2/10  x2  train/loss 2.000 +/- 1.414  test/loss 2.500 +/- 0")
    assert "1000 ex/s (all members)" in line and "skipped 2" in line


def _event_scalars(path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar in a TensorBoard event file (TFRecord framing:
    length, its CRC, the Event proto, its CRC)."""
    from tensorboardX.proto import event_pb2

    data, out, at = path.read_bytes(), [], 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = event_pb2.Event.FromString(data[at + 12 : at + 12 + length])
        at += 12 + length + 4
        out += [(v.tag, event.step, v.simple_value) for v in event.summary.value]
    return out


@pytest.mark.slow
@pytest.mark.optax
def test_tensorboard_events_hold_the_recorded_metrics(digits, tmp_path):
    train, test = digits
    kw = {"model_config": SMALL, "epochs": 2, "batch_size": 128, "progress": False}
    aezoo.fit("vae", train, test, workdir=tmp_path / "one", tensorboard=True, **kw)
    records = [json.loads(s) for s in (tmp_path / "one/metrics.jsonl").read_text().splitlines()]
    (events,) = (tmp_path / "one/tensorboard").glob("events.out.tfevents.*")
    scalars = {(tag, step): value for tag, step, value in _event_scalars(events)}
    for r in records:
        for key in ("train/loss", "test/loss", "train/grad_norm"):
            assert scalars[key, r["step"]] == pytest.approx(r[key], rel=1e-6)
    aezoo.fit("vae", train, test, workdir=tmp_path / "two", tensorboard=True, seeds=2, **kw)
    dirs = sorted(p.name for p in (tmp_path / "two/tensorboard").iterdir())
    assert dirs == ["seed0", "seed1"]  # one TensorBoard run per member
    losses = [
        v
        for t, _, v in _event_scalars(next((tmp_path / "two/tensorboard/seed1").iterdir()))
        if t == "train/loss"
    ]
    assert len(losses) == 2 and np.all(np.isfinite(losses))
