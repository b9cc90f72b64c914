"""Adding media to the archive: hash, decode, describe, store — once per content.

Each file is handled on its own: a bad file yields a failed result naming the reason and the rest
of the batch carries on. Content already in the archive (same SHA-256) is not decoded again; a new
path, URL, title or date for it is recorded as another sighting.
"""

import contextlib
import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from firstseen.archive.catalog import AlreadyArchived
from firstseen.archive.catalog_api import CatalogStore
from firstseen.archive.parts import crop_parts
from firstseen.archive.records import FrameRecord, PhotoWithoutParts, Sighting
from firstseen.archive.store import Archive
from firstseen.archive.thumbnails import Staged
from firstseen.errors import FirstseenError, MediaError, internal_reason, user_reason
from firstseen.media import Frame, load_image, probe, sample_video, video_info
from firstseen.media.files import check_regular_file
from firstseen.signals import Descriptor, pdq_hash
from firstseen.text import shown, storable_path, stored

Status = Literal["added", "duplicate", "failed"]
_BATCH = 16
# Decoded video frames held at once (as RGB), queued after decoding and batched for description:
# full-HD frames keep the full batch, larger ones come fewer at a time (a batch's
# vectors are the same whatever its size), so no video costs more than about 400 MB of frames.
_QUEUE_BYTES = 128 << 20
_BATCH_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class AddResult:
    path: str
    status: Status
    item_id: int | None = None
    frames: int = 0
    reason: str | None = None
    new_sighting: bool = False


def stored_sighting(sighting: Sighting) -> Sighting:
    """The sighting as the catalog keeps it: its metadata without control characters (a title
    or URL is printed on terminals), its path with undecodable bytes escaped (SQLite holds
    UTF-8 text)."""
    return replace(
        sighting,
        path=storable_path(sighting.path),
        url=stored(sighting.url),
        title=stored(sighting.title),
        published=stored(sighting.published),
    )


def add_named(
    add: Callable[[Path, Sighting], AddResult],
    catalog: CatalogStore,
    path: Path,
    sightings_of: Callable[[Path], list[Sighting]],
) -> AddResult:
    """Adds a file a user named, with `add`, if it is a regular file (checked before its
    sightings are made, which resolves the path: a symlink loop cannot be resolved), and records
    its further sightings."""
    try:
        check_regular_file(path)
    except MediaError as exc:
        return AddResult(shown(path), "failed", reason=str(exc))
    first, *also = sightings_of(path)
    return also_seen(catalog, add(path, first), also)


def sighted(catalog: CatalogStore, item_id: int, sighting: Sighting) -> AddResult:
    """Content already archived: the file only adds where and when it was seen."""
    fresh = catalog.add_sighting(item_id, sighting)
    return AddResult(sighting.path, "duplicate", item_id, new_sighting=fresh)


def also_seen(catalog: CatalogStore, result: AddResult, sightings: Sequence[Sighting]) -> AddResult:
    """Records the further sightings of a file just added or found archived (a CSV listing it
    on several rows: each row is a place and date it was seen)."""
    if result.item_id is None or not sightings:
        return result
    try:
        fresh = [catalog.add_sighting(result.item_id, s) for s in sightings]
    except FirstseenError as exc:
        return replace(result, status="failed", reason=user_reason(exc))
    return replace(result, new_sighting=result.new_sighting or any(fresh))


def media_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and files under folders named (recursively, sorted, hidden ones skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") for p in relative):
                    yield child
        else:
            yield path


def sha256_of(path: Path) -> tuple[str, int]:
    """Content hash and size in bytes, read in chunks so large videos need little memory."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _prefetch(frames: Iterator[Frame], depth: int) -> Iterator[Frame]:
    """Decodes in a background thread so decoding overlaps descriptor inference (both release
    the GIL); errors are re-raised in the consumer, and the thread ends when the consumer does."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                if stop.is_set():
                    return
                box.put(frame)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            box.put(exc)
        box.put(done)

    decoder = threading.Thread(target=produce, name="firstseen-decode", daemon=True)
    decoder.start()
    try:
        while (item := box.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # A consumer that gave up (a failed write, say) must not leave the decoder blocked on
        # a full box with the file open: it is told to stop, and the box drained until it has.
        stop.set()
        while decoder.is_alive():
            with contextlib.suppress(queue.Empty):
                box.get_nowait()
            decoder.join(0.01)


class Ingester:
    """Adds files to an archive with one loaded descriptor model."""

    def __init__(self, archive: Archive, descriptor: Descriptor) -> None:
        self.archive = archive
        self.descriptor = descriptor

    def add(self, path: Path, sighting: Sighting) -> AddResult:
        sighting = stored_sighting(sighting)
        name = sighting.path
        try:
            check_regular_file(path)
            sha, nbytes = sha256_of(path)
            known = self.archive.catalog.item_id(sha)
            if known is not None:
                return sighted(self.archive.catalog, known, sighting)
            kind = probe(path)
            with self.archive.thumbnails.stage(sha) as staged:
                records, size, duration = self._describe(path, kind, staged)
                item_id = self.archive.add_item(
                    sha, kind, size, duration, nbytes, records, sighting, staged
                )
            return AddResult(name, "added", item_id, frames=len(records), new_sighting=True)
        except AlreadyArchived as raced:  # another writer added it meanwhile: keep the sighting
            return sighted(self.archive.catalog, raced.item_id, sighting)
        except (FirstseenError, OSError) as exc:
            return AddResult(name, "failed", reason=user_reason(exc))
        except Exception as exc:  # a bug: the other files of a batch are still added
            logging.getLogger(__name__).exception("adding %s", name)
            return AddResult(name, "failed", reason=internal_reason(exc))

    def photos_missing_parts(self) -> list[PhotoWithoutParts]:
        """Photos archived without parts (before parts existed, or with `photo_parts = false`),
        as `describe_parts` takes them; none while `photo_parts` is off."""
        if not self.archive.settings.photo_parts:
            return []
        return self.archive.catalog.photos_without_parts()

    def describe_parts(self, photos: list[PhotoWithoutParts]) -> Iterator[tuple[str, bool]]:
        """Describes the parts of `photos_missing_parts()` and yields each photo's path as it is
        done, with False where neither the original nor a thumbnail was left to cut them from
        (each photo is its own transaction, so an interrupted run resumes where it stopped).

        The parts are cut from the original file when it is still where it was added and
        unchanged, else from the stored thumbnail (at most `thumbnail_edge` across, so coarser).
        """
        for photo in photos:
            picture = self._original(Path(photo.path), photo.sha256)
            if picture is None:
                picture = self.archive.thumbnails.read(photo.sha256, 0)
            if picture is not None:
                parts = self.descriptor.describe(crop_parts(picture))
                self.archive.add_parts(photo.frame_id, parts)
            yield photo.path, picture is not None

    @staticmethod
    def _original(path: Path, sha: str) -> np.ndarray | None:
        """The photo as added, if the file at its path is still the same content."""
        try:
            return load_image(path) if path.is_file() and sha256_of(path)[0] == sha else None
        except (FirstseenError, OSError):
            return None

    def _describe(
        self, path: Path, kind: str, thumbnails: Staged
    ) -> tuple[list[FrameRecord], tuple[int, int], float | None]:
        if kind == "image":
            photo = Frame(load_image(path))
            record = self._records([photo], 0, thumbnails)[0]
            if self.archive.settings.photo_parts:
                record = replace(record, parts=self.descriptor.describe(crop_parts(photo.rgb)))
            return [record], photo.size, None
        info = video_info(path)
        frame_bytes = max(1, info.width * info.height * 3)
        depth = max(2, min(2 * _BATCH, _QUEUE_BYTES // frame_bytes))
        batch_size = max(1, min(_BATCH, _BATCH_BYTES // frame_bytes))
        frames = _prefetch(sample_video(path, fps=self.archive.settings.sample_fps), depth)
        records: list[FrameRecord] = []
        size = (0, 0)
        batch: list[Frame] = []
        for frame in frames:
            size = frame.size
            batch.append(frame)
            if len(batch) == batch_size:
                records += self._records(batch, len(records), thumbnails)
                batch = []
        if batch:
            records += self._records(batch, len(records), thumbnails)
        if not records:
            raise FirstseenError("no decodable frames")
        return records, size, info.duration

    def _records(self, frames: list[Frame], start: int, thumbnails: Staged) -> list[FrameRecord]:
        vectors = self.descriptor.describe([f.rgb for f in frames])
        records = []
        for offset, (frame, vector) in enumerate(zip(frames, vectors, strict=True)):
            thumbnails.write(start + offset, frame.rgb)
            hashed = pdq_hash(frame.rgb)
            records.append(
                FrameRecord(start + offset, frame.time, hashed.bits, hashed.quality, vector)
            )
        return records
