"""The catalog's items and sightings: adding content (with its frames, in one transaction),
recording where else it was seen, finding, listing and removing it."""

import sqlite3
from collections.abc import Sequence
from typing import Any

from firstseen.archive.catalog_api import is_sha_prefix
from firstseen.archive.catalog_base import CatalogBase, now
from firstseen.archive.catalog_frames import insert_frames, log_vectors
from firstseen.archive.records import Counts, FrameRecord, Item, Page, Sighting

# The largest id SQLite stores: a longer number names no item.
_MAX_ID = 2**63 - 1

# The columns _ITEM_COLUMNS reads: an Item's fields up to its earliest sighting.
_ItemRow = tuple[int, str, str, str, int, int, float | None, int, str, str, int]

# Earliest first: dated sightings by publication date, undated ones after them by when seen.
_FIRST_SIGHTING = """
SELECT path, url, title, published, seen_at FROM sightings WHERE item_id = ?
ORDER BY published IS NULL, published, seen_at, id LIMIT 1
"""


def as_item_id(ref: str) -> int | None:
    """The item id `ref` spells, written as the catalog writes ids (no sign, no leading zero)."""
    if not (ref.isascii() and ref.isdigit()) or str(int(ref)) != ref or int(ref) > _MAX_ID:
        return None
    return int(ref)


def _published_candidates(start: str | None, end: str | None) -> tuple[str, dict[str, str]]:
    """The items with a sighting published within `page`'s range, from the index of
    publication dates: the only items whose earliest one can be within it (a superset, which
    `page` narrows by its own test). For one date p, `p >= substr(start, 1, length(p))` holds
    exactly when p >= start or p is a prefix of start, and `substr(p, 1, length(end)) <= end`
    exactly when p < end with its last character counted up one."""
    params: dict[str, str] = {}
    ranges: list[str] = []
    if start:
        ranges.append("published >= :from")
    if end and (after := after_prefix(end)) is not None:
        ranges.append("published < :after_to")
        params["after_to"] = after
    query = f"SELECT item_id FROM sightings WHERE {' AND '.join(ranges) or 'published NOT NULL'}"
    if start:
        params |= {f"prefix{n}": start[:n] for n in range(len(start))}
        marks = ", ".join(f":prefix{n}" for n in range(len(start)))
        query += f" UNION ALL SELECT item_id FROM sightings WHERE published IN ({marks})"
    return query, params


def after_prefix(text: str) -> str | None:
    """The least text above every text that starts with `text` (compared as SQLite compares
    text, by code point); None where there is none to write."""
    last = ord(text[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates cannot be stored: the next character is after them
        last = 0xE000
    return text[:-1] + chr(last) if last <= 0x10FFFF else None


class AlreadyArchived(Exception):
    """The content was added by another writer (a CLI `add` beside the server, say) between the
    check for it and the insert: the caller records its sighting instead."""

    def __init__(self, item_id: int) -> None:
        super().__init__(f"already archived as item {item_id}")
        self.item_id = item_id


class ItemTables(CatalogBase):
    """Items and their sightings."""

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
            item_id = cursor.lastrowid
            if item_id is None:  # sqlite3 sets it after every successful INSERT
                raise sqlite3.InterfaceError("no row id after inserting an item")
            insert_frames(db, item_id, frames, self._count_change(db))
            self._insert_sighting(db, item_id, sighting)
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
            described = db.execute(
                "SELECT id FROM frames WHERE item_id = ? AND length(vector) > 0", (item_id,)
            ).fetchall()
            parts = db.execute(
                "SELECT p.id FROM parts p JOIN frames f ON f.id = p.frame_id WHERE f.item_id = ?",
                (item_id,),
            ).fetchall()
            revision = self._count_change(db)
            log_vectors(db, revision, "frames", [r[0] for r in described], removed=True)
            log_vectors(db, revision, "parts", [r[0] for r in parts], removed=True)
            db.execute("DELETE FROM items WHERE id = ?", (item_id,))
        return ids

    def _item(self, row: _ItemRow) -> Item:
        first = self._only_row(_FIRST_SIGHTING, (row[0],))  # an item has at least one sighting
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
        character is a wildcard. Each way is one index lookup."""
        ways = ["i.id IN (SELECT item_id FROM sightings WHERE path = :ref)"]
        params: dict[str, Any] = {"ref": ref}
        if (item_id := as_item_id(ref)) is not None:
            ways.append("i.id = :id")
            params["id"] = item_id
        if is_sha_prefix(ref):  # hex digits only: nothing in the pattern but its `*`
            ways.append("i.sha256 GLOB :pattern")
            params["pattern"] = ref.lower() + "*"
        query = f"{self._ITEM_COLUMNS} WHERE {' OR '.join(ways)} ORDER BY i.id"
        with self._lock:
            return [self._item(r) for r in self._rows(query, params)]

    def page(
        self,
        kind: str | None = None,
        text: str | None = None,
        published_from: str | None = None,
        published_to: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """One page of items (by id) and how many match in all: `text` is looked for in paths,
        titles and URLs of every sighting (or is a SHA-256 prefix); the published range, both
        ends inclusive, applies to the earliest publication date, compared as ISO text at the
        precision of the shorter of the two (so 2019 is within 2019-01-01 .. 2019-12-31).
        Kinds and dates are read through indexes (a date range costs what is dated within it);
        `text` reads every item, as it may be anywhere in a path, title or URL."""
        where: list[str] = []
        params: dict[str, Any] = {}
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
        if published_from or published_to:
            candidates, named = _published_candidates(published_from, published_to)
            where.append(f"i.id IN ({candidates})")
            params |= named
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params |= {"limit": limit, "offset": offset}
        with self._lock:
            total = self._only_row(f"SELECT COUNT(*) FROM items i{clause}", params)[0]
            rows = self._rows(
                self._ITEM_COLUMNS + clause + " ORDER BY i.id LIMIT :limit OFFSET :offset", params
            )
            return Page([self._item(r) for r in rows], total)

    def kinds(self) -> dict[str, int]:
        """How many items of each kind (image, video) the catalog holds."""
        return dict(self._rows("SELECT kind, COUNT(*) FROM items GROUP BY kind"))

    def counts(self) -> Counts:
        """How many items and frames the catalog holds."""
        return Counts._make(
            self._only_row("SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM frames)")
        )

    def sightings(self, item_id: int) -> list[Sighting]:
        rows = self._rows(
            "SELECT path, url, title, published, seen_at FROM sightings WHERE item_id = ?"
            " ORDER BY published IS NULL, published, seen_at, id",
            (item_id,),
        )
        return [Sighting(*r) for r in rows]
