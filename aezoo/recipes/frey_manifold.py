"""Kingma & Welling's face manifold: a VAE with a 2-D code on Frey's faces (the paper's
Fig. 4a), and the test bound and importance-sampled likelihood of a 2-D and a 10-D code."""

from aezoo.recipes._recipe import Recipe, Table

_MODEL = (
    "--dataset frey_faces --hidden-dims 200 --activation tanh --likelihood gaussian "
    "--batch-size 100 --epochs 1000 --seed 0"
)

RECIPE = Recipe(
    name="frey_manifold",
    title="Frey faces: the learned face manifold (2-D code) and test likelihoods",
    protocol="Frey's 1,965 grey 28x20 faces (a file you provide: see Data), 1,765 for training "
    "and 200 held out by a fixed permutation; Kingma & Welling's architecture: one tanh "
    "hidden layer of 200 units each side, a Gaussian decoder (a mean per pixel and one "
    "learned variance; pixels scaled to [0, 1]), N(0, I) prior; Adam 1e-3, batch 100, 1,000 epochs "
    "(about 18,000 steps), seed 0. Test -ELBO and IS NLL (K = 1,000) are densities of "
    "[0, 1]-scaled pixels (negative nats: a density above 1); bits/dim add the 8 bits of the "
    "0..255 scale. manifold.png: the 2-D model's decoder means on a Gaussian-quantile grid.",
    steps=(
        f"train vae {_MODEL} --latent-dim 2 --workdir {{runs}}/vae2d",
        "eval {runs}/vae2d --nll-samples 1000",
        f"train vae {_MODEL} --latent-dim 10 --workdir {{runs}}/vae10d",
        "eval {runs}/vae10d --nll-samples 1000",
    ),
    tables=(
        Table(
            "Held-out faces after 1,000 epochs",
            rows=(("`vae`, 2-D code", "vae2d"), ("`vae`, 10-D code", "vae10d")),
            columns=(
                ("IS NLL (nats, K = 1,000)", "test/nll_is"),
                ("-ELBO (nats)", "test/loss"),
                ("bits/dim", "test/bits_per_dim"),
                ("active units", "active_units"),
            ),
            digits=1,
        ),
    ),
    headline=(("vae2d", "test/nll_is"), ("vae10d", "test/nll_is")),
    budget="about 3 minutes on the 2-core CPU",
    notes="The 2-D model's manifold.png (in the Gallery) is the paper's Fig. 4a: the "
    "expression changes along z[1] (smiling at the top, neutral to frowning at the bottom); "
    "the change along z[0] is subtler at this size.",
)
