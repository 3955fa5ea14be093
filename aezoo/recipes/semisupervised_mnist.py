"""Semi-supervised MNIST with 100 labels: M1, M2, the categorical AAE and M1+M2."""

from aezoo.recipes._recipe import Quote, Recipe, Table

DRAWS = (0, 1, 2)


def _steps() -> tuple[str, ...]:
    steps = ["train ae --dataset mnist --epochs 20 --latent-dim 10 --seed 0 --workdir {runs}/ae10"]
    for s in DRAWS:
        steps.append(
            f"train m2 --dataset mnist --labels 100 --label-seed {s} --epochs 30 "
            f"--workdir {{runs}}/m2-{s}"
        )
        steps.append(
            f"train cat_aae --dataset mnist --labels 100 --label-seed {s} --epochs 40 "
            f"--latent-dim 10 --lr-schedule cosine --workdir {{runs}}/cat-{s}"
        )
    steps.append("eval {runs}/ae10 --export-codes {runs}/ae10-codes.npz")
    for s in DRAWS:
        steps.append(
            f"train m2 --dataset npz:{{runs}}/ae10-codes.npz --likelihood gaussian "
            f"--hidden-dims 500 --latent-dim 10 --labels 100 --label-seed {s} --epochs 50 "
            f"--workdir {{runs}}/m1m2-{s}"
        )
    runs = " ".join(f"{{runs}}/{m}-{s}" for m in ("m2", "cat") for s in DRAWS)
    steps.append(f"task semisupervised {{runs}}/ae10 {runs} --out {{runs}}/semisupervised")
    m1m2 = " ".join(f"{{runs}}/m1m2-{s}" for s in DRAWS)
    steps.append(f"task semisupervised {m1m2} --out {{runs}}/semisupervised-m1m2")
    return tuple(steps)


RECIPE = Recipe(
    name="semisupervised_mnist",
    title="Semi-supervised MNIST with 100 labels",
    protocol="10 labels per digit, 3 draws (`--label-seed 0,1,2`: the same 100 images as the "
    "task's draws 0-2). M1: logistic regression on the 10-D codes of an unsupervised `ae` "
    "(20 epochs). `m2` (30 epochs) and `cat_aae` (40 epochs, cosine learning rate) trained "
    "with the 100 labels on the pixels, one run per draw. M1+M2: `m2` trained on the `ae`'s "
    "exported codes with a Gaussian decoder (50 epochs). Baselines: logistic regression and "
    "an MLP on the labelled images alone. Test error over the 10,000 test images.",
    steps=_steps(),
    tables=(
        Table("M1, M2 and the categorical AAE", task="semisupervised"),
        Table("M1+M2", task="semisupervised", output="semisupervised-m1m2"),
    ),
    quoted=(
        Quote("M2, test error % with 100 labels", 11.97, "Kingma et al. 2014"),
        Quote("M1+M2, test error % with 100 labels", 3.33, "Kingma et al. 2014"),
        Quote("AAE, test error % with 100 labels", 1.90, "Makhzani et al. 2015"),
    ),
    budget="about 2 hours on the 2-core CPU (m2 decodes every image once per class)",
)
