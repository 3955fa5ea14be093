"""The lecture's manifold picture: a VAE with a 2-D code on MNIST."""

from aezoo.recipes._recipe import Recipe, Table

RECIPE = Recipe(
    name="vae_mnist_2d",
    title="VAE with a 2-D code on MNIST",
    protocol="Dynamically binarized MNIST, MLP 784-512-256-2 and mirrored, Bernoulli decoder, "
    "Adam 1e-3, batch 128, 20 epochs, seed 0; test NLL with K = 500 importance samples; "
    "manifold.png (decoder outputs over a Gaussian-quantile grid) and latent_scatter.png "
    "(test codes by digit) in the run folder.",
    steps=(
        "train vae --dataset mnist --latent-dim 2 --epochs 20 --workdir {runs}/vae2d",
        "eval {runs}/vae2d --nll-samples 500",
    ),
    tables=(
        Table(
            "Test set after 20 epochs",
            rows=(("`vae`, 2-D code", "vae2d"),),
            columns=(
                ("IS NLL (nats, K = 500)", "test/nll_is"),
                ("-ELBO", "test/loss"),
                ("active units", "active_units"),
                ("logistic probe", "probe/logreg_acc"),
                ("5-NN probe", "probe/knn_acc"),
            ),
        ),
    ),
    headline=(("vae2d", "test/nll_is"), ("vae2d", "nll_samples"), ("vae2d", "epoch")),
    budget="about 3 minutes on the 2-core CPU",
)
