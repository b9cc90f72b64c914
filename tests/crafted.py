"""Hostile pictures made in a few bytes: small images whose headers claim a huge canvas.

Each is a real file of its format, saved by Pillow at 1 x 1 (or 16 x 16), with only the size its
header declares changed, so that a decoder believing the header would allocate the whole canvas.
"""

import io
import struct
import zlib

from PIL import Image


def gif_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen is width x height around a 1 x 1 image (37 bytes)."""
    data = bytearray(_saved(Image.new("P", (1, 1)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def png_header(width: int, height: int) -> bytes:
    """A 1 x 1 grey PNG whose IHDR claims width x height (its CRC recomputed)."""
    data = bytearray(_saved(Image.new("L", (1, 1)), "PNG"))
    start = data.index(b"IHDR")
    data[start + 4 : start + 12] = struct.pack(">II", width, height)
    data[start + 17 : start + 21] = struct.pack(">I", zlib.crc32(data[start : start + 17]))
    return bytes(data)


def apng_canvas(width: int, height: int) -> bytes:
    """A two-frame APNG of 16 x 16 frames whose canvas (IHDR) claims width x height."""
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    data = bytearray(buffer.getvalue())
    start = data.index(b"IHDR")
    data[start + 4 : start + 12] = struct.pack(">II", width, height)
    data[start + 17 : start + 21] = struct.pack(">I", zlib.crc32(data[start : start + 17]))
    return bytes(data)


def webp_canvas(width: int, height: int) -> bytes:
    """An animated WebP of two 16 x 16 frames whose VP8X canvas claims width x height."""
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    data = bytearray(buffer.getvalue())
    start = data.index(b"VP8X") + 8 + 4  # chunk header, then flags and reserved bytes
    data[start : start + 6] = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return bytes(data)


def tiff_size(width: int, height: int) -> bytes:
    """An uncompressed 1 x 1 TIFF whose ImageWidth and ImageLength tags claim width x height."""
    data = bytearray(_saved(Image.new("L", (1, 1)), "TIFF"))
    assert data[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * entry
        tag = struct.unpack_from("<H", data, at)[0]
        if tag in (256, 257):  # ImageWidth, ImageLength: made LONGs
            struct.pack_into("<HHII", data, at, tag, 4, 1, width if tag == 256 else height)
    return bytes(data)


CANVASES = {
    "gif": gif_screen,
    "png": png_header,
    "apng": apng_canvas,
    "webp": webp_canvas,
    "tiff": tiff_size,
}


def _saved(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return buffer.getvalue()
