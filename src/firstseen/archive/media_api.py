"""The media store's interface: where an archive keeps the files its catalog points at, apart
from vectors. Thumbnails (verification reads them at query time, reports show them) and captures
(each capture's WARC file and the JSON record derived from it).

The default is a directory (archive/thumbnails.py, archive/captures.py): the embedded archive's
own, or a deployment's `media` directory on a mount every node reaches. An object store would
implement these protocols; everything outside archive/ reaches media only through them
(`Archive.thumbnails`, `Archive.captures`), never by path, except a capture's WARC file, which
WARC readers and writers open as a local file (`CaptureRef.warc`, `CaptureFiles.warc_path`): an
object store would keep local copies of those and upload a new one once it is whole.
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from firstseen.archive.records import CaptureRef


class StagedThumbnails(Protocol):
    """The thumbnails of one item being added, written before its catalog row commits, and
    discarded on leaving the `with` block whatever was placed."""

    sha256: str

    def write_jpeg(self, ordinal: int, data: bytes) -> None: ...

    def discard(self) -> None: ...

    def __enter__(self) -> "StagedThumbnails": ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class ThumbnailStore(Protocol):
    """Every indexed frame's thumbnail, keyed by its item's content hash and its ordinal, kept in
    step with the catalog: an item's thumbnails appear as its row commits and go as it is removed,
    and `sweep` puts right what a killed writer left."""

    long_edge: int

    def read(self, sha256: str, ordinal: int) -> np.ndarray | None:
        """The RGB thumbnail, or None if the frame has none."""
        ...

    def read_jpeg(self, sha256: str, ordinal: int) -> bytes | None:
        """The thumbnail as stored (JPEG), or None if the frame has none."""
        ...

    def has(self, sha256: str, ordinal: int) -> bool: ...

    def stage(self, sha256: str) -> StagedThumbnails: ...

    def placing(self, staged: StagedThumbnails) -> AbstractContextManager[None]:
        """Puts the staged thumbnails in place while the body commits their item; they go back
        out if it fails."""
        ...

    def placing_all(self, staged: Sequence[StagedThumbnails]) -> AbstractContextManager[None]:
        """`placing` for the items of one transaction."""
        ...

    def removing(self, sha256: str) -> AbstractContextManager[None]:
        """Takes an item's thumbnails away while the body removes its row; back if it fails."""
        ...

    def sweep(self) -> None: ...


class CaptureFiles(Protocol):
    """The captures: one WARC file each (the evidence, never modified) and a JSON record of what
    was found in it (remade from the WARC when needed)."""

    def new_id(self, when: datetime | None = None) -> str: ...

    def warc_path(self, capture_id: str, suffix: str = ".warc.gz") -> Path:
        """Where a new capture's WARC file is written."""
        ...

    def spool(self) -> AbstractContextManager[Path]:
        """A private local folder for decoding a capture's media, deleted afterwards."""
        ...

    def forget(self, capture_id: str) -> None:
        """Deletes a capture whose registration failed."""
        ...

    def refs(self) -> list[CaptureRef]: ...

    def find(self, ref: str) -> CaptureRef:
        """A capture by id or unique id prefix."""
        ...

    def load(self, ref: str) -> tuple[CaptureRef, dict[str, Any]]: ...

    def save(self, capture_id: str, info: dict[str, Any]) -> Path: ...
