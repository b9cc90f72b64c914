"""Adding media to the archive: hash, decode, describe, store — once per content.

Each file is handled on its own: a bad file yields a failed result naming the reason and the rest
of the batch carries on. Content already in the archive (same SHA-256) is not decoded again; a new
path, URL, title or date for it is recorded as another sighting.
"""

import contextlib
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
from firstseen.archive.media_api import StagedThumbnails
from firstseen.archive.parts import crop_parts
from firstseen.archive.records import FrameRecord, PhotoWithoutParts, Sighting
from firstseen.archive.store import Archive
from firstseen.archive.thumbnails import encode_thumbnail
from firstseen.errors import FirstseenError, MediaError, internal_reason, user_reason
from firstseen.media import Frame, load_image, probe, sample_video, video_info
from firstseen.media.files import check_regular_file, sha256_of
from firstseen.media.video import VideoInfo
from firstseen.signals import Descriptor, pdq_hash
from firstseen.text import shown, storable_path, stored

Status = Literal["added", "duplicate", "failed"]
_BATCH = 16
# Decoded video frames held at once (as RGB), queued after decoding and batched for description:
# full-HD frames keep the full batch, larger ones come fewer at a time (a batch's
# vectors are the same whatever its size), so no video costs more than about 400 MB of frames.
_QUEUE_BYTES = 128 << 20
_BATCH_BYTES = 256 << 20
NO_FRAMES = "no decodable frames"


@dataclass(frozen=True, slots=True)
class AddResult:
    path: str
    status: Status
    item_id: int | None = None
    frames: int = 0
    reason: str | None = None
    new_sighting: bool = False


@dataclass(frozen=True, slots=True)
class Pending:
    """A file whose content the archive does not have yet: what describing and committing it
    needs (its sighting as the catalog keeps it)."""

    path: Path
    sha256: str
    nbytes: int
    kind: str
    sighting: Sighting


@dataclass(frozen=True, slots=True)
class Described:
    """A file's frames as the catalog stores them, with its picture size and duration."""

    records: list[FrameRecord]
    size: tuple[int, int]
    duration: float | None


@dataclass(frozen=True, slots=True)
class FrameSignals:
    """A frame's signals besides its descriptor: the PDQ hash and its quality, and the
    thumbnail as JPEG bytes."""

    pdq: bytes
    quality: int
    thumbnail: bytes


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
    """Adds a file a user named, with `add`, if it is a regular file, and records its further
    sightings."""
    sightings = named_sightings(path, sightings_of)
    if isinstance(sightings, AddResult):
        return sightings
    first, *also = sightings
    return also_seen(catalog, add(path, first), also)


def named_sightings(
    path: Path, sightings_of: Callable[[Path], list[Sighting]]
) -> list[Sighting] | AddResult:
    """The sightings of a file a user named (at least one), or its failed result if it is not
    a regular file: checked first, since making the sightings resolves the path, and a symlink
    loop cannot be resolved."""
    try:
        check_regular_file(path)
    except MediaError as exc:
        return AddResult(shown(path), "failed", reason=str(exc))
    return sightings_of(path)


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


def outcome[T](name: str, work: Callable[[], T]) -> T | AddResult:
    """One file's step, or its failed result whatever goes wrong: a bad file or a failed write
    gives the reason, and so does a bug (logged), so that the rest of a batch carries on."""
    try:
        return work()
    except (FirstseenError, OSError) as exc:
        return AddResult(name, "failed", reason=user_reason(exc))
    except Exception as exc:  # a bug: the other files of a batch are still added
        logging.getLogger(__name__).exception("adding %s", name)
        return AddResult(name, "failed", reason=internal_reason(exc))


def plan(catalog: CatalogStore, path: Path, sighting: Sighting) -> AddResult | Pending:
    """What adding a file takes: content already archived only gains the sighting (a
    duplicate); new content is Pending, to be described and committed."""
    check_regular_file(path)
    sha, nbytes = sha256_of(path)
    known = catalog.item_id(sha)
    if known is not None:
        return sighted(catalog, known, sighting)
    return Pending(path, sha, nbytes, probe(path), sighting)


def commit(
    archive: Archive, pending: Pending, described: Described, staged: StagedThumbnails
) -> AddResult:
    """Commits a described file as one item, once per content: when another writer added the
    same content meanwhile, the catalog refuses it and the file only adds its sighting."""
    try:
        item_id = archive.add_item(
            pending.sha256,
            pending.kind,
            described.size,
            described.duration,
            pending.nbytes,
            described.records,
            pending.sighting,
            staged,
        )
    except AlreadyArchived as raced:
        return sighted(archive.catalog, raced.item_id, pending.sighting)
    frames = len(described.records)
    return AddResult(pending.sighting.path, "added", item_id, frames=frames, new_sighting=True)


def video_batching(info: VideoInfo) -> tuple[int, int]:
    """How many decoded frames of this video to hold queued, and how many to describe at once,
    within the memory budgets above."""
    frame_bytes = max(1, info.width * info.height * 3)
    depth = max(2, min(2 * _BATCH, _QUEUE_BYTES // frame_bytes))
    return depth, max(1, min(_BATCH, _BATCH_BYTES // frame_bytes))


def frame_signals(frame: Frame, thumbnail_edge: int) -> FrameSignals:
    """The PDQ hash and thumbnail of a frame, computed wherever it was decoded."""
    hashed = pdq_hash(frame.rgb)
    return FrameSignals(hashed.bits, hashed.quality, encode_thumbnail(frame.rgb, thumbnail_edge))


def frame_record(
    ordinal: int,
    time: float | None,
    signals: FrameSignals,
    vector: np.ndarray,
    staged: StagedThumbnails,
) -> FrameRecord:
    """A described frame as the catalog stores it, its thumbnail staged to move in with it."""
    staged.write_jpeg(ordinal, signals.thumbnail)
    return FrameRecord(ordinal, time, signals.pdq, signals.quality, vector)


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
        return outcome(sighting.path, lambda: self._add(path, sighting))

    def _add(self, path: Path, sighting: Sighting) -> AddResult:
        planned = plan(self.archive.catalog, path, sighting)
        if isinstance(planned, AddResult):
            return planned
        with self.archive.thumbnails.stage(planned.sha256) as staged:
            described = self._describe(path, planned.kind, staged)
            return commit(self.archive, planned, described, staged)

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

    def _describe(self, path: Path, kind: str, thumbnails: StagedThumbnails) -> Described:
        if kind == "image":
            photo = Frame(load_image(path))
            record = self._records([photo], 0, thumbnails)[0]
            if self.archive.settings.photo_parts:
                record = replace(record, parts=self.descriptor.describe(crop_parts(photo.rgb)))
            return Described([record], photo.size, None)
        info = video_info(path)
        depth, batch_size = video_batching(info)
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
            raise FirstseenError(NO_FRAMES)
        return Described(records, size, info.duration)

    def _records(
        self, frames: list[Frame], start: int, thumbnails: StagedThumbnails
    ) -> list[FrameRecord]:
        vectors = self.descriptor.describe([f.rgb for f in frames])
        edge = self.archive.thumbnails.long_edge
        return [
            frame_record(start + offset, frame.time, frame_signals(frame, edge), vector, thumbnails)
            for offset, (frame, vector) in enumerate(zip(frames, vectors, strict=True))
        ]
