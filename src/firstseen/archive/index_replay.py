"""Bringing a vector index up to the catalog through its vector log: the part of keeping an
index in step that does not depend on where the index lives, shared by the embedded FAISS one
(index_sync.py) and the Milvus one (milvus_index.py).

An index reflects one catalog revision (its `Stamp`); what the catalog's log holds after it is
applied in order, adds as adds of the vectors still stored and removals as removals. Adding ids
already held, or removing ids not held, changes nothing, so replaying a change twice is harmless
and an index writes its stamp after the changes it names.
"""

from typing import Protocol

import numpy as np

from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.index_api import Stamp
from firstseen.archive.records import VectorChange


class Replaying(Protocol):
    """What replay needs of an index: adds that may repeat, removals of ids it may not hold."""

    def add(self, ids: np.ndarray, vectors: np.ndarray, span: np.ndarray | None = None) -> None:
        """Adds `vectors` under `ids`; `span` is the whole id range the logged change added,
        some of which may be gone from the catalog since."""
        ...

    def remove(self, ids: np.ndarray) -> None: ...


def replayable(stamp: Stamp | None, catalog: CatalogStore) -> bool:
    """Whether an index stamped so can be brought up to date by the catalog's log alone: the
    same catalog, at a revision the log still covers and not past the catalog's."""
    return (
        stamp is not None
        and stamp.catalog == catalog.identity
        and catalog.log_from() <= stamp.revision <= catalog.vectors_revision()
    )


def logged_changes(catalog: CatalogStore, kind: str, after: int, upto: int) -> list[VectorChange]:
    """The log's changes of vectors of `kind` after revision `after`, up to `upto`, in order."""
    return [c for c in catalog.vector_changes(after) if c.revision <= upto and c.kind == kind]


def replay(catalog: CatalogStore, kind: str, changes: list[VectorChange], index: Replaying) -> bool:
    """Applies logged changes to `index`; True if any removed vectors (caches keyed by ids must
    then be dropped)."""
    removed = False
    for change in changes:
        span = np.arange(change.lo, change.hi + 1, dtype=np.int64)
        if change.removed:
            index.remove(span)
            removed = True
        else:
            ids, vectors = catalog.vectors_in(kind, change.lo, change.hi)
            index.add(ids, vectors, span)
    return removed
