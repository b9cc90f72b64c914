"""The catalog's connection: opening (and migrating) the database, the lock that one catalog's
threads share, all-or-nothing writes, reads, the revision counters and the meta table.

One catalog may serve many threads (the HTTP service): its connection is used under a lock, held
for the whole of a write transaction, so a reader never sees a write half-done; other processes
read the committed state alongside it (WAL).
"""

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firstseen.archive.catalog_schema import SCHEMA, migrate
from firstseen.archive.records import CatalogVersion
from firstseen.errors import FirstseenError

_REVISION = "revision"  # meta key: counts every change of items, frames and parts
_IDENTITY = "catalog_id"  # meta key: tells this catalog from another with the same revision

# The parameters of one SQL statement: positional or by name.
Params = Sequence[Any] | dict[str, Any]


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class CatalogError(FirstseenError):
    """The catalog could not be read or written (a full disk, a damaged file, a lock held too
    long); a write that fails changes nothing."""


class CatalogBase:
    """The connection to the archive's SQLite database, shared by the catalog's tables."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        with self._reported("opening it"):
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            migrate(self._db)
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

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: the unit a killed `add` can never leave half-written."""
        with self._lock, self._reported("writing to it"), self._db:
            yield self._db

    def _rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._reported("reading it"):
            return self._db.execute(sql, params).fetchall()

    def _row(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        with self._lock, self._reported("reading it"):
            return self._db.execute(sql, params).fetchone()

    def _only_row(self, sql: str, params: Params = ()) -> tuple[Any, ...]:
        """The row of a query that yields exactly one (a count, a pragma, an item's earliest
        sighting); only a removal by another process between two reads leaves it none."""
        row = self._row(sql, params)
        if row is None:
            raise CatalogError(f"catalog {self.path}: a row went missing while reading it")
        return row

    def vectors_revision(self) -> int:
        """Counts every committed change of items, frames and parts, by any process: an index
        that reflects revision r holds exactly the vectors the catalog held at r."""
        row = self._row("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?", (_REVISION,))
        return row[0] if row else 0

    @staticmethod
    def _count_change(db: sqlite3.Connection) -> int:
        """Counts one change within the caller's transaction; returns the new revision."""
        row = db.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER)",
            (_REVISION,),
        ).fetchone()
        return int(row[0])

    def data_version(self) -> int:
        """Changes whenever another connection (another process) commits to the catalog."""
        return int(self._only_row("PRAGMA data_version")[0])

    def version(self) -> CatalogVersion:
        """Differs after any commit, by this connection or another: what callers ask whether
        anything changed by, and key caches of the catalog's contents by (data_version alone
        misses this connection's own writes)."""
        with self._lock:
            return CatalogVersion(self.data_version(), self._db.total_changes)

    def meta(self, key: str) -> str | None:
        row = self._row("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
