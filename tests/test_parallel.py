"""Scaling out: vmapped members (seeds, sweeps), data parallel meshes, multi-process runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import chex
import jax
import numpy as np
import pytest

from aezoo import load
from aezoo.errors import CheckpointError, ConfigError
from aezoo.models import MODELS
from aezoo.models._spec import sweepable
from aezoo.train import fit, load_params
from aezoo.train.config import parse_sweep
from aezoo.train.members import summarize_members, summary_markdown
from aezoo.train.sharding import leaf_spec, make_mesh, row_layout

SMALL = {"hidden_dims": (64,), "latent_dim": 4}
FIT = {"epochs": 1, "batch_size": 64, "progress": False, "figures": False}
TOL = {"atol": 2e-5, "rtol": 1e-4}


def _max_diff(a, b) -> float:
    leaves = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in leaves)


@pytest.mark.optax
@pytest.mark.slow
def test_vmapped_member_equals_single_run(digits, tmp_path):
    train, test = digits
    many = fit("vae", train, test, model_config=SMALL, seed=2, seeds=2, workdir=tmp_path, **FIT)
    assert [m.seed for m in many.members] == [2, 3]
    chex.assert_tree_shape_prefix(many.state.params, (2,))
    for i, seed in enumerate([2, 3]):
        single = fit("vae", train, test, model_config=SMALL, seed=seed, **FIT)
        chex.assert_trees_all_close(many.member_params(i), single.params, **TOL)
        rec = [r for r in many.history if r["member"] == i][-1]
        assert rec["seed"] == seed
        np.testing.assert_allclose(rec["test/loss"], single.history[-1]["test/loss"], rtol=1e-5)
        np.testing.assert_allclose(rec["train/loss"], single.history[-1]["train/loss"], rtol=1e-5)
    # The two members are different models.
    assert _max_diff(many.member_params(0), many.member_params(1)) > 1e-2


@pytest.mark.optax
@pytest.mark.parametrize(
    ("model", "name", "values", "pick"),
    [("beta_vae", "beta", [0.5, 3.0], 1), ("vae", "lr", [3e-3, 1e-3], 0)],
)
@pytest.mark.slow
def test_sweep_member_equals_single_run(digits, model, name, values, pick):
    train, test = digits
    many = fit(model, train, test, model_config=SMALL, seed=1, seeds=1, sweep={name: values}, **FIT)
    value = values[pick]
    kw = {"learning_rate": value} if name == "lr" else {}
    cfg = dict(SMALL) if name == "lr" else {**SMALL, name: value}
    single = fit(model, train, test, model_config=cfg, seed=1, **kw, **FIT)
    assert many.members[pick].sweep_value == value
    chex.assert_trees_all_close(many.member_params(pick), single.params, **TOL)
    other = many.member_params(1 - pick)
    assert _max_diff(other, single.params) > 1e-3  # the swept value changed the training


@pytest.mark.optax
@pytest.mark.parametrize(
    ("model", "field"),
    [(m, f) for m, spec in MODELS.items() for f in sweepable(spec.config_cls)],
)
@pytest.mark.slow
def test_every_sweepable_field_traces(digits, model, field):
    """Each field marked sweepable runs as a traced value and changes the result."""
    train, _ = digits
    spec = MODELS[model]
    default = getattr(spec.config_cls(), field)
    values = [default, default * 0.5] if default else [0.0, 0.5]
    extra = {"penalty": "kl"} if field in ("rho", "kl_weight") else {}
    if field == "ema_decay":
        extra = {"codebook_update": "ema"}
    if field == "c_max":
        # |KL - C| has the same gradient for every C above the KL: sweep 0 against the
        # default, reached within the run's few steps.
        values, extra = [default, 0.0], {"capacity_steps": 2}
    many = fit(
        model,
        (train[0][:256], train[1][:256]),
        model_config={**SMALL, **extra},
        sweep={field: values},
        **FIT,
    )
    losses = [r["train/loss"] for r in many.history]
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert _max_diff(many.member_params(0), many.member_params(1)) > 0


@pytest.mark.optax
@pytest.mark.slow
def test_members_workdir_summary_and_resume(digits, tmp_path):
    train, test = digits
    kw = {**FIT, "model_config": SMALL, "seeds": 2, "sweep": {"beta": [1.0, 2.0]}}
    full = fit("beta_vae", train, test, workdir=tmp_path / "full", **{**kw, "epochs": 2})
    # metrics.jsonl: one line per member and epoch, with its seed and swept value.
    lines = [json.loads(s) for s in (tmp_path / "full/metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 4
    assert {(r["beta"], r["seed"]) for r in lines} == {(1.0, 0), (1.0, 1), (2.0, 0), (2.0, 1)}
    # summary: mean and sample std over the seeds of each beta, from the per-member values.
    summary = json.loads((tmp_path / "full/summary.json").read_text())
    assert [row["beta"] for row in summary] == [1.0, 2.0]
    for row in summary:
        xs = [r["test/loss"] for r in lines if r["epoch"] == 2 and r["beta"] == row["beta"]]
        np.testing.assert_allclose(row["test/loss"]["mean"], np.mean(xs), rtol=1e-6)
        np.testing.assert_allclose(row["test/loss"]["std"], np.std(xs, ddof=1), rtol=1e-6)
    assert "| beta | seeds |" in (tmp_path / "full/summary.md").read_text()
    # Each member directory is a single run: loadable, same params, own config.
    member = tmp_path / "full/members/beta2-seed1"
    config = json.loads((member / "config.json").read_text())
    assert config["model_config"]["beta"] == 2.0 and config["train"]["seed"] == 1
    chex.assert_trees_all_close(load_params(member / "params.msgpack"), full.member_params(3))
    m = load(member)
    assert m.encode(np.asarray(test[0][:3]))["z_mean"].shape == (3, 4)
    with pytest.raises(CheckpointError, match="holds 4 vmapped models; load one of them"):
        load(tmp_path / "full")
    # Resume: 1 epoch, then resumed to 2, equals the uninterrupted 2-epoch run exactly.
    fit("beta_vae", train, test, workdir=tmp_path / "split", **kw)
    resumed = fit(
        "beta_vae", train, test, workdir=tmp_path / "split", resume=True, **{**kw, "epochs": 2}
    )
    chex.assert_trees_all_equal(resumed.state.params, full.state.params)


def test_sweep_and_seed_errors():
    with pytest.raises(ConfigError, match="sweepable are lr, beta"):
        fit(
            "beta_vae",
            (np.zeros((8, 8, 8, 1), np.uint8), np.zeros(8)),
            batch_size=4,
            sweep={"latent_dim": [2]},
        )
    with pytest.raises(ConfigError, match="distinct"):
        fit(
            "vae",
            (np.zeros((8, 8, 8, 1), np.uint8), np.zeros(8)),
            batch_size=4,
            sweep={"lr": [0.1, 0.1]},
        )
    with pytest.raises(ConfigError, match="seeds must be a positive integer"):
        fit("vae", (np.zeros((8, 8, 8, 1), np.uint8), np.zeros(8)), batch_size=4, seeds=0)
    with pytest.raises(ConfigError, match="beta must be a finite number >= 0"):
        fit(
            "beta_vae",
            (np.zeros((8, 8, 8, 1), np.uint8), np.zeros(8)),
            batch_size=4,
            sweep={"beta": [-1.0]},
        )
    with pytest.raises(ConfigError, match="must be numbers"):
        parse_sweep("beta=a,b")
    with pytest.raises(ConfigError, match="NAME=V1"):
        parse_sweep("beta")
    assert parse_sweep("contraction-weight=0.1,1") == {"contraction_weight": (0.1, 1.0)}
    assert parse_sweep("learning_rate=0.1,1") == {"lr": (0.1, 1.0)}


def test_summary_groups_by_value():
    from aezoo.train.members import Member

    members = [Member(0, 0, "a", 1.0), Member(1, 1, "b", 1.0), Member(2, 0, "c", 2.0)]
    history = [{"epoch": 1, "member": i, "test/loss": v} for i, v in enumerate([1.0, 3.0, 5.0])]
    rows = summarize_members(history, members, "beta")
    assert rows[0]["test/loss"]["mean"] == 2.0 and rows[0]["test/loss"]["std"] == np.sqrt(2)
    assert rows[1]["test/loss"] == {"mean": 5.0, "std": 0.0, "values": [5.0]}
    rows[0]["epoch"] = rows[1]["epoch"] = 1
    table = summary_markdown(rows, "beta").splitlines()
    assert table[-2].endswith(f"| 2.000 +/- {np.sqrt(2):.3f} |")
    assert table[-1].endswith("| 5.000 |")  # one seed: no spread


def test_fsdp_rule_and_row_layout():
    from jax.sharding import PartitionSpec as P

    assert leaf_spec((784, 512), 4, True) == P("data", None)  # the largest that 4 divides
    assert leaf_spec((30, 512), 4, True) == P(None, "data")
    assert leaf_spec((20,), 4, True) == P("data")
    assert leaf_spec((3, 5), 4, True) == P()
    assert leaf_spec((784, 512), 4, False) == P()
    layout = row_layout(1437, make_mesh(1))
    assert (layout.padded, layout.start, layout.stop, layout.real_stop) == (1437, 0, 1437, 1437)


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    return env


@pytest.mark.slow
def test_four_devices_equal_one_device(tmp_path):
    """Data parallel on 4 forced CPU devices (batch sharded; params replicated or FSDP;
    fused and per-step) matches 1 device with the same global batch; vmapped members split
    over the 4 devices match the members on one device."""
    code = textwrap.dedent(
        """
        import json, sys, jax, numpy as np
        from aezoo import data
        from aezoo.errors import CheckpointError, ConfigError
        from aezoo.train import fit
        assert jax.device_count() == 4
        tr, te = data.load("digits", "train"), data.load("digits", "test")
        kw = dict(epochs=2, batch_size=64, progress=False, figures=False,
                  model_config={"hidden_dims": (64,), "latent_dim": 4})
        runs = {
            "one": fit("vae", tr, te, devices=1, **kw),
            "four": fit("vae", tr, te, devices=4, workdir=sys.argv[1], **kw),
            "fsdp": fit("vae", tr, te, devices=4, shard_params=True, **kw),
            "four_step": fit("vae", tr, te, devices=4, fused=False, **kw),
        }
        one = jax.tree.leaves(runs["one"].params)
        out = {}
        for name, r in runs.items():
            out[name] = {
                "diff": max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                            for a, b in zip(one, jax.tree.leaves(r.params))),
                "test": r.history[-1]["test/loss"],
                "specs": sorted({str(x.sharding.spec) for x in jax.tree.leaves(r.params)}),
                "ndev": len(jax.tree.leaves(r.params)[0].sharding.device_set),
            }
        try:
            fit("vae", tr, te, devices=4, **{**kw, "batch_size": 66})
        except ConfigError as e:
            out["error"] = str(e)
        # Members split over the devices (default: all 4 for 4 members) == on one device.
        kw1 = {**kw, "epochs": 1}
        m1 = fit("vae", tr, te, seeds=4, devices=1, **kw1)
        m4 = fit("vae", tr, te, seeds=4, **kw1)
        leaf = jax.tree.leaves(m4.state.params)[0]
        out["members"] = {
            "diff": max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                        for a, b in zip(jax.tree.leaves(m1.state.params),
                                        jax.tree.leaves(m4.state.params))),
            "ndev": len(leaf.sharding.device_set),
            "spec": str(leaf.sharding.spec),
        }
        try:
            fit("vae", tr, te, seeds=3, devices=4, **kw1)
        except ConfigError as e:
            out["members_error"] = str(e)
        # The compiled epoch really splits the batch: 32 -> 8 rows per device, grads summed.
        import optax
        from aezoo.models import get
        from aezoo.train import create_train_state, make_train_epoch, sharding
        mesh = sharding.make_mesh(4)
        spec, module = get("vae", image_shape=(8, 8, 1), hidden_dims=(48,), latent_dim=4)
        opt = optax.adam(1e-3)
        st = jax.device_put(create_train_state(spec, module, opt, jax.random.key(0)),
                            sharding.replicated(mesh))
        lay = sharding.row_layout(len(tr[0]), mesh)
        x = sharding.put_rows(np.asarray(tr[0]), lay, mesh)
        y = sharding.put_rows(np.asarray(tr[1], np.int32), lay, mesh)
        ep = make_train_epoch(spec, module, opt, batch_size=32, binarize="dynamic",
                              num_examples=len(tr[0]), mesh=mesh)
        k = jax.random.key(1)
        hlo = ep.lower(st, x, y, k, k).compile().as_text()
        out["hlo"] = {"all_reduce": "all-reduce" in hlo, "rows8": "f32[8,48]" in hlo,
                      "rows32": "f32[32,48]" in hlo}
        print(json.dumps(out))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "run")],
        env=_env(4),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("four", "fsdp", "four_step"):
        assert out[name]["diff"] < 5e-5, (name, out[name])
        assert out[name]["ndev"] == 4
        np.testing.assert_allclose(out[name]["test"], out["one"]["test"], rtol=1e-5)
    assert out["hlo"] == {"all_reduce": True, "rows8": True, "rows32": False}
    assert out["four"]["specs"] == ["P()"]  # replicated
    assert "P('data',)" in out["fsdp"]["specs"]  # sharded
    assert "multiple of the 4 devices" in out["error"]
    assert out["members"]["diff"] < 5e-5 and out["members"]["ndev"] == 4
    assert out["members"]["spec"].startswith("P('data'")
    assert "3 members cannot be split evenly over 4 devices" in out["members_error"]
    config = json.loads((tmp_path / "run/config.json").read_text())
    assert config["devices"] == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one_process(tmp_path):
    """`aezoo train` in 2 local CPU processes (jax.distributed, gloo collectives), each
    loading only its rows, matches the 1-process run; only process 0 writes logs."""
    args = [
        "vae",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--hidden-dims",
        "64",
        "--latent-dim",
        "4",
        "--no-progress",
    ]
    cli = [sys.executable, "-m", "aezoo.cli", "train", *args]
    single = subprocess.run(
        [*cli, "--workdir", str(tmp_path / "one")], capture_output=True, text=True, timeout=300
    )
    assert single.returncode == 0, single.stderr[-2000:]
    port = _free_port()
    # Process 0 gets the flags, process 1 the environment variables.
    flags = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", "0"]
    env1 = {
        **_env(1),
        "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
        "JAX_NUM_PROCESSES": "2",
        "JAX_PROCESS_ID": "1",
    }
    procs = [
        subprocess.Popen(
            [*cli, "--workdir", str(tmp_path / "two"), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for extra, env in ((flags, _env(1)), ([], env1))
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    assert "done:" in outs[0][0] and "done:" not in outs[1][0]  # only process 0 reports
    one, two = tmp_path / "one", tmp_path / "two"
    chex.assert_trees_all_close(
        load_params(two / "params.msgpack"), load_params(one / "params.msgpack"), **TOL
    )
    lines = [json.loads(s) for s in (two / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(s) for s in (one / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]  # written once, by process 0
    np.testing.assert_allclose(lines[-1]["test/loss"], ref[-1]["test/loss"], rtol=1e-5)
    assert json.loads((two / "config.json").read_text())["processes"] == 2
    assert sorted(p.name for p in (two / "checkpoints").iterdir()) == ["1", "2"]


def test_multihost_flag_errors(capsys, monkeypatch):
    from aezoo.cli import main

    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    assert main(["train", "vae", "--coordinator", "127.0.0.1:1234"]) == 2
    assert "JAX_NUM_PROCESSES='two' is not an integer" in capsys.readouterr().err
    monkeypatch.delenv("JAX_NUM_PROCESSES")
    assert (
        main(["train", "vae", "--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"])
        == 2
    )
    assert "--process-id must be in 0..1" in capsys.readouterr().err

    assert main(["train", "vae", "--coordinator", "127.0.0.1:1234"]) == 2
    assert "together" in capsys.readouterr().err
    assert main(["train", "vae", "--seeds", "0"]) == 2
    assert "seeds must be a positive integer" in capsys.readouterr().err
    assert main(["train", "vae", "--sweep", "latent_dim=2,4"]) == 2
    assert "cannot sweep 'latent_dim'" in capsys.readouterr().err


@pytest.mark.optax
@pytest.mark.slow
def test_resume_refuses_a_different_set_of_models(digits, tmp_path):
    train, test = digits
    kw = {**FIT, "model_config": SMALL}
    fit("vae", train, test, workdir=tmp_path / "one", **kw)
    with pytest.raises(ConfigError, match=r"one model != 2 vmapped models \(seed0, seed1\)"):
        fit("vae", train, test, workdir=tmp_path / "one", resume=True, seeds=2, **kw)
    fit("vae", train, test, workdir=tmp_path / "two", seeds=2, **kw)
    with pytest.raises(ConfigError, match=r"\(seed0, seed1\) != 2 vmapped models \(seed1, seed2\)"):
        fit("vae", train, test, workdir=tmp_path / "two", resume=True, seed=1, seeds=2, **kw)


@pytest.mark.slow
def test_streamed_epochs_on_a_two_device_mesh_equal_the_resident_run():
    """Chunks fed from the host are split over the mesh like device-resident batches: the
    same params, bit for bit, on 2 forced CPU devices."""
    code = textwrap.dedent(
        """
        import jax, numpy as np
        from aezoo import data
        from aezoo.train import fit
        assert jax.device_count() == 2
        tr, te = data.load("digits", "train"), data.load("digits", "test")
        kw = dict(epochs=2, batch_size=32, progress=False, model_config={"hidden_dims": (32,)})
        a = fit("vae", tr, te, **kw)
        b = fit("vae", tr, te, device_memory="20K", **kw)  # 46K per device: streamed
        same = jax.tree.map(np.array_equal, jax.device_get(a.params), jax.device_get(b.params))
        assert all(jax.tree.leaves(same))
        assert a.history == [dict(r, **{k: a.history[i][k] for k in r if "sec" in k})
                             for i, r in enumerate(b.history)]
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(2), timeout=300
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
