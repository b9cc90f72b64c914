"""Capturing the video a page plays through a player (yt-dlp, through the capture's guard), against
a local HTTP server: an HLS playlist and a DASH manifest made here with PyAV from a demo video,
players that name them in markup and in scripts, playlists that never end, and playlists whose
segments (or their redirects) point at refused addresses.

Every connection is checked to go to 127.0.0.1 (`loopback_only`, from test_capture): a refused
address must be refused before any connection is attempted.
"""

import contextlib
import hashlib
import time
from io import BytesIO

import av
import pytest
import streams
import test_capture
from PIL import Image
from test_capture import _ingester
from typer.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from yt_dlp.globals import all_plugins_loaded, plugin_dirs
from yt_dlp.plugins import load_all_plugins

from firstseen.archive.captures import CaptureStore
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_searcher
from firstseen.evidence.capture import capture
from firstseen.evidence.fetch import Limits
from firstseen.evidence.netsafety import Policy
from firstseen.evidence.replay import Replay
from firstseen.evidence.videonet import GuardedYDL, Session
from firstseen.evidence.warc import VIDEO_URN
from firstseen.media.video import sample_video

loopback_only = test_capture.loopback_only  # autouse: nothing but 127.0.0.1 is connected to
LOOPBACK = Policy.allowing(["127.0.0.1/32"])
LIMITS = Limits(max_bytes=4 << 20, timeout=2.0, total_seconds=60)
PUBLISHED = "2024-05-06"
LIVE_SEGMENTS = 5000  # listed by the playlist that never ends: far more than any budget here


def _page(title: str, player: str) -> bytes:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="{PUBLISHED}T08:00:00Z"></head>
<body><article><h1>{title}</h1>
<p>The ministry's statement, as it was streamed this morning before it was taken down.</p>
{player}</article></body></html>""".encode()


def _video_tag(playlist: str) -> str:
    return f'<video controls><source src="{playlist}" type="application/x-mpegURL"></video>'


def _endless(prefix: str) -> bytes:
    """A live playlist (no EXT-X-ENDLIST) listing far more segments than a budget allows."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for number in range(LIVE_SEGMENTS):
        lines += ["#EXTINF:1.0,", f"{prefix}{number}.ts"]
    return "\n".join(lines).encode() + b"\n"


def _playlist(*segments: str) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for segment in segments:
        lines += ["#EXTINF:1.0,", segment]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]).encode() + b"\n"


HLS = "application/vnd.apple.mpegurl"


class StreamSite:
    """Pages with players, and the renditions they play; `requests` records every path asked."""

    def __init__(self, folder, source) -> None:
        self.source = source
        self.routes: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
        self.requests: list[str] = []
        hls, dash = folder / "hls", folder / "dash"
        for name in streams.make_hls(source, hls):
            self.add(f"/v/hls/{name}", (hls / name).read_bytes(), "video/mp2t")
        self.add("/v/hls/index.m3u8", (hls / "index.m3u8").read_bytes(), HLS)
        for name in streams.make_dash(source, dash):
            self.add(f"/v/dash/{name}", (dash / name).read_bytes(), "video/iso.segment")
        self.add(
            "/v/dash/manifest.mpd", (dash / "manifest.mpd").read_bytes(), "application/dash+xml"
        )
        self.segment = (hls / "seg000.ts").read_bytes()
        self.add("/watch/hls.html", _page("Ministry statement", _video_tag("/v/hls/index.m3u8")))
        setup = 'jwplayer("p").setup({"file": "/v/dash/manifest.mpd"});'
        jwplayer = f'<div id="p"></div><script>{setup}</script>'
        self.add("/watch/dash.html", _page("Ministry statement (DASH)", jwplayer))
        hlsjs = "<video id='v'></video><script>new Hls().loadSource('/v/live.m3u8');</script>"
        self.add("/watch/live.html", _page("Live from the ministry", hlsjs))
        self.add("/v/live.m3u8", _endless("/v/live/"), HLS)
        self.add("/watch/slow.html", _page("Slow live", _video_tag("/v/slow.m3u8")))
        self.add("/v/slow.m3u8", _endless("/v/slow/"), HLS)
        self.add("/watch/refused.html", _page("Refused", _video_tag("/v/refused.m3u8")))
        self.add(
            "/v/refused.m3u8", _playlist("/v/hls/seg000.ts", "http://10.20.30.40/seg1.ts"), HLS
        )
        self.add("/watch/redirected.html", _page("Redirected", _video_tag("/v/redirected.m3u8")))
        self.add("/v/redirected.m3u8", _playlist("/v/hls/seg000.ts", "/v/hop.ts"), HLS)
        self.routes["/v/hop.ts"] = (302, [("Location", "http://169.254.169.254/seg.ts")], b"")
        self.add("/watch/garbage.html", _page("Garbage", _video_tag("/v/garbage.m3u8")))
        self.add("/v/garbage.m3u8", b"#EXTM3U\n\x00\xff" * 1000 + bytes(range(256)), HLS)
        self.add("/watch/forever.html", _page("Forever", _video_tag("/v/forever.m3u8")))

    def add(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.routes[path] = (200, [("Content-Type", content_type)], body)

    def answer(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if path.startswith(("/v/live/", "/v/slow/")) and path.endswith(".ts"):
            if path.startswith("/v/slow/"):
                time.sleep(0.2)
            return 200, [("Content-Type", "video/mp2t")], self.segment
        return self.routes.get(path, (404, [("Content-Type", "text/plain")], b"not found"))


class Handler(test_capture.Handler):
    site: StreamSite

    def do_GET(self) -> None:
        self.site.requests.append(self.path)
        if self.path == "/v/forever.m3u8":  # a playlist whose body never ends
            self._forever()
            return
        self.send(*self.site.answer(self.path))

    def _forever(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", HLS)
        self.end_headers()
        lines = b"#EXTM3U\n" + b"#EXTINF:1.0,\n/v/live/0.ts\n" * 4000
        stop = time.monotonic() + 30
        with contextlib.suppress(OSError):  # until the client hangs up
            while time.monotonic() < stop:
                self.wfile.write(lines)


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_dir):
    content = StreamSite(
        tmp_path_factory.mktemp("streams"), demo_dir / "media" / "doorknob-hd-no-bar.mp4"
    )
    with test_capture.serving(content, Handler) as served:
        yield served


def _records(archive: Archive, capture_id: str) -> list[tuple[str, str, bytes]]:
    """(type, target URI, payload) of each response and resource record, digests checked."""
    found = []
    with CaptureStore(archive.root).find(capture_id).warc.open("rb") as stream:
        for record in ArchiveIterator(stream, check_digests=True):
            body = record.content_stream().read()
            assert record.digest_checker.passed is not False
            if record.rec_type in ("response", "resource"):
                found.append(
                    (record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), body)
                )
    return found


def _frames(data: bytes) -> int:
    with av.open(BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def _video(info: dict) -> dict:
    (video,) = [r for r in info["resources"] if r["url"].startswith(VIDEO_URN)]
    return video


def test_an_hls_player_video_is_captured_and_a_still_of_it_found(site, tmp_path):
    root = tmp_path / "archive"
    url = site.base + "/watch/hls.html"
    done = CliRunner().invoke(
        app, ["--archive", str(root), "capture", url, "--allow-network", "127.0.0.1/32"]
    )
    assert done.exit_code == 0, done.output
    archive = Archive(root)
    (ref,) = CaptureStore(archive.root).refs()
    info = CaptureStore(archive.root).load(ref.id)[1]
    video = _video(info)
    assert video["kind"] == "video" and video["added"] == "added" and video["page"] == url
    assert video["content_type"] == "video/mp2t"
    assert info["errors"] == []
    # every playlist and segment is a response record; the joined video is their bytes in order
    records = _records(archive, ref.id)
    responses = {uri: body for kind, uri, body in records if kind == "response"}
    segments = [p for p in sorted(site.routes) if p.startswith("/v/hls/seg")]
    assert {site.base + p for p in ["/v/hls/index.m3u8", *segments]} <= set(responses)
    joined = b"".join(site.routes[p][2] for p in segments)
    (resource,) = [body for kind, _, body in records if kind == "resource"]
    assert resource == joined and _frames(resource) == 120  # 4 segments of 1 s at 30 fps
    assert {r["kind"] for r in info["resources"] if r["url"].endswith(".ts")} == {"video part"}
    assert len(archive.catalog.items()) == 1  # the video, not its four segments
    assert Replay(archive.captures, ref.id).verify() == []
    written = Replay(archive.captures, ref.id).export(tmp_path / "out")
    (kept,) = [f for f in written if f["url"].startswith(VIDEO_URN)]
    assert kept["file"].startswith("videos/127.0.0.1_") and kept["file"].endswith("/v/hls/index.ts")
    assert (tmp_path / "out" / kept["file"]).read_bytes() == joined

    frame = next(f for f in sample_video(site.source) if f.time >= 2.0)
    still = tmp_path / "still.jpg"
    Image.fromarray(frame.rgb).save(still, quality=85)
    best = open_searcher(archive).search(still).matches[0]
    assert best.match and best.time == pytest.approx(2.0, abs=0.6)
    assert best.item.first_seen.url == url and best.item.first_seen.published == PUBLISHED
    assert best.item.first_seen.title == "Ministry statement"
    assert best.item.path == f"capture:{ref.id}:{VIDEO_URN}{site.base}/v/hls/index.m3u8"


def test_the_same_capture_without_the_flag_is_refused(site, tmp_path, loopback_only):
    before = len(site.requests)
    refused = CliRunner().invoke(
        app, ["--archive", str(tmp_path / "archive"), "capture", site.base + "/watch/hls.html"]
    )
    assert refused.exit_code == 1 and "loopback" in refused.output
    assert len(site.requests) == before and loopback_only == []


def test_a_dash_manifest_in_a_javascript_player_is_captured(site, tmp_path):
    archive = Archive(tmp_path / "archive")
    info = capture(site.base + "/watch/dash.html", archive, LOOPBACK, LIMITS)
    video = _video(info)
    assert video["content_type"] == "video/mp4" and info["errors"] == []
    records = _records(archive, info["id"])
    (resource,) = [body for kind, _, body in records if kind == "resource"]
    pieces = ["init-stream0.m4s", *(f"chunk-stream0-{n:05d}.m4s" for n in range(1, 5))]
    assert resource == b"".join(site.routes[f"/v/dash/{p}"][2] for p in pieces)
    assert _frames(resource) == 120  # the four whole seconds the manifest lists
    assert hashlib.sha256(resource).hexdigest() == video["sha256"]
    responses = {uri for kind, uri, _ in records if kind == "response"}
    assert site.base + "/v/dash/manifest.mpd" in responses
    assert site.base + "/v/dash/chunk-stream0-00004.m4s" in responses


def test_a_playlist_that_never_ends_stops_at_the_size_budget(site, tmp_path):
    archive = Archive(tmp_path / "archive")
    limits = Limits(max_bytes=4 << 20, max_total_bytes=1 << 20, timeout=2.0, total_seconds=60)
    info = capture(site.base + "/watch/live.html", archive, LOOPBACK, limits)
    errors = {e["url"]: e["error"] for e in info["errors"]}
    assert errors == {site.base + "/v/live.m3u8": "the capture's size limit (1 MiB) was reached"}
    fetched = [p for p in site.requests if p.startswith("/v/live/")]
    assert 10 < len(fetched) < 1000
    assert info["page"]["title"] == "Live from the ministry"  # the page is kept
    assert not any(r["url"].startswith(VIDEO_URN) for r in info["resources"])
    assert sum(r["bytes"] for r in info["resources"]) <= 1 << 20


def test_a_playlist_that_never_ends_stops_at_the_time_budget(site, tmp_path):
    archive = Archive(tmp_path / "archive")
    limits = Limits(max_bytes=64 << 20, timeout=2.0, total_seconds=2)
    started = time.monotonic()
    info = capture(site.base + "/watch/slow.html", archive, LOOPBACK, limits)
    assert time.monotonic() - started < 6
    errors = {e["url"]: e["error"] for e in info["errors"]}
    assert errors == {site.base + "/v/slow.m3u8": "the capture's time limit (2 s) was reached"}
    assert CaptureStore(archive.root).find(info["id"]).warc.is_file()


@pytest.mark.parametrize(
    ("page", "refused", "reason"),
    [
        ("/watch/refused.html", "http://10.20.30.40/seg1.ts", "10.20.30.40 is a private address"),
        ("/watch/redirected.html", "/v/hop.ts", "169.254.169.254 is a link-local address"),
    ],
)
def test_a_playlist_pointing_at_a_refused_address_is_refused(
    site, tmp_path, loopback_only, page, refused, reason
):
    archive = Archive(tmp_path / "archive")
    info = capture(site.base + page, archive, LOOPBACK, LIMITS)
    assert set(loopback_only) == {"127.0.0.1"}  # nothing else was ever connected to
    url = refused if refused.startswith("http") else site.base + refused
    errors = {e["url"]: e["error"] for e in info["errors"]}
    assert reason in errors[url]
    assert not any(r["url"].startswith(VIDEO_URN) for r in info["resources"])
    assert "/seg1.ts" not in site.requests


@pytest.mark.parametrize(
    ("page", "playlist", "reason"),
    [
        ("/watch/garbage.html", "/v/garbage.m3u8", "unable to download video data"),
        ("/watch/forever.html", "/v/forever.m3u8", "the video is larger than the 1 mib limit"),
    ],
)
def test_a_malformed_or_endless_playlist_leaves_a_one_line_reason(
    site, tmp_path, page, playlist, reason
):
    archive = Archive(tmp_path / "archive")
    limits = Limits(max_bytes=1 << 20, timeout=2.0, total_seconds=30)
    info = capture(site.base + page, archive, LOOPBACK, limits, _ingester(archive))
    errors = [
        e["error"] for e in info["errors"] if e["url"] in (site.base + page, site.base + playlist)
    ]
    assert any(reason in error.lower() for error in errors)
    assert all(error and "\n" not in error for error in errors)
    assert info["page"]["title"] in ("Garbage", "Forever")
    assert archive.catalog.items() == []


def test_yt_dlp_has_no_handler_and_no_downloader_but_the_guarded_ones(tmp_path):
    session = Session(LOOPBACK, LIMITS, writer=None, deadline=time.monotonic() + 5, spent=0)
    with GuardedYDL({"quiet": True}, session, lambda info: None, lambda info, e: None) as ydl:
        assert list(ydl._request_director.handlers) == ["Guarded"]
        info = {"id": "x", "url": "rtmp://127.0.0.1/live/x", "protocol": "rtmp", "ext": "flv"}
        with pytest.raises(Exception, match="outside the capture's address checks"):
            ydl.dl(str(tmp_path / "x.flv"), info)
        ydl.params["hls_prefer_native"] = False  # HLS through the ffmpeg binary
        info = {"id": "y", "url": "http://127.0.0.1/a.m3u8", "protocol": "m3u8", "ext": "mp4"}
        with pytest.raises(Exception, match="outside the capture's address checks"):
            ydl.dl(str(tmp_path / "y.mp4"), info)


def test_yt_dlp_plugins_never_run_in_a_capture(tmp_path, monkeypatch):
    """Code in a yt-dlp plugin folder would run inside the capture, beside its guard."""
    marker = tmp_path / "ran"
    folder = tmp_path / "plugins" / "planted" / "yt_dlp_plugins" / "extractor"
    folder.mkdir(parents=True)
    (folder / "planted.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    session = Session(LOOPBACK, LIMITS, writer=None, deadline=time.monotonic() + 5, spent=0)
    for loaded in (False, True):
        monkeypatch.setattr(plugin_dirs, "value", [str(tmp_path / "plugins")])
        monkeypatch.setattr(all_plugins_loaded, "value", False)
        if loaded:  # what any other YoutubeDL does: the planted plugin is there to be found
            load_all_plugins()
        else:
            GuardedYDL({"quiet": True}, session, lambda info: None, lambda info, e: None).close()
        assert marker.exists() is loaded
