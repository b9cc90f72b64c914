"""Thermal and night-vision looks: the toning a query is searched under when it confirms nothing
as it is (matching/tones.py), and such copies of archived media traced end to end."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_video_search import write_clip

from firstseen.matching.tones import (
    FALSE_COLOUR,
    FALSE_COLOUR_INVERTED,
    INVERTED,
    tonings,
    unwrapped,
)
from firstseen.media.video import load_frame_at


def _ramp(points: list[tuple[int, tuple[int, int, int]]]) -> np.ndarray:
    """A 256-entry RGB palette through the given (level, colour) control points."""
    levels = np.arange(256)
    xs = [x for x, _ in points]
    return np.stack(
        [np.interp(levels, xs, [c[k] for _, c in points]) for k in range(3)], axis=1
    ).astype(np.uint8)


# A rainbow whose brightness rises and falls along it, and a monotonic "ironbow".
RAINBOW = _ramp([(0, (0, 0, 130)), (64, (0, 120, 255)), (128, (80, 255, 120)),
                 (192, (255, 220, 0)), (255, (140, 0, 0))])  # fmt: skip
IRONBOW = _ramp([(0, (0, 0, 20)), (70, (90, 0, 130)), (140, (210, 40, 40)),
                 (200, (250, 150, 0)), (255, (255, 255, 230))])  # fmt: skip


def _scene() -> np.ndarray:
    """A grey picture with structure at several scales (uint8, H x W)."""
    rng = np.random.default_rng(5)
    noise = cv2.resize(rng.random((12, 16)).astype(np.float32), (320, 240))
    detail = cv2.GaussianBlur(rng.random((240, 320)).astype(np.float32), (0, 0), 2)
    return np.clip(255 * (0.75 * noise + 0.25 * detail), 0, 255).astype(np.uint8)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


@pytest.mark.parametrize("palette", [RAINBOW, IRONBOW], ids=["rainbow", "ironbow"])
def test_a_false_colour_palette_is_undone_without_knowing_it(palette):
    gray = _scene()
    coloured = palette[gray]
    assert abs(_correlation(cv2.cvtColor(coloured, cv2.COLOR_RGB2GRAY), gray)) < 0.9 or (
        palette is IRONBOW
    )
    assert abs(_correlation(unwrapped(coloured), gray)) > 0.97


def test_a_grey_picture_is_searched_only_as_its_negative():
    gray = _scene()
    found = tonings(np.repeat(gray[..., None], 3, axis=2))
    assert [name for name, _ in found] == [INVERTED]
    assert _correlation(found[0][1][..., 0], gray) < -0.99


def test_a_coloured_picture_is_searched_under_its_palette_both_ways():
    coloured = RAINBOW[_scene()]
    names = [name for name, _ in tonings(coloured)]
    assert names[:2] == [INVERTED, FALSE_COLOUR] and len(names) == 3


def _thermal(rgb: np.ndarray, palette: np.ndarray | None, invert: bool) -> np.ndarray:
    """The ministry's look: brightness stretched, reversed for black-hot, through a palette,
    with a reticle and HUD text over it."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    low, high = np.percentile(gray, [2, 98])
    gray = np.clip((gray - low) / max(high - low, 1.0), 0, 1) ** 0.8
    level = (255 * (1 - gray if invert else gray)).astype(np.uint8)
    out = np.repeat(level[..., None], 3, axis=2) if palette is None else palette[level]
    picture = Image.fromarray(out)
    draw = ImageDraw.Draw(picture)
    w, h = picture.size
    draw.ellipse([w / 2 - 30, h / 2 - 30, w / 2 + 30, h / 2 + 30], outline=(255, 255, 255), width=2)
    draw.line([(w / 2 - 60, h / 2), (w / 2 + 60, h / 2)], fill=(255, 255, 255), width=2)
    draw.text((8, 8), "ALT 2450M  HDG 127  N48 31' E37 12'", fill=(255, 255, 255))
    return np.asarray(picture)


@pytest.mark.parametrize(
    ("palette", "invert", "tones"),
    [
        (None, True, {INVERTED}),
        # The rainbow's brightness rises and falls: the negative, searched before the palette is
        # fitted, is enough for this scene; the palette undone found it before that order.
        (RAINBOW, False, {INVERTED, FALSE_COLOUR, FALSE_COLOUR_INVERTED}),
        # An ironbow's brightness rises along it: its negative grey scale serves as well.
        (IRONBOW, True, {INVERTED, FALSE_COLOUR_INVERTED}),
    ],
    ids=["black-hot", "rainbow", "ironbow-black-hot"],
)
def test_a_thermal_copy_of_a_video_frame_is_traced(
    demo_searcher, demo_dir, tmp_path, palette, invert, tones
):
    frame = load_frame_at(demo_dir / "media" / "chair-20-sd-bar.mp4", 12.0).rgb
    h, w = frame.shape[:2]
    query = _thermal(frame[h // 10 : -h // 10, w // 10 : -w // 10], palette, invert)
    Image.fromarray(query).save(tmp_path / "thermal.jpg", quality=85)
    best = demo_searcher.search(tmp_path / "thermal.jpg").matches[0]
    assert best.item.path.endswith("chair-20-sd-bar.mp4") and best.match
    assert abs(best.time - 12.0) <= 2.0
    assert best.tone in tones


def test_a_copy_only_a_fallback_confirms_is_missed_without_the_budget_for_it(
    demo_searcher, demo_dir, tmp_path, monkeypatch
):
    """A budget saves time on the queries nothing confirms at the price of the copies only a
    fallback finds: a rainbow copy is confirmed under its tonings, which a budget of no pictures
    never describes."""
    frame = load_frame_at(demo_dir / "media" / "chair-20-sd-bar.mp4", 12.0).rgb
    h, w = frame.shape[:2]
    query = _thermal(frame[h // 10 : -h // 10, w // 10 : -w // 10], RAINBOW, False)
    Image.fromarray(query).save(tmp_path / "thermal.jpg", quality=85)
    monkeypatch.setattr(demo_searcher, "budget", 4)
    best = demo_searcher.search(tmp_path / "thermal.jpg").matches[0]
    assert best.item.path.endswith("chair-20-sd-bar.mp4") and best.match and best.tone
    monkeypatch.setattr(demo_searcher, "budget", 0)
    assert not any(m.match for m in demo_searcher.search(tmp_path / "thermal.jpg").matches)


def test_a_black_hot_clip_is_aligned_to_its_source(demo_searcher, demo_dir, tmp_path):
    """A clip played through the black-hot look matches nothing as it is; searched as its
    negative, its piece of the chair video is found with the stretch it copies."""
    chair = demo_dir / "media" / "chair-20-sd-bar.mp4"
    black_hot = [(chair, 4.0, 10.0, 1.0, lambda rgb: _thermal(rgb, None, True))]
    write_clip(tmp_path / "thermal.mp4", black_hot, size=(320, 480))
    result = demo_searcher.search(tmp_path / "thermal.mp4")
    best = result.matches[0]
    assert best.item.path.endswith("chair-20-sd-bar.mp4") and best.match
    assert best.tone == INVERTED
    segment = next(s.segment for s in best.segments if s.match)
    assert abs(segment.reference[0] - 4.0) <= 1.0 and abs(segment.reference[1] - 10.0) <= 1.0
