"""The PostgreSQL catalog's items and sightings, as the SQLite catalog's (archive/catalog_items.py):
adding content with its frames in one transaction, once per content, recording where else it
was seen, finding, listing and removing it.

Once per content: `sha256` is UNIQUE and an item is inserted with ON CONFLICT DO NOTHING, so of
two writers adding the same content at once, on one machine or two, one commits it and the other
gets AlreadyArchived with its id, as with SQLite.
"""

from collections.abc import Sequence
from typing import Any, cast

import psycopg

from firstseen.archive.catalog_api import is_sha_prefix
from firstseen.archive.catalog_base import now
from firstseen.archive.catalog_items import AlreadyArchived, after_prefix, as_item_id
from firstseen.archive.pg_base import PgBase
from firstseen.archive.pg_frames import insert_frames, log_vectors
from firstseen.archive.records import Counts, FrameRecord, Item, Page, Sighting

# Earliest first: dated sightings by publication date, undated ones after them by when seen.
_EARLIEST = "ORDER BY published IS NULL, published, seen_at, id"

# An Item's fields with its earliest sighting, in one statement (a lateral join per item).
_ITEM_COLUMNS = (
    "SELECT i.id, i.sha256, i.kind, i.path, i.width, i.height, i.duration, i.bytes,"
    " i.added_at, i.origin, (SELECT COUNT(*) FROM frames f WHERE f.item_id = i.id),"
    " s.path, s.url, s.title, s.published, s.seen_at FROM items i CROSS JOIN LATERAL"
    f" (SELECT path, url, title, published, seen_at FROM sightings WHERE item_id = i.id"
    f" {_EARLIEST} LIMIT 1) s"
)
# The columns of _ITEM_COLUMNS up to the earliest sighting: an Item's other fields.
_ItemRow = tuple[int, str, str, str, int, int, float | None, int, str, str, int]
_ITEM_FIELDS = 11


def _item(row: tuple[Any, ...]) -> Item:
    fields = cast(_ItemRow, row[:_ITEM_FIELDS])
    return Item(*fields, first_seen=Sighting(*row[_ITEM_FIELDS:]))


def _published_candidates(start: str | None, end: str | None) -> tuple[str, dict[str, Any]]:
    """The items with a sighting published within `page`'s range, from the index of publication
    dates, as archive/catalog_items.py finds them (its docstring says why this superset holds
    every item whose earliest date is within the range)."""
    params: dict[str, Any] = {}
    ranges: list[str] = []
    if start:
        ranges.append("published >= %(from)s")
    if end and (after := after_prefix(end)) is not None:
        ranges.append("published < %(after_to)s")
        params["after_to"] = after
    query = f"SELECT item_id FROM sightings WHERE {' AND '.join(ranges) or 'published IS NOT NULL'}"
    if start:
        params["prefixes"] = [start[:n] for n in range(len(start))]
        query += " UNION ALL SELECT item_id FROM sightings WHERE published = ANY(%(prefixes)s)"
    return query, params


class PgItemTables(PgBase):
    """Items and their sightings."""

    def item_id(self, sha256: str) -> int | None:
        row = self._row("SELECT id FROM items WHERE sha256 = %s", (sha256,))
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
            row = db.execute(
                "INSERT INTO items"
                " (sha256, kind, path, width, height, duration, bytes, added_at, origin)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (sha256) DO NOTHING RETURNING id",
                (sha256, kind, path, size[0], size[1], duration, nbytes, now(), origin),
            ).fetchone()
            if row is None:
                known = db.execute("SELECT id FROM items WHERE sha256 = %s", (sha256,)).fetchone()
                if known is None:  # writers take turns: the one it conflicted with committed
                    raise psycopg.DataError(f"item {sha256} conflicts but cannot be read")
                raise AlreadyArchived(int(known[0]))
            item_id = int(row[0])
            insert_frames(db, item_id, frames, self._count_change(db))
            self._insert_sighting(db, item_id, sighting)
        return item_id

    def add_sighting(self, item_id: int, sighting: Sighting) -> bool:
        """Records another place or date for known content; False if it was already recorded."""
        with self.transaction() as db:
            return self._insert_sighting(db, item_id, sighting)

    @staticmethod
    def _insert_sighting(db: psycopg.Connection, item_id: int, s: Sighting) -> bool:
        done = db.execute(
            "INSERT INTO sightings (item_id, path, url, title, published, seen_at)"
            " SELECT %(item)s, %(path)s, %(url)s, %(title)s, %(published)s, %(seen_at)s"
            " WHERE NOT EXISTS (SELECT 1 FROM sightings WHERE item_id = %(item)s"
            " AND path = %(path)s AND url IS NOT DISTINCT FROM %(url)s"
            " AND title IS NOT DISTINCT FROM %(title)s"
            " AND published IS NOT DISTINCT FROM %(published)s)",
            {
                "item": item_id,
                "path": s.path,
                "url": s.url,
                "title": s.title,
                "published": s.published,
                "seen_at": s.seen_at or now(),
            },
        )
        return done.rowcount > 0

    def remove_item(self, item_id: int) -> list[int]:
        """Deletes an item with its frames and sightings; returns the removed frame ids."""
        with self.transaction() as db:
            frames = db.execute(
                "SELECT id, octet_length(vector) > 0 FROM frames WHERE item_id = %s ORDER BY id",
                (item_id,),
            ).fetchall()
            parts = db.execute(
                "SELECT p.id FROM parts p JOIN frames f ON f.id = p.frame_id WHERE f.item_id = %s",
                (item_id,),
            ).fetchall()
            revision = self._count_change(db)
            described = [r[0] for r in frames if r[1]]
            log_vectors(db, revision, "frames", described, removed=True)
            log_vectors(db, revision, "parts", [r[0] for r in parts], removed=True)
            db.execute("DELETE FROM items WHERE id = %s", (item_id,))
        return [r[0] for r in frames]

    def items(self) -> list[Item]:
        return [_item(r) for r in self._rows(_ITEM_COLUMNS + " ORDER BY i.id")]

    def item(self, item_id: int) -> Item | None:
        row = self._row(_ITEM_COLUMNS + " WHERE i.id = %s", (item_id,))
        return _item(row) if row else None

    def find_items(self, ref: str) -> list[Item]:
        """Items named exactly by `ref`: their id, a prefix of their SHA-256 (at least
        MIN_PREFIX hex digits) or a path they were seen at, as the SQLite catalog finds them."""
        ways = ["i.id IN (SELECT item_id FROM sightings WHERE path = %(ref)s)"]
        params: dict[str, Any] = {"ref": ref}
        if (item_id := as_item_id(ref)) is not None:
            ways.append("i.id = %(id)s")
            params["id"] = item_id
        if is_sha_prefix(ref):  # hex digits only: nothing in the pattern but its `%`
            ways.append("i.sha256 LIKE %(pattern)s")
            params["pattern"] = ref.lower() + "%"
        query = f"{_ITEM_COLUMNS} WHERE {' OR '.join(ways)} ORDER BY i.id"
        return [_item(r) for r in self._rows(query, params)]

    def page(
        self,
        kind: str | None = None,
        text: str | None = None,
        published_from: str | None = None,
        published_to: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """One page of items (by id) and how many match in all, as the SQLite catalog's `page`
        (archive/catalog_items.py) answers: `text` matches ASCII letters in either case and
        others as they are (ILIKE under the columns' "C" collation, as SQLite's LIKE)."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if kind:
            where.append("i.kind = %(kind)s")
            params["kind"] = kind
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["like"] = f"%{escaped}%"
            matches = [
                "i.path ILIKE %(like)s",
                "EXISTS (SELECT 1 FROM sightings s WHERE s.item_id = i.id AND (s.path ILIKE"
                " %(like)s OR s.url ILIKE %(like)s OR s.title ILIKE %(like)s))",
            ]
            if len(text) >= 6:
                params["prefix"] = text.lower()
                matches.append("starts_with(i.sha256, %(prefix)s)")
            where.append(f"({' OR '.join(matches)})")
        first = "(SELECT MIN(published) FROM sightings s WHERE s.item_id = i.id)"
        if published_from:
            where.append(f"{first} >= substr(%(from)s, 1, length({first}))")
            params["from"] = published_from
        if published_to:
            where.append(f"substr({first}, 1, length(%(to)s)) <= %(to)s")
            params["to"] = published_to
        if published_from or published_to:
            candidates, named = _published_candidates(published_from, published_to)
            where.append(f"i.id IN ({candidates})")
            params |= named
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._reading() as db, db.transaction():  # the count and the page: one snapshot
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            total = db.execute(f"SELECT COUNT(*) FROM items i{clause}", params).fetchone()
            rows = db.execute(
                _ITEM_COLUMNS + clause + " ORDER BY i.id LIMIT %(limit)s OFFSET %(offset)s",
                params | {"limit": limit, "offset": offset},
            ).fetchall()
        return Page([_item(r) for r in rows], int(total[0]) if total else 0)

    def kinds(self) -> dict[str, int]:
        """How many items of each kind (image, video) the catalog holds."""
        return {k: int(n) for k, n in self._rows("SELECT kind, COUNT(*) FROM items GROUP BY kind")}

    def counts(self) -> Counts:
        """How many items and frames the catalog holds."""
        row = self._only_row("SELECT (SELECT COUNT(*) FROM items), (SELECT COUNT(*) FROM frames)")
        return Counts(int(row[0]), int(row[1]))

    def sightings(self, item_id: int) -> list[Sighting]:
        rows = self._rows(
            "SELECT path, url, title, published, seen_at FROM sightings WHERE item_id = %s"
            f" {_EARLIEST}",
            (item_id,),
        )
        return [Sighting(*r) for r in rows]
