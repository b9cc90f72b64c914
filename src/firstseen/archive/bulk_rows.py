"""One batch of an import (archive/bulk_import.py) as the catalog writes it: the exchange
format's rows of a run of items turned into `BulkItems`, every value the catalog could not hold
refused in one line naming its file, and the thumbnails the batch carries."""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from firstseen.archive.parts import SLOTS
from firstseen.archive.records import Blob, BulkItems
from firstseen.errors import FirstseenError
from firstseen.text import storable_path, stored

_JPEG = b"\xff\xd8"  # how every JPEG file begins
# The items table's columns, in the order the catalog's bulk insert takes them.
_ITEM_COLUMNS = ("sha256", "kind", "path", "width", "height", "duration", "bytes", "added_at")
_VALUES = {"kind": ("image", "video"), "origin": ("media", "vpdq")}


@dataclass(frozen=True, slots=True)
class Block:
    """The rows of one table that belong to a run of items, with each row's item place (its
    row in the items table)."""

    rows: pa.Table
    places: np.ndarray
    paths: list[tuple[Path, int]]  # the files they came from, with how many rows each

    def path_of(self, row: int) -> Path:
        for path, count in self.paths:
            if row < count:
                return path
            row -= count
        return self.paths[-1][0]

    def column(self, name: str) -> list[Any]:
        return self.rows.column(name).to_pylist()

    def numbers(self, name: str) -> np.ndarray:
        return self.rows.column(name).to_numpy()


@dataclass(frozen=True, slots=True)
class Batch:
    """One transaction's worth of an import: the rows, and the thumbnails carried, by item."""

    bulk: BulkItems
    thumbnails: dict[str, list[tuple[int, bytes]]]


def batch_of(blocks: dict[str, Block], start: int, dim: int) -> Batch:
    """The items at places `start`... with their rows and thumbnails."""
    bulk = bulk_items(blocks, start, dim)
    return Batch(bulk, thumbnails_of(blocks["frames"], bulk))


def bulk_items(blocks: dict[str, Block], start: int, dim: int) -> BulkItems:
    """The items at places `start`... with their rows, as the catalog takes them."""
    items = blocks["items"]
    values = {name: items.column(name) for name in (*_ITEM_COLUMNS, "origin")}
    for name, allowed in _VALUES.items():
        for row, value in enumerate(values[name]):
            if value not in allowed:
                raise FirstseenError(
                    f"{items.path_of(row)}: {name} {value!r} of item {values['sha256'][row]}"
                    f" is not one of {', '.join(allowed)}"
                )
    values["path"] = [storable_path(p) for p in values["path"]]
    rows = list(zip(*(values[name] for name in (*_ITEM_COLUMNS, "origin")), strict=True))
    hash_only = np.array([o == "vpdq" for o in values["origin"]], dtype=bool)
    frames = blocks["frames"]
    frame_item = frames.places - start
    frame_keys = _frame_keys(frames, frame_item, values["sha256"])
    vectors = _vectors(frames, dim, hash_only[frame_item], values["sha256"], frame_item)
    part_frame, part_slot, part_vectors = _parts(blocks["parts"], start, frame_keys, dim)
    sighting_item, sightings = _sightings(blocks["sightings"], start, values)
    return BulkItems(
        rows,
        frame_item,
        list(
            zip(
                frames.numbers("ordinal").tolist(),
                frames.column("time"),
                frames.column("pdq"),
                frames.numbers("pdq_quality").tolist(),
                vectors,
                strict=True,
            )
        ),
        part_frame,
        part_slot,
        part_vectors,
        sighting_item,
        sightings,
    )


def _frame_keys(frames: Block, frame_item: np.ndarray, shas: list[str]) -> np.ndarray:
    """Each frame as (item place, ordinal) in one number; refuses an ordinal given twice."""
    ordinals = frames.numbers("ordinal").astype(np.int64)
    if (ordinals < 0).any():
        row = int(np.argmin(ordinals))
        raise FirstseenError(f"{frames.path_of(row)}: frame ordinal {ordinals[row]} is negative")
    keys = (frame_item.astype(np.int64) << 32) | ordinals
    ordered = np.sort(keys)
    twice = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(twice):
        row = int(np.flatnonzero(keys == ordered[twice[0]])[0])
        raise FirstseenError(
            f"{frames.path_of(row)}: frame {ordinals[row]} of item {shas[frame_item[row]]}"
            " is listed twice"
        )
    return keys


def _vectors(
    frames: Block, dim: int, hash_only: np.ndarray, shas: list[str], frame_item: np.ndarray
) -> list[Blob]:
    """Each frame's descriptor as the catalog stores it (float16 bytes); empty for the frames
    of hash-only items, which have none, whatever the file says."""
    column = frames.rows.column("descriptor").combine_chunks()
    if not len(column):
        return []
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    missing = np.flatnonzero(~valid & ~hash_only)
    if len(missing):
        row = int(missing[0])
        raise FirstseenError(
            f"{frames.path_of(row)}: frame of item {shas[frame_item[row]]} has no descriptor"
            " (only hash-only items, origin 'vpdq', may lack one)"
        )
    half = _floats(column, dim).astype(np.float16)
    bad = np.flatnonzero(~np.isfinite(half).all(axis=1) & valid & ~hash_only)
    if len(bad):
        row = int(bad[0])
        raise FirstseenError(
            f"{frames.path_of(row)}: descriptor of a frame of item {shas[frame_item[row]]}"
            " holds numbers that are not finite"
        )
    raw, step = memoryview(half).cast("B"), 2 * dim
    keep = (valid & ~hash_only).tolist()
    return [raw[i * step : (i + 1) * step] if k else b"" for i, k in enumerate(keep)]


def _floats(column: pa.FixedSizeListArray, dim: int) -> np.ndarray:
    """The vectors of a fixed-size-list column, one row each (anything under an empty row)."""
    flat = column.values.to_numpy(zero_copy_only=False)
    return flat[column.offset * dim : (column.offset + len(column)) * dim].reshape(-1, dim)


def _parts(
    parts: Block, start: int, frame_keys: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray, list[Blob]]:
    """Each part's frame (its row among the batch's frames), slot and vector bytes."""
    if not parts.rows.num_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), []
    keys = ((parts.places - start).astype(np.int64) << 32) | parts.numbers("ordinal")
    order = np.argsort(frame_keys)
    found = np.minimum(np.searchsorted(frame_keys, keys, sorter=order), len(order) - 1)
    frame = order[found] if len(order) else np.zeros(len(keys), np.int64)
    missing = np.flatnonzero(frame_keys[frame] != keys) if len(order) else np.arange(len(keys))
    if len(missing):
        row = int(missing[0])
        raise FirstseenError(
            f"{parts.path_of(row)}: a part of frame {int(keys[row] & 0xFFFFFFFF)} of item"
            f" {parts.column('sha256')[row]}, which has no such frame"
        )
    slots = parts.numbers("slot").astype(np.int64)
    if ((slots < 0) | (slots >= SLOTS)).any():
        row = int(np.flatnonzero((slots < 0) | (slots >= SLOTS))[0])
        raise FirstseenError(
            f"{parts.path_of(row)}: part slot {slots[row]} is not 0 to {SLOTS - 1}"
        )
    half = _floats(parts.rows.column("descriptor").combine_chunks(), dim).astype(np.float16)
    raw, step = memoryview(half).cast("B"), 2 * dim
    return frame, slots, [raw[i * step : (i + 1) * step] for i in range(len(slots))]


def _sightings(
    sightings: Block, start: int, items: dict[str, list[Any]]
) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """Each sighting's item and row, as the catalog keeps them (metadata without control
    characters); an item listed with none is sighted at its path, when it was added."""
    places = (sightings.places - start).tolist()
    rows = [
        (storable_path(path), stored(url), stored(title), stored(published), seen_at)
        for path, url, title, published, seen_at in zip(
            sightings.column("path"),
            sightings.column("url"),
            sightings.column("title"),
            sightings.column("published"),
            sightings.column("seen_at"),
            strict=True,
        )
    ]
    unsighted = sorted(set(range(len(items["sha256"]))) - set(places))
    for place in unsighted:
        places.append(place)
        rows.append(
            (storable_path(items["path"][place]), None, None, None, items["added_at"][place])
        )
    return np.array(places, dtype=np.int64), rows


def thumbnails_of(frames: Block, bulk: BulkItems) -> dict[str, list[tuple[int, bytes]]]:
    """sha256 → [(ordinal, JPEG bytes)] of the items whose thumbnails the batch carries."""
    column = frames.rows.column("thumbnail")
    pictures: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
    if column.null_count == len(column):
        return pictures
    ordinals = frames.numbers("ordinal").tolist()
    for row, data in enumerate(column.to_pylist()):
        if data is None:
            continue
        sha = bulk.items[bulk.frame_item[row]][0]
        if not data.startswith(_JPEG):
            raise FirstseenError(
                f"{frames.path_of(row)}: the thumbnail of frame {ordinals[row]} of item {sha}"
                " is not a JPEG"
            )
        pictures[sha].append((ordinals[row], data))
    return pictures
