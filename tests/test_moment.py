"""The moment a still shows, on a fixed camera where the descriptor ties the frames (OpenCV's
vtest.avi: a street filmed from one spot while people walk through)."""

import json
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from firstseen.archive.ingest import Ingester
from firstseen.archive.records import DescribedFrame, Sighting
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_descriptor, open_searcher
from firstseen.matching import retrieve, segments, verdict
from firstseen.matching.align import Segment, regrown
from firstseen.matching.answers import clock
from firstseen.matching.moment import Confirmed, ToneCurve, _shear, closest_moment
from firstseen.matching.results import Match, SegmentMatch
from firstseen.matching.verify import NOT_VERIFIED, Verification, verify
from firstseen.tuning import CHECK, MOMENT, RETRIEVAL


def archived(directory: Path, path: Path) -> tuple[Archive, Path]:
    archive = Archive(directory / "archive")
    result = Ingester(archive, open_descriptor(archive)).add(path, Sighting(str(path)))
    assert result.status == "added", result.reason
    archive.save()
    return archive, path


@pytest.fixture(scope="module")
def street(tmp_path_factory, shared_data) -> tuple[Archive, Path]:
    return archived(
        tmp_path_factory.mktemp("street"), shared_data / "opencv-samples-data" / "vtest.avi"
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory, shared_data) -> tuple[Archive, Path]:
    """A tree in the wind, filmed from one spot: only its leaves tell the moments apart."""
    return archived(
        tmp_path_factory.mktemp("tree"), shared_data / "opencv-samples-data" / "tree.avi"
    )


def frame_at(path: Path, seconds: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= seconds - 1e-6:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {seconds} s")


def test_a_fixed_camera_still_is_timed_by_what_moved(street):
    archive, path = street
    searcher = open_searcher(archive)
    checker = searcher.checker
    query = frame_at(path, 12.0)[40:-40, 60:-60]
    (item,) = archive.catalog.items()
    frames = {f.time: (f.frame_id, f.ordinal) for f in archive.catalog.item_frames(item.id)}
    assert {9.0, 12.0} <= frames.keys()
    features = checker.fast.extract(query)

    def confirmed_at(when: float):
        frame_id, ordinal = frames[when]
        check = verify(features, checker.reference_features(item, ordinal, checker.fast))
        assert verdict.verified(check) and check.alignment is not None
        confirmed = Confirmed(item.id, item.sha256, frame_id, when, check.alignment)
        return closest_moment(archive, confirmed)

    # Three seconds off, the street aligns just as well (its background is all keypoints see),
    # but the people have moved: the scan settles on the moment copied.
    moved = confirmed_at(9.0)
    assert (moved.frame_id, moved.ordinal, moved.time) == (*frames[12.0], 12.0)
    # Sixteen seconds off, the moment lies beyond the near scan and nothing within it stands
    # out from the confirmed frame: the wider scan finds it.
    assert 28.0 - MOMENT.wider_span <= 12.0 < 28.0 - MOMENT.moment_span
    far = confirmed_at(28.0)
    assert (far.frame_id, far.time) == (frames[12.0][0], 12.0)
    # On the moment itself, nothing near it agrees better; people walk, so no other sampled
    # frame shows the same picture.
    stays = confirmed_at(12.0)
    assert (stays.frame_id, stays.time, stays.span) == (frames[12.0][0], 12.0, (12.0, 12.0))
    (match,) = searcher.search_image(query, top=1)
    assert match.item.id == item.id and match.time == 12.0 and match.match
    assert match.time_span is None


def false_coloured(picture: np.ndarray) -> np.ndarray:
    """A thermal-style false-colour ramp (OpenCV's JET) over the picture's grey levels: in grey,
    its levels rise and then fall again, so no gain and offset maps the frame onto it."""
    grey = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def test_a_false_coloured_fixed_camera_still_is_timed_by_what_moved(street):
    archive, path = street
    checker = open_searcher(archive).checker
    copied = frame_at(path, 12.0)[40:-40, 60:-60]
    (item,) = archive.catalog.items()
    frames = {f.time: (f.frame_id, f.ordinal) for f in archive.catalog.item_frames(item.id)}
    frame_id, ordinal = frames[9.0]
    reference = checker.reference_features(item, ordinal, checker.fast)
    check = verify(checker.fast.extract(copied), reference)
    assert verdict.verified(check) and check.alignment is not None
    # Placed as the plain copy was (the search confirms a toned copy through its tonings), the
    # false-coloured one is compared with the frames in its own colours.
    toned = replace(check.alignment, query=checker.fast.extract(false_coloured(copied)))
    moved = closest_moment(archive, Confirmed(item.id, item.sha256, frame_id, 9.0, toned))
    assert (moved.frame_id, moved.time) == (frames[12.0][0], 12.0)


def frames_between(path: Path, start: float, end: float, step: float) -> list[np.ndarray]:
    """The frames of `path` at `start`, `start + step`, ... up to `end`, decoded once."""
    wanted, found = list(np.arange(start, end + 1e-6, step)), []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if wanted and frame.time >= wanted[0] - 1e-6:
                found.append(frame.to_ndarray(format="rgb24"))
                wanted.pop(0)
    return found


def test_a_fixed_camera_clip_lined_up_seconds_off_moves_to_its_moment(street):
    """A clip of the street from 12 s to 16 s, confirmed on the frame at 9 s: its eight frames
    together put the people where they walked, and the whole clip moves three seconds on."""
    archive, path = street
    checker = open_searcher(archive).checker
    (item,) = archive.catalog.items()
    frames = {f.time: (f.frame_id, f.ordinal) for f in archive.catalog.item_frames(item.id)}
    clip = [frame[40:-40, 60:-60] for frame in frames_between(path, 12.0, 16.0, 0.5)]
    frame_id, ordinal = frames[9.0]
    query = checker.fast.extract(clip[0])
    check = verify(query, checker.reference_features(item, ordinal, checker.fast))
    assert verdict.verified(check) and check.alignment is not None
    probe = Match(item, frame_id, ordinal, 9.0, 0.9, 0.5, False, check)
    shape = query.gray.shape
    shown = [
        (0.5 * k, cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), shape[::-1]))
        for k, rgb in enumerate(clip)
    ]
    found = checker.offset_on_fixed_shot(probe, shown, 0.0)
    assert found is not None
    moved, shift = found
    assert (moved.frame_id, moved.time) == (frames[12.0][0], 12.0) and shift == pytest.approx(3.0)
    assert verdict.verified(moved.check)
    # Lined up on its moment already, it stays.
    frame_id, ordinal = frames[12.0]
    check = verify(query, checker.reference_features(item, ordinal, checker.fast))
    right = Match(item, frame_id, ordinal, 12.0, 0.9, 0.5, False, check)
    assert checker.offset_on_fixed_shot(right, shown, 0.0) is None


def test_a_moved_segment_that_continues_its_neighbour_is_joined_to_it():
    def answer(query: tuple[float, float], reference: tuple[float, float], frames: int):
        segment = Segment(query, reference, 1.0, 0.5, frames, (0, 0))
        return SegmentMatch(segment)

    stray = answer((0.0, 0.75), (21.5, 22.25), 2)
    moved = answer((0.75, 7.83), (22.18 + 0.75, 30.01), 15)
    elsewhere = answer((8.0, 9.0), (2.0, 3.0), 3)
    (whole, other) = segments.joined([moved, stray, elsewhere], [moved])
    assert whole.segment.query == (0.0, 7.83) and whole.segment.frames == 17
    assert whole.segment.reference == pytest.approx((22.18, 30.01))
    assert other is elsewhere
    # Segments the descriptor lined up itself keep its word, however they lie.
    assert len(segments.joined([moved, stray], [])) == 2


def test_a_moved_segment_regrows_over_the_frames_that_vote_for_its_line_up_to_a_cut():
    """A fixed shot (every pair alike, 0.6) cut at 6 s to other footage (0.0): a segment that
    held 1-3 s of the clip, moved onto its line, grows over 0-6 s and no further."""
    query_times = np.arange(0.0, 8.0, 0.5)
    reference_times = np.arange(0.0, 30.0, 1.0)
    sims = np.where(query_times[:, None] < 6.0, 0.6, 0.0) * np.ones(len(reference_times))
    cuts = query_times == 6.0
    moved = Segment((1.0, 3.0), (11.0, 13.0), 1.0, 0.6, 5, (4, 12))
    grown = regrown(moved, sims, (query_times, reference_times), (8.0, 30.0), cuts)
    assert grown.query == (0.0, 6.0) and grown.reference == (10.0, 16.0)
    assert grown.best == moved.best and grown.frames == 12


def test_a_stray_is_offered_to_the_longer_confirmed_segment_it_touches_within_its_shot():
    confirmed = Verification(60, 80, 0.9, 0.8, (0, 0, 100, 100))
    assert verdict.verified(confirmed)
    times = np.arange(0.0, 8.0, 0.5)
    no_cuts = np.zeros(len(times), bool)

    def answer(query: tuple[float, float], frames: int, check: Verification = confirmed):
        segment = Segment(query, (query[0] + 60, query[1] + 60), 1.0, 0.5, frames, (0, 0))
        return SegmentMatch(segment, check=check)

    host, stray = answer((0.0, 5.26), 11), answer((5.26, 5.76), 1)
    assert segments.hosts(host, stray, times, no_cuts)
    assert not segments.hosts(stray, host, times, no_cuts)
    another_shot = times == 5.5
    assert not segments.hosts(host, answer((5.5, 6.0), 1), times, another_shot)
    four_seconds_apart = answer((0.0, 2.0), 5), answer((6.0, 6.5), 1)
    assert not segments.hosts(*four_seconds_apart, times, no_cuts)
    assert not segments.hosts(answer((0.0, 5.26), 11, NOT_VERIFIED), stray, times, no_cuts)


def test_a_tone_curve_follows_a_ramp_that_rises_and_falls():
    frame = np.random.default_rng(1).uniform(0, 255, 5000).astype(np.float32)
    ramp = 255 - np.abs(frame - 128) * 2  # bright in the middle, dark at both ends
    curve = ToneCurve.fitted(frame, ramp)
    assert curve is not None
    assert np.abs(curve(frame) - ramp).mean() < 3
    assert ToneCurve.fitted(np.full(100, 7.0, np.float32), np.arange(100, dtype=np.float32)) is None


def test_a_moving_shot_confirmed_on_a_frame_before_the_copy_walks_to_it(tmp_path, shared_data):
    """Megamind.avi moves on every second: a crop of the frame at 10 s aligns weakly (a few
    inliers, its pixels half in agreement) with the frame at 8.4 s, and fully with its own."""
    archive, path = archived(tmp_path, shared_data / "opencv-samples-data" / "Megamind.avi")
    checker = open_searcher(archive).checker
    (item,) = archive.catalog.items()
    frames = archive.catalog.item_frames(item.id)

    def nearest(seconds: float) -> DescribedFrame:
        return min(frames, key=lambda frame: abs(frame.time - seconds))

    copied, earlier = nearest(10.0), nearest(8.4)
    assert copied.time - earlier.time > 1.5
    picture = frame_at(path, copied.time)
    height, width = picture.shape[:2]
    query = picture[height // 8 : -height // 8, width // 8 : -width // 8]
    reference = checker.reference_features(item, earlier.ordinal, checker.fast)
    check = verify(checker.fast.extract(query), reference)
    assert verdict.verified(check) and check.inliers < CHECK.walk_below
    weak = Match(item, earlier.frame_id, earlier.ordinal, earlier.time, 0.5, 0.5, False, check)
    walked = checker._walk(weak)
    assert (walked.frame_id, walked.time) == (copied.frame_id, copied.time)
    assert walked.check.inliers > check.inliers and walked.check.correlation > 0.9


def degraded(picture: np.ndarray) -> np.ndarray:
    """Halved, noisy and recompressed at JPEG quality 30, as a copy passed around a few times."""
    height, width = picture.shape[:2]
    small = cv2.resize(picture, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(0).normal(0, 6, small.shape)
    noisy = np.clip(small + noise, 0, 255).astype(np.uint8)
    _, encoded = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 30])
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("start", [9.0, 15.0])
def test_a_degraded_copy_of_swaying_leaves_is_timed_by_the_leaves(tree, start):
    archive, path = tree
    searcher = open_searcher(archive)
    (item,) = archive.catalog.items()
    frames = archive.catalog.item_frames(item.id)

    def nearest(seconds: float) -> DescribedFrame:
        return min(frames, key=lambda frame: abs(frame.time - seconds))

    truth, confirmed = nearest(12.0), nearest(start)
    query = degraded(frame_at(path, truth.time)[20:-20, 30:-30])
    reference = searcher.checker.reference_features(item, confirmed.ordinal, searcher.checker.fast)
    check = verify(searcher.checker.fast.extract(query), reference)
    assert verdict.verified(check) and check.alignment is not None
    # Noise and blur change every pixel, the wind only the leaves: where the frames differ, the
    # query is still closest to the moment it was copied from, three seconds from the start.
    moment = closest_moment(
        archive,
        Confirmed(item.id, item.sha256, confirmed.frame_id, confirmed.time, check.alignment),
    )
    assert DescribedFrame(moment.frame_id, moment.ordinal, moment.time) == truth


def test_a_moment_that_retrieval_did_not_return_is_answered(tree, monkeypatch):
    """A long fixed shot ties more frames than retrieval returns: the frame the match moves to
    may be one it never saw, and is still answered with its time and PDQ distance."""
    archive, path = tree
    monkeypatch.setattr(retrieve, "RETRIEVAL", replace(RETRIEVAL, candidate_frames=1))
    searcher = open_searcher(archive)
    (item,) = archive.catalog.items()
    copied = min(archive.catalog.item_frames(item.id), key=lambda frame: abs(frame.time - 8.0))
    query = degraded(frame_at(path, copied.time)[20:-20, 30:-30])
    (match,) = searcher.search_image(query, top=1)
    assert match.item.id == item.id and match.match
    assert (match.frame_id, match.time) == (copied.frame_id, copied.time)
    assert match.pdq_distance is not None


def test_a_still_shot_is_answered_with_the_stretch_that_shows_the_same_picture(
    tmp_path, shared_data
):
    """testvideo.mp4 holds one picture from 2 s until its cut at 6 s: a copy of it could come
    from any of those frames, and the answer says so."""
    archive, path = archived(tmp_path, shared_data / "pyscenedetect-resources" / "testvideo.mp4")
    searcher = open_searcher(archive)
    picture = frame_at(path, 4.5)
    (match,) = searcher.search_image(picture[60:-60, 100:-100], top=1)
    assert match.match and 2.0 <= match.time <= 5.1
    assert match.time_span == pytest.approx((2.002, 5.005), abs=1e-3)
    # The frame at 1 s differs where the query lies (a line of caption), so it is not part of
    # the stretch.
    times = [f.time for f in archive.catalog.item_frames(match.item.id)]
    assert times[:7] == pytest.approx([0.0, 1.001, 2.002, 3.003, 4.004, 5.005, 6.006], abs=1e-3)
    archive.close()
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), picture[60:-60, 100:-100, ::-1])
    answer = CliRunner().invoke(
        app, ["--archive", str(archive.root), "search", str(still), "-f", "jsonl"]
    )
    assert json.loads(answer.stdout)["matches"][0]["time_span"] == [2.002, 5.005]
    table = CliRunner().invoke(app, ["--archive", str(archive.root), "search", str(still)])
    words = " ".join(table.stdout.split())
    shown = f"at {clock(match.time)} (or any frame from 00:02 to 00:05)"
    assert "│ 00:02–00:05 │" in words and shown in words


def test_a_shot_where_nothing_changes_is_answered_with_all_that_was_compared(tmp_path, shared_data):
    """Nothing differs anywhere in a 40-second shot: the stretch reaches as far as frames were
    compared (`MOMENT.wider_span`), not only as far as the near scan's window."""
    picture = cv2.imread(str(shared_data / "imageio-standard-images" / "astronaut.png"))
    picture = np.ascontiguousarray(cv2.resize(picture, (320, 240))[:, :, ::-1])
    path = tmp_path / "unchanging.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(40 * 5):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode())
    archive, _ = archived(tmp_path, path)
    (match,) = open_searcher(archive).search_image(picture[30:-30, 40:-40], top=1)
    assert match.match and match.time_span is not None
    first, last = match.time_span
    assert first <= match.time <= last
    assert last - first > 2 * MOMENT.moment_span


def test_only_a_crop_rescale_or_rotation_is_trusted_to_compare_pixels():
    angle = np.radians(8)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 30], [np.sin(angle), np.cos(angle), 9], [0, 0, 1 / 0.6]]
    )
    assert _shear(rotation) < 1e-9
    # A meme template that squeezes the picture's height, before or after it was rotated.
    squeeze = np.diag([0.8, 0.55, 1.0])
    assert _shear(squeeze @ rotation) < 1e-9 and _shear(rotation @ squeeze) < 1e-9
    sheared = np.array([[0.514, -0.148, 181.4], [0.045, 0.391, 29.7], [0, 0, 1]])
    assert _shear(sheared) > MOMENT.max_shear
