"""Video queries and shared footage: aligned segments on real media, and the aligner's geometry."""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_descriptor, open_searcher
from firstseen.matching import verdict
from firstseen.matching.align import Segment, align, distinctness
from firstseen.matching.clip import _Comparison, _held, _rescue_uncovered, _verify_segments
from firstseen.matching.results import Picture, SegmentMatch
from firstseen.matching.verify import NOT_VERIFIED, Verification
from firstseen.media import Frame, sample_video
from firstseen.media.bars import content_box
from firstseen.tuning import CLIP, VERDICT

TE_VIDEOS = Path("threatexchange-tmk-vpdq") / "sample-videos"


def line_matrix(n_q: int, n_r: int, pieces, noise: float = 0.03, seed: int = 0) -> np.ndarray:
    """Similarities of 1 fps samples: 0.6 on each piece's line r = speed * q + offset."""
    rng = np.random.default_rng(seed)
    sims = rng.normal(0.0, noise, (n_q, n_r))
    for q_range, speed, offset in pieces:
        for q in q_range:
            r = speed * q + offset
            if 0 <= round(r) < n_r:
                sims[q, round(r)] = 0.6
    return sims


def test_aligner_finds_speed_offset_and_boundaries():
    sims = line_matrix(30, 80, [(range(5, 25), 1.5, 20.0)])
    (segment,) = align(sims, np.arange(30.0), np.arange(80.0), 30.0, 80.0)
    assert segment.speed == pytest.approx(1.5, abs=0.03)
    assert segment.query[0] == pytest.approx(5, abs=1) and segment.query[1] == pytest.approx(
        24, abs=1
    )
    assert segment.reference[0] == pytest.approx(27.5, abs=1.5)
    assert segment.frames == 20


def test_aligner_splits_a_compilation_and_ignores_noise():
    sims = line_matrix(40, 60, [(range(0, 12), 1.0, 30.0), (range(20, 36), 1.0, -15.0)])
    segments = sorted(
        align(sims, np.arange(40.0), np.arange(60.0), 40.0, 60.0), key=lambda s: s.query
    )
    # A boundary lies halfway between the last unmatched and the first matched sample.
    assert [s.query[0] for s in segments] == [0, 19.5]
    assert [s.reference[0] for s in segments] == [30, 4.5]
    assert align(line_matrix(40, 60, []), np.arange(40.0), np.arange(60.0), 40.0, 60.0) == []
    # Where the sample opens a new shot, the boundary is the cut itself.
    cuts = np.zeros(40, bool)
    cuts[[12, 20]] = True
    cut = align(sims, np.arange(40.0), np.arange(60.0), 40.0, 60.0, cuts)
    assert sorted((s.query, s.reference[0]) for s in cut) == [((0, 12), 30), ((20, 35.5), 5)]


def test_a_copy_set_into_other_footage_starts_at_the_cut_where_similarity_steps():
    """Footage before the copy (another shot of the same terrain) lines up weakly on the copy's
    line; the segment starts at the cut where the similarity steps, not where the line does. A
    cut inside a copy whose similarity holds does not split it, nor does a lone weaker frame
    after a cut (an end card)."""
    sims = line_matrix(20, 40, [(range(0, 16), 1.0, 10.0)], noise=0.01)
    sims[range(0, 6), range(10, 16)] = 0.12  # the other footage, before its cut at 6 s
    sims[15, 25] = 0.12
    cuts = np.zeros(20, bool)
    cuts[[6, 11, 15]] = True  # 11 s: a cut within the copied footage itself; 15 s: its end card
    segments = align(sims, np.arange(20.0), np.arange(40.0), 20.0, 40.0, cuts)
    copy = max(segments, key=lambda s: s.frames)
    assert copy.query[0] == 6 and copy.frames == 10
    assert copy.reference[0] == pytest.approx(16)
    (whole,) = align(sims, np.arange(20.0), np.arange(40.0), 20.0, 40.0)
    assert whole.query[0] == 0 and whole.frames == 16


def test_a_look_alike_recording_is_no_copy_on_the_descriptor_alone():
    """Another recording of the same game's road and sky is as similar to the query everywhere
    as on any line; a copy peaks on its line. Only the copy stands out enough for the
    descriptor alone to decide."""
    rng = np.random.default_rng(4)
    query_times, reference_times = np.arange(10.0), np.arange(30.0)
    copy = 0.05 + 0.02 * rng.standard_normal((10, 30))
    copy[np.arange(10), np.arange(10) + 12] = 0.5
    alike = 0.42 + 0.02 * rng.standard_normal((10, 30))
    found = {}
    for name, sims in (("copy", copy), ("alike", alike)):
        segment = align(sims, query_times, reference_times, 10.0, 30.0)[0]
        distinct = distinctness(sims, query_times, reference_times, segment)
        found[name] = (distinct, SegmentMatch(segment, distinct=distinct))
    assert found["copy"][0] > 0.3 and found["copy"][1].match
    assert found["alike"][0] < VERDICT.segment_distinct and not found["alike"][1].match


def test_one_frame_pair_is_no_segment_on_the_descriptor_alone():
    assert verdict.is_segment_match(0.6, NOT_VERIFIED, pairs=2)
    assert not verdict.is_segment_match(0.6, NOT_VERIFIED, pairs=1)


def test_black_bars_are_found_but_dark_scenes_kept():
    picture = np.full((360, 640, 3), 120, np.uint8)
    picture[:, :, 0] = np.arange(640) % 256  # texture
    boxed = np.zeros((480, 640, 3), np.uint8)
    boxed[60:420] = picture
    x, y, w, h = content_box(boxed)
    assert (x, w) == (0, 640) and abs(y - 60) <= 3 and abs(h - 360) <= 6
    assert content_box(picture) is None
    assert content_box(np.zeros((100, 100, 3), np.uint8)) is None


def write_clip(path: Path, pieces, size=(640, 360), fps: int = 25) -> None:
    """A clip made of (video, start, end, speed, edit) pieces, re-encoded with H.264."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"crf": "28", "preset": "veryfast"}
        index = 0
        for source, start, end, speed, edit in pieces:
            frames = []
            with av.open(str(source)) as container:
                for frame in container.decode(video=0):
                    if frame.time is not None and start <= frame.time < end:
                        frames.append((frame.time, frame.to_ndarray(format="rgb24")))
            count = int((end - start) / speed * fps)
            for k in range(count):
                wanted = start + k * speed / fps
                _, rgb = min(frames, key=lambda f: abs(f[0] - wanted))
                picture = av.VideoFrame.from_ndarray(edit(rgb), format="rgb24")
                picture = picture.reformat(width=size[0], height=size[1])
                picture.pts, picture.time_base = index, Fraction(1, fps)
                out.mux(stream.encode(picture))
                index += 1
        out.mux(stream.encode())


def letterboxed_grey_mirror(rgb: np.ndarray) -> np.ndarray:
    grey = rgb.mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)[:, ::-1]
    canvas = np.zeros((grey.shape[0] + grey.shape[0] // 2, grey.shape[1], 3), np.uint8)
    top = grey.shape[0] // 4
    canvas[top : top + grey.shape[0]] = grey
    return canvas


def same(rgb: np.ndarray) -> np.ndarray:
    return rgb


@pytest.fixture(scope="module")
def compilation(tmp_path_factory, demo_dir) -> Path:
    """Chair footage 5-11 s mirrored, grey and letterboxed, then 5 s of the rug (speed changes
    are left to the aligner's own test: the rug's frames all look alike)."""
    path = tmp_path_factory.mktemp("clips") / "compilation.mp4"
    media = demo_dir / "media"
    write_clip(
        path,
        [
            (media / "chair-20-sd-bar.mp4", 5.0, 11.0, 1.0, letterboxed_grey_mirror),
            (media / "pattern-hd-no-bar.mp4", 1.0, 6.0, 1.0, same),
        ],
    )
    return path


def test_compilation_traced_to_both_sources_with_segments(demo_searcher, compilation):
    result = demo_searcher.search(compilation, top=5)
    assert result.error is None
    found = {Path(m.item.path).name: m for m in result.matches if m.match}
    assert set(found) == {"chair-20-sd-bar.mp4", "pattern-hd-no-bar.mp4"}
    chair = found["chair-20-sd-bar.mp4"].segments[0].segment
    assert chair.query[0] == pytest.approx(0, abs=1) and chair.query[1] == pytest.approx(6, abs=1)
    assert chair.reference[0] == pytest.approx(5, abs=1) and chair.reference[1] == pytest.approx(
        11, abs=1
    )
    assert found["chair-20-sd-bar.mp4"].time == chair.reference[0]
    rug = found["pattern-hd-no-bar.mp4"].segments[0].segment
    assert rug.query[0] == pytest.approx(6, abs=1) and rug.query[1] == pytest.approx(11, abs=1)
    assert rug.reference[0] == pytest.approx(1, abs=1) and rug.speed == pytest.approx(1, abs=0.1)


def test_shorter_cut_aligned_and_unrelated_footage_not_matched(demo_searcher, shared_data):
    cut = demo_searcher.search(shared_data / TE_VIDEOS / "chair-19-sd-bar.mp4").matches[0]
    assert cut.item.path.endswith("chair-20-sd-bar.mp4") and cut.match
    segment = cut.segments[0].segment
    assert segment.query[1] - segment.query[0] == pytest.approx(18.8, abs=1)
    assert segment.reference[0] == pytest.approx(2.0, abs=1)
    other = demo_searcher.search(shared_data / "opencv-samples-data" / "Megamind.avi")
    assert other.error is None
    assert not any(m.match for m in other.matches)


def test_cli_prints_segments_and_jsonl_contract(demo_archive, compilation):
    runner = CliRunner()
    base = ["--archive", str(demo_archive.root), "search", str(compilation)]
    table = runner.invoke(app, base)
    assert table.exit_code == 0, table.output
    assert "← source 00:05–00:1" in table.output
    lines = runner.invoke(app, [*base, "--format", "jsonl"])
    row = json.loads(lines.output)
    segment = row["matches"][0]["segments"][0]
    assert {"query", "reference", "score", "match"} <= set(segment)
    assert row["matches"][0]["time"] == segment["reference"][0]


def test_duplicates_reports_shared_footage_only(tmp_path, shared_data):
    runner = CliRunner()
    archive = ["--archive", str(tmp_path / "archive")]
    videos = [
        shared_data / TE_VIDEOS / f"{n}.mp4"
        for n in ("chair-19-sd-bar", "chair-22-sd-sepia-bar", "doorknob-hd-no-bar")
    ]
    added = runner.invoke(app, [*archive, "add", *map(str, videos)])
    assert added.exit_code == 0, added.output
    result = runner.invoke(app, [*archive, "duplicates", "--format", "json"])
    assert result.exit_code == 0, result.output
    (pair,) = json.loads(result.output)
    assert {Path(pair["a"]).name, Path(pair["b"]).name} == {
        "chair-19-sd-bar.mp4",
        "chair-22-sd-sepia-bar.mp4",
    }
    assert pair["match"] and pair["segments"][0]["match"]
    first = pair["segments"][0]
    assert first["query"][1] - first["query"][0] == pytest.approx(18.8, abs=1)
    assert first["reference"][0] == pytest.approx(3.7, abs=1)


def test_partner_vpdq_hashes_found_by_clip_and_still(tmp_path, shared_data):
    """A partner sends the vPDQ hashes of a video we do not have (the HD original, no bars)."""
    te = shared_data / "threatexchange-tmk-vpdq"
    root = tmp_path / "archive"
    runner = CliRunner()
    hashes = te / "vpdq-sample-hashes" / "chair-orig-22-hd-no-bar.txt"
    imported = runner.invoke(app, ["--archive", str(root), "import-vpdq", str(hashes)])
    assert imported.exit_code == 0, imported.output
    searcher = open_searcher(Archive(root))
    clip = searcher.search(te / "sample-videos" / "chair-19-sd-bar.mp4").matches
    assert [Path(m.item.path).name for m in clip] == ["chair-orig-22-hd-no-bar.txt"]
    segment = clip[0].segments[0]
    assert segment.match and segment.segment.reference[0] == pytest.approx(3.7, abs=1)
    assert segment.segment.query[1] - segment.segment.query[0] == pytest.approx(18.8, abs=1.5)
    frame = next(
        f for f in sample_video(te / "sample-videos" / "chair-22-sd-sepia-bar.mp4") if f.time >= 10
    )
    Image.fromarray(frame.rgb).save(tmp_path / "still.png")
    (still,) = searcher.search(tmp_path / "still.png").matches
    assert still.match and still.time == pytest.approx(10, abs=0.5) and still.pdq_distance <= 31
    assert searcher.search(te / "sample-videos" / "pattern-hd-no-bar.mp4").matches == []


def test_a_black_clip_is_not_matched_to_black_openings(tmp_path, shared_data):
    """testvideo.mp4 opens on black: a clip of nothing but black lines up with it as well as
    with any fade, so the descriptor alone does not call it a copy."""
    archive = Archive(tmp_path / "archive")
    source = shared_data / "pyscenedetect-resources" / "testvideo.mp4"
    assert Ingester(archive, open_descriptor(archive)).add(source, Sighting("t")).status == "added"
    clip = tmp_path / "black.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for index in range(100):
            frame = av.VideoFrame.from_ndarray(np.zeros((360, 640, 3), np.uint8), format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    result = open_searcher(archive).search(clip, top=1)
    (found,) = result.matches
    aligned = found.segments[0]
    assert aligned.segment.score > 0.3 and aligned.featureless  # the openings line up...
    assert not found.match  # ...but black shows nothing to attribute
    archive.close()


def test_a_huge_clip_holds_its_later_frames_small():
    """A 1280 x 1280 upload cut every second once held gigabytes of sampled frames; past the
    budget the frames a search keeps are small."""
    big = [Frame(np.zeros((1280, 1280, 3), np.uint8), float(t)) for t in range(120)]
    kept = list(_held(big))
    held = sum(f.rgb.nbytes for f in kept)
    assert held <= CLIP.held_bytes + 1280 * 1280 * 3 + 120 * CLIP.small_edge**2 * 3
    assert max(kept[-1].rgb.shape) == CLIP.small_edge and kept[0].rgb.shape == (1280, 1280, 3)
    assert [f.time for f in kept] == [f.time for f in big]


def test_a_segment_whose_most_similar_pair_fails_is_checked_on_other_pairs(
    demo_searcher, monkeypatch
):
    """A toned copy of a moving shot: the most similar pair of a segment may sit between two
    archived samples, where keypoints find nothing. Other pairs of the segment that fall on a
    sample are checked with ORB, most similar first, at most CLIP.other_pairs of them; SIFT
    looks at the most similar pair only."""
    archive, checker = demo_searcher.archive, demo_searcher.checker
    video = next(i for i in archive.catalog.items() if i.kind == "video")
    ids = [f.frame_id for f in archive.catalog.item_frames(video.id)[:8]]
    times = np.arange(10) * 0.5  # the clip at 2 fps; the archive at 1 fps, on the line r = q
    sims = np.full((10, 8), 0.05)
    sims[3, 1] = 0.30  # the most similar pair: 1.5 s onto the sample at 1 s
    sims[2, 1], sims[4, 2], sims[6, 3] = 0.25, 0.20, 0.15  # pairs on samples, in this order
    seen = _Comparison(ids, list(range(8)), np.arange(8.0), sims, sims, np.zeros(10), verdict.SSCD)
    good = Verification(40, 60, 0.9, 0.9, (0, 0, 100, 100))
    checked: list[tuple[int, int, str]] = []

    def verify_hit(found, hit, pictures, local):
        checked.append((hit.picture, ids.index(found.frame_id), local.kind))
        return good if (hit.picture, found.frame_id) == (confirming, ids[2]) else NOT_VERIFIED

    monkeypatch.setattr(checker, "verify_hit", verify_hit)
    pictures = [Picture(np.zeros((64, 64, 3), np.uint8)) for _ in times]

    def answered() -> SegmentMatch:
        segment = Segment((0.0, 4.5), (0.0, 4.5), 1.0, 0.2, 10, (3, 1))
        found = seen.match(video, 3, 1, [SegmentMatch(segment)])
        chosen = _verify_segments(
            checker, found, seen, pictures, ((times, times < 0), 5.0), leader=True
        )
        return chosen.segments[0]

    confirming = 4
    confirmed = answered()
    assert checked == [(3, 1, "orb"), (3, 1, "sift"), (2, 1, "orb"), (4, 2, "orb")]
    assert verdict.verified(confirmed.check) and confirmed.segment.best == (4, 2)
    assert confirmed.pair is not None and confirmed.pair.query_time == 2.0
    checked.clear()
    confirming = 6  # the pair that would confirm comes third: not looked at
    assert not verdict.verified(answered().check)
    assert [pair[:2] for pair in checked] == [(3, 1), (3, 1), (2, 1), (4, 2)]


def test_a_stretch_nothing_lines_up_is_looked_for_with_keypoints(demo_searcher, monkeypatch):
    """A second piece of a compilation under a heavy look: the descriptor's similarities to
    its source are noise, so nothing lines up in time, but ORB confirms its frames on a
    reference. The confirmed pairs vote with their inliers for a line (another moment of
    footage that barely changes aligns too, on fewer keypoints), and the segment spans the
    piece's shot on it; a stretch of one sampled frame is not looked at, and the checks are
    bounded."""
    archive, checker = demo_searcher.archive, demo_searcher.checker
    video = next(i for i in archive.catalog.items() if i.kind == "video")
    rows = archive.catalog.item_frames(video.id)[:8]
    ids = [f.frame_id for f in rows]
    times = np.arange(12) * 0.5  # the clip at 2 fps; a cut at 3 s opens the second piece
    cuts = times == 3.0
    sims = np.full((12, 8), 0.05)
    sims[9, 2] = 0.09  # the most alike pair of the second piece: another moment, weakly aligned
    sims[10, 6] = 0.08  # the copied frame: keypoints confirm it (reference 6 s at query 5 s)
    seen = _Comparison(ids, list(range(8)), np.arange(8.0), sims, sims, np.zeros(12), verdict.SSCD)
    good = Verification(40, 60, 0.9, 0.9, (0, 0, 100, 100))
    weak = Verification(15, 60, 0.9, 0.9, (0, 0, 100, 100))
    checked: list[tuple[int, int]] = []

    def verify_hit(found, hit, pictures, local):
        checked.append((hit.picture, ids.index(found.frame_id)))
        pair = (hit.picture, ids.index(found.frame_id))
        return {(10, 6): good, (9, 2): weak}.get(pair, NOT_VERIFIED)

    monkeypatch.setattr(checker, "verify_hit", verify_hit)
    pictures = [Picture(np.zeros((64, 64, 3), np.uint8)) for _ in times]
    other = next(i for i in archive.catalog.items() if i.kind == "video" and i.id != video.id)
    first = Segment((0.0, 2.75), (0.0, 2.75), 1.0, 0.5, 6, (0, 0))
    matches = [seen.match(other, 0, 0, [SegmentMatch(first, check=good)])]
    clip = ((times, cuts), 6.0)

    _rescue_uncovered(checker, matches, [(video, seen)], pictures, clip)
    (found,) = (m for m in matches if m.item.id == video.id)
    (second,) = found.segments
    assert second.match and second.segment.query == (3.0, 6.0)
    assert second.segment.reference[0] == pytest.approx(4.0)
    assert second.pair is not None and second.pair.query_time == 5.0
    assert {(9, 2), (10, 6)} <= set(checked)
    assert len(checked) == CLIP.rescue_frames * CLIP.rescue_references

    checked.clear()
    lone = [seen.match(other, 0, 0, [SegmentMatch(first, check=good)])]
    _rescue_uncovered(checker, lone, [(video, seen)], pictures, ((times, times >= 3.0), 6.0))
    assert checked == [] and len(lone) == 1  # each later frame opens a shot
    # The reference lined up just beside the stretch: the descriptor drew that boundary.
    beside = [seen.match(video, 0, 0, [SegmentMatch(first, check=good)])]
    _rescue_uncovered(checker, beside, [(video, seen)], pictures, clip)
    assert checked == [] and len(beside[0].segments) == 1

    monkeypatch.setattr(checker, "verify_hit", lambda *args: NOT_VERIFIED)
    nothing = [seen.match(other, 0, 0, [SegmentMatch(first, check=good)])]
    _rescue_uncovered(checker, nothing, [(video, seen)], pictures, clip)
    assert len(nothing) == 1
