"""The PostgreSQL catalog's vectors as the indexes read them: one revision's state, seen whole,
as archive/catalog_vectors.py's `VectorSnapshot` reads SQLite's.

It reads through a connection of its own inside one repeatable-read, read-only transaction: one
committed state however long a build of millions of vectors takes, while writers carry on. As
writers take turns on the counters row (pg_base.py), that state is every commit up to one, and the
revision it reads is theirs.
"""

from collections.abc import Iterator

import numpy as np

from firstseen.archive.catalog_vectors import VECTOR_TABLES, as_float32
from firstseen.archive.pg_base import connect
from firstseen.archive.pg_frames import DESCRIBED
from firstseen.archive.records import VectorChange

_CHUNK = 65_536  # vectors read at once: 64 MB of float32 at 512 dimensions


class PgVectorSnapshot:
    """The catalog's vectors and vector log at one revision (`revision`)."""

    def __init__(self, url: str) -> None:
        self._db = connect(url)
        self._db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = self._db.execute("SELECT revision FROM counters").fetchone()
        self.revision: int = int(row[0]) if row else 0

    def close(self) -> None:
        self._db.close()  # the transaction ends with it, having written nothing

    def changes(self, after: int) -> list[VectorChange]:
        """The vector log after revision `after`, up to this snapshot's."""
        rows = self._db.execute(
            "SELECT revision, kind, lo, hi, removed FROM vector_log WHERE revision > %s"
            " ORDER BY revision, id",
            (after,),
        ).fetchall()
        return [VectorChange(*r) for r in rows]

    def vectors_in(self, kind: str, lo: int, hi: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The stored vectors with ids from `lo` to `hi`, in chunks."""
        start = lo
        while start <= hi:
            rows = self._db.execute(
                f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE id BETWEEN %s AND %s"
                f" AND {DESCRIBED} ORDER BY id LIMIT %s",
                (start, hi, _CHUNK),
            ).fetchall()
            if not rows:
                return
            yield as_float32(rows)
            start = rows[-1][0] + 1

    def all_vectors(self, kind: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored vector of a kind, in chunks, by id."""
        yield from self.vectors_in(kind, -(2**63), 2**63 - 1)

    def count(self, kind: str) -> int:
        row = self._db.execute(
            f"SELECT COUNT(*) FROM {VECTOR_TABLES[kind]} WHERE {DESCRIBED}"
        ).fetchone()
        return int(row[0]) if row else 0

    def sample(self, kind: str, n: int, seed: int = 0) -> np.ndarray:
        """About `n` stored vectors drawn evenly over the ids, by primary-key lookups."""
        table = VECTOR_TABLES[kind]
        bounds = self._db.execute(f"SELECT MIN(id), MAX(id) FROM {table}").fetchone()
        if bounds is None or bounds[0] is None:
            return np.zeros((0, 0), np.float32)
        lo, hi = bounds
        wanted = np.unique(np.random.default_rng(seed).integers(lo, hi + 1, n)).tolist()
        rows = self._db.execute(
            f"SELECT id, vector FROM {table} WHERE {DESCRIBED} AND id = ANY(%s::bigint[])",
            (wanted,),
        ).fetchall()
        return as_float32(rows)[1]
