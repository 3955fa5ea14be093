"""The control for ``burda_iwae5_mnist``: Burda et al.'s one-layer VAE on exactly the IWAE-5
recipe's schedule (the staircase spread over 1,093 epochs), so that the two differ only in
the bound they train on, as in Burda et al.'s comparison at equal epochs."""

from aezoo.recipes._recipe import Quote, Recipe, Table
from aezoo.recipes.burda_iwae5_mnist import EPOCHS
from aezoo.recipes.burda_vae_mnist import NET, NLL_COLUMNS, NLL_SAMPLES, SCHEDULE

RECIPE = Recipe(
    name="burda_vae_short_mnist",
    title="Burda et al.'s one-layer VAE on the IWAE-5 recipe's 1,093-epoch schedule",
    protocol="Dynamically binarized MNIST; the network, batch, learning rate and staircase "
    "of `burda_vae_mnist` (MLP 784-200-200 tanh to a 50-D Gaussian, mirrored Bernoulli "
    "decoder; batch 250, lr 2e-3, 8 stages with the factor 10^(-i/7)) spread over "
    f"{EPOCHS:,} epochs, the schedule `burda_iwae5_mnist` ran: one sample, the ELBO. "
    "Seed 0. Test NLL by importance sampling "
    f"with K = {NLL_SAMPLES} for each of the 10,000 test images.",
    steps=(
        f"train vae --dataset mnist {NET} {SCHEDULE} --epochs {EPOCHS} --seed 0 "
        "--checkpoint-every 100 --workdir {runs}/vae",
        f"eval {{runs}}/vae --nll-samples {NLL_SAMPLES}",
    ),
    tables=(
        Table(
            f"Test set after {EPOCHS:,} epochs",
            rows=(("`vae`, Burda's 1-layer network", "vae"),),
            columns=NLL_COLUMNS,
        ),
    ),
    quoted=(
        Quote("VAE, 1 stochastic layer (nats)", 86.76, "Burda et al. 2015, Table 1"),
        Quote("IWAE k = 5, 1 stochastic layer (nats)", 85.54, "Burda et al. 2015, Table 1"),
    ),
    headline=(("vae", "test/nll_is"), ("vae", "nll_samples"), ("vae", "epoch")),
    notes="Beside `burda_iwae5_mnist` (same schedule, k = 5), this row is Burda et al.'s "
    "equal-epoch comparison of the two bounds.",
    budget="33 minutes on the 2-core CPU (AMD EPYC, 197 GFLOP/s): 29 of training (1.6 s an "
    "epoch) and 4 of evaluation (40 images/s)",
)
