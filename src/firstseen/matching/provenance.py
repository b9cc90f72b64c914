"""What a query and each archived answer say about themselves: Content Credentials and embedded
metadata, read from the files (media/credentials.py; media/embedded.py for a picture,
media/video_tags.py for a video).

Archived items are read on demand from the path they were added from (a captured item from its
capture's WARC, through `captured`), not stored at add time: the catalog has two backends with
numbered migrations, and adding in process, on Ray and by bulk import would all have to carry
it. A file read on demand must still be the archived content (same size and SHA-256), else the
answer says it is not available; an item's reading is kept in memory, so a service answers it
once.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firstseen.archive.records import Item
from firstseen.media.budget import archive_limits
from firstseen.media.credentials import load_anchors, read_credentials
from firstseen.media.embedded import read_metadata
from firstseen.media.files import sha256_of
from firstseen.media.video_tags import read_video_metadata
from firstseen.tuning import PROVENANCE

# A captured item's bytes as a file for the body (None when its capture does not hold them):
# evidence/replay.py reads them from the capture's WARC.
CapturedCopy = Callable[[Item], AbstractContextManager[Path | None]]
CAPTURED = "capture:"  # the path prefix of an item added from a capture


@dataclass(frozen=True, slots=True)
class Provenance:
    """A file's Content Credentials and embedded metadata (media/credentials.py,
    media/embedded.py and media/video_tags.py give their states and fields)."""

    credentials: dict[str, Any]
    metadata: dict[str, Any]


def of_file(path: Path, anchors: str | None, kind: str) -> Provenance:
    """The file's credentials, and its pictures' EXIF/XMP/IPTC or its video's container tags."""
    metadata = read_metadata(path) if kind == "image" else read_video_metadata(path)
    return Provenance(read_credentials(path, anchors), metadata)


def unavailable(reason: str) -> Provenance:
    state = {"state": "unavailable", "reason": reason}
    return Provenance(dict(state), dict(state))


class ProvenanceReader:
    """Reads the query's and the archived items' provenance with one trust list."""

    def __init__(self, trust_anchors: Path | None, captured: CapturedCopy | None = None) -> None:
        self.anchors = load_anchors(trust_anchors) if trust_anchors else None
        self._captured = captured
        self._kept: OrderedDict[tuple[int, str], Provenance] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, path: Path, kind: str) -> Provenance:
        return of_file(path, self.anchors, kind)

    def item(self, item: Item) -> Provenance:
        key = (item.id, item.sha256)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        found = self._read(item)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > PROVENANCE.items_kept:
                self._kept.popitem(last=False)
        return found

    def _read(self, item: Item) -> Provenance:
        """The item's original file, if it is still where it was added (or in its capture's
        WARC) and still the same."""
        if item.origin != "media":
            return unavailable("a partner's hashes: no file archived")
        if item.bytes > PROVENANCE.max_file_bytes:
            return unavailable(f"file larger than {PROVENANCE.max_file_bytes >> 20} MB")
        if not item.path.startswith(CAPTURED):
            return self._read_file(item, Path(item.path))
        if self._captured is None:
            return unavailable("a captured file: its capture is not read here")
        with self._captured(item) as copy:
            if copy is None:
                return unavailable("its capture no longer holds the file")
            return self._read_file(item, copy)

    def _read_file(self, item: Item, path: Path) -> Provenance:
        try:
            if not path.is_file() or path.stat().st_size != item.bytes:
                return unavailable("the original file is no longer where it was added")
        except (OSError, ValueError):
            return unavailable("the original file is no longer where it was added")
        try:
            changed = sha256_of(path)[0] != item.sha256
        except OSError:
            return unavailable("the original file is no longer where it was added")
        if changed:
            return unavailable("the file where it was added has changed since")
        # The request's budget is the query's: an archived video's header is read under the
        # archive's limits, or a search past its deadline would be refused for it (and the
        # refusal kept here for good).
        with archive_limits():
            return of_file(path, self.anchors, item.kind)
