"""``--compute-dtype bfloat16`` against float32 on MNIST: speed and test -ELBO after 10
epochs (issue 29: adopt it as a default only if it is faster and within 0.3 nats)."""

from aezoo.recipes._recipe import Recipe, Table

DTYPES = ("float32", "bfloat16")
EPOCHS = 10


def _steps() -> tuple[str, ...]:
    steps = []
    for dtype in DTYPES:
        steps.append(
            f"train vae --dataset mnist --compute-dtype {dtype} --epochs {EPOCHS} --seed 0 "
            f"--workdir {{runs}}/{dtype}"
        )
        steps.append(f"eval {{runs}}/{dtype} --evaluators objective")
    return tuple(steps)


RECIPE = Recipe(
    name="compute_dtype_mnist",
    title="bfloat16 matmuls against float32: the default VAE on MNIST",
    protocol="Dynamically binarized MNIST; the default VAE (MLP 784-512-256-20, Bernoulli "
    f"decoder), Adam 1e-3, batch 128, {EPOCHS} epochs, seed 0, once with float32 and once "
    "with bfloat16 matmuls (`--compute-dtype bfloat16`: the parameters, the networks' "
    "outputs and the loss stay float32). Scored by the test -ELBO; the speed is the last "
    "epoch's examples/s of the fused epoch on the machine named below.",
    steps=_steps(),
    tables=(
        Table(
            f"Test set after {EPOCHS} epochs",
            rows=tuple((f"`{d}`", d) for d in DTYPES),
            columns=(
                ("test -ELBO", "test/loss"),
                ("KL", "test/kl"),
                ("training examples/s (last epoch)", "last/examples_per_sec"),
            ),
            digits=2,
        ),
    ),
    budget="about 3 minutes on the 2-core CPU",
)
