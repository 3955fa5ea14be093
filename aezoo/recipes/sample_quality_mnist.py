"""Sample quality on MNIST: each model's prior against an ex-post Gaussian mixture on its
training codes, in the features of aezoo's own MNIST classifier."""

from aezoo.recipes._recipe import Recipe, Table

PRIOR = ("vae", "vamp")  # models with a prior of their own
CONTINUOUS = ("ae", "rae", "vae", "vamp")  # continuous codes: gmm, two_stage, flow
EX_POST = ("gmm", "two_stage", "flow")
DISCRETE = ("autoregressive", "uniform")  # vqvae's codebook indices
QUALITY = "--evaluators sample_quality"
FD_FLOOR = ("FD floor (train vs test)", "test/fd_mnist_cnn_train")  # the column of real vs real


def _steps() -> tuple[str, ...]:
    steps = ["features mnist"]
    for m in (*CONTINUOUS, "vqvae"):
        steps.append(f"train {m} --dataset mnist --epochs 10 --seed 0 --workdir {{runs}}/{m}")
        samplers = (("prior",) if m in PRIOR else ()) + (DISCRETE if m == "vqvae" else EX_POST)
        steps += [f"eval {{runs}}/{m} {QUALITY} --sampler {s}" for s in samplers]
    return tuple(steps)


def _key(metric: str, sampler: str) -> str:
    suffix = "" if sampler == "prior" else f"_{sampler}"
    return f"test/{metric}_mnist_cnn{suffix}"


def quality_columns(sampler: str) -> tuple[tuple[str, str], ...]:
    """The sample-quality table's columns for samples drawn by ``sampler``."""
    columns = (
        ("FD (mnist_cnn)", _key("fd", sampler)),
        ("std", _key("fd", sampler) + "_std"),
        ("precision", _key("precision", sampler)),
        ("recall", _key("recall", sampler)),
        ("density", _key("density", sampler)),
        ("coverage", _key("coverage", sampler)),
        ("class score", _key("class_score", sampler)),
        ("modes (of 10)", _key("modes", sampler)),
    )
    if sampler in ("gmm", "flow"):
        columns += (("test code NLL (nats)", f"test/code_nll_{sampler}"),)
    return columns


def _vq_columns() -> tuple[tuple[str, str], ...]:
    columns = []
    for metric, header in (("fd", "FD"), ("precision", "precision"), ("recall", "recall")):
        columns += [(f"{header}, {s}", _key(metric, s)) for s in DISCRETE]
    columns += [(f"test code NLL (nats), {s}", f"test/code_nll_{s}") for s in DISCRETE]
    return tuple(columns)


def _tables() -> tuple[Table, ...]:
    titles = {
        "gmm": "Ex-post GMM on the training codes (`--sampler gmm`)",
        "two_stage": "Two-stage VAE on the training codes (`--sampler two_stage`)",
        "flow": "RealNVP flow on the training codes (`--sampler flow`)",
    }
    tables = [
        Table(
            "The model's own prior",
            rows=tuple((f"`{m}`", m) for m in PRIOR),
            columns=(*quality_columns("prior"), FD_FLOOR),
        )
    ]
    for sampler, title in titles.items():
        tables.append(
            Table(
                title,
                rows=tuple((f"`{m}`", m) for m in CONTINUOUS),
                columns=quality_columns(sampler),
            )
        )
    tables.append(
        Table(
            "VQ-VAE: a learned autoregressive prior on its codes against uniform codes",
            rows=(("`vqvae`", "vqvae"),),
            columns=(
                *_vq_columns(),
                ("classifier test accuracy", "test/features_mnist_cnn_test_accuracy"),
            ),
        )
    )
    return tuple(tables)


RECIPE = Recipe(
    name="sample_quality_mnist",
    title="Sample quality on MNIST: own priors against ex-post samplers, 10 epochs",
    protocol="`aezoo features mnist` trains the feature network (two 5x5 stride-2 "
    "convolutions, a 128-unit feature layer, seed 0) on the MNIST train split; its test "
    "accuracy is in the table. Each model: `aezoo train MODEL --dataset mnist --epochs 10 "
    "--seed 0` (defaults: MLP 784-512-256-20, Bernoulli decoder, Adam 1e-3, batch 128), then "
    "`aezoo eval RUN --evaluators sample_quality` with its own prior and with `--sampler gmm` "
    "(10 full-covariance components fitted to the 60,000 training codes): 10,000 samples "
    "(decoder means) against the 10,000 test images, 3 independent draws (mean and std), "
    "k = 3 for precision/recall/density/coverage. FD(train, test) at the same size is the "
    "floor (last column of the first table). These are Fréchet distances in aezoo's MNIST "
    "classifier, not FIDs. The other ex-post samplers, fitted to the same training codes "
    "with their defaults: `two_stage` (a second VAE, 2 x 512 hidden, latent size = code "
    "size, learned decoder variance, 30 epochs), `flow` (RealNVP, 8 affine couplings of "
    "2 x 256, 30 epochs), and for `vqvae` (20 code positions of 64 codebook entries) "
    "`autoregressive` (a causal Transformer, width 64, 2 blocks, 20 epochs) against "
    "`uniform` codes. Test code NLL: the mean negative log-density of the test images' "
    "codes under the fitted density (exact).",
    steps=_steps(),
    tables=_tables(),
    notes="Ghosh et al. (2020) find that an ex-post GMM on the codes samples better than a "
    "VAE's N(0, I) prior (the aggregate posterior does not fill the prior) and makes a "
    "deterministic autoencoder a generator; the tables test that on the same runs, with "
    "the second-stage VAE of Dai & Wipf (2019) and a flow beside the GMM. A VQ-VAE has no "
    "prior of its own: the last table scores the autoregressive prior fitted to its codes "
    "against codes drawn uniformly.",
    budget="about 35 minutes on the 2-core CPU",
)
