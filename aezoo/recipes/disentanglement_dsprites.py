"""Disentanglement on dSprites: the criterion metrics over three seeds per model.

Split in two recipes so that each fits one sitting of the 2-core CPU (2.5 hours): this one
trains the total-correlation models (beta-TCVAE, FactorVAE);
``disentanglement_baselines_dsprites`` trains DIP-VAE-I and the beta-VAE (beta 1 and 4)."""

from aezoo.recipes._recipe import Recipe, Table

RUNS = (
    ("tcvae8", "beta_tcvae --epochs 7 --batch-size 512 --beta 8"),
    ("factorvae", "factor_vae --epochs 5 --batch-size 256 --gamma 35"),
)
KEYS = ("mig", "factor_vae_score", "beta_vae_score", "dci_disentanglement", "sap", "modularity")
PROTOCOL = (
    "The zoo's MLP nets (4096-512-256-10 and mirrored, Bernoulli decoder), 10 latents, Adam "
    "1e-3, 3 seeds vmapped in one process; every metric with disentanglement_lib's sample "
    "sizes (10,000 to fit, 5,000 to score), mean and std over the seeds of each swept value "
    "(the run's report.md has every seed)."
)


def steps(runs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Train each model (3 seeds vmapped), then score it with every metric."""
    out = []
    for name, settings in runs:
        model, rest = settings.split(" ", 1)
        out.append(
            f"train {model} --dataset dsprites {rest} --seeds 3 --latent-dim 10 "
            f"--workdir {{runs}}/{name}"
        )
        out.append(f"eval {{runs}}/{name} --evaluators disentanglement")
    return tuple(out)


def tables(runs: tuple[tuple[str, str], ...]) -> tuple[Table, ...]:
    """One table per model: every metric, mean over its seeds."""
    return tuple(
        Table(
            f"`{name}` (mean over its seeds)",
            rows=((name, name),),
            columns=tuple((k, f"disentanglement/{k}") for k in KEYS),
        )
        for name, _ in runs
    )


RECIPE = Recipe(
    name="disentanglement_dsprites",
    title="Disentanglement on dSprites: beta-TCVAE and FactorVAE",
    protocol=PROTOCOL,
    steps=steps(RUNS),
    tables=tables(RUNS),
    budget="about 1.5 hours on the 2-core CPU (an epoch of 3 seeds takes about 4 minutes)",
)
