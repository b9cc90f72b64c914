"""The decoding budget: pictures and video frames over it are refused from their headers, before
anything is decoded, and what is decoded costs a bounded amount of memory."""

import subprocess
import sys
import textwrap
from pathlib import Path

import av
import crafted
import numpy as np
import pytest
from PIL import Image, ImageFile

from firstseen.errors import MediaError
from firstseen.media import images, load_image, sample_video, video_info
from firstseen.media.budget import MAX_FRAME_PIXELS, OverBudget, limited

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_decoding(monkeypatch):
    """Makes any attempt to decode a picture fail the test."""

    def refuse(self):
        raise AssertionError(f"decoded a {self.size} picture")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize("kind", sorted(crafted.CANVASES))
def test_a_huge_canvas_is_refused_before_decoding(kind, no_decoding):
    """A GIF's logical screen, an APNG's or WebP's canvas, a TIFF's size: whatever the header
    declares counts, even around a single decoded pixel."""
    data = crafted.CANVASES[kind](14000, 14000)
    assert len(data) < 2000
    with (
        limited(pixels=50_000_000),
        pytest.raises(OverBudget, match=r"^too large: 14000 x 14000 pixels is over the 50-"),
    ):
        load_image(data)


def test_the_archive_budget_applies_without_a_request_budget(no_decoding):
    with pytest.raises(OverBudget, match="over the 210-megapixel budget"):
        load_image(crafted.gif_screen(15000, 15000))


def test_pictures_within_the_budget_still_load():
    with limited(pixels=256):
        assert load_image(crafted.gif_screen(16, 16)).shape == (16, 16, 3)
        assert load_image(crafted.webp_canvas(16, 16)).shape == (16, 16, 3)


def test_refusals_are_recorded_for_the_request_that_made_them():
    with limited(pixels=100) as budget:
        with pytest.raises(OverBudget):
            load_image(crafted.gif_screen(11, 10))
        assert [str(e) for e in budget.breaches] == [
            "too large: 11 x 10 pixels is over the 0.0001-megapixel budget"
        ]
    assert load_image(crafted.gif_screen(11, 10)).shape == (10, 11, 3)  # the budget is over


@pytest.mark.parametrize("mode", ["P", "PA", "RGBA", "LA", "RGB", "L", "1", "CMYK", "I;16", "F"])
def test_conversion_in_bands_gives_the_same_picture(monkeypatch, mode):
    """Pictures are converted a few rows at a time; the result is the whole conversion's."""
    rng = np.random.default_rng(7)
    picture = Image.fromarray(rng.integers(0, 255, (37, 29, 4), np.uint8), "RGBA")
    if mode == "P":
        picture = picture.convert("RGB").quantize(16)
        picture.info["transparency"] = 3
    elif mode in ("I;16", "F"):
        picture = Image.fromarray(rng.integers(0, 4000, (37, 29)).astype(np.float32), "F")
        picture = picture.convert("I").convert(mode) if mode == "I;16" else picture
    else:
        picture = picture.convert(mode)
    whole = images.to_rgb(picture)
    monkeypatch.setattr(images, "_BAND_PIXELS", 29 * 3)  # three rows a band, the last one short
    assert (images.to_rgb(picture) == whole).all()
    assert not images.to_rgb(picture).flags.writeable


def test_a_transparent_canvas_costs_little_more_than_its_pixels():
    """A 6000 x 6000 GIF screen around one pixel (36 megapixels, 108 MB as RGB) grew the process
    by 343 MB: RGBA, white and composite copies of the whole canvas were made at once."""
    script = textwrap.dedent(
        """
        import resource, sys
        sys.path[:0] = [sys.argv[1], sys.argv[2]]
        import crafted
        from firstseen.media import load_image
        data = crafted.gif_screen(6000, 6000)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rgb = load_image(data)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(rgb.shape, grown // 1024)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "src"), str(ROOT / "tests")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    shape, grown_mb = run.stdout.rsplit(" ", 1)
    assert shape == "(6000, 6000, 3)"
    assert int(grown_mb) < 250, f"decoding grew the process by {grown_mb} MB"


def _video(path: Path, width: int, height: int, codec: str = "libx264", frames: int = 3) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for index in range(frames):
            picture = np.full((height, width, 3), index * 40 % 256, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_video_frames_over_the_budget_are_refused_before_decoding(tmp_path):
    path = _video(tmp_path / "hd.mp4", 1280, 720)
    with limited(pixels=640 * 480), pytest.raises(OverBudget, match="1280 x 720 pixels"):
        video_info(path)
    with limited(pixels=640 * 480), pytest.raises(OverBudget, match="per frame"):
        next(sample_video(path))
    with limited(pixels=1280 * 720):
        assert next(sample_video(path)).rgb.shape == (720, 1280, 3)


def test_frames_beyond_8k_are_refused_whatever_the_request(tmp_path):
    """A video frame's budget is DCI 8K: a few bytes of video may declare far larger frames,
    and frames are decoded, queued and described by the dozen."""
    path = _video(tmp_path / "huge.mkv", 8200, 4400, codec="mjpeg", frames=1)
    assert MAX_FRAME_PIXELS < 8200 * 4400
    with pytest.raises(OverBudget, match=r"8200 x 4400 pixels is over the 35\.4-megapixel"):
        video_info(path)


def test_a_request_stops_decoding_at_its_deadline(tmp_path):
    path = _video(tmp_path / "clip.mp4", 64, 48, frames=50)
    with limited(seconds=0), pytest.raises(OverBudget, match="over the 0-second budget"):
        list(sample_video(path))


def test_over_budget_is_a_media_error():
    """So every caller that reports a bad file (add, search, report) reports this one too."""
    assert issubclass(OverBudget, MediaError)
