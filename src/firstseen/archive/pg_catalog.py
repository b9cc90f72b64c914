"""The catalog on a PostgreSQL server: the same tables, transactions and answers as the embedded
SQLite catalog (archive/catalog.py), for archives that several machines write and read at once.

It is written in parts, as the SQLite one: connections, turns and counters (pg_base.py), the
tables and their numbered migrations (pg_schema.py), items and sightings (pg_items.py), frames,
descriptors and parts (pg_frames.py), many items at once (pg_bulk.py) and the snapshot indexes
are built from (pg_vectors.py). A local server for tests and trials: pg_local.py.
"""

from firstseen.archive.pg_bulk import PgBulkTables
from firstseen.archive.pg_frames import PgFrameTables
from firstseen.archive.pg_items import PgItemTables
from firstseen.archive.pg_vectors import PgVectorSnapshot


class PgCatalog(PgItemTables, PgFrameTables, PgBulkTables):
    """The catalog in a PostgreSQL database, named by a libpq URL, behind the interface of
    catalog_api.py (`CatalogStore`)."""

    def snapshot(self) -> PgVectorSnapshot:
        """The vectors at the current revision, on a connection of the snapshot's own."""
        return PgVectorSnapshot(self.url)
