"""A clip's answer as a picture: timelines joined (slanted where the speed changed), frame pairs
as thumbnails, archive text escaped; in the report and the HTTP API, and keyframes over HTTP."""

import base64
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from firstseen.evidence.alignment import Lane, Stretch, alignment_svg, still
from firstseen.evidence.render import render_html
from firstseen.evidence.report import build_report
from firstseen.server import ServerSettings, Service, create_app

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = 'Clip </text><script>alert(1)</script> & "quotes" \x01\x1b[31m'


def _polygons(svg: str) -> list[list[tuple[float, float]]]:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    return [
        [tuple(map(float, point.split(","))) for point in shape.get("points").split()]
        for shape in root.iter(f"{SVG}polygon")
    ]


def _widths(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The join's width at the query's timeline and at the source's."""
    (a, _), (b, _), (c, _), (d, _) = points
    return b - a, c - d


def test_speed_changes_are_slanted_joins_and_normal_speed_upright():
    picture = still(np.full((90, 160, 3), 128, np.uint8))
    lanes = [
        Lane(
            "rug",
            30.0,
            [Stretch((0.0, 4.0), (1.0, 5.0), 1.0, True, (2.0, 3.0), picture, picture)],
        ),
        Lane("chair", 20.0, [Stretch((4.0, 10.4), (6.0, 14.0), 1.25, True, (8.0, 11.0))]),
        Lane("doubtful", None, [Stretch((1.0, 2.0), (40.0, 41.0), 1.0, False)]),
    ]
    svg = alignment_svg("clip.mp4", 10.4, lanes)
    normal, faster, _doubtful = _polygons(svg)
    top, bottom = _widths(normal)
    assert bottom == pytest.approx(top, abs=0.2)
    assert normal[0][0] == pytest.approx(normal[3][0], abs=0.2)  # upright: starts line up
    top, bottom = _widths(faster)
    assert bottom / top == pytest.approx(1.25, rel=0.02)
    assert "1.25×" in svg and 'stroke-dasharray="4 3"' in svg
    images = [i for i in ET.fromstring(svg).iter(f"{SVG}image")]
    assert len(images) == 2  # the one pair with pictures: query frame, source frame
    assert all(
        i.get("{http://www.w3.org/1999/xlink}href").startswith("data:image/jpeg;base64,")
        for i in images
    )
    assert "00:02 ↔ 00:03" in svg and "00:08 ↔ 00:11" not in svg  # no pictures, no pair


def test_archive_text_is_escaped_and_control_characters_cannot_break_the_xml():
    lanes = [Lane(HOSTILE * 3, 10.0, [Stretch((0.0, 2.0), (0.0, 2.0), 1.0, True)])]
    svg = alignment_svg(HOSTILE, 2.0, lanes)
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert "<script>" not in svg and "\x01" not in svg and "\x1b" not in svg
    assert "&lt;script&gt;" in svg and "&amp;" in svg
    assert re.search(r"source: Clip &lt;/text&gt;.*…</text>", svg)  # a long title shortened


@pytest.fixture(scope="module")
def clip_report(demo_archive, demo_searcher, demo_dir):
    return build_report(demo_archive, demo_searcher, demo_dir / "evidence-clip.mp4")


def _svg_of(uri: str) -> str:
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    return base64.b64decode(uri[len(prefix) :]).decode()


def test_the_report_of_the_demo_clip_shows_its_alignment(clip_report):
    svg = _svg_of(clip_report.images["alignment"])
    assert "Chair test footage" in svg and "Filmed rug pattern" in svg
    assert len(_polygons(svg)) == 2 and svg.count("<image ") == 4  # a frame pair per source
    segments = [s for m in clip_report.data["matches"] for s in m["segments"] if s["match"]]
    assert all(s["pair"]["reference_frame"] >= 0 for s in segments)
    html = render_html(clip_report)
    assert clip_report.images["alignment"] in html
    assert clip_report.data["candidates"]  # the demo's photos come close to no frame of it
    folded = html.split("<h2>Closest candidates that do not match</h2>")[1]
    assert folded.lstrip().startswith("<details>")


@pytest.fixture(scope="module")
def client(demo_archive, demo_searcher):
    settings = ServerSettings(allowed_hosts=("testserver",))
    service = Service(demo_archive, settings, searcher=demo_searcher, owns_archive=False)
    with TestClient(create_app(service)) as test_client:
        yield test_client


def test_the_api_answers_a_clip_with_its_alignment_picture(client, demo_dir):
    clip = (demo_dir / "evidence-clip.mp4").read_bytes()
    answer = client.post("/api/search", files={"file": ("clip <1>.mp4", clip)}).json()
    svg = answer["alignment_svg"]
    assert "Chair test footage" in svg and "clip &lt;1&gt;.mp4" in svg
    chair = next(m for m in answer["matches"] if m["path"].endswith("chair-20-sd-bar.mp4"))
    assert chair["segments"][0]["pair"]["query_time"] >= 4.0
    still_answer = client.post(
        "/api/search", files={"file": ("e.jpg", (demo_dir / "evidence.jpg").read_bytes())}
    ).json()
    assert still_answer["alignment_svg"] is None


def test_keyframes_over_http(client, demo_dir, tmp_path):
    clip = (demo_dir / "evidence-clip.mp4").read_bytes()
    answer = client.post("/api/keyframes", files={"file": ("clip.mp4", clip)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["shots"] == 2 and body["left_out"] == 0
    assert [k["shot"] for k in body["keyframes"]] == [1, 2]
    assert body["keyframes"][1]["span"][0] == pytest.approx(4.0, abs=0.05)
    assert body["keyframes"][0]["file"].startswith("kf001-0m")
    data = body["keyframes"][0]["image"].split(",", 1)[1]
    (tmp_path / "k.jpg").write_bytes(base64.b64decode(data))
    with Image.open(tmp_path / "k.jpg") as picture:
        assert picture.size == (640, 360)

    photo = (demo_dir / "evidence.jpg").read_bytes()
    refused = client.post("/api/keyframes", files={"file": ("e.jpg", photo)})
    assert refused.status_code == 415 and "not a video" in refused.json()["error"]
    cut = client.post("/api/keyframes", files={"file": ("cut.mp4", clip[: len(clip) * 2 // 3])})
    assert cut.status_code == 422 and "cannot read the upload" in cut.json()["error"]
    text = client.post("/api/keyframes", files={"file": ("t.mp4", b"not a video\n" * 50)})
    assert text.status_code == 415
