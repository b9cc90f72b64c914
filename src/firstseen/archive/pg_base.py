"""The PostgreSQL catalog's connections: opening (and migrating) the database, transactions,
reads, the counters and the meta table.

Threads share a small pool of connections (psycopg_pool): each read or transaction takes one and
gives it back, so searches read side by side and a write never blocks them. Every writing
transaction first locks the one row of `counters` and counts a commit there: writers take turns,
on this machine and every other one, as SQLite's do, and a vector revision taken inside such a
transaction is committed before the next one is taken. So revisions follow commit order, and a
reader that has seen revision r has seen every change numbered r or below: replaying "the log
after r" can never miss a change that committed late under a smaller number. The count of commits
is what `data_version()` and `version()` read: one row, by its key.

The URL is a libpq one (postgresql://user@host:port/db); a password comes from the environment
(PGPASSWORD, or ~/.pgpass, which libpq reads itself), never from firstseen's files.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import conninfo, errors
from psycopg_pool import ConnectionPool

from firstseen.archive.catalog_base import CatalogError, Params
from firstseen.archive.pg_schema import migrate
from firstseen.archive.records import CatalogVersion

_IDENTITY = "catalog_id"  # meta key: tells this catalog from another with the same revision

# Connections one catalog holds at most: the service's search threads (at most 4), its writer,
# and a snapshot's or an export's own. More threads wait for a free one.
POOL_SIZE = 8
# Seconds a connection, a free connection from the pool, or a lock is waited for, as the SQLite
# catalog waits for its write lock: past it, the operation fails with the reason.
WAIT_S = 30
# What every connection is set to: a lock held too long fails the statement rather than hang.
_OPTIONS = f"-c lock_timeout={WAIT_S * 1000}"
# Errors a read or write lets through to its caller: constraint failures (handled there, as
# AlreadyArchived is) and misuse (bugs).
_CALLERS_OWN: tuple[type[psycopg.Error], ...] = (psycopg.IntegrityError, psycopg.ProgrammingError)


def describe_url(url: str) -> str:
    """The URL as messages may show it: host, port, user and database, never a password."""
    try:
        parts = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def first_line(exc: BaseException) -> str:
    """A database error's first line: libpq's messages carry details and hints after it."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str, **options: Any) -> psycopg.Connection:
    """One connection as the catalog's are made (autocommit; waits bounded by WAIT_S)."""
    return psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=WAIT_S,
        options=_OPTIONS,
        application_name="firstseen",
        **options,
    )


class PgBase:
    """The connections to the catalog's PostgreSQL database, shared by its tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = describe_url(url)
        with self._reported("opening it", passing=()):
            with connect(url) as first:  # one connection first: its error is the clear one
                migrate(first)
            self._pool: ConnectionPool = ConnectionPool(
                url,
                kwargs={"autocommit": True, "options": _OPTIONS, "application_name": "firstseen"},
                min_size=1,
                max_size=POOL_SIZE,
                timeout=WAIT_S,
                open=True,
                name="firstseen-catalog",
            )
        self.identity: str = self.meta(_IDENTITY) or ""

    @contextmanager
    def _reported(
        self, doing: str, passing: tuple[type[psycopg.Error], ...] = _CALLERS_OWN
    ) -> Iterator[None]:
        """The database's failures as one line naming the catalog; those `passing` (constraint
        failures and misuse: bugs, or handled by the caller) pass unchanged. Opening passes
        none: a database that holds other tables is the user's to put right."""
        try:
            yield
        except passing:
            raise
        except psycopg.Error as exc:
            full = isinstance(exc, errors.DiskFull)
            reason = "no space left on device" if full else first_line(exc)
            raise CatalogError(f"catalog {self.where}: {reason} while {doing}") from exc

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """All or nothing, one writer at a time (the module's docstring says why): the unit a
        killed `add` can never leave half-written."""
        with (
            self._reported("writing to it"),
            self._pool.connection() as db,
            db.transaction(),
        ):
            db.execute("UPDATE counters SET commits = commits + 1")
            yield db

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection]:
        with self._reported("reading it"), self._pool.connection() as db:
            yield db

    def _rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._reading() as db:
            return db.execute(sql, params).fetchall()

    def _row(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        with self._reading() as db:
            return db.execute(sql, params).fetchone()

    def _only_row(self, sql: str, params: Params = ()) -> tuple[Any, ...]:
        """The row of a query that yields exactly one (a count, an item's earliest sighting)."""
        row = self._row(sql, params)
        if row is None:
            raise CatalogError(f"catalog {self.where}: a row went missing while reading it")
        return row

    def vectors_revision(self) -> int:
        """Counts every committed change of items, frames and parts, by any process: an index
        that reflects revision r holds exactly the vectors the catalog held at r."""
        return int(self._only_row("SELECT revision FROM counters")[0])

    @staticmethod
    def _count_change(db: psycopg.Connection) -> int:
        """Counts one change within the caller's transaction (whose first statement locked the
        counters); returns the new revision."""
        row = db.execute(
            "UPDATE counters SET revision = revision + 1 RETURNING revision"
        ).fetchone()
        if row is None:
            raise CatalogError("the catalog's counters row is missing")
        return int(row[0])

    def data_version(self) -> int:
        """Changes whenever any connection, here or on another machine, commits a change."""
        return int(self._only_row("SELECT commits FROM counters")[0])

    def version(self) -> CatalogVersion:
        """Differs after any commit, by this process or another: every commit is counted."""
        return CatalogVersion(self.data_version(), 0)

    def meta(self, key: str) -> str | None:
        row = self._row("SELECT value FROM meta WHERE key = %s", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )
