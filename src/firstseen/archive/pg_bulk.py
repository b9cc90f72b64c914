"""The PostgreSQL catalog in bulk, as the SQLite catalog's (archive/catalog_bulk.py), whose row
building it shares: many items written in one transaction (an import's batch) and the whole
catalog read back from one snapshot (an export).

A bulk write takes its ids from the tables' identity sequences, one range per table: writers take
turns (pg_base.py), so nobody else draws from them meanwhile.
"""

from collections.abc import Sequence

import psycopg

from firstseen.archive.catalog_bulk import (
    EXPORT_QUERIES,
    described,
    frame_rows,
    item_places,
    item_rows,
    new_frames,
    part_rows,
    sighting_rows,
)
from firstseen.archive.pg_base import PgBase
from firstseen.archive.pg_frames import DESCRIBED, log_vectors
from firstseen.archive.records import BulkItems, BulkOutcome, ExportBatches


def _reserve(db: psycopg.Connection, table: str, count: int) -> int:
    """The first of `count` consecutive ids drawn from `table`'s identity sequence."""
    row = db.execute(
        "SELECT setval(seq, nextval(seq) + %s - 1) - %s + 1"
        " FROM (SELECT pg_get_serial_sequence(%s, 'id') AS seq) s",
        (count, count, table),
    ).fetchone()
    if row is None:
        raise psycopg.DataError(f"no identity sequence for {table}")
    return int(row[0])


def _insert(db: psycopg.Connection, sql: str, rows: Sequence[tuple[object, ...]]) -> int:
    """Runs `sql` once per row (pipelined); returns how many rows it wrote."""
    if not rows:
        return 0
    cursor = db.cursor()
    cursor.executemany(sql, rows)
    return cursor.rowcount


class PgBulkTables(PgBase):
    """Bulk writes and consistent reads of the whole catalog."""

    def known_items(self, shas: Sequence[str]) -> dict[str, int]:
        """sha256 → item id, of those of `shas` the catalog holds."""
        with self._reading() as db:
            return _known(db, shas)

    def vector_dim(self) -> int | None:
        """How many numbers the stored descriptors hold; None while none is stored."""
        row = self._row(f"SELECT octet_length(vector) FROM frames WHERE {DESCRIBED} LIMIT 1")
        return None if row is None else int(row[0]) // 2

    def export_rows(self, batch: int) -> ExportBatches:
        """Every table's rows as the exchange format lists them (EXPORT_QUERIES), `batch` at a
        time, all from one snapshot (a repeatable-read transaction), whatever others commit
        meanwhile; read through server-side cursors, so no table is held in memory."""
        with self._reading() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for table, query in EXPORT_QUERIES.items():
                with db.cursor(name=f"export_{table}") as cursor:
                    cursor.execute(query)
                    while rows := cursor.fetchmany(batch):
                        yield table, rows

    def add_bulk(self, bulk: BulkItems) -> BulkOutcome:
        """Adds the items the catalog does not hold yet, with their frames, parts and sightings,
        and the sightings it does not hold of those it does, all in one transaction."""
        with self.transaction() as db:
            known = _known(db, [row[0] for row in bulk.items])
            count = len(bulk.items) - len(known)
            new, item_ids = item_places(bulk, known, _reserve(db, "items", count) if count else 0)
            _insert(
                db,
                "INSERT INTO items (id, sha256, kind, path, width, height, duration, bytes,"
                " added_at, origin) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                item_rows(bulk, item_ids, new),
            )
            count = int(new_frames(bulk, new).sum())
            first = _reserve(db, "frames", count) if count else 0
            frame_ids, frames = frame_rows(bulk, item_ids, new, first)
            _insert(
                db,
                "INSERT INTO frames (id, item_id, ordinal, time, pdq, pdq_quality, vector)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                frames,
            )
            parts = part_rows(bulk, frame_ids)
            _insert(db, "INSERT INTO parts (id, frame_id, vector) VALUES (%s, %s, %s)", parts)
            sightings = _insert(
                db,
                "INSERT INTO sightings (item_id, path, url, title, published, seen_at)"
                " SELECT %s, %s, %s, %s, %s, %s WHERE NOT EXISTS (SELECT 1 FROM sightings"
                " WHERE item_id = %s AND path = %s AND url IS NOT DISTINCT FROM %s"
                " AND title IS NOT DISTINCT FROM %s AND published IS NOT DISTINCT FROM %s)",
                [(*row, *row[:5]) for row in sighting_rows(bulk, item_ids)],
            )
            if new.any():
                revision = self._count_change(db)
                log_vectors(db, revision, "frames", described(bulk, frame_ids), removed=False)
                log_vectors(db, revision, "parts", [p[0] for p in parts], removed=False)
        return BulkOutcome(int(new.sum()), int((frame_ids > 0).sum()), int((~new).sum()), sightings)


def _known(db: psycopg.Connection, shas: Sequence[str]) -> dict[str, int]:
    rows = db.execute("SELECT sha256, id FROM items WHERE sha256 = ANY(%s::text[])", (list(shas),))
    return {sha: int(i) for sha, i in rows}
