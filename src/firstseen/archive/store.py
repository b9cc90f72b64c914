"""The archive: catalog, vector indexes and media store (thumbnails, captures), kept consistent;
by default all in one directory (the embedded archive)."""

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np

from firstseen.archive.captures import CaptureStore
from firstseen.archive.catalog import Catalog
from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.durable import SaveError
from firstseen.archive.index_api import IndexFactory, KeptIndex, VectorIndex
from firstseen.archive.index_sync import SyncedIndex
from firstseen.archive.media_api import CaptureFiles, StagedThumbnails, ThumbnailStore
from firstseen.archive.records import FrameRecord, Item, Sighting
from firstseen.archive.thumbnails import Thumbnails
from firstseen.config import Settings, load_settings
from firstseen.errors import FirstseenError

log = logging.getLogger(__name__)

# The embedded index files of each vector kind, in the archive's directory.
INDEX_FILES = {"frames": "vectors.faiss", "parts": "parts.faiss"}


def embedded_indexes(root: Path) -> IndexFactory:
    """The embedded default: a FAISS file per vector kind in the archive's directory."""

    def kept(kind: str, catalog: CatalogStore, dim: int) -> KeptIndex:
        return SyncedIndex(root / INDEX_FILES[kind], kind, catalog, dim)

    return kept


class Archive:
    """Catalog (SQLite) + vector indexes (frames, and parts of photos: FAISS files by default,
    or where `indexes` puts them, e.g. Milvus) + media store (thumbnails and captures,
    archive/media_api.py), kept consistent with each other.

    The indexes are opened lazily, since listing the catalog needs no vectors, and follow the
    catalog through its vector log (archive/index_replay.py): brought up to date by the log when
    opened, after this archive's own changes and after other processes' (`refresh`).

    One archive may serve many threads: changes (add, remove, refresh) happen one at a time. A
    search holds `reading()` while it uses frame ids from the index. A removal takes the frames
    out of the index first, so searches starting later never see them, then waits for the
    searches already running before it deletes the rows and thumbnails they may still read; no
    search ever waits for a removal. `generation` grows whenever an index was rebuilt or lost
    content: caches keyed by ids must then be dropped.
    """

    def __init__(
        self,
        root: Path,
        dim: int = 512,
        *,
        catalog: CatalogStore | None = None,
        indexes: IndexFactory | None = None,
        media: Path | None = None,
        settings: Settings | None = None,
    ) -> None:
        """The embedded archive in the directory `root`, or an archive spread over services
        (archive/deployment.py) where they are given: a catalog on a database server, vector
        indexes elsewhere (Milvus), media in a directory every node reaches, and the deployment's
        settings; `root` then only names it in messages."""
        self.root = root
        self.media_root = media or root  # thumbnails and captures
        try:
            self.media_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FirstseenError(f"cannot create archive {self.media_root}: {exc}") from exc
        self.settings: Settings = settings or load_settings(root)
        self.catalog: CatalogStore = catalog or Catalog(root / "catalog.sqlite")
        # The media store (archive/media_api.py): directories under the media root.
        self.thumbnails: ThumbnailStore = Thumbnails(
            self.media_root / "thumbnails",
            self.settings.thumbnail_edge,
            known=lambda sha256: self.catalog.item_id(sha256) is not None,
        )
        self.captures: CaptureFiles = CaptureStore(self.media_root)
        self._sweep()
        self.dim = dim
        self._make_index = indexes or embedded_indexes(root)
        self.generation = 0
        self._frames: KeptIndex | None = None
        self._parts: KeptIndex | None = None
        self._version: int | None = None  # the catalog's data_version the indexes reflect
        self._opening = threading.Lock()
        self._changing = threading.RLock()
        self._searches = _GracePeriods()

    def _sweep(self) -> None:
        """Thumbnails left by killed writers; a read-only archive just keeps them."""
        try:
            self.thumbnails.sweep()
        except OSError as exc:
            log.warning("archive: cannot tidy %s: %s", self.media_root, exc.strerror or exc)

    @property
    def index(self) -> VectorIndex:
        """Frame descriptors, by frame id."""
        return self._indexes()[0].index

    @property
    def parts(self) -> VectorIndex:
        """Descriptors of parts of photos, by part id (archive/parts.py)."""
        return self._indexes()[1].index

    def _indexes(self) -> tuple[KeptIndex, KeptIndex]:
        if self._frames is None or self._parts is None:
            with self._opening:
                if self._frames is None or self._parts is None:
                    version = self.catalog.data_version()
                    parts = self._make_index("parts", self.catalog, self.dim)
                    frames = self._make_index("frames", self.catalog, self.dim)
                    for synced in (parts, frames):
                        self._open(synced)
                    self._version = version
                    self._parts, self._frames = parts, frames
        return self._frames, self._parts

    @staticmethod
    def _open(synced: KeptIndex) -> None:
        """Opens an index; a file that cannot be rewritten only costs the same repair next
        time."""
        try:
            synced.open()
        except SaveError as exc:
            log.warning("archive: %s; it is repaired from the catalog again next time", exc)

    def reading(self) -> AbstractContextManager[None]:
        """Held while frame ids found in the index are in use (a search)."""
        return self._searches.reading()

    def refresh(self) -> bool:
        """Catches up with what another process (a CLI `add` or `remove`) committed to the
        catalog since: the vectors it added or removed, from the catalog's log, nothing else.
        Cheap when nothing changed; True if the indexes changed."""
        if self._frames is None or self._parts is None:
            return False
        if self.catalog.data_version() == self._version:
            return False
        with self._changing:
            version = self.catalog.data_version()
            if version == self._version:
                return False
            changed = self._catch_up()
            self._version = version
        return changed

    def _catch_up(self) -> bool:
        """Both indexes brought up to the catalog's revision; `generation` grows if anything
        was removed or replaced, for caches keyed by ids."""
        changed = False
        for synced in self._indexes():
            try:
                changed |= synced.catch_up()
            except SaveError as exc:
                log.warning("archive: %s; the index catches up from the catalog next time", exc)
                changed = True
            if synced.changed:
                synced.changed = False
                self.generation += 1
        return changed

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
        thumbnails: StagedThumbnails,
    ) -> int:
        """Commits a described item, its staged thumbnails moving into place with it; the
        indexes then take its vectors from the catalog's log."""
        self._indexes()
        with self._changing:
            with self.thumbnails.placing(thumbnails):
                item_id = self.catalog.add_item(
                    sha256, kind, sighting.path, size, duration, nbytes, frames, sighting
                )
            self._catch_up()
        return item_id

    def add_parts(self, frame_id: int, vectors: np.ndarray) -> None:
        """Commits the described parts of an archived photo's frame."""
        self._indexes()
        with self._changing:
            self.catalog.add_parts(frame_id, vectors)
            self._catch_up()

    def remove(self, item: Item) -> None:
        """Removes an item: from the indexes, the catalog and the disk. Its vectors leave the
        indexes first, so searches starting later never see them; the rows and thumbnails go
        once the searches already running are done with them."""
        frames, parts = self._indexes()
        with self._changing:
            self._catch_up()
            ids = np.array([f.frame_id for f in self.catalog.item_frames(item.id)], dtype=np.int64)
            part_ids = self.catalog.part_ids(item.id)
            frames.index.remove(ids)
            parts.index.remove(part_ids)
            self._searches.wait_for_earlier()
            try:
                with self.thumbnails.removing(item.sha256):
                    self.catalog.remove_item(item.id)
            except BaseException:  # the item stays, and stays findable
                frames.index.add(ids, self.catalog.vectors(ids))
                parts.index.add(part_ids, self.catalog.part_vectors(part_ids))
                raise
            self._catch_up()
            self.generation += 1
        self.save()

    def save(self) -> bool:
        """Rewrites an index file where enough has changed (index_sync.py); the catalog commits
        as it goes, so a save that fails loses nothing: the previous file is kept and the
        catalog's log brings it up to date next time. It is logged, and False."""
        try:
            self.write_indexes()
        except SaveError as exc:
            log.warning("archive: %s; the index catches up from the catalog next time", exc)
            return False
        return True

    def update_indexes(self) -> bool:
        """Opens the indexes if need be, brings them up to the catalog and writes them where
        due, as `save()` does: what a bulk writer calls once, at the end, so that the next
        search finds the index ready rather than building it."""
        self._indexes()
        return self.save()

    def write_indexes(self) -> None:
        """As `save()`, raising SaveError (for a command to report) where `save()` only logs."""
        if self._frames is None or self._parts is None:
            return
        with self._changing:
            self._catch_up()
            for synced in (self._frames, self._parts):
                synced.save()

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
