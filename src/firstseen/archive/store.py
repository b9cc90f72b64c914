"""The embedded archive: one directory holding the catalog, the vector indexes and thumbnails."""

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np

from firstseen.archive.catalog import Catalog, FrameRecord, Item, Sighting
from firstseen.archive.parts import part_id
from firstseen.archive.thumbnails import Thumbnails
from firstseen.archive.vectors import FaissIndex
from firstseen.config import Settings, load_settings
from firstseen.errors import FirstseenError


class Archive:
    """Catalog (SQLite) + vector indexes (FAISS: frames, and parts of photos) + thumbnails, kept
    consistent with each other.

    The indexes are opened lazily, since listing the catalog needs no vectors, and are reconciled
    with the catalog when opened.

    One archive may serve many threads: changes (add, remove, refresh) happen one at a time. A
    search holds `reading()` while it uses frame ids from the index. A removal takes the frames
    out of the index first, so searches starting later never see them, then waits for the
    searches already running before it deletes the rows and thumbnails they may still read; no
    search ever waits for a removal. `generation` grows whenever ids may have been reused for
    other content: caches keyed by ids must then be dropped.
    """

    def __init__(self, root: Path, dim: int = 512) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FirstseenError(f"cannot create archive {root}: {exc}") from exc
        self.settings: Settings = load_settings(root)
        self.catalog = Catalog(root / "catalog.sqlite")
        self.thumbnails = Thumbnails(root / "thumbnails", self.settings.thumbnail_edge)
        self.dim = dim
        self.generation = 0
        self._index: FaissIndex | None = None
        self._parts: FaissIndex | None = None
        self._version: int | None = None  # the catalog's data_version the index reflects
        self._opening = threading.Lock()
        self._changing = threading.RLock()
        self._searches = _GracePeriods()

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
                    version = self.catalog.data_version()
                    self._parts = self._open(
                        "parts.faiss", self.catalog.part_ids, self.catalog.part_vectors
                    )
                    self._index = self._open(
                        "vectors.faiss", self.catalog.frame_ids, self.catalog.vectors
                    )
                    self._version = version
        return self._index, self._parts

    def _open(
        self, name: str, ids: Callable[[], np.ndarray], load: Callable[[np.ndarray], np.ndarray]
    ) -> FaissIndex:
        index = FaissIndex(self.root / name, self.dim)
        if index.reconcile(ids(), load):
            index.save()
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
            self._index.rebuild(self.catalog.frame_ids(), self.catalog.vectors)
            self._parts.rebuild(self.catalog.part_ids(), self.catalog.part_vectors)
            self._version = version
            self.generation += 1
        self.save()
        return True

    def claim_model(self, key: str, dim: int) -> None:
        """Binds the archive to the model that makes its vectors: vectors of two models are not
        comparable, so a different model needs a new archive."""
        stored = self.catalog.meta("model")
        if stored is None or not len(self.catalog.frame_ids()):
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
    ) -> int:
        """Commits a described item; thumbnails must already be written."""
        # Opened (and reconciled) before the catalog gains the new frames.
        index, parts = self._indexes()
        with self._changing:
            item_id = self.catalog.add_item(
                sha256, kind, sighting.path, size, duration, nbytes, frames, sighting
            )
            ids = [f for f, _, _ in self.catalog.item_frames(item_id)]
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
        with self._changing:
            if ids := self.catalog.add_parts(frame_id, vectors):
                parts.add(np.array(ids, dtype=np.int64), vectors)

    def remove(self, item: Item) -> None:
        index, parts = self._indexes()
        with self._changing:
            ids = np.array([f for f, _, _ in self.catalog.item_frames(item.id)], dtype=np.int64)
            part_ids = self.catalog.part_ids(item.id)
            index.remove(ids)
            parts.remove(part_ids)
            self._searches.wait_for_earlier()
            try:
                self.catalog.remove_item(item.id)
            except BaseException:  # the item stays, and stays findable
                if len(ids):
                    index.add(ids, self.catalog.vectors(ids))
                if len(part_ids):
                    parts.add(part_ids, self.catalog.part_vectors(part_ids))
                raise
            self.thumbnails.remove(item.sha256)
            self.generation += 1
        self.save()

    def save(self) -> None:
        """Persists the indexes; the catalog commits as it goes."""
        for index in (self._index, self._parts):
            if index is not None:
                index.save()

    def close(self) -> None:
        self.save()
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
