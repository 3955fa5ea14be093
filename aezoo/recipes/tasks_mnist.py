"""What autoencoders are for, measured on MNIST: manifold learning, retrieval, clustering."""

from aezoo.recipes._recipe import Recipe, Table

RUNS = (
    ("vae", 2),
    ("ae", 2),
    ("aae", 2),
    ("vae", 10),
    ("ae", 10),
    ("aae", 10),
    ("vae", 16),
    ("vae", 32),
    ("vae", 64),
)


def _steps() -> tuple[str, ...]:
    train = tuple(
        f"train {m} --dataset mnist --epochs 20 --latent-dim {d} --seed 0 --workdir {{runs}}/{m}{d}"
        for m, d in RUNS
    )
    return (
        *train,
        "task manifold {runs}/vae2 {runs}/ae2 {runs}/aae2 {runs}/vae10 {runs}/ae10 "
        "{runs}/aae10 --out {runs}/manifold",
        "task retrieval {runs}/vae10 {runs}/ae10 {runs}/aae10 {runs}/vae16 {runs}/vae32 "
        "{runs}/vae64 --out {runs}/retrieval",
        "task clustering {runs}/vae10 {runs}/ae10 {runs}/aae10 --out {runs}/clustering",
    )


RECIPE = Recipe(
    name="tasks_mnist",
    title="Applications on MNIST: manifold learning, retrieval, clustering",
    protocol="One training run per model and code size D, seed 0: `aezoo train MODEL "
    "--dataset mnist --epochs 20 --latent-dim D` (MLP 784-512-256-D and mirrored, Bernoulli "
    "decoder, dynamic binarization, Adam 1e-3, batch 128); then each task with its defaults "
    "(manifold: 2,000 test images; retrieval: 1,000 test queries against the 60,000 training "
    "images; clustering: fitted on the training images without labels, scored on the test "
    "split). The tasks' protocols: the Applications page.",
    steps=_steps(),
    tables=(
        Table("Manifold learning: codes vs classical dimensionality reduction", task="manifold"),
        Table("Retrieval: 1,000 test queries against the training set", task="retrieval"),
        Table("Clustering without labels", task="clustering"),
    ),
    budget="about 25 minutes on the 2-core CPU",
)
