"""The SQLite catalog: the archive's source of truth.

An item is one piece of content (keyed by the SHA-256 of its bytes) with its indexed frames; a
sighting is one place and date where that content was seen. Everything an `add` writes for one item
is committed in a single transaction, so a killed process leaves either the whole item or none of
it. Descriptor vectors are stored here too (float16), so the vector index is a cache that can
always be rebuilt from the catalog.

One catalog may serve many threads (the HTTP service): its connection is used under a lock, held
for the whole of a write transaction, so a reader never sees a write half-done; other processes
read the committed state alongside it (WAL).

Ids are never reused (AUTOINCREMENT): an id, and the vector stored under it in an index, names one
piece of content for ever, so an index written by a process that missed a removal can be put right
by its ids alone. Every change of items, frames or parts also counts up the catalog's revision,
which an index file records (archive/vectors.py), so that an older index never replaces a newer
one.
"""

import sqlite3
import string
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from firstseen.archive.parts import part_id
from firstseen.errors import FirstseenError

# Each table's columns, by name: the schema below, and the definition a migration rebuilds with.
_TABLES = {
    "items": """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'video')),
    path TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    duration REAL,
    bytes INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT 'media' CHECK (origin IN ('media', 'vpdq'))
""",
    "frames": """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    time REAL,
    pdq BLOB NOT NULL,
    pdq_quality INTEGER NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (item_id, ordinal)
""",
    "sightings": """
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    url TEXT,
    title TEXT,
    published TEXT,
    seen_at TEXT NOT NULL,
    UNIQUE (item_id, path, url, title, published)
""",
    "parts": """
    id INTEGER PRIMARY KEY,  -- the frame's id x 16 + the part's place (archive/parts.py)
    frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
    vector BLOB NOT NULL
""",
    "meta": "key TEXT PRIMARY KEY, value TEXT NOT NULL",
}
SCHEMA = "".join(f"CREATE TABLE IF NOT EXISTS {n} ({c});\n" for n, c in _TABLES.items()) + (
    "CREATE INDEX IF NOT EXISTS frames_item ON frames(item_id);\n"
    "CREATE INDEX IF NOT EXISTS sightings_item ON sightings(item_id);\n"
    "CREATE INDEX IF NOT EXISTS parts_frame ON parts(frame_id);\n"
)
# Columns added since the first release, for catalogs made before them: (table, column, definition).
_ADDED_COLUMNS = (
    ("items", "origin", "TEXT NOT NULL DEFAULT 'media' CHECK (origin IN ('media', 'vpdq'))"),
)
# Tables whose ids were reused before AUTOINCREMENT; catalogs made then are rebuilt once.
_UNIQUE_IDS = ("items", "frames")
_REVISION = "revision"  # meta key: counts every change of items, frames and parts
_IDENTITY = "catalog_id"  # meta key: tells this catalog from another with the same revision
# Hex digits of a SHA-256 that name an item: few enough to type, enough to name one of millions.
MIN_PREFIX = 6


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when a piece of content was seen."""

    path: str
    url: str | None = None
    title: str | None = None
    published: str | None = None
    seen_at: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One indexed piece of content, with the sighting that dates it earliest. `origin` is 'media'
    for content decoded here, 'vpdq' for a partner's vPDQ hash file: its frames have a PDQ hash
    but no descriptor and no thumbnail."""

    id: int
    sha256: str
    kind: str
    path: str
    width: int
    height: int
    duration: float | None
    bytes: int
    added_at: str
    origin: str
    frames: int
    first_seen: Sighting


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """What the catalog keeps of one indexed frame; `vector` is empty for hash-only frames, and
    `parts` holds the vectors of a photo's parts in grid order (archive/parts.py)."""

    ordinal: int
    time: float | None
    pdq: bytes
    pdq_quality: int
    vector: np.ndarray
    parts: np.ndarray | None = None


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# Earliest first: dated sightings by publication date, undated ones after them by when seen.
_FIRST_SIGHTING = """
SELECT path, url, title, published, seen_at FROM sightings WHERE item_id = ?
ORDER BY published IS NULL, published, seen_at, id LIMIT 1
"""


def is_sha_prefix(ref: str) -> bool:
    """Whether `ref` can name an item by its SHA-256: hex digits only, enough of them."""
    return MIN_PREFIX <= len(ref) <= 64 and all(c in string.hexdigits for c in ref)


class AlreadyArchived(Exception):
    """The content was added by another writer (a CLI `add` beside the server, say) between the
    check for it and the insert: the caller records its sighting instead."""

    def __init__(self, item_id: int) -> None:
        super().__init__(f"already archived as item {item_id}")
        self.item_id = item_id


class CatalogError(FirstseenError):
    """The catalog could not be read or written (a full disk, a damaged file, a lock held too
    long); a write that fails changes nothing."""


class Catalog:
    """Typed access to the archive's SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        with self._reported("opening it"):
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._migrate()
            if self.meta(_IDENTITY) is None:
                with self.transaction() as db:
                    db.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                        (_IDENTITY, uuid.uuid4().hex),
                    )
        self.identity: str = self.meta(_IDENTITY) or ""

    @contextmanager
    def _reported(self, doing: str) -> Iterator[None]:
        """SQLite's failures as one line naming the catalog; constraint failures and misuse
        (bugs, or handled by the caller) pass unchanged."""
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as exc:
            full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            reason = "no space left on device" if full else str(exc)
            raise CatalogError(f"catalog {self.path}: {reason} while {doing}") from exc

    def _migrate(self) -> None:
        """Brings a catalog made by an earlier release up to date, so archives made before still
        open. Each step is checked again under the write lock, as another process may be taking
        it at the same time."""
        for table, column, definition in _ADDED_COLUMNS:
            if column in self._columns(table):
                continue
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                if column not in self._columns(table):
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        if not all(self._ids_unique(t) for t in _UNIQUE_IDS):
            self._make_ids_unique()

    def _make_ids_unique(self) -> None:
        """Rebuilds the tables whose ids could be reused with AUTOINCREMENT, rows unchanged
        (SQLite's documented way to change a table's definition): foreign keys are off while the
        referenced tables are replaced, and checked before the change commits."""
        self._db.execute("PRAGMA foreign_keys=OFF")
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for table in _UNIQUE_IDS:
                    if not self._ids_unique(table):
                        self._rebuild(table)
                if self._db.execute("PRAGMA foreign_key_check").fetchall():
                    raise sqlite3.DatabaseError("references broken by the migration to unique ids")
        finally:
            self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)  # the indexes dropped with the old tables

    def _rebuild(self, table: str) -> None:
        columns = ", ".join(self._columns_in_order(table))
        new = f"{table}_unique_ids"
        self._db.execute(f"CREATE TABLE {new} ({_TABLES[table]})")
        self._db.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {table}")
        self._db.execute(f"DROP TABLE {table}")
        self._db.execute(f"ALTER TABLE {new} RENAME TO {table}")

    def _ids_unique(self, table: str) -> bool:
        row = self._db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return "AUTOINCREMENT" in row[0].upper()

    def _columns(self, table: str) -> set[str]:
        return set(self._columns_in_order(table))

    def _columns_in_order(self, table: str) -> list[str]:
        return [row[1] for row in self._db.execute(f"PRAGMA table_info({table})")]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: the unit a killed `add` can never leave half-written."""
        with self._lock, self._reported("writing to it"), self._db:
            yield self._db

    def _rows(self, sql: str, params: Sequence | dict = ()) -> list[tuple]:
        with self._lock, self._reported("reading it"):
            return self._db.execute(sql, params).fetchall()

    def _row(self, sql: str, params: Sequence | dict = ()) -> tuple | None:
        with self._lock, self._reported("reading it"):
            return self._db.execute(sql, params).fetchone()

    def vectors_revision(self) -> int:
        """Counts every committed change of items, frames and parts, by any process: an index
        that reflects revision r holds exactly the vectors the catalog held at r."""
        row = self._row("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?", (_REVISION,))
        return row[0] if row else 0

    @staticmethod
    def _count_change(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (_REVISION,),
        )

    def data_version(self) -> int:
        """Changes whenever another connection (another process) commits to the catalog."""
        return self._row("PRAGMA data_version")[0]

    def revision(self) -> tuple[int, int]:
        """Differs after any commit, by this connection or another: a key for caches of the
        catalog's contents (data_version alone misses this connection's own writes)."""
        with self._lock:
            return self._row("PRAGMA data_version")[0], self._db.total_changes

    def meta(self, key: str) -> str | None:
        row = self._row("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def item_id(self, sha256: str) -> int | None:
        row = self._row("SELECT id FROM items WHERE sha256 = ?", (sha256,))
        return row[0] if row else None

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
        """Inserts an item, its frames and its first sighting in one transaction; raises
        AlreadyArchived when the same content is already there."""
        with self.transaction() as db:
            try:
                cursor = db.execute(
                    "INSERT INTO items"
                    " (sha256, kind, path, width, height, duration, bytes, added_at, origin)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sha256, kind, path, size[0], size[1], duration, nbytes, now(), origin),
                )
            except sqlite3.IntegrityError:
                known = db.execute("SELECT id FROM items WHERE sha256 = ?", (sha256,)).fetchone()
                if known is None:
                    raise
                raise AlreadyArchived(int(known[0])) from None
            item_id = int(cursor.lastrowid)
            db.executemany(
                "INSERT INTO frames (item_id, ordinal, time, pdq, pdq_quality, vector)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        item_id,
                        f.ordinal,
                        f.time,
                        f.pdq,
                        f.pdq_quality,
                        f.vector.astype(np.float16).tobytes(),
                    )
                    for f in frames
                ],
            )
            if any(f.parts is not None for f in frames):
                ids = dict(
                    db.execute("SELECT ordinal, id FROM frames WHERE item_id = ?", (item_id,))
                )
                db.executemany(
                    "INSERT INTO parts (id, frame_id, vector) VALUES (?, ?, ?)",
                    [
                        (
                            part_id(ids[f.ordinal], slot),
                            ids[f.ordinal],
                            v.astype(np.float16).tobytes(),
                        )
                        for f in frames
                        if f.parts is not None
                        for slot, v in enumerate(f.parts)
                    ],
                )
            self._insert_sighting(db, item_id, sighting)
            self._count_change(db)
        return item_id

    def add_sighting(self, item_id: int, sighting: Sighting) -> bool:
        """Records another place or date for known content; False if it was already recorded."""
        with self.transaction() as db:
            return self._insert_sighting(db, item_id, sighting)

    @staticmethod
    def _insert_sighting(db: sqlite3.Connection, item_id: int, s: Sighting) -> bool:
        duplicate = db.execute(
            "SELECT 1 FROM sightings WHERE item_id = ? AND path = ? AND url IS ?"
            " AND title IS ? AND published IS ?",
            (item_id, s.path, s.url, s.title, s.published),
        ).fetchone()
        if duplicate:
            return False
        db.execute(
            "INSERT INTO sightings (item_id, path, url, title, published, seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (item_id, s.path, s.url, s.title, s.published, s.seen_at or now()),
        )
        return True

    def remove_item(self, item_id: int) -> list[int]:
        """Deletes an item with its frames and sightings; returns the removed frame ids."""
        with self.transaction() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM frames WHERE item_id = ?", (item_id,))]
            db.execute("DELETE FROM items WHERE id = ?", (item_id,))
            self._count_change(db)
        return ids

    def _item(self, row: tuple) -> Item:
        first = self._row(_FIRST_SIGHTING, (row[0],))
        return Item(*row, first_seen=Sighting(*first))

    _ITEM_COLUMNS = (
        "SELECT i.id, i.sha256, i.kind, i.path, i.width, i.height, i.duration, i.bytes,"
        " i.added_at, i.origin, (SELECT COUNT(*) FROM frames f WHERE f.item_id = i.id)"
        " FROM items i"
    )

    def items(self) -> list[Item]:
        with self._lock:
            return [self._item(r) for r in self._rows(self._ITEM_COLUMNS + " ORDER BY i.id")]

    def item(self, item_id: int) -> Item | None:
        with self._lock:
            row = self._row(self._ITEM_COLUMNS + " WHERE i.id = ?", (item_id,))
            return self._item(row) if row else None

    def find_items(self, ref: str) -> list[Item]:
        """Items named exactly by `ref`: their id, a prefix of their SHA-256 (at least
        MIN_PREFIX hex digits; nothing else is a prefix) or a path they were seen at. No
        character is a wildcard."""
        prefix = ref.lower() if is_sha_prefix(ref) else None
        query = (
            self._ITEM_COLUMNS + " WHERE CAST(i.id AS TEXT) = :ref"
            " OR substr(i.sha256, 1, length(:prefix)) = :prefix"
            " OR i.id IN (SELECT item_id FROM sightings WHERE path = :ref)"
        )
        with self._lock:
            return [self._item(r) for r in self._rows(query, {"ref": ref, "prefix": prefix})]

    def page(
        self,
        kind: str | None = None,
        text: str | None = None,
        published_from: str | None = None,
        published_to: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Item], int]:
        """One page of items (by id) and how many match in all: `text` is looked for in paths,
        titles and URLs of every sighting (or is a SHA-256 prefix); the published range, both
        ends inclusive, applies to the earliest publication date, compared as ISO text at the
        precision of the shorter of the two (so 2019 is within 2019-01-01 .. 2019-12-31)."""
        where, params = [], {}
        if kind:
            where.append("i.kind = :kind")
            params["kind"] = kind
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["like"] = f"%{escaped}%"
            params["prefix"] = text.lower()
            where.append(
                "(i.path LIKE :like ESCAPE '\\'"
                " OR (length(:prefix) >= 6 AND substr(i.sha256, 1, length(:prefix)) = :prefix)"
                " OR EXISTS (SELECT 1 FROM sightings s WHERE s.item_id = i.id"
                " AND (s.path LIKE :like ESCAPE '\\' OR s.url LIKE :like ESCAPE '\\'"
                " OR s.title LIKE :like ESCAPE '\\')))"
            )
        first = "(SELECT MIN(published) FROM sightings s WHERE s.item_id = i.id)"
        if published_from:
            where.append(f"{first} >= substr(:from, 1, length({first}))")
            params["from"] = published_from
        if published_to:
            where.append(f"substr({first}, 1, length(:to)) <= :to")
            params["to"] = published_to
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params |= {"limit": limit, "offset": offset}
        with self._lock:
            total = self._row(f"SELECT COUNT(*) FROM items i{clause}", params)[0]
            rows = self._rows(
                self._ITEM_COLUMNS + clause + " ORDER BY i.id LIMIT :limit OFFSET :offset", params
            )
            return [self._item(r) for r in rows], total

    def counts(self) -> tuple[int, int]:
        """(items, frames) in the catalog."""
        row = self._row("SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM frames)")
        return row[0], row[1]

    def sightings(self, item_id: int) -> list[Sighting]:
        rows = self._rows(
            "SELECT path, url, title, published, seen_at FROM sightings WHERE item_id = ?"
            " ORDER BY published IS NULL, published, seen_at, id",
            (item_id,),
        )
        return [Sighting(*r) for r in rows]

    def frame_ids(self) -> np.ndarray:
        """Ids of the frames that have a descriptor: exactly what the vector index holds."""
        rows = self._rows("SELECT id FROM frames WHERE length(vector) > 0")
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vectors(self, frame_ids: Sequence[int]) -> np.ndarray:
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

    def photos_without_parts(self) -> list[tuple[int, int, str, str]]:
        """(item id, frame id, sha256, path) of photos whose parts were never described (added
        with `photo_parts = false`, or before parts existed)."""
        return self._rows(
            "SELECT i.id, f.id, i.sha256, i.path FROM items i JOIN frames f ON f.item_id = i.id"
            " WHERE i.kind = 'image' AND i.origin = 'media'"
            " AND NOT EXISTS (SELECT 1 FROM parts p WHERE p.frame_id = f.id) ORDER BY i.id"
        )

    def add_parts(self, frame_id: int, vectors: np.ndarray) -> list[int]:
        """Stores the described parts of one photo's frame and returns their ids in grid order;
        none when another writer stored them first."""
        ids = [part_id(frame_id, slot) for slot in range(len(vectors))]
        with self.transaction() as db:
            stored = db.executemany(
                "INSERT OR IGNORE INTO parts (id, frame_id, vector) VALUES (?, ?, ?)",
                [
                    (pid, frame_id, v.astype(np.float16).tobytes())
                    for pid, v in zip(ids, vectors, strict=True)
                ],
            ).rowcount
            if stored:
                self._count_change(db)
        return ids if stored else []

    def part_vectors(self, part_ids: Sequence[int]) -> np.ndarray:
        """Stored descriptors of the given parts, in that order, as float32."""
        return self._vectors("parts", part_ids)

    def _vectors(self, table: str, row_ids: Sequence[int]) -> np.ndarray:
        rows: dict[int, bytes] = {}
        ids = [int(i) for i in row_ids]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows.update(self._rows(f"SELECT id, vector FROM {table} WHERE id IN ({marks})", chunk))
        return np.stack([np.frombuffer(rows[i], np.float16) for i in ids]).astype(np.float32)

    def frames_info(
        self, frame_ids: Sequence[int]
    ) -> dict[int, tuple[int, int, float | None, bytes]]:
        """frame id → (item id, ordinal, time, pdq) for the given frames."""
        ids = [int(i) for i in frame_ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._rows(
            f"SELECT id, item_id, ordinal, time, pdq FROM frames WHERE id IN ({marks})", ids
        )
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def item_frames(self, item_id: int) -> list[tuple[int, int, float | None]]:
        """(frame id, ordinal, time) of an item's frames that have a descriptor (and so a vector
        in the index and a thumbnail), in order; none for a hash-only item."""
        rows = self._rows(
            "SELECT id, ordinal, time FROM frames WHERE item_id = ? AND length(vector) > 0"
            " ORDER BY ordinal",
            (item_id,),
        )
        return [tuple(r) for r in rows]

    def frames_between(
        self, item_id: int, start: float, end: float
    ) -> list[tuple[int, int, float]]:
        """(frame id, ordinal, time) of an item's described frames from `start` to `end`
        seconds, in order."""
        rows = self._rows(
            "SELECT id, ordinal, time FROM frames WHERE item_id = ? AND length(vector) > 0"
            " AND time BETWEEN ? AND ? ORDER BY ordinal",
            (item_id, start, end),
        )
        return [tuple(r) for r in rows]

    def hash_only_frames(self, min_quality: int = 0) -> list[tuple[int, int, float | None, bytes]]:
        """(item id, ordinal, time, pdq) of the frames of hash-only items (origin 'vpdq') whose
        PDQ quality is at least `min_quality`, by item and ordinal."""
        rows = self._rows(
            "SELECT f.item_id, f.ordinal, f.time, f.pdq FROM frames f JOIN items i"
            " ON i.id = f.item_id WHERE i.origin = 'vpdq' AND f.pdq_quality >= ?"
            " ORDER BY f.item_id, f.ordinal",
            (min_quality,),
        )
        return [tuple(r) for r in rows]
