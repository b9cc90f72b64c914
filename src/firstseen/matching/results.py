"""What a search answers: per query, at most one match per reference file, with the evidence."""

import math
from dataclasses import dataclass, field

import numpy as np

from firstseen.archive.records import FrameInfo, Item
from firstseen.matching import verdict
from firstseen.matching.align import Segment
from firstseen.matching.features import Features
from firstseen.matching.provenance import Provenance
from firstseen.matching.verify import NOT_VERIFIED, Verification
from firstseen.media.frames import spread
from firstseen.signals import pdq_hash
from firstseen.tuning import VERDICT


@dataclass(slots=True)
class FramePair:
    """The frame pair an aligned stretch is shown by (its most similar, or the one keypoints
    confirmed): the query frame (its place among the sampled frames, its time, and a small copy
    to show) and the reference frame it matched."""

    query_index: int
    query_time: float
    reference_time: float
    reference_ordinal: int
    query_still: np.ndarray | None = None  # RGB, long edge at most CLIP.pair_edge


@dataclass(slots=True)
class SegmentMatch:
    """An aligned stretch of a query video, with the local-feature check of its frame pair."""

    segment: Segment
    check: Verification = NOT_VERIFIED
    mirrored: bool = False
    calibration: verdict.Calibration = verdict.SSCD
    featureless: bool = False  # most of its query frames are black or flat (a fade, an intro)
    # How far its pairs stand above the query frames' similarity to the rest of the reference
    # (align.distinctness); infinite where nothing else was compared (a partner's hashes).
    distinct: float = math.inf
    pair: FramePair | None = None

    @property
    def score(self) -> float:
        return verdict.score(self.segment.score, self.check)

    @property
    def match(self) -> bool:
        return verdict.is_segment_match(
            self.segment.score,
            self.check,
            self.calibration,
            self.featureless,
            self.segment.frames,
            self.distinct,
        )


@dataclass(slots=True)
class Match:
    """One reference file as an answer to a query; a video query's match also carries the aligned
    segments, best first, and then takes its score and verdict from them."""

    item: Item
    frame_id: int | None  # None for a hash-only item: no frame of it is indexed
    ordinal: int
    time: float | None
    similarity: float  # raw cosine of the descriptors
    normalised: float  # after the background correction
    mirrored: bool
    check: Verification = NOT_VERIFIED
    pdq_distance: int | None = None
    segments: list[SegmentMatch] = field(default_factory=list)
    picture: int = 0  # which of the query's pictures (the whole, a part) found the reference
    # The first and last of the sampled frames around `time` that nothing tells apart from it:
    # those showing the same picture where the query lies (a still shot), or three or more that
    # keypoints confirm alike (a slow zoom; `time` is their middle). Any of them is as much the
    # moment copied. None when `time` stands alone.
    time_span: tuple[float, float] | None = None
    # The descriptor model's; a hash-only item keeps the default (its pairs are within PDQ's limit).
    calibration: verdict.Calibration = verdict.SSCD
    featureless: bool = False  # the query picture is black or flat: only keypoints can confirm it
    tone: str | None = None  # the query was searched toned back (matching/tones.py): how
    # False where the reference frame has no thumbnail (an archive imported without them):
    # keypoints could not check it, so the answer rests on the descriptor and PDQ only.
    thumbnail: bool = True
    provenance: Provenance | None = None  # the archived file's credentials and metadata

    @property
    def score(self) -> float:
        if self.segments:
            return self.segments[0].score
        return verdict.score(self.normalised, self.check)

    @property
    def match(self) -> bool:
        if self.segments:
            return any(s.match for s in self.segments)
        return verdict.is_match(self.normalised, self.check, self.calibration, self.featureless)


@dataclass(slots=True)
class QueryResult:
    query: str
    error: str | None = None
    matches: list[Match] = field(default_factory=list)
    elapsed_ms: float = 0.0
    provenance: Provenance | None = None  # the query file's credentials and metadata
    budget_reached: bool = False  # the fallback budget left a still's fallbacks unsearched


@dataclass(slots=True)
class Picture:
    """A query picture (a still, or one frame of a query video), or a part of a still, with its
    descriptor vectors, local features and verifications per orientation, each made once and
    only when a search needs it."""

    rgb: np.ndarray  # the whole picture
    window: tuple[int, int, int, int] | None = None  # (x, y, w, h): the part searched
    tone: str | None = None  # how the query was toned back (matching/tones.py); None: as it is
    features: dict[tuple[str, bool], Features] = field(default_factory=dict)
    vectors: dict[bool, np.ndarray] = field(default_factory=dict)  # mirrored → unit vector
    checks: dict[tuple[str, bool, str, int], Verification] = field(default_factory=dict)
    # (index, mirrored) → its nearest (similarities, ids) in the frames' or the parts' index
    nearest: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    bias: float = 0.0  # the background correction of its vectors (matching/background.py)
    equalised: "Picture | None" = field(default=None, repr=False)  # matching/tones.py
    _featureless: bool | None = field(default=None, repr=False)
    _pdq: bytes | None = field(default=None, repr=False)

    @property
    def whole(self) -> bool:
        return self.window is None

    @property
    def closest(self) -> float:
        """Its highest similarity to any archived frame in the orientations searched so far,
        after the background correction; -inf before it is searched."""
        tops = [
            float(sims[0])
            for (index, _), (sims, ids) in self.nearest.items()
            if index == "frames" and len(ids) and ids[0] >= 0
        ]
        return max(tops, default=-np.inf) - self.bias

    @property
    def featureless(self) -> bool:
        """Black or flat (VERDICT.featureless): the descriptor alone cannot attribute it."""
        if self._featureless is None:
            self._featureless = spread(self.view) < VERDICT.featureless
        return self._featureless

    @property
    def pdq(self) -> bytes:
        """The PDQ hash of what the descriptor sees, made once: each pass's answers show their
        distance to it."""
        if self._pdq is None:
            self._pdq = pdq_hash(self.view).bits
        return self._pdq

    @property
    def view(self) -> np.ndarray:
        """What the descriptor sees: the part, or the whole picture."""
        if self.window is None:
            return self.rgb
        x, y, w, h = self.window
        return np.ascontiguousarray(self.rgb[y : y + h, x : x + w])


@dataclass(frozen=True, slots=True)
class Hit:
    """A reference frame's best similarity to the query, and in which orientation."""

    normalised: float
    similarity: float
    picture: int  # which query picture (frames of a query video)
    mirrored: bool
    ambiguous: bool  # both orientations scored about the same
    # Other (picture, mirrored) that one of its parts found closer than it is, closest first.
    also: tuple[tuple[int, bool], ...] = ()
    # The closer of itself and its closest part (normalised): what puts a photo forward for an
    # extra check; never below `normalised`.
    lead: float = -np.inf

    def __post_init__(self) -> None:
        if self.lead < self.normalised:
            object.__setattr__(self, "lead", self.normalised)


@dataclass(frozen=True, slots=True)
class Retrieved:
    """Query pictures described and looked up: the nearest archived frames, grouped by item."""

    vectors: np.ndarray  # one row per variant
    variants: list[tuple[int, bool]]  # (picture, mirrored) of each row
    bias: np.ndarray  # background correction per picture
    best: dict[int, Hit]  # frame id → its best hit
    info: dict[int, FrameInfo]  # frame id → its item, ordinal, time and PDQ hash
    per_item: dict[int, list[int]]  # item id → its frames, best first
    ranked: list[int]  # item ids, best first
    by_part: list[int]  # photos that one of their parts found closer than they are, closest first
