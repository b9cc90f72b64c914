"""The archive's data, by name: what the catalog stores and what its reads return.

The dataclasses are what a caller hands the catalog or gets back whole (an item, a sighting, a
frame to store; and a capture the media store holds). The named tuples are rows of the catalog's
narrower reads; they are tuples so that code written when those reads returned plain tuples still
works, but a caller reads them by field name.
"""

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

# Row ids as callers hold them: a list, or an index's id array.
Ids = Sequence[int] | np.ndarray
# A stored vector's bytes (float16), or a view of them.
Blob = bytes | memoryview
# An export's reads (archive/catalog_bulk.py): (table, a batch of its rows), table by table.
ExportBatches = Generator[tuple[str, list[tuple[Any, ...]]]]


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when a piece of content was seen."""

    path: str
    url: str | None = None
    title: str | None = None
    published: str | None = None
    seen_at: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One indexed piece of content, with the sighting that dates it earliest. `origin` is 'media'
    for content decoded here, 'vpdq' for a partner's vPDQ hash file: its frames have a PDQ hash
    but no descriptor and no thumbnail."""

    id: int
    sha256: str
    kind: str
    path: str
    width: int
    height: int
    duration: float | None
    bytes: int
    added_at: str
    origin: str
    frames: int
    first_seen: Sighting


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """A capture in the media store: its WARC file and the JSON record derived from it."""

    id: str
    warc: Path
    info: Path


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """What the catalog keeps of one indexed frame; `vector` is empty for hash-only frames, and
    `parts` holds the vectors of a photo's parts in grid order (archive/parts.py)."""

    ordinal: int
    time: float | None
    pdq: bytes
    pdq_quality: int
    vector: np.ndarray
    parts: np.ndarray | None = None


class FrameInfo(NamedTuple):
    """A stored frame's place and PDQ hash: whose it is, where in that item, and when (None for
    a photo)."""

    item_id: int
    ordinal: int
    time: float | None
    pdq: bytes


class DescribedFrame(NamedTuple):
    """A frame that has a descriptor (so a vector in the index and a thumbnail): its id, its
    ordinal in its item and its time (None for a photo)."""

    frame_id: int
    ordinal: int
    time: float | None


class TimedFrame(NamedTuple):
    """A described frame of a video, which has a time: its id, its ordinal in its item and its
    time in seconds."""

    frame_id: int
    ordinal: int
    time: float


class PhotoWithoutParts(NamedTuple):
    """A photo whose parts were never described, with what describing them needs."""

    item_id: int
    frame_id: int
    sha256: str
    path: str


class Counts(NamedTuple):
    """How many items and frames the catalog holds."""

    items: int
    frames: int


class Page(NamedTuple):
    """One page of items and how many match in all."""

    items: list[Item]
    total: int


class CatalogVersion(NamedTuple):
    """A key that differs after any commit: SQLite's data version (commits by other
    connections) and this connection's total changes (its own commits)."""

    data_version: int
    changes: int


class VectorChange(NamedTuple):
    """One row of the vector log: revision `revision` added (or, if `removed`, took out) the
    vectors of the frames or parts (`kind`) with ids from `lo` to `hi`."""

    revision: int
    kind: str
    lo: int
    hi: int
    removed: bool


@dataclass(frozen=True, slots=True)
class BulkItems:
    """Items to add at once, with their rows: frames, parts and sightings name their item (or
    frame) by its place in `items` (or `frames`). Vectors are float16 bytes, empty for a
    hash-only frame."""

    # (sha256, kind, path, width, height, duration, bytes, added_at, origin) per item
    items: Sequence[tuple[Any, ...]]
    frame_item: np.ndarray  # per frame: its item's place in `items`
    # (ordinal, time, pdq, pdq_quality, vector) per frame
    frames: Sequence[tuple[Any, ...]]
    part_frame: np.ndarray  # per part: its frame's place in `frames`
    part_slot: np.ndarray
    part_vectors: Sequence[Blob]
    sighting_item: np.ndarray  # per sighting: its item's place in `items`
    # (path, url, title, published, seen_at) per sighting
    sightings: Sequence[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """What a bulk write added: items new to the catalog and their frames, sightings new to
    it; `known` items were already there and only gained sightings."""

    added: int
    frames: int
    known: int
    sightings: int
