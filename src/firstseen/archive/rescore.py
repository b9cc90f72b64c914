"""Exact scores for an approximate index's shortlist, from the catalog's stored vectors: what
makes an approximate index (FAISS's IVF-PQ here, Milvus's on a cluster) answer with the same
scores as exact search over the catalog, and drop ids the catalog no longer holds."""

from collections.abc import Callable

import numpy as np

NOTHING = -np.finfo(np.float32).max  # FAISS's score of a missing inner-product neighbour

# The catalog's float32 copies of stored vectors by id: (ids found, vectors), for re-scoring.
Exact = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def rescored(
    queries: np.ndarray, shortlist: np.ndarray, k: int, exact: Exact
) -> tuple[np.ndarray, np.ndarray]:
    """The shortlist's (n_queries, any width; -1 where short) exact scores from the catalog's
    vectors, best `k` first; an id the catalog no longer has (removed meanwhile) drops out."""
    found, vectors = exact(np.unique(shortlist[shortlist >= 0]))
    scores = np.full(shortlist.shape, -np.inf, np.float32)
    ids = np.full(shortlist.shape, -1, np.int64)
    if len(found):
        order = np.argsort(found)
        found, vectors = found[order], vectors[order]
        rows = np.minimum(np.searchsorted(found, shortlist), len(found) - 1)
        held = found[rows] == shortlist  # ids are never negative: -1 finds nothing
        # Every vector found against every query at once: the shortlists of a query's pictures
        # overlap, and one product cost less than gathering each query's rows.
        every = vectors @ queries.T
        scores[held] = every[rows, np.arange(len(shortlist))[:, None]][held]
        ids[held] = shortlist[held]
    return best(scores, ids, k)


def best(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best `k` of each row; missing neighbours come last, as FAISS gives them (id -1, the
    lowest float)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(scores, order, axis=1)
    ids = np.take_along_axis(ids, order, axis=1)
    missing = ids < 0
    scores[missing] = NOTHING
    return scores.astype(np.float32), ids
