"""What a picture's embedded metadata (EXIF, XMP, IPTC) says about where it came from.

A few fields matter to provenance (camera, software, capture time and its time zone, GPS,
orientation, an EXIF thumbnail of other content); the rest are kept, escaped and cut, for a
report's appendix. Every value comes from the file, so none is trusted: control characters are
escaped, long values cut (`PROVENANCE.field_chars`), the set capped (`PROVENANCE.raw_fields`),
and a file Pillow cannot parse gives the `unreadable` state with its reason, never an error.
"""

import io
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageFile, IptcImagePlugin, TiffImagePlugin

from firstseen.errors import MediaError
from firstseen.media.budget import check_picture
from firstseen.media.files import check_regular_file
from firstseen.text import printable
from firstseen.tuning import PROVENANCE

_IFDS = (("Exif", ExifTags.IFD.Exif), ("GPS", ExifTags.IFD.GPSInfo), ("IFD1", ExifTags.IFD.IFD1))
_GPS = ExifTags.GPS
# IPTC IIM datasets (record 2) worth naming; the others keep their numbers.
_IPTC = {
    (2, 5): "ObjectName",
    (2, 55): "DateCreated",
    (2, 60): "TimeCreated",
    (2, 80): "By-line",
    (2, 90): "City",
    (2, 101): "Country",
    (2, 105): "Headline",
    (2, 110): "Credit",
    (2, 115): "Source",
    (2, 116): "CopyrightNotice",
    (2, 120): "Caption-Abstract",
}
_THUMBNAIL_OFFSET, _THUMBNAIL_LENGTH = 0x0201, 0x0202
# Pillow warns of each broken EXIF field it skips; the file's fields are read as far as they go,
# and a warning printed on a terminal would tell the user nothing more.
warnings.filterwarnings("ignore", category=UserWarning, module="PIL.TiffImagePlugin")


def read_metadata(path: Path) -> dict[str, Any]:
    """`state` (`read`, `none` or `unreadable` with a `reason`), the provenance `fields`, and
    the `raw` set (name → escaped text) with `raw_omitted` past the cap."""
    try:
        check_regular_file(path)
        with Image.open(path) as image:
            return _read(image)
    except MediaError as exc:
        return {"state": "unreadable", "reason": str(exc)}
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, KeyError) as exc:
        # Pillow's parsers report broken headers with any of these; not an image at all
        # (a video) is OSError too, and simply has no picture metadata to read.
        if isinstance(exc, Image.UnidentifiedImageError):
            return {"state": "none"}
        return {"state": "unreadable", "reason": f"broken metadata: {bounded(str(exc))}"}


def _read(image: ImageFile.ImageFile) -> dict[str, Any]:
    exif = image.getexif()
    raw = dict(_raw(image, exif))
    if not raw:
        return {"state": "none"}
    fields = _fields(image, exif)
    names = list(raw)[: PROVENANCE.raw_fields]
    return {
        "state": "read",
        "fields": fields,
        "raw": {n: raw[n] for n in names},
        "raw_omitted": len(raw) - len(names),
    }


def _raw(image: ImageFile.ImageFile, exif: Image.Exif) -> Iterator[tuple[str, str]]:
    """Every field as (group:name, escaped text), in the file's order."""
    for tag, value in exif.items():
        if tag not in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo):
            yield f"IFD0:{ExifTags.TAGS.get(tag, hex(tag))}", _text(value)
    for group, ifd in _IFDS:
        names = ExifTags.GPSTAGS if group == "GPS" else ExifTags.TAGS
        for tag, value in exif.get_ifd(ifd).items():
            yield f"{group}:{names.get(tag, hex(tag))}", _text(value)
    iptc = IptcImagePlugin.getiptcinfo(image) or {}
    for key, value in iptc.items():
        yield f"IPTC:{_IPTC.get(key, f'{key[0]}:{key[1]}')}", _text(value)
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if xmp:
        yield "XMP", _text(xmp)


def _fields(image: Image.Image, exif: Image.Exif) -> dict[str, Any]:
    """The values provenance turns on; absent ones are null."""
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    tags = ExifTags.Base
    captured = sub.get(tags.DateTimeOriginal) or exif.get(tags.DateTime)
    offset = sub.get(tags.OffsetTimeOriginal) or sub.get(tags.OffsetTime)
    return {
        "camera_make": field_text(exif.get(tags.Make)),
        "camera_model": field_text(exif.get(tags.Model)),
        "software": field_text(exif.get(tags.Software)),
        "captured_at": _iso(captured),
        "time_zone": field_text(offset),
        "gps": _gps(exif.get_ifd(ExifTags.IFD.GPSInfo)),
        "orientation": _int(exif.get(tags.Orientation)),
        "thumbnail": _thumbnail(image, exif),
    }


def _thumbnail(image: Image.Image, exif: Image.Exif) -> dict[str, Any] | None:
    """The EXIF thumbnail (IFD1) compared with the picture: an editor that changed the picture
    may have left the camera's thumbnail of what was shot."""
    ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    start, length = ifd1.get(_THUMBNAIL_OFFSET), ifd1.get(_THUMBNAIL_LENGTH)
    blob = image.info.get("exif") or b""
    if not isinstance(start, int) or not isinstance(length, int) or not blob:
        return None
    tiff = blob[6:] if blob.startswith(b"Exif\x00\x00") else blob
    data = tiff[start : start + length]
    if length <= 0 or len(data) < length:
        return {"state": "unreadable", "reason": "thumbnail lies outside the EXIF data"}
    try:
        with Image.open(io.BytesIO(data)) as thumb:
            check_picture(*thumb.size)
            size = thumb.size
            small = _grey_square(thumb)
        correlation = _correlation(small, _grey_square(image))
    except (OSError, SyntaxError, ValueError, EOFError, MediaError) as exc:
        return {"state": "unreadable", "reason": bounded(str(exc))}
    return {
        "state": "read",
        "width": size[0],
        "height": size[1],
        "correlation": round(correlation, 3),
        "differs": correlation < PROVENANCE.thumbnail_differs,
    }


def _grey_square(image: Image.Image) -> np.ndarray:
    """The picture as a small grey square without its dark bars (a camera letterboxes a 3:2
    thumbnail into 160x120), decoded at a reduced scale where the format allows."""
    side = PROVENANCE.thumbnail_side
    image.draft("L", (side * 4, side * 4))
    check_picture(*image.size)
    grey = image.convert("L")
    pixels = np.asarray(grey, dtype=np.float32)
    rows = np.flatnonzero(pixels.max(axis=1) > 24)
    cols = np.flatnonzero(pixels.max(axis=0) > 24)
    if len(rows) and len(cols):
        grey = grey.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))
    return np.asarray(grey.resize((side, side), Image.Resampling.BOX), dtype=np.float32)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two grey squares; 0 where either is flat."""
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / scale) if scale > 0 else 0.0


def _gps(gps: dict[int, Any]) -> dict[str, float] | None:
    """Decimal degrees (and metres of altitude) from the GPS IFD; None when absent or broken."""
    try:
        lat = _degrees(gps[_GPS.GPSLatitude], gps.get(_GPS.GPSLatitudeRef), "S")
        lon = _degrees(gps[_GPS.GPSLongitude], gps.get(_GPS.GPSLongitudeRef), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    place: dict[str, float] = {"latitude": round(lat, 6), "longitude": round(lon, 6)}
    altitude = gps.get(_GPS.GPSAltitude)
    if isinstance(altitude, int | float | Fraction):
        place["altitude"] = round(float(altitude), 1)
    return place


def _degrees(dms: Any, ref: Any, negative: str) -> float:
    degrees, minutes, seconds = (float(x) for x in dms)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if isinstance(ref, str) and ref.strip().upper() == negative else value


def _iso(value: Any) -> str | None:
    """EXIF's `YYYY:MM:DD HH:MM:SS` as ISO 8601 (without a zone: EXIF keeps it apart)."""
    text = field_text(value)
    if text is None or len(text) < 19 or text[4] != ":" or text[7] != ":":
        return text
    return f"{text[:4]}-{text[5:7]}-{text[8:10]}T{text[11:19]}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def field_text(value: Any) -> str | None:
    """A text field as shown: escaped, cut, None when empty or not text."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = bounded(value.strip("\x00 "))
    return text or None


def _text(value: Any) -> str:
    """Any metadata value as bounded, escaped text: bytes as text when they decode, else hex."""
    if isinstance(value, bytes):
        head = value[: PROVENANCE.field_chars]
        try:
            shown = head.decode("utf-8")
        except UnicodeDecodeError:
            shown = head.hex()
        return bounded(shown, extra=len(value) > len(head))
    if isinstance(value, tuple | list):
        return bounded(", ".join(_text(v) for v in value[:16]), extra=len(value) > 16)
    if isinstance(value, TiffImagePlugin.IFDRational):
        return bounded(str(float(value)) if value.denominator else "undefined")
    return bounded(str(value))


def bounded(text: str, extra: bool = False) -> str:
    """At most `PROVENANCE.field_chars` characters of `text`, escaped; marked when cut (or when
    `extra` says the text itself was already a part)."""
    limit = PROVENANCE.field_chars
    cut = extra or len(text) > limit
    return printable(text[:limit]) + ("… (cut)" if cut else "")
