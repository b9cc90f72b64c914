"""The HTTP API through FastAPI's TestClient: every endpoint, every error path."""

import io
import re
import socket
import time
import uuid

import crafted
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageOps

from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.matching.search import Searcher
from firstseen.server import ServerSettings, Service, create_app
from firstseen.server.app import STATIC
from firstseen.server.uploads import label

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_for(archive, searcher, owns=False, **settings) -> TestClient:
    """A client of a server over `archive`; TestClient names its server `testserver` in the Host
    header, which is allowed unless the test says otherwise."""
    settings.setdefault("allowed_hosts", ("testserver",))
    service = Service(archive, ServerSettings(**settings), searcher=searcher, owns_archive=owns)
    return TestClient(create_app(service))


@pytest.fixture(scope="module")
def client(demo_archive, demo_searcher):
    """Read-only (no token configured) over the demo archive."""
    with client_for(demo_archive, demo_searcher) as test_client:
        yield test_client


@pytest.fixture
def writable(tmp_path, demo_searcher):
    """An empty archive whose server takes writes with TOKEN."""
    with client_for(Archive(tmp_path / "w"), demo_searcher, owns=True, token=TOKEN) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def evidence(demo_dir) -> bytes:
    return (demo_dir / "evidence.jpg").read_bytes()


def assert_error(response, status: int, text: str = "") -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str)
    assert text.lower() in body["error"].lower()
    assert "Traceback" not in response.text
    return body


def edited_jpeg(path, mirror=False) -> bytes:
    picture = Image.open(path).convert("RGB")
    width, height = picture.size
    picture = picture.crop((width // 10, height // 10, width * 9 // 10, height * 9 // 10))
    if mirror:
        picture = ImageOps.mirror(picture)
    out = io.BytesIO()
    picture.resize((picture.width * 3 // 4, picture.height * 3 // 4)).save(out, "JPEG", quality=70)
    return out.getvalue()


# --- service, UI, docs ---


def test_health(client, demo_archive):
    body = client.get("/health").json()
    assert body["status"] == "ok" and not body["writable"]
    assert body["items"] == len(demo_archive.catalog.items()) == 9
    assert body["frames"] == body["indexed"] == len(demo_archive.index)
    assert body["max_upload_bytes"] == 50 * 1024 * 1024


def test_health_counts_what_another_process_indexed(writable, demo_dir, demo_searcher):
    service = writable.app.state.service
    assert writable.get("/health").json()["indexed"] == 0
    cli = Archive(service.archive.root)  # the CLI adding while the server runs
    Ingester(cli, demo_searcher.descriptor).add(demo_dir / "media" / "rocket.jpg", Sighting("r"))
    cli.close()
    body = writable.get("/health").json()
    assert body["items"] == 1 and body["indexed"] == body["frames"] >= 1


def test_ui_is_served_whole_and_offline(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "style.css", "favicon.svg"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200, name
        assert "content-security-policy" in asset.headers
    for file in STATIC.iterdir():  # nothing fetched from anywhere else
        assert not re.search(r"(src|href|url)\s*[=(]\s*[\"']?(https?:)?//", file.read_text()), file


def test_openapi_and_offline_docs(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/search", "/api/items", "/api/items/{item_id}", "/health"} <= set(schema["paths"])
    assert "/api/items/{item_id}/frames/{ordinal}" in schema["paths"]
    assert "multipart/form-data" in schema["paths"]["/api/items"]["post"]["requestBody"]["content"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_openapi_states_what_the_server_enforces(client):
    paths = client.get("/openapi.json").json()["paths"]
    items = {p["name"]: p["schema"] for p in paths["/api/items"]["get"]["parameters"]}
    for bound in ("published_from", "published_to"):
        kinds = items[bound]["anyOf"]
        assert {"type": "string", "format": "date"} in kinds
        assert any("pattern" in kind for kind in kinds)
    expected = {
        ("/health", "get"): {"400", "421"},
        ("/api/search", "post"): {"400", "403", "413", "415", "421", "422", "503"},
        ("/api/items", "get"): {"400", "421", "422"},
        ("/api/items", "post"): {"400", "401", "403", "413", "415", "421", "422"},
        ("/api/items/{item_id}", "get"): {"400", "404", "421", "422"},
        ("/api/items/{item_id}", "delete"): {"400", "401", "403", "404", "421", "422"},
    }
    for (path, method), codes in expected.items():
        answers = paths[path][method]["responses"]
        assert {c for c in answers if c.startswith(("4", "5"))} == codes, (path, method)
        assert all(answers[c]["description"] for c in codes)
    for path in ("/api/search", "/api/items"):
        form = paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["additionalProperties"] is False and "file" in form["required"]
        assert form["maxProperties"] == len(form["properties"])
        assert "At most 8 parts" in form["description"]
        assert form["properties"]["file"]["minLength"] == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [("2021", 200), ("2021-03", 200), ("2021-03-04", 200), ("2021-02-30", 422),
     ("2021-13", 422), ("0000", 422), (" 2021", 422), ("2021-03-04T10:00", 422), ("", 422)],
)  # fmt: skip
def test_date_filters_take_exactly_what_the_schema_states(client, query, status):
    response = client.get("/api/items", params={"published_from": query})
    assert response.status_code == status, response.text


def test_upload_forms_refuse_unknown_and_too_many_fields(writable, demo_dir):
    photo = (demo_dir / "media" / "rocket.jpg").read_bytes()
    unknown = writable.post(
        "/api/items", headers=AUTH, files={"file": ("r.jpg", photo)}, data={"note": "x"}
    )
    assert_error(unknown, 422, "unknown form field: 'note'")
    many = {f"f{n}": "x" for n in range(9)}
    assert_error(writable.post("/api/search", files={"file": ("r.jpg", photo)}, data=many), 400)
    assert_error(writable.post("/api/search", data={"top": "3"}), 422, "unknown form field")
    dated = writable.post(
        "/api/items", headers=AUTH, files={"file": ("r.jpg", photo)}, data={"published": "soon"}
    )
    assert_error(dated, 422, "published: not a date")


def test_unknown_route_is_json_404(client):
    assert_error(client.get("/api/nothing-here"), 404, "not found")
    assert_error(client.put("/api/items/1"), 405)


@pytest.mark.parametrize(
    ("bind", "host", "status"),
    [("127.0.0.1", "attacker.example:8000", 421), ("127.0.0.1", "attacker.example", 421),
     ("127.0.0.1", "127.0.0.1:8000", 200), ("127.0.0.1", "LOCALHOST:8000", 200),
     ("127.0.0.1", "[::1]:8000", 200), ("127.0.0.1", "127.0.0.2", 421),
     ("127.0.0.1", "127.0.0.1.attacker.example", 421), ("127.0.0.1", "", 400),
     ("127.0.0.1", "127.0.0.1:port", 400), ("127.0.0.1", "a@127.0.0.1", 400),
     ("::1", "[::1]:8000", 200), ("::1", "localhost", 200), ("::1", "evil.example", 421),
     ("192.0.2.7", "192.0.2.7:8000", 200), ("192.0.2.7", "localhost", 421),
     ("0.0.0.0", "198.51.100.3:8000", 200), ("0.0.0.0", "[2001:db8::1]", 200),
     ("0.0.0.0", "rebound.example", 421), ("0.0.0.0", "localhost", 200)],
)  # fmt: skip
def test_host_header_must_name_this_server(demo_archive, demo_searcher, bind, host, status):
    with client_for(demo_archive, demo_searcher, bind=bind, allowed_hosts=()) as test_client:
        response = test_client.get("/api/items", headers={"Host": host})
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        body = assert_error(response, status)
        assert "--allow-host" in body["error"] or status == 400


def test_allow_host_adds_names(demo_archive, demo_searcher):
    allowed = ("photos.example.org", "[2001:db8::5]", "Archive.Example:8443")
    with client_for(demo_archive, demo_searcher, allowed_hosts=allowed) as test_client:
        for host in ("photos.example.org:8000", "[2001:db8::5]:80", "archive.example"):
            assert test_client.get("/health", headers={"Host": host}).status_code == 200, host
        assert_error(test_client.get("/health", headers={"Host": "other.example"}), 421)


# --- search ---


def test_search_traces_evidence_to_frame_region_and_date(client, evidence):
    response = client.post(
        "/api/search?top=3", files={"file": ("evidence.jpg", evidence, "image/jpeg")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == "evidence.jpg" and body["error"] is None
    assert body["query_kind"] == "image" and len(body["matches"]) == 3
    assert body["budget_reached"] is False  # confirmed as it is: no fallback was needed
    best = body["matches"][0]
    assert best["path"].endswith("chair-20-sd-bar.mp4") and best["match"] is True
    assert abs(best["time"] - 12.0) <= 1.0
    assert best["published"] == "2019-07-30" and best["url"].startswith("https://")
    _, _, w, h = best["region"]
    assert w > 100 and h > 100
    for key in ("kind", "score", "title", "similarity", "inliers", "reference_size"):
        assert key in best  # the CLI's JSON contract, and its explanations
    frame = client.get(best["frame_url"])
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
    assert frame.content[:3] == b"\xff\xd8\xff"
    assert client.get(best["item_url"]).json()["id"] == best["item_id"]


def test_search_judges_type_by_content_not_name(client, evidence):
    response = client.post("/api/search", files={"file": ("notes.txt", evidence, "text/plain")})
    assert response.status_code == 200 and response.json()["matches"][0]["match"]


def test_search_video_upload(client, demo_dir):
    video = (demo_dir / "media" / "pattern-hd-no-bar.mp4").read_bytes()
    body = client.post("/api/search", files={"file": ("clip.bin", video)}).json()
    assert body["query_kind"] == "video"
    assert body["matches"][0]["path"].endswith("pattern-hd-no-bar.mp4")
    assert body["matches"][0]["match"]


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"", 422, "empty file"),
        (b"this is a text file, not a picture\n" * 50, 415, "not an image or video"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 20, 415, "unsupported"),
    ],
)
def test_search_refuses_unsupported_and_empty(client, content, status, message):
    response = client.post("/api/search", files={"file": ("photo.jpg", content, "image/jpeg")})
    assert_error(response, status, message)


def test_search_refuses_corrupt_image(client, demo_dir, shared_data):
    truncated = (demo_dir / "media" / "bridge.jpg").read_bytes()[:5000]
    assert_error(client.post("/api/search", files={"file": ("t.jpg", truncated)}), 422, "truncated")
    # a file of noise named .jpg: no image or video by its content
    corrupt = shared_data / "imagededup-ukbench/mixed_images/ukbench09268_corrupt.jpg"
    assert_error(client.post("/api/search", files={"file": ("c.jpg", corrupt.read_bytes())}), 415)


def test_a_huge_canvas_is_refused_413_before_decoding(client):
    """37 bytes of GIF declaring a 14000 x 14000 screen took 30 s and 2 GB to search."""
    started = time.monotonic()
    upload = {"file": ("screen.gif", crafted.gif_screen(14000, 14000))}
    response = client.post("/api/search", files=upload)
    assert_error(response, 413, "14000 x 14000 pixels is over the 50-megapixel budget")
    assert time.monotonic() - started < 5


def test_search_budget_is_the_servers_to_set(demo_archive, demo_searcher, evidence, demo_dir):
    with client_for(demo_archive, demo_searcher, max_pixels=100_000) as small:
        response = small.post("/api/search", files={"file": ("e.jpg", evidence)})
        assert_error(response, 413, "380 x 530 pixels is over the 0.1-megapixel budget")
    clip = (demo_dir / "evidence-clip.mp4").read_bytes()
    with client_for(demo_archive, demo_searcher, search_seconds=0) as hasty:
        response = hasty.post("/api/search", files={"file": ("clip.mp4", clip)})
        assert_error(response, 413, "too long to decode: over the 0-second budget")
        assert hasty.post("/api/search", files={"file": ("e.jpg", evidence)}).status_code == 200


def test_the_archives_fallback_budget_bounds_the_servers_searches(tmp_path, demo_searcher):
    """`fallback_budget` in the archive's config.toml holds for `serve` as for the CLI."""
    root = tmp_path / "archive"
    root.mkdir()
    (root / "config.toml").write_text("fallback_budget = 2\n")
    service = Service(Archive(root), ServerSettings(), searcher=demo_searcher)
    try:
        assert service._searcher().budget == 2
    finally:
        service.close()


def test_a_search_may_lower_the_archives_fallback_budget_but_not_lift_it(
    tmp_path, demo_dir, demo_searcher, monkeypatch
):
    """A request's `fallback_budget` holds for its query where it is below the archive's."""
    root = tmp_path / "archive"
    root.mkdir()
    (root / "config.toml").write_text("fallback_budget = 2\n")
    service = Service(Archive(root), ServerSettings(), searcher=demo_searcher)
    given: list[float | None] = []
    search = Searcher.search

    def recorded(self, path, top=5, name=None, budget=None):
        given.append(budget)
        return search(self, path, top, name, budget)

    monkeypatch.setattr(Searcher, "search", recorded)
    try:
        for asked in (None, 1, 5):
            service.search_now(demo_dir / "evidence.jpg", 3, "q", asked)
    finally:
        service.close()
    assert given == [2, 1, 2]


def test_an_answer_says_when_the_requests_fallback_budget_left_fallbacks_out(client):
    """Nothing confirms a picture unlike the archive: with budget 0 its fallbacks are left out,
    and the answer says so; without one they are all searched."""
    picture = io.BytesIO()
    Image.effect_mandelbrot((320, 240), (-2.0, -1.2, 1.0, 1.2), 60).save(picture, "PNG")
    upload = {"file": ("unlike.png", picture.getvalue())}
    for query, reached in (("?fallback_budget=0", True), ("", False)):
        response = client.post(f"/api/search{query}", files=upload)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not any(m["match"] for m in body["matches"])
        assert body["budget_reached"] is reached
    assert_error(client.post("/api/search?fallback_budget=-1", files=upload), 422, "budget")


def test_search_request_errors(client, evidence):
    assert_error(client.post("/api/search"), 422, "file")
    assert_error(client.post("/api/search", data={"file": "not a file"}), 422, "file")
    for top in (0, 101, "many"):
        response = client.post(f"/api/search?top={top}", files={"file": ("e.jpg", evidence)})
        assert_error(response, 422, "top")


def test_upload_limit_413(demo_archive, demo_searcher, evidence):
    limit = len(evidence) // 2
    with client_for(demo_archive, demo_searcher, max_upload=limit) as small:
        assert_error(small.post("/api/search", files={"file": ("e.jpg", evidence)}), 413, "limit")
        # past the limit by less than the form's allowance: caught once the file is saved
        slightly = evidence[: limit + 1000]
        assert_error(small.post("/api/search", files={"file": ("e.jpg", slightly)}), 413)
        # no Content-Length (chunked): refused while streaming, before the body is all read
        boundary = "xyzzy"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="e.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        sent = []

        def chunks():
            yield head
            for start in range(0, 4 * 1024 * 1024, 64 * 1024):
                sent.append(start)
                yield b"\xff" * (64 * 1024)
            yield f"\r\n--{boundary}--\r\n".encode()

        response = small.post(
            "/api/search",
            content=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert_error(response, 413, "limit")
        # the small one still works
        tiny = Image.new("RGB", (64, 48), "red")
        out = io.BytesIO()
        tiny.save(out, "PNG")
        assert (
            small.post("/api/search", files={"file": ("t.png", out.getvalue())}).status_code == 200
        )


def test_busy_server_answers_503(demo_archive, demo_searcher, evidence):
    with client_for(demo_archive, demo_searcher, max_queued_searches=0) as busy:
        response = busy.post("/api/search", files={"file": ("e.jpg", evidence)})
        assert_error(response, 503, "busy")
        assert response.headers["retry-after"]


def test_internal_errors_are_json_without_details(demo_archive, demo_searcher, evidence):
    settings = ServerSettings(allowed_hosts=("testserver",))
    service = Service(demo_archive, settings, demo_searcher, owns_archive=False)

    def explode(*args):
        raise RuntimeError("secret internals /etc/passwd")

    service.search_now = explode
    with TestClient(create_app(service), raise_server_exceptions=False) as broken:
        response = broken.post("/api/search", files={"file": ("e.jpg", evidence)})
        body = assert_error(response, 500, "internal error")
        assert "secret" not in response.text and "RuntimeError" not in body["error"]


# --- browsing ---


def test_items_paged_and_filtered(client):
    first = client.get("/api/items?limit=4").json()
    assert first["total"] == 9 and len(first["items"]) == 4 and first["offset"] == 0
    rest = client.get("/api/items?limit=4&offset=4").json()["items"]
    rest += client.get("/api/items?limit=4&offset=8").json()["items"]
    ids = [i["id"] for i in first["items"] + rest]
    assert ids == sorted(ids) and len(set(ids)) == 9
    videos = client.get("/api/items?kind=video").json()
    assert videos["total"] == 3 and {i["kind"] for i in videos["items"]} == {"video"}
    chair = client.get("/api/items", params={"q": "chair"}).json()["items"]
    assert [i["path"].rsplit("/", 1)[-1] for i in chair] == ["chair-20-sd-bar.mp4"]
    by_title = client.get("/api/items", params={"q": "scikit-image"}).json()
    assert by_title["total"] == 5
    by_sha = client.get("/api/items", params={"q": chair[0]["sha256"][:10]}).json()["items"]
    assert [i["id"] for i in by_sha] == [chair[0]["id"]]
    assert client.get("/api/items", params={"q": "100%_"}).json()["total"] == 0
    recent = client.get("/api/items?published_from=2019-01-01").json()
    assert recent["total"] == 3 and all(i["published"] >= "2019" for i in recent["items"])
    old = client.get("/api/items?published_to=2014").json()
    assert {i["published"] for i in old["items"]} == {"2004-03-09", "2014-01-01"}
    window = client.get("/api/items?published_from=2015-06&published_to=2016-12-31").json()
    assert {i["published"] for i in window["items"]} == {"2015-12-22", "2016-01-01"}
    assert client.get("/api/items?offset=100").json()["items"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("kind=audio", "kind"),
        ("published_from=yesterday", "published_from"),
        ("published_to=2019-13-45", "published_to"),
        ("q=" + "x" * 201, "q"),
    ],
)
def test_items_bad_queries_422(client, query, message):
    assert_error(client.get(f"/api/items?{query}"), 422, message)


def test_item_detail_thumbnail_and_frames(client):
    video = client.get("/api/items?kind=video&q=chair").json()["items"][0]
    detail = client.get(f"/api/items/{video['id']}").json()
    assert detail["published"] == "2019-07-30" and detail["sightings"][0]["url"]
    assert len(detail["frame_list"]) == detail["frames"] > 10
    times = [f["time"] for f in detail["frame_list"]]
    assert times == sorted(times)
    thumb = client.get(detail["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    cached = client.get(detail["thumbnail_url"], headers={"If-None-Match": thumb.headers["etag"]})
    assert cached.status_code == 304 and not cached.content
    last = detail["frame_list"][-1]
    picture = Image.open(io.BytesIO(client.get(last["url"]).content))
    assert max(picture.size) <= 512
    assert_error(client.get(f"/api/items/{video['id']}/frames/{detail['frames']}"), 404, "frames")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/items/999999", 404),
        ("/api/items/999999/thumbnail", 404),
        ("/api/items/999999/frames/0", 404),
        ("/api/items/0", 422),
        ("/api/items/-3", 422),
        ("/api/items/abc", 422),
        ("/api/items/1/frames/-1", 422),
        ("/api/items/99999999999999999999999", 422),
        ("/api/items/1/frames/..%2F..%2F..%2Fcatalog.sqlite", 404),
        ("/api/items/..%2F..%2Fcatalog.sqlite", 404),
    ],
)
def test_item_errors(client, path, status):
    response = client.get(path)
    assert_error(response, status)
    assert b"SQLite" not in response.content


def test_no_path_traversal_through_static_files(client):
    for path in (
        "/static/..%2F..%2F..%2F..%2Fpyproject.toml",
        "/static/%2e%2e/%2e%2e/app.py",
        "/static/..%5C..%5Capp.py",
        "/docs-assets/..%2F__init__.py",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"import" not in response.content and b"[project]" not in response.content


def test_cors_closed_and_cross_origin_writes_refused(client, evidence):
    preflight = client.options(
        "/api/search",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    read = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in read.headers
    cross = client.post(
        "/api/search",
        files={"file": ("e.jpg", evidence)},
        headers={"Origin": "https://evil.example"},
    )
    assert_error(cross, 403, "cross-origin")
    same = client.post(
        "/api/search?top=1",
        files={"file": ("e.jpg", evidence)},
        headers={"Origin": "http://testserver"},
    )
    assert same.status_code == 200


def test_cors_opened_for_named_origin(demo_archive, demo_searcher):
    origin = "https://newsroom.example"
    with client_for(demo_archive, demo_searcher, cors_origins=(origin,)) as opened:
        preflight = opened.options(
            "/api/search", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.headers["access-control-allow-origin"] == origin
        other = opened.options(
            "/api/search",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers


# --- writes ---


def test_read_only_without_token(client, demo_dir):
    photo = (demo_dir / "media" / "coffee.png").read_bytes()
    response = client.post("/api/items", files={"file": ("c.png", photo)}, headers=AUTH)
    assert_error(response, 403, "read-only")
    assert_error(client.delete("/api/items/1", headers=AUTH), 403, "read-only")
    assert client.get("/api/items/1").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
)
def test_writes_need_the_token(writable, demo_dir, headers):
    photo = (demo_dir / "media" / "coffee.png").read_bytes()
    response = writable.post("/api/items", files={"file": ("c.png", photo)}, headers=headers)
    assert_error(response, 401, "token")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error(writable.delete("/api/items/1", headers=headers), 401)
    assert writable.get("/health").json()["items"] == 0


def test_add_search_and_remove(writable, demo_dir):
    photo = demo_dir / "media" / "coffee.png"
    form = {"url": "https://example.org/coffee", "title": "Coffee", "published": "2014-01-01"}
    added = writable.post(
        "/api/items", files={"file": ("coffee.png", photo.read_bytes())}, data=form, headers=AUTH
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["status"] == "added" and body["frames"] == 1
    item = body["item"]
    assert item["path"] == "coffee.png" and item["published"] == "2014-01-01"
    again = writable.post(
        "/api/items",
        files={"file": ("copy.png", photo.read_bytes())},
        data={"url": "https://example.org/earlier", "published": "2012-05-06"},
        headers=AUTH,
    )
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["new_sighting"] and again.json()["item"]["published"] == "2012-05-06"
    video = (demo_dir / "media" / "pattern-hd-no-bar.mp4").read_bytes()
    clip = writable.post("/api/items", files={"file": ("clip.mp4", video)}, headers=AUTH).json()
    assert clip["item"]["kind"] == "video" and clip["frames"] > 5

    found = writable.post(
        "/api/search", files={"file": ("q.jpg", edited_jpeg(photo, mirror=True))}
    ).json()["matches"][0]
    assert found["item_id"] == item["id"] and found["match"] and found["mirrored"]
    assert found["published"] == "2012-05-06"
    sightings = writable.get(f"/api/items/{item['id']}").json()["sightings"]
    assert [s["url"] for s in sightings] == ["https://example.org/earlier", form["url"]]

    assert writable.delete(f"/api/items/{item['id']}", headers=AUTH).status_code == 204
    assert_error(writable.delete(f"/api/items/{item['id']}", headers=AUTH), 404)
    assert_error(writable.get(f"/api/items/{item['id']}"), 404)
    left = writable.post("/api/search", files={"file": ("q.jpg", edited_jpeg(photo))}).json()
    assert all(m["item_id"] != item["id"] for m in left["matches"])
    health = writable.get("/health").json()
    assert health["items"] == 1 and health["frames"] == health["indexed"] == clip["frames"]


def test_add_errors(writable, demo_dir, tmp_path):
    photo = (demo_dir / "media" / "chelsea.png").read_bytes()

    def add(**kwargs):
        return writable.post("/api/items", headers=AUTH, **kwargs)

    assert_error(add(data={"url": "https://example.org"}), 422, "file")
    assert_error(add(files={"file": ("c.png", photo)}, data={"published": "last week"}), 422)
    assert_error(add(files={"file": ("c.png", photo)}, data={"title": "t" * 501}), 422, "title")
    assert_error(add(files={"file": ("c.txt", b"plain words " * 100)}), 415, "unsupported")
    assert_error(add(files={"file": ("e.jpg", b"")}), 422, "empty")
    broken = (demo_dir / "media" / "bridge.jpg").read_bytes()[:4000]
    assert_error(add(files={"file": ("b.jpg", broken)}), 422, "cannot add")
    two = [("file", ("a.png", photo)), ("file", ("b.png", photo))]
    assert_error(add(files=two), 400)
    assert writable.get("/health").json()["items"] == 0


def test_upload_names_are_labels_never_paths(writable, demo_dir, tmp_path):
    marker = f"firstseen-traversal-{uuid.uuid4().hex}.png"
    name = f"../../../../../../tmp/{marker}"
    photo = (demo_dir / "media" / "chelsea.png").read_bytes()
    body = writable.post("/api/items", files={"file": (name, photo)}, headers=AUTH).json()
    assert body["item"]["path"] == marker
    assert not (tmp_path.anchor and (tmp_path.parents[-1] / "tmp" / marker).exists())
    search = writable.post("/api/search", files={"file": ("..\\..\\evil.jpg", photo)}).json()
    assert search["query"] == "evil.jpg"
    assert label("a/b/\x00bad\x1b[31m.jpg") == "bad[31m.jpg"
    assert label("../..") == "upload" and label(None) == "upload"


def test_server_never_fetches_given_urls(writable, demo_dir):
    """A sighting's URL is stored as text: the server makes no request to it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/image.jpg"
        photo = (demo_dir / "media" / "rocket.jpg").read_bytes()
        added = writable.post(
            "/api/items", files={"file": ("r.jpg", photo)}, data={"url": url}, headers=AUTH
        )
        assert added.status_code == 201 and added.json()["item"]["url"] == url
        writable.get("/api/items")
        writable.get(f"/api/items/{added.json()['item']['id']}")
        with pytest.raises(TimeoutError):
            listener.accept()
