"""The catalog in bulk: many items, with their frames, parts and sightings, written in one
transaction (the exchange format's import, archive/bulk_import.py), and the whole catalog read
back as one consistent snapshot (its export).

A bulk write gives its rows their ids itself, one range per table after the largest id ever
used (AUTOINCREMENT's own rule), so that tens of thousands of frames go in with one statement
each per table; it counts one revision and logs the ranges of the new vectors, as every change
of the indexes does (catalog_schema.py's vector log).
"""

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from firstseen.archive.catalog_base import CatalogBase
from firstseen.archive.catalog_frames import log_vectors
from firstseen.archive.parts import SLOTS, part_id
from firstseen.archive.records import Blob, BulkItems, BulkOutcome, ExportBatches

# Parameters per `IN (...)` list: well under SQLite's limit on the parameters of one statement.
_SHAS_PER_QUERY = 500

# What an export reads, each table's rows grouped by item in the order of the items' ids (the
# exchange format lists every table's items in the same order).
EXPORT_QUERIES = {
    "items": "SELECT sha256, kind, width, height, duration, bytes, added_at, origin, path"
    " FROM items ORDER BY id",
    "sightings": "SELECT i.sha256, s.path, s.url, s.title, s.published, s.seen_at"
    " FROM sightings s JOIN items i ON i.id = s.item_id ORDER BY s.item_id, s.id",
    "frames": "SELECT i.sha256, f.ordinal, f.time, f.vector, f.pdq, f.pdq_quality"
    " FROM frames f JOIN items i ON i.id = f.item_id ORDER BY f.item_id, f.ordinal",
    "parts": f"SELECT i.sha256, f.ordinal, p.id - f.id * {SLOTS}, p.vector FROM parts p"
    " JOIN frames f ON f.id = p.frame_id JOIN items i ON i.id = f.item_id"
    " ORDER BY f.item_id, f.ordinal, p.id",
}


class BulkTables(CatalogBase):
    """Bulk writes and consistent reads of the whole catalog."""

    def known_items(self, shas: Sequence[str]) -> dict[str, int]:
        """sha256 → item id, of those of `shas` the catalog holds."""
        with self._lock, self._reported("reading it"):
            return _known(self._db, shas)

    def vector_dim(self) -> int | None:
        """How many numbers the stored descriptors hold; None while none is stored."""
        row = self._row("SELECT length(vector) FROM frames WHERE length(vector) > 0 LIMIT 1")
        return None if row is None else int(row[0]) // 2

    def export_rows(self, batch: int) -> ExportBatches:
        """Every table's rows as the exchange format lists them (EXPORT_QUERIES), `batch` at a
        time, all read from one snapshot of the catalog (one read transaction), whatever other
        processes commit meanwhile; the catalog's other users wait until it is closed."""
        with self._lock, self._reported("reading it"):
            self._db.execute("BEGIN")
            try:
                for table, query in EXPORT_QUERIES.items():
                    cursor = self._db.execute(query)
                    while rows := cursor.fetchmany(batch):
                        yield table, rows
            finally:
                self._db.rollback()

    def add_bulk(self, bulk: BulkItems) -> BulkOutcome:
        """Adds the items the catalog does not hold yet, with their frames, parts and sightings,
        and the sightings it does not hold of those it does, all in one transaction."""
        with self.transaction() as db:
            db.execute("BEGIN IMMEDIATE")  # no other writer between reading the ids and using them
            known = _known(db, [row[0] for row in bulk.items])
            new, item_ids = item_places(bulk, known, _next_id(db, "items"))
            db.executemany(
                "INSERT INTO items (id, sha256, kind, path, width, height, duration, bytes,"
                " added_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                item_rows(bulk, item_ids, new),
            )
            frame_ids, frames = frame_rows(bulk, item_ids, new, _next_id(db, "frames"))
            db.executemany(
                "INSERT INTO frames (id, item_id, ordinal, time, pdq, pdq_quality, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                frames,
            )
            parts = part_rows(bulk, frame_ids)
            db.executemany("INSERT INTO parts (id, frame_id, vector) VALUES (?, ?, ?)", parts)
            sightings = _insert_sightings(db, bulk, item_ids)
            if new.any():
                revision = self._count_change(db)
                log_vectors(db, revision, "frames", described(bulk, frame_ids), removed=False)
                log_vectors(db, revision, "parts", [p[0] for p in parts], removed=False)
        return BulkOutcome(int(new.sum()), int((frame_ids > 0).sum()), int((~new).sum()), sightings)


def item_places(
    bulk: BulkItems, known: dict[str, int], first_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which of the items are new to the catalog, and every item's id: the known ones' own, the
    new ones' from `first_id` on, in order."""
    new = np.array([row[0] not in known for row in bulk.items], dtype=bool)
    item_ids = np.zeros(len(bulk.items), dtype=np.int64)
    item_ids[new] = first_id + np.arange(int(new.sum()))
    for place, row in enumerate(bulk.items):
        if not new[place]:
            item_ids[place] = known[row[0]]
    return new, item_ids


def item_rows(bulk: BulkItems, item_ids: np.ndarray, new: np.ndarray) -> list[tuple[Any, ...]]:
    """The new items as the items table's rows, id first."""
    return [(i, *row) for i, row, n in zip(item_ids.tolist(), bulk.items, new, strict=True) if n]


def new_frames(bulk: BulkItems, new: np.ndarray) -> np.ndarray:
    """Which frames belong to new items (those of known items are skipped)."""
    return new[bulk.frame_item] if len(bulk.frames) else np.zeros(0, dtype=bool)


def frame_rows(
    bulk: BulkItems, item_ids: np.ndarray, new: np.ndarray, first_id: int
) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """Each frame's id (from `first_id` on; 0 for those skipped), and the new items' frames as
    the frames table's rows, id first."""
    kept = new_frames(bulk, new)
    frame_ids = np.zeros(len(bulk.frames), dtype=np.int64)
    frame_ids[kept] = first_id + np.arange(int(kept.sum()))
    owners = item_ids[bulk.frame_item] if len(bulk.frames) else frame_ids
    rows = [
        (i, owner, *frame)
        for i, owner, frame in zip(frame_ids.tolist(), owners.tolist(), bulk.frames, strict=True)
        if i
    ]
    return frame_ids, rows


def part_rows(bulk: BulkItems, frame_ids: np.ndarray) -> list[tuple[int, int, Blob]]:
    """The parts of the new items' frames as the parts table's rows (id, frame_id, vector)."""
    if not len(bulk.part_vectors):
        return []
    frames = frame_ids[bulk.part_frame]
    return [
        (part_id(f, slot), f, vector)
        for f, slot, vector in zip(
            frames.tolist(), bulk.part_slot.tolist(), bulk.part_vectors, strict=True
        )
        if f
    ]


def described(bulk: BulkItems, frame_ids: np.ndarray) -> list[int]:
    """The ids of the new frames that have a descriptor."""
    return [i for i, f in zip(frame_ids.tolist(), bulk.frames, strict=True) if i and len(f[4])]


def sighting_rows(bulk: BulkItems, item_ids: np.ndarray) -> list[tuple[Any, ...]]:
    """The sightings as (item_id, path, url, title, published, seen_at) rows."""
    owners = item_ids[bulk.sighting_item].tolist() if len(bulk.sightings) else []
    return [(owner, *s) for owner, s in zip(owners, bulk.sightings, strict=True)]


def _known(db: sqlite3.Connection, shas: Sequence[str]) -> dict[str, int]:
    known: dict[str, int] = {}
    for start in range(0, len(shas), _SHAS_PER_QUERY):
        chunk = list(shas[start : start + _SHAS_PER_QUERY])
        marks = ",".join("?" * len(chunk))
        known.update(db.execute(f"SELECT sha256, id FROM items WHERE sha256 IN ({marks})", chunk))
    return known


def _next_id(db: sqlite3.Connection, table: str) -> int:
    """The id AUTOINCREMENT would give the next row: ids are never reused, even after the rows
    that had them were removed."""
    row = db.execute(
        f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0),"
        f" COALESCE((SELECT MAX(id) FROM {table}), 0)) + 1",
        (table,),
    ).fetchone()
    return int(row[0])


def _insert_sightings(db: sqlite3.Connection, bulk: BulkItems, item_ids: np.ndarray) -> int:
    """Inserts the sightings not recorded yet (the same place, URL, title and date is one
    sighting, whenever seen); returns how many."""
    before = db.total_changes
    db.executemany(
        "INSERT INTO sightings (item_id, path, url, title, published, seen_at)"
        " SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM sightings"
        " WHERE item_id = ? AND path = ? AND url IS ? AND title IS ? AND published IS ?)",
        [(*row, *row[:5]) for row in sighting_rows(bulk, item_ids)],
    )
    return db.total_changes - before
