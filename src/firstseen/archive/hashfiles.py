"""Importing partners' vPDQ hash files: a partner sends hashes, not media.

Each file becomes a hash-only video item (origin 'vpdq'), keyed like media by the SHA-256 of its
bytes, so importing the same file again only records another sighting. Its frames carry the PDQ
hash, quality and time from the file but no descriptor and no thumbnail: the vector index never
holds them, and HashBank (matching/hashbank.py) searches them by PDQ distance instead.
"""

import hashlib
from pathlib import Path

import numpy as np

from firstseen.archive.catalog import AlreadyArchived
from firstseen.archive.ingest import AddResult, sighted, stored_sighting
from firstseen.archive.records import FrameRecord, Sighting
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError, user_reason
from firstseen.media.files import check_regular_file
from firstseen.signals.vpdq import parse_vpdq

# About 30 hours of video hashed at every frame of 30 fps: anything larger is not a hash file.
_MAX_BYTES = 256 << 20
_NO_VECTOR = np.zeros(0, np.float32)


def import_vpdq(archive: Archive, path: Path, sighting: Sighting) -> AddResult:
    """Adds one vPDQ hash file as an item; a bad file yields a failed result naming the reason
    (the first malformed line), never an exception, so a batch carries on."""
    sighting = stored_sighting(sighting)
    name = sighting.path
    try:
        check_regular_file(path)
        if path.stat().st_size > _MAX_BYTES:
            raise FirstseenError(f"over {_MAX_BYTES >> 20} MB: not a vPDQ hash file")
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        catalog = archive.catalog
        known = catalog.item_id(sha)
        if known is not None:
            return sighted(catalog, known, sighting)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FirstseenError("not a vPDQ hash file (not UTF-8 text)") from None
        features = parse_vpdq(text)
        frames = [
            FrameRecord(f.frame_number, f.seconds, f.bits, f.quality, _NO_VECTOR) for f in features
        ]
        try:
            item_id = catalog.add_item(
                sha, "video", name, (0, 0), None, len(data), frames, sighting, origin="vpdq"
            )
        except AlreadyArchived as raced:  # another writer added it meanwhile
            return sighted(catalog, raced.item_id, sighting)
        return AddResult(name, "added", item_id, frames=len(frames), new_sighting=True)
    except (FirstseenError, OSError) as exc:
        reason = user_reason(exc)
        return AddResult(name, "failed", reason=reason)
