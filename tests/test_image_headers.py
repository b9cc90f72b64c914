"""Property test over image headers: small real pictures of every common format, mutated and cut
short, and headers declaring huge canvases, fed to `probe` and `load_image`.

Whatever the bytes, the answer is a picture within the decoding budget or the project's own
error (MediaError), never another exception, never a hang, never a large allocation.
"""

import contextlib
import io
import resource
import tempfile
from datetime import timedelta
from pathlib import Path

import crafted
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from firstseen.errors import MediaError
from firstseen.media import load_image, probe
from firstseen.media.budget import limited

BUDGET = 1_000_000  # pixels per picture here: anything decoded past it would show in the shape
EVIDENCE = Path(__file__).resolve().parents[1] / "demo" / "evidence.jpg"


def _saved(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(18)
    rgba = Image.fromarray(rng.integers(0, 255, (24, 32, 4), np.uint8), "RGBA")
    rgb = rgba.convert("RGB")
    frames = [rgb, rgb.transpose(Image.Transpose.ROTATE_180)]
    return [
        EVIDENCE.read_bytes(),
        _saved(rgb, "JPEG", quality=80),
        _saved(rgb, "JPEG", progressive=True),
        _saved(rgba, "PNG"),
        _saved(rgb.quantize(16), "PNG", transparency=2),
        _saved(rgb.quantize(16), "GIF", save_all=True, append_images=frames[1:]),
        _saved(rgba, "WEBP", quality=70),
        _saved(rgb, "WEBP", save_all=True, append_images=frames[1:], lossless=True),
        _saved(rgb, "PNG", save_all=True, append_images=frames[1:]),  # APNG
        _saved(rgb, "TIFF", compression="tiff_deflate"),
        _saved(rgb.convert("I;16"), "TIFF"),
        _saved(rgb, "BMP"),
    ]


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed picture with a few bytes changed (headers first: most of the flips land in the
    first 64 bytes), then perhaps cut short."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        end = draw(st.sampled_from([min(64, len(data)), len(data)]))
        data[draw(st.integers(0, end - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


@st.composite
def huge_canvas(draw: st.DrawFn) -> bytes:
    """A header declaring a canvas of up to 65535 x 65535 (4 gigapixels) around a tiny image."""
    make = draw(st.sampled_from(sorted(crafted.CANVASES.values(), key=lambda f: f.__name__)))
    width, height = draw(st.integers(1, 65535)), draw(st.integers(1, 65535))
    return make(max(width, 16), max(height, 16))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@settings(
    max_examples=100,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.one_of(mutated(), huge_canvas()))
def _load_any(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        with contextlib.suppress(MediaError):
            probe(path)
    with limited(pixels=BUDGET):
        try:
            rgb = load_image(data)
        except MediaError:
            return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.shape[0] * rgb.shape[1] <= BUDGET


def test_hostile_headers_give_a_picture_within_budget_or_a_clear_error():
    before = _peak_rss_mb()
    _load_any()
    grown = _peak_rss_mb() - before
    assert grown < 200, f"decoding hostile headers grew the process by {grown:.0f} MB"
