"""Sample quality across the zoo on MNIST: more models' own priors against the ex-post GMM
on their codes (the protocol of ``sample_quality_mnist``, whose runs it does not repeat)."""

from aezoo.recipes._recipe import Recipe, Table
from aezoo.recipes.sample_quality_mnist import FD_FLOOR, QUALITY, quality_columns

PRIOR = ("aae", "wae", "iaf", "hvae2", "gmvae")  # a prior of their own
NO_PRIOR = ("ae", "rae")  # scored with N(0, I) on their codes instead
MODELS = (*NO_PRIOR, *PRIOR)


def _steps() -> tuple[str, ...]:
    steps = ["features mnist"]
    for m in MODELS:
        steps.append(f"train {m} --dataset mnist --epochs 10 --seed 0 --workdir {{runs}}/{m}")
        first = "normal" if m in NO_PRIOR else "prior"
        steps += [f"eval {{runs}}/{m} {QUALITY} --sampler {s}" for s in (first, "gmm")]
    return tuple(steps)


RECIPE = Recipe(
    name="sample_quality_zoo_mnist",
    title="Sample quality across the zoo on MNIST: own prior against an ex-post GMM, 10 epochs",
    protocol="As `sample_quality_mnist` (the same feature network, 10,000 samples against the "
    "10,000 test images, 3 draws, k = 3), for more models, each trained with its defaults "
    "for 10 epochs with seed 0 (`hvae2`: Burda's 2-layer sizes, 784-200-200-100 and "
    "100-100-50; the others aezoo's default MLP 784-512-256-20): each model's own prior "
    "(`aae`, `wae`, `iaf`: N(0, I) decoded; `hvae2`: down the hierarchy; `gmvae`: its "
    "learned mixture), or for `ae` and `rae`, which have none, N(0, I) on their codes "
    "(`--sampler normal`), and the GMM fitted to the training codes.",
    steps=_steps(),
    tables=(
        Table(
            "N(0, I) on the codes of the models without a prior (`--sampler normal`)",
            rows=tuple((f"`{m}`", m) for m in NO_PRIOR),
            columns=quality_columns("normal"),
        ),
        Table(
            "The model's own prior",
            rows=tuple((f"`{m}`", m) for m in PRIOR),
            columns=(*quality_columns("prior"), FD_FLOOR),
        ),
        Table(
            "Ex-post GMM on the training codes (`--sampler gmm`)",
            rows=tuple((f"`{m}`", m) for m in MODELS),
            columns=quality_columns("gmm"),
        ),
    ),
    budget="about 35 minutes on the 2-core CPU",
)
