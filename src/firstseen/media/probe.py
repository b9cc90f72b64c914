"""Tell images from videos by their bytes, because extensions lie (JPEG data named .png)."""

from pathlib import Path
from typing import Literal

import av
from PIL import Image, UnidentifiedImageError

from firstseen.errors import MediaError
from firstseen.media.files import check_regular_file
from firstseen.media.video import video_streams

MediaKind = Literal["image", "video"]

_IMAGE_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)
# ISO media files are videos unless their brand says HEIF/AVIF, which are still images.
_STILL_BRANDS = {b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"}
# FFmpeg demuxers for still images ("image2", "image2pipe", "*_pipe") and for text as ANSI art.
_NOT_VIDEO_FORMATS = {"image2", "tty"}


def probe(path: Path) -> MediaKind:
    """Say whether `path` holds an image or a video, judging by content alone.

    Known signatures decide at once; anything else is offered to Pillow, then to FFmpeg. Only a
    regular file is opened (see `check_regular_file`).
    """
    check_regular_file(path)
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as error:
        raise MediaError(f"cannot read file: {error.strerror or error}") from error
    if not head:
        raise MediaError("empty file")
    kind = _sniff(head) or _identify(path)
    if kind is None:
        raise MediaError("not an image or video (unrecognised content)")
    return kind


def _sniff(head: bytes) -> MediaKind | None:
    riff = head[8:12] if head.startswith(b"RIFF") else None
    if head.startswith(_IMAGE_SIGNATURES) or riff == b"WEBP":
        return "image"
    if riff == b"AVI ":
        return "video"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _STILL_BRANDS else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, WebM
        return "video"
    return None


def _identify(path: Path) -> MediaKind | None:
    try:
        with path.open("rb") as file, Image.open(file):
            return "image"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "image"  # load_image refuses it with a clear reason
    except UnidentifiedImageError:
        pass
    try:
        with av.open(str(path)) as container:
            name = container.format.name
            still = name in _NOT_VIDEO_FORMATS or name.endswith("pipe")
            if not still and video_streams(container):
                return "video"
    except av.FFmpegError:
        pass
    return None
