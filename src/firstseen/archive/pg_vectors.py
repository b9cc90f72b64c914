"""The PostgreSQL catalog's vectors as the indexes read them: one revision's state, seen whole,
as archive/catalog_vectors.py's `VectorSnapshot` reads SQLite's.

It reads through a connection of its own inside one repeatable-read, read-only transaction: one
committed state however long a build of millions of vectors takes, while writers carry on. As
writers take turns on the counters row (pg_base.py), that state is every commit up to one, and the
revision it reads is theirs.
"""

from firstseen.archive.catalog_vectors import VECTOR_TABLES, SnapshotReads
from firstseen.archive.pg_base import connect
from firstseen.archive.pg_frames import DESCRIBED
from firstseen.archive.records import VectorChange


class PgVectorSnapshot(SnapshotReads):
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

    def count(self, kind: str) -> int:
        row = self._db.execute(
            f"SELECT COUNT(*) FROM {VECTOR_TABLES[kind]} WHERE {DESCRIBED}"
        ).fetchone()
        return int(row[0]) if row else 0

    def _between(self, kind: str, lo: int, hi: int, limit: int) -> list[tuple[int, bytes]]:
        return self._db.execute(
            f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE id BETWEEN %s AND %s"
            f" AND {DESCRIBED} ORDER BY id LIMIT %s",
            (lo, hi, limit),
        ).fetchall()

    def _picked(self, kind: str, ids: list[int]) -> list[tuple[int, bytes]]:
        return self._db.execute(
            f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE {DESCRIBED}"
            " AND id = ANY(%s::bigint[])",
            (ids,),
        ).fetchall()

    def _id_bounds(self, kind: str) -> tuple[int, int] | None:
        bounds = self._db.execute(f"SELECT MIN(id), MAX(id) FROM {VECTOR_TABLES[kind]}").fetchone()
        return None if bounds is None or bounds[0] is None else (bounds[0], bounds[1])
