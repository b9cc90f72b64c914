"""Decode videos with PyAV into upright RGB frames: a steady sample per second plus shot starts.

Every frame is decoded (seeking would miss short shots), but only a 32x32 grey thumbnail is made
for most of them; full RGB conversion is paid only for the frames that are kept.
"""

import math
import struct
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from firstseen.errors import MediaError
from firstseen.media.budget import check_frame
from firstseen.media.files import check_regular_file
from firstseen.media.frames import Frame
from firstseen.tuning import SHOTS

# A cut is a jump in the change between consecutive 32x32 grey thumbnails (mean absolute
# difference, 0-255): score = min(change, |change - previous change|), as FFmpeg's scdet filter
# does, so steady motion does not count (thresholds: firstseen.tuning.SHOTS).
SHOT_THRESHOLD = SHOTS.sample_cut
_THUMB = 32
# Complete files end within a frame of the length their stream declares; truncated ones far short.
_TRUNCATION_SLACK = 0.5


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """Display geometry and timing; `rotation` is the clockwise turn applied for display."""

    width: int
    height: int
    duration: float | None  # seconds; container estimate when the stream does not say
    fps: float | None  # average frame rate
    rotation: int  # 0, 90, 180 or 270


def video_info(path: Path) -> VideoInfo:
    """Describe a video; decodes its first frame, so an undecodable file fails here too."""
    with open_video(path) as (container, stream):
        first = next(_decode(container, stream), None)
        if first is None:
            raise MediaError("no decodable video frames")
        rotation = _rotation(first)
        width, height = first.width, first.height
        if rotation % 180:
            width, height = height, width
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = None
        fps = float(stream.average_rate) if stream.average_rate else None
        return VideoInfo(width, height, duration, fps, rotation)


def sample_video(
    path: Path, fps: float = 1.0, shot_threshold: float = SHOT_THRESHOLD
) -> Iterator[Frame]:
    """Yield upright frames in time order: the first frame at or after every multiple of 1/fps
    seconds, plus the first frame of each new shot, so short shots are never skipped.

    Times come from each frame's timestamp (seconds since stream start), which keeps variable
    frame rates and dropped frames honest; no two frames share a time. A decoding error part-way
    raises MediaError rather than ending early, so a damaged file never passes for a short one.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    with open_video(path) as (container, stream):
        is_cut = CutDetector(shot_threshold)
        due, last = 0.0, -math.inf
        for frame, time in _timed(container, stream):
            cut = is_cut(frame)
            if time > last and (cut or time >= due):
                yield Frame(upright(frame), time, cut)
                last = time
                due = max(due, (math.floor(time * fps) + 1) / fps)


def timed_frames(path: Path) -> Generator[tuple[VideoFrame, float]]:
    """Yield every decoded frame in decoding order, untouched, with its time (seconds since
    stream start); damaged files raise MediaError, as in sample_video."""
    with open_video(path) as (container, stream):
        yield from _timed(container, stream)


def _timed(container: InputContainer, stream: VideoStream) -> Iterator[tuple[VideoFrame, float]]:
    """The stream's frames with their times, then the check that none are missing at the end."""
    start, end = _start(stream), 0.0
    for index, frame in enumerate(_decode(container, stream)):
        time = _time(frame, index, stream, start)
        end = max(end, time + _duration(frame))
        yield frame, time
    _check_complete(stream, end)


def decoded_frames(path: Path) -> Iterator[tuple[VideoFrame, float]]:
    """Yield every decoded frame in decoding order, untouched (not converted, not turned upright),
    with the stream's nominal frame rate: the average rate, else FFmpeg's r_frame_rate.

    For frame-numbered hashes such as vPDQ, which time frame n at n / rate rather than by its
    timestamp and hash the pixels as coded. Damaged files raise MediaError, as in sample_video.
    """
    with open_video(path) as (container, stream):
        rate = stream.average_rate or stream.base_rate
        if not rate:
            raise MediaError("unknown frame rate")
        fps = float(rate)
        for frame, _ in _timed(container, stream):
            yield frame, fps


def load_frame_at(path: Path, time: float) -> Frame:
    """Decode the frame nearest `time` (seconds since stream start), e.g. to show a match.

    Seeks to the keyframe before it, unless the frames decoded from there are flagged corrupt:
    some streams (cockatoo.mp4 among the test media) flag frames as keys that do not refresh the
    whole picture, and decode right only from their start.
    """
    found = _frame_near(path, time, seek=True)
    if found is None:
        found = _frame_near(path, time, seek=False)
    if found is None:
        raise MediaError("no decodable video frames")
    return found


def _frame_near(path: Path, time: float, seek: bool) -> Frame | None:
    """The frame nearest `time`, or None when none decodes, or, after a seek, the keyframe it
    landed on or a frame after it came out corrupt."""
    with open_video(path) as (container, stream):
        start = _start(stream)
        seek = seek and stream.start_time is not None  # raw streams have no timestamps to seek by
        if seek:
            container.seek(round((start + time) / stream.time_base), stream=stream)
        best, best_time, keyed = None, math.inf, not seek
        for index, frame in enumerate(_decode(container, stream)):
            # Pictures shown before the keyframe (an open GOP's leading ones) refer to frames
            # before the seek: passed over, whether flagged corrupt or not.
            keyed = keyed or frame.key_frame
            if not keyed:
                continue
            if seek and frame.is_corrupt:
                return None
            frame_time = _time(frame, index, stream, start)
            if abs(frame_time - time) < abs(best_time - time):
                best, best_time = frame, frame_time
            if frame_time >= time:
                break
        return None if best is None else Frame(upright(best), best_time)


def video_streams(container: InputContainer) -> list[VideoStream]:
    """The container's real video streams, leaving out cover art attached to audio files."""
    return [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]


@contextmanager
def open_video(path: Path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """Open the first real video stream for threaded decoding, if its frames are within the
    decoding budget (`media.budget`); FFmpeg errors become MediaError, in the block too."""
    check_regular_file(path)
    try:
        with av.open(str(path)) as container:
            streams = video_streams(container)
            if not streams:
                raise MediaError("no video stream")
            stream = streams[0]
            if stream.codec_context is None:  # a codec FFmpeg does not know: nothing to decode
                raise MediaError("unknown video codec")
            check_frame(stream.width, stream.height)
            stream.thread_type = "AUTO"
            yield container, stream
    except av.FFmpegError as error:
        raise MediaError(f"unreadable video: {error.strerror}") from error


def _decode(container: InputContainer, stream: VideoStream) -> Iterator[VideoFrame]:
    """The stream's frames, each checked against the decoding budget: a stream may change its
    size part-way, and a request its time."""
    for frame in container.decode(stream):
        check_frame(frame.width, frame.height)
        yield frame


class CutDetector:
    """Flags frames that open a new shot, from a 32x32 grey thumbnail of every decoded frame;
    `thumbnail` is the last frame's (int16), for callers that compare frames' looks too."""

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._reformatter = VideoReformatter()  # reused: one scaler setup per video, not per frame
        self.thumbnail: np.ndarray | None = None
        self._change = 0.0

    def __call__(self, frame: VideoFrame) -> bool:
        small = self._reformatter.reformat(frame, _THUMB, _THUMB, "gray", interpolation="AREA")
        thumb = small.to_ndarray().astype(np.int16)
        previous, self.thumbnail = self.thumbnail, thumb
        if previous is None:
            return False
        change = float(np.abs(thumb - previous).mean())
        jump = min(change, abs(change - self._change))
        self._change = change
        return jump > self._threshold


def _start(stream: VideoStream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _time(frame: VideoFrame, index: int, stream: VideoStream, start: float) -> float:
    """Seconds since stream start; frames of raw streams (e.g. .h264) carry no timestamp, so
    their time is counted from the frame rate instead."""
    if frame.time is not None:
        return frame.time - start
    if not stream.average_rate:
        raise MediaError("video frames carry no timestamps")
    return index / float(stream.average_rate)


def _duration(frame: VideoFrame) -> float:
    return float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0


def _check_complete(stream: VideoStream, end: float) -> None:
    """Raise if the frames stop well short of the length the stream declares: FFmpeg ends quietly
    when a file is cut off between packets, and frame-threaded decoding drops the error for a
    packet cut in half."""
    if stream.duration is None:  # Matroska, WebM and FLV do not declare it per stream
        return
    declared = float(stream.duration * stream.time_base)
    if end < declared - _TRUNCATION_SLACK:
        raise MediaError(f"truncated video: frames stop at {end:.1f} s of {declared:.1f} s")


def _rotation(frame: VideoFrame) -> int:
    # PyAV reports the display matrix as a counter-clockwise angle in [-180, 180].
    return _clockwise(frame.rotation)


def _clockwise(counter_clockwise: float) -> int:
    return -round(counter_clockwise / 90) * 90 % 360


def display_rotation(stream: VideoStream) -> int | None:
    """The clockwise turn the stream's display matrix asks for (as its frames will carry it),
    read from the header without decoding; None when the stream has no matrix or a degenerate
    one. FFmpeg's av_display_rotation_get, on the 16.16 fixed-point matrix."""
    matrix = stream.codec_context.coded_side_data.get("display_matrix")
    if not isinstance(matrix, bytes) or len(matrix) != 36:
        return None
    m = struct.unpack("=9i", matrix)
    scale0, scale1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if not scale0 or not scale1:
        return None
    return _clockwise(-math.degrees(math.atan2(m[1] / scale1, m[0] / scale0)))


def upright(frame: VideoFrame) -> np.ndarray:
    """The frame as upright RGB, turned as its display matrix says."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = _rotation(frame) // 90
    return np.ascontiguousarray(np.rot90(rgb, -turns)) if turns else rgb
