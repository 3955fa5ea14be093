"""Sample quality of the rest of the zoo on MNIST: the conditional models (labels drawn
uniformly), the discrete-latent VAEs and the regularized deterministic autoencoders (the
protocol of ``sample_quality_mnist``; with it, ``sample_quality_zoo_mnist`` and
``sample_quality_vaes_mnist``, every model that can sample, or be sampled ex post)."""

from aezoo.recipes._recipe import Recipe, Table
from aezoo.recipes.sample_quality_mnist import FD_FLOOR, QUALITY, quality_columns

CONDITIONAL = ("cvae", "m2", "cat_aae")  # decode with a label: their own prior only
DISCRETE = ("gumbel_vae", "binary_vae")  # a discrete prior of their own, and codes to fit
NO_PRIOR = ("sparse_ae", "denoising_ae", "contractive_ae")  # N(0, I) on the codes instead
MODELS = (*CONDITIONAL, *DISCRETE, *NO_PRIOR)


def _samplers(model: str) -> tuple[str, ...]:
    if model in CONDITIONAL:
        return ("prior",)
    return ("normal" if model in NO_PRIOR else "prior", "gmm")


def _steps() -> tuple[str, ...]:
    steps = ["features mnist"]
    for m in MODELS:
        steps.append(f"train {m} --dataset mnist --epochs 10 --seed 0 --workdir {{runs}}/{m}")
        steps += [f"eval {{runs}}/{m} {QUALITY} --sampler {s}" for s in _samplers(m)]
    return tuple(steps)


RECIPE = Recipe(
    name="sample_quality_rest_mnist",
    title="Sample quality of the conditional, discrete-latent and regularized autoencoders",
    protocol="As `sample_quality_mnist` (the same feature network, 10,000 samples against the "
    "10,000 test images, 3 draws, k = 3), for the rest of the zoo, each trained with its "
    "defaults for 10 epochs with seed 0 (aezoo's default MLP 784-512-256 and mirrored): "
    "the conditional models (`cvae`, and `m2` and `cat_aae` with every training label), "
    "sampled from their own prior with the class drawn uniformly (codes fitted without "
    "their labels cannot drive a decoder that needs one); the discrete-latent VAEs "
    "(`gumbel_vae`: categorical codes, `binary_vae`: Bernoulli bits) from their own "
    "uniform prior and from the GMM fitted to their training codes (posterior "
    "probabilities); the sparse, denoising and contractive autoencoders, which have no "
    "prior, from N(0, I) on their codes (`--sampler normal`) and from the GMM.",
    steps=_steps(),
    tables=(
        Table(
            "The model's own prior (conditional models: uniform classes)",
            rows=tuple((f"`{m}`", m) for m in (*CONDITIONAL, *DISCRETE)),
            columns=(*quality_columns("prior"), FD_FLOOR),
        ),
        Table(
            "N(0, I) on the codes of the models without a prior (`--sampler normal`)",
            rows=tuple((f"`{m}`", m) for m in NO_PRIOR),
            columns=quality_columns("normal"),
        ),
        Table(
            "Ex-post GMM on the training codes (`--sampler gmm`)",
            rows=tuple((f"`{m}`", m) for m in (*DISCRETE, *NO_PRIOR)),
            columns=quality_columns("gmm"),
        ),
    ),
    budget="37 minutes on the 2-core CPU (17 of training)",
)
