"""The seam for vector indexes: what the archive needs of one (the embedded FAISS default in
faiss_index.py, an exact in-memory one for tests in memory_index.py, a distributed engine when
one machine is outgrown), and the stamp that says which catalog state an index reflects."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from firstseen.archive.catalog_api import CatalogStore


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


class KeptIndex(Protocol):
    """A `VectorIndex` of one vector kind kept in step with the catalog (what `Archive` holds
    for frames and for parts): the embedded `SyncedIndex` (index_sync.py), or a
    `MilvusKept` (milvus_index.py)."""

    changed: bool  # set when a catch-up removed or replaced anything (caches keyed by ids)

    @property
    def index(self) -> VectorIndex: ...

    def open(self) -> None:
        """Brings the index up to the catalog, or rebuilds it from the catalog."""
        ...

    def catch_up(self) -> bool:
        """Applies what the catalog's log holds after the index's revision; True if anything
        was applied."""
        ...

    def save(self) -> None:
        """Makes what the index holds durable where that is not already so; raises SaveError
        if it cannot."""
        ...


# Opens the kept index of one vector kind ("frames" or "parts") over a catalog, at a dimension:
# how `Archive` is told where its vectors live.
IndexFactory = Callable[[str, CatalogStore, int], KeptIndex]
