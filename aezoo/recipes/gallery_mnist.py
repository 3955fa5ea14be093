"""The gallery: what every model of the zoo does, in pictures (docs: Gallery). One command
trains each model briefly on MNIST, plus a 2-D VAE (its manifold), a conv VAE, the face
manifold on Frey's faces and the sparse autoencoder's filters on photographs, then draws
them all into ``docs/gallery/`` with ``aezoo gallery``."""

from aezoo.models import BUILTIN
from aezoo.recipes._recipe import Recipe

OUT = "docs/gallery"
STRIP = ("vae", "vamp", "hvae2", "iaf", "wae", "vqvae")  # samples shown in the README
EXTRA = (
    ("vae_2d", "train vae --dataset mnist --latent-dim 2 --epochs 5 --seed 0"),
    ("vae_conv", "train vae --dataset mnist --arch conv --epochs 5 --seed 0"),
    (
        "frey_2d",
        "train vae --dataset frey_faces --latent-dim 2 --hidden-dims 200 --activation tanh "
        "--likelihood gaussian --batch-size 100 --epochs 1000 --seed 0",
    ),
    (
        "sparse_patches",
        "train sparse_ae --dataset patches8_white --hidden-dims none --latent-dim 64 "
        "--penalty kl --rho 0.01 --kl-weight 3 --likelihood gaussian --obs-logvar 0 "
        "--optimizer adamw --lr 3e-3 --weight-decay 0.5 --epochs 30 --seed 0",
    ),
)
FIGURES = {"vae_2d": "figures", "frey_2d": "figures", "sparse_patches": "filters"}
EPOCHS = 5
FEWER = {"ciwae": 2, "piwae": 2}  # their k-sample bounds: 100 s an epoch here


def _steps() -> tuple[str, ...]:
    models = [spec.name for spec in BUILTIN]
    names = [*models, *(name for name, _ in EXTRA)]
    steps = [
        f"train {m} --dataset mnist --epochs {FEWER.get(m, EPOCHS)} --seed 0 --workdir {{runs}}/{m}"
        for m in models
    ]
    for name, command in EXTRA:
        steps.append(f"{command} --workdir {{runs}}/{name}")
        if name in FIGURES:
            steps.append(f"eval {{runs}}/{name} --evaluators {FIGURES[name]}")
    runs = " ".join(f"{{runs}}/{name}" for name in names)
    steps.append(f"gallery {runs} --out {OUT} --strip {','.join(STRIP)}")
    return tuple(steps)


RECIPE = Recipe(
    name="gallery_mnist",
    title="The gallery: every model's reconstructions, samples and latent paths",
    protocol="Every model of the zoo trained with its defaults on dynamically binarized MNIST "
    "for 5 epochs (`ciwae` and `piwae` 2: their k-sample bounds take 100 s an epoch here) "
    "with seed 0 (MLP 784-512-256-20 and mirrored; Adam 1e-3, batch 128), "
    "and four runs that show more: a VAE with a 2-D code (its manifold), a conv VAE, the "
    "2-D face manifold on Frey's faces (recipe frey_manifold's model) and the sparse "
    "autoencoder's filters on whitened photograph patches (recipe patches_photos's). "
    "`aezoo gallery` draws, for each run, ten test images (one per digit), their "
    "reconstructions, ten samples of the model's own sampler (its prior; for a discrete code "
    "the autoregressive prior; for a model without a prior a Gaussian mixture on its codes), "
    "ten samples of that mixture where the model has a prior too, and the decoded straight "
    "line between two test images' codes. Needs the Frey faces file (Data: frey_faces).",
    steps=_steps(),
    headline=(),
    budget="60 minutes on the 2-core CPU, beside another recipe for most of it",
    notes="The pictures are on the [Gallery](../gallery.md) page.",
)
