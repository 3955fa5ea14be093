"""The benchmark suite: output structure of a quick run (no speed is asserted here)."""

from __future__ import annotations

import json

import pytest

from aezoo.bench import torch_baseline
from aezoo.cli import main


@pytest.mark.optax
@pytest.mark.slow
def test_quick_bench_writes_json_and_markdown(tmp_path, capsys):
    assert main(["bench", "--quick", "--no-torch", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert set(result) >= {"device", "matmul_peak_gflops", "torch_baselines", "rows"}
    for key in ("platform", "device_kind", "num_devices", "cpu", "jax", "flax", "optax"):
        assert key in result["device"]
    assert result["matmul_peak_gflops"] > 0
    rows = result["rows"]
    assert [r["mode"] for r in rows] == ["fused", "step", "vmap", "mesh"]
    for r in rows:
        assert r["model"] == "vae" and r["arch"] == "mlp" and r["batch_size"] == 128
        assert r["examples_per_sec_min"] <= r["examples_per_sec"] <= r["examples_per_sec_max"]
        assert r["compile_seconds"] > 0 and r["gflops_per_sec"] > 0
        assert 0 < r["frac_of_peak"] < 2
        assert r["flops_per_example"] > 1e6  # 784-512-256-20 VAE: ~6.5 MFLOP per example
    for r in rows[:3]:  # the MLP's matmuls alone: a ceiling above the whole step
        assert r["matmul_only_frac_of_peak"] > 0
        assert r["matmul_only_gflops_per_sec"] == rows[0]["matmul_only_gflops_per_sec"]
    assert rows[2]["seeds"] == 2
    assert rows[3]["devices"] == 2  # forced host devices in a subprocess on a 1-device CPU
    table = (tmp_path / "bench.md").read_text()
    assert table.count("| vae | mlp | 128 |") == 4 and "Measured fp32 matmul peak" in table
    assert "mesh 2 dev" in table and "matmuls alone" in table


def test_matmul_only_ceiling_counts_the_mlp_and_skips_other_work():
    from aezoo.bench.suite import matmul_only

    # 784-512-256-(2x20) encoder, 20-256-512-784 decoder; no input gradient for 784 -> 512.
    layers = [(784, 512), (512, 256), (256, 40), (20, 256), (256, 512), (512, 784)]
    flops = sum(2 * 16 * i * o * (2 if i == 784 else 3) for i, o in layers)
    got = matmul_only("vae", 16, step_flops=flops, repeats=2)
    assert got["flops"] == flops and got["gflops_per_sec"] > 0
    # A step doing twice that work (e.g. k samples per example) has another ceiling.
    assert matmul_only("vae", 16, step_flops=2 * flops, repeats=2) is None


def test_bench_rejects_unknown_models(capsys):
    assert main(["bench", "--models", "vea", "--no-torch"]) == 2
    assert "unknown model 'vea'" in capsys.readouterr().err


@pytest.mark.skipif(torch_baseline.available() is None, reason="PyTorch not installed")
@pytest.mark.slow
def test_torch_baseline_runs_the_same_mlp():
    res = torch_baseline.train_throughput(batch_size=32, steps=3, repeats=2)
    assert res["examples_per_sec"] > 0 and len(res["rates"]) == 2
    sub = torch_baseline.measure_in_subprocess(batch_size=32, steps=3, repeats=1)
    assert sub["examples_per_sec"] > 0


@pytest.mark.skipif(torch_baseline.available() is None, reason="PyTorch not installed")
@pytest.mark.slow
def test_torch_compile_baseline_compiles_and_times_its_compilation_apart():
    from torch._dynamo.utils import counters

    counters.clear()
    kw = {"batch_size": 32, "steps": 3, "repeats": 2, "hidden": (16,), "latent": 2}
    torch_baseline.train_throughput(**kw)
    assert counters["stats"]["unique_graphs"] == 0  # eager: nothing compiled
    res = torch_baseline.train_throughput(**kw, variant="compile")
    assert counters["stats"]["unique_graphs"] >= 1  # the loss went through torch.compile
    assert res["examples_per_sec"] > 0 and res["compile_seconds"] > 0
    with pytest.raises(ValueError, match="unknown variant 'jit'"):
        torch_baseline.train_throughput(steps=1, repeats=1, variant="jit")


def test_pooled_baseline_is_the_median_over_both_passes():
    from aezoo.bench.suite import _pooled

    before = {"rates": [10.0, 12.0, 14.0], "threads": 2}
    after = {"rates": [20.0, 22.0, 24.0], "threads": 2}
    got = _pooled([before, after])
    assert got["examples_per_sec"] == 17.0  # median of all six, not of either pass
    assert (got["examples_per_sec_min"], got["examples_per_sec_max"]) == (10.0, 24.0)
    assert got["passes"] == 2 and len(got["rates"]) == 6


@pytest.mark.slow
def test_eval_row_times_the_is_nll_and_counts_its_flops():
    from aezoo.bench import bench_is_nll

    # K = 20 samples for 100 images: one chunk; the 784-512-256-(2x20) encoder runs once per
    # image and the 20-256-512-784 decoder once per sample.
    row = bench_is_nll("vae", num_samples=20, repeats=2)
    enc = 2 * (784 * 512 + 512 * 256 + 256 * 40)
    dec = 2 * (20 * 256 + 256 * 512 + 512 * 784)
    assert row["mode"] == "eval" and row["batch_size"] == 100 and row["chunk"] == 20
    assert row["flops_per_example"] == pytest.approx(enc + 20 * dec, rel=0.05)
    assert row["examples_per_sec_min"] <= row["examples_per_sec"] <= row["examples_per_sec_max"]
    assert row["gflops_per_sec"] > 0 and row["compile_seconds"] > 0


def test_eval_rows_skip_models_without_a_density():
    from aezoo.bench.suite import QUICK, _eval_rows

    said = []
    assert _eval_rows(["ae"], QUICK, 100.0, said.append, arch="mlp") == []
    assert said == ["            ae eval: skipped (no tractable density for the IS-NLL)"]


def _load(name: str):
    """A script of ``benchmarks/`` as a module."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.unit
def test_conv_layer_flops_count_the_forward_and_both_gradients():
    layers = _load("conv_layers")
    # 4x4 stride-2 convolution 14x14x32 -> 7x7x64 at batch 128: 49 pixels x 16 taps x 32 x 64.
    conv = layers.layer_flops(False, (14, 14, 32), (4, 4, 32, 64), 2)
    assert conv == 6 * 128 * 49 * 16 * 32 * 64
    # Its transpose (7x7x64 -> 14x14x32) does the same multiply-adds.
    assert layers.layer_flops(True, (7, 7, 64), (4, 4, 64, 32), 2) == conv
    assert layers.layer_flops(False, (28, 28, 32), (3, 3, 32, 1), 1) == 6 * 128 * 784 * 9 * 32
    # Every layer of the nets is listed with its uses (a resnet block: 4 convolutions a step).
    assert layers.USES["resnet block 28x28 (3x3, 32->32)"] == 4
    assert layers.USES["conv enc 2 (4x4/2, 32->64)"] == 1


@pytest.mark.unit
def test_conv_layers_page_sums_each_nets_convolutions():
    docs = _load("docs_results")
    variants = ["aezoo, in scan", "torch eager"]
    rows = [
        {"layer": "conv a", "uses": 1, "flops": 2e6, "ms": {"aezoo, in scan": 2.0}},
        {
            "layer": "resnet b",
            "uses": 4,
            "flops": 1e6,
            "ms": {"aezoo, in scan": 1.0, "torch eager": 3.0},
        },
    ]
    for r in rows:
        r["gflops"] = {v: r["flops"] / (m * 1e6) for v, m in r["ms"].items()}
    result = {
        "command": "python benchmarks/conv_layers.py",
        "device": {"cpu": "test CPU", "cpu_count": 2},
        "matmul_peak_gflops": 100.0,
        "batch_size": 128,
        "rounds": 1,
        "variants": variants,
        "rows": rows,
    }
    page = "\n".join(docs._conv_layers_section("conv-layers", result))
    assert "| conv a | 1 | 2 | 2.00 (1) | - | - |" in page
    assert "| resnet b | 4 | 1 | 1.00 (1) | 3.00 (0) | 3.00 |" in page
    assert "| **all of the conv net's convolutions** | | | 2.0 | - | - |" in page
    assert "| **all of the resnet net's convolutions** | | | 4.0 | 12.0 | 3.00 |" in page
