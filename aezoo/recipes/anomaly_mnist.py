"""One-class anomaly detection on MNIST (Ruff et al. 2018's protocol)."""

from aezoo.recipes._recipe import Quote, Recipe, Table
from aezoo.tasks.anomaly import SCORES

RECIPE = Recipe(
    name="anomaly_mnist",
    title="One-class anomaly detection on MNIST",
    protocol="One VAE per digit, trained on that digit's training images only (MLP "
    "784-512-256-10 and mirrored, 30 epochs, Adam 1e-3, batch 128, seed 0); every test "
    "image scored, the other digits being the anomalies; AUROC (%) per normal digit for "
    "six scores of the same model: reconstruction NLL, the reconstruction's squared error, "
    "that error relative to the ink (the mean intensity of the image plus that of its "
    "reconstruction), -ELBO and IS NLL (100 posterior draws), and -log density of the code "
    "under a Gaussian fitted to the digit's training codes.",
    steps=(
        "task anomaly vae --dataset mnist --epochs 30 --latent-dim 10 --hidden-dims 512,256 "
        "--out {runs}/anomaly",
    ),
    tables=(
        Table(
            "AUROC (%) per normal digit",
            task="anomaly",
            columns=(("normal digit", "class"), *((f"AUROC {s}", s) for s in SCORES)),
            digits=1,
        ),
    ),
    quoted=(
        Quote("one-class Deep SVDD, mean AUROC (%)", 94.8, "Ruff et al. 2018"),
        Quote("deep convolutional autoencoder (DCAE), mean AUROC (%)", 89.7, "Ruff et al. 2018"),
    ),
    budget="about 8 minutes on the 2-core CPU",
)
