"""Replaying a stored capture as it was: the cached version of a page that may since be gone.

`Replay.serve` answers on a local port with the stored bytes of each response, byte for byte, with
the original status and headers (hop-by-hop headers and cookies dropped). Paths on the captured
page's own origin are served at the same paths, so its relative links resolve; any captured URL is
also served at `/_web/<URL>`, and `/_capture` lists them all. A Content-Security-Policy forbids
scripts, plugins and any request leaving the replay: nothing captured runs, nothing live loads.
`Replay.export` writes the same bytes to files, with a manifest of URLs and SHA-256 digests.
"""

import hashlib
import html
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urldefrag, urljoin, urlsplit

from warcio.timeutils import iso_date_to_datetime

from firstseen.archive.media_api import CaptureFiles
from firstseen.archive.records import CaptureRef, Item
from firstseen.errors import FirstseenError
from firstseen.evidence.fetch import REDIRECTS
from firstseen.evidence.warc import VIDEO_URN, response_at, scan

CSP = (
    "default-src 'self' data:; script-src 'none'; object-src 'none'; frame-src 'self';"
    " connect-src 'none'; form-action 'none'; base-uri 'none'"
)
_DROPPED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "set-cookie",
    "content-security-policy",
    "content-security-policy-report-only",
    "strict-transport-security",
    "alt-svc",
    "upgrade",
    "proxy-authenticate",
}
_SAFE = "/%:@!$&'()*+,;=-._~"


def _key(url: str) -> str:
    """A URL normalised for lookups: no fragment, default port dropped, consistent escaping."""
    parts = urlsplit(urldefrag(url.strip()).url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    path = quote(parts.path or "/", safe=_SAFE)
    query = quote(parts.query, safe=_SAFE + "?")
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _origin(url: str) -> str:
    parts = urlsplit(_key(url))
    return f"{parts.scheme}://{parts.netloc}"


@contextmanager
def captured_copy(store: CaptureFiles, item: Item) -> Iterator[Path | None]:
    """A captured item's bytes (`capture:<id>:<url>`), read from its capture's WARC into a
    private file for the body; None when the capture or the response is gone or unreadable."""
    capture_id = item.path.split(":", 2)[1]
    try:
        replay = Replay(store, capture_id)
        entry = next((e for e in replay.resources() if e.get("sha256") == item.sha256), None)
        body = None if entry is None else replay.response(entry)[2]
    except (FirstseenError, OSError, KeyError):
        body = None
    if body is None:
        yield None
        return
    with store.spool() as folder:
        copy = folder / "captured"
        copy.write_bytes(body)
        yield copy


class Replay:
    """One stored capture, ready to serve or write out."""

    def __init__(self, store: CaptureFiles, ref: str) -> None:
        self.ref: CaptureRef
        self.ref, self.info = store.load(ref)
        self.main = self.info.get("final_url") or self.info.get("url") or ""
        self.origin = _origin(self.main) if self.main else ""
        self._by_key: dict[str, dict[str, Any]] = {}
        for entry in self.info.get("resources", []):
            key = _key(entry["url"])
            current = self._by_key.get(key)
            # A successful response wins over an error recorded for the same URL.
            if current is None or (not _good(current) and _good(entry)):
                self._by_key[key] = entry

    @property
    def id(self) -> str:
        return self.ref.id

    def resources(self) -> list[dict[str, Any]]:
        return list(self._by_key.values())

    def lookup(self, url: str) -> dict[str, Any] | None:
        return self._by_key.get(_key(url))

    def response(self, entry: dict[str, Any]) -> tuple[int | None, list[tuple[str, str]], bytes]:
        return response_at(self.ref.warc, entry["offset"])

    def verify(self) -> list[str]:
        """Problems found re-reading the WARC: payloads whose SHA-256 differs from the recorded
        one, records whose own digest fails, the WARC file's hash changed. Empty when intact."""
        problems = []
        digest = hashlib.sha256()
        with self.ref.warc.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        if self.info.get("warc_sha256") and digest.hexdigest() != self.info["warc_sha256"]:
            problems.append(f"{self.ref.warc.name}: SHA-256 differs from the one recorded")
        stored = {(r["url"], r["offset"]): r for r in self.info.get("resources", [])}
        try:  # the budget was applied when the WARC was stored
            found = scan(self.ref.warc, budget=None)
        except FirstseenError as exc:
            return [*problems, str(exc)]
        refused_before = {r.get("offset") for r in self.info.get("refused", [])}
        for refused in found.refused:
            if refused.offset not in refused_before:
                problems.append(f"record at offset {refused.offset}: {refused.reason}")
        for response in found.responses:
            if response.digest_ok is False:
                problems.append(f"{response.uri}: the record's payload digest does not match")
            known = stored.get((response.uri, response.offset))
            if known is not None and known["sha256"] != response.sha256:
                problems.append(f"{response.uri}: payload SHA-256 differs from the one recorded")
        return problems

    # -- writing out -------------------------------------------------------------------------

    def export(self, folder: Path) -> list[dict[str, Any]]:
        """Writes every successful response's payload to files under `folder` (by host and path)
        and `manifest.json`; each file's SHA-256 is checked against the capture's record."""
        folder.mkdir(parents=True, exist_ok=True)
        manifest: list[dict[str, Any]] = []
        used: set[str] = set()
        for entry in self.resources():
            if not _good(entry):
                continue
            body = self.response(entry)[2]
            relative = _local_path(entry["url"], used, entry.get("content_type"))
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            sha = hashlib.sha256(target.read_bytes()).hexdigest()
            if sha != entry["sha256"]:
                raise FirstseenError(f"{entry['url']}: written bytes differ from the capture")
            manifest.append(
                {
                    "url": entry["url"],
                    "file": relative.as_posix(),
                    "sha256": sha,
                    "bytes": len(body),
                    "content_type": entry.get("content_type"),
                    "captured_at": entry.get("date"),
                    "main": _key(entry["url"]) == _key(self.main),
                }
            )
        record = {"capture": self.info, "files": manifest}
        (folder / "manifest.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        return manifest

    # -- serving -----------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        """An HTTP server replaying the capture, not yet started: call `serve_forever()` (or
        `start()` for a background thread) and `shutdown()`."""
        replay = self

        class Handler(_Handler):
            pass

        Handler.replay = replay
        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        return server

    def start(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        server = self.serve(host, port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def main_path(self) -> str:
        parts = urlsplit(_key(self.main))
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def local_url(self, url: str) -> str:
        """Where the replay serves `url`: the same path on the page's origin, else /_web/URL."""
        if _origin(url) == self.origin:
            parts = urlsplit(_key(url))
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return "/_web/" + _key(url)


def _good(entry: dict[str, Any]) -> bool:
    status = entry.get("status")
    return not entry.get("truncated") and (status is None or 200 <= status < 300)


_VIDEO_EXTENSIONS = {"video/mp2t": ".ts", "video/mp4": ".mp4", "video/webm": ".webm"}


def _local_path(url: str, used: set[str], content_type: str | None = None) -> Path:
    """Where `url` is written, once: host and path; a video joined from a playlist under
    `videos/`, named after its playlist, with the extension of what it holds."""
    if url.startswith(VIDEO_URN):
        extension = _VIDEO_EXTENSIONS.get(content_type or "", ".video")
        candidate = Path("videos", _web_path(url.removeprefix(VIDEO_URN)).with_suffix(extension))
    else:
        candidate = _web_path(url)
    number = 1
    while candidate.as_posix() in used:
        number += 1
        candidate = candidate.with_name(f"{candidate.stem}-{number}{candidate.suffix}")
    used.add(candidate.as_posix())
    return candidate


def _web_path(url: str) -> Path:
    parts = urlsplit(url)
    host = re.sub(r"[^A-Za-z0-9._-]", "_", parts.netloc) or "host"
    segments = [
        re.sub(r"[^A-Za-z0-9._-]", "_", s)
        for s in parts.path.split("/")
        if s not in ("", ".", "..")
    ]
    segments = [s if s.strip(".") else "_" for s in segments]
    if not segments or parts.path.endswith("/"):
        segments.append("index.html")
    if parts.query:
        stem, dot, ext = segments[-1].rpartition(".")
        tag = hashlib.sha256(parts.query.encode()).hexdigest()[:8]
        segments[-1] = f"{stem}_{tag}.{ext}" if dot else f"{ext}_{tag}"
    return Path(host, *segments)


class _Handler(BaseHTTPRequestHandler):
    replay: Replay
    server_version = "firstseen-replay"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args) -> None:  # quiet: the CLI prints what it serves
        return

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _plain(self, status: int, text: str, content_type: str, send_body: bool) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _answer(self, send_body: bool) -> None:
        replay = self.replay
        path = self.path
        if path.rstrip("/") == "/_capture":
            self._plain(200, _index_page(replay), "text/html; charset=utf-8", send_body)
            return
        if path == "/_capture.json":
            text = json.dumps(replay.info, indent=2, ensure_ascii=False)
            self._plain(200, text, "application/json", send_body)
            return
        url = path[len("/_web/") :] if path.startswith("/_web/") else replay.origin + path
        entry = replay.lookup(url)
        if entry is None and path == "/" and replay.main_path() != "/":
            self.send_response(302)
            self.send_header("Location", replay.main_path())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if entry is None:
            self._plain(404, f"not in capture {replay.id}: {url}\n", "text/plain", send_body)
            return
        if entry.get("truncated"):
            text = f"capture {replay.id} holds {url} cut short ({entry['truncated']} limit)\n"
            self._plain(404, text, "text/plain", send_body)
            return
        status, headers, body = replay.response(entry)
        self.send_response(status or 200)
        for name, value in headers:
            lower = name.lower()
            if lower in _DROPPED:
                continue
            if lower in ("date", "server"):  # the replay's own go out; the originals are kept
                name = f"X-Archive-Orig-{name}"
            if lower == "location" and status in REDIRECTS:
                value = replay.local_url(urljoin(entry["url"], value))
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Firstseen-Capture", replay.id)
        self.send_header("X-Firstseen-SHA256", entry["sha256"])
        self.send_header("Link", f'<{entry["url"]}>; rel="original"')
        if memento := _http_date(entry.get("date")):
            self.send_header("Memento-Datetime", memento)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def _http_date(warc_date: str | None) -> str | None:
    if not warc_date:
        return None
    try:
        return format_datetime(iso_date_to_datetime(warc_date, tz_aware=True), usegmt=True)
    except (ValueError, TypeError):
        return None


def _index_page(replay: Replay) -> str:
    info = replay.info
    page = info.get("page") or {}
    rows = []
    for entry in replay.resources():
        local = html.escape(replay.local_url(entry["url"]), quote=True)
        rows.append(
            f"<tr><td><a href='{local}'>{html.escape(entry['url'])}</a></td>"
            f"<td>{entry.get('status') or ''}</td><td>{html.escape(entry.get('kind', ''))}</td>"
            f"<td>{entry.get('bytes', 0)}</td><td><code>{entry['sha256']}</code></td></tr>"
        )
    title = html.escape(page.get("title") or info.get("url") or replay.id)
    return (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>Capture {html.escape(replay.id)}</title>"
        f"<h1>{title}</h1><p>Capture {html.escape(replay.id)} of "
        f"<code>{html.escape(info.get('url') or '')}</code> at "
        f"{html.escape(str(info.get('captured_at') or ''))}. "
        f"<a href='{html.escape(replay.main_path() if replay.main else '/')}'>Open the page</a>"
        "</p><table border='1' cellpadding='4'><tr><th>URL</th><th>status</th><th>kind</th>"
        "<th>bytes</th><th>SHA-256</th></tr>" + "".join(rows) + "</table>"
    )
