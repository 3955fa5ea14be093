"""Why ``burda_vae_mnist`` may run Burda et al.'s epochs at batch 250: batch 20 (theirs) and
batch 250 side by side at an equal number of examples."""

from aezoo.recipes._recipe import Recipe, Table
from aezoo.recipes.burda_vae_mnist import NET

EPOCHS = 15
LRS = "0.001,0.002,0.004"

RECIPE = Recipe(
    name="burda_batch_mnist",
    title="Burda et al.'s VAE at batch 20 and at batch 250, equal examples",
    protocol="Dynamically binarized MNIST; Burda et al.'s one-layer VAE (MLP 784-200-200 "
    f"tanh, 50-D code, Bernoulli decoder); Adam at a constant learning rate for {EPOCHS} "
    "epochs, seed 0: their batch 20 at their lr 1e-3, and batch 250 at lr 1e-3, 2e-3 and "
    "4e-3 (vmapped members of one run). Scored by the test -ELBO after the same number of "
    "examples: the batch-250 setting that learns as fast per example as batch 20 is the one "
    "`burda_vae_mnist` uses for their 3,280 epochs (batch 20 would take about 4 hours on "
    "this CPU).",
    steps=(
        f"train vae --dataset mnist {NET} --batch-size 20 --lr 0.001 --epochs {EPOCHS} "
        "--seed 0 --workdir {runs}/batch20",
        f"train vae --dataset mnist {NET} --batch-size 250 --sweep lr={LRS} --epochs {EPOCHS} "
        "--seed 0 --workdir {runs}/batch250",
        "eval {runs}/batch20 --evaluators objective",
        "eval {runs}/batch250 --evaluators objective",
    ),
    tables=(
        Table(
            f"Test set after {EPOCHS} epochs (one seed)",
            rows=(("batch 20, lr 1e-3", "batch20"), ("batch 250", "batch250")),
            columns=(("test -ELBO", "test/loss"), ("KL", "test/kl")),
            digits=2,
        ),
    ),
    budget="about 6 minutes on the 2-core CPU (beside another job)",
)
