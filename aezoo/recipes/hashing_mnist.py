"""Semantic hashing on MNIST: a binary-latent VAE's bits against the VAE's thresholded
codes, PCA hashing and random-projection LSH at 16, 32 and 64 bits."""

from aezoo.recipes._recipe import Recipe, Table

BITS = (16, 32, 64)
# Run name -> model and flags: the binary VAE with the default MLP and with no hidden layer
# (linear hashing: each bit a hyperplane of the pixels, decoded by a linear map), the VAE.
MODELS = {
    "binary_vae": "binary_vae",
    "binary_vae_linear": "binary_vae --hidden-dims none",
    "vae": "vae",
}


def _steps() -> tuple[str, ...]:
    train = tuple(
        f"train {m} --dataset mnist --epochs 20 --latent-dim {d} --seed 0 "
        f"--workdir {{runs}}/{name}{d}"
        for d in BITS
        for name, m in MODELS.items()
    )
    runs = " ".join(f"{{runs}}/{name}{d}" for d in BITS for name in MODELS)
    return (*train, f"task retrieval {runs} --out {{runs}}/retrieval")


RECIPE = Recipe(
    name="hashing_mnist",
    title="Semantic hashing on MNIST: binary latents against thresholded codes, PCA hashing, LSH",
    protocol="One run per model and code size D (16, 32, 64), seed 0: `aezoo train MODEL "
    "--dataset mnist --epochs 20 --latent-dim D` (MLP 784-512-256-D and mirrored, Bernoulli "
    "decoder, dynamic binarization, Adam 1e-3, batch 128). `binary_vae`: D Bernoulli bits, "
    "fair-coin prior, straight-through binary-concrete gradients, temperature 1 annealed to "
    "0.5 (rate 3e-4 per step); `binary_vae_linear`: the same with `--hidden-dims none` (a "
    "linear encoder and decoder: each bit a hyperplane of the pixels, as in Stochastic "
    "Generative Hashing, Dai et al. 2017). Then `aezoo task retrieval` with its defaults: "
    "1,000 test queries against the 60,000 training images, relevant = same label, mAP over "
    "the whole ranking and precision@10/@100. Bits of every run: each code dimension "
    "thresholded at its database median (for `binary_vae`, the bits' posterior "
    "probabilities; for `vae`, its posterior means), a dimension that is not an active "
    "unit (variance over the database <= 0.01, Burda et al.) a constant bit, ranked by "
    "Hamming distance; PCA hashing and LSH of the pixels with as many bits in the same table.",
    steps=_steps(),
    tables=(Table("Retrieval: 1,000 test queries against the training set", task="retrieval"),),
    notes="The target: the binary-latent model's bits above PCA hashing and LSH on mAP at "
    "16, 32 and 64 bits (the VAE's thresholded codes lose to both). The linear binary VAE "
    "clears it at every size; the MLP one at 16 and 32 bits but not at 64, where it keeps "
    "59 active bits of stroke detail that is not class (its precision@10 is still the "
    "higher): a KL weight above 1 or a lower temperature floor did not change that in "
    "probes; a linear encoder and decoder did. Each bit is then a hyperplane of the pixels "
    "chosen so that a linear map of the bits reconstructs the image: learned hyperplanes "
    "where LSH draws random ones.",
    budget="11.5 minutes on the 2-core CPU (AMD EPYC, 197 GFLOP/s; a linear run takes 25 s, "
    "an MLP one 75 s, the retrieval task 3 minutes)",
)
