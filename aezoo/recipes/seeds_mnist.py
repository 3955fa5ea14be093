"""Eight seeds of the MNIST VAE vmapped in one process: the seed-to-seed spread."""

from aezoo.recipes._recipe import Recipe, Table

RECIPE = Recipe(
    name="seeds_mnist",
    title="Eight seeds of the VAE on MNIST in one process",
    protocol="`aezoo train vae --dataset mnist --seeds 8 --epochs 2`: eight models (seeds "
    "0-7) vmapped in one process, every other setting the default (MLP 784-512-256-20, "
    "Adam 1e-3, batch 128, dynamic binarization); then the objective evaluator on each "
    "member: mean +/- sample std over the seeds of the test metrics.",
    steps=(
        "train vae --dataset mnist --seeds 8 --epochs 2 --workdir {runs}/seeds8",
        "eval {runs}/seeds8 --evaluators objective",
    ),
    tables=(
        Table(
            "Test set after 2 epochs (mean +/- std over 8 seeds)",
            rows=(("`vae`", "seeds8"),),
            columns=(
                ("test -ELBO", "test/loss"),
                ("reconstruction NLL", "test/nll"),
                ("KL", "test/kl"),
                ("PSNR (dB)", "test/psnr"),
                ("active units", "active_units"),
            ),
        ),
    ),
    budget="about 2 minutes on the 2-core CPU",
)
