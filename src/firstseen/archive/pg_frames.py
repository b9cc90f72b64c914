"""The PostgreSQL catalog's frames, their descriptors and the parts of photos, as the SQLite
catalog's (archive/catalog_frames.py), whose row building they share. Lists of ids travel as one
array parameter (`= ANY(%s)`), so no read is cut into batches."""

from collections.abc import Sequence

import numpy as np
import psycopg

from firstseen.archive.catalog_frames import (
    described_ids,
    float16_bytes,
    frame_rows,
    log_rows,
    part_rows,
)
from firstseen.archive.catalog_schema import LOG_FROM
from firstseen.archive.catalog_vectors import VECTOR_TABLES, as_float32, in_order
from firstseen.archive.parts import part_id
from firstseen.archive.pg_base import PgBase
from firstseen.archive.records import (
    DescribedFrame,
    FrameInfo,
    FrameRecord,
    Ids,
    PhotoWithoutParts,
    TimedFrame,
    VectorChange,
)

# A frame that has a descriptor (the index `frames_described` holds exactly these).
DESCRIBED = "octet_length(vector) > 0"


def id_list(ids: Ids) -> list[int]:
    """Ids as one array parameter takes them (numpy integers are not adapted)."""
    return [int(i) for i in ids]


def log_vectors(db: psycopg.Connection, revision: int, kind: str, ids: Ids, removed: bool) -> None:
    """Records, within the caller's transaction, that `revision` added (or removed) the vectors
    of these frames or parts (`kind`)."""
    rows = log_rows(revision, kind, ids, removed)
    if rows:
        db.cursor().executemany(
            "INSERT INTO vector_log (revision, kind, lo, hi, removed) VALUES (%s, %s, %s, %s, %s)",
            rows,
        )


def insert_frames(
    db: psycopg.Connection, item_id: int, frames: Sequence[FrameRecord], revision: int
) -> None:
    """Inserts an item's frames and the parts of its photos, within the caller's transaction,
    and logs their vectors as added at `revision`."""
    rows = frame_rows(item_id, frames)
    if rows:
        db.cursor().executemany(
            "INSERT INTO frames (item_id, ordinal, time, pdq, pdq_quality, vector)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    ids: dict[int, int] = dict(
        db.execute("SELECT ordinal, id FROM frames WHERE item_id = %s", (item_id,))
    )
    log_vectors(db, revision, "frames", described_ids(frames, ids), removed=False)
    parts = part_rows(frames, ids)
    if parts:
        log_vectors(db, revision, "parts", [p[0] for p in parts], removed=False)
        db.cursor().executemany(
            "INSERT INTO parts (id, frame_id, vector) VALUES (%s, %s, %s)", parts
        )


class PgFrameTables(PgBase):
    """Frames, their stored descriptors, and the parts of photos."""

    def log_from(self) -> int:
        """The revision from which the vector log is complete: 0, as the log came with the
        first migration."""
        return int(self.meta(LOG_FROM) or 0)

    def vector_changes(self, after: int) -> list[VectorChange]:
        """What the revisions after `after` added to and removed from the indexes, in order."""
        rows = self._rows(
            "SELECT revision, kind, lo, hi, removed FROM vector_log WHERE revision > %s"
            " ORDER BY revision, id",
            (after,),
        )
        return [VectorChange(*r) for r in rows]

    def vectors_in(self, kind: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) of the described frames or parts (`kind`) with ids from `lo` to
        `hi`: what one log row added, as far as it is still there."""
        rows = self._rows(
            f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE id BETWEEN %s AND %s"
            f" AND {DESCRIBED} ORDER BY id",
            (lo, hi),
        )
        return as_float32(rows)

    def stored_vectors(self, kind: str, wanted: Ids) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) of those of the given frames or parts that are still stored,
        in id order: what an approximate index re-scores its shortlist with."""
        rows = self._rows(
            f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE id = ANY(%s::bigint[])"
            " ORDER BY id",
            (id_list(wanted),),
        )
        return as_float32(rows)

    def frame_ids(self) -> np.ndarray:
        """Ids of the frames that have a descriptor: exactly what the vector index holds."""
        rows = self._rows(f"SELECT id FROM frames WHERE {DESCRIBED}")
        return np.array([r[0] for r in rows], dtype=np.int64)

    def has_described_frames(self) -> bool:
        """Whether any frame has a descriptor (vectors of a model are stored)."""
        return bool(self._only_row(f"SELECT EXISTS (SELECT 1 FROM frames WHERE {DESCRIBED})")[0])

    def vectors(self, frame_ids: Ids) -> np.ndarray:
        """Stored descriptors of the given frames, in that order, as float32."""
        return in_order(*self.stored_vectors("frames", frame_ids), frame_ids)

    def part_ids(self, item_id: int | None = None) -> np.ndarray:
        """Ids of the described parts of photos (of one item, or all): what the part index holds."""
        if item_id is None:
            rows = self._rows("SELECT id FROM parts")
        else:
            rows = self._rows(
                "SELECT p.id FROM parts p JOIN frames f ON f.id = p.frame_id WHERE f.item_id = %s",
                (item_id,),
            )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def photos_without_parts(self) -> list[PhotoWithoutParts]:
        """Photos whose parts were never described, by item."""
        rows = self._rows(
            "SELECT i.id, f.id, i.sha256, i.path FROM items i JOIN frames f ON f.item_id = i.id"
            " WHERE i.kind = 'image' AND i.origin = 'media'"
            " AND NOT EXISTS (SELECT 1 FROM parts p WHERE p.frame_id = f.id) ORDER BY i.id"
        )
        return [PhotoWithoutParts._make(r) for r in rows]

    def add_parts(self, frame_id: int, vectors: np.ndarray) -> list[int]:
        """Stores the described parts of one photo's frame and returns their ids in grid order;
        none when another writer stored them first."""
        ids = [part_id(frame_id, slot) for slot in range(len(vectors))]
        with self.transaction() as db:
            stored = db.execute(
                "INSERT INTO parts (id, frame_id, vector)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[])"
                " ON CONFLICT (id) DO NOTHING",
                (ids, [frame_id] * len(ids), [float16_bytes(v) for v in vectors]),
            ).rowcount
            if stored > 0:
                log_vectors(db, self._count_change(db), "parts", ids, removed=False)
        return ids if stored > 0 else []

    def part_vectors(self, part_ids: Ids) -> np.ndarray:
        """Stored descriptors of the given parts, in that order, as float32."""
        return in_order(*self.stored_vectors("parts", part_ids), part_ids)

    def frames_info(self, frame_ids: Ids) -> dict[int, FrameInfo]:
        """frame id → its item, ordinal, time and PDQ hash, for the given frames."""
        rows = self._rows(
            "SELECT id, item_id, ordinal, time, pdq FROM frames WHERE id = ANY(%s::bigint[])",
            (id_list(frame_ids),),
        )
        return {r[0]: FrameInfo._make(r[1:]) for r in rows}

    def item_frames(self, item_id: int) -> list[DescribedFrame]:
        """An item's frames that have a descriptor, in order; none for a hash-only item."""
        rows = self._rows(
            f"SELECT id, ordinal, time FROM frames WHERE item_id = %s AND {DESCRIBED}"
            " ORDER BY ordinal",
            (item_id,),
        )
        return [DescribedFrame._make(r) for r in rows]

    def frames_between(self, item_id: int, start: float, end: float) -> list[TimedFrame]:
        """An item's described frames from `start` to `end` seconds, in order."""
        rows = self._rows(
            f"SELECT id, ordinal, time FROM frames WHERE item_id = %s AND {DESCRIBED}"
            " AND time BETWEEN %s AND %s ORDER BY ordinal",
            (item_id, start, end),
        )
        return [TimedFrame._make(r) for r in rows]

    def hash_only_frames(self, min_quality: int = 0) -> list[FrameInfo]:
        """The frames of hash-only items (origin 'vpdq') whose PDQ quality is at least
        `min_quality`, by item and ordinal."""
        rows = self._rows(
            "SELECT f.item_id, f.ordinal, f.time, f.pdq FROM frames f JOIN items i"
            " ON i.id = f.item_id WHERE i.origin = 'vpdq' AND f.pdq_quality >= %s"
            " ORDER BY f.item_id, f.ordinal",
            (min_quality,),
        )
        return [FrameInfo._make(r) for r in rows]
