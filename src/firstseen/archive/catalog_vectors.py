"""The catalog's vectors as the indexes read them: one revision's state, seen whole.

An index built or merged from the catalog must hold exactly the vectors of one revision, or the
vector log replayed after it would add some twice or miss some. `VectorSnapshot` reads through a
connection of its own inside one read transaction (WAL: writers carry on beside it), so it sees one
committed state however long a build of ten million vectors takes, and the catalog's own
connection stays free for searches meanwhile.
"""

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from firstseen.archive.records import Ids, VectorChange

VECTOR_TABLES = {"frames": "frames", "parts": "parts"}  # the vector kinds, and the table of each
_CHUNK = 65_536  # vectors read at once: 64 MB of float32 at 512 dimensions
IDS_PER_QUERY = 500  # ids per `IN (...)` list: well under SQLite's limit on parameters


def as_float32(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of (id, float16 bytes) rows."""
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    if not rows:
        return ids, np.zeros((0, 0), np.float32)
    # One buffer for all rows: an array per row took as long as SQLite took to read the rows.
    joined = np.frombuffer(b"".join(r[1] for r in rows), np.float16)
    return ids, joined.reshape(len(rows), -1).astype(np.float32)


def in_order(found: np.ndarray, vectors: np.ndarray, wanted: Ids) -> np.ndarray:
    """The rows of `vectors` (stored under the ids `found`) in the order of `wanted`; every id
    wanted must be found (KeyError otherwise)."""
    row = {int(i): n for n, i in enumerate(found.tolist())}
    return vectors[[row[int(i)] for i in wanted]]


class SnapshotReads(ABC):
    """What every catalog's snapshot reads the same way: vectors by id range in chunks, and a
    training sample drawn evenly over the ids. Each catalog supplies its three queries."""

    @abstractmethod
    def _between(self, kind: str, lo: int, hi: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` (id, vector) rows of a kind with ids from `lo` to `hi`, by id."""

    @abstractmethod
    def _picked(self, kind: str, ids: list[int]) -> list[tuple[int, bytes]]:
        """The (id, vector) rows of a kind with these ids, those that exist and are described."""

    @abstractmethod
    def _id_bounds(self, kind: str) -> tuple[int, int] | None:
        """The lowest and highest id of a kind's table; None when it is empty."""

    def vectors_in(self, kind: str, lo: int, hi: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stored vectors with ids from `lo` to `hi`, in chunks."""
        start = lo
        while start <= hi:
            rows = self._between(kind, start, hi, _CHUNK)
            if not rows:
                return
            yield as_float32(rows)
            start = rows[-1][0] + 1

    def all_vectors(self, kind: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored vector of a kind, in chunks, by id."""
        yield from self.vectors_in(kind, -(2**63), 2**63 - 1)

    def sample(self, kind: str, n: int, seed: int = 0) -> np.ndarray:
        """About `n` stored vectors drawn evenly over the ids, by primary-key lookups (no scan
        of the table), for training an approximate index."""
        bounds = self._id_bounds(kind)
        if bounds is None:
            return np.zeros((0, 0), np.float32)
        lo, hi = bounds
        wanted = np.unique(np.random.default_rng(seed).integers(lo, hi + 1, n)).tolist()
        return as_float32(self._picked(kind, wanted))[1]


class VectorSnapshot(SnapshotReads):
    """The catalog's vectors and vector log at one revision (`revision`)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        self._db.execute("BEGIN")
        row = self._db.execute(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'revision'"
        ).fetchone()
        self.revision: int = row[0] if row else 0

    def close(self) -> None:
        self._db.rollback()
        self._db.close()

    def changes(self, after: int) -> list[VectorChange]:
        """The vector log after revision `after`, up to this snapshot's."""
        rows = self._db.execute(
            "SELECT revision, kind, lo, hi, removed FROM vector_log WHERE revision > ?"
            " ORDER BY revision, rowid",
            (after,),
        ).fetchall()
        return [VectorChange(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def count(self, kind: str) -> int:
        return int(
            self._db.execute(
                f"SELECT COUNT(*) FROM {VECTOR_TABLES[kind]} WHERE length(vector) > 0"
            ).fetchone()[0]
        )

    def _between(self, kind: str, lo: int, hi: int, limit: int) -> list[tuple[int, bytes]]:
        return self._db.execute(
            f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE id BETWEEN ? AND ?"
            " AND length(vector) > 0 ORDER BY id LIMIT ?",
            (lo, hi, limit),
        ).fetchall()

    def _picked(self, kind: str, ids: list[int]) -> list[tuple[int, bytes]]:
        rows: list[tuple[int, bytes]] = []
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            rows += self._db.execute(
                f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE length(vector) > 0"
                f" AND id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
        return rows

    def _id_bounds(self, kind: str) -> tuple[int, int] | None:
        lo, hi = self._db.execute(f"SELECT MIN(id), MAX(id) FROM {VECTOR_TABLES[kind]}").fetchone()
        return None if lo is None else (lo, hi)
