"""The metrics of the application tasks: pure functions of arrays (numpy / scikit-learn).

- Embeddings: trustworthiness and continuity (Venna & Kaski 2001; scikit-learn's
  ``trustworthiness`` and the same with the two spaces swapped), k-NN accuracy.
- Retrieval: mean average precision over the whole ranked database and precision@k, for
  Euclidean distances between real codes or Hamming distances between binary codes.
- Clustering: accuracy with each cluster mapped to its majority label (the protocol of
  Makhzani et al. 2015 for more clusters than classes), accuracy under the best one-to-one
  map (Hungarian), normalized mutual information.
- Anomaly detection: the area under the ROC curve of a score (higher = more anomalous).
"""

from __future__ import annotations

import numpy as np

from aezoo.errors import ShapeError


def _rows(name: str, x: np.ndarray, n: int | None = None) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or (n is not None and len(x) != n):
        want = f"[{n}, D]" if n is not None else "[N, D]"
        raise ShapeError(f"{name} must have shape {want}; got {x.shape}")
    return x


def trustworthiness(high: np.ndarray, low: np.ndarray, k: int = 10) -> float:
    """How many of each point's k nearest neighbours in the embedding ``low`` are also near
    it in the original space ``high`` (1 = no false neighbours)."""
    from sklearn.manifold import trustworthiness as sk_trust

    high = _rows("high", high)
    return float(sk_trust(high, _rows("low", low, len(high)), n_neighbors=k))


def continuity(high: np.ndarray, low: np.ndarray, k: int = 10) -> float:
    """How many of each point's k nearest original neighbours stay near it in the
    embedding (1 = no neighbour torn away): trustworthiness with the spaces swapped."""
    return trustworthiness(low, high, k)


def knn_accuracy(x: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy within one set of points (every method is scored the same
    way, including those that cannot embed new points)."""
    from sklearn.neighbors import NearestNeighbors

    x = _rows("embedding", x, len(y))
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    votes = np.asarray(y)[idx[:, 1:]]  # the point itself comes first
    pred = np.array([np.bincount(v).argmax() for v in votes])
    return float(np.mean(pred == y))


def hamming_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[Na, Nb]`` numbers of differing bits between boolean codes (by two matmuls)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a @ (1.0 - b).T + (1.0 - a) @ b.T


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[Na, Nb]`` squared Euclidean distances (ranks as the distances do)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]


def retrieval_scores(
    queries: np.ndarray,
    query_labels: np.ndarray,
    database: np.ndarray,
    database_labels: np.ndarray,
    *,
    hamming: bool = False,
    ks: tuple[int, ...] = (10, 100),
    chunk: int = 250,
) -> dict[str, float]:
    """mAP over the full ranking of ``database`` and precision@k, averaged over the queries;
    an item is relevant when it has the query's label. Ties (frequent with Hamming
    distances) keep the database order, which callers should make random."""
    queries = _rows("queries", queries, len(query_labels))
    database = _rows("database", database, len(database_labels))
    if queries.shape[1] != database.shape[1]:
        raise ShapeError(f"queries have {queries.shape[1]} dims, database {database.shape[1]}")
    distance = hamming_distances if hamming else euclidean_distances
    ap, hits = [], {k: [] for k in ks}
    db_labels = np.asarray(database_labels)
    for start in range(0, len(queries), chunk):
        d = distance(queries[start : start + chunk], database)
        order = np.argsort(d, axis=1, kind="stable")
        rel = db_labels[order] == np.asarray(query_labels)[start : start + chunk, None]
        found = np.cumsum(rel, axis=1)
        ranks = np.arange(1, rel.shape[1] + 1)
        ap.append((rel * found / ranks).sum(1) / np.maximum(found[:, -1], 1))
        for k in ks:
            hits[k].append(found[:, min(k, rel.shape[1]) - 1] / min(k, rel.shape[1]))
    out = {"map": float(np.mean(np.concatenate(ap)))}
    out.update({f"precision@{k}": float(np.mean(np.concatenate(hits[k]))) for k in ks})
    return out


def majority_map(assign: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """Each cluster -> the most frequent label among its members."""
    return {int(c): int(np.bincount(labels[assign == c]).argmax()) for c in np.unique(assign)}


def majority_accuracy(
    assign: np.ndarray, labels: np.ndarray, mapping: dict[int, int] | None = None
) -> float:
    """Accuracy when each cluster predicts its majority label (``mapping``: one learned on
    other rows, e.g. the training split; clusters it does not know count as wrong)."""
    assign, labels = np.asarray(assign), np.asarray(labels)
    mapping = majority_map(assign, labels) if mapping is None else mapping
    pred = np.array([mapping.get(int(c), -1) for c in assign])
    return float(np.mean(pred == labels))


def hungarian_accuracy(assign: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy under the best one-to-one map between clusters and labels."""
    from scipy.optimize import linear_sum_assignment

    assign, labels = np.asarray(assign), np.asarray(labels)
    counts = np.zeros((assign.max() + 1, labels.max() + 1), np.int64)
    np.add.at(counts, (assign, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels))


def nmi(assign: np.ndarray, labels: np.ndarray) -> float:
    """Normalized mutual information between clusters and labels (arithmetic mean norm)."""
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(labels, assign))


def auroc(scores: np.ndarray, anomalous: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) for the boolean
    ``anomalous``: 1 = every anomaly scored above every normal example, 0.5 = chance."""
    from sklearn.metrics import roc_auc_score

    scores, anomalous = np.asarray(scores, np.float64), np.asarray(anomalous, bool)
    if scores.shape != anomalous.shape or scores.ndim != 1:
        raise ShapeError(f"scores {scores.shape} and labels {anomalous.shape} must be [N]")
    if not np.all(np.isfinite(scores)):
        raise ShapeError("anomaly scores must be finite")
    return float(roc_auc_score(anomalous, scores))
