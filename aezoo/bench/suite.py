"""Throughput and compile time of the shared train step, per model x batch size x mode,
with the PyTorch reference measured side by side in the same run (before and after the
aezoo rows, repeats pooled), and the matmul-only ceiling of each MLP step.

Modes: ``fused`` (one ``lax.scan`` per timed epoch), ``step`` (the per-step jitted loop),
``vmap`` (N seeds in one program; examples/s counts all N) and ``mesh`` (the fused epoch data
parallel over a mesh of ``mesh_devices`` devices; on a CPU with fewer, the row runs in a
subprocess with that many forced host devices, which share the same cores). Every timing
blocks on the result; compile time is measured separately (ahead-of-time
``lower().compile()``); steady state is the median of ``repeats`` timed epochs after one
warm-up epoch. Achieved GFLOP/s comes from XLA's cost analysis of the compiled step (its
actual dot/conv shapes), compared with a large fp32 matmul measured in the same run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from aezoo import data
from aezoo._validate import one_of, output_dir, positive_int
from aezoo.bench import torch_baseline
from aezoo.bench._common import IMAGE_SHAPE, cost_flops, median_rate
from aezoo.bench.is_nll import bench_is_nll
from aezoo.models import get_spec
from aezoo.nn import ARCHS
from aezoo.train import (
    create_train_state,
    gather_batch,
    make_train_epoch,
    make_train_step,
    sharding,
)
from aezoo.train.config import TrainConfig
from aezoo.train.optim import make_optimizer
from aezoo.train.parallel import create_train_states, make_vmapped_train_epoch
from aezoo.train.programs import make_program
from aezoo.train.step import epoch_batches


def device_info() -> dict[str, Any]:
    """Platform, device kind and count, CPU model, library versions."""
    import flax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    dev = jax.devices()[0]
    return {
        "platform": dev.platform,
        "device_kind": dev.device_kind,
        "num_devices": jax.device_count(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "torch": torch_baseline.available(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """Measured fp32 GFLOP/s of an ``n x n`` by ``n x n`` jitted matmul (median)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    f = jax.jit(jnp.matmul)
    rate = median_rate(lambda: f(a, b).block_until_ready(), 2 * n**3, repeats)
    return rate["examples_per_sec"] / 1e9


def matmul_only(
    model: str, batch_size: int, step_flops: float, repeats: int = 50
) -> dict[str, float] | None:
    """Time the MLP's matmuls of one training step alone, as a ceiling for the whole step.

    For every 2-D kernel ``W [n_in, n_out]`` of the model: the forward ``a @ W``, the weight
    gradient ``a.T @ dy`` and, unless the layer reads the image itself, the input gradient
    ``dy @ W.T`` (random data, one jitted program, no elementwise work). Returns None for
    models with other than 2-D kernels (convolutions) or whose step does other large work (e.g.
    several samples per example): when these matmuls' FLOPs are not within 15% of XLA's
    count for the step, they would not be this step's ceiling.
    """
    spec = get_spec(model)
    _, module = spec.make(image_shape=IMAGE_SHAPE)
    params = jax.eval_shape(
        lambda k: create_train_state(spec, module, optax.sgd(0.0), k).params, jax.random.key(0)
    )
    leaves = [p for p in jax.tree.leaves(params) if p.ndim > 1]
    if not leaves or any(p.ndim != 2 for p in leaves):
        return None
    image_dim = int(np.prod(IMAGE_SHAPE))
    shapes = [(int(p.shape[0]), int(p.shape[1])) for p in leaves]
    flops = sum(
        2 * batch_size * n_in * n_out * (2 if n_in >= image_dim else 3) for n_in, n_out in shapes
    )
    if abs(flops - step_flops) > 0.15 * step_flops:
        return None
    widest = max(max(s) for s in shapes)
    kernels = [jnp.full(s, 0.01, jnp.float32) for s in shapes]
    act = jax.random.normal(jax.random.key(0), (batch_size, widest), jnp.float32)

    @jax.jit
    def matmuls(kernels, act):
        out = []
        for w in kernels:
            n_in, n_out = w.shape
            a, dy = act[:, :n_in], act[:, :n_out]
            out += [(a @ w)[0, 0], (a.T @ dy)[0, 0]]
            if n_in < image_dim:
                out.append((dy @ w.T)[0, 0])
        return sum(out)

    rate = median_rate(lambda: matmuls(kernels, act).block_until_ready(), flops, repeats)
    gflops = rate["examples_per_sec"] / 1e9
    return {"gflops_per_sec": gflops, "ms_per_step": flops / gflops / 1e6, "flops": flops}


def _epoch_runner(epoch, state, images, labels, keys) -> tuple[float, Callable[[], None]]:
    """Compile a fused epoch ahead of time: (compile seconds, a call running one epoch).

    The call carries the (donated) state from epoch to epoch; ``keys`` serve as both the
    step rng and the epoch key (one key, or ``[N]`` keys for a vmapped epoch).
    """
    t0 = time.perf_counter()
    compiled = epoch.lower(state, images, labels, keys, keys).compile()
    seconds = time.perf_counter() - t0
    holder = [state]

    def run() -> None:
        holder[0], metrics = compiled(holder[0], images, labels, keys, keys)
        jax.block_until_ready(metrics)

    return seconds, run


@dataclasses.dataclass
class _Setup:
    """What every mode's runner needs: the model, random uint8 data and the compiled step."""

    spec: Any
    module: Any
    optimizer: Any
    binarize: str
    images: jax.Array
    labels: jax.Array
    key: jax.Array
    state: Any
    batch_size: int
    compiled_step: Any
    step_compile: float
    seeds: int
    mesh_devices: int


def _fused(s: _Setup) -> tuple[float, Callable[[], None], int, dict[str, Any]]:
    """The program ``aezoo train`` runs (built by the same factory), one epoch per call,
    its metrics fetched to the host as the training loop does."""
    config = TrainConfig(epochs=1, batch_size=s.batch_size, binarize=s.binarize, devices=1)
    split = (np.asarray(s.images), np.asarray(s.labels))
    program = make_program(s.spec, split, None, config, s.module.config)
    holder = [program.start()]
    compile_seconds = program.compile(holder[0], 1)

    def run() -> None:
        holder[0], _ = program.train_epoch(holder[0], 1)

    return compile_seconds, run, 1, {}


def _step(s: _Setup) -> tuple[float, Callable[[], None], int, dict[str, Any]]:
    holder = [s.state]
    order = epoch_batches(s.key, len(s.images), s.batch_size)
    gather = jax.jit(gather_batch)

    def run():
        state = holder[0]
        for idx in order:
            state, m = s.compiled_step(state, gather(s.images, s.labels, idx), s.key)
        jax.block_until_ready(m)
        holder[0] = state

    return s.step_compile, run, 1, {}


def _vmap(s: _Setup) -> tuple[float, Callable[[], None], int, dict[str, Any]]:
    keys = jax.random.split(s.key, s.seeds)
    states = create_train_states(s.spec, s.module, s.optimizer, keys)
    epoch = make_vmapped_train_epoch(
        s.spec, s.module, s.optimizer, batch_size=s.batch_size, binarize=s.binarize
    )
    runner = _epoch_runner(epoch, states, s.images, s.labels, keys)
    return (*runner, s.seeds, {"seeds": s.seeds})


def _mesh(s: _Setup) -> tuple[float, Callable[[], None], int, dict[str, Any]]:
    mesh = sharding.make_mesh(s.mesh_devices)
    layout = sharding.row_layout(len(s.images), mesh)
    x = sharding.put_rows(np.asarray(s.images), layout, mesh)
    y = sharding.put_rows(np.asarray(s.labels), layout, mesh)
    state = jax.device_put(s.state, sharding.replicated(mesh))
    epoch = make_train_epoch(
        s.spec, s.module, s.optimizer, batch_size=s.batch_size, binarize=s.binarize, mesh=mesh
    )
    return (*_epoch_runner(epoch, state, x, y, s.key), 1, {"devices": s.mesh_devices})


# Each mode: setup -> (compile seconds, one timed epoch, models per epoch, extra row fields).
MODE_RUNNERS = {"fused": _fused, "step": _step, "vmap": _vmap, "mesh": _mesh}
MODES = tuple(MODE_RUNNERS)
# Not a training mode: the importance-sampled NLL of `aezoo eval` (aezoo.bench.is_nll), one
# row per density model at eval's batch, run only when asked for.
EVAL_MODE = "eval"
ALL_MODES = (*MODES, EVAL_MODE)


def bench_aezoo(
    model: str,
    batch_size: int,
    mode: str,
    *,
    steps: int,
    repeats: int,
    seeds: int = 8,
    mesh_devices: int = 4,
    arch: str = "mlp",
) -> dict[str, Any]:
    """One row: compile seconds, steady-state examples/s, GFLOP/s of one (model, arch, batch,
    mode)."""
    if mode not in MODE_RUNNERS:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    spec = get_spec(model)
    _, module = spec.make(image_shape=IMAGE_SHAPE, arch=arch)
    optimizer = make_optimizer(TrainConfig())  # what `aezoo train` builds by default
    binarize = data.default_binarize(module.config.likelihood)
    rng = np.random.default_rng(0)
    n = steps * batch_size
    images = jax.device_put(rng.integers(0, 256, (n, *IMAGE_SHAPE), np.uint8))
    labels = jax.device_put(rng.integers(0, 10, (n,), np.int32))
    key = jax.random.key(0)
    # FLOPs of one step, from XLA's cost analysis of the compiled step.
    step = make_train_step(spec, module, optimizer, binarize=binarize)
    state = create_train_state(spec, module, optimizer, key)
    batch = gather_batch(images, labels, jnp.arange(batch_size))
    t0 = time.perf_counter()
    compiled_step = step.lower(state, batch, key).compile()
    setup = _Setup(
        spec,
        module,
        optimizer,
        binarize,
        images,
        labels,
        key,
        state,
        batch_size,
        compiled_step,
        time.perf_counter() - t0,
        seeds,
        mesh_devices,
    )
    step_flops = cost_flops(compiled_step)
    compile_seconds, run, models, extra = MODE_RUNNERS[mode](setup)
    row: dict[str, Any] = {
        "model": model,
        "arch": arch,
        "mode": mode,
        "batch_size": batch_size,
        "steps": steps,
        "repeats": repeats,
        **extra,
    }
    row["compile_seconds"] = compile_seconds
    rate = median_rate(run, n * models, repeats)
    row.update(rate)
    seconds = n * models / rate["examples_per_sec"]
    row["gflops_per_sec"] = step_flops * steps * models / seconds / 1e9
    row["flops_per_example"] = step_flops / batch_size
    row["step_flops"] = step_flops
    return row


def bench_in_subprocess(
    model: str,
    batch_size: int,
    mode: str,
    *,
    forced_devices: int = 1,
    cores: Sequence[int] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """:func:`bench_aezoo` in a fresh CPU process that sees ``forced_devices`` host devices
    and runs on ``cores`` (all this process may use by default; XLA sizes its pool by them)."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={forced_devices}"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    code = (
        "import json, os, sys\n"
        "if sys.argv[2]: os.sched_setaffinity(0, [int(c) for c in sys.argv[2].split(',')])\n"
        "from aezoo.bench.suite import bench_aezoo\n"
        "a = json.loads(sys.argv[1]); print(json.dumps(bench_aezoo(*a['args'], **a['kw'])))\n"
    )
    arg = json.dumps({"args": [model, batch_size, mode], "kw": kw})
    out = subprocess.run(
        [sys.executable, "-c", code, arg, ",".join(map(str, cores or ()))],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"benchmark subprocess failed: {tail[0]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each row times: ``repeats`` timed epochs (or IS-NLL batches) per row, the
    examples of a timed epoch, the models of the vmap mode, the devices of the mesh mode
    and the eval mode's samples per image."""

    repeats: int = 5
    examples_per_epoch: int = 12_800
    seeds: int = 8
    mesh_devices: int = 4
    nll_samples: int = 5000


QUICK = Sizes(repeats=3, examples_per_epoch=1280, seeds=2, mesh_devices=2, nll_samples=500)


def run_suite(
    models: Sequence[str] = ("vae",),
    batch_sizes: Sequence[int] = (128, 1024),
    modes: Sequence[str] = MODES,
    *,
    archs: Sequence[str] = ("mlp",),
    sizes: Sizes = Sizes(),
    torch: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """All rows plus the device info, the measured matmul peak and the PyTorch baselines
    (``modes`` may add :data:`EVAL_MODE`: the IS-NLL at ``sizes.nll_samples`` per image)."""
    say = print if progress else (lambda *a, **k: None)
    info = device_info()
    say(f"device: {info['device_kind']} x{info['num_devices']} ({info['cpu']})")
    # The peak is measured at the start and again at the end; the higher one counts (a
    # shared machine may be busy during one of them).
    peaks = [matmul_peak()]
    say(f"measured fp32 matmul peak: {peaks[0]:.1f} GFLOP/s")
    use_torch = bool(torch and torch_baseline.available())
    if torch and not use_torch:
        say("PyTorch is not installed: no baseline columns (pip install 'aezoo[bench]')")
    # The PyTorch reference runs before and after the aezoo rows and its repeats are pooled:
    # on a shared, noisy machine a drift during the run then weighs on both sides alike.
    passes: dict[int, dict[str, list[dict[str, Any]]]] = {}
    torch_kw = {
        "archs": archs,
        "batch_sizes": batch_sizes,
        "examples": sizes.examples_per_epoch,
        "repeats": sizes.repeats,
    }
    if use_torch:
        _torch_pass(passes, "before", info, say, **torch_kw)
    kw = {"seeds": sizes.seeds, "mesh_devices": sizes.mesh_devices, "repeats": sizes.repeats}
    rows = []
    train_modes = [m for m in modes if m != EVAL_MODE]
    for arch in archs:
        rows += _aezoo_rows(
            models,
            batch_sizes,
            train_modes,
            sizes.examples_per_epoch,
            peaks[0],
            say,
            arch=arch,
            **kw,
        )
        if EVAL_MODE in modes:
            rows += _eval_rows(models, sizes, peaks[0], say, arch=arch)
    peaks.append(matmul_peak())
    peak = max(peaks)
    say(f"measured fp32 matmul peak at the end: {peaks[-1]:.1f} GFLOP/s (using {peak:.1f})")
    _set_fractions(rows, peak)
    baselines: dict[int, dict[str, Any]] = {}
    if use_torch:
        _torch_pass(passes, "after", info, say, **torch_kw)
        baselines = {key: {k: _pooled(v) for k, v in got.items()} for key, got in passes.items()}
        _set_ratios(rows, baselines, say)
    if use_torch or peak != peaks[0]:
        say("final rows:")
        for row in rows:
            say(_row_line(row))
    return {
        "device": info,
        "matmul_peak_gflops": peak,
        "matmul_peak_gflops_start_end": peaks,
        "torch_baselines": baselines,
        "rows": rows,
    }


def _torch_pass(passes, label: str, info, say, *, archs, batch_sizes, examples, repeats):
    """One pass of the PyTorch VAE (eager and fused Adam) per arch and batch size, into
    ``passes`` (keyed ``"ARCH/BATCH"``)."""
    for arch, b in ((a, b) for a in archs for b in batch_sizes):
        kw = {"batch_size": b, "steps": max(5, examples // b), "repeats": repeats, "arch": arch}
        got = passes.setdefault(f"{arch}/{b}", {name: [] for name in torch_baseline.VARIANTS})
        for name in torch_baseline.VARIANTS:
            got[name].append(torch_baseline.measure_in_subprocess(**kw, variant=name))
        say(f"torch {info['torch']} {arch} vae b={b} ({label}): {_torch_line(got, -1)}")


def _torch_line(got: dict[str, Any], i: int | None = None) -> str:
    """``eager N ex/s, fused Adam N ex/s, torch.compile N ex/s (compile S s)``: the pass
    ``i`` of each variant, or (``None``) the pooled result."""
    parts = []
    for name, label in torch_baseline.VARIANTS.items():
        if name in got:
            res = got[name] if i is None else got[name][i]
            part = f"{label} {res['examples_per_sec']:.0f} ex/s"
            if name == "compile":
                part += f" (compile {res.get('compile_seconds', float('nan')):.1f} s)"
            parts.append(part)
    return ", ".join(parts)


def _aezoo_rows(models, batch_sizes, modes, examples: int, peak: float, say, **kw):
    """Every (model, batch size, mode) row of one arch, each with its model's matmul-only
    ceiling (MLP models)."""
    rows = []
    ceilings: dict[tuple[str, int], dict[str, float] | None] = {}
    for model in models:
        for b in batch_sizes:
            for mode in modes:
                row = _aezoo_row(model, b, mode, examples, say, **kw)
                if row is None:
                    continue
                if (model, b) not in ceilings:
                    ceilings[model, b] = (
                        matmul_only(model, b, row["step_flops"]) if row["arch"] == "mlp" else None
                    )
                    if ceilings[model, b]:
                        c = ceilings[model, b]
                        say(
                            f"{model:>14} b={b:<5} matmuls alone: {c['ms_per_step']:.2f} ms a "
                            f"step, {c['gflops_per_sec']:.0f} GFLOP/s "
                            f"({100 * c['gflops_per_sec'] / peak:.0f}% of peak)"
                        )
                if ceilings[model, b] and mode != "mesh":
                    row["matmul_only_gflops_per_sec"] = ceilings[model, b]["gflops_per_sec"]
                _set_fractions([row], peak)
                rows.append(row)
                say(_row_line(row))
    return rows


def _eval_rows(models, sizes: Sizes, peak: float, say, *, arch: str):
    """One IS-NLL row per model that has a density (others are named and skipped)."""
    rows = []
    for model in models:
        if "density" not in get_spec(model).capabilities:
            say(f"{model:>14} eval: skipped (no tractable density for the IS-NLL)")
            continue
        row = bench_is_nll(model, num_samples=sizes.nll_samples, repeats=sizes.repeats, arch=arch)
        _set_fractions([row], peak)
        rows.append(row)
        say(_row_line(row))
    return rows


def _aezoo_row(model, b, mode, examples: int, say, *, seeds, mesh_devices, repeats, arch):
    """One row; the mesh mode on a CPU with too few devices runs in a subprocess."""
    steps = max(5, examples // b)
    if mode == "vmap":  # N models per epoch: fewer steps keep the time similar
        steps = max(5, steps // seeds)
    kw = {
        "steps": steps,
        "repeats": repeats,
        "seeds": seeds,
        "mesh_devices": mesh_devices,
        "arch": arch,
    }
    if mode != "mesh" or jax.device_count() >= mesh_devices:
        return bench_aezoo(model, b, mode, **kw)
    if jax.default_backend() != "cpu":
        say(f"skipping mesh x{mesh_devices}: only {jax.device_count()} devices")
        return None
    row = bench_in_subprocess(model, b, mode, forced_devices=mesh_devices, **kw)
    row["forced_host_devices"] = True
    return row


def _set_fractions(rows: list[dict[str, Any]], peak: float) -> None:
    for row in rows:
        row["frac_of_peak"] = row["gflops_per_sec"] / peak
        if "matmul_only_gflops_per_sec" in row:
            row["matmul_only_frac_of_peak"] = row["matmul_only_gflops_per_sec"] / peak


def _set_ratios(rows: list[dict[str, Any]], baselines: dict[int, dict[str, Any]], say) -> None:
    """PyTorch columns and ratios on the VAE rows (the reference is the VAE)."""
    for row in rows:
        if row["model"] != "vae" or row["mode"] == EVAL_MODE:
            continue
        for name, res in baselines.get(f"{row['arch']}/{row['batch_size']}", {}).items():
            row[f"torch_{name}_examples_per_sec"] = res["examples_per_sec"]
            row[f"ratio_vs_torch_{name}"] = row["examples_per_sec"] / res["examples_per_sec"]
    for key, res in baselines.items():
        say(f"torch vae {key}, both passes: {_torch_line(res)}")


def run_and_write(
    models: Sequence[str],
    batch_sizes: Sequence[int],
    modes: Sequence[str],
    *,
    out: str | os.PathLike,
    quick: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """``aezoo bench``: check the options, run the suite, write ``bench.json`` and
    ``bench.md`` into ``out`` (``models=["all"]``: every model; ``quick``: a smoke test of
    the VAE at batch 128, small epochs, < 2 minutes). ``options``: :func:`run_suite`'s
    ``archs`` and ``torch``, and :class:`Sizes`' fields."""
    from aezoo.models import MODELS

    models = list(MODELS) if list(models) == ["all"] else list(models)
    for name in models:
        get_spec(name)  # one-line error for an unknown model
    for b in batch_sizes:
        positive_int("--batch-sizes", b)
    fields = {f.name for f in dataclasses.fields(Sizes)}
    sizes = Sizes(**{k: options.pop(k) for k in list(options) if k in fields})
    for field in sorted(fields):  # named as the CLI's flags
        flag = "--examples" if field == "examples_per_epoch" else f"--{field.replace('_', '-')}"
        positive_int(flag, getattr(sizes, field))
    if quick:
        models, batch_sizes, sizes = ["vae"], [128], QUICK
    out = output_dir(out, "--out")  # before the timing, so that a bad --out costs nothing
    for arch in options.get("archs", ()):
        one_of("arch", arch, ARCHS)
    result = run_suite(models, batch_sizes, modes, sizes=sizes, **options)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "bench.md").write_text(to_markdown(result))
    print(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    return result


def _pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One baseline from several passes: the median and min/max over all their repeats."""
    rates = [r for res in results for r in res["rates"]]
    return {
        "examples_per_sec": float(np.median(rates)),
        "examples_per_sec_min": float(np.min(rates)),
        "examples_per_sec_max": float(np.max(rates)),
        "rates": rates,
        "passes": len(results),
        "threads": results[0].get("threads"),
        "compile_seconds": float(np.median([r.get("compile_seconds", np.nan) for r in results])),
    }


def _rate(v: float) -> str:
    """A rate for the table: whole numbers, one decimal below 100 (IS-NLL images/s)."""
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def _row_line(r: dict[str, Any]) -> str:
    if r["mode"] == EVAL_MODE:
        return (
            f"{r['model']:>14} {r.get('arch', 'mlp'):<4} b={r['batch_size']:<5} IS-NLL "
            f"K={r['num_samples']} {r['examples_per_sec']:>9.1f} images/s  compile "
            f"{r['compile_seconds']:.2f}s  {r['gflops_per_sec']:.0f} GFLOP/s "
            f"({100 * r['frac_of_peak']:.0f}% of peak)"
        )
    line = (
        f"{r['model']:>14} {r.get('arch', 'mlp'):<4} b={r['batch_size']:<5} {r['mode']:<5} "
        f"{r['examples_per_sec']:>9.0f} ex/s  compile {r['compile_seconds']:.2f}s  "
        f"{r['gflops_per_sec']:.0f} GFLOP/s ({100 * r['frac_of_peak']:.0f}% of peak)"
    )
    if "ratio_vs_torch_eager" in r:
        line += f"  x{r['ratio_vs_torch_eager']:.2f} vs torch eager"
    return line


def to_markdown(result: dict[str, Any]) -> str:
    """The result as a Markdown table (with the device line and the peak above it)."""
    info = result["device"]
    out = [
        f"Device: {info['device_kind']} x{info['num_devices']} ({info['cpu']}, "
        f"{info['cpu_count']} cores); jax {info['jax']}, flax {info['flax']}, "
        f"optax {info['optax']}, torch {info['torch'] or 'not installed'}.",
        f"Measured fp32 matmul peak: {result['matmul_peak_gflops']:.1f} GFLOP/s (2048³ matmul, "
        "the higher of the medians at the start and at the end of the run).",
        "",
        "| model | arch | batch | mode | examples/s (median) | min-max | compile s | GFLOP/s | "
        "% of peak | matmuls alone, % of peak | x torch eager | x torch fused Adam | "
        "x torch.compile |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        mode = r["mode"] + (f" x{r['seeds']}" if r["mode"] == "vmap" else "")
        if r["mode"] == EVAL_MODE:
            mode = f"eval: IS-NLL K={r['num_samples']}, images/s"
        if r["mode"] == "mesh":
            mode += f" {r['devices']} dev" + (
                " (forced host)" if r.get("forced_host_devices") else ""
            )

        def ratio(key: str, r: dict = r) -> str:
            return f"{r[key]:.2f}" if key in r else "-"

        alone = r.get("matmul_only_frac_of_peak")
        alone = f"{100 * alone:.0f}%" if alone else "-"

        out.append(
            f"| {r['model']} | {r.get('arch', 'mlp')} | {r['batch_size']} | {mode} | "
            f"{_rate(r['examples_per_sec'])} | "
            f"{_rate(r['examples_per_sec_min'])}-{_rate(r['examples_per_sec_max'])} | "
            f"{r['compile_seconds']:.2f} | {r['gflops_per_sec']:.0f} | "
            f"{100 * r['frac_of_peak']:.0f}% | {alone} | {ratio('ratio_vs_torch_eager')} | "
            f"{ratio('ratio_vs_torch_fused_adam')} | {ratio('ratio_vs_torch_compile')} |"
        )
    out += [
        "",
        "Matmuls alone: the same layers' forward, weight-gradient and input-gradient matmuls "
        "of one step, timed on their own (MLP models only): the ceiling of the step's "
        "fraction of peak. Eval rows: the importance-sampled NLL of `aezoo eval` (images/s "
        "at K samples per image, batches of 100 images; FLOPs of one chunk of samples by "
        "XLA's cost analysis times the number of chunks).",
    ]
    if result["torch_baselines"]:
        out.append("")
        for key, res in result["torch_baselines"].items():
            arch, _, b = str(key).rpartition("/")
            out.append(
                f"PyTorch reference (same {(arch or 'mlp').upper()} VAE), batch {b}: "
                f"{_torch_line(res)} (median of {len(res['eager'].get('rates', [])) or 'all'} "
                f"timed epochs from {res['eager'].get('passes', 1)} passes, before and after "
                "the aezoo rows; torch.compile's compile time is its first step, not in its "
                "rate)."
            )
    return "\n".join(out) + "\n"
