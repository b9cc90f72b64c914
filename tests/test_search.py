"""Search behaviour end to end on real media: source, time, region, verdict, contract; and the
regions of a query searched on their own (collage cells, framed insets)."""

import json
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.config import Settings
from firstseen.engine import calibration, open_descriptor, open_searcher
from firstseen.matching import verdict
from firstseen.matching.answers import result_json
from firstseen.matching.check import _neighbours
from firstseen.matching.insets import framed
from firstseen.matching.regions import collage_cells, cut_cells, parts_of
from firstseen.matching.results import Hit, Match, Picture
from firstseen.matching.search import FallbackBudget, Searcher, _closest_toning
from firstseen.matching.tones import (
    EQUALISED,
    FALSE_COLOUR,
    FALSE_COLOUR_INVERTED,
    INVERTED,
    tonings,
)
from firstseen.matching.verify import NOT_VERIFIED, Verification
from firstseen.media.images import load_image
from firstseen.tuning import CHECK, TONES, VERDICT

EVIDENCE_REGION = (60, 140, 380, 440)  # demo/make_evidence.py's crop of the frame at 12.0 s


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def test_demo_evidence_traced_to_frame_region_and_date(demo_searcher, demo_dir):
    result = demo_searcher.search(demo_dir / "evidence.jpg", top=5)
    assert result.error is None
    best = result.matches[0]
    assert best.item.path.endswith("chair-20-sd-bar.mp4")
    assert best.match
    assert abs(best.time - 12.0) <= 1.0
    assert iou(best.check.region, EVIDENCE_REGION) >= 0.8
    assert best.item.first_seen.published == "2019-07-30"
    assert not any(m.match for m in result.matches[1:])


def test_mirrored_and_graded_copy_matches(demo_searcher, tmp_path, demo_dir):
    photo = Image.open(demo_dir / "media" / "coffee.png").convert("RGB")
    edited = ImageEnhance.Color(ImageOps.mirror(photo)).enhance(0.3)
    edited = ImageEnhance.Brightness(edited).enhance(1.3).resize((420, 280))
    edited.save(tmp_path / "mirrored.jpg", quality=70)
    best = demo_searcher.search(tmp_path / "mirrored.jpg").matches[0]
    assert best.item.path.endswith("coffee.png")
    assert best.match and best.mirrored


def test_picture_in_picture_region_is_whole_source(demo_searcher, tmp_path, demo_dir, shared_data):
    inset = Image.open(demo_dir / "media" / "rocket.jpg").convert("RGB")
    inset = inset.resize((inset.width * 2 // 5, inset.height * 2 // 5))
    canvas = Image.open(shared_data / "opencv-samples-data" / "building.jpg").convert("RGB")
    canvas = canvas.resize((900, 700))
    canvas.paste(inset, (420, 260))
    canvas.save(tmp_path / "pip.png")
    best = demo_searcher.search(tmp_path / "pip.png").matches[0]
    assert best.item.path.endswith("rocket.jpg") and best.match
    assert iou(best.check.region, (0, 0, best.item.width, best.item.height)) >= 0.8


def inset(host: Image.Image, picture: Image.Image, box, border: int) -> Image.Image:
    """`picture` pasted into `host` at `box` (x, y, w, h), in a white frame `border` px wide."""
    x, y, w, h = box
    host = host.copy()
    if border:
        frame = (x - border, y - border, x + w + border - 1, y + h + border - 1)
        ImageDraw.Draw(host).rectangle(frame, fill="white")
    host.paste(picture.resize((w, h), Image.Resampling.LANCZOS), (x, y))
    return host


def test_a_small_framed_inset_in_a_degraded_picture_is_traced(
    demo_searcher, tmp_path, demo_dir, shared_data
):
    """A cat photo in a white frame, a quarter of the width of an aerial photo, then shrunk,
    blurred and compressed hard: neither the whole, nor its textured regions, nor its centre and
    corners confirm it; the window on the framed inset does."""
    host = Image.open(shared_data / "opencv-samples-data" / "aero1.jpg").convert("RGB")
    host = host.resize((1000, 750))
    cat = Image.open(demo_dir / "media" / "chelsea.png").convert("RGB")
    host = inset(host, cat, (550, 225, 250, 166), border=8)
    small = np.asarray(host.resize((300, 225), Image.Resampling.BOX)).astype(np.float32)
    blurred = np.clip(cv2.GaussianBlur(small, (0, 0), 1.0), 0, 255).astype(np.uint8)
    Image.fromarray(blurred).save(tmp_path / "inset.jpg", quality=25)
    best = demo_searcher.search(tmp_path / "inset.jpg").matches[0]
    assert best.item.path.endswith("chelsea.png") and best.match


def test_a_part_brings_a_photo_forward_but_does_not_score_it(demo_searcher, tmp_path, demo_dir):
    """A sixteenth of the rocket photo (sky and smoke, too smooth for keypoints) is far closer to
    one of the photo's parts than to the whole: the part puts the photo forward for a check, but
    its score and verdict rest on the photo's own similarity, since the closest of many parts is
    close by chance more often than a whole picture is."""
    rocket = Image.open(demo_dir / "media" / "rocket.jpg").convert("RGB")
    detail = np.asarray(rocket.crop((64, 42, 224, 148)).resize((320, 212)))
    found = demo_searcher.retriever.retrieve([Picture(detail)], mirror=False, photo_parts=True)
    item = demo_searcher.archive.catalog.item(found.by_part[0])
    frame_id = found.per_item[item.id][0]
    hit = found.best[frame_id]
    assert item.path.endswith("rocket.jpg")
    assert hit.lead > hit.normalised + 0.15
    own = (
        demo_searcher.descriptor.describe([detail])
        @ demo_searcher.archive.catalog.vectors([frame_id]).T
    )
    assert hit.similarity == pytest.approx(float(own[0, 0]), abs=1e-3)
    without = demo_searcher.retriever.retrieve([Picture(detail)], mirror=False)
    assert not without.by_part and without.best[frame_id].lead == without.best[frame_id].normalised
    Image.fromarray(detail).save(tmp_path / "detail.jpg", quality=85)
    best = demo_searcher.search(tmp_path / "detail.jpg").matches[0]
    assert best.item.path.endswith("rocket.jpg") and not best.match


@pytest.mark.parametrize(
    ("name", "crop"),
    # A cat's face; the middle of a smooth, low-contrast retina scan.
    [("chelsea.png", (130, 0, 310, 200)), ("retina.jpg", (270, 380, 920, 700))],
)
def test_region_includes_a_translucent_caption_band(demo_searcher, tmp_path, demo_dir, name, crop):
    """A news-style caption darkens the bottom of a crop and writes over it: the part of the
    source under the band is still shown, so the region covers it."""
    x, y, w, h = crop
    shot = Image.open(demo_dir / "media" / name).convert("RGB").crop((x, y, x + w, y + h))
    band = Image.new("RGBA", shot.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    draw.rectangle((0, h * 65 // 100, w, h), fill=(0, 0, 0, 165))
    font = ImageFont.load_default(size=max(14, h // 9))
    draw.text((w // 12, h * 70 // 100), "This is what the\nmedia won't show", font=font)
    Image.alpha_composite(shot.convert("RGBA"), band).convert("RGB").save(
        tmp_path / "captioned.jpg", quality=80
    )
    best = demo_searcher.search(tmp_path / "captioned.jpg").matches[0]
    assert best.item.path.endswith(name) and best.match
    assert iou(best.check.region, crop) >= 0.85


def test_unrelated_photos_are_not_matches(demo_searcher, shared_data):
    negatives = sorted((shared_data / "threatexchange-pdq/reg-test-input/labelme-subset").iterdir())
    negatives += [shared_data / "opencv-samples-data" / name for name in ("fruits.jpg", "home.jpg")]
    for query in negatives:
        result = demo_searcher.search(query)
        assert result.error is None
        assert not any(m.match for m in result.matches), query.name


def test_a_query_nothing_confirms_looks_each_picture_up_once(
    demo_searcher, shared_data, monkeypatch
):
    """Every fallback pass searches the whole still again beside its new pictures; each vector
    goes to the index once all the same (in an archive of millions a look-up costs tens of ms)."""
    index = demo_searcher.archive.index
    looked_up: list[bytes] = []
    search = index.search

    def recorded(vectors, k):
        looked_up.extend(np.asarray(row, np.float32).tobytes() for row in vectors)
        return search(vectors, k)

    monkeypatch.setattr(index, "search", recorded)
    result = demo_searcher.search(shared_data / "opencv-samples-data" / "home.jpg")
    assert result.error is None and not any(m.match for m in result.matches)
    assert len(looked_up) > 4  # the still, its mirror image, tonings and parts at least
    repeated = len(looked_up) - len(set(looked_up))
    assert repeated == 0


def test_whole_tonings_are_described_at_their_own_size_and_the_rest_at_the_models(
    demo_searcher, shared_data, monkeypatch
):
    """A coloured still nothing confirms is searched under its tonings; those whole pictures are
    described at `TONES.toning_size`, the still, its mirror image and every part at the model's
    own."""
    descriptor = demo_searcher.retriever.descriptor
    assert descriptor.resizable and TONES.toning_size != descriptor.size
    described: list[tuple[int, int | None]] = []
    describe = descriptor.describe

    def recorded(images, size=None):
        described.append((len(images), size))
        return describe(images, size)

    monkeypatch.setattr(descriptor, "describe", recorded)
    query = shared_data / "opencv-samples-data" / "home.jpg"
    result = demo_searcher.search(query)
    assert result.error is None and not any(m.match for m in result.matches)
    sizes = {size for _, size in described}
    assert sizes == {None, TONES.toning_size}
    toned = sum(n for n, size in described if size == TONES.toning_size)
    assert toned == len(tonings(load_image(query)))


def test_a_grey_still_meets_its_negative_in_the_first_pass_a_coloured_one_with_its_mirror(
    demo_searcher, shared_data, monkeypatch
):
    """The negative costs a coarse descriptor run: a grey still (a white- or black-hot look) is
    searched with it from the start, a coloured one beside its mirror image, and only a coloured
    still nothing confirms then has its palette fitted, both ways."""
    tones_per_pass: list[list[str | None]] = []
    search_pictures = demo_searcher.search_pictures

    def recorded(pictures, top, **options):
        tones_per_pass.append([picture.tone for picture in pictures if picture.whole])
        return search_pictures(pictures, top, **options)

    monkeypatch.setattr(demo_searcher, "search_pictures", recorded)
    rgb = load_image(shared_data / "opencv-samples-data" / "home.jpg")
    grey = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    matches = demo_searcher.search_image(grey, 5)
    assert not any(m.match for m in matches)
    assert tones_per_pass[:2] == [[None, INVERTED], [None, INVERTED]]
    tones_per_pass.clear()
    matches = demo_searcher.search_image(rgb, 5)
    assert not any(m.match for m in matches)
    assert tones_per_pass[:3] == [
        [None],
        [None, INVERTED],
        [None, INVERTED, FALSE_COLOUR, FALSE_COLOUR_INVERTED],
    ]


def test_a_budget_bounds_the_pictures_a_stills_fallbacks_describe(
    demo_searcher, shared_data, monkeypatch
):
    """A coloured still nothing confirms is described once as it is; its fallbacks then describe
    only what the budget affords, in order: mirror image and negative (two), the palette (two),
    then as many parts as fit; the first fallback that does not fit ends the search, and the
    answer says so. Without a budget it goes on to every part and inset."""
    descriptor = demo_searcher.retriever.descriptor
    described: list[int] = []
    describe = descriptor.describe

    def recorded(images, size=None):
        described.append(len(images))
        return describe(images, size)

    monkeypatch.setattr(descriptor, "describe", recorded)
    query = shared_data / "opencv-samples-data" / "home.jpg"
    spent: dict[float | None, int] = {}
    for budget in (None, 0, 1, 2, 4, 5.5):
        monkeypatch.setattr(demo_searcher, "budget", budget)
        described.clear()
        result = demo_searcher.search(query, 5)
        assert not any(m.match for m in result.matches)
        assert result.budget_reached is (budget is not None)
        assert result_json(result)["budget_reached"] is result.budget_reached
        spent[budget] = sum(described)
    assert spent[0] == spent[1] == 1
    assert spent[2] == 3 and spent[4] == 5
    assert spent[5.5] == 6  # and one part
    assert spent[None] >= 5 + len(parts_of(load_image(query)))


def test_a_fallback_budget_takes_passes_whole_and_parts_as_far_as_they_fit():
    """What an earlier pass described costs nothing, a mirror image one picture; a list of parts
    is cut to what fits, and once a pass does not fit, nothing more is searched."""
    rgb = np.zeros((64, 64, 3), np.uint8)
    whole = Picture(rgb)
    whole.vectors[False] = np.zeros(4, np.float32)
    parts = [Picture(rgb, (0, 0, 8, 8)) for _ in range(4)]

    def ids(pictures: list[Picture]) -> list[int]:
        return [id(p) for p in pictures]

    budget = FallbackBudget(3.5)
    assert ids(budget.afford([whole], [])) == ids([whole]) and budget.left == 2.5
    assert not budget.reached
    assert ids(budget.afford([whole], parts, mirror=False)) == ids([whole, *parts[:2]])
    assert budget.reached  # two parts were left out
    assert budget.spent and budget.afford([whole], [], mirror=False) == []
    tight = FallbackBudget(1.5)
    assert tight.afford([whole], parts[:1]) == []  # its mirror image and the part: two
    assert tight.afford([whole], parts, mirror=False) == []  # a pass that did not fit ended it
    unlimited = FallbackBudget(None)
    assert ids(unlimited.afford([whole], parts)) == ids([whole, *parts])
    assert not unlimited.reached
    nothing = FallbackBudget(0)
    assert nothing.afford([whole], [], mirror=False) == [] and nothing.reached


def test_a_smaller_look_is_a_coarser_view_of_the_same_picture(demo_searcher, demo_dir):
    """Described at another input side, a picture stays near itself and far from others."""
    descriptor = demo_searcher.retriever.descriptor
    coffee = load_image(demo_dir / "media" / "coffee.png")
    other = load_image(demo_dir / "evidence.jpg")
    full = descriptor.describe([coffee, other])
    small = descriptor.describe([coffee, other], size=TONES.toning_size)
    assert np.allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(small, full)
    similarity = small @ full.T
    # SSCD calls a copy at 0.75; the other picture is far below either.
    assert similarity[0, 0] > 0.7 and similarity[1, 1] > 0.7
    assert similarity[0, 1] < 0.3 and similarity[1, 0] < 0.3


def test_parts_are_cut_from_a_toning_only_when_its_own_nearest_frame_is_clearly_closer():
    """Which toning a query nothing confirmed is cut into parts from rests on each picture's own
    nearest frame, whether or not it holds one of the answers so far."""
    rgb = np.zeros((64, 64, 3), np.uint8)

    def searched(tone: str | None, top: float, bias: float) -> Picture:
        picture = Picture(rgb, tone=tone, bias=bias)
        picture.nearest["frames", False] = (np.array([top, top - 0.1]), np.array([7, 8]))
        return picture

    margin = TONES.toning_margin
    still = searched(None, 0.30, 0.10)
    assert _closest_toning([still, searched("negative", 0.30 + 0.8 * margin, 0.10)]) is still
    closer = searched("negative", 0.30 + 1.5 * margin, 0.10)
    assert _closest_toning([still, closer]) is closer
    unsearched = Picture(rgb, tone="ramp")
    assert _closest_toning([still, unsearched]) is still


def test_at_most_one_answer_per_reference_and_best_first(demo_searcher, demo_dir):
    result = demo_searcher.search(demo_dir / "media" / "chelsea.png", top=10)
    paths = [m.item.path for m in result.matches]
    assert len(paths) == len(set(paths))
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)
    assert result.matches[0].item.path.endswith("chelsea.png") and result.matches[0].match


def test_json_contract(demo_searcher, demo_dir):
    data = result_json(demo_searcher.search(demo_dir / "evidence.jpg", top=3))
    json.dumps(data)
    assert set(data) >= {"query", "error", "matches"}
    assert len(data["matches"]) <= 3
    first = data["matches"][0]
    for field in ("path", "kind", "time", "score", "match", "region", "url", "title", "published"):
        assert field in first
    assert first["kind"] == "video" and isinstance(first["time"], float)
    assert len(first["region"]) == 4 and all(isinstance(v, int) for v in first["region"])


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty"),
        ("noise.png", bytes(range(256)) * 8, "not an image or video"),
    ],
)
def test_bad_query_is_an_error_not_a_crash(demo_searcher, tmp_path: Path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    result = demo_searcher.search(path)
    assert result.matches == []
    assert reason in result.error


def test_missing_query_is_an_error(demo_searcher, tmp_path):
    result = demo_searcher.search(tmp_path / "nope.jpg")
    assert result.error and "No such file" in result.error


def test_the_descriptor_alone_decides_only_with_thresholds_for_its_model(demo_searcher, demo_dir):
    """SSCD's descriptor-alone threshold says nothing about another model's similarities: with
    another model, a match keypoints cannot confirm waits for thresholds of its own."""
    blurred = cv2.GaussianBlur(load_image(demo_dir / "media" / "rocket.jpg"), (0, 0), 9)
    sscd = demo_searcher.search_image(blurred, top=1)[0]
    assert sscd.item.path.endswith("rocket.jpg") and sscd.match
    assert not verdict.verified(sscd.check)  # too blurred for keypoints: the descriptor decided

    def searching_with(calibration: verdict.Calibration) -> Match:
        searcher = Searcher(
            demo_searcher.archive, demo_searcher.descriptor, demo_searcher.background, calibration
        )
        return searcher.search_image(blurred, top=1)[0]

    uncalibrated = searching_with(verdict.KEYPOINTS_ONLY)
    assert uncalibrated.item.id == sscd.item.id and not uncalibrated.match
    assert searching_with(verdict.Calibration(sscd.normalised - 0.01, None)).match


def test_checking_frames_on_worker_threads_changes_no_answer(demo_searcher, demo_dir, tmp_path):
    """A video's best frames and the contenders after a confirmed leader are checked side by
    side on worker threads; every answer is the one the same search gives on one thread."""
    photo = Image.open(demo_dir / "media" / "coffee.png").convert("RGB")
    ImageOps.mirror(photo).resize((420, 280)).save(tmp_path / "mirrored.jpg", quality=70)
    queries = [demo_dir / "evidence.jpg", tmp_path / "mirrored.jpg", demo_dir / "evidence-clip.mp4"]

    def answers(workers: int) -> tuple[list, set[str]]:
        searcher = Searcher(
            demo_searcher.archive,
            demo_searcher.descriptor,
            demo_searcher.background,
            demo_searcher.calibration,
            workers=workers,
        )
        threads: set[str] = set()
        describe = searcher.checker._reference_features

        def recorded(*args):
            threads.add(threading.current_thread().name)
            return describe(*args)

        searcher.checker._reference_features = recorded
        found = [result_json(searcher.search(query)) for query in queries]
        for result in found:
            result.pop("elapsed_ms", None)
        return found, threads

    alone, alone_threads = answers(1)
    together, together_threads = answers(2)
    assert together == alone
    assert all(result["matches"] and result["matches"][0]["match"] for result in alone)
    assert alone_threads == {threading.current_thread().name}
    assert any(name.startswith("firstseen-check") for name in together_threads)


def test_a_black_picture_is_never_matched_on_the_descriptor_alone(tmp_path):
    """A black screen looks like every other black screen to SSCD (0.74 from a video's black
    opening): nothing in it ties it to one source, so only keypoints could, and there are none."""
    archive = Archive(tmp_path / "archive")
    black = tmp_path / "black.png"
    Image.new("RGB", (640, 360)).save(black)
    assert Ingester(archive, open_descriptor(archive)).add(black, Sighting("b")).status == "added"
    searcher = open_searcher(archive)
    query = np.zeros((180, 320, 3), np.uint8)
    (found,) = searcher.search_image(query, top=1)
    assert found.featureless and found.normalised > VERDICT.descriptor_alone
    assert not found.match
    archive.close()


def test_another_model_gets_no_descriptor_alone_thresholds_unless_set():
    assert calibration(Settings()) == verdict.SSCD
    own = Settings(model=Path("own-export.onnx"))
    assert calibration(own) == verdict.KEYPOINTS_ONLY
    tuned = replace(own, descriptor_alone=0.6, segment_alone=0.5)
    assert calibration(tuned) == verdict.Calibration(0.6, 0.5)


def grid(
    pictures: list[Image.Image], columns: int, cell: tuple[int, int], gutter: int = 8
) -> Image.Image:
    """Pictures resized into equal cells with white gutters, as a collage maker lays them."""
    rows = -(-len(pictures) // columns)
    width, height = cell[0] + gutter, cell[1] + gutter
    canvas = Image.new("RGB", (columns * width - gutter, rows * height - gutter), "white")
    for k, picture in enumerate(pictures):
        row, column = divmod(k, columns)
        canvas.paste(picture.resize(cell), (column * width, row * height))
    return canvas


@pytest.mark.parametrize("gutter", [8, 0])
def test_every_picture_of_a_collage_is_traced(demo_searcher, demo_dir, tmp_path, gutter):
    names = ["chelsea.png", "retina.jpg", "coffee.png", "bridge.jpg"]
    photos = [Image.open(demo_dir / "media" / name).convert("RGB") for name in names]
    grid(photos, 2, (400, 300), gutter).save(tmp_path / "collage.jpg", quality=85)
    result = demo_searcher.search(tmp_path / "collage.jpg", top=5)
    flagged = {Path(m.item.path).name for m in result.matches if m.match}
    # The flat cells (a retina, a cat) are not confirmed by keypoints of the whole collage;
    # without gutters, the pictures confirmed first say where the others lie.
    assert flagged == set(names)


def confirmed_at(box: tuple[int, int, int, int], size: tuple[int, int]) -> Match:
    """A confirmed match whose content fills `box` (x0, y0, x1, y1) of a query of `size`."""
    features = SimpleNamespace(scale=1.0, size=size)
    alignment = SimpleNamespace(box=box, query=features)
    return cast(Match, SimpleNamespace(check=SimpleNamespace(alignment=alignment), mirrored=False))


def test_collages_without_gutters_are_cut_where_a_picture_filling_a_corner_ends():
    # Side by side: the left picture confirmed, the right one is a cell of its own.
    assert cut_cells((600, 1000), [confirmed_at((0, 0, 498, 600), (1000, 600))]) == [
        (0, 0, 498, 600),
        (498, 0, 502, 600),
    ]
    # A 2 x 2 grid, one quarter confirmed: the other three quarters are cells.
    cells = cut_cells((600, 800), [confirmed_at((2, 301, 400, 598), (800, 600))])
    assert cells == [(0, 0, 400, 301), (0, 301, 400, 299), (400, 0, 400, 301), (400, 301, 400, 299)]
    # A picture between a phone app's bars, or inset in another, fills no corner: no cells.
    assert cut_cells((1600, 720), [confirmed_at((0, 230, 720, 900), (720, 1600))]) == []
    assert cut_cells((600, 800), [confirmed_at((200, 150, 600, 450), (800, 600))]) == []


def test_collage_cells_need_a_gutter_from_top_to_bottom(demo_dir):
    photos = [Image.open(demo_dir / "media" / "rocket.jpg").convert("RGB")] * 3
    cells = collage_cells(np.asarray(grid(photos, 3, (300, 200))))
    expected = [(0, 0, 300, 200), (308, 0, 300, 200), (616, 0, 300, 200)]
    assert np.abs(np.subtract(cells, expected)).max() <= 4  # the gutters found on a small map
    # A page with flat bands between pictures, as a phone feed has, is not a collage.
    feed = np.asarray(grid(photos, 1, (300, 200)))
    assert collage_cells(feed) == []


@pytest.mark.parametrize("host", ["building.jpg", "home.jpg"])
def test_a_framed_inset_is_found_in_a_busy_photo(shared_data, demo_dir, host):
    photo = Image.open(shared_data / "opencv-samples-data" / host).convert("RGB")
    photo = photo.resize((1000, 750))
    cat = Image.open(demo_dir / "media" / "chelsea.png").convert("RGB")
    box = (120, 380, 300, 200)
    query = inset(photo, cat, box, border=8).resize((400, 300), Image.Resampling.BOX)
    found = framed(np.asarray(query))
    truth = tuple(v * 0.4 for v in box)
    # The window is trimmed inside the frame's lines, so it cannot cover the whole inset.
    assert any(iou(window, truth) >= 0.6 for window in found), found


def test_bars_and_margins_are_not_framed_pictures(demo_dir):
    coffee = Image.open(demo_dir / "media" / "coffee.png").convert("RGB")
    letterboxed = Image.new("RGB", (coffee.width, coffee.height + 160))
    letterboxed.paste(coffee, (0, 80))
    pillarboxed = Image.new("RGB", (coffee.width + 200, coffee.height), "white")
    pillarboxed.paste(coffee, (100, 0))
    assert framed(np.asarray(letterboxed)) == []
    assert framed(np.asarray(pillarboxed)) == []


def test_a_cell_whose_lines_run_on_past_its_corners_is_not_a_framed_picture(demo_dir):
    """The middle cell of a "#" drawn over a photo is framed on all sides, but by lines that run
    on at both ends, like the windows of a building; a pasted picture's sides end at its corners."""
    cell = (350, 300, 300, 250)
    x0, y0, x1, y1 = cell[0], cell[1], cell[0] + cell[2], cell[1] + cell[3]
    reach = 120

    def photo() -> Image.Image:
        return Image.open(demo_dir / "media" / "hubble_deep_field.jpg").convert("RGB")

    grid = photo()
    draw = ImageDraw.Draw(grid)
    for x in (x0, x1):
        draw.line((x, y0 - reach, x, y1 + reach), fill="white", width=4)
    for y in (y0, y1):
        draw.line((x0 - reach, y, x1 + reach, y), fill="white", width=4)
    assert not any(iou(window, cell) > 0.6 for window in framed(np.asarray(grid)))
    frame = photo()
    ImageDraw.Draw(frame).rectangle((x0, y0, x1, y1), outline="white", width=4)
    assert any(iou(window, cell) > 0.6 for window in framed(np.asarray(frame)))


ALIGNED = Verification(40, 60, 0.9, 0.9, (0, 0, 100, 100))  # a check that confirms


def leader_frames(searcher, count: int, monkeypatch):
    """The demo video and its first `count` frames (ids, info) as a leading reference's, with
    the checker's side-by-side checks off, so that a stubbed check sees every frame in turn."""
    archive = searcher.archive
    video = next(i for i in archive.catalog.items() if i.kind == "video")
    ids = [f.frame_id for f in archive.catalog.item_frames(video.id)[:count]]
    monkeypatch.setattr(searcher.checker, "_check_together", lambda *args: None)
    return video, ids, archive.catalog.frames_info(ids)


def test_the_frames_beside_the_best_are_checked_only_when_none_of_the_best_is_confirmed(
    demo_searcher, monkeypatch
):
    """A moving camera's copy lies between two sampled frames, which a toned copy's descriptor
    cannot tell apart: when none of the leader's best frames is confirmed, the retrieved frames
    sampled beside the best one are checked too, and one confirmed there is the answer."""
    checker = demo_searcher.checker
    video, ids, info = leader_frames(demo_searcher, 8, monkeypatch)
    best = {f: Hit(0.3, 0.5, 0, False, False) for f in ids}
    candidates = [ids[3], ids[0], ids[6], ids[7]]
    later = _neighbours(ids, candidates, info)
    assert later == [ids[2], ids[4]]
    checked: list[int] = []

    def fake(confirmed: int):
        def verify_hit(found, hit, pictures, local):
            checked.append(found.frame_id)
            return ALIGNED if found.frame_id == confirmed else NOT_VERIFIED

        return verify_hit

    pictures = [Picture(np.zeros((64, 64, 3), np.uint8))]
    monkeypatch.setattr(checker, "verify_hit", fake(ids[4]))
    chosen = checker.best_frame(video, list(candidates), best, info, pictures, 2, later)
    assert chosen.frame_id == ids[4] and verdict.verified(chosen.check)
    assert set(later) <= set(checked)

    checked.clear()
    monkeypatch.setattr(checker, "verify_hit", fake(ids[0]))
    chosen = checker.best_frame(video, list(candidates), best, info, pictures, 2, later)
    assert chosen.frame_id == ids[0]
    assert not set(later) & set(checked)


def test_frames_keypoints_confirm_alike_answer_their_middle_and_stretch(demo_searcher, monkeypatch):
    """Three or more of a video's frames that keypoints confirm within chance of each other (a
    slow zoom keeps the copied region in all of them) answer with the middle one in time and
    their stretch, whichever the descriptor ranked first; a frame that aligns clearly better is
    the answer alone, and so is the best of two that tie."""
    checker = demo_searcher.checker
    video, ids, info = leader_frames(demo_searcher, 5, monkeypatch)
    scores = [0.50, 0.49, 0.48, 0.47, 0.46]
    best = {f: Hit(s, s, 0, False, False) for f, s in zip(ids, scores, strict=True)}
    pictures = [Picture(np.zeros((64, 64, 3), np.uint8))]

    def answer(inliers: dict[int, int]) -> Match:
        def verify_hit(found, hit, pictures, local):
            count = inliers.get(found.frame_id)
            if count is None:
                return NOT_VERIFIED
            return Verification(count, 90, 0.9, 0.9, ALIGNED.region)

        monkeypatch.setattr(checker, "verify_hit", verify_hit)
        return checker.best_frame(video, list(ids), best, info, pictures, 2)

    tied = answer({ids[0]: 42, ids[1]: 40, ids[2]: 41})
    assert tied.frame_id == ids[1]
    assert tied.time_span == (info[ids[0]].time, info[ids[2]].time)
    clearly = answer({ids[0]: 40, ids[1]: 41, ids[2]: 42, ids[3]: 80})
    assert clearly.frame_id == ids[3] and clearly.time_span is None
    two = answer({ids[0]: 40, ids[3]: 41})
    assert two.frame_id == ids[0] and two.time_span is None


def test_the_second_best_frame_gets_sift_too_only_when_the_descriptor_ties_it_with_the_best(
    demo_searcher, monkeypatch
):
    """Where neither ORB on the leader's frames nor SIFT on its best aligns anything, SIFT looks
    at its second-best frame as well when the descriptor cannot tell the two apart; a second
    frame clearly behind is left alone."""
    checker = demo_searcher.checker
    video, ids, info = leader_frames(demo_searcher, 4, monkeypatch)
    robust: list[int] = []

    def verify_hit(found, hit, pictures, local):
        if local is checker.robust:
            robust.append(found.frame_id)
            return ALIGNED if found.frame_id == ids[1] else NOT_VERIFIED
        return NOT_VERIFIED

    monkeypatch.setattr(checker, "verify_hit", verify_hit)
    pictures = [Picture(np.zeros((64, 64, 3), np.uint8))]

    def chosen(second: float) -> Match:
        scores = [0.30, second, 0.10, 0.05]
        best = {f: Hit(s, s, 0, False, False) for f, s in zip(ids, scores, strict=True)}
        return checker.best_frame(video, list(ids), best, info, pictures, 2)

    tied = chosen(0.30 - 0.8 * CHECK.robust_tie)
    assert robust == [ids[0], ids[1]]
    assert tied.frame_id == ids[1] and verdict.verified(tied.check)
    robust.clear()
    behind = chosen(0.30 - 1.5 * CHECK.robust_tie)
    assert robust == [ids[0]]
    assert not verdict.verified(behind.check)


def test_sift_also_looks_where_orb_came_nearest_to_aligning(demo_searcher, monkeypatch):
    """Where ORB aligns none of the leader's frames and SIFT not its best, SIFT looks at the frame
    on which ORB found the most inliers, too few to count: the frame that shows most of the same
    ground. Where ORB found none anywhere, nothing more is looked at."""
    checker = demo_searcher.checker
    video, ids, info = leader_frames(demo_searcher, 4, monkeypatch)
    hint = Verification(VERDICT.contradicting_inliers - 2, 30, 0.0, 0.0, None)
    robust: list[int] = []
    orb_hint: dict[int, Verification] = {}

    def verify_hit(found, hit, pictures, local):
        if local is checker.robust:
            robust.append(found.frame_id)
            return ALIGNED if found.frame_id == ids[2] else NOT_VERIFIED
        return orb_hint.get(found.frame_id, NOT_VERIFIED)

    monkeypatch.setattr(checker, "verify_hit", verify_hit)
    pictures = [Picture(np.zeros((64, 64, 3), np.uint8))]
    scores = [0.30, 0.10, 0.08, 0.05]
    best = {f: Hit(s, s, 0, False, False) for f, s in zip(ids, scores, strict=True)}

    orb_hint[ids[2]] = hint
    chosen = checker.best_frame(video, list(ids), best, info, pictures, 2)
    assert robust == [ids[0], ids[2]]
    assert chosen.frame_id == ids[2] and verdict.verified(chosen.check)
    robust.clear()
    orb_hint.clear()
    chosen = checker.best_frame(video, list(ids), best, info, pictures, 2)
    assert robust == [ids[0]] and not verdict.verified(chosen.check)


def test_a_leader_nothing_aligned_gets_one_last_orb_look_with_its_contrast_equalised(
    demo_searcher, monkeypatch
):
    """Where neither ORB nor SIFT aligns any of the leader's frames, ORB looks at each once more
    with the query's grey levels equalised, and the frame that aligns with most inliers is
    confirmed that way (its answer says so by its tone). The equalised picture is made once."""
    checker = demo_searcher.checker
    video, ids, info = leader_frames(demo_searcher, 3, monkeypatch)
    inliers = {ids[1]: 20, ids[2]: 30}
    looked: list[tuple[str | None, int]] = []
    equalised_pictures: set[int] = set()

    def check(picture, mirrored, found, local):
        looked.append((picture.tone, found.frame_id))
        if picture.tone != EQUALISED or found.frame_id not in inliers:
            return NOT_VERIFIED
        equalised_pictures.add(id(picture))
        return Verification(inliers[found.frame_id], 60, 0.9, 0.9, (0, 0, 100, 100))

    monkeypatch.setattr(checker, "_check", check)
    still = Picture(np.full((64, 64, 3), 128, np.uint8))
    best = {f: Hit(s, s, 0, False, False) for f, s in zip(ids, [0.3, 0.2, 0.1], strict=True)}
    chosen = checker.best_frame(video, list(ids), best, info, [still], 2)
    assert chosen.frame_id == ids[2] and chosen.tone == EQUALISED
    assert verdict.verified(chosen.check)
    assert [f for tone, f in looked if tone == EQUALISED] == ids
    assert len(equalised_pictures) == 1 and still.equalised is not None
    assert still.equalised.rgb.shape == still.rgb.shape


def test_a_toning_that_found_a_frame_is_checked_in_its_own_orientation(demo_searcher, monkeypatch):
    """A toned copy's still may prefer the mirror image by chance; the toning that found the
    frame (searched unmirrored) is then checked unmirrored, and confirms it."""
    archive, checker = demo_searcher.archive, demo_searcher.checker
    photo = next(i for i in archive.catalog.items() if i.kind == "image")
    frame = archive.catalog.item_frames(photo.id)[0]
    rgb = np.full((64, 64, 3), 128, np.uint8)
    pictures = [Picture(rgb), Picture(255 - rgb, tone="inverted")]
    tried: list[tuple[str | None, bool]] = []

    def check(picture, mirrored, found, local):
        tried.append((picture.tone, mirrored))
        if (picture.tone, mirrored) == ("inverted", False):
            return ALIGNED
        return NOT_VERIFIED

    monkeypatch.setattr(checker, "_check", check)
    hit = Hit(0.1, 0.1, 0, True, False, also=((1, False),))
    found = Match(photo, frame.frame_id, frame.ordinal, None, 0.1, 0.1, True)
    result = checker.verify_hit(found, hit, pictures, checker.fast)
    assert verdict.verified(result)
    assert tried[:2] == [(None, True), ("inverted", False)]
    assert (found.tone, found.mirrored) == ("inverted", False)
