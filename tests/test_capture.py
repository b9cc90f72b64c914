"""Capturing claims against a local HTTP server started here: pages with images and a video,
broken links, redirects, an oversized file, a slow response, addresses that must be refused; the
WARC written, the media made searchable, and the stored copy replayed byte for byte after the
server has lost the page.

Every connection any test makes is checked to go to 127.0.0.1: private addresses named by the
pages are refused before any connection is attempted.
"""

import contextlib
import hashlib
import ipaddress
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest
import signing
from PIL import Image
from typer.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from firstseen.archive.captures import CaptureStore
from firstseen.archive.ingest import Ingester
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.engine import open_descriptor, open_searcher
from firstseen.errors import FirstseenError
from firstseen.evidence.capture import capture, import_warc
from firstseen.evidence.fetch import Limits
from firstseen.evidence.netsafety import Policy, UnsafeAddress, check_url, parse_url
from firstseen.evidence.replay import Replay
from firstseen.matching.answers import result_json

LOOPBACK = Policy.allowing(["127.0.0.1/32"])
LIMITS = Limits(max_bytes=1 << 20, timeout=0.5, max_redirects=5)
ARTICLE = """<!doctype html>
<html><head><meta charset="utf-8">
<title>Flood in the old town - Daily Example</title>
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2021-03-04T10:00:00Z">
<meta property="og:image" content="/img/chelsea.png">
<script src="/app.js"></script>
</head><body><article>
<h1>Flood in the old town</h1>
<p>Water rose quickly in the old town on Thursday morning, residents said. The river burst its
banks after three days of rain, and the fire brigade evacuated forty homes near the bridge.</p>
<p>Officials said the water would recede by the weekend; the photos below were sent by readers.</p>
<img src="../img/rocket.jpg" alt="a reader's photo">
<img srcset="/img/coffee-small.jpg 320w, /redirect/coffee 1024w" alt="another">
<video src="/media/clip.mp4" poster="/img/rocket.jpg"></video>
<img src="/missing.png">
<img src="/slow.jpg">
<a href="/files/huge.jpg">full size</a>
<a href="/files/stream.jpg">original</a>
<img src="http://10.20.30.40/camera.jpg">
<img src="http://127.0.0.1:9/nothing-listens-here.jpg">
<img src="/redirect/metadata">
<img src="/loop">
<img src="data:image/png;base64,iVBORw0KGgo=">
</article></body></html>
"""


class Site:
    """A small web site in memory; `requests` records every path asked for."""

    def __init__(self, media) -> None:
        self.routes: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
        self.requests: list[str] = []
        self.add("/news/flood.html", ARTICLE.encode(), "text/html; charset=utf-8")
        self.add("/img/chelsea.png", (media / "chelsea.png").read_bytes(), "image/png")
        self.add("/img/rocket.jpg", (media / "rocket.jpg").read_bytes(), "image/jpeg")
        self.add("/img/coffee.png", (media / "coffee.png").read_bytes(), "image/png")
        self.add("/media/clip.mp4", (media / "doorknob-hd-no-bar.mp4").read_bytes(), "video/mp4")
        self.add("/app.js", b"alert('never fetched, never run')", "text/javascript")
        self.redirect("/old/flood", "/news/flood.html", 301)
        self.redirect("/redirect/coffee", "/img/coffee.png")
        self.redirect("/redirect/metadata", "http://169.254.169.254/latest/meta-data/")
        self.redirect("/loop", "/loop")
        # 10 MB of whitespace before the markup: past libxml2's default limit on one text node
        self.add("/padded.html", b" " * 10_000_000 + ARTICLE.encode(), "text/html")

    def add(self, path: str, body: bytes, content_type: str) -> None:
        self.routes[path] = (200, [("Content-Type", content_type)], body)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = (status, [("Location", location)], b"")


class Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.site.requests.append(self.path)
        if self.path == "/slow.jpg":
            time.sleep(1.5)  # past the capture's 0.5 s timeout
        if self.path in ("/files/huge.jpg", "/files/stream.jpg"):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            if self.path == "/files/huge.jpg":  # declared too large: not even read
                self.send_header("Content-Length", str(3 << 20))
            self.end_headers()
            try:  # no length declared: cut off by the reader after 1 MiB
                for _ in range(48):
                    self.wfile.write(b"\xff" * (64 << 10))
            except OSError:
                pass
            return
        self.send(
            *self.site.routes.get(self.path, (404, [("Content-Type", "text/plain")], b"not found"))
        )

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """One whole response, with its length."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (the slow response)
            self.wfile.write(body)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fails any test whose code tries to connect anywhere but 127.0.0.1."""
    real = socket.create_connection
    attempts = []

    def guarded(address, *args, **kwargs):
        attempts.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"connection to {address[0]} attempted")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return attempts


@contextlib.contextmanager
def serving[S](content: S, handler: type[BaseHTTPRequestHandler]) -> Iterator[S]:
    """`content` served by a subclass of `handler` on a free port of 127.0.0.1, its `base` set
    to the server's URL, for the body."""
    bound = type(f"Serving{handler.__name__}", (handler,), {"site": content})
    server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
    server.daemon_threads = True
    server.block_on_close = False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    content.base = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield content
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(demo_dir):
    with serving(Site(demo_dir / "media"), Handler) as content:
        yield content


def _ingester(archive):
    made = []

    def make():
        if not made:
            made.append(Ingester(archive, open_descriptor(archive)))
        return made[0]

    return make


def _get(url: str) -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def captured(site, tmp_path_factory):
    """One capture of the article (through its old URL's redirect) into a fresh archive."""
    archive = Archive(tmp_path_factory.mktemp("capture") / "archive")
    live = {path: _get(site.base + path)[2] for path in ("/news/flood.html", "/img/chelsea.png")}
    info = capture(site.base + "/old/flood", archive, LOOPBACK, LIMITS, _ingester(archive))
    return archive, info, live


def test_default_refuses_loopback_and_private_addresses(site, tmp_path, loopback_only):
    archive = Archive(tmp_path / "archive")
    before = len(site.requests)
    with pytest.raises(UnsafeAddress, match="loopback"):
        capture(site.base + "/news/flood.html", archive, Policy(), LIMITS)
    assert len(site.requests) == before and loopback_only == []
    store = CaptureStore(archive.root)
    assert store.refs() == [] and not list(store.root.glob("*.part"))


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_refused(address):
    assert not Policy().permits(ipaddress.ip_address(address))


def test_public_and_allowed_addresses():
    assert Policy().permits(ipaddress.ip_address("93.184.216.34"))
    assert Policy().permits(ipaddress.ip_address("2606:4700:4700::1111"))
    assert LOOPBACK.permits(ipaddress.ip_address("127.0.0.1"))
    assert LOOPBACK.permits(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not LOOPBACK.permits(ipaddress.ip_address("127.0.0.2"))
    assert not LOOPBACK.permits(ipaddress.ip_address("10.0.0.1"))
    assert Policy(allow_private=True).permits(ipaddress.ip_address("10.0.0.1"))
    with pytest.raises(FirstseenError):
        Policy.allowing(["not-a-network"])


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.org/a.jpg", "javascript:alert(1)", "http://",
     "http://user:secret@example.org/", "gopher://example.org/"],
)  # fmt: skip
def test_only_plain_http_urls(url):
    with pytest.raises(UnsafeAddress):
        parse_url(url)


@pytest.mark.parametrize("host", ["localhost", "127.1", "2130706433", "0x7f000001"])
def test_names_are_judged_by_the_address_they_resolve_to(host):
    with pytest.raises(UnsafeAddress, match=r"loopback|cannot resolve"):
        check_url(f"http://{host}/x.jpg", Policy())


def test_a_public_name_resolving_privately_is_refused(monkeypatch, loopback_only):
    answers = {"evil.example": ["10.0.0.5"], "mixed.example": ["93.184.216.34", "127.0.0.1"]}

    def fake(host, port, *args, **kwargs):
        family = socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(UnsafeAddress, match=r"10\.0\.0\.5, a private address"):
        check_url("http://evil.example/photo.jpg", Policy())
    with pytest.raises(UnsafeAddress, match=r"127\.0\.0\.1, a loopback address"):
        check_url("https://mixed.example/photo.jpg", Policy())
    assert loopback_only == []


def test_capture_extracts_page_and_adds_media(captured, site):
    archive, info, _ = captured
    base = site.base
    assert info["url"] == base + "/old/flood" and info["final_url"] == base + "/news/flood.html"
    page = info["page"]
    assert page["title"] == "Flood in the old town"
    assert page["author"] == "Jane Doe" and page["published"] == "2021-03-04"
    assert "fire brigade evacuated forty homes" in page["text"]
    media = {r["url"]: r for r in info["resources"] if r["kind"] in ("image", "video")}
    assert set(media) == {
        base + "/img/chelsea.png",
        base + "/img/rocket.jpg",
        base + "/img/coffee.png",
        base + "/media/clip.mp4",
    }
    assert all(r["added"] == "added" for r in media.values())
    assert media[base + "/media/clip.mp4"]["kind"] == "video"
    items = archive.catalog.items()
    assert len(items) == 4
    for item in items:
        (sighting,) = archive.catalog.sightings(item.id)
        assert sighting.url == base + "/news/flood.html"
        assert sighting.title == "Flood in the old town" and sighting.published == "2021-03-04"
        assert sighting.path.startswith(f"capture:{info['id']}:{base}/")
        assert sighting.seen_at.startswith(info["captured_at"][:10])
    by_url = {r["url"]: r for r in info["resources"]}
    assert (
        by_url[base + "/img/chelsea.png"]["sha256"]
        == hashlib.sha256(site.routes["/img/chelsea.png"][2]).hexdigest()
    )
    assert by_url[base + "/missing.png"]["status"] == 404
    assert by_url[base + "/redirect/coffee"]["kind"] == "redirect"
    assert "/app.js" not in site.requests  # scripts are neither fetched nor run


def test_capture_records_what_it_could_not_fetch(captured, site):
    _, info, _ = captured
    errors = {e["url"].removeprefix(site.base): e["error"] for e in info["errors"]}
    assert "larger than the 1.0 MiB limit" in errors["/files/huge.jpg"]
    assert "larger than the 1.0 MiB limit" in errors["/files/stream.jpg"]
    assert "timed out" in errors["/slow.jpg"]
    assert "10.20.30.40 is a private address" in errors["http://10.20.30.40/camera.jpg"]
    assert "169.254.169.254 is a link-local address" in errors["/redirect/metadata"]
    assert "more than 5 redirects" in errors["/loop"]
    assert errors["/missing.png"] == "HTTP 404"
    assert "refused" in errors["http://127.0.0.1:9/nothing-listens-here.jpg"].lower()


def test_warc_has_every_exchange_with_digests(captured):
    archive, info, _ = captured
    path = CaptureStore(archive.root).find(info["id"]).warc
    kinds, truncated = [], {}
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream, check_digests=True):
            kinds.append(record.rec_type)
            headers = record.rec_headers
            if record.rec_type in ("request", "response"):
                assert headers.get_header("WARC-IP-Address") == "127.0.0.1"
                assert headers.get_header("WARC-Payload-Digest").startswith("sha256:")
                assert headers.get_header("WARC-Date").endswith("Z")
            if headers.get_header("WARC-Truncated"):
                truncated[headers.get_header("WARC-Target-URI")] = headers.get_header(
                    "WARC-Truncated"
                )
            record.raw_stream.read()
            assert record.digest_checker.passed is not False
    assert kinds[0] == "warcinfo" and kinds[-1] == "metadata"
    assert kinds.count("request") >= kinds.count("response") >= 10
    assert {u.rsplit("/", 2)[-2:][1]: t for u, t in truncated.items()} == {
        "huge.jpg": "length",
        "stream.jpg": "length",
    }
    assert all(r["digest_ok"] for r in info["resources"])
    assert info["warc_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_captured_images_are_found_by_search(captured, site, tmp_path):
    archive, info, _ = captured
    photo = Image.open(BytesIO(site.routes["/img/chelsea.png"][2])).convert("RGB")
    edited = photo.crop((40, 20, photo.width - 60, photo.height - 10)).resize((300, 200))
    edited.save(tmp_path / "repost.jpg", quality=70)
    result = open_searcher(archive).search(tmp_path / "repost.jpg")
    best = result.matches[0]
    assert best.match
    assert best.item.first_seen.url == site.base + "/news/flood.html"
    assert best.item.first_seen.published == "2021-03-04"
    assert best.item.path == f"capture:{info['id']}:{site.base}/img/chelsea.png"


def test_replay_serves_the_page_and_media_byte_for_byte_after_deletion(captured, site):
    archive, info, live = captured
    removed = {p: site.routes.pop(p) for p in ("/news/flood.html", "/img/chelsea.png")}
    try:
        assert _get(site.base + "/news/flood.html")[0] == 404  # gone from the site
        replay = Replay(archive.captures, info["id"][:12])
        assert replay.verify() == []
        server = replay.start()
        try:
            local = f"http://127.0.0.1:{server.server_address[1]}"
            status, headers, body = _get(local + "/")  # redirected to the page's own path
            assert status == 200 and body == live["/news/flood.html"]
            assert "script-src 'none'" in headers["Content-Security-Policy"]
            status, headers, body = _get(local + "/img/chelsea.png")
            assert (
                hashlib.sha256(body).digest() == hashlib.sha256(live["/img/chelsea.png"]).digest()
            )
            assert headers["X-Firstseen-SHA256"] == hashlib.sha256(body).hexdigest()
            assert _get(f"{local}/_web/{site.base}/img/chelsea.png")[2] == live["/img/chelsea.png"]
            assert _get(local + "/files/huge.jpg")[0] == 404  # never stored whole
            assert site.base in _get(local + "/_capture")[2].decode()
        finally:
            server.shutdown()
            server.server_close()
    finally:
        site.routes.update(removed)


def test_show_capture_writes_the_files_out_with_equal_digests(captured, tmp_path):
    archive, info, live = captured
    out = tmp_path / "replayed"
    result = CliRunner().invoke(
        app, ["--archive", str(archive.root), "show-capture", info["id"], "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "digests: all match" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    files = {f["url"].split("/", 3)[3]: f for f in manifest["files"]}
    for path, body in live.items():
        entry = files[path.lstrip("/")]
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()


def test_tampered_warc_is_reported(captured, tmp_path):
    archive, info, _ = captured
    copy = Archive(tmp_path / "copy")
    store = CaptureStore(copy.root)
    source = CaptureStore(archive.root).find(info["id"])
    warc = store.warc_path(info["id"])
    data = bytearray(source.warc.read_bytes())
    warc.write_bytes(data)
    store.save(info["id"], info)
    assert Replay(copy.captures, info["id"]).verify() == []
    data[-40] ^= 0xFF  # inside the last record's gzip member
    warc.write_bytes(data)
    problems = Replay(copy.captures, info["id"]).verify()
    assert any("SHA-256 differs" in p for p in problems)


def test_import_of_our_own_and_a_foreign_warc(captured, site, tmp_path, demo_dir):
    archive, info, _ = captured
    fresh = Archive(tmp_path / "fresh")
    ours = import_warc(CaptureStore(archive.root).find(info["id"]).warc, fresh, _ingester(fresh))
    assert ours["page"]["published"] == "2021-03-04" and len(fresh.catalog.items()) == 4
    assert {r["sha256"] for r in ours["resources"]} == {r["sha256"] for r in info["resources"]}

    foreign = tmp_path / "other-archiver.warc"
    photo = (demo_dir / "media" / "rocket.jpg").read_bytes()
    page = b"""<html><head><title>Launch day</title>
        <meta property="article:published_time" content="2016-01-17"></head>
        <body><p>The launch went well.</p><img src="/pics/launch.jpg"></body></html>"""
    with foreign.open("wb") as stream:
        writer = WARCWriter(stream, gzip=False)
        for uri, ctype, body in (
            ("https://news.example/launch", "text/html", page),
            ("https://news.example/pics/launch.jpg", "image/jpeg", photo),
        ):
            http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri, "response", payload=BytesIO(body), http_headers=http,
                warc_headers_dict={"WARC-Date": "2020-05-05T10:00:00Z"},
            )  # fmt: skip
            writer.write_record(record)
    other = Archive(tmp_path / "other")
    imported = import_warc(foreign, other, _ingester(other))
    assert imported["source"] == "import" and imported["page"]["title"] == "Launch day"
    (item,) = other.catalog.items()
    (sighting,) = other.catalog.sightings(item.id)
    assert sighting.url == "https://news.example/launch" and sighting.published == "2016-01-17"
    assert sighting.seen_at == "2020-05-05T10:00:00+00:00"
    assert all(r["digest_ok"] for r in imported["resources"])  # warcio's sha1 digests checked
    stored = CaptureStore(other.root).find(imported["id"]).warc
    assert stored.read_bytes() == foreign.read_bytes()

    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"this is not a WARC file")
    with pytest.raises(FirstseenError):
        import_warc(junk, other, _ingester(other))
    assert len(CaptureStore(other.root).refs()) == 1


def test_cli_capture_list_and_refusal(site, tmp_path):
    root = tmp_path / "archive"
    runner = CliRunner()
    refused = runner.invoke(app, ["--archive", str(root), "capture", site.base + "/img/rocket.jpg"])
    assert refused.exit_code == 1 and "loopback" in refused.output
    done = runner.invoke(
        app,
        ["--archive", str(root), "capture", site.base + "/img/rocket.jpg", "--allow-private"],
    )
    assert done.exit_code == 0, done.output
    listed = json.loads(runner.invoke(app, ["--archive", str(root), "captures", "--json"]).stdout)
    assert len(listed) == 1 and listed[0]["media"] == 1
    shown = runner.invoke(app, ["--archive", str(root), "show-capture", listed[0]["id"], "--json"])
    record = json.loads(shown.stdout)
    assert record["problems"] == [] and record["resources"][0]["kind"] == "image"
    (item,) = Archive(root).catalog.items()
    assert item.first_seen.url == site.base + "/img/rocket.jpg"  # a media URL is its own page


def test_a_page_padded_past_parser_limits_is_captured_and_imported(site, tmp_path):
    archive = Archive(tmp_path / "archive")
    info = capture(site.base + "/padded.html", archive, LOOPBACK, LIMITS)
    assert info["page"]["title"] == "Flood in the old town"
    assert info["page"]["published"] == "2021-03-04"
    assert "fire brigade" in info["page"]["text"]
    assert site.base + "/img/chelsea.png" in {r["url"] for r in info["resources"]}
    stored = CaptureStore(archive.root).find(info["id"]).warc
    again = import_warc(stored, Archive(tmp_path / "other"))
    assert again["page"]["title"] == "Flood in the old town" and again["refused"] == []


def test_extraction_failures_leave_a_note_and_keep_the_capture(site, tmp_path, monkeypatch):
    import trafilatura

    def broken(*args, **kwargs):
        raise RuntimeError("extractor broke")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    archive = Archive(tmp_path / "archive")
    info = capture(site.base + "/news/flood.html", archive, LOOPBACK, LIMITS)
    assert info["page"]["title"] == "Flood in the old town - Daily Example"  # its <title>
    assert any("extractor broke" in note for note in info["page"]["notes"])
    assert CaptureStore(archive.root).find(info["id"]).warc.is_file()


def test_a_page_redirected_to_a_refused_address_is_not_captured(site, tmp_path):
    root = tmp_path / "archive"
    refused = CliRunner().invoke(
        app,
        ["--archive", str(root), "capture", site.base + "/redirect/metadata",
         "--allow-network", "127.0.0.1/32"],
    )  # fmt: skip
    assert refused.exit_code == 1, refused.output
    assert "169.254.169.254 is a link-local address" in refused.output
    assert CaptureStore(root).refs() == []


def test_a_captured_signed_picture_answers_with_its_credentials(site, tmp_path, demo_dir):
    """A captured item's file is its capture's WARC: the match reads its Content Credentials from
    there, and says the file is gone once the capture is."""
    photo = Image.open(demo_dir / "media" / "bridge.jpg").convert("RGB")
    stream = BytesIO()
    photo.save(stream, "JPEG", quality=92)
    signed = signing.sign(signing.make_credentials(), stream.getvalue(), "image/jpeg")
    site.add("/signed/photo.jpg", signed, "image/jpeg")
    site.add(
        "/signed/page.html", b'<html><body><img src="/signed/photo.jpg"></body></html>', "text/html"
    )
    archive = Archive(tmp_path / "archive")
    capture(site.base + "/signed/page.html", archive, LOOPBACK, LIMITS, _ingester(archive))
    query = signing.write(tmp_path / "query.jpg", signed)
    best = result_json(open_searcher(archive).search(query))["matches"][0]
    assert best["match"] and best["path"].startswith("capture:")
    assert best["credentials"]["state"] == "valid"
    assert best["credentials"]["signer"] == signing.SIGNER
    for warc in CaptureStore(archive.root).root.glob("*.warc*"):
        warc.unlink()
    gone = result_json(open_searcher(archive).search(query))["matches"][0]
    assert gone["credentials"] == {
        "state": "unavailable",
        "reason": "its capture no longer holds the file",
    }
