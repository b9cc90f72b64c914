"""vPDQ, ThreatExchange's video hash: the PDQ hash of every frame, one text line per frame, made
as Meta's `vpdq` makes it (vpdq/cpp/hashing) so that hashes interoperate with partners' banks.

What upstream does, and so this module:
- frames are numbered from 0 in decoding order; all are hashed, or with `seconds_per_hash` > 0
  those whose number is a multiple of int(seconds_per_hash x frame rate);
- a frame's time is its number over the stream's average frame rate (single precision), not its
  timestamp, and is written with 3 decimals;
- each frame is converted to RGB24 by swscale at its coded size (BT.601, nearest chroma sample)
  and hashed whole: no display rotation, and no reduction to 512 px (on the sample videos that
  moves hashes by up to 44 bits, beyond upstream's tolerance of 31); optionally it is first
  scaled to a given width and height;
- the quality is PDQ's own, 0..100.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from firstseen.errors import FirstseenError, MediaError
from firstseen.media.video import decoded_frames
from firstseen.signals.pdq import pdq_hash

# Unscaled conversion as the C path of swscale computes it: bit-exact with 12 of upstream's 13
# older sample files (one frame 2 bits off), within 4 bits of the newest (test-padded-dimensions).
# Without ACCURATE_RND, FFmpeg's SIMD converter is used, as newer upstream builds do: 2 bits off
# the newest file, but up to 22 off the older ones.
_NATIVE = Interpolation.POINT | Interpolation.ACCURATE_RND
# Upstream scaled with SWS_LANCZOS when its -128x128 sample files were made (it uses SWS_AREA
# now): within 4 bits of those files, where AREA is up to 16 bits off.
_SCALED = Interpolation.LANCZOS
_MIN_EDGE = 5  # upstream refuses to hash smaller frames
_LINE = re.compile(r"(\d+),(\d+),([0-9a-fA-F]{64}),(\d+(?:\.\d*)?)")


@dataclass(frozen=True, slots=True)
class VpdqFeature:
    """One line of a vPDQ hash: frame number, PDQ quality 0..100, the 256-bit PDQ hash packed
    into 32 bytes (big-endian bit order), and the frame's time in seconds."""

    frame_number: int
    quality: int
    bits: bytes
    seconds: float

    @property
    def hex(self) -> str:
        return self.bits.hex()


def vpdq_hash(
    path: Path, seconds_per_hash: float = 0.0, size: tuple[int, int] | None = None
) -> list[VpdqFeature]:
    """The vPDQ hash of a video: every frame, or one per `seconds_per_hash` (0: every frame);
    `size` (width, height) scales frames before hashing, as upstream's -128x128 files do."""
    if seconds_per_hash < 0:
        raise ValueError("seconds_per_hash must not be negative")
    width, height = size or (None, None)
    reformatter = VideoReformatter()  # one scaler setup per video, not per frame
    features = []
    for number, (frame, fps) in enumerate(decoded_frames(path)):
        if number % max(1, int(seconds_per_hash * fps)):
            continue
        rgb = reformatter.reformat(
            frame, width, height, "rgb24", interpolation=_SCALED if size else _NATIVE
        ).to_ndarray()
        if min(rgb.shape[:2]) < _MIN_EDGE:
            raise MediaError(f"frame {number} is {rgb.shape[1]}x{rgb.shape[0]}, too small to hash")
        hashed = pdq_hash(rgb, max_edge=None)
        seconds = float(np.float32(number) / np.float32(fps))
        features.append(VpdqFeature(number, hashed.quality, hashed.bits, seconds))
    if not features:
        raise MediaError("no decodable video frames")
    return features


def format_vpdq(features: Iterable[VpdqFeature]) -> str:
    """Upstream's text format: `frame_number,quality,pdq_hex,seconds` per line."""
    return "".join(f"{f.frame_number},{f.quality},{f.hex},{f.seconds:.3f}\n" for f in features)


def parse_vpdq(text: str) -> list[VpdqFeature]:
    """Reads the text format strictly, since a partner's file is untrusted input: every line must
    be well formed and frame numbers must increase; blank lines are ignored. A FirstseenError
    names the first bad line ("line 3: ..."); the caller names the file."""
    features: list[VpdqFeature] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        match = _LINE.fullmatch(line.strip())
        if match is None:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise FirstseenError(
                f"{where}: expected frame_number,quality,pdq_hex,seconds, got {shown!r}"
            )
        frame, quality, hex_hash, seconds = match.groups()
        if int(quality) > 100:
            raise FirstseenError(f"{where}: quality {quality} is above 100")
        if features and int(frame) <= features[-1].frame_number:
            raise FirstseenError(
                f"{where}: frame {frame} comes after frame {features[-1].frame_number}"
            )
        features.append(
            VpdqFeature(int(frame), int(quality), bytes.fromhex(hex_hash), float(seconds))
        )
    if not features:
        raise FirstseenError("no hashes")
    return features
