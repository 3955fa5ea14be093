"""Burda et al. (2015)'s one-layer VAE on MNIST: their network, their 3,280-epoch staircase,
the same number of examples at a larger batch."""

from aezoo.recipes._recipe import Quote, Recipe, Table

EPOCHS = 3280  # Burda et al.: 3^i epochs at lr 1e-3 * 10^(-i/7), i = 0..7
BATCH = 250
LR = 2e-3
NLL_SAMPLES = 5000
NET = "--hidden-dims 200,200 --latent-dim 50 --activation tanh"
SCHEDULE = f"--batch-size {BATCH} --lr {LR} --lr-schedule burda --lr-decay 0.1"
NLL_COLUMNS = (  # the table of a one-layer likelihood recipe
    (f"IS NLL (K = {NLL_SAMPLES})", "test/nll_is"),
    ("std. error", "test/nll_is_stderr"),
    ("-ELBO", "test/loss"),
    ("KL", "test/kl"),
    ("active units", "active_units"),
)

RECIPE = Recipe(
    name="burda_vae_mnist",
    title="Burda et al.'s one-layer VAE: their network and schedule, K = 5000 test NLL",
    protocol="Dynamically binarized MNIST; Burda et al. (2015)'s one-layer VAE: MLP "
    "784-200-200 tanh to a 50-D diagonal Gaussian, mirrored Bernoulli decoder, N(0, I) prior, "
    "one sample, analytic KL; Adam, their staircase schedule (8 stages of 3^i epochs, the "
    f"learning rate times 10^(-i/7), {EPOCHS:,} epochs in all), seed 0. Their batch is 20 "
    f"at lr 1e-3; here the same {EPOCHS:,} epochs run at batch {BATCH} and lr {LR:g} "
    "(batch 20 takes about 4 h on this CPU): recipe `burda_batch_mnist` compares them side "
    "by side at equal examples, the reason for this batch and learning rate. Adam's "
    "epsilon is Optax's 1e-8 (theirs 1e-4). Test NLL by "
    f"importance sampling with K = {NLL_SAMPLES} for each of the 10,000 test images.",
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
        Quote(
            "VAE, 1 stochastic layer, test NLL (nats)",
            86.76,
            "Burda et al. 2015, Table 1 (batch 20, 3,280 epochs, K = 5000)",
        ),
        Quote("IWAE k = 5, 1 stochastic layer (nats)", 85.54, "Burda et al. 2015, Table 1"),
    ),
    headline=(("vae", "test/nll_is"), ("vae", "nll_samples"), ("vae", "epoch")),
    budget="about 110 minutes of training and 8 of evaluation on the 2-core CPU",
)
