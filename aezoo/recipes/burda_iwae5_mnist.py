"""Burda et al. (2015)'s one-layer IWAE with k = 5 on MNIST: the network and the settings of
``burda_vae_mnist``, their staircase compressed into a third of the epochs (a 5-sample epoch
costs about three VAE epochs here, and a recipe runs at most 2 hours)."""

from aezoo.recipes._recipe import Quote, Recipe, Table
from aezoo.recipes.burda_vae_mnist import NET, NLL_SAMPLES, SCHEDULE

EPOCHS = 1093  # 1 + 3 + ... + 729: the length of Burda et al.'s first seven stages

RECIPE = Recipe(
    name="burda_iwae5_mnist",
    title="Burda et al.'s one-layer IWAE, k = 5: their network, K = 5000 test NLL",
    protocol="Dynamically binarized MNIST; the network, batch, learning rate and staircase "
    "of `burda_vae_mnist` (MLP 784-200-200 tanh to a 50-D Gaussian, mirrored Bernoulli "
    "decoder; batch 250, lr 2e-3, 8 stages with the factor 10^(-i/7)), trained on the "
    f"importance-weighted bound with k = 5 samples for {EPOCHS:,} epochs (the staircase "
    f"spread over them) instead of 3,280: at the 5.1 s an epoch (11,900 examples/s) this "
    "run took alone, the full schedule would take 4.6 hours. Seed 0. Test NLL by "
    "importance sampling "
    f"with K = {NLL_SAMPLES} for each of the 10,000 test images.",
    steps=(
        f"train iwae --num-samples 5 --dataset mnist {NET} {SCHEDULE} --epochs {EPOCHS} "
        "--seed 0 --checkpoint-every 100 --workdir {runs}/iwae5",
        f"eval {{runs}}/iwae5 --nll-samples {NLL_SAMPLES}",
    ),
    tables=(
        Table(
            f"Test set after {EPOCHS:,} epochs",
            rows=(("`iwae`, k = 5, Burda's 1-layer network", "iwae5"),),
            columns=(
                (f"IS NLL (K = {NLL_SAMPLES})", "test/nll_is"),
                ("std. error", "test/nll_is_stderr"),
                ("5-sample bound", "test/loss"),
                ("active units", "active_units"),
            ),
        ),
    ),
    quoted=(
        Quote("IWAE k = 5, 1 stochastic layer (nats)", 85.54, "Burda et al. 2015, Table 1"),
        Quote("VAE, 1 stochastic layer (nats)", 86.76, "Burda et al. 2015, Table 1"),
    ),
    headline=(("iwae5", "test/nll_is"), ("iwae5", "nll_samples"), ("iwae5", "epoch")),
    budget="97 minutes on the 2-core CPU (92 of training at 5.1 s an epoch, 5 of importance "
    "sampling)",
)
