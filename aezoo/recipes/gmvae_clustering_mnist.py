"""Clustering with one objective: the mixture-prior VAE's own components on MNIST."""

from aezoo.recipes._recipe import Recipe, Table

RECIPE = Recipe(
    name="gmvae_clustering_mnist",
    title="Clustering MNIST with a mixture-prior VAE (gmvae, 16 components)",
    protocol="`aezoo train gmvae --dataset mnist --latent-dim 10 --components 16 --epochs 30` "
    "(MLP 784-512-256-10 and mirrored, Adam 1e-3, batch 128, seed 0, no pretraining), then "
    "the clustering task with its defaults: the run's own clusters (argmax p(c | z)) beside "
    "k-means and a Gaussian mixture refitted to its codes and k-means on the pixels, fitted "
    "on the training images without labels, scored on the test split.",
    steps=(
        "train gmvae --dataset mnist --latent-dim 10 --components 16 --epochs 30 --seed 0 "
        "--workdir {runs}/gm16",
        "task clustering {runs}/gm16 --out {runs}/clustering",
    ),
    tables=(Table("Clustering without labels", task="clustering"),),
    budget="about 3 minutes on the 2-core CPU",
)
