"""Streaming renditions of a real video, made at test time with PyAV's muxers (no ffmpeg binary):
an HLS playlist of MPEG-TS segments and a DASH manifest of fragmented-MP4 segments, as a platform's
player would be served them."""

from fractions import Fraction
from pathlib import Path

import av

WIDTH = 480  # small segments, and still enough detail for the still search


def _encode(source: Path, target: str, format_name: str, options: dict[str, str]) -> None:
    """Re-encodes the video track of `source` as H.264 (a keyframe a second, so that segments can
    start on one) into `target` through the named muxer."""
    with av.open(str(source)) as reader:
        stream = reader.streams.video[0]
        rate = round(float(stream.average_rate or 30))
        height = round(stream.height * WIDTH / stream.width / 2) * 2
        with av.open(target, "w", format=format_name, options=options) as writer:
            out = writer.add_stream("libx264", rate=rate)
            out.width, out.height, out.pix_fmt = WIDTH, height, "yuv420p"
            out.codec_context.gop_size, out.codec_context.max_b_frames = rate, 0
            out.codec_context.options = {"preset": "veryfast", "sc_threshold": "0"}
            for number, frame in enumerate(reader.decode(stream)):
                picture = frame.reformat(width=WIDTH, height=height, format="yuv420p")
                picture.pts, picture.time_base = number, Fraction(1, rate)
                writer.mux(out.encode(picture))
            writer.mux(out.encode(None))


def make_hls(source: Path, folder: Path) -> list[str]:
    """`folder/index.m3u8` (a VOD playlist) and its segments; the segment file names."""
    folder.mkdir(parents=True, exist_ok=True)
    options = {
        "hls_time": "1",
        "hls_playlist_type": "vod",
        "hls_segment_filename": str(folder / "seg%03d.ts"),
    }
    _encode(source, str(folder / "index.m3u8"), "hls", options)
    return sorted(p.name for p in folder.glob("seg*.ts"))


def make_dash(source: Path, folder: Path) -> list[str]:
    """`folder/manifest.mpd` (a static manifest with a SegmentTemplate) and its init and media
    segments; their file names."""
    folder.mkdir(parents=True, exist_ok=True)
    options = {"seg_duration": "1", "use_template": "1", "use_timeline": "1"}
    _encode(source, str(folder / "manifest.mpd"), "dash", options)
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".m4s")
