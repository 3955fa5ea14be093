"""Representation quality: how well a linear probe and k-NN read labels off the codes.

The lecture's "manifold learning" view: a good code makes classes separable with simple
readers. Baselines on the same images: raw pixels, and PCA to the same dimension as the code.
"""

from __future__ import annotations

import numpy as np


def probe_accuracies(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    *,
    neighbors: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Test accuracy of a logistic-regression probe and a k-NN classifier fit on train.

    Features are standardized with the training statistics first.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    a, b = scaler.transform(train_x), scaler.transform(test_x)
    logreg = LogisticRegression(max_iter=500, random_state=seed).fit(a, train_y)
    knn = KNeighborsClassifier(n_neighbors=neighbors).fit(a, train_y)
    return {
        "logreg_acc": float(logreg.score(b, test_y)),
        "knn_acc": float(knn.score(b, test_y)),
    }


def pca_features(train_x: np.ndarray, test_x: np.ndarray, dim: int, seed: int = 0):
    """Project both sets on the top ``dim`` principal components of ``train_x``."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=dim, random_state=seed).fit(train_x)
    return pca.transform(train_x), pca.transform(test_x)
