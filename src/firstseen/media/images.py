"""Decode any still image Pillow reads into upright RGB, refusing bombs and broken files."""

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from firstseen.errors import MediaError

ImageSource = Path | bytes | bytearray | memoryview | BinaryIO

# Phone cameras reach 200 megapixels; Pillow's default (about 89) would refuse their photos.
# Anything larger is treated as a decompression bomb and refused before decoding.
Image.MAX_IMAGE_PIXELS = 210_000_000


def load_image(source: ImageSource) -> np.ndarray:
    """Return the first frame of an image file or buffer as upright RGB (H x W x 3, uint8).

    EXIF orientation is applied so a phone photo and its re-saved copy come out the same way up.
    Pillow's decompression-bomb warning is raised as an error: a header that claims more than
    `Image.MAX_IMAGE_PIXELS` pixels (210 megapixels) is refused before decoding.
    """
    try:
        if isinstance(source, Path):
            with source.open("rb") as file:
                return _decode(file)
        if isinstance(source, bytes | bytearray | memoryview):
            return _decode(io.BytesIO(source))
        return _decode(source)
    except UnidentifiedImageError as error:
        raise MediaError("not a recognised image format") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        limit = Image.MAX_IMAGE_PIXELS // 1_000_000
        raise MediaError(f"decompression bomb: over the {limit}-megapixel limit") from error
    # Pillow's plugins report broken data with any of these.
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        message = getattr(error, "strerror", None) or str(error)
        if "truncated" in message:
            raise MediaError("truncated image data") from error
        raise MediaError(f"unreadable image: {message}") from error


def _decode(file: BinaryIO) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(file) as image:
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
    elif image.has_transparency_data:
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"))


def _stretch(image: Image.Image) -> Image.Image:
    values = np.nan_to_num(np.asarray(image, dtype=np.float32), posinf=0, neginf=0)
    low, high = values.min(), values.max()
    if high > low:
        values = (values - low) * (255 / (high - low))
    return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8))
