"""The default VAE on MNIST, trained long, scored by importance-sampled likelihood."""

from aezoo.recipes._recipe import Quote, Recipe, Table

RECIPE = Recipe(
    name="vae_mnist",
    title="VAE on MNIST: 100 epochs, importance-sampled test NLL",
    protocol="Dynamically binarized MNIST (a fresh Bernoulli draw of every training image at "
    "every step; the test set binarized once with a fixed key); aezoo's default VAE: MLP "
    "784-512-256-20 and mirrored, ReLU, Bernoulli decoder, N(0, I) prior; Adam 1e-3, batch "
    "128, 100 epochs, seed 0. Test NLL by importance sampling with K = 5000 posterior draws "
    "for each of the 10,000 test images (standard error over the images beside it).",
    steps=(
        "train vae --dataset mnist --epochs 100 --checkpoint-every 10 --workdir {runs}/vae100",
        "eval {runs}/vae100 --nll-samples 5000",
    ),
    tables=(
        Table(
            "Test set after 100 epochs",
            rows=(("`vae`, 20-D code", "vae100"),),
            columns=(
                ("IS NLL (nats)", "test/nll_is"),
                ("std. error", "test/nll_is_stderr"),
                ("-ELBO", "test/loss"),
                ("bits/dim", "test/bits_per_dim"),
                ("active units", "active_units"),
                ("logistic probe", "probe/logreg_acc"),
                ("5-NN probe", "probe/knn_acc"),
            ),
        ),
    ),
    quoted=(
        Quote(
            "VAE, 1 stochastic layer, test NLL (nats)",
            86.76,
            "Burda et al. 2015 (MLP 784-200-200-50 tanh, 3,280 epochs, K = 5000)",
        ),
        Quote("VAE, test NLL (nats)", 89.78, "Pythae benchmark (Chadebec et al. 2022)"),
    ),
    headline=(("vae100", "test/nll_is"), ("vae100", "nll_samples"), ("vae100", "epoch")),
    budget="about 6 minutes of training and 13 of importance sampling on the 2-core CPU",
)
