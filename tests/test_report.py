"""Provenance reports for a real match (the demo: a captioned crop of the chair video's frame at
00:12): verdict in words, pictures embedded, timeline order, ClaimReview; the PDF rendered and
opened with pdftoppm."""

import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile
from typer.testing import CliRunner

from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_descriptor, open_searcher
from firstseen.evidence.dates import period, relation, span
from firstseen.evidence.render import render_html, write_report
from firstseen.evidence.report import Claim, build_report
from firstseen.matching.features import LocalFeatures
from firstseen.media import load_frame_at

CLAIM = Claim(date="2024-03-14", url="https://social.example/posts/4711")
VERDICT = (
    "This image is a cropped frame (00:12) of 'Chair test footage (ThreatExchange sample video)',"
    " published 2019-07-30, 4 years and 7 months before the claimed date."
)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture(scope="module")
def demo_report(demo_archive, demo_searcher, demo_dir):
    return build_report(demo_archive, demo_searcher, demo_dir / "evidence.jpg", CLAIM)


@pytest.fixture(scope="module")
def reposted(demo_archive, demo_dir, tmp_path_factory):
    """A copy of the demo archive where the chair footage was also reposted later and a still of
    its frame at 00:12 was published on its own."""
    demo_archive.save()
    root = tmp_path_factory.mktemp("reposted") / "archive"
    shutil.copytree(demo_archive.root, root)
    archive = Archive(root)
    ingester = Ingester(archive, open_descriptor(archive))
    video = demo_dir / "media" / "chair-20-sd-bar.mp4"
    repost = Sighting(str(video), "https://social.example/repost/77", "Repost", "2023-01-05")
    assert ingester.add(video, repost).status == "duplicate"
    still = root.parent / "still.png"
    Image.fromarray(load_frame_at(video, 12.0).rgb).save(still)
    blog = Sighting(str(still), "https://blog.example/still", "Still of the chair", "2020-02-02")
    assert ingester.add(still, blog).status == "added"
    archive.save()
    return archive


def test_demo_verdict_in_plain_words(demo_report):
    text = demo_report.verdict
    assert text.startswith(VERDICT), text
    assert "215" in text or "keypoint matches agree" in text
    assert "existed before the date claimed for it" in text
    data = demo_report.data
    assert data["verdict"]["match"] and data["verdict"]["relation"] == "before"
    (match,) = data["matches"]
    assert match["description"] == "a cropped frame (00:12)" and match["verified"]
    assert match["keypoints_drawn"] >= 12 and match["region"]
    assert len(data["candidates"]) == 3 and not any(c["match"] for c in data["candidates"])


def test_keypoints_are_drawn_with_the_settings_that_checked_the_match(
    demo_archive, demo_searcher, demo_dir, monkeypatch
):
    """The figure's keypoint pairs come from the detectors the search checks with (ORB, then
    SIFT, at the tuning module's settings): other settings would draw other pairs than the ones
    the verdict rests on."""
    made = []
    init = LocalFeatures.__init__

    def recording(self, kind, max_edge, count):
        made.append((kind, max_edge, count))
        init(self, kind, max_edge, count)

    monkeypatch.setattr(LocalFeatures, "__init__", recording)
    report = build_report(demo_archive, demo_searcher, demo_dir / "evidence.jpg", CLAIM)
    checker = demo_searcher.checker
    checked = {
        (local.kind, local.max_edge, local.count) for local in (checker.fast, checker.robust)
    }
    assert made and set(made) <= checked
    assert report.data["matches"][0]["keypoint_features"] == "ORB"


def test_html_is_self_contained_with_embedded_pictures(demo_report):
    html = render_html(demo_report)
    parser = Tags()
    parser.feed(html)
    images = [attrs["src"] for tag, attrs in parser.tags if tag == "img"]
    assert len(images) >= 2  # the query, the side-by-side figure
    for src in images:
        assert src.startswith("data:image/jpeg;base64,")
        picture = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert picture.width > 100 and picture.height > 100
    loaded = [
        attrs.get("src") or attrs.get("href")
        for tag, attrs in parser.tags
        if tag in ("script", "link", "iframe", "object", "embed", "source", "video")
    ]
    assert not any(loaded), loaded  # nothing fetched when the file is opened
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in csp[0]["content"]
    assert VERDICT in " ".join(html.split())
    for figure in ("59bb62fb12ea3a7ee19f7bb496a0a8145a6236c469545d8d46e9915fe08d35c8", "00:12"):
        assert figure in html  # the source's SHA-256 and the time in it


def test_claim_review_block(demo_report):
    parser = Tags()
    parser.feed(render_html(demo_report))
    (block,) = [json.loads(s) for s in parser.scripts if s.strip()]
    assert block == demo_report.data["claim_review"]
    assert block["@type"] == "ClaimReview" and block["@context"] == "https://schema.org"
    assert block["itemReviewed"]["datePublished"] == "2024-03-14"
    assert block["itemReviewed"]["appearance"][0]["url"] == CLAIM.url
    assert block["itemReviewed"]["firstAppearance"]["datePublished"] == "2019-07-30"
    assert block["reviewRating"]["ratingValue"] == 1
    assert "predates" in block["reviewRating"]["alternateName"]
    (source,) = block["isBasedOn"]
    assert source["@type"] == "VideoObject" and source["sha256"].startswith("59bb62fb")
    assert block["reviewBody"] == demo_report.verdict


def test_timeline_orders_every_sighting_and_marks_the_earliest(reposted, demo_dir):
    report = build_report(reposted, open_searcher(reposted), demo_dir / "evidence.jpg", CLAIM)
    data = report.data
    assert {m["title"] for m in data["matches"]} == {
        "Chair test footage (ThreatExchange sample video)",
        "Still of the chair",
    }
    timeline = data["timeline"]
    assert [e["published"] for e in timeline] == [
        "2019-07-30",
        "2020-02-02",
        "2023-01-05",
        "2024-03-14",
    ]
    assert [e["kind"] for e in timeline][-1] == "claim"
    assert [e["earliest"] for e in timeline] == [True, False, False, False]
    assert timeline[0]["url"] == "https://example.org/videos/chair-test-footage"
    assert [e["x"] for e in timeline] == sorted(e["x"] for e in timeline)
    assert "4 years and 7 months before the claimed date" in report.verdict
    shown = {i["sha256"] for i in data["items"]}
    assert {m["sha256"] for m in data["matches"]} <= shown
    video = next(i for i in data["items"] if i["kind"] == "video" and len(i["sightings"]) == 2)
    assert [s["published"] for s in video["sightings"]] == ["2019-07-30", "2023-01-05"]


def test_no_match_says_so_and_what_was_searched(demo_archive, demo_searcher, tmp_path):
    picture = Image.fromarray(np.full((300, 400, 3), (40, 90, 160), np.uint8))
    draw = ImageDraw.Draw(picture)
    for n in range(12):
        draw.ellipse(
            (20 + n * 28, 30 + n * 15, 80 + n * 28, 90 + n * 15), fill=(250, 200 - n * 9, 30)
        )
    picture.save(tmp_path / "unrelated.png")
    report = build_report(demo_archive, demo_searcher, tmp_path / "unrelated.png", CLAIM)
    text = report.verdict
    assert text.startswith("No archived item matches this image.")
    assert "Searched 9 archived items (3 videos, 6 images;" in text
    assert "not that it is original" in text
    assert report.data["matches"] == [] and report.data["timeline"][0]["kind"] == "claim"
    assert report.data["claim_review"]["reviewRating"]["alternateName"].startswith("Unverified")
    written = write_report(report, tmp_path / "none.json")
    assert json.loads(written.read_text())["verdict"]["match"] is False


def test_pdf_rendered_and_opened(demo_report, tmp_path):
    if not shutil.which("pdftoppm"):
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing: `make system-deps` installs poppler-utils")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    pdf = write_report(demo_report, tmp_path / "report.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # WeasyPrint's import must not relax decoding
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    first = np.asarray(Image.open(pages[0]).convert("L"))
    assert first.shape[0] > first.shape[1] and first.std() > 10  # a portrait page with content
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    flat = " ".join(text.split())
    assert "4 years and 7 months before the claimed date" in flat
    assert "FIRST SEEN" in flat and "ClaimReview" in flat


def test_report_command(demo_archive, demo_dir, tmp_path):
    runner = CliRunner()
    base = ["--archive", str(demo_archive.root), "report", str(demo_dir / "evidence.jpg")]
    result = runner.invoke(
        app, [*base, "--claimed-date", "2024-03-14", "--out", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    assert "4 years and 7 months before the claimed date" in " ".join(result.stdout.split())
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    bad = runner.invoke(app, [*base, "--out", str(tmp_path / "r.docx")])
    assert bad.exit_code == 2
    bad_date = runner.invoke(
        app, [*base, "--claimed-date", "soon", "--out", str(tmp_path / "x.html")]
    )
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output


@pytest.mark.parametrize(
    ("source", "claim", "words"),
    [
        ("2019-07-30", "2024-03-14", "4 years and 7 months before the claimed date"),
        ("2015-06-02", "2017-11-20", "2 years and 5 months before the claimed date"),
        ("2024-03-01", "2024-03-14", "13 days before the claimed date"),
        ("2024-03-14", "2024-03-14", "on the claimed date"),
        ("2024-05-20", "2024-03-14", "2 months after the claimed date"),
        ("2019", "2024-03-14", "at least 4 years and 2 months before the claimed date"),
        ("2024-03", "2024-03-14", "in the same period as the claimed date"),
        ("2023-03-14T23:00:00+00:00", "2024-03-14", "1 year before the claimed date"),
    ],
)
def test_date_relations_in_words(source, claim, words):
    assert relation(period(source), period(claim))[1] == words


def test_spans():
    assert span(period("2020-01-31").first, period("2020-02-29").first) == "29 days"
    assert span(period("2020-01-15").first, period("2021-02-15").first) == "1 year and 1 month"


def test_only_web_urls_become_links():
    from firstseen.evidence.render import _link

    assert str(_link("https://example.org/a?b=1&c=2")) == (
        '<a href="https://example.org/a?b=1&amp;c=2">https://example.org/a?b=1&amp;c=2</a>'
    )
    assert "href" not in str(_link("javascript:alert(1)"))
    assert "&lt;script&gt;" in str(_link("data:text/html,<script>"))
