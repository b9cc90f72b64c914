"""An exact vector index held in memory: the `VectorIndex` seam's reference, for tests that need
an index without files, and to check another implementation's answers against."""

import numpy as np


class MemoryIndex:
    """Exact inner-product search over a dict of vectors by id."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._vectors: dict[int, np.ndarray] = {}

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        for i, vector in zip(ids.tolist(), np.asarray(vectors, np.float32), strict=True):
            self._vectors.setdefault(int(i), vector)

    def remove(self, ids: np.ndarray) -> None:
        for i in ids.tolist():
            self._vectors.pop(int(i), None)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, len(self)))
        queries = np.asarray(queries, np.float32)
        if not self._vectors:
            empty = np.full((len(queries), 1), -1, dtype=np.int64)
            return np.zeros(empty.shape, np.float32), empty
        ids = np.fromiter(self._vectors, np.int64, len(self._vectors))
        scores = queries @ np.stack(list(self._vectors.values())).T
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, axis=1), ids[order]

    def ids(self) -> np.ndarray:
        return np.fromiter(self._vectors, np.int64, len(self._vectors))

    def __len__(self) -> int:
        return len(self._vectors)
