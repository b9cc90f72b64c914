"""The embedded archive: one directory holding the catalog, the vector index and thumbnails."""

from pathlib import Path

import numpy as np

from firstseen.archive.catalog import Catalog, FrameRecord, Item, Sighting
from firstseen.archive.thumbnails import Thumbnails
from firstseen.archive.vectors import FaissIndex
from firstseen.config import Settings, load_settings
from firstseen.errors import FirstseenError


class Archive:
    """Catalog (SQLite) + vector index (FAISS) + thumbnails, kept consistent with each other.

    The index is opened lazily, since listing the catalog needs no vectors, and is reconciled with
    the catalog when opened.
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
        self._index: FaissIndex | None = None

    @property
    def index(self) -> FaissIndex:
        if self._index is None:
            self._index = FaissIndex(self.root / "vectors.faiss", self.dim)
            if self._index.reconcile(self.catalog.frame_ids(), self.catalog.vectors):
                self._index.save()
        return self._index

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
        index = self.index  # opened (and reconciled) before the catalog gains the new frames
        item_id = self.catalog.add_item(
            sha256, kind, sighting.path, size, duration, nbytes, frames, sighting
        )
        ids = np.array([f for f, _, _ in self.catalog.item_frames(item_id)], dtype=np.int64)
        index.add(ids, np.stack([f.vector for f in frames]))
        return item_id

    def remove(self, item: Item) -> None:
        frame_ids = self.catalog.remove_item(item.id)
        self.index.remove(np.array(frame_ids, dtype=np.int64))
        self.index.save()
        self.thumbnails.remove(item.sha256)

    def save(self) -> None:
        """Persists the index; the catalog commits as it goes."""
        if self._index is not None:
            self._index.save()

    def close(self) -> None:
        self.save()
        self.catalog.close()
