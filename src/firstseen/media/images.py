"""Decode any still image Pillow reads into upright RGB, refusing bombs and broken files."""

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from firstseen.errors import MediaError
from firstseen.media.budget import MAX_PIXELS, check_picture, refuse_picture
from firstseen.media.files import check_regular_file

ImageSource = Path | bytes | bytearray | memoryview | BinaryIO

# Pillow's own guard, for the sizes it meets while decoding (a GIF frame past its screen, the PNG
# inside an icon): an error at our budget rather than a warning printed on stderr.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
# Pictures are converted a band of rows at a time, so the conversion's intermediate images
# (RGBA, white, composite: 12 bytes a pixel) stay near 50 MB whatever the picture's size.
_BAND_PIXELS = 4_000_000


def load_image(source: ImageSource) -> np.ndarray:
    """Return the first frame of an image file or buffer as upright RGB (H x W x 3, uint8).

    EXIF orientation is applied so a phone photo and its re-saved copy come out the same way up.
    The canvas a header declares (a GIF's logical screen, an animation's canvas) is checked
    against the decoding budget (`media.budget`) before anything is decoded, and the picture's
    size again once decoded (an icon picks its size then).
    """
    try:
        if isinstance(source, Path):
            check_regular_file(source)
            with source.open("rb") as file:
                return _decode(file)
        if isinstance(source, bytes | bytearray | memoryview):
            return _decode(io.BytesIO(source))
        return _decode(source)
    except UnidentifiedImageError as error:
        raise MediaError("not a recognised image format") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise refuse_picture() from error
    # Pillow's plugins report broken data with any of these.
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        message = getattr(error, "strerror", None) or str(error)
        if "truncated" in message:
            raise MediaError("truncated image data") from error
        raise MediaError(f"unreadable image: {message}") from error


def _decode(file: BinaryIO) -> np.ndarray:
    with Image.open(file) as image:
        check_picture(*image.size)
        image.load()
        check_picture(*image.size)
        ImageOps.exif_transpose(image, in_place=True)
        return to_rgb(image)


def to_rgb(image: Image.Image) -> np.ndarray:
    """Convert a Pillow image of any mode to RGB so every signal sees the same picture.

    Transparency is composited onto white (how viewers show it, and stable whatever colour the
    hidden pixels hold); 32-bit, 16-bit and float greys are stretched over their value range,
    because Pillow's own conversion clips them at 255.
    """
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _stretch(image)
    if image.has_transparency_data:
        return _banded(image, _onto_white)
    return _banded(image, lambda band: band.convert("RGB"))


def _onto_white(band: Image.Image) -> Image.Image:
    white = Image.new("RGBA", band.size, "white")
    return Image.alpha_composite(white, band.convert("RGBA")).convert("RGB")


def _banded(image: Image.Image, convert: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    """`convert` (a per-pixel conversion to RGB) applied a band of rows at a time, written into
    one array: the same pixels as converting the whole picture at once, in far less memory."""
    width, height = image.size
    rgb = np.empty((height, width, 3), np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, width))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        rgb[top:bottom] = np.asarray(convert(image.crop((0, top, width, bottom))))
    rgb.flags.writeable = False  # as Pillow's arrays are: the signals read the picture, never write
    return rgb


def _stretch(image: Image.Image) -> Image.Image:
    values = np.nan_to_num(np.asarray(image, dtype=np.float32), posinf=0, neginf=0)
    low, high = values.min(), values.max()
    if high > low:
        values = (values - low) * (255 / (high - low))
    return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8))
