"""The video a captured page plays through a player (HLS and DASH playlists, `<video>` and
JavaScript players, sites yt-dlp knows), preserved with yt-dlp through the capture's guard.

yt-dlp's generic extractor (or a site extractor, where the URL is one) reads the page the capture
already fetched and finds its videos; each is downloaded by yt-dlp's own HTTP, HLS or DASH
downloader, never ffmpeg: no ffmpeg binary is assumed, so a format that would need one to be
merged or remuxed is not chosen (`FORMAT`: the best file holding both picture and sound, else the
best holding picture), and segments are joined as they came (MPEG-TS for HLS, fragmented MP4 for
DASH), which PyAV decodes like any file. Every request is a response record in the WARC
(videonet.py); the joined video is a `resource` record at `urn:firstseen:video:<URL>` too, since the
segments alone are not a file anyone can search or play, and the capture's record lists which
responses were its parts, so that only the whole video joins the archive.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yt_dlp.utils import DownloadError

from firstseen.evidence.fetch import USER_AGENT, Fetched, Limits
from firstseen.evidence.netsafety import Policy
from firstseen.evidence.pages import playlist_links
from firstseen.evidence.videonet import GuardedYDL, Session
from firstseen.evidence.warc import VIDEO_URN, CaptureWriter

# Protocols whose downloaders fetch through the guard; a format of any other is never chosen.
_PROTOCOLS = "^(https?|m3u8|m3u8_native|http_dash_segments)$"
FORMAT = f"b[protocol~='{_PROTOCOLS}']/bv*[protocol~='{_PROTOCOLS}']"
Log = Callable[[str], None]


class _Messages:
    """yt-dlp's logger: its errors kept (the last one explains a failed video), nothing printed."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, message: str) -> None:
        pass

    info = warning = debug

    def error(self, message: str) -> None:
        self.errors.append(message.removeprefix("ERROR: ").splitlines()[0].strip())


def _params(folder: Path, limits: Limits, messages: _Messages) -> dict[str, Any]:
    return {
        "logger": messages,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "outtmpl": {"default": str(folder / "%(autonumber)s.%(ext)s")},
        "format": FORMAT,
        "hls_prefer_native": True,
        "external_downloader": {"default": "native"},
        "fixup": "never",
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "file_access_retries": 0,
        "skip_unavailable_fragments": False,
        "concurrent_fragment_downloads": 1,
        "cachedir": False,
        "updatetime": False,
        "check_formats": False,
        "playlistend": limits.max_media,
        "socket_timeout": limits.timeout,
        "http_headers": {"User-Agent": USER_AGENT},
    }


def _content_type(path: Path) -> str:
    with path.open("rb") as stream:
        head = stream.read(189)
    if head[4:8] == b"ftyp" or head[4:8] in (b"styp", b"moof"):
        return "video/mp4"
    if head[:1] == b"\x47" and head[188:189] == b"\x47":
        return "video/mp2t"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return "application/octet-stream"


def _source(info: dict[str, Any]) -> str:
    """The URL a video is known by: its playlist, else its file, else its page."""
    return info.get("manifest_url") or info.get("url") or info.get("webpage_url") or ""


class _Run:
    """One page's videos: what yt-dlp finishes is written to the WARC as it finishes."""

    def __init__(self, page: Fetched, session: Session, captured: set[str], log: Log) -> None:
        self.page, self.session, self.captured, self.log = page, session, captured, log
        self.messages = _Messages()
        self.videos: list[dict[str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []

    def skip(self, info: dict[str, Any]) -> str | None:
        """Why a video found is not downloaded, or None."""
        if info.get("protocol") in ("http", "https") and info.get("url") in self.captured:
            return "already captured as the page's media"
        if any(v["source"] == _source(info) for v in self.videos):
            return "already kept"
        if len(self.videos) >= self.session.limits.max_media:
            reason = f"not fetched: over the limit of {self.session.limits.max_media} videos"
            self.outcomes.append({"url": info.get("webpage_url"), "role": "video", "error": reason})
            return reason
        return None

    def finished(self, info: dict[str, Any], failure: str | None) -> None:
        source = _source(info)
        path = Path(info["filepath"]) if info.get("filepath") else None
        parts = list(self.session.parts)
        if failure is None and (path is None or not path.is_file()):
            failure = self.messages.errors[-1] if self.messages.errors else "not downloaded"
        if failure is not None:
            reason = self.session.stopped or failure
            self.outcomes.append(
                {"url": source, "role": "video", "error": reason, "requests": len(parts)}
            )
            self.log(f"video {source}: {reason}")
            return
        assert path is not None
        uri = VIDEO_URN + source
        size = path.stat().st_size
        sha256 = self.session.writer.write_resource(
            uri, _content_type(path), path, datetime.now(UTC)
        )
        self.session.spent += size
        self.videos.append(
            {
                "uri": uri,
                "page": self.page.final_url,
                "source": source,
                "extractor": info.get("extractor_key"),
                "format": info.get("format_id"),
                "protocol": info.get("protocol"),
                "live": bool(info.get("is_live")),
                "title": info.get("title"),
                "bytes": size,
                "sha256": sha256,
                "parts": parts,
            }
        )
        self.outcomes.append({"url": source, "role": "video", "status": 200, "bytes": size})
        self.log(f"video {source}: {size} bytes in {len(parts)} requests")


def capture_videos(
    page: Fetched,
    writer: CaptureWriter,
    policy: Policy,
    limits: Limits,
    spent: int,
    deadline: float,
    held: dict[str, Fetched],
    spool: Path,
    log: Log,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The videos a page plays, downloaded into the WARC within the capture's budgets (`spent`
    bytes already written): (fetch outcomes, the videos kept). A page with no video leaves both
    lists empty. `held` are the page and media the capture fetched already, by URL: yt-dlp is
    answered from them, and a video among them is not downloaded twice. yt-dlp's files go in
    `spool`, a private folder the caller deletes."""
    session = Session(policy, limits, writer, deadline, spent, dict(held))
    run = _Run(page, session, set(held), log)
    params = _params(spool, limits, run.messages)
    with GuardedYDL(params, session, run.skip, run.finished) as ydl:
        if not _extract(ydl, run, page.final_url):
            named = playlist_links(page.final.body, page.final_url) if page.final else []
            for url in named[: limits.max_media]:
                _extract(ydl, run, url)
            if not named:
                log(f"video: none found on {page.final_url}")
    extra = [{"role": "video-part", "refused": False} | f for f in session.failures]
    return run.outcomes + extra, run.videos


def _extract(ydl: GuardedYDL, run: _Run, url: str) -> bool:
    """Lets yt-dlp find and download the videos at `url`; False when it finds none there."""
    try:
        ydl.extract_info(url, download=True)
    except DownloadError as exc:
        reason = run.session.stopped or str(exc).removeprefix("ERROR: ").splitlines()[0].strip()
        if "Unsupported URL" in reason:
            return False
        run.outcomes.append({"url": url, "role": "video", "error": reason})
        run.log(f"video {url}: {reason}")
    return True
