"""What a video's container says of itself: tags written at test time with PyAV (Apple's and
Android's metadata keys, QuickTime user data, Matroska tags, a display matrix), read into the
provenance fields, and hostile containers (cut short, huge or acting tags, frames over the
budget) given a clear state."""

import hashlib
import json
import random
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from firstseen.archive.records import Item, Sighting
from firstseen.errors import MediaError
from firstseen.evidence.credentials import metadata_line
from firstseen.evidence.render import render_html
from firstseen.evidence.report import build_report
from firstseen.matching.provenance import ProvenanceReader
from firstseen.media.budget import limited
from firstseen.media.video import video_info
from firstseen.media.video_tags import _place, read_video_metadata
from firstseen.tuning import PROVENANCE

PARIS = "+48.8577+002.2950+035.000/"
IPHONE = {
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 12",
    "com.apple.quicktime.software": "17.1",
    "com.apple.quicktime.creationdate": "2024-03-14T08:15:00+0100",
    "com.apple.quicktime.location.ISO6709": PARIS,
}
# FFmpeg writes every tag as a metadata key (mdta) only when asked; else only those QuickTime's
# user data has a box for.
KEYS = {"movflags": "use_metadata_tags"}


def make_video(
    path: Path, tags: dict[str, str], options: dict[str, str] | None = None, turn: int = 0
) -> Path:
    """A 1-second, 64x48 video whose container carries `tags` and whose stream is turned
    `turn` degrees counter-clockwise for display (its display matrix)."""
    with av.open(str(path), "w", options=options or {}) as out:
        out.metadata.update(tags)
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if turn:
            stream.set_display_rotation(turn)
        for i in range(10):
            rgb = np.full((48, 64, 3), i * 20, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        out.mux(stream.encode())
    return path


def test_an_iphone_video_gives_camera_local_time_place_and_rotation(tmp_path):
    tags = {**IPHONE, "creation_time": "2024-03-14T07:15:00Z"}
    found = read_video_metadata(make_video(tmp_path / "phone.mp4", tags, KEYS, turn=90))
    assert found["state"] == "read"
    fields = found["fields"]
    assert (fields["camera_make"], fields["camera_model"]) == ("Apple", "iPhone 12")
    # Apple's local time with its offset, before the header's UTC
    assert (fields["captured_at"], fields["time_zone"]) == ("2024-03-14T08:15:00", "+01:00")
    assert fields["gps"] == {"latitude": 48.8577, "longitude": 2.295, "altitude": 35.0}
    assert fields["rotation"] == 270  # 90 counter-clockwise is 270 clockwise, as frames turn
    assert fields["software"].startswith("Lavf")  # FFmpeg wrote the file last
    assert fields["orientation"] is None and fields["thumbnail"] is None
    assert found["raw"]["container:com.apple.quicktime.make"] == "Apple"
    assert found["raw"]["video#0:handler_name"] == "VideoHandler"
    assert metadata_line(found).startswith(
        "camera Apple iPhone 12; captured 2024-03-14 08:15:00 +01:00; at 48.85770, 2.29500"
    )


def test_quicktime_user_data_android_keys_and_matroska_tags(tmp_path):
    udta = {
        "make": "Canon",
        "model": "EOS R5",
        "location": PARIS,
        "creation_time": "2021-05-02T09:30:00Z",
    }
    fields = read_video_metadata(make_video(tmp_path / "cam.mov", udta, turn=180))["fields"]
    assert (fields["camera_make"], fields["camera_model"]) == ("Canon", "EOS R5")
    assert fields["gps"]["latitude"] == 48.8577 and fields["rotation"] == 180
    assert (fields["captured_at"], fields["time_zone"]) == ("2021-05-02T09:30:00", "+00:00")

    android = {
        "com.android.manufacturer": "Google",
        "com.android.model": "Pixel 8",
        "com.android.version": "14",
        "location": "-3352.13+15112.56/",  # ISO 6709 in degrees and minutes
    }
    fields = read_video_metadata(make_video(tmp_path / "a.mp4", android, KEYS))["fields"]
    assert (fields["camera_make"], fields["camera_model"]) == ("Google", "Pixel 8")
    assert fields["gps"] == pytest.approx({"latitude": -33.868833, "longitude": 151.209333})
    assert fields["rotation"] is None

    found = read_video_metadata(make_video(tmp_path / "t.mkv", {**IPHONE, "software": "Edit"}))
    assert found["raw"]["container:COM.APPLE.QUICKTIME.MAKE"] == "Apple"  # Matroska's case
    assert found["fields"]["camera_model"] == "iPhone 12"
    assert found["fields"]["time_zone"] == "+01:00"


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("+48.8577+002.2950/", (48.8577, 2.295)),
        ("+4851.462+00217.700/", (48.8577, 2.295)),
        ("-335207.9+1511233.6+12.5/", (-33.868861, 151.209333)),
        ("+91.0+000.0/", None),  # off the globe
        ("+48.85+2.29/", None),  # a longitude needs three digits of degrees
        ("+4875.0+00217.7/", None),  # 75 minutes
        ("48.8577, 2.2950", None),
        ("", None),
    ],
)
def test_iso6709_strings(text, place):
    found = _place(text)
    got = None if found is None else (found["latitude"], found["longitude"])
    assert got == (pytest.approx(place) if place else None)


def test_acting_huge_and_countless_tags_are_escaped_cut_and_capped(tmp_path):
    tags = {
        "com.apple.quicktime.make": "Evil\x1b[31m\u202eCam",
        "comment": "A" * 1_000_000,
        "com.apple.quicktime.location.ISO6709": "+" + "9" * 5000,
    }
    found = read_video_metadata(make_video(tmp_path / "x.mp4", tags, KEYS))
    text = json.dumps(found)
    assert "\x1b" not in text and "\u202e" not in text and len(text) < 10_000
    assert found["fields"]["camera_make"] == "Evil\\x1b[31m\\u202eCam"
    assert found["raw"]["container:comment"] == "A" * PROVENANCE.field_chars + "… (cut)"
    assert found["fields"]["gps"] is None

    many = {f"tag{i:03d}": str(i) for i in range(PROVENANCE.raw_fields + 50)}
    found = read_video_metadata(make_video(tmp_path / "many.mkv", many))
    assert len(found["raw"]) == PROVENANCE.raw_fields and found["raw_omitted"] > 50


def test_broken_containers_give_a_clear_state(tmp_path):
    whole = make_video(tmp_path / "v.mov", IPHONE, KEYS).read_bytes()
    cut = tmp_path / "cut.mov"
    cut.write_bytes(whole[:100])  # inside the first boxes: no header to read
    found = read_video_metadata(cut)
    assert found == {"state": "unreadable", "reason": found["reason"]}
    assert found["reason"].startswith("unreadable video:")
    assert metadata_line(found).startswith("metadata not read: unreadable video:")

    noise = tmp_path / "noise.mp4"
    noise.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)
    assert read_video_metadata(noise)["state"] == "unreadable"
    assert read_video_metadata(tmp_path)["state"] == "unreadable"  # a directory
    assert read_video_metadata(tmp_path / "gone.mp4")["state"] == "unreadable"

    unknown = tmp_path / "unknown.mov"
    # the media information box misnamed: a video stream whose codec FFmpeg never learns
    unknown.write_bytes(whole.replace(b"minf", b"mxnf"))
    assert read_video_metadata(unknown) == {"state": "unreadable", "reason": "unknown video codec"}
    with pytest.raises(MediaError, match="unknown video codec"):
        video_info(unknown)

    with limited(pixels=1000):  # a request's budget: 64x48 frames are over it
        found = read_video_metadata(tmp_path / "v.mov")
    assert found["state"] == "unreadable" and "video frames too large" in found["reason"]


def test_damaged_headers_never_raise(tmp_path):
    """Bytes of a tagged MP4's and Matroska file's headers changed at random, some files cut:
    each gives a state (FFmpeg reads most of them, refuses the rest)."""
    rng = random.Random(22)
    sources = [
        make_video(tmp_path / "v.mp4", IPHONE, {"movflags": "use_metadata_tags+faststart"}, 90),
        make_video(tmp_path / "v.mkv", IPHONE),
    ]
    states = Counter()
    for n in range(300):
        data = bytearray(sources[n % 2].read_bytes())
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(min(len(data), 2000))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        found = read_video_metadata(written(tmp_path / "damaged", bytes(data)))
        states[found["state"]] += 1
        assert found["state"] in ("read", "none") or found["reason"]
    assert states["read"] > 100 and states["unreadable"] > 30


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_file_cut_after_its_header_still_gives_its_tags(tmp_path):
    """FFmpeg's MP4 muxer writes the header (moov) last unless asked: `faststart` puts it first,
    as phones do, and a file cut in its frames still says what it is."""
    options = {**KEYS, "movflags": "use_metadata_tags+faststart"}
    whole = make_video(tmp_path / "v.mp4", IPHONE, options).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    assert read_video_metadata(cut)["fields"]["camera_model"] == "iPhone 12"


def test_an_archived_video_is_read_under_the_archives_limits_not_the_requests(tmp_path):
    path = make_video(tmp_path / "archived.mp4", IPHONE, KEYS)
    data = path.read_bytes()
    item = Item(
        1, hashlib.sha256(data).hexdigest(), "video", str(path), 64, 48, 1.0, len(data),
        "2024-01-01", "media", 2, Sighting(str(path)),
    )  # fmt: skip
    with limited(pixels=1000, seconds=0) as request:  # a request past its deadline
        found = ProvenanceReader(None).item(item).metadata
    assert found["fields"]["camera_model"] == "iPhone 12"
    assert request.breaches == []  # nothing refused in the request's name


@pytest.fixture
def tagged_clip(demo_dir, tmp_path) -> Path:
    """The demo's evidence clip remuxed (its packets as they are) with an iPhone's tags, dated
    2024, after the chair footage's first sighting (2019-07-30)."""
    path = tmp_path / "tagged-clip.mp4"
    with (
        av.open(str(demo_dir / "evidence-clip.mp4")) as source,
        av.open(str(path), "w", options=KEYS) as out,
    ):
        out.metadata.update(IPHONE)
        video = source.streams.video[0]
        copy = out.add_stream_from_template(video)
        for packet in source.demux(video):
            if packet.dts is not None:  # the demuxer's final empty packet
                packet.stream = copy
                out.mux(packet)
    return path


def test_a_clip_query_carries_its_tags_into_the_answer_and_the_report(
    demo_archive, demo_searcher, tagged_clip
):
    report = build_report(demo_archive, demo_searcher, tagged_clip)
    metadata = report.data["query"]["metadata"]
    assert metadata["fields"]["camera_model"] == "iPhone 12"
    assert metadata["summary"].startswith("camera Apple iPhone 12; captured 2024-03-14")
    late = "captured on 2024-03-14, after the archive's earliest sighting"
    assert any(late in note for note in report.data["notes"])
    query = report.data["appendix"][0]
    assert query["file"] == "the query"
    assert query["fields"]["container:com.apple.quicktime.location.ISO6709"] == PARIS
    assert "container:com.apple.quicktime.model" in render_html(report)
