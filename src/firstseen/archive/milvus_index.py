"""A deployment's vectors on Milvus: one collection per archive and vector kind, reached by its
URI (a Milvus cluster, a Milvus Lite server on this machine from milvus_server.py, or a Milvus
Lite `.db` directory that one process alone may open).

A collection holds each vector under the catalog's frame or part id (INT64 primary key) and is
searched by inner product for the k nearest on an exact (FLAT) index, or for a shortlist
(`INDEX.shortlist`, as the embedded approximate index uses) on an approximate one, re-scored
exactly from the catalog's stored vectors (rescore.py): scores are the catalog's, whichever index
Milvus keeps, and an id Milvus still holds after the catalog dropped it never reaches an answer.

Milvus is persistent and shared by every process of a deployment, so there is no file to
rewrite: the collection's properties carry its `Stamp` (catalog identity, revision applied), and
whichever process sees the catalog past it replays the catalog's log (index_replay.py: adds are
upserts, removals deletes, so a replay repeated by two processes is harmless) and then writes the
stamp. A collection of another catalog, or stamped before the log's start, is rebuilt from the
catalog. Every search and count is made at Strong consistency: it sees every write acknowledged
before it, from any process.
"""

import logging
from collections.abc import Iterator

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.index_api import IndexFactory, KeptIndex, Stamp
from firstseen.archive.index_replay import logged_changes, replay, replayable
from firstseen.archive.rescore import Exact, rescored
from firstseen.errors import FirstseenError
from firstseen.tuning import INDEX, VECTOR_STORE

log = logging.getLogger(__name__)

_ID = "id"
_VECTOR = "vector"
_STRONG = "Strong"  # reads see every write acknowledged before them
# Collection properties holding the stamp (Milvus keeps them with the collection's schema).
_STAMP_CATALOG = "firstseen.catalog"
_STAMP_REVISION = "firstseen.revision"
_LITE = "milvus_lite"  # how Milvus Lite's server version starts
_EXACT = "FLAT"  # Milvus's exact index type
_CONNECT_WAIT = 10.0  # seconds to reach a Milvus server before saying it cannot be reached


def collection_name(identity: str, kind: str) -> str:
    """The collection of a catalog's vectors of one kind: Milvus names take letters, digits and
    underscores."""
    safe = "".join(c if c.isalnum() else "_" for c in identity)
    return f"firstseen_{safe}_{kind}"


def index_params(client: MilvusClient) -> tuple[dict[str, object], dict[str, object]]:
    """(how a new collection is indexed, how it is searched): exact on Milvus Lite, IVF-PQ as
    the embedded approximate index on a cluster (tuning/storage.py, `VectorStore`)."""
    if str(client.get_server_version()).startswith(_LITE):
        return {"index_type": VECTOR_STORE.lite_index, "params": {}}, {}
    build: dict[str, object] = {
        "index_type": VECTOR_STORE.cluster_index,
        "params": {"nlist": VECTOR_STORE.cluster_lists, "m": INDEX.pq_bytes, "nbits": 8},
    }
    return build, {"nprobe": INDEX.nprobe}


class MilvusIndex:
    """The `VectorIndex` seam over one Milvus collection, its shortlist re-scored from the
    catalog (`exact`)."""

    def __init__(self, client: MilvusClient, name: str, dim: int, exact: Exact) -> None:
        self.client = client
        self.name = name
        self.dim = dim
        self._exact = exact
        self._build, self._search = index_params(client)
        # An exact index's top k is the catalog's (it holds the catalog's vectors), as FAISS's
        # flat one is; an approximate one's shortlist is re-scored to find it.
        self.exact = self._build["index_type"] == _EXACT

    def exists(self) -> bool:
        return bool(self.client.has_collection(self.name))

    def create(self) -> None:
        """An empty collection (the one there, if any, is dropped first)."""
        if self.exists():
            self.client.drop_collection(self.name)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(_ID, DataType.INT64, is_primary=True)
        schema.add_field(_VECTOR, DataType.FLOAT_VECTOR, dim=self.dim)
        params = self.client.prepare_index_params()
        params.add_index(field_name=_VECTOR, metric_type="IP", **self._build)
        self.client.create_collection(self.name, schema=schema, consistency_level=_STRONG)
        # Not waited for: Milvus searches what it has not indexed yet exactly, and Milvus Lite
        # answers no waiting client (it lacks the timestamp call that waiting makes).
        self.client.create_index(self.name, params, sync=False)
        self.load()

    def load(self) -> None:
        """Makes the collection searchable: Milvus keeps a collection released (on disk only)
        after its server restarts, until it is loaded again."""
        self.client.load_collection(self.name)

    def stamp(self) -> Stamp | None:
        """The stamp in the collection's properties; None if it has none, or is missing."""
        if not self.exists():
            return None
        held = self.client.describe_collection(self.name).get("properties") or {}
        catalog, revision = held.get(_STAMP_CATALOG), held.get(_STAMP_REVISION)
        if catalog is None or revision is None or not str(revision).isdigit():
            return None
        return Stamp(str(catalog), int(revision))

    def write_stamp(self, stamp: Stamp) -> None:
        self.client.alter_collection_properties(
            self.name,
            properties={_STAMP_CATALOG: stamp.catalog, _STAMP_REVISION: str(stamp.revision)},
        )

    def add(self, ids: np.ndarray, vectors: np.ndarray, span: np.ndarray | None = None) -> None:
        """Upserts: an id already held keeps the same vector (the catalog's for it). `span`
        (the logged change's whole id range) needs no record here: Milvus holds no base whose
        removals must be counted."""
        vectors = np.asarray(vectors, np.float32)
        for rows in _chunks(len(ids)):
            batch = [
                {_ID: int(i), _VECTOR: v}
                for i, v in zip(ids[rows].tolist(), vectors[rows], strict=True)
            ]
            if batch:
                self.client.upsert(self.name, batch)

    def remove(self, ids: np.ndarray) -> None:
        """Deletes ids; those not held change nothing."""
        wanted = np.asarray(ids, np.int64)
        for rows in _chunks(len(wanted)):
            if len(wanted[rows]):
                self.client.delete(self.name, ids=wanted[rows].tolist())

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, np.float32)
        k = max(1, min(k, len(self)))
        if not len(self):
            empty = np.full((len(queries), 1), -1, dtype=np.int64)
            return np.zeros(empty.shape, np.float32), empty
        shortlist = min(max(k, INDEX.shortlist), VECTOR_STORE.most_hits)
        if self.exact:
            scores, ids = self._rescored(queries, k, k)
            if (ids >= 0).all():
                return scores, ids
            # Some are gone from the catalog but not yet from Milvus: look further, as an
            # approximate index always does.
        return self._rescored(queries, shortlist, k)

    def _rescored(self, queries: np.ndarray, width: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best `k` of Milvus's nearest `width`, re-scored from the catalog."""
        found = self.client.search(
            self.name,
            data=queries,
            limit=width,
            anns_field=_VECTOR,
            output_fields=[_ID],  # Milvus Lite sends every field (2 KB a hit) unless told
            search_params={"metric_type": "IP", "params": self._search},
            consistency_level=_STRONG,
        )
        shortlist = np.full((len(queries), width), -1, np.int64)
        for row, hits in enumerate(found):
            shortlist[row, : len(hits.ids)] = hits.ids
        return rescored(queries, shortlist, k, self._exact)

    def ids(self) -> np.ndarray:
        found = [np.asarray(batch, np.int64) for batch in self._id_batches()]
        return np.concatenate(found) if found else np.zeros(0, np.int64)

    def _id_batches(self) -> Iterator[list[int]]:
        rows = self.client.query_iterator(
            self.name,
            batch_size=VECTOR_STORE.rows_per_request,
            output_fields=[_ID],
            consistency_level=_STRONG,
        )
        try:
            while batch := rows.next():
                yield [row[_ID] for row in batch]
        finally:
            rows.close()

    def __len__(self) -> int:
        counted = self.client.query(
            self.name, output_fields=["count(*)"], consistency_level=_STRONG
        )
        return int(counted[0]["count(*)"])


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, VECTOR_STORE.rows_per_request):
        yield slice(start, start + VECTOR_STORE.rows_per_request)


class MilvusKept:
    """A `MilvusIndex` of one vector kind kept in step with the catalog through its log, the
    stamp shared with every process through the collection."""

    def __init__(
        self,
        client: MilvusClient,
        kind: str,
        catalog: CatalogStore,
        dim: int,
        name: str | None = None,
    ) -> None:
        self.kind = kind
        self.catalog = catalog
        self._index = MilvusIndex(
            client,
            name or collection_name(catalog.identity, kind),
            dim,
            lambda ids: catalog.stored_vectors(kind, ids),
        )
        self.revision = 0  # the catalog revision this process has seen the index reach
        self.changed = False

    @property
    def index(self) -> MilvusIndex:
        return self._index

    def open(self) -> None:
        """Catches the collection up from its stamp, or rebuilds it from the catalog when it is
        missing, another catalog's, or stamped before the log's start."""
        stamp = self._index.stamp()
        if stamp is not None and replayable(stamp, self.catalog):
            self._index.load()
            self.revision = stamp.revision
            self.catch_up()
        else:
            self.rebuild()

    def catch_up(self) -> bool:
        """Replays the log after the collection's stamp up to the catalog's revision (nothing,
        when another process did it already) and stamps it; True if the log moved on since this
        process last looked, whoever applied it. A collection gone or of another catalog is
        rebuilt; one without a stamp is being rebuilt by another process and is left to it."""
        revision = self.catalog.vectors_revision()
        if revision == self.revision:
            return False
        stamp = self._index.stamp()
        if stamp is None and self._index.exists():
            return False  # being rebuilt by another process, which stamps it when done
        if stamp is None or not replayable(stamp, self.catalog):
            self.rebuild()
            return True
        seen = logged_changes(self.catalog, self.kind, self.revision, revision)
        due = [c for c in seen if c.revision > stamp.revision]
        replay(self.catalog, self.kind, due, self._index)
        if revision > stamp.revision:
            self._index.write_stamp(Stamp(self.catalog.identity, revision))
        self.changed |= any(c.removed for c in seen)
        self.revision = revision
        return bool(seen)

    def rebuild(self) -> None:
        """A new collection holding every vector of the catalog, stamped with the revision read
        before them: the log after it (replayed next) covers whatever changed meanwhile. A
        collection that did not exist yet (a new deployment) is made without a word."""
        if self._index.exists():
            log.warning(
                "archive: Milvus collection %s is rebuilt from the catalog", self._index.name
            )
        revision = self.catalog.vectors_revision()
        self._index.create()
        held = self.catalog.frame_ids() if self.kind == "frames" else self.catalog.part_ids()
        held = np.sort(held)
        for rows in _chunks(len(held)):
            chunk = held[rows]
            ids, vectors = self.catalog.vectors_in(self.kind, int(chunk[0]), int(chunk[-1]))
            self._index.add(ids, vectors)
        self._index.write_stamp(Stamp(self.catalog.identity, revision))
        self.revision = revision
        self.changed = True
        self.catch_up()

    def save(self) -> None:
        """Nothing to write: Milvus keeps each change when it acknowledges it, and the stamp is
        written as the log is replayed."""


def milvus_indexes(uri: str, token: str = "") -> IndexFactory:
    """An `Archive`'s indexes on the Milvus at `uri` (one client for both vector kinds; `token`
    where the cluster asks for one); raises FirstseenError if it cannot be reached."""
    try:
        client = MilvusClient(uri=uri, token=token, timeout=_CONNECT_WAIT)
    except MilvusException as exc:
        raise FirstseenError(f"cannot reach Milvus at {uri}: {exc.message}") from exc

    def kept(kind: str, catalog: CatalogStore, dim: int) -> KeptIndex:
        return MilvusKept(client, kind, catalog, dim)

    return kept
