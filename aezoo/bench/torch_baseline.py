"""The PyTorch reference a user would otherwise write: the same VAE / AE, eager mode or
``torch.compile`` (inductor; the loss's forward and backward compiled, the optimizer eager).

``arch="mlp"``: 784-512-256-20 (by default) with ReLU. ``arch="conv"``: aezoo's conv arch,
two 4x4 stride-2 convolutions (32, 64 channels, padding 1 = XLA's SAME for these sizes)
before the MLP, mirrored by two 4x4 stride-2 transposed convolutions. ``arch="resnet"``:
residual blocks at three resolutions (see :func:`_resnet`). Gaussian encoder
(mean and log-variance), Bernoulli decoder logits, dynamic binarization each step, analytic
KL, Adam (default or fused). Timed on the same data shapes as aezoo's rows. Needs
``pip install 'aezoo[bench]'``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence

import numpy as np

# The baselines (train_throughput's ``variant``) and how the bench's tables name them.
VARIANTS = {"eager": "eager", "fused_adam": "fused Adam", "compile": "torch.compile"}


def available() -> str | None:
    """The torch version, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def _mlp(torch, sizes: Sequence[int]):
    """Linear layers with ReLU between them (none after the last)."""
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _model(torch, arch: str, image_shape, hidden: Sequence[int], latent: int, variational: bool):
    """``(encoder, decoder)``: aezoo's ``mlp`` or ``conv`` nets in PyTorch (NCHW images)."""
    nn = torch.nn
    h, w, c = image_shape
    out = 2 * latent if variational else latent
    if arch == "mlp":
        encoder = nn.Sequential(nn.Flatten(), _mlp(torch, [h * w * c, *hidden, out]))
        decoder = nn.Sequential(
            _mlp(torch, [latent, *reversed(hidden), h * w * c]), nn.Unflatten(1, (c, h, w))
        )
        return encoder, decoder
    gh, gw = math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)
    if arch == "resnet":
        return _resnet(torch, c, gh, gw, hidden, latent, out)
    encoder = nn.Sequential(
        nn.Conv2d(c, 32, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2, 1),
        nn.ReLU(),
        nn.Flatten(),
        _mlp(torch, [64 * gh * gw, *hidden, out]),
    )
    decoder = nn.Sequential(
        _mlp(torch, [latent, *reversed(hidden), 64 * gh * gw]),
        nn.ReLU(),
        nn.Unflatten(1, (64, gh, gw)),
        nn.ConvTranspose2d(64, 32, 4, 2, 1),
        nn.ReLU(),
        nn.ConvTranspose2d(32, c, 4, 2, 1),
    )
    return encoder, decoder


def _resnet(torch, c: int, gh: int, gw: int, hidden: Sequence[int], latent: int, out: int):
    """aezoo's ``--arch resnet``: pre-activation residual blocks at full (32 channels), half
    and quarter resolution (64), 4x4 stride-2 (transposed) convolutions between them."""
    nn = torch.nn

    class Res(nn.Module):
        def __init__(self, ch: int) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(ch, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1)

        def forward(self, x):
            return x + self.b(torch.relu(self.a(torch.relu(x))))

    encoder = nn.Sequential(
        nn.Conv2d(c, 32, 3, 1, 1),
        Res(32),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2, 1),
        Res(64),
        nn.ReLU(),
        nn.Conv2d(64, 64, 4, 2, 1),
        Res(64),
        nn.ReLU(),
        nn.Flatten(),
        _mlp(torch, [64 * gh * gw, *hidden, out]),
    )
    decoder = nn.Sequential(
        _mlp(torch, [latent, *reversed(hidden), 64 * gh * gw]),
        nn.ReLU(),
        nn.Unflatten(1, (64, gh, gw)),
        Res(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 64, 4, 2, 1),
        Res(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, 2, 1),
        Res(32),
        nn.ReLU(),
        nn.Conv2d(32, c, 3, 1, 1),
    )
    return encoder, decoder


def train_throughput(
    *,
    model: str = "vae",
    batch_size: int = 128,
    steps: int = 100,
    repeats: int = 5,
    variant: str = "eager",
    hidden: Sequence[int] = (512, 256),
    latent: int = 20,
    arch: str = "mlp",
    image_shape: Sequence[int] = (28, 28, 1),
    seed: int = 0,
) -> dict[str, float]:
    """Median (and min/max) examples/s of ``steps`` training steps, over ``repeats`` (each
    repeat's rate in ``rates``). ``variant``: ``eager`` (Adam), ``fused_adam`` (eager, Adam's
    fused kernel) or ``compile`` (``torch.compile``; its first step, the compilation, is timed
    on its own as ``compile_seconds``)."""
    import torch

    torch.manual_seed(seed)
    variational = model == "vae"
    encoder, decoder = _model(torch, arch, image_shape, hidden, latent, variational)
    params = list(encoder.parameters()) + list(decoder.parameters())
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    opt = torch.optim.Adam(params, lr=1e-3, fused=(variant == "fused_adam") or None)
    rng = np.random.default_rng(seed)
    h, w, c = image_shape
    data = torch.from_numpy(rng.integers(0, 256, (steps * batch_size, c, h, w), np.uint8))
    step = _train_step(torch, encoder, decoder, opt, variational, variant == "compile")
    t0 = time.perf_counter()
    step(data[:batch_size])  # the first call compiles (torch.compile) or warms the allocator
    compile_seconds = time.perf_counter() - t0

    def epoch():
        for i in range(steps):
            loss = step(data[i * batch_size : (i + 1) * batch_size])
        return float(loss.detach())

    epoch()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    rates = [steps * batch_size / t for t in times]
    return {
        "examples_per_sec": float(np.median(rates)),
        "examples_per_sec_min": float(np.min(rates)),
        "examples_per_sec_max": float(np.max(rates)),
        "rates": [float(r) for r in rates],
        "threads": torch.get_num_threads(),
        "compile_seconds": compile_seconds,
    }


def _train_step(torch, encoder, decoder, opt, variational: bool, compile: bool = False):
    """One step on a uint8 batch: dynamic binarization, (KL +) Bernoulli NLL, Adam; with
    ``compile`` the loss (forward and, through AOTAutograd, backward) by ``torch.compile``."""
    import torch.nn.functional as F

    def loss_of(x_u8):
        x = torch.bernoulli(x_u8.float() / 255.0)
        h = encoder(x)
        if variational:
            mean, logvar = h.chunk(2, dim=-1)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            kl = 0.5 * (logvar.exp() + mean.pow(2) - 1.0 - logvar).sum(-1)
        else:
            z, kl = h, 0.0
        logits = decoder(z)
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)
        return (nll + kl).mean()

    if compile:
        loss_of = torch.compile(loss_of)

    def step(x_u8):
        loss = loss_of(x_u8)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def measure_in_subprocess(cores: Sequence[int] | None = None, **kwargs) -> dict[str, float]:
    """:func:`train_throughput` in a fresh process, so that neither JAX's thread pool nor
    its memory shares the process with PyTorch's (the fair comparison); on ``cores`` (all by
    default), with one PyTorch thread per core it may use."""
    import json
    import subprocess
    import sys

    code = (
        "import json, os, sys\n"
        "if sys.argv[2]: os.sched_setaffinity(0, [int(c) for c in sys.argv[2].split(',')])\n"
        "import torch\n"
        "torch.set_num_threads(len(os.sched_getaffinity(0)))\n"
        "from aezoo.bench.torch_baseline import train_throughput\n"
        "print(json.dumps(train_throughput(**json.loads(sys.argv[1]))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs), ",".join(map(str, cores or ()))],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"PyTorch baseline failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
