"""Disentanglement on dSprites, the second half of ``disentanglement_dsprites``: DIP-VAE-I
and the beta-VAE (beta 1, the plain VAE, and 4), three seeds each."""

from aezoo.recipes._recipe import Recipe
from aezoo.recipes.disentanglement_dsprites import PROTOCOL, steps, tables

RUNS = (
    ("dip", "dip_vae --epochs 2 --batch-size 256 --dip-type i --lambda-od 10"),
    ("betavae", "beta_vae --epochs 2 --batch-size 256 --sweep beta=1,4"),
)

RECIPE = Recipe(
    name="disentanglement_baselines_dsprites",
    title="Disentanglement on dSprites: DIP-VAE-I and the beta-VAE",
    protocol=PROTOCOL,
    steps=steps(RUNS),
    tables=tables(RUNS),
    budget="about 1 hour on the 2-core CPU (an epoch of 3 seeds takes about 4 minutes)",
)
