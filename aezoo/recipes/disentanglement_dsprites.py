"""Disentanglement on dSprites: the criterion metrics over three seeds per model."""

from aezoo.recipes._recipe import Recipe, Table

RUNS = (
    ("tcvae8", "beta_tcvae --epochs 7 --batch-size 512 --beta 8"),
    ("factorvae", "factor_vae --epochs 5 --batch-size 256 --gamma 35"),
    ("dip", "dip_vae --epochs 2 --batch-size 256 --dip-type i --lambda-od 10"),
    ("betavae", "beta_vae --epochs 2 --batch-size 256 --sweep beta=1,4"),
)
KEYS = ("mig", "factor_vae_score", "beta_vae_score", "dci_disentanglement", "sap", "modularity")


def _steps() -> tuple[str, ...]:
    steps = []
    for name, settings in RUNS:
        model, rest = settings.split(" ", 1)
        steps.append(
            f"train {model} --dataset dsprites {rest} --seeds 3 --latent-dim 10 "
            f"--workdir {{runs}}/{name}"
        )
        steps.append(f"eval {{runs}}/{name} --evaluators disentanglement")
    return tuple(steps)


RECIPE = Recipe(
    name="disentanglement_dsprites",
    title="Disentanglement on dSprites",
    protocol="The zoo's MLP nets (4096-512-256-10 and mirrored, Bernoulli decoder), 10 "
    "latents, Adam 1e-3, 3 seeds vmapped in one process; every metric with "
    "disentanglement_lib's sample sizes (10,000 to fit, 5,000 to score), mean and std over "
    "the seeds of each swept value (the run's report.md has every seed).",
    steps=_steps(),
    tables=tuple(
        Table(
            f"`{name}` (mean over its seeds)",
            rows=((name, name),),
            columns=tuple((k, f"disentanglement/{k}") for k in KEYS),
        )
        for name, _ in RUNS
    ),
    budget="about 2.5 hours on the 2-core CPU (an epoch of 3 seeds takes about 4 minutes)",
)
