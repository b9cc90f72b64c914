"""The catalog's frames, their descriptors and the parts of photos: what the vector indexes are
rebuilt from, and what search reads back about the frames it found."""

import sqlite3
from collections.abc import Sequence

import numpy as np

from firstseen.archive.catalog_base import CatalogBase
from firstseen.archive.catalog_schema import LOG_FROM
from firstseen.archive.catalog_vectors import (
    IDS_PER_QUERY,
    VECTOR_TABLES,
    VectorSnapshot,
    as_float32,
    in_order,
)
from firstseen.archive.parts import part_id
from firstseen.archive.records import (
    DescribedFrame,
    FrameInfo,
    FrameRecord,
    Ids,
    PhotoWithoutParts,
    TimedFrame,
    VectorChange,
)


def id_ranges(ids: Ids) -> list[tuple[int, int]]:
    """Sorted ids as runs of consecutive ids, (first, last) each: an item's frames, inserted in
    one transaction, are one run."""
    ordered = sorted(int(i) for i in ids)
    runs: list[tuple[int, int]] = []
    for i in ordered:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def float16_bytes(vector: np.ndarray) -> bytes:
    """A descriptor as the catalog stores it: float16, its bytes."""
    return vector.astype(np.float16).tobytes()


def log_rows(
    revision: int, kind: str, ids: Ids, removed: bool
) -> list[tuple[int, str, int, int, bool]]:
    """The vector log's rows (revision, kind, lo, hi, removed) saying that `revision` added (or
    removed) the vectors of these frames or parts (`kind`)."""
    return [(revision, kind, lo, hi, removed) for lo, hi in id_ranges(ids)]


def log_vectors(db: sqlite3.Connection, revision: int, kind: str, ids: Ids, removed: bool) -> None:
    """Records, within the caller's transaction, that `revision` added (or removed) the vectors
    of these frames or parts (`kind`), for indexes to catch up by (catalog_schema.py)."""
    db.executemany(
        "INSERT INTO vector_log (revision, kind, lo, hi, removed) VALUES (?, ?, ?, ?, ?)",
        log_rows(revision, kind, ids, removed),
    )


def frame_rows(item_id: int, frames: Sequence[FrameRecord]) -> list[tuple[object, ...]]:
    """An item's frames as the frames table's rows (item_id, ordinal, time, pdq, pdq_quality,
    vector)."""
    return [
        (item_id, f.ordinal, f.time, f.pdq, f.pdq_quality, float16_bytes(f.vector)) for f in frames
    ]


def part_rows(frames: Sequence[FrameRecord], ids: dict[int, int]) -> list[tuple[int, int, bytes]]:
    """The parts of an item's photos as the parts table's rows (id, frame_id, vector), given
    the ids its frames were stored under (ordinal → id)."""
    return [
        (part_id(ids[f.ordinal], slot), ids[f.ordinal], float16_bytes(v))
        for f in frames
        if f.parts is not None
        for slot, v in enumerate(f.parts)
    ]


def described_ids(frames: Sequence[FrameRecord], ids: dict[int, int]) -> list[int]:
    """The ids of those of an item's frames that have a descriptor (ordinal → id given)."""
    return [ids[f.ordinal] for f in frames if len(f.vector)]


def insert_frames(
    db: sqlite3.Connection, item_id: int, frames: Sequence[FrameRecord], revision: int
) -> None:
    """Inserts an item's frames and the parts of its photos, within the caller's transaction,
    and logs their vectors as added at `revision`."""
    db.executemany(
        "INSERT INTO frames (item_id, ordinal, time, pdq, pdq_quality, vector)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        frame_rows(item_id, frames),
    )
    ids = dict(db.execute("SELECT ordinal, id FROM frames WHERE item_id = ?", (item_id,)))
    log_vectors(db, revision, "frames", described_ids(frames, ids), removed=False)
    parts = part_rows(frames, ids)
    if parts:
        log_vectors(db, revision, "parts", [p[0] for p in parts], removed=False)
        db.executemany("INSERT INTO parts (id, frame_id, vector) VALUES (?, ?, ?)", parts)


class FrameTables(CatalogBase):
    """Frames, their stored descriptors, and the parts of photos."""

    def snapshot(self) -> VectorSnapshot:
        """The vectors at the current revision, on a connection of the snapshot's own."""
        return VectorSnapshot(self.path)

    def log_from(self) -> int:
        """The revision from which the vector log is complete (catalog_schema.py)."""
        return int(self.meta(LOG_FROM) or 0)

    def vector_changes(self, after: int) -> list[VectorChange]:
        """What the revisions after `after` added to and removed from the indexes, in order."""
        rows = self._rows(
            "SELECT revision, kind, lo, hi, removed FROM vector_log WHERE revision > ?"
            " ORDER BY revision, rowid",
            (after,),
        )
        return [VectorChange(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def vectors_in(self, kind: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) of the described frames or parts (`kind`) with ids from `lo` to
        `hi`: what one log row added, as far as it is still there."""
        rows = self._rows(
            f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE id BETWEEN ? AND ?"
            " AND length(vector) > 0 ORDER BY id",
            (lo, hi),
        )
        return as_float32(rows)

    def stored_vectors(self, kind: str, wanted: Ids) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) of those of the given frames or parts that are still stored,
        in id order: what an approximate index re-scores its shortlist with."""
        ids = [int(i) for i in wanted]
        rows: list[tuple[int, bytes]] = []
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows += self._rows(
                f"SELECT id, vector FROM {VECTOR_TABLES[kind]} WHERE id IN ({marks}) ORDER BY id",
                chunk,
            )
        return as_float32(rows)

    def frame_ids(self) -> np.ndarray:
        """Ids of the frames that have a descriptor: exactly what the vector index holds."""
        rows = self._rows("SELECT id FROM frames WHERE length(vector) > 0")
        return np.array([r[0] for r in rows], dtype=np.int64)

    def has_described_frames(self) -> bool:
        """Whether any frame has a descriptor (vectors of a model are stored): one row of an
        index of described frames, where counting their ids read them all."""
        return bool(
            self._only_row("SELECT EXISTS (SELECT 1 FROM frames WHERE length(vector) > 0)")[0]
        )

    def vectors(self, frame_ids: Ids) -> np.ndarray:
        """Stored descriptors of the given frames, in that order, as float32."""
        return self._vectors("frames", frame_ids)

    def part_ids(self, item_id: int | None = None) -> np.ndarray:
        """Ids of the described parts of photos (of one item, or all): what the part index holds."""
        if item_id is None:
            rows = self._rows("SELECT id FROM parts")
        else:
            rows = self._rows(
                "SELECT p.id FROM parts p JOIN frames f ON f.id = p.frame_id WHERE f.item_id = ?",
                (item_id,),
            )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def photos_without_parts(self) -> list[PhotoWithoutParts]:
        """Photos whose parts were never described (added with `photo_parts = false`, or before
        parts existed), by item."""
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
            stored = db.executemany(
                "INSERT OR IGNORE INTO parts (id, frame_id, vector) VALUES (?, ?, ?)",
                [(pid, frame_id, float16_bytes(v)) for pid, v in zip(ids, vectors, strict=True)],
            ).rowcount
            if stored:
                log_vectors(db, self._count_change(db), "parts", ids, removed=False)
        return ids if stored else []

    def part_vectors(self, part_ids: Ids) -> np.ndarray:
        """Stored descriptors of the given parts, in that order, as float32."""
        return self._vectors("parts", part_ids)

    def _vectors(self, kind: str, row_ids: Ids) -> np.ndarray:
        """Stored vectors of frames or parts (`kind`), in the order asked; every id must be
        stored (KeyError otherwise)."""
        return in_order(*self.stored_vectors(kind, row_ids), row_ids)

    def frames_info(self, frame_ids: Ids) -> dict[int, FrameInfo]:
        """frame id → its item, ordinal, time and PDQ hash, for the given frames."""
        ids = [int(i) for i in frame_ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._rows(
            f"SELECT id, item_id, ordinal, time, pdq FROM frames WHERE id IN ({marks})", ids
        )
        return {r[0]: FrameInfo._make(r[1:]) for r in rows}

    def item_frames(self, item_id: int) -> list[DescribedFrame]:
        """An item's frames that have a descriptor (and so a vector in the index and a
        thumbnail), in order; none for a hash-only item."""
        rows = self._rows(
            "SELECT id, ordinal, time FROM frames WHERE item_id = ? AND length(vector) > 0"
            " ORDER BY ordinal",
            (item_id,),
        )
        return [DescribedFrame._make(r) for r in rows]

    def frames_between(self, item_id: int, start: float, end: float) -> list[TimedFrame]:
        """An item's described frames from `start` to `end` seconds, in order."""
        rows = self._rows(
            "SELECT id, ordinal, time FROM frames WHERE item_id = ? AND length(vector) > 0"
            " AND time BETWEEN ? AND ? ORDER BY ordinal",
            (item_id, start, end),
        )
        return [TimedFrame._make(r) for r in rows]

    def hash_only_frames(self, min_quality: int = 0) -> list[FrameInfo]:
        """The frames of hash-only items (origin 'vpdq') whose PDQ quality is at least
        `min_quality`, by item and ordinal: found from those items (indexed by origin), so an
        archive without any reads no frames."""
        rows = self._rows(
            "SELECT f.item_id, f.ordinal, f.time, f.pdq FROM frames f JOIN items i"
            " ON i.id = f.item_id WHERE i.origin = 'vpdq' AND f.pdq_quality >= ?"
            " ORDER BY f.item_id, f.ordinal",
            (min_quality,),
        )
        return [FrameInfo._make(r) for r in rows]
