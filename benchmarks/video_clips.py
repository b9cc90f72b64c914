"""Video query clips cut from real shared footage, edited as re-uploads are, with ground truth.

**Archive** (7 real videos, 187 s): `vtest.avi` (80 s, 768x576, 10 fps, a fixed surveillance view
of people walking), `tree.avi` (30 s, 320x240), `testvideo.mp4` (24 s, 720p, three shots joined by
fades through black), `goldeneye-vfr-drop3.mp4` (10 s, 1280x544, variable frame rate),
`cockatoo.mp4` (14 s, 720p), `chair-orig-22-sd-bar.mp4` (22 s, 480x720) and `pattern-hd-no-bar.mp4`
(7 s, 720x1280).

**Query clips** (written under `<work>/<split>/clips`, neutral names, ground truth in
`<work>/<split>/manifest.json`): each clip is a sequence of *pieces*, each a time range of a
source played at a speed; a piece of an archived video (or of a found copy of one) is a
ground-truth segment `(query interval, reference, reference interval)`, exact because every
output frame at query time t shows the source frame shown at `start + (t - piece start) x speed`
(the last source frame at or before that time). Structures:

- `single`: one piece (2-12 s of query time) of one reference;
- `partial`: a 5 s piece (heldout: 3-6 s) of the 80 s `vtest.avi`;
- `compilation`: pieces of 2 (heldout: 3, one of them possibly a second piece of the same
  reference far from the first) references, joined by hard cuts;
- `embedded`: a copy with 2-5 s of unrelated footage before and after it;
- `found`: copies shipped with the data, re-encoded: the chair / pattern variants cut to a piece
  (the 20 s / 19 s cuts start 2.0 s / 3.7 s into the original; `pattern-longer` starts 1/30 s
  before it: found by aligning 24x36 grey thumbnails of every frame), and in dev
  `issue-134-rotate.mp4` as it is (the GoldenEye clip with a -90 degree display matrix);
- negatives: `neg-single` and `neg-compilation`, footage that is in no archive (`Megamind.avi`
  0.6-5.6 s and `doorknob` 0-2.2 s in dev; `Megamind_bugy.avi` 4.6-9 s, i.e. Megamind 5.8-11.3 s,
  `doorknob` 2.2-4 s and `realshort.mp4` in heldout), plus slow pans over real photos that are
  not archived and over GoldenEye stills of later scenes (each split its own), edited the same
  ways; these also fill `embedded`.

Pieces start and end only where the content tells the time: `testvideo.mp4` is mostly stills
held for seconds (identical consecutive frames over 1-6, 8-11, 14.1-17.6 and 18.6-22.2 s; its
first shot never moves), so its pieces start and end only within 7.5-8.0, 11.05-11.7,
13.6-14.1, 17.65-18.6 or 22.17-22.8 s (inside a still, a boundary's reference time could be
anything the still spans); `tree.avi` pieces lie after 23.4 s, when a hand enters (before, it is
one swaying view of a tree).

**Edits** (any combination; dev and heldout draw different variants and parameter ranges, so
heldout is edits tuning has not seen):

- every clip: H.264 (libx264) CRF 23 at 30 fps, long edge <= 854 (heldout: CRF 25, 25 fps);
- `reencode`: long edge 320-480, CRF 30-34, 15 or 20 fps (heldout: long edge 240-400, 12 or
  24 fps, CRF 35-40, or MPEG-4 Part 2 at 0.04-0.08 bit/pixel in Matroska);
- `vfr`: every 3rd or 4th frame dropped from a 30 fps grid, like goldeneye-vfr-drop3 (heldout:
  timestamps jittered by up to 35 % of a frame and bursts of 2-6 frames dropped every 1.5-3 s);
- `rotate`: pixels stored turned, with a display matrix of 90 degrees (heldout: 270 or 180);
- `letterbox`: black bars to 1:1 or 4:3, portrait sources pillarboxed to 16:9 (heldout:
  vertical 9:16 over a blurred, zoomed copy of the picture, or white bars; portrait sources
  16:9 over a blurred copy);
- `logo`: an opaque channel badge, 13-17 % of the width, in a corner (heldout: a large
  translucent cartoon face, alpha 0.55-0.75, 35-45 % of the short side, near the centre, like
  the ThreatExchange large-logo variants);
- `caption`: subtitles at the bottom, white with a black outline, new text every 2.5 s
  (heldout: a dark translucent news band at the top with a red tag, serif type, other
  languages, every 3.5 s);
- `grade`: grey (heldout: sepia or warm monochrome, 70-100 % strength);
- `speed`: 0.5x, 0.75x, 1.5x or 2x (heldout: 0.55-0.7x or 1.2-1.9x, never a round value).

Display rotation is written into the MP4 track header (`tkhd` matrix): PyAV 19 cannot attach a
display matrix to an output stream, so the file is patched after muxing and read back to check
that FFmpeg reports the turn. Caches: a clip is rendered again only when its recipe (all drawn
parameters) or `BUILD_VERSION` changes.

**Speed material** (`<work>/speed/`): `clip60.mp4`, a 60 s 1280x720 30 fps compilation (unrelated
pans and Megamind around pieces of testvideo, cockatoo, vtest and goldeneye, with captions and a
logo, CRF 26) for the per-query budget, and `index720.mp4`, 73 s of 1280x720 30 fps material
(testvideo, cockatoo, doorknob, goldeneye and pattern fitted into 16:9, cockatoo mirrored) added
to a scratch archive to time indexing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
from dataset import load_rgb, upright
from edits import font, wrap
from PIL import Image, ImageDraw
from thermal import ClipLook

BUILD_VERSION = 2
TE = "threatexchange-tmk-vpdq/sample-videos/"
VTEST = "opencv-samples-data/vtest.avi"
TREE = "opencv-samples-data/tree.avi"
TESTVIDEO = "pyscenedetect-resources/testvideo.mp4"
GOLDENEYE = "pyscenedetect-resources/goldeneye-vfr-drop3.mp4"
COCKATOO = "imageio-standard-images/cockatoo.mp4"
CHAIR = TE + "chair-orig-22-sd-bar.mp4"
PATTERN = TE + "pattern-hd-no-bar.mp4"
REFS = [VTEST, TREE, TESTVIDEO, GOLDENEYE, COCKATOO, CHAIR, PATTERN]
VIDEO_720P = [TESTVIDEO, COCKATOO]
# Where pieces of each reference may lie (seconds), and within those, where a piece may start or
# end: only where the picture moves, so that the reference time of every boundary can be told
# from the content. testvideo.mp4 is mostly stills held for seconds (consecutive frames are
# identical over 1.0-6.0, 8.0-11.0, 14.1-17.6 and 18.6-22.2 s; its first shot never moves), so
# its pieces start and end in the short stretches between; tree.avi is one swaying view of a
# tree until a hand enters at 23.5 s.
WINDOWS: dict[str, list[tuple[float, float]]] = {
    VTEST: [(0.0, 79.4)],
    TREE: [(23.4, 29.5)],
    TESTVIDEO: [(7.5, 11.7), (13.6, 22.8)],
    GOLDENEYE: [(0.0, 9.9)],
    COCKATOO: [(0.0, 13.9)],
    CHAIR: [(0.0, 22.3)],
    PATTERN: [(0.0, 6.8)],
}
ZONES: dict[str, list[tuple[float, float]]] = {
    TESTVIDEO: [(7.5, 8.0), (11.05, 11.7), (13.6, 14.1), (17.65, 18.6), (22.17, 22.8)],
}
MEGAMIND = "opencv-samples-data/Megamind.avi"
MEGAMIND_BUGY = "opencv-samples-data/Megamind_bugy.avi"
DOORKNOB = TE + "doorknob-hd-no-bar.mp4"
REALSHORT = "imageio-standard-images/realshort.mp4"
ISSUE_134 = "pyscenedetect-resources/issue-134-rotate.mp4"
# GoldenEye stills from scenes after the archived 10 s clip: other scenes of the same film, used
# as unrelated footage (not the scenes shot from the clip's own camera set-ups, see dataset.py).
STILL = "pyscenedetect-resources/goldeneye/d-content-t-30/goldeneye-Scene-{}.jpg"


@dataclass(frozen=True)
class Piece:
    """A time range of a source, played at `speed`. `source` is a path relative to the data
    folder, or `photo:<path>` for a slow pan over a still photo (`pan`: relative x, y, width of
    the window at the start and at the end). `ref` is the archived video it copies, if any:
    reference time = source time + `ref_offset`."""

    source: str
    start: float
    end: float
    speed: float = 1.0
    ref: str | None = None
    ref_offset: float = 0.0
    mirror: bool = False
    pan: tuple[float, ...] | None = None

    @property
    def length(self) -> float:
        return (self.end - self.start) / self.speed


@dataclass
class Spec:
    """Everything needed to render one clip; all random choices are already drawn."""

    name: str
    structure: str
    edits: tuple[str, ...]
    pieces: list[Piece]
    params: dict

    @property
    def negative(self) -> bool:
        return not any(p.ref for p in self.pieces)

    @property
    def label(self) -> str:
        return "+".join((self.structure, *self.edits))

    def key(self) -> str:
        blob = json.dumps([BUILD_VERSION, asdict(self)], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Clip:
    """A written query clip and its ground truth (`segments` empty for negatives)."""

    qid: str
    path: str
    label: str
    structure: str
    edits: list[str]
    negative: bool
    duration: float
    segments: list[dict]  # {"query": [a, b], "ref": abs path, "reference": [c, d]}
    sources: list[str]
    params: dict = field(default_factory=dict)
    key: str = ""


@dataclass
class SplitDef:
    name: str
    seed: int
    recipes: list[tuple[str, ...]]  # (structure, *edits)
    negatives: list[tuple[str, ...]]
    found: list[tuple[str, str, float, float, float, tuple[str, ...]]]  # src, ref, a, b, offset
    copies: list[tuple[str, str, float, float]]  # (file copied as is, ref, ref start, ref end)
    neg_footage: list[tuple[str, float, float]]
    photos: list[str]


DEV_RECIPES = [
    ("single", "reencode"),
    ("single", "vfr"),
    ("single", "rotate"),
    ("single", "letterbox"),
    ("single", "logo"),
    ("single", "caption"),
    ("single", "grade"),
    ("single", "speed"),
    ("single", "speed"),
    ("partial",),
    ("partial", "reencode", "caption"),
    ("partial", "speed"),
    ("compilation",),
    ("compilation", "reencode"),
    ("compilation", "vfr", "logo"),
    ("compilation", "grade", "speed"),
    ("embedded",),
    ("embedded", "caption", "logo"),
    ("embedded", "speed", "letterbox"),
    ("single", "letterbox", "logo", "reencode"),
    ("single", "speed", "grade", "caption"),
    ("single", "rotate", "speed"),
]
HELDOUT_RECIPES = [
    ("single", "reencode"),
    ("single", "vfr"),
    ("single", "rotate"),
    ("single", "letterbox"),
    ("single", "logo"),
    ("single", "caption"),
    ("single", "grade"),
    ("single", "speed"),
    ("single", "speed"),
    ("partial",),
    ("partial", "logo", "grade"),
    ("partial", "speed", "vfr"),
    ("compilation",),
    ("compilation", "reencode", "caption"),
    ("compilation", "letterbox", "speed"),
    ("embedded",),
    ("embedded", "logo", "reencode"),
    ("embedded", "speed", "caption", "grade"),
    ("single", "letterbox", "caption", "reencode"),
    ("single", "logo", "speed", "vfr"),
    ("single", "rotate", "reencode", "caption"),
    ("single", "grade", "letterbox", "speed"),
]
NEG_RECIPES = [
    ("neg-single", "reencode"),
    ("neg-single", "caption", "logo"),
    ("neg-single", "letterbox"),
    ("neg-single", "speed"),
    ("neg-single", "grade", "vfr"),
    ("neg-single", "rotate"),
    ("neg-compilation",),
    ("neg-compilation", "reencode", "caption"),
    ("neg-compilation", "logo", "speed"),
]

SPLITS = {
    "dev": SplitDef(
        name="dev",
        seed=3101,
        recipes=DEV_RECIPES,
        negatives=NEG_RECIPES,
        found=[
            (TE + "chair-22-sd-sepia-bar.mp4", CHAIR, 3.0, 11.0, 0.0, ()),
            (TE + "chair-20-sd-bar.mp4", CHAIR, 1.0, 9.0, 2.0, ("reencode",)),
            (TE + "pattern-sd-grey-bar.mp4", PATTERN, 0.5, 6.5, 0.0, ()),
            (TE + "chair-22-with-small-logo-bar.mp4", CHAIR, 12.0, 20.0, 0.0, ()),
        ],
        copies=[(ISSUE_134, GOLDENEYE, 0.0, 9.97)],
        neg_footage=[(MEGAMIND, 0.6, 5.6), (DOORKNOB, 0.0, 2.2)],
        photos=[
            "opencv-samples-data/building.jpg",
            "opencv-samples-data/aero1.jpg",
            "opencv-samples-data/messi5.jpg",
            "opencv-samples-data/starry_night.jpg",
            "opencv-samples-data/leuvenA.jpg",
            STILL.format("008-02"),
            STILL.format("014-02"),
            STILL.format("016-03"),
        ],
    ),
    "heldout": SplitDef(
        name="heldout",
        seed=4202,
        recipes=HELDOUT_RECIPES,
        negatives=NEG_RECIPES,
        found=[
            (TE + "chair-22-with-large-logo-bar.mp4", CHAIR, 5.0, 15.0, 0.0, ()),
            (TE + "pattern-sd-with-large-logo-bar.mp4", PATTERN, 0.0, 6.8, 0.0, ()),
            (TE + "chair-19-sd-bar.mp4", CHAIR, 2.0, 12.0, 3.7, ("reencode",)),
            (TE + "pattern-longer-no-bar.mp4", PATTERN, 0.5, 7.5, -1 / 30, ("caption",)),
            (TE + "chair-22-sd-grey-bar.mp4", CHAIR, 9.0, 17.0, 0.0, ("speed",)),
        ],
        copies=[],
        neg_footage=[(MEGAMIND_BUGY, 4.6, 9.0), (DOORKNOB, 2.2, 4.0), (REALSHORT, 0.0, 1.15)],
        photos=[
            "opencv-samples-data/graf1.png",
            "opencv-samples-data/baboon.jpg",
            "opencv-samples-data/fruits.jpg",
            "opencv-samples-data/home.jpg",
            "skimage-data/rocket.jpg",
            "skimage-data/coffee.png",
            STILL.format("009-02"),
            STILL.format("015-01"),
            STILL.format("017-02"),
        ],
    ),
}

SUBTITLES = {
    "dev": [
        "Look at this",
        "It happened right here",
        "Nobody is talking about this",
        "Watch until the end",
        "This was filmed today",
        "Share before it's gone",
    ],
    "heldout": [
        "EN DIRECTO: imágenes de última hora",
        "Augenzeugen berichten von Chaos",
        "Vidéo exclusive, à partager",
        "BREAKING: footage just in",
        "can someone explain this??",
        "they deleted the original",
    ],
}
CHANNELS = {"dev": ["NEWS24", "ViralHub", "TRENDING", "DailyClips"], "heldout": ["@clipzone"]}


def rng_for(seed: int, part: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(part.encode())])


def even(x: float) -> int:
    return max(2, round(x / 2) * 2)


@lru_cache(maxsize=64)
def source_size(path: str) -> tuple[int, int]:
    """Display width and height (display matrix applied)."""
    with av.open(path) as c:
        frame = next(c.decode(video=0))
        w, h = frame.width, frame.height
        return (h, w) if round((frame.rotation or 0) / 90) % 2 else (w, h)


@lru_cache(maxsize=64)
def source_fps(path: str) -> float:
    with av.open(path) as c:
        rate = c.streams.video[0].average_rate
        return float(rate) if rate else 25.0


# ---------------------------------------------------------------- recipes -> specs


class Planner:
    """Draws the pieces and parameters of every clip of a split."""

    def __init__(self, data: Path, split: SplitDef) -> None:
        self.data = data
        self.split = split
        self.style = split.name
        self.deck: list[str] = []
        self.deck_rng = rng_for(split.seed, "deck")

    def next_ref(self, exclude: Sequence[str] = ()) -> str:
        for _ in range(2 * len(REFS) + 2):
            if not self.deck:
                self.deck = [REFS[int(i)] for i in self.deck_rng.permutation(len(REFS))]
            ref = self.deck.pop()
            if ref not in exclude:
                return ref
        return next(r for r in REFS if r not in exclude)

    def speed(self, rng: np.random.Generator) -> float:
        if self.style == "dev":
            return float(rng.choice([0.5, 0.75, 1.5, 2.0]))
        if rng.random() < 0.5:
            return round(float(rng.uniform(0.55, 0.7)), 3)
        return round(float(rng.uniform(1.2, 1.9)), 3)

    def piece(
        self, rng: np.random.Generator, ref: str, query_len: float, speed: float
    ) -> Piece | None:
        """A piece of `ref` lasting about `query_len` s in the query, inside one window (and
        starting and ending in its zones, where it has any)."""
        windows = WINDOWS[ref]
        if ref in ZONES:
            want = query_len * speed
            pairs = [
                (a, b)
                for a in ZONES[ref]
                for b in ZONES[ref]
                if a[1] <= b[0] and any(w[0] <= a[0] and b[1] <= w[1] for w in windows)
            ]
            mid = [((b[0] + b[1]) - (a[0] + a[1])) / 2 for a, b in pairs]
            cost = [abs(m - want) + float(rng.uniform(0, 1.5)) for m in mid]
            a, b = pairs[int(np.argmin(cost))]
            start, end = float(rng.uniform(*a)), float(rng.uniform(*b))
            if (end - start) / speed < 2.0:
                return None
            return Piece(ref, round(start, 3), round(end, 3), speed, ref)
        lo, hi = max(windows, key=lambda w: w[1] - w[0])
        if rng.random() < 0.5:  # sometimes another (shorter) window of the same video
            lo, hi = windows[int(rng.integers(len(windows)))]
        src_len = min(query_len * speed, hi - lo)
        if src_len / speed < 2.0:
            return None
        start = float(rng.uniform(lo, max(lo, hi - src_len)))
        return Piece(ref, round(start, 3), round(start + src_len, 3), speed, ref)

    def ref_piece(
        self,
        rng: np.random.Generator,
        query_len: float,
        speed: float,
        exclude: Sequence[str] = (),
    ) -> Piece:
        for _ in range(20):
            got = self.piece(rng, self.next_ref(exclude), query_len, speed)
            if got is not None:
                return got
        return self.piece(rng, VTEST, query_len, speed) or Piece(VTEST, 10, 15, 1.0, VTEST)

    def unrelated(
        self,
        rng: np.random.Generator,
        length: float,
        speed: float = 1.0,
        video: float = 0.5,
        avoid: Sequence[str] = (),
    ) -> Piece:
        """Footage in no archive: with probability `video` a piece of a negative video (longer
        footage more often), else a pan over a photo or film still; sources in `avoid` are drawn
        again (a few times)."""
        for _ in range(6):
            if rng.random() < video:
                pool = self.split.neg_footage
                weights = np.array([hi - lo for _, lo, hi in pool])
                src, lo, hi = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
                if src in avoid:
                    continue
                src_len = min(length * speed, hi - lo)
                start = float(rng.uniform(lo, max(lo, hi - src_len)))
                return Piece(src, round(start, 3), round(start + src_len, 3), speed)
            photo = self.split.photos[int(rng.integers(len(self.split.photos)))]
            if "photo:" + photo in avoid:
                continue
            w0, w1 = float(rng.uniform(0.55, 0.9)), float(rng.uniform(0.55, 0.9))
            pan = (
                float(rng.uniform(0, 1 - w0)),
                float(rng.uniform(0, 1 - w0)),
                w0,
                float(rng.uniform(0, 1 - w1)),
                float(rng.uniform(0, 1 - w1)),
                w1,
            )
            return Piece(
                "photo:" + photo, 0.0, round(length, 3), 1.0, pan=tuple(round(v, 4) for v in pan)
            )
        src, lo, hi = self.split.neg_footage[0]
        return Piece(src, lo, round(min(hi, lo + length * speed), 3), speed)

    def spec(self, name: str, recipe: tuple[str, ...], rng: np.random.Generator) -> Spec:
        structure, edits = recipe[0], tuple(recipe[1:])
        dev = self.style == "dev"
        speed = self.speed(rng) if "speed" in edits else 1.0
        pieces: list[Piece] = []
        if structure == "single":
            pieces = [self.ref_piece(rng, float(rng.uniform(4, 10)), speed)]
        elif structure == "partial":
            src_len = 5.0 if dev else float(rng.uniform(3, 6))
            start = float(rng.uniform(0, 79.4 - src_len))
            pieces = [Piece(VTEST, round(start, 3), round(start + src_len, 3), speed, VTEST)]
        elif structure == "compilation":
            n = 2 if dev else 3
            used: list[str] = []
            for k in range(n):
                if not dev and k == 2 and rng.random() < 0.5:  # a second, distant vtest piece
                    first = next((p for p in pieces if p.ref == VTEST), None)
                    if first is not None:
                        start = (first.start + 40) % 74
                        pieces.append(Piece(VTEST, start, start + 4.0, speed, VTEST))
                        continue
                p = self.ref_piece(
                    rng, float(rng.uniform(3, 6) if dev else rng.uniform(2, 5)), speed, used
                )
                used.append(p.source)
                pieces.append(p)
        elif structure == "embedded":
            copy = self.ref_piece(rng, float(rng.uniform(4, 8)), speed)
            pieces = [
                self.unrelated(rng, float(rng.uniform(2, 5))),
                copy,
                self.unrelated(rng, float(rng.uniform(2, 5))),
            ]
        elif structure == "neg-single":
            pieces = [self.unrelated(rng, float(rng.uniform(3, 8)), speed, video=0.75)]
        elif structure == "neg-compilation":
            for _ in range(int(rng.integers(2, 4))):
                avoid = [p.source for p in pieces]
                pieces.append(self.unrelated(rng, float(rng.uniform(2, 5)), speed, avoid=avoid))
        else:
            raise ValueError(structure)
        return Spec(name, structure, edits, pieces, self.params(edits, pieces, rng))

    def found_spec(
        self,
        name: str,
        item: tuple[str, str, float, float, float, tuple[str, ...]],
        rng: np.random.Generator,
    ) -> Spec:
        src, ref, a, b, offset, edits = item
        speed = self.speed(rng) if "speed" in edits else 1.0
        pieces = [Piece(src, a, b, speed, ref, offset)]
        return Spec(name, "found", edits, pieces, self.params(edits, pieces, rng))

    def params(self, edits: tuple[str, ...], pieces: list[Piece], rng: np.random.Generator) -> dict:
        dev = self.style == "dev"
        main = next((p for p in pieces if p.ref), pieces[0])
        if main.source.startswith("photo:"):
            w, h = 640, 360
        else:
            w, h = source_size(str(self.data / main.source))
        s = min(1.0, 854 / max(w, h))
        params: dict = {
            "seed": int(rng.integers(2**31)),
            "content": [even(w * s), even(h * s)],
            "fps": 30 if dev else 25,
            "codec": "libx264",
            "crf": 23 if dev else 25,
            "style": self.style,
        }
        cw, ch = params["content"]
        portrait = ch > cw
        if "grade" in edits:
            params["grade"] = "grey" if dev else str(rng.choice(["sepia", "warm_mono"]))
            params["grade_strength"] = 1.0 if dev else round(float(rng.uniform(0.7, 1.0)), 3)
        if "letterbox" in edits:
            if dev:
                aspect = 16 / 9 if portrait else float(rng.choice([1.0, 4 / 3]))
                params["box"] = {"aspect": aspect, "fill": "black"}
            else:
                aspect = 16 / 9 if portrait else 9 / 16
                fill = "blur" if portrait else str(rng.choice(["blur", "white"]))
                params["box"] = {"aspect": aspect, "fill": fill}
        if "logo" in edits:
            if dev:
                params["logo"] = {
                    "kind": "badge",
                    "size": round(float(rng.uniform(0.13, 0.17)), 3),
                    "corner": int(rng.integers(4)),
                    "text": str(rng.choice(CHANNELS["dev"])),
                }
            else:
                params["logo"] = {
                    "kind": "face",
                    "size": round(float(rng.uniform(0.35, 0.45)), 3),
                    "alpha": round(float(rng.uniform(0.55, 0.75)), 3),
                    "dx": round(float(rng.uniform(-0.12, 0.12)), 3),
                    "dy": round(float(rng.uniform(-0.12, 0.12)), 3),
                    "text": CHANNELS["heldout"][0],
                }
        if "caption" in edits:
            pool = SUBTITLES[self.style]
            params["caption"] = {
                "texts": [pool[int(i)] for i in rng.permutation(len(pool))],
                "every": 2.5 if dev else 3.5,
            }
        if "rotate" in edits:
            params["rotate"] = 90 if dev else int(rng.choice([270, 180]))
        if "vfr" in edits:
            if dev:
                params["vfr"] = {"kind": "drop", "every": int(rng.choice([3, 4]))}
                params["fps"] = 30
            else:
                params["vfr"] = {
                    "kind": "jitter",
                    "jitter": 0.35,
                    "burst": [2, 6],
                    "gap": [1.5, 3.0],
                }
        if "reencode" in edits:
            if dev:
                params["scale_to"] = int(rng.integers(320, 481))
                params["crf"] = int(rng.integers(30, 35))
                params["fps"] = int(rng.choice([15, 20]))
            else:
                params["scale_to"] = int(rng.integers(240, 401))
                params["fps"] = int(rng.choice([12, 24]))
                if rng.random() < 0.5 and "rotate" not in edits:
                    params["codec"] = "mpeg4"
                    params["bpp"] = round(float(rng.uniform(0.04, 0.08)), 3)
                else:
                    params["crf"] = int(rng.integers(35, 41))
        return params


def plan_split(data: Path, name: str) -> list[Spec]:
    split = SPLITS[name]
    planner = Planner(data, split)
    specs: list[Spec] = []
    for i, recipe in enumerate(split.recipes):
        specs.append(planner.spec(f"{name}-p{i:02d}", recipe, rng_for(split.seed, f"p{i}")))
    for i, item in enumerate(split.found):
        specs.append(planner.found_spec(f"{name}-f{i:02d}", item, rng_for(split.seed, f"f{i}")))
    for i, (src, ref, a, b) in enumerate(split.copies):
        piece = Piece(src, a, b, 1.0, ref)
        specs.append(Spec(f"{name}-c{i:02d}", "found", ("as-is",), [piece], {"copy": True}))
    for i, recipe in enumerate(split.negatives):
        specs.append(planner.spec(f"{name}-n{i:02d}", recipe, rng_for(split.seed, f"n{i}")))
    return specs


def speed_specs() -> tuple[Spec, Spec]:
    """The 60 s 720p query and the 73 s of 720p material for timing `add`."""
    photos = SPLITS["dev"].photos
    clip = Spec(
        "clip60",
        "speed-clip",
        ("caption", "logo"),
        [
            Piece("photo:" + photos[0], 0.0, 6.0, pan=(0.0, 0.1, 0.8, 0.2, 0.0, 0.7)),
            Piece(TESTVIDEO, 13.8, 22.8, 1.0, TESTVIDEO),
            Piece(MEGAMIND, 0.6, 8.6),
            Piece(COCKATOO, 0.5, 13.5, 1.0, COCKATOO),
            Piece(DOORKNOB, 0.0, 4.0),
            Piece(VTEST, 20.0, 32.0, 1.0, VTEST),
            Piece(GOLDENEYE, 0.5, 8.5, 1.0, GOLDENEYE),
        ],
        {
            "seed": 60,
            "content": [1280, 720],
            "fps": 30,
            "codec": "libx264",
            "crf": 26,
            "style": "dev",
            "caption": {"texts": SUBTITLES["dev"], "every": 2.5},
            "logo": {"kind": "badge", "size": 0.14, "corner": 1, "text": "NEWS24"},
        },
    )
    index = Spec(
        "index720",
        "speed-index",
        (),
        [
            Piece(TESTVIDEO, 0.0, 24.0),
            Piece(COCKATOO, 0.0, 14.0),
            Piece(DOORKNOB, 0.0, 4.0),
            Piece(GOLDENEYE, 0.0, 9.95),
            Piece(PATTERN, 0.0, 6.85),
            Piece(COCKATOO, 0.0, 14.0, mirror=True),
        ],
        {"seed": 720, "content": [1280, 720], "fps": 30, "codec": "libx264", "crf": 20},
    )
    return clip, index


# ---------------------------------------------------------------- rendering


class VideoCursor:
    """Upright frames of a source in time order: `at(t)` is the frame on screen at time t."""

    def __init__(self, path: Path, start: float, mirror: bool = False) -> None:
        self.path, self.mirror = path, mirror
        self._open(seek=start - 3.0)
        # Seeked past the start, or onto a key that does not refresh the picture (cockatoo.mp4
        # flags such keys): decode from 0.
        if self.nxt is not None and (self.nxt[0] > start + 1e-3 or self.nxt[1].is_corrupt):
            self.close()
            self._open(seek=0.0)

    def _open(self, seek: float) -> None:
        self.container = av.open(str(self.path))
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        self.t0 = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        if seek > 0:
            self.container.seek(int((seek + self.t0) / stream.time_base), stream=stream)
        self.frames = (f for f in self.container.decode(stream) if f.time is not None)
        self.cur: tuple[float, av.VideoFrame] | None = None
        self.nxt = self._next()
        self.rgb: np.ndarray | None = None

    def _next(self) -> tuple[float, av.VideoFrame] | None:
        f = next(self.frames, None)
        return None if f is None else (float(f.time) - self.t0, f)

    def at(self, t: float) -> np.ndarray:
        while self.nxt is not None and self.nxt[0] <= t + 1e-4:
            self.cur, self.nxt, self.rgb = self.nxt, self._next(), None
        if self.cur is None:
            self.cur, self.nxt, self.rgb = self.nxt, self._next(), None
        if self.rgb is None:
            assert self.cur is not None, f"no frames in {self.path}"
            rgb = upright(self.cur[1])
            self.rgb = np.ascontiguousarray(rgb[:, ::-1]) if self.mirror else rgb
        return self.rgb

    def close(self) -> None:
        self.container.close()


class PhotoCursor:
    """A slow straight pan and zoom over a still photo, at the canvas' aspect ratio."""

    def __init__(self, path: Path, piece: Piece, size: tuple[int, int]) -> None:
        self.img = np.asarray(load_rgb(path))
        self.piece, self.size = piece, size

    def at(self, t: float) -> np.ndarray:
        p = self.piece
        u = min(1.0, max(0.0, (t - p.start) / max(1e-6, p.end - p.start)))
        x0, y0, w0, x1, y1, w1 = p.pan or (0, 0, 1, 0, 0, 1)
        h_img, w_img = self.img.shape[:2]
        aspect = self.size[0] / self.size[1]
        w = (w0 + (w1 - w0) * u) * w_img
        h = w / aspect
        if h > h_img:
            h, w = float(h_img), h_img * aspect
        x = (x0 + (x1 - x0) * u) * w_img
        y = (y0 + (y1 - y0) * u) * h_img
        x, y = min(max(0.0, x), w_img - w), min(max(0.0, y), h_img - h)
        # sub-pixel crop by an affine warp, so the pan moves smoothly
        m = np.array([[w / self.size[0], 0, x], [0, h / self.size[1], y]], dtype=np.float64)
        return cv2.warpAffine(
            self.img,
            m,
            self.size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )

    def close(self) -> None:
        pass


def fit(rgb: np.ndarray, size: tuple[int, int], fill: np.ndarray | None = None) -> np.ndarray:
    """Scale into size keeping the aspect ratio (stretch when within 3 %), bars elsewhere."""
    w, h = size
    sh, sw = rgb.shape[:2]
    if (sw, sh) == (w, h):
        return rgb
    if abs(math.log((sw / sh) / (w / h))) < 0.03:
        return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    s = min(w / sw, h / sh)
    nw, nh = max(2, round(sw * s)), max(2, round(sh * s))
    out = np.zeros((h, w, 3), np.uint8) if fill is None else fill
    x, y = (w - nw) // 2, (h - nh) // 2
    out[y : y + nh, x : x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def crop_share(rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The part (x, y, w, h as shares of the width and height) of a frame."""
    h, w = rgb.shape[:2]
    x0, y0 = round(box[0] * w), round(box[1] * h)
    return rgb[y0 : y0 + max(2, round(box[3] * h)), x0 : x0 + max(2, round(box[2] * w))]


def grade(rgb: np.ndarray, kind: str, strength: float) -> np.ndarray:
    a = rgb.astype(np.float32)
    lum = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if kind == "grey":
        out = np.repeat(lum[..., None], 3, axis=2)
    elif kind == "sepia":
        out = np.stack([lum * 1.07 + 20, lum * 0.74 + 20, lum * 0.43 + 20], axis=2)
    else:  # warm_mono
        out = lum[..., None] * np.array([1.08, 0.98, 0.84], dtype=np.float32)
    out = a * (1 - strength) + out * strength
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def boxed_size(content: tuple[int, int], box: dict | None) -> tuple[int, int]:
    w, h = content
    if not box:
        return w, h
    aspect = box["aspect"]
    if w / h > aspect:  # too wide: bars above and below
        return w, even(w / aspect)
    return even(h * aspect), h


def add_box(rgb: np.ndarray, size: tuple[int, int], box: dict) -> np.ndarray:
    w, h = size
    if box["fill"] == "blur":
        sh, sw = rgb.shape[:2]
        s = max(w / sw, h / sh)
        small = cv2.resize(
            rgb,
            (max(2, round(sw * s / 8)), max(2, round(sh * s / 8))),
            interpolation=cv2.INTER_AREA,
        )
        small = cv2.GaussianBlur(small, (0, 0), 3)
        big = cv2.resize(small, (round(sw * s), round(sh * s)), interpolation=cv2.INTER_LINEAR)
        x, y = (big.shape[1] - w) // 2, (big.shape[0] - h) // 2
        bg = np.ascontiguousarray((big[y : y + h, x : x + w] * 0.6).astype(np.uint8))
        return fit(rgb, size, bg)
    if box["fill"] == "white":
        return fit(rgb, size, np.full((h, w, 3), 255, np.uint8))
    return fit(rgb, size)


def logo_layer(size: tuple[int, int], logo: dict) -> np.ndarray:
    """RGBA float32 layer in [0, 1]."""
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if logo["kind"] == "badge":
        d = max(16, round(logo["size"] * w))
        pad = max(4, d // 6)
        corner = logo["corner"]
        x = pad if corner in (0, 3) else w - d - pad
        y = pad if corner in (0, 1) else h - d - pad - max(10, d // 4)
        draw.ellipse(
            (x, y, x + d, y + d),
            fill=(200, 20, 30, 255),
            outline=(255, 255, 255, 255),
            width=max(2, d // 20),
        )
        fnt = font(max(8, d // 3))
        text = logo["text"][:2].upper()
        tw = draw.textlength(text, font=fnt)
        draw.text((x + (d - tw) / 2, y + d * 0.3), text, font=fnt, fill=(255, 255, 255, 255))
        small = font(max(8, d // 4))
        tw = draw.textlength(logo["text"], font=small)
        tx = min(max(2, x + (d - tw) / 2), w - tw - 2)
        draw.text(
            (tx, y + d + 2),
            logo["text"],
            font=small,
            fill=(255, 255, 255, 255),
            stroke_width=1,
            stroke_fill=(0, 0, 0, 255),
        )
    else:  # a large cartoon face, like the ThreatExchange large-logo variants
        d = round(logo["size"] * min(w, h))
        cx, cy = w / 2 + logo["dx"] * w, h / 2 + logo["dy"] * h
        x, y = cx - d / 2, cy - d / 2
        a = round(255 * logo["alpha"])
        draw.ellipse(
            (x, y, x + d, y + d),
            fill=(255, 214, 0, a),
            outline=(40, 40, 40, a),
            width=max(2, d // 25),
        )
        e = d * 0.12
        for ex in (0.33, 0.67):
            draw.ellipse(
                (x + d * ex - e / 2, y + d * 0.3, x + d * ex + e / 2, y + d * 0.3 + e * 1.4),
                fill=(40, 40, 40, a),
            )
        draw.arc(
            (x + d * 0.22, y + d * 0.35, x + d * 0.78, y + d * 0.8),
            20,
            160,
            fill=(40, 40, 40, a),
            width=max(2, d // 18),
        )
        fnt = font(max(9, d // 9), "DejaVuSansCondensed-Bold")
        tw = draw.textlength(logo["text"], font=fnt)
        draw.text(
            (cx - tw / 2, y + d + 4),
            logo["text"],
            font=fnt,
            fill=(255, 255, 255, a),
            stroke_width=1,
            stroke_fill=(0, 0, 0, a),
        )
    return np.asarray(layer, dtype=np.float32) / 255.0


def caption_layer(size: tuple[int, int], text: str, style: str) -> np.ndarray:
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if style == "dev":
        fsize = max(10, round(min(w, h) * 0.06))
        fnt = font(fsize, "DejaVuSans-Bold")
        rows = wrap(draw, text, fnt, w * 0.9)
        y = h - fsize * 1.25 * len(rows) - fsize * 0.6
        for row in rows:
            tw = draw.textlength(row, font=fnt)
            draw.text(
                ((w - tw) / 2, y),
                row,
                font=fnt,
                fill=(255, 255, 255, 255),
                stroke_width=max(1, fsize // 10),
                stroke_fill=(0, 0, 0, 255),
            )
            y += fsize * 1.25
    else:
        fsize = max(10, round(min(w, h) * 0.055))
        fnt = font(fsize, "DejaVuSerif-Bold")
        tag_font = font(fsize, "DejaVuSansCondensed-Bold")
        tag = "LIVE"
        tag_w = draw.textlength(tag, font=tag_font) + fsize
        rows = wrap(draw, text, fnt, w - tag_w - fsize * 1.5)
        band = round(fsize * (1.3 * len(rows) + 0.8))
        top = round(h * 0.04)
        draw.rectangle((0, top, w, top + band), fill=(10, 10, 30, 170))
        draw.rectangle(
            (fsize * 0.3, top + fsize * 0.3, fsize * 0.3 + tag_w, top + band - fsize * 0.3),
            fill=(210, 20, 20, 255),
        )
        draw.text(
            (fsize * 0.8, top + (band - fsize) / 2 - 2),
            tag,
            font=tag_font,
            fill=(255, 255, 255, 255),
        )
        y = top + fsize * 0.4
        for row in rows:
            draw.text((tag_w + fsize, y), row, font=fnt, fill=(255, 255, 255, 255))
            y += fsize * 1.3
    return np.asarray(layer, dtype=np.float32) / 255.0


def composite(rgb: np.ndarray, layer: np.ndarray) -> np.ndarray:
    alpha = layer[..., 3:]
    ys, xs = np.nonzero(alpha[..., 0] > 0)
    if not len(ys):
        return rgb
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    out = rgb.copy()
    a = alpha[y0:y1, x0:x1]
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (region * (1 - a) + layer[y0:y1, x0:x1, :3] * 255.0 * a + 0.5).astype(
        np.uint8
    )
    return out


def frame_times(total: float, params: dict) -> list[float]:
    fps = params["fps"]
    n = math.floor(total * fps - 1e-6) + 1
    grid = [k / fps for k in range(n)]
    vfr = params.get("vfr")
    if not vfr:
        return grid
    rng = np.random.default_rng(params["seed"])
    if vfr["kind"] == "drop":
        m = vfr["every"]
        return [t for k, t in enumerate(grid) if k % m != m - 1]
    times, next_burst, skip = [], float(rng.uniform(*vfr["gap"])), 0
    for k, t in enumerate(grid):
        if skip:
            skip -= 1
            continue
        if t >= next_burst:
            skip = int(rng.integers(vfr["burst"][0], vfr["burst"][1] + 1)) - 1
            next_burst = t + float(rng.uniform(*vfr["gap"]))
            continue
        jit = 0.0 if k == 0 else float(rng.uniform(-vfr["jitter"], vfr["jitter"])) / fps
        times.append(min(max(t + jit, 0.0), total - 1e-3))
    return sorted(set(round(t, 5) for t in times))


def render(spec: Spec, data: Path, out: Path) -> float:
    """Write the clip; returns its duration (end of the last frame) in seconds."""
    p = spec.params
    content = (p["content"][0], p["content"][1])
    size1 = boxed_size(content, p.get("box"))
    if p.get("scale_to"):
        s = p["scale_to"] / max(size1)
        size2 = (even(size1[0] * s), even(size1[1] * s))
    else:
        size2 = size1
    turns = {0: 0, 90: 1, 180: 2, 270: 3}[p.get("rotate", 0)]
    stored = (size2[1], size2[0]) if turns % 2 else size2
    total = sum(pc.length for pc in spec.pieces)
    times = frame_times(total, p)
    logo = logo_layer(size1, p["logo"]) if p.get("logo") else None
    captions: dict[int, np.ndarray] = {}
    look = ClipLook(p["thermal"], content) if p.get("thermal") else None

    starts = np.cumsum([0.0] + [pc.length for pc in spec.pieces])
    cursors: dict[int, VideoCursor | PhotoCursor] = {}

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        for t in times:
            i = min(int(np.searchsorted(starts, t, side="right")) - 1, len(spec.pieces) - 1)
            for j in [j for j in cursors if j < i]:
                cursors.pop(j).close()
            pc = spec.pieces[i]
            if i not in cursors:
                if pc.source.startswith("photo:"):
                    cursors[i] = PhotoCursor(data / pc.source[6:], pc, content)
                else:
                    cursors[i] = VideoCursor(data / pc.source, pc.start, pc.mirror)
            rgb = cursors[i].at(pc.start + (t - starts[i]) * pc.speed)
            if p.get("crop"):
                rgb = crop_share(rgb, p["crop"])
            rgb = fit(rgb, content)
            if look is not None:
                rgb = look.at(rgb, t)
            if p.get("grade"):
                rgb = grade(rgb, p["grade"], p["grade_strength"])
            if p.get("box"):
                rgb = add_box(rgb, size1, p["box"])
            if logo is not None:
                rgb = composite(rgb, logo)
            if p.get("caption"):
                c = p["caption"]
                k = int(t // c["every"]) % len(c["texts"])
                if k not in captions:
                    captions[k] = caption_layer(size1, c["texts"][k], p.get("style", "dev"))
                rgb = composite(rgb, captions[k])
            if size2 != size1:
                rgb = cv2.resize(rgb, size2, interpolation=cv2.INTER_AREA)
            if turns:  # stored turned back; the display matrix turns it upright
                rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
            yield t, rgb
        for c in cursors.values():
            c.close()

    tmp = out.with_name(out.stem + ".part" + out.suffix)
    encode(tmp, frames(), stored, p)
    if turns:
        set_display_rotation(tmp, p["rotate"])
        got = display_rotation(tmp)
        if got != p["rotate"]:
            raise RuntimeError(f"display matrix not read back: wanted {p['rotate']}, got {got}")
    os.replace(tmp, out)
    return times[-1] + 1.0 / p["fps"]


def encode(
    path: Path, frames: Iterator[tuple[float, np.ndarray]], size: tuple[int, int], p: dict
) -> None:
    # MPEG-4 Part 2 allows time bases up to 1/65535 only
    tb = Fraction(1, 90000) if p["codec"] == "libx264" else Fraction(1, 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(p["codec"], rate=p["fps"])
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = tb
        stream.codec_context.time_base = tb
        if p["codec"] == "libx264":
            stream.options = {"crf": str(p["crf"]), "preset": "veryfast"}
        else:
            stream.bit_rate = int(p["bpp"] * size[0] * size[1] * p["fps"])
        last = -1
        for t, rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            pts = max(last + 1, round(t / tb))
            frame.pts, frame.time_base, last = pts, tb, pts
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


# ---------------------------------------------------------------- display matrix


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset of the box, offset past its end) of the boxes in data[start:end]."""
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, i)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, i + 8)[0], 16
        elif size == 0:
            size = end - i
        if size < header:
            return
        yield kind, i, i + size
        i += size


def set_display_rotation(path: Path, clockwise: int) -> None:
    """Write a display matrix turning the picture `clockwise` degrees into the video track's
    `tkhd` box, the way phones record a turned camera (PyAV cannot set it on output)."""
    data = bytearray(path.read_bytes())
    a, b, c, d = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}[clockwise]
    done = False
    for kind, s, e in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for kind2, s2, e2 in _boxes(data, s + 8, e):
            if kind2 != b"trak":
                continue
            for kind3, s3, _ in _boxes(data, s2 + 8, e2):
                if kind3 == b"tkhd":
                    version = data[s3 + 8]
                    off = s3 + 8 + 4 + (32 if version == 1 else 20) + 8 + 8
                    struct.pack_into(
                        ">9i", data, off, a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30
                    )
                    done = True
    if not done:
        raise RuntimeError(f"no tkhd box in {path}")
    path.write_bytes(bytes(data))


def display_rotation(path: Path) -> int:
    """The clockwise turn a player applies, as FFmpeg reports it."""
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return -round((frame.rotation or 0) / 90) * 90 % 360


# ---------------------------------------------------------------- building and caching


def segments_of(spec: Spec, data: Path) -> list[dict]:
    out, q = [], 0.0
    for pc in spec.pieces:
        if pc.ref:
            out.append(
                {
                    "query": [round(q, 3), round(q + pc.length, 3)],
                    "ref": str((data / pc.ref).resolve()),
                    "reference": [
                        round(pc.start + pc.ref_offset, 3),
                        round(pc.end + pc.ref_offset, 3),
                    ],
                }
            )
        q += pc.length
    return out


def build(
    specs: Sequence[Spec],
    data: Path,
    out_dir: Path,
    manifest_path: Path,
    order_seed: int,
    log=print,
) -> list[Clip]:
    """Render (or reuse) every clip under out_dir with neutral shuffled names; the ground truth
    goes to manifest_path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cached: dict[str, dict] = {}
    if manifest_path.exists():
        try:
            cached = {c["path"]: c for c in json.loads(manifest_path.read_text())["clips"]}
        except (ValueError, KeyError):
            cached = {}
    order = np.random.default_rng(order_seed).permutation(len(specs))
    clips: list[Clip] = []
    for n, i in enumerate(order):
        spec = specs[int(i)]
        copy = spec.params.get("copy")
        suffix = ".mkv" if spec.params.get("codec") == "mpeg4" else ".mp4"
        path = out_dir / f"v{n:03d}{suffix}"
        key = spec.key()
        old = cached.get(str(path))
        if not (old and old.get("key") == key and path.exists()):
            for stale in out_dir.glob(f"v{n:03d}.*"):
                stale.unlink()
            log(f"  rendering {path.name}: {spec.name} {spec.label}")
            if copy:
                shutil.copyfile(data / spec.pieces[0].source, path)
                duration = spec.pieces[0].end
            else:
                duration = render(spec, data, path)
        else:
            duration = old["duration"]
        clips.append(
            Clip(
                qid=path.stem,
                path=str(path),
                label=spec.label,
                structure=spec.structure,
                edits=list(spec.edits),
                negative=spec.negative,
                duration=round(duration, 3),
                segments=segments_of(spec, data),
                sources=[pc.source for pc in spec.pieces],
                params={
                    "name": spec.name,
                    **spec.params,
                    "pieces": [asdict(pc) for pc in spec.pieces],
                },
                key=key,
            )
        )
    keep = {c.path for c in clips}
    for f in out_dir.iterdir():
        if str(f) not in keep:
            f.unlink()
    clips.sort(key=lambda c: c.qid)
    manifest_path.write_text(
        json.dumps({"version": BUILD_VERSION, "clips": [asdict(c) for c in clips]}, indent=1)
    )
    return clips


def build_split(data: Path, work: Path, name: str, log=print) -> list[Clip]:
    out = work / name
    return build(
        plan_split(data, name), data, out / "clips", out / "manifest.json", SPLITS[name].seed, log
    )


def build_speed(data: Path, work: Path, log=print) -> tuple[Clip, Path]:
    clip_spec, index_spec = speed_specs()
    out = work / "speed"
    clips = build([clip_spec], data, out / "query", out / "query.json", 0, log)
    built = build([index_spec], data, out / "index", out / "index.json", 0, log)
    return clips[0], Path(built[0].path)
