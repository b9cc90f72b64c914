"""Decoding real images and videos: modes, orientation, sniffing, sampling times, broken files."""

import io
import struct
import zlib
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from firstseen.errors import MediaError
from firstseen.media import load_frame_at, load_image, probe, sample_video, video_info
from firstseen.media.images import to_rgb

PDQ = "threatexchange-pdq"
MODES = f"{PDQ}/misc-images/modes"
PYSCENE = "pyscenedetect-resources"
GOLDENEYE = f"{PYSCENE}/goldeneye-vfr-drop3.mp4"
ROTATED = f"{PYSCENE}/issue-134-rotate.mp4"
TESTVIDEO = f"{PYSCENE}/testvideo.mp4"  # 29.97 fps; black from frame 180, cut back at 30
CHAIR = "threatexchange-tmk-vpdq/sample-videos/chair-19-sd-bar.mp4"  # index (moov) at the front
WIDE_GREYS = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
COLOURLESS = {"1", "L", "LA", *WIDE_GREYS}


def _grey(rgb: np.ndarray, size: int = 32) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(rgb)).convert("L")
    return np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float32)


def _small(rgb: np.ndarray) -> np.ndarray:
    image = Image.fromarray(rgb).resize((32, 32), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32)


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def _png(width: int, height: int) -> bytes:
    """An 8-bit grey PNG whose header claims width x height; a few rows of zeros follow, since
    the claim alone must be refused before any pixel is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(bytes((width + 1) * 16))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _times(frames) -> list[float]:
    return [frame.time for frame in frames]


def _steps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image, dtype=np.float64)


def _all_frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [frame.time for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def original(shared_data) -> np.ndarray:
    return load_image(shared_data / MODES / "original.jpg")


@pytest.fixture(scope="module")
def testvideo_frames(shared_data) -> list:
    return list(sample_video(shared_data / TESTVIDEO))


@pytest.fixture(scope="module")
def goldeneye_frames(shared_data) -> list:
    return list(sample_video(shared_data / GOLDENEYE))


# Images


@pytest.mark.parametrize(
    "name",
    [
        "1.png",
        "CMYK.jpg",
        "F.webp",
        "HSV.webp",
        "I.webp",
        "L.png",
        "LA.png",
        "LAB.webp",
        "P.png",
        "PA.webp",
        "RGB.jpg",
        "RGBA.png",
        "YCbCr.jpg",
    ],
)
def test_mode_files_match_the_original(shared_data, original, name):
    rgb = load_image(shared_data / MODES / name)
    assert rgb.shape == original.shape and rgb.dtype == np.uint8
    assert _mad(_grey(rgb), _grey(original)) < 2
    if name.split(".")[0] not in COLOURLESS:
        assert _mad(_small(rgb), _small(original)) < 2


@pytest.mark.parametrize(
    "mode",
    [
        *("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "HSV", "LAB"),
        *WIDE_GREYS,
    ],
)
def test_every_pillow_mode_converts_to_the_same_picture(shared_data, mode):
    with Image.open(shared_data / MODES / "original.jpg") as image:
        source = image.reduce(4)
    expected = np.asarray(source)
    rgb = to_rgb(source.convert(mode))
    assert rgb.shape == expected.shape and rgb.dtype == np.uint8
    # Wide greys are stretched over their range, so compare structure, not levels.
    assert _correlation(_grey(rgb), _grey(expected)) > 0.98
    if mode not in COLOURLESS:
        assert _mad(_small(rgb), _small(expected)) < 3


def test_transparency_is_composited_onto_white():
    rgba = np.zeros((8, 16, 4), np.uint8)
    rgba[:, 8:] = (200, 10, 10, 255)  # the left half is transparent black
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, "PNG")
    rgb = load_image(buffer.getvalue())
    assert (rgb[:, :8] == 255).all()
    assert (rgb[:, 8:] == (200, 10, 10)).all()

    palette = Image.fromarray(rgba[..., :3]).quantize(2)
    palette.info["transparency"] = int(palette.getpixel((0, 0)))
    assert (to_rgb(palette)[:, :8] == 255).all()


def test_sixteen_bit_grey_is_scaled_over_its_range(shared_data):
    path = shared_data / PDQ / "python-threatexchange-resources/I16.png"
    values = _pixels(path)
    rgb = load_image(path)
    expected = (values - values.min()) * 255 / (values.max() - values.min())
    assert (rgb[..., 0] == rgb[..., 2]).all()
    assert np.abs(rgb[..., 0] - expected).max() <= 0.5 + 1e-6


def test_grey_with_alpha_is_composited(shared_data):
    path = shared_data / PDQ / "python-threatexchange-resources/LA.png"
    grey, alpha = np.moveaxis(_pixels(path), -1, 0)
    expected = grey * alpha / 255 + 255 * (1 - alpha / 255)
    assert np.abs(load_image(path)[..., 1] - expected).max() <= 1


def test_exif_orientation_makes_every_photo_upright(shared_data):
    folder = shared_data / PDQ / "reg-test-input/exif-rotn"
    reference = _grey(load_image(folder / "exif-rotn-1.jpg"), 16)
    for orientation, shape in [
        (1, (3024, 4032)),
        (3, (3024, 4032)),
        (6, (4032, 3024)),
        (8, (4032, 3024)),
    ]:
        rgb = load_image(folder / f"exif-rotn-{orientation}.jpg")
        assert rgb.shape[:2] == shape
        # Separate shots of one desk: only the upright turn resembles the reference.
        scores = [_correlation(_grey(np.rot90(rgb, turns), 16), reference) for turns in range(4)]
        assert scores[0] == max(scores) and scores[0] > 0.4, (orientation, scores)


def test_tiny_image_loads(shared_data):
    assert load_image(shared_data / PDQ / "misc-images/wee.jpg").shape == (42, 34, 3)


def test_mislabelled_formats_are_read_by_content(shared_data):
    folder = shared_data / "imagededup-ukbench/formats_images"
    jpeg = load_image(folder / "ukbench09380.jpeg")
    for name in ("ukbench09380.bmp", "ukbench09380.png", "ukbench09380.webp"):
        assert probe(folder / name) == "image"
    assert (load_image(folder / "ukbench09380.bmp") == jpeg).all()
    assert (load_image(folder / "ukbench09380.png") == jpeg).all()
    assert _mad(load_image(folder / "ukbench09380.webp"), jpeg) < 5


@pytest.mark.parametrize("kind", ["GIF", "WEBP"])
def test_animations_give_their_first_frame(tmp_path, kind):
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    path = tmp_path / "animation"
    frames[0].save(path, kind, save_all=True, append_images=frames[1:], lossless=True)
    assert probe(path) == "image"
    assert (load_image(path) == (255, 0, 0)).all()


def test_random_bytes_fail_clearly(shared_data):
    path = shared_data / "imagededup-ukbench/mixed_images/ukbench09268_corrupt.jpg"
    with pytest.raises(MediaError, match=r"^not an image or video \(unrecognised content\)$"):
        probe(path)
    with pytest.raises(MediaError, match="not a recognised image format"):
        load_image(path)


def test_empty_file_and_directory_are_refused(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(MediaError, match=r"^empty file$"):
        probe(empty)
    with pytest.raises(MediaError):
        load_image(empty)
    with pytest.raises(MediaError, match=r"^is a directory$"):
        probe(tmp_path)
    with pytest.raises(MediaError, match="No such file"):
        load_image(tmp_path / "missing.png")


def test_truncated_jpeg_is_refused(shared_data, tmp_path):
    data = (shared_data / MODES / "original.jpg").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert probe(path) == "image"
    with pytest.raises(MediaError, match=r"^truncated image data$"):
        load_image(path)


@pytest.mark.parametrize("side", [30_000, 15_000])  # above twice the limit, and just above
def test_decompression_bomb_is_refused(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(side, side))
    assert path.stat().st_size < 10_000
    assert probe(path) == "image"
    with pytest.raises(MediaError, match=r"^too large: (15000 x 15000 pixels is )?over the 210-"):
        load_image(path)


# Telling images from videos


def test_probe_sniffs_videos_and_rejects_impostors(shared_data, tmp_path):
    assert probe(shared_data / TESTVIDEO) == "video"
    assert probe(shared_data / "opencv-samples-data/Megamind.avi") == "video"
    text = tmp_path / "clip.mp4"
    text.write_text("this is not a video\n" * 10)
    noise = tmp_path / "noise.jpg"  # FFmpeg opens any *.jpg as a one-image "video"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    ansi = tmp_path / "notes.nfo"  # ... and text named like this as ANSI art
    ansi.write_text("hello\n")
    for path in (text, noise, ansi):
        with pytest.raises(MediaError, match="unrecognised content"):
            probe(path)
    with pytest.raises(MediaError, match=r"^unreadable video: Invalid data found"):
        list(sample_video(text))


def test_probe_asks_pillow_then_ffmpeg_for_unsigned_formats(tmp_path):
    ppm = tmp_path / "picture.ppm"
    Image.new("RGB", (4, 4), "green").save(ppm)
    assert probe(ppm) == "image"
    raw = _raw_h264(tmp_path / "stream.h264")
    assert probe(raw) == "video"


def test_matroska_is_a_video(tmp_path):
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 32, 32
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert probe(path) == "video"
    assert len(list(sample_video(path))) == 1


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000, layout="mono")
        samples = np.zeros((1, 1024), np.float32)
        for index in range(8):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, index * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert probe(path) == "video"  # an ISO media file; only decoding can tell
    with pytest.raises(MediaError, match=r"^no video stream$"):
        list(sample_video(path))
    with pytest.raises(MediaError, match=r"^no video stream$"):
        video_info(path)


# Videos


def test_samples_cover_every_second(shared_data, testvideo_frames):
    times = _times(testvideo_frames)
    assert times[0] == 0.0
    assert min(_steps(times)) > 0
    assert max(_steps(times)) <= 1.05
    assert times[-1] >= video_info(shared_data / TESTVIDEO).duration - 1.05
    assert all(frame.rgb.shape == (720, 1280, 3) for frame in testvideo_frames)
    assert all(frame.rgb.dtype == np.uint8 for frame in testvideo_frames)


def test_shot_changes_add_frames_between_samples(shared_data):
    # testvideo cuts from black to the leaf at frame 30 and from the leaf to black at frame 180;
    # frames 181-210 and 361-393 are black (the scene list puts its boundaries at 201 and 382,
    # mid-fade), so nothing changes there from one frame to the next.
    frames = list(sample_video(shared_data / TESTVIDEO, fps=0.25))
    times = _times(frames)
    for cut in (30, 180):
        assert round(cut * 1001 / 30000, 3) in [round(t, 3) for t in times]
    assert next(f for f in frames if round(f.time, 3) == 6.006).rgb.mean() < 10  # black
    golden = _times(sample_video(shared_data / GOLDENEYE, fps=0.25))
    assert [round(t, 3) for t in golden] == [0.0, 3.754, 4.004, 8.008, 8.759]


def test_steady_motion_is_not_a_shot_change(shared_data):
    # The cockatoo flaps and turns fast (frame-to-frame change up to 40) but never cuts.
    times = _times(sample_video(shared_data / "imageio-standard-images/cockatoo.mp4", fps=0.5))
    assert times == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]


def test_variable_frame_rate_uses_real_timestamps(shared_data, goldeneye_frames):
    decoded = _all_frame_times(shared_data / GOLDENEYE)
    times = _times(goldeneye_frames)
    assert set(times) <= set(decoded)
    for second in range(10):
        assert min(t for t in decoded if t >= second) in times
    assert max(_steps(times)) <= 1 + max(_steps(decoded))


def test_out_of_order_timestamps_never_repeat_or_go_back(shared_data):
    # This AVI's packed B-frames come out with timestamps that step backwards.
    path = shared_data / "opencv-samples-data/Megamind.avi"
    decoded = _all_frame_times(path)
    assert min(_steps(decoded)) < 0
    assert min(_steps(_times(sample_video(path, fps=4)))) > 0


def test_display_rotation_is_applied(shared_data, goldeneye_frames):
    # issue-134-rotate.mp4 stores the goldeneye clip's pixels unrotated, with a display matrix
    # that turns them 90 degrees clockwise: players (and PySceneDetect's own test) show it
    # 544 wide and 1280 high.
    path = shared_data / ROTATED
    info = video_info(path)
    assert (info.width, info.height, info.rotation) == (544, 1280, 90)
    rotated = {round(frame.time, 3): frame.rgb for frame in sample_video(path)}
    for frame in goldeneye_frames:
        rgb = rotated[round(frame.time, 3)]
        assert rgb.shape == (1280, 544, 3)
        assert _mad(rgb, np.rot90(frame.rgb, -1)) < 2
        assert _mad(rgb, np.rot90(frame.rgb, 1)) > 20


def test_video_info(shared_data):
    info = video_info(shared_data / TESTVIDEO)
    assert (info.width, info.height, info.rotation) == (1280, 720, 0)
    assert info.duration == pytest.approx(24.02, abs=0.01)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    vfr = video_info(shared_data / GOLDENEYE)
    assert vfr.duration == pytest.approx(9.97, abs=0.01)
    assert vfr.fps == pytest.approx(160 / vfr.duration, rel=0.01)


def test_load_frame_at_finds_the_sampled_frame(shared_data, goldeneye_frames):
    path = shared_data / GOLDENEYE
    cut = next(frame for frame in goldeneye_frames if round(frame.time, 3) == 3.754)
    found = load_frame_at(path, cut.time)
    assert found.time == pytest.approx(cut.time) and (found.rgb == cut.rgb).all()
    assert load_frame_at(path, 5.0).time == pytest.approx(5.005, abs=1e-3)
    assert load_frame_at(path, 60.0).time == pytest.approx(max(_all_frame_times(path)))
    assert load_frame_at(shared_data / ROTATED, 5.0).rgb.shape == (1280, 544, 3)


def test_load_frame_at_decodes_from_the_start_where_seeking_gives_a_corrupt_picture(shared_data):
    # cockatoo.mp4 flags frames at 3.8 and 7.25 s as keys, but decoded from there they stay
    # green: only decoding from the first frame gives the picture that was archived.
    path = shared_data / "imageio-standard-images" / "cockatoo.mp4"
    sampled = {round(frame.time, 2): frame.rgb for frame in sample_video(path)}
    for time in (5.0, 9.0):
        found = load_frame_at(path, time)
        assert found.time == time and (found.rgb == sampled[time]).all()


def _raw_h264(path: Path) -> Path:
    """50 frames at 25 fps, grey level 5 x frame number, with no container and no timestamps."""
    with av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height = 64, 48
        for index in range(50):
            picture = np.full((48, 64, 3), index * 5, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_raw_stream_times_are_counted_from_the_frame_rate(tmp_path):
    path = _raw_h264(tmp_path / "stream.h264")
    assert _times(sample_video(path, fps=2)) == [0.0, 0.52, 1.0, 1.52]
    frame = load_frame_at(path, 1.0)
    assert frame.time == 1.0 and abs(frame.rgb.mean() - 125) < 3


def test_video_cut_short_raises_after_its_frames(shared_data, tmp_path):
    # The index comes first, so decoding starts; the threaded decoder drops the error for the
    # half packet at the cut, and FFmpeg then ends quietly.
    data = (shared_data / CHAIR).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) * 3 // 10])
    kept = []
    with pytest.raises(MediaError, match=r"^truncated video: frames stop at 4\.7 s of 18\.8 s$"):
        for frame in sample_video(path):
            kept.append(frame)
    assert len(kept) == 5


def test_video_cut_before_its_index_is_unreadable(shared_data, tmp_path):
    data = (shared_data / TESTVIDEO).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) * 3 // 10])
    with pytest.raises(MediaError, match=r"^unreadable video: Invalid data found"):
        list(sample_video(path))
    with pytest.raises(MediaError, match=r"^unreadable video: Invalid data found"):
        video_info(path)


def test_fps_must_be_positive(shared_data):
    with pytest.raises(ValueError, match="fps"):
        next(sample_video(shared_data / GOLDENEYE, fps=0))
