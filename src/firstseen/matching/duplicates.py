"""Video-to-video: which archived videos share footage, and which stretches (the TMK / vPDQ use
case), found from what the archive already holds — stored descriptors and thumbnails, no decoding.

Each video's frames look up their nearest frames in the index; every other video they land on is
compared frame by frame and aligned in time exactly as a clip query is (align.py), and the best
frame pair of each leading segment is checked with local features on the two thumbnails. Each pair
of videos is compared once, the older item (lower id) taking the role of the query.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from firstseen.archive.records import Item
from firstseen.matching.align import align
from firstseen.matching.check import Checker
from firstseen.matching.results import SegmentMatch
from firstseen.matching.retrieve import Retriever
from firstseen.matching.verify import verify
from firstseen.tuning import CLIP, DUPLICATES


@dataclass(slots=True)
class SharedFootage:
    """Two archived videos and the stretches they share: `query` times are `a`'s, `reference`
    times `b`'s."""

    a: Item
    b: Item
    segments: list[SegmentMatch]

    @property
    def score(self) -> float:
        return self.segments[0].score

    @property
    def match(self) -> bool:
        return any(s.match for s in self.segments)


@dataclass(frozen=True, slots=True)
class _Frames:
    ids: list[int]
    ordinals: list[int]
    times: np.ndarray
    vectors: np.ndarray
    bias: np.ndarray  # background correction of each frame, as the query side of a comparison


class Pieces(Protocol):
    """What finding shared footage takes of a searcher (matching/search.py)."""

    retriever: Retriever
    checker: Checker


def find_shared_footage(searcher: Pieces) -> list[SharedFootage]:
    """Every pair of archived videos whose frames align in time, best first (matches and the
    candidates that did not make it, so a reviewer sees near misses too)."""
    retriever, checker = searcher.retriever, searcher.checker
    catalog = retriever.archive.catalog
    videos = {item.id: item for item in catalog.items() if item.kind == "video" and item.frames}
    frames = {item_id: _frames(retriever, item_id) for item_id in videos}
    frames = {item_id: f for item_id, f in frames.items() if len(f.ids)}
    owner = {frame_id: item_id for item_id, f in frames.items() for frame_id in f.ids}
    pairs: set[tuple[int, int]] = set()
    for item_id, own in frames.items():
        _, ids = retriever.archive.index.search(own.vectors, DUPLICATES.footage_neighbours)
        for other in {owner.get(int(i)) for i in ids.ravel() if i >= 0}:
            if other is not None and other != item_id:
                pairs.add((min(item_id, other), max(item_id, other)))
    found = []
    for a, b in sorted(pairs):
        shared = _compare(checker, videos[a], videos[b], frames[a], frames[b])
        if shared is not None:
            found.append(shared)
    return sorted(found, key=lambda s: -s.score)


def _frames(retriever: Retriever, item_id: int) -> _Frames:
    catalog = retriever.archive.catalog
    rows = catalog.item_frames(item_id)
    ids = [row.frame_id for row in rows]
    vectors = catalog.vectors(ids) if ids else np.zeros((0, retriever.descriptor.dim))
    bias = retriever.background.bias(vectors) if ids else np.zeros(0)
    times = np.array([row.time or 0.0 for row in rows])
    return _Frames(ids, [row.ordinal for row in rows], times, vectors, bias)


def _compare(checker: Checker, a: Item, b: Item, fa: _Frames, fb: _Frames) -> SharedFootage | None:
    sims = fa.vectors @ fb.vectors.T - fa.bias[:, None]
    length_a = a.duration or float(fa.times[-1])
    length_b = b.duration or float(fb.times[-1])
    segments = [
        SegmentMatch(s, calibration=checker.calibration)
        for s in align(sims, fa.times, fb.times, length_a, length_b)
    ]
    if not segments:
        return None
    for segment in segments[: CLIP.verify_segments]:
        q, r = segment.segment.best
        first = checker.reference_features(a, fa.ordinals[q], checker.fast)
        second = checker.reference_features(b, fb.ordinals[r], checker.fast)
        if first is not None and second is not None:
            segment.check = verify(first, second)
    return SharedFootage(a, b, sorted(segments, key=lambda s: -s.score))
