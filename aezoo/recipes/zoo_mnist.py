"""Every classic model of the zoo on MNIST with its defaults: 10 epochs, one table."""

from aezoo.recipes._recipe import Recipe, Table

MODELS = (
    "ae",
    "sparse_ae",
    "denoising_ae",
    "contractive_ae",
    "vae",
    "beta_vae",
    "iwae",
    "cvae",
    "aae",
    "vqvae",
)


def _steps() -> tuple[str, ...]:
    steps = []
    for m in MODELS:
        steps.append(f"train {m} --dataset mnist --epochs 10 --seed 0 --workdir {{runs}}/{m}")
        steps.append(f"eval {{runs}}/{m} --nll-samples 0")
    return tuple(steps)


RECIPE = Recipe(
    name="zoo_mnist",
    title="The zoo on MNIST: 10 epochs, defaults",
    protocol="Every row: `aezoo train MODEL --dataset mnist --epochs 10 --seed 0` (dynamically "
    "binarized MNIST, Adam 1e-3, batch 128, MLP 784-512-256-20 and mirrored, Bernoulli "
    "decoder, the model's default settings), then `aezoo eval RUN --nll-samples 0`: the "
    "model's own test loss (what each model minimizes differs: cross-entropy, -ELBO, a "
    "penalized or k-sample bound), reconstruction PSNR, active units, and linear / 5-NN "
    "probes fitted on 10,000 training codes and scored on the 10,000 test codes, beside the "
    "same probes on pixels.",
    steps=_steps(),
    tables=(
        Table(
            "Test set after 10 epochs",
            rows=tuple((f"`{m}`", m) for m in MODELS),
            columns=(
                ("test loss (nats)", "test/loss"),
                ("reconstruction NLL", "test/recon"),
                ("PSNR (dB)", "test/psnr"),
                ("active units", "active_units"),
                ("logistic probe", "probe/logreg_acc"),
                ("5-NN probe", "probe/knn_acc"),
                ("pixels: logistic", "baseline/pixels_logreg_acc"),
                ("pixels: 5-NN", "baseline/pixels_knn_acc"),
            ),
        ),
    ),
    budget="about 15 minutes on the 2-core CPU",
)
