"""PDQ search over the archive's hash-only items (imported vPDQ files), by ThreatExchange's rules.

A partner's vPDQ file carries PDQ hashes but no descriptors, so the vector index cannot find it.
HashBank compares query hashes (a query video hashed by signals/vpdq.py, frame by frame) with every
stored frame of every hash-only item, as python-threatexchange's vPDQ matcher does: a pair counts
when its Hamming distance is at most 31 and both frames have PDQ quality of at least 50.

Brute force over 64-bit words (np.bitwise_count): exact, and about 10^8 frame comparisons a second
on one core, which suits banks up to some 10^5 frames; the bank's arrays are read from the catalog
once and again only after the catalog changed.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from firstseen.archive.catalog_api import CatalogReader
from firstseen.archive.records import CatalogVersion
from firstseen.media.bars import strip_bars
from firstseen.signals import pdq_hash
from firstseen.tuning import HASHES

_WORDS = 4  # 256 bits as uint64


@dataclass(frozen=True, slots=True)
class HashPairs:
    """The matching (query hash, stored frame) pairs of one item, as parallel arrays ordered by
    query index then ordinal: a still scene matches many frames to many, so pairs can number far
    more than frames, which arrays hold compactly and an aligner consumes directly."""

    query_index: np.ndarray  # int64: position in the queries given
    ordinal: np.ndarray  # int64: the stored frame's ordinal (its vPDQ frame number)
    time: np.ndarray  # float64: the stored frame's time in seconds
    distance: np.ndarray  # int64: Hamming distance, 0..max_distance

    def __len__(self) -> int:
        return len(self.query_index)


@dataclass(frozen=True, slots=True)
class _Bank:
    item: np.ndarray  # (n,) item ids, grouped
    ordinal: np.ndarray
    time: np.ndarray
    words: np.ndarray  # (n, 4) uint64


class HashBank:
    """The hash-only frames of a catalog, searchable by PDQ distance; safe to share by threads."""

    def __init__(
        self,
        catalog: CatalogReader,
        max_distance: int = HASHES.pdq_max_distance,
        min_quality: int = HASHES.pdq_min_quality,
    ) -> None:
        self.catalog = catalog
        self.max_distance = max_distance
        self.min_quality = min_quality
        self._lock = threading.Lock()
        self._version: CatalogVersion | None = None
        self._bank: _Bank | None = None

    def __len__(self) -> int:
        """Hash-only frames in the bank (of sufficient quality): 0 spares hashing the query."""
        return len(self._current().item)

    def pairs(self, queries: Sequence[tuple[bytes, int]]) -> dict[int, HashPairs]:
        """For each hash-only item with any match, its pairs with `queries` ((32-byte PDQ hash,
        quality) each, e.g. `(f.bits, f.quality)` of a VpdqFeature): every query hash and stored
        frame within `max_distance`, both of quality at least `min_quality`."""
        if any(len(bits) != _WORDS * 8 for bits, _ in queries):
            raise ValueError("PDQ hashes are 32 bytes")
        bank = self._current()
        kept = np.array([i for i, (_, q) in enumerate(queries) if q >= self.min_quality], np.int64)
        if not len(bank.item) or not len(kept):
            return {}
        words = _words([queries[i][0] for i in kept])
        rows = max(1, HASHES.pairs_at_once // len(bank.item))
        found_query, found_frame, found_distance = [], [], []
        for start in range(0, len(words), rows):
            block = words[start : start + rows]
            distance = np.zeros((len(block), len(bank.item)), np.uint16)
            for w in range(_WORDS):
                distance += np.bitwise_count(block[:, w, None] ^ bank.words[None, :, w])
            query, frame = np.nonzero(distance <= self.max_distance)
            found_query.append(kept[start + query])
            found_frame.append(frame)
            found_distance.append(distance[query, frame].astype(np.int64))
        query = np.concatenate(found_query)
        frame = np.concatenate(found_frame)
        distance = np.concatenate(found_distance)
        if not len(frame):
            return {}
        order = np.lexsort((bank.ordinal[frame], query, bank.item[frame]))
        query, frame, distance = query[order], frame[order], distance[order]
        item = bank.item[frame]
        starts = np.r_[0, np.flatnonzero(np.diff(item)) + 1]
        result = {}
        for start, end in zip(starts, np.r_[starts[1:], len(item)], strict=True):
            part = slice(start, end)
            result[int(item[start])] = HashPairs(
                query[part], bank.ordinal[frame[part]], bank.time[frame[part]], distance[part]
            )
        return result

    def match_pictures(self, pictures: Sequence[np.ndarray]) -> dict[int, HashPairs]:
        """`pairs` for RGB pictures (a still, frames of a query video), each hashed as vPDQ
        hashes frames (whole, at full size: shrinking first moves hashes by up to 44 bits), and
        again without its black bars, since bars added or removed by a re-upload part the hashes;
        `query_index` refers to the pictures, and the nearer of the two hashes counts."""
        hashes, owners = [], []
        for index, picture in enumerate(pictures):
            stripped = strip_bars(picture)
            for variant in (picture, stripped) if stripped is not picture else (picture,):
                hashes.append(pdq_hash(variant, max_edge=None))
                owners.append(index)
        owner = np.array(owners, np.int64)
        found = self.pairs([(h.bits, h.quality) for h in hashes])
        for item_id, pairs in found.items():
            query = owner[pairs.query_index]
            order = np.lexsort((pairs.distance, pairs.ordinal, query))
            query, ordinal = query[order], pairs.ordinal[order]
            first = np.r_[True, (np.diff(query) != 0) | (np.diff(ordinal) != 0)]
            found[item_id] = HashPairs(
                query[first], ordinal[first], pairs.time[order][first], pairs.distance[order][first]
            )
        return found

    def _current(self) -> _Bank:
        """The bank as the catalog holds it now: reloaded only after a commit (here or in
        another process) since the last load."""
        version = self.catalog.version()
        with self._lock:
            if self._bank is None or version != self._version:
                rows = self.catalog.hash_only_frames(self.min_quality)
                self._bank = _Bank(
                    np.array([r.item_id for r in rows], np.int64),
                    np.array([r.ordinal for r in rows], np.int64),
                    np.array([np.nan if r.time is None else r.time for r in rows], np.float64),
                    _words([r.pdq for r in rows]),
                )
                self._version = version
            return self._bank


def similarity(distance: np.ndarray | int) -> np.ndarray | float:
    """A PDQ distance on the scale of normalised descriptor similarity, so that hash pairs are
    aligned and judged like descriptor pairs: 0 bits → 1.0, the 31-bit limit → 0.52, which is
    above what unrelated frames reach on that scale (a pair within the limit is already a match
    by ThreatExchange's rules)."""
    return 1.0 - np.asarray(distance) / 64.0


def _words(hashes: Sequence[bytes]) -> np.ndarray:
    """Packed 256-bit hashes as an (n, 4) uint64 array (the byte order is irrelevant to XOR and
    bit counts, as long as both sides share it)."""
    return np.frombuffer(b"".join(hashes), np.uint64).reshape(-1, _WORDS)
