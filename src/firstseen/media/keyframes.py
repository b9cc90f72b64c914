"""Keyframes: one picture per shot, and one per `SHOTS.keyframe_every` seconds of a long shot,
for a person to take to other search engines (the InVID plugin's most used feature).

Two passes over the decoded frames. The first cuts the video into pieces, each a shot (cuts as
`video.CutDetector` finds them at `SHOTS.keyframe_cut`, none within `SHOTS.min_shot` of the
last) or a stretch of a long one, and picks the frame that stands for each piece from cheap
per-frame figures: among the share of its frames that look most like the piece's median 32x32
thumbnail (a fade-in, a flash or a glitch looks unlike the rest), the sharpest (variance of the
Laplacian). The second pass decodes again and turns only the picked frames into pictures.
Memory holds one piece's thumbnails at most, whatever the video's length.
"""

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter

from firstseen.errors import MediaError
from firstseen.media.probe import probe
from firstseen.media.video import CutDetector, timed_frames, upright, video_info
from firstseen.tuning import SHOTS

# Told the share of the work done (0-1) as frames are read.
Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Pick:
    """The frame chosen to stand for a piece of the video."""

    index: int  # its place in decoding order
    time: float  # seconds since stream start
    shot: int  # the shot it belongs to, from 1
    span: tuple[float, float]  # the piece it stands for (seconds)


@dataclass(frozen=True, slots=True)
class Keyframe:
    pick: Pick
    rgb: np.ndarray  # upright RGB at the video's size


def keyframe_name(number: int, time: float) -> str:
    """`kf003-1m04.250s.jpg`: the keyframe's place, then its time, safe on every file system."""
    minutes, seconds = divmod(time, 60)
    hours, minutes = divmod(int(minutes), 60)
    clock = f"{hours}h{minutes:02d}m{seconds:06.3f}s" if hours else f"{minutes}m{seconds:06.3f}s"
    return f"kf{number:03d}-{clock}.jpg"


def keyframes(path: Path, progress: Progress | None = None) -> Iterator[Keyframe]:
    """The video's keyframes in time order, decoded one at a time."""
    picks = plan_keyframes(path, _scaled(progress, 0.0))
    yield from grab_keyframes(path, picks, _scaled(progress, 0.5))


def _scaled(progress: Progress | None, start: float) -> Progress | None:
    """One pass's progress as half of the whole, from `start`."""
    if progress is None:
        return None
    return lambda done: progress(start + done / 2)


@dataclass(slots=True)
class _Piece:
    """The frames read of the piece being cut: places, times, thumbnails and sharpness."""

    shot: int
    indexes: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    thumbs: list[np.ndarray] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.times[0]

    def add(self, index: int, time: float, thumb: np.ndarray, sharpness: float) -> None:
        self.indexes.append(index)
        self.times.append(time)
        self.thumbs.append(thumb)
        self.sharpness.append(sharpness)

    def split(self, at: float) -> "_Piece":
        """Keeps the frames before `at`; returns the rest as the next piece of the shot."""
        keep = sum(t < at for t in self.times)
        rest = _Piece(self.shot)
        rest.indexes, self.indexes = self.indexes[keep:], self.indexes[:keep]
        rest.times, self.times = self.times[keep:], self.times[:keep]
        rest.thumbs, self.thumbs = self.thumbs[keep:], self.thumbs[:keep]
        rest.sharpness, self.sharpness = self.sharpness[keep:], self.sharpness[:keep]
        return rest

    def pick(self, end: float) -> Pick:
        """The sharpest of the frames that look most like the piece as a whole."""
        thumbs = np.stack(self.thumbs)
        distance = np.abs(thumbs - np.median(thumbs, axis=0)).mean(axis=(1, 2))
        typical = distance <= np.quantile(distance, SHOTS.typical_share)
        best = int(np.argmax(np.where(typical, self.sharpness, -np.inf)))
        return Pick(self.indexes[best], self.times[best], self.shot, (self.start, end))


def video_length(path: Path) -> float | None:
    """The video's length in seconds (None when it does not say); MediaError for a file that is
    no video, a still image included (FFmpeg would read one as a video of one frame)."""
    if probe(path) != "video":
        raise MediaError("not a video: it is a still image")
    return video_info(path).duration


def plan_keyframes(path: Path, progress: Progress | None = None) -> list[Pick]:
    """The first pass: which frame stands for each piece of the video. Raises MediaError for a
    file that is no video, or is damaged or cut short."""
    duration = video_length(path)
    every = SHOTS.keyframe_every
    detector, scorer = CutDetector(SHOTS.keyframe_cut), _Sharpness()
    picks: list[Pick] = []
    piece: _Piece | None = None
    shot, shot_start, end = 0, 0.0, 0.0
    for index, (frame, time) in enumerate(timed_frames(path)):
        cut = detector(frame)
        if piece is None or (cut and time - shot_start >= SHOTS.min_shot):
            if piece is not None:
                picks.append(piece.pick(time))
            shot, shot_start = shot + 1, time
            piece = _Piece(shot)
        elif time - piece.start >= 1.5 * every:  # a long shot: its first `every` seconds done
            rest = piece.split(piece.start + every)
            picks.append(piece.pick(rest.start))
            piece = rest
        assert detector.thumbnail is not None  # set by every call
        piece.add(index, time, detector.thumbnail, scorer(frame))
        end = max(end, time)
        if progress is not None and duration:
            progress(min(1.0, time / duration))
    if piece is None:
        raise MediaError("no decodable video frames")
    picks.append(piece.pick(max(end, duration or 0.0)))
    return picks


class _Sharpness:
    """Variance of the Laplacian of a grey copy `SHOTS.sharpness_edge` wide: blur and flat
    pictures score low."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def __call__(self, frame: VideoFrame) -> float:
        width = min(SHOTS.sharpness_edge, frame.width)
        height = max(2, round(width * frame.height / frame.width))
        grey = self._reformatter.reformat(frame, width, height, "gray", interpolation="AREA")
        return float(cv2.Laplacian(grey.to_ndarray(), cv2.CV_32F).var())


def grab_keyframes(
    path: Path, picks: list[Pick], progress: Progress | None = None
) -> Iterator[Keyframe]:
    """The second pass: the picked frames as upright pictures, in order."""
    wanted = {p.index: p for p in picks}
    last = max(wanted, default=-1)
    with closing(timed_frames(path)) as frames:
        for index, (frame, _) in enumerate(frames):
            if index in wanted:
                yield Keyframe(wanted[index], upright(frame))
                if progress is not None:
                    progress(index / max(1, last))
            if index >= last:
                return
