"""The embedded archive: one directory holding the catalog, the vector indexes and thumbnails."""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np

from firstseen.archive.catalog import Catalog
from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.durable import SaveError
from firstseen.archive.parts import part_id
from firstseen.archive.records import FrameRecord, Item, Sighting
from firstseen.archive.thumbnails import Staged, Thumbnails
from firstseen.archive.vectors import FaissIndex, Stamp
from firstseen.config import Settings, load_settings
from firstseen.errors import FirstseenError

log = logging.getLogger(__name__)


class Archive:
    """Catalog (SQLite) + vector indexes (FAISS: frames, and parts of photos) + thumbnails, kept
    consistent with each other.

    The indexes are opened lazily, since listing the catalog needs no vectors, and are checked
    against the catalog when opened: kept if they reflect it, brought up to date by ids if they
    reflect an earlier revision of it, rebuilt from it otherwise (archive/vectors.py).

    One archive may serve many threads: changes (add, remove, refresh) happen one at a time. A
    search holds `reading()` while it uses frame ids from the index. A removal takes the frames
    out of the index first, so searches starting later never see them, then waits for the
    searches already running before it deletes the rows and thumbnails they may still read; no
    search ever waits for a removal. `generation` grows whenever the index was rebuilt or lost
    content: caches keyed by ids must then be dropped.
    """

    def __init__(self, root: Path, dim: int = 512) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FirstseenError(f"cannot create archive {root}: {exc}") from exc
        self.settings: Settings = load_settings(root)
        self.catalog: CatalogStore = Catalog(root / "catalog.sqlite")
        self.thumbnails = Thumbnails(
            root / "thumbnails",
            self.settings.thumbnail_edge,
            known=lambda sha256: self.catalog.item_id(sha256) is not None,
        )
        self._sweep()
        self.dim = dim
        self.generation = 0
        self._index: FaissIndex | None = None
        self._parts: FaissIndex | None = None
        self._version: int | None = None  # the catalog's data_version the index reflects
        self._revision = 0  # the catalog's vectors_revision() the indexes in memory reflect
        self._opening = threading.Lock()
        self._changing = threading.RLock()
        self._searches = _GracePeriods()

    def _sweep(self) -> None:
        """Thumbnails left by killed writers; a read-only archive just keeps them."""
        try:
            self.thumbnails.sweep()
        except OSError as exc:
            log.warning("archive: cannot tidy %s: %s", self.thumbnails.root, exc.strerror or exc)

    @property
    def index(self) -> FaissIndex:
        """Frame descriptors, by frame id."""
        return self._indexes()[0]

    @property
    def parts(self) -> FaissIndex:
        """Descriptors of parts of photos, by part id (archive/parts.py)."""
        return self._indexes()[1]

    def _indexes(self) -> tuple[FaissIndex, FaissIndex]:
        if self._index is None or self._parts is None:
            with self._opening:
                if self._index is None or self._parts is None:
                    # Read before the contents, so that the revision recorded is never later
                    # than what the indexes hold.
                    version = self.catalog.data_version()
                    revision = self.catalog.vectors_revision()
                    self._parts = self._open(
                        "parts.faiss", self.catalog.part_ids, self.catalog.part_vectors, revision
                    )
                    self._index = self._open(
                        "vectors.faiss", self.catalog.frame_ids, self.catalog.vectors, revision
                    )
                    self._version, self._revision = version, revision
        return self._index, self._parts

    def _open(
        self,
        name: str,
        ids: Callable[[], np.ndarray],
        load: Callable[[np.ndarray], np.ndarray],
        revision: int,
    ) -> FaissIndex:
        """The index file checked against the catalog, repaired or rebuilt from it if need be,
        and saved if changed (a save that fails only costs the same repair next time)."""
        index = FaissIndex(self.root / name, self.dim)
        stamp, catalog_ids = index.stamp, ids()
        earlier = (
            stamp is not None
            and stamp.catalog == self.catalog.identity
            and stamp.revision <= revision
        )
        if index.damage:
            log.warning("archive: %s is damaged (%s): rebuilt from the catalog", name, index.damage)
        if earlier and index.agrees(catalog_ids, load):
            changed = index.reconcile(catalog_ids, load)
        else:
            index.rebuild(catalog_ids, load)
            changed = True
        if changed:
            try:
                index.save(Stamp(self.catalog.identity, revision))
            except SaveError as exc:
                log.warning("archive: %s; it is repaired from the catalog again next time", exc)
        return index

    def reading(self) -> AbstractContextManager[None]:
        """Held while frame ids found in the index are in use (a search)."""
        return self._searches.reading()

    def refresh(self) -> bool:
        """Catches up with what another process (a CLI `add` or `remove`) committed to the
        catalog since the index was loaded: the index is rebuilt from the catalog aside and
        swapped in. Cheap when nothing changed; True if the index was rebuilt."""
        if self._index is None or self._parts is None:
            return False
        if self.catalog.data_version() == self._version:
            return False
        with self._changing:
            version = self.catalog.data_version()
            if version == self._version:
                return False
            revision = self.catalog.vectors_revision()
            self._index.rebuild(self.catalog.frame_ids(), self.catalog.vectors)
            self._parts.rebuild(self.catalog.part_ids(), self.catalog.part_vectors)
            self._version, self._revision = version, revision
            self.generation += 1
        self.save()
        return True

    @contextmanager
    def _changing_vectors(self) -> Iterator[None]:
        """Wraps one change made to both the catalog and the indexes: if no other writer
        committed meanwhile, the indexes then reflect the catalog's next revision."""
        with self._changing:
            before = self.catalog.vectors_revision()
            yield
            if before == self._revision and self.catalog.vectors_revision() == before + 1:
                self._revision = before + 1

    def claim_model(self, key: str, dim: int) -> None:
        """Binds the archive to the model that makes its vectors: vectors of two models are not
        comparable, so a different model needs a new archive."""
        stored = self.catalog.meta("model")
        if stored is None or not self.catalog.has_described_frames():
            self.catalog.set_meta("model", key)
        elif stored != key:
            raise FirstseenError(
                f"{self.root} was built with model {stored}, the settings name {key}: "
                "use a new archive for another model"
            )
        self.dim = dim

    def add_item(
        self,
        sha256: str,
        kind: str,
        size: tuple[int, int],
        duration: float | None,
        nbytes: int,
        frames: list[FrameRecord],
        sighting: Sighting,
        thumbnails: Staged,
    ) -> int:
        """Commits a described item, its staged thumbnails moving into place with it."""
        # Opened (and reconciled) before the catalog gains the new frames.
        index, parts = self._indexes()
        with self._changing_vectors():
            with self.thumbnails.placing(thumbnails):
                item_id = self.catalog.add_item(
                    sha256, kind, sighting.path, size, duration, nbytes, frames, sighting
                )
            ids = [f.frame_id for f in self.catalog.item_frames(item_id)]
            index.add(np.array(ids, dtype=np.int64), np.stack([f.vector for f in frames]))
            described = [
                (part_id(frame_id, slot), vector)
                for frame_id, frame in zip(ids, frames, strict=True)
                if frame.parts is not None
                for slot, vector in enumerate(frame.parts)
            ]
            if described:
                part_ids, vectors = zip(*described, strict=True)
                parts.add(np.array(part_ids, dtype=np.int64), np.stack(vectors))
        return item_id

    def add_parts(self, frame_id: int, vectors: np.ndarray) -> None:
        """Commits the described parts of an archived photo's frame."""
        parts = self._indexes()[1]
        with self._changing_vectors():
            if ids := self.catalog.add_parts(frame_id, vectors):
                parts.add(np.array(ids, dtype=np.int64), vectors)

    def remove(self, item: Item) -> None:
        """Removes an item: from the indexes, the catalog and the disk, then saves the
        indexes."""
        index, parts = self._indexes()
        with self._changing_vectors():
            ids = np.array([f.frame_id for f in self.catalog.item_frames(item.id)], dtype=np.int64)
            part_ids = self.catalog.part_ids(item.id)
            index.remove(ids)
            parts.remove(part_ids)
            self._searches.wait_for_earlier()
            try:
                with self.thumbnails.removing(item.sha256):
                    self.catalog.remove_item(item.id)
            except BaseException:  # the item stays, and stays findable
                if len(ids):
                    index.add(ids, self.catalog.vectors(ids))
                if len(part_ids):
                    parts.add(part_ids, self.catalog.part_vectors(part_ids))
                raise
            self.generation += 1
        self.save()

    def save(self) -> bool:
        """Persists the indexes (the catalog commits as it goes). A save that fails loses
        nothing: the previous files are kept, the catalog has every change, and the next process
        to open the archive brings the index up to date from it; it is logged, and False."""
        try:
            self.write_indexes()
        except SaveError as exc:
            log.warning("archive: %s; the index catches up from the catalog next time", exc)
            return False
        return True

    def write_indexes(self) -> None:
        """Writes the indexes stamped with the catalog revision they reflect; raises SaveError
        (for a command to report) where `save()` only logs."""
        stamp = Stamp(self.catalog.identity, self._revision)
        for index in (self._index, self._parts):
            if index is not None:
                index.save(stamp)

    def close(self) -> bool:
        """Saves the indexes, as `save()` does, and closes the catalog."""
        try:
            return self.save()
        finally:
            self.catalog.close()


class _GracePeriods:
    """Readers register in the current period; `wait_for_earlier()` opens a new period and waits
    until every reader of the earlier ones has left. New readers never wait."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._period = 0
        self._readers: dict[int, int] = {}

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            period = self._period
            self._readers[period] = self._readers.get(period, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._readers[period] -= 1
                if not self._readers[period]:
                    del self._readers[period]
                    self._cond.notify_all()

    def wait_for_earlier(self) -> None:
        with self._cond:
            self._period += 1
            now = self._period
            self._cond.wait_for(lambda: all(p >= now for p in self._readers))
