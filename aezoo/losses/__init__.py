"""Pure, elementwise, unreduced losses: likelihoods and divergences. Callers reduce."""

from aezoo.losses._divergences import kl_normal, kl_normal_std, total_correlation
from aezoo.losses._likelihoods import (
    LIKELIHOODS,
    TWO_PARAMETER,
    bernoulli_nll,
    discretized_logistic_nll,
    gaussian_log_prob,
    gaussian_nll,
    image_nll,
    pixel_nll,
)
from aezoo.losses._penalties import (
    MMD_KERNELS,
    kl_bernoulli_rate,
    l1_activity,
    mmd,
    mmd_kernel,
    mmd_rbf,
)

__all__ = [
    "LIKELIHOODS",
    "TWO_PARAMETER",
    "bernoulli_nll",
    "discretized_logistic_nll",
    "gaussian_log_prob",
    "gaussian_nll",
    "image_nll",
    "kl_bernoulli_rate",
    "kl_normal",
    "kl_normal_std",
    "l1_activity",
    "pixel_nll",
    "MMD_KERNELS",
    "mmd",
    "mmd_kernel",
    "mmd_rbf",
    "total_correlation",
]
