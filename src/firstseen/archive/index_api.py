"""The seam for vector indexes: what the archive needs of one (the embedded FAISS default in
faiss_index.py, an exact in-memory one for tests in memory_index.py, a distributed engine when
one machine is outgrown), and the stamp that says which catalog state an index reflects."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Stamp:
    """Which catalog (`Catalog.identity`), at which `Catalog.vectors_revision()`, an index
    reflects."""

    catalog: str
    revision: int


class VectorIndex(Protocol):
    """Inner-product search over unit vectors keyed by id (a frame's, or a part's).

    Adding ids already held, or removing ids not held, changes nothing: an index catches up by
    replaying the catalog's vector log, which may repeat what it already applied.
    """

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first; missing neighbours have id -1."""
        ...

    def ids(self) -> np.ndarray:
        """Every id held (for checks and tests: it may take a while on a large index)."""
        ...

    def __len__(self) -> int: ...
