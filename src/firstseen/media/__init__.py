"""Reading media: decide image or video by content, decode to upright RGB frames."""

from firstseen.media.frames import Frame
from firstseen.media.images import load_image
from firstseen.media.probe import probe
from firstseen.media.video import (
    VideoInfo,
    decoded_frames,
    load_frame_at,
    sample_video,
    video_info,
)

__all__ = [
    "Frame",
    "VideoInfo",
    "decoded_frames",
    "load_frame_at",
    "load_image",
    "probe",
    "sample_video",
    "video_info",
]
