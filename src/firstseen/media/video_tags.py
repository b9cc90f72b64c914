"""What a video's container says about where it came from: the tags of an MP4, MOV or Matroska
file and of its streams, read with PyAV from the header, without decoding a frame.

Phones and cameras write the fields that matter as tags, which FFmpeg names: QuickTime's user
data (©mak, ©mod, ©swr or ©too, ©xyz as `make`, `model`, `encoder`, `location`), Apple's metadata
keys (`com.apple.quicktime.make`, `.model`, `.software`, `.creationdate` in local time with its
offset, `.location.ISO6709`), Android's (`com.android.manufacturer`, `.model`, `.version`), and
the header's `creation_time` (UTC by the formats' specifications, though some cameras write
their local time there). The file is opened as it is for decoding (`open_video`: a regular file,
frames within the decoding budget, the request's deadline), and its tags are escaped, cut and
capped as a picture's are (media/embedded.py); a container FFmpeg cannot open gives the
`unreadable` state with its reason, never an error.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from av.container import InputContainer
from av.video.stream import VideoStream

from firstseen.errors import MediaError
from firstseen.media.embedded import bounded, field_text
from firstseen.media.video import display_rotation, open_video
from firstseen.tuning import PROVENANCE

# Tag names (lower case: Matroska's are upper case), most telling first.
_MAKE = ("com.apple.quicktime.make", "make", "com.android.manufacturer")
_MODEL = ("com.apple.quicktime.model", "model", "com.android.model")
# The last program that wrote the file, then the device's own.
_SOFTWARE = ("encoder", "software", "com.apple.quicktime.software")
_ANDROID = "com.android.version"
_CAPTURED = ("com.apple.quicktime.creationdate", "creation_time", "date_recorded", "date")
_PLACE = ("com.apple.quicktime.location.iso6709", "location", "location-eng")
_WHEN = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?$")
# ISO 6709: latitude, longitude, optional altitude, each signed, in degrees, DDMM or DDMMSS.
_ISO6709 = re.compile(r"([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")


def read_video_metadata(path: Path) -> dict[str, Any]:
    """`state` (`read`, `none` or `unreadable` with a `reason`), the provenance `fields` as
    for a picture (`orientation` and `thumbnail` null) plus `rotation` (degrees clockwise for
    display), and the `raw` tags (`container:name`, `video#0:name`) with `raw_omitted`."""
    try:
        with open_video(path) as (container, stream):
            raw = list(_raw(container))
            tags = _lookup(container, stream)
            rotation = display_rotation(stream)
    except MediaError as exc:
        return {"state": "unreadable", "reason": str(exc)}
    if not raw and rotation is None:
        return {"state": "none"}
    kept = raw[: PROVENANCE.raw_fields]
    return {
        "state": "read",
        "fields": {**_fields(tags), "rotation": rotation},
        "raw": dict(kept),
        "raw_omitted": len(raw) - len(kept),
    }


def _raw(container: InputContainer) -> Iterator[tuple[str, str]]:
    """Every tag as (where:name, escaped text): the container's, then each stream's."""
    for name, value in container.metadata.items():
        yield f"container:{bounded(name)}", bounded(str(value))
    for stream in container.streams:
        for name, value in stream.metadata.items():
            yield f"{stream.type}#{stream.index}:{bounded(name)}", bounded(str(value))


def _lookup(container: InputContainer, stream: VideoStream) -> dict[str, str]:
    """The container's tags by lower-case name, then the video stream's where the container
    has none of that name (a stream's `creation_time`)."""
    found: dict[str, str] = {}
    for tags in (container.metadata, stream.metadata):
        for name, value in tags.items():
            found.setdefault(str(name).lower(), str(value))
    return found


def _fields(tags: dict[str, str]) -> dict[str, Any]:
    captured, zone = _when(_first(tags, _CAPTURED))
    software = _first(tags, _SOFTWARE)
    if software is None and (android := field_text(tags.get(_ANDROID))):
        software = f"Android {android}"
    return {
        "camera_make": _first(tags, _MAKE),
        "camera_model": _first(tags, _MODEL),
        "software": software,
        "captured_at": captured,
        "time_zone": zone,
        "gps": _place(_first(tags, _PLACE)),
        "orientation": None,
        "thumbnail": None,
    }


def _first(tags: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if text := field_text(tags.get(name)):
            return text
    return None


def _when(text: str | None) -> tuple[str | None, str | None]:
    """ISO 8601 time and its offset (`+02:00`; `+00:00` for FFmpeg's `Z`) from a tag; the text
    as it is, without a zone, when it is not such a time."""
    found = _WHEN.match(text or "")
    if not found:
        return text, None
    date, clock, zone = found.groups()
    if zone == "Z":
        zone = "+00:00"
    elif zone and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    return f"{date}T{clock}", zone


def _place(text: str | None) -> dict[str, float] | None:
    """Decimal degrees (and metres of altitude) from an ISO 6709 string; None when absent,
    malformed or off the globe."""
    found = _ISO6709.match(text or "")
    if not found:
        return None
    try:
        lat, lon = _angle(found.group(1), 2), _angle(found.group(2), 3)
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    place = {"latitude": round(lat, 6), "longitude": round(lon, 6)}
    if found.group(3):
        place["altitude"] = round(float(found.group(3)), 1)
    return place


def _angle(text: str, degree_digits: int) -> float:
    """An ISO 6709 angle: ±D[.d], ±DM[.m] or ±DMS[.s], told apart by the digits before the
    point (2, 4 or 6 for a latitude; 3, 5 or 7 for a longitude)."""
    whole, _, fraction = text[1:].partition(".")
    d = degree_digits
    parts = [whole[:d], whole[d : d + 2], whole[d + 2 :]]
    extra = len(whole) - d
    if extra not in (0, 2, 4):
        raise ValueError(f"not an ISO 6709 angle: {text}")
    last = extra // 2
    parts[last] = f"{parts[last]}.{fraction or 0}"
    degrees, minutes, seconds = (float(p) if p else 0.0 for p in parts)
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"not an ISO 6709 angle: {text}")
    value = degrees + minutes / 60 + seconds / 3600
    return -value if text.startswith("-") else value
