"""The SQLite catalog: the archive's source of truth.

An item is one piece of content (keyed by the SHA-256 of its bytes) with its indexed frames; a
sighting is one place and date where that content was seen. Everything an `add` writes for one item
is committed in a single transaction, so a killed process leaves either the whole item or none of
it. Descriptor vectors are stored here too (float16), so the vector index is a cache that can
always be rebuilt from the catalog.

Ids are never reused (AUTOINCREMENT): an id, and the vector stored under it in an index, names one
piece of content for ever, so an index written by a process that missed a removal can be put right
by its ids alone. Every change of items, frames or parts also counts up the catalog's revision,
which an index file records (archive/vectors.py), so that an older index never replaces a newer
one.

The catalog is written in parts: the connection, the lock its threads share, transactions and
revisions (catalog_base.py), the tables and their migrations (catalog_schema.py), items and
sightings (catalog_items.py), frames, descriptors and parts (catalog_frames.py), and many items
at once (catalog_bulk.py: an import's batches, an export's snapshot). What it stores and returns
is named in records.py; what the rest of firstseen may ask of it is the `CatalogStore` of
catalog_api.py.
"""

from firstseen.archive.catalog_api import MIN_PREFIX, is_sha_prefix
from firstseen.archive.catalog_base import CatalogError
from firstseen.archive.catalog_bulk import BulkTables
from firstseen.archive.catalog_frames import FrameTables
from firstseen.archive.catalog_items import AlreadyArchived, ItemTables
from firstseen.archive.catalog_schema import SCHEMA
from firstseen.archive.records import FrameRecord, Item, Sighting

# Re-exported for the modules that still import them from here.
__all__ = [
    "MIN_PREFIX",
    "SCHEMA",
    "AlreadyArchived",
    "Catalog",
    "CatalogError",
    "FrameRecord",
    "Item",
    "Sighting",
    "is_sha_prefix",
]


class Catalog(ItemTables, FrameTables, BulkTables):
    """The embedded catalog: the archive's SQLite database, behind the interface of
    catalog_api.py (`CatalogStore`)."""
