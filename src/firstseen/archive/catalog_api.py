"""What the rest of firstseen asks of a catalog, whatever keeps it: the embedded SQLite catalog
(archive/catalog.py) is one, a catalog on a PostgreSQL server (archive/pg_catalog.py) another.

`CatalogReader` is what search, the CLI and the HTTP service read (the code outside archive/);
`CatalogStore` adds what the archive itself writes and its vector indexes are built from.
`Archive.catalog` is a `CatalogStore`, so the type checker proves that every caller goes through
these methods and none reaches into SQLite. Each read a command or a request makes answers from
indexes, in milliseconds at millions of frames (tests/test_catalog_scale.py); `page(text=...)`
alone reads every item, as its text may be anywhere in a path, title or URL.

Records are those of archive/records.py. Whether anything changed is asked by `version()` alone:
equal versions mean nothing was committed between them, here or by another process.
"""

import string
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from firstseen.archive.records import (
    BulkItems,
    BulkOutcome,
    CatalogVersion,
    Counts,
    DescribedFrame,
    ExportBatches,
    FrameInfo,
    FrameRecord,
    Ids,
    Item,
    Page,
    PhotoWithoutParts,
    Sighting,
    TimedFrame,
    VectorChange,
)

# Hex digits of a SHA-256 that name an item: few enough to type, enough to name one of millions.
MIN_PREFIX = 6


def is_sha_prefix(ref: str) -> bool:
    """Whether `ref` can name an item by its SHA-256: hex digits only, enough of them."""
    return MIN_PREFIX <= len(ref) <= 64 and all(c in string.hexdigits for c in ref)


class Snapshot(Protocol):
    """The catalog's vectors and vector log at one revision, read whole however long it takes
    while writers carry on: what an index is built or merged from (archive/faiss_build.py)."""

    revision: int

    def close(self) -> None: ...

    def changes(self, after: int) -> list[VectorChange]:
        """The vector log after revision `after`, up to the snapshot's."""
        ...

    def vectors_in(self, kind: str, lo: int, hi: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, float32 vectors) with ids from `lo` to `hi`, in chunks."""
        ...

    def all_vectors(self, kind: str) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def count(self, kind: str) -> int: ...

    def sample(self, kind: str, n: int, seed: int = 0) -> np.ndarray:
        """About `n` stored vectors drawn evenly over the ids, for training."""
        ...


class CatalogReader(Protocol):
    """The catalog as search, the CLI and the HTTP service read it."""

    def version(self) -> CatalogVersion:
        """Differs after any commit, by this process or another: the test for "has anything
        changed", and the key for caches of the catalog's contents."""
        ...

    def item(self, item_id: int) -> Item | None: ...

    def items(self) -> list[Item]:
        """Every item, by id (a listing or report of the whole archive)."""
        ...

    def find_items(self, ref: str) -> list[Item]:
        """Items named by `ref`: their id, a SHA-256 prefix of MIN_PREFIX or more hex digits, or
        a path they were seen at; by id."""
        ...

    def page(
        self,
        kind: str | None = None,
        text: str | None = None,
        published_from: str | None = None,
        published_to: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page: ...

    def counts(self) -> Counts: ...

    def kinds(self) -> dict[str, int]: ...

    def sightings(self, item_id: int) -> list[Sighting]:
        """Every sighting of an item, earliest first."""
        ...

    def item_frames(self, item_id: int) -> list[DescribedFrame]: ...

    def frames_between(self, item_id: int, start: float, end: float) -> list[TimedFrame]: ...

    def frames_info(self, frame_ids: Ids) -> dict[int, FrameInfo]: ...

    def vectors(self, frame_ids: Ids) -> np.ndarray: ...

    def hash_only_frames(self, min_quality: int = 0) -> list[FrameInfo]: ...

    def meta(self, key: str) -> str | None: ...

    def close(self) -> None: ...


class CatalogStore(CatalogReader, Protocol):
    """The catalog as the archive keeps it: adding and removing content, and what the vector
    indexes are built from and catch up by."""

    identity: str  # tells this catalog from another at the same revision

    def snapshot(self) -> Snapshot:
        """The vectors at the current revision, on a connection of the snapshot's own."""
        ...

    def item_id(self, sha256: str) -> int | None: ...

    def add_item(
        self,
        sha256: str,
        kind: str,
        path: str,
        size: tuple[int, int],
        duration: float | None,
        nbytes: int,
        frames: Sequence[FrameRecord],
        sighting: Sighting,
        origin: str = "media",
    ) -> int:
        """All of an item or none of it; raises AlreadyArchived for content already there."""
        ...

    def add_sighting(self, item_id: int, sighting: Sighting) -> bool: ...

    def remove_item(self, item_id: int) -> list[int]: ...

    def add_parts(self, frame_id: int, vectors: np.ndarray) -> list[int]: ...

    def add_bulk(self, bulk: BulkItems) -> BulkOutcome:
        """Many items at once (an import's batch), in one transaction: those it holds already
        only gain their new sightings."""
        ...

    def known_items(self, shas: Sequence[str]) -> dict[str, int]: ...

    def vector_dim(self) -> int | None: ...

    def export_rows(self, batch: int) -> ExportBatches:
        """Every table's rows, as the exchange format lists them, from one snapshot."""
        ...

    def photos_without_parts(self) -> list[PhotoWithoutParts]: ...

    def has_described_frames(self) -> bool: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def frame_ids(self) -> np.ndarray: ...

    def part_ids(self, item_id: int | None = None) -> np.ndarray: ...

    def part_vectors(self, part_ids: Ids) -> np.ndarray: ...

    def vectors_revision(self) -> int:
        """Counts every change of items, frames and parts: what an index file is stamped with."""
        ...

    def data_version(self) -> int:
        """Changes with commits by other processes (what the indexes in memory have not seen)
        and may change with this one's own too (a catalog on a database server counts every
        commit): cheap enough to ask before every request."""
        ...

    def log_from(self) -> int: ...

    def vector_changes(self, after: int) -> list[VectorChange]: ...

    def stored_vectors(self, kind: str, wanted: Ids) -> tuple[np.ndarray, np.ndarray]: ...

    def vectors_in(self, kind: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]: ...
