"""Keyframes: one picture per shot at the right time, more in long shots, never a fade's black
frame; the `keyframes` command's files and index, and its one-line errors for bad input."""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from firstseen.cli import app
from firstseen.errors import MediaError
from firstseen.media.frames import spread
from firstseen.media.keyframes import keyframes, plan_keyframes
from firstseen.tuning import SHOTS

runner = CliRunner()
FRAME = 1 / 25  # the demo clip's frame time


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _write_video(path: Path, pictures: list[np.ndarray], fps: int = 10) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for index, rgb in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _scene(seed: int, size: int = 96) -> np.ndarray:
    """A textured picture, distinct per seed, sharp enough to tell from a blur."""
    noise = np.random.default_rng(seed).integers(0, 256, (size // 8, size // 8, 3), np.uint8)
    return np.kron(noise, np.ones((8, 8, 1), np.uint8))


def test_the_demo_clip_gives_one_keyframe_per_shot_at_its_boundaries(demo_dir):
    """demo/make_evidence.py joins 4 s of the rug video (full frame) to 6.4 s of the chair
    video (pillarboxed) at 25 fps: two shots, cut at 4.0 s, ending at 10.4 s."""
    found = list(keyframes(demo_dir / "evidence-clip.mp4"))
    assert [k.pick.shot for k in found] == [1, 2]
    (start1, end1), (start2, end2) = (k.pick.span for k in found)
    assert start1 == 0.0 and abs(end1 - 4.0) <= FRAME and abs(start2 - 4.0) <= FRAME
    assert abs(end2 - 10.4) <= FRAME
    for k in found:
        assert k.pick.span[0] <= k.pick.time < k.pick.span[1]
        assert k.rgb.shape == (360, 640, 3)
    rug, chair = (k.rgb[:, 200:440].astype(int) for k in found)  # between the pillarbox bars
    assert np.abs(rug - chair).mean() > 30 and min(spread(k.rgb) for k in found) > 20


def test_a_fade_in_is_passed_over_and_a_long_shot_gets_a_keyframe_every_n_seconds(tmp_path):
    black = np.zeros((96, 96, 3), np.uint8)
    fade = [(_scene(1) * (i / 10)).astype(np.uint8) for i in range(10)]
    steady = [_scene(1)] * 20
    long_shot = [_scene(2)] * round(2.6 * SHOTS.keyframe_every * 10)
    video = _write_video(tmp_path / "fade.mp4", [black] * 5 + fade + steady + long_shot)
    found = list(keyframes(video))
    assert [k.pick.shot for k in found] == [1, 2, 2, 2]
    spans = [k.pick.span for k in found]
    assert abs(spans[1][0] - 3.5) < 0.15  # the cut into the long shot
    lengths = [end - start for start, end in spans[1:]]
    assert all(0.5 * SHOTS.keyframe_every <= n <= 1.5 * SHOTS.keyframe_every for n in lengths)
    first = found[0]
    assert first.pick.time >= 1.5 and spread(first.rgb) > 40  # the scene, not the fade


def test_bad_input_is_one_error_line(tmp_path, demo_dir):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    cut_short = tmp_path / "cut.mp4"
    cut_short.write_bytes((demo_dir / "evidence-clip.mp4").read_bytes()[:40_000])
    picture = tmp_path / "still.png"
    Image.new("RGB", (64, 64), "red").save(picture)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad, reason in [
        (text, "not an image or video"),
        (cut_short, "video"),
        (picture, "not a video: it is a still image"),
        (empty, "empty file"),
        (tmp_path / "missing.mp4", "No such file"),
    ]:
        result = _invoke("keyframes", bad, "--out", tmp_path / "out")
        assert result.exit_code == 1, (bad, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: ") and reason in lines[0]
    assert not (tmp_path / "out").exists()  # nothing made for input that is no video


def test_truncated_videos_fail_rather_than_give_fewer_keyframes(tmp_path, demo_dir):
    data = (demo_dir / "evidence-clip.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MediaError):
        plan_keyframes(cut)


def test_the_command_writes_pictures_named_by_time_and_an_index(tmp_path, demo_dir):
    out = tmp_path / "frames"
    result = _invoke("keyframes", demo_dir / "evidence-clip.mp4", "--out", out)
    assert result.exit_code == 0, result.output
    index = json.loads((out / "keyframes.json").read_text())
    entries = index["keyframes"]
    assert [e["shot"] for e in entries] == [1, 2] and index["duration"] == pytest.approx(10.4)
    for entry in entries:
        name = entry["file"]
        assert name.startswith(f"kf{entries.index(entry) + 1:03d}-0m")
        assert name.endswith(f"{entry['time']:06.3f}s.jpg")
        with Image.open(out / name) as picture:
            assert picture.format == "JPEG" and picture.size == (640, 360)
        assert name in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [e["file"] for e in entries] + ["keyframes.json"]
    )
    assert "wrote 2 keyframes of 2 shots" in result.stderr


def test_an_output_folder_that_cannot_be_made_is_one_error_line(tmp_path, demo_dir):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder would go")
    result = _invoke("keyframes", demo_dir / "evidence-clip.mp4", "--out", blocker / "sub")
    assert result.exit_code == 1
    assert (
        result.output.strip() == f"error: {blocker / 'sub'}: cannot write keyframes there:"
        " Not a directory"
    )
