"""Sample quality on MNIST: each model's prior against an ex-post Gaussian mixture on its
training codes, in the features of aezoo's own MNIST classifier."""

from aezoo.recipes._recipe import Recipe, Table

PRIOR = ("vae", "vamp")  # models with a prior of their own
MODELS = ("ae", "vae", "vamp")
QUALITY = "--evaluators sample_quality"


def _steps() -> tuple[str, ...]:
    steps = ["features mnist"]
    for m in MODELS:
        steps.append(f"train {m} --dataset mnist --epochs 10 --seed 0 --workdir {{runs}}/{m}")
        if m in PRIOR:
            steps.append(f"eval {{runs}}/{m} {QUALITY}")
        steps.append(f"eval {{runs}}/{m} {QUALITY} --sampler gmm")
    return tuple(steps)


def _columns(suffix: str) -> tuple[tuple[str, str], ...]:
    def key(metric: str) -> str:
        return f"test/{metric}_mnist_cnn{suffix}"

    return (
        ("FD (mnist_cnn)", key("fd")),
        ("std", key("fd") + "_std"),
        ("precision", key("precision")),
        ("recall", key("recall")),
        ("density", key("density")),
        ("coverage", key("coverage")),
        ("class score", key("class_score")),
        ("modes (of 10)", key("modes")),
    )


RECIPE = Recipe(
    name="sample_quality_mnist",
    title="Sample quality on MNIST: the prior against an ex-post GMM, 10 epochs",
    protocol="`aezoo features mnist` trains the feature network (two 5x5 stride-2 "
    "convolutions, a 128-unit feature layer, seed 0) on the MNIST train split; its test "
    "accuracy is in the table. Each model: `aezoo train MODEL --dataset mnist --epochs 10 "
    "--seed 0` (defaults: MLP 784-512-256-20, Bernoulli decoder, Adam 1e-3, batch 128), then "
    "`aezoo eval RUN --evaluators sample_quality` with its own prior and with `--sampler gmm` "
    "(10 full-covariance components fitted to the 60,000 training codes): 10,000 samples "
    "(decoder means) against the 10,000 test images, 3 independent draws (mean and std), "
    "k = 3 for precision/recall/density/coverage. FD(train, test) at the same size is the "
    "floor (last column). These are Fréchet distances in aezoo's MNIST classifier, not FIDs.",
    steps=_steps(),
    tables=(
        Table(
            "The model's own prior",
            rows=tuple((f"`{m}`", m) for m in PRIOR),
            columns=(*_columns(""), ("FD floor (train vs test)", "test/fd_mnist_cnn_train")),
        ),
        Table(
            "Ex-post GMM on the training codes (`--sampler gmm`)",
            rows=tuple((f"`{m}`", m) for m in MODELS),
            columns=(
                *_columns("_gmm"),
                ("classifier test accuracy", "test/features_mnist_cnn_test_accuracy"),
            ),
        ),
    ),
    notes="Ghosh et al. (2020) find that an ex-post GMM on the codes samples better than a "
    "VAE's N(0, I) prior (the aggregate posterior does not fill the prior) and makes a "
    "deterministic autoencoder a generator; the two tables test both on the same runs.",
    budget="about 10 minutes on the 2-core CPU",
)
