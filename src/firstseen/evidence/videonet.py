"""yt-dlp's network during a capture: one request handler, firstseen's own guarded client.

A capture's yt-dlp has no other handler (`GuardedYDL` replaces its request director), and only the
downloaders that fetch through that handler may run, so every request it makes, for any extractor,
playlist or segment, is checked by `netsafety` (each redirect again, the connection made to the
checked address), counted against the capture's size and time budgets, and kept in its WARC. A
refused address, a spent budget or a failed fetch is a yt-dlp TransportError, so yt-dlp stops there
(captures ask it for no retries and no skipped fragments); `Session.stopped` keeps the one-line
reason a budget gave.
"""

import functools
import io
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.downloader import get_suitable_downloader
from yt_dlp.downloader.dash import DashSegmentsFD
from yt_dlp.downloader.hls import HlsFD
from yt_dlp.downloader.http import HttpFD
from yt_dlp.globals import plugin_dirs
from yt_dlp.networking.common import RequestHandler, Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError

from firstseen.evidence.fetch import Ask, Exchange, Fetched, Limits, fetch
from firstseen.evidence.netsafety import Policy
from firstseen.evidence.warc import CaptureWriter

PLAYLIST_TYPES = (
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
    "application/dash+xml",
)
# Downloaders that fetch through YoutubeDL.urlopen, hence through the guard; the others (ffmpeg,
# rtmpdump, external programs) would open connections of their own.
GUARDED_DOWNLOADERS = (HttpFD, HlsFD, DashSegmentsFD)


class Refused(TransportError):
    """A request the capture's address checks refused (a transport error, so that every yt-dlp
    downloader and extractor fails on it as on a connection that cannot be made)."""


class Stopped(TransportError):
    """A request not made (or cut short) because a capture budget is spent."""


@dataclass(slots=True)
class Session:
    """What yt-dlp's requests share during one capture: the address policy, the budgets, the WARC
    they are written to, and what was fetched for the video being downloaded."""

    policy: Policy
    limits: Limits
    writer: CaptureWriter
    deadline: float  # time.monotonic() at which the capture's time is up
    spent: int  # payload bytes the capture's WARC already holds
    known: dict[str, Fetched] = field(default_factory=dict)  # GETs answered already, and playlists
    video_bytes: int = 0  # downloaded for the current video, written again once assembled
    parts: list[str] = field(default_factory=list)  # URLs fetched for the current video
    failures: list[dict[str, Any]] = field(default_factory=list)  # refused or failed requests
    stopped: str | None = None  # why a budget stopped the downloads

    def start_video(self) -> None:
        self.video_bytes, self.parts = 0, []

    def room(self) -> int:
        """Bytes the next response may have: within the video's own limit, and leaving room in
        the capture's total for the video to be written once more, assembled."""
        left_total = self.limits.max_total_bytes - self.spent - self.video_bytes
        return min(self.limits.max_bytes - self.video_bytes, left_total)

    def _stop(self, reason: str) -> Stopped:
        self.stopped = self.stopped or reason
        return Stopped(reason)

    def fetch(self, url: str, ask: Ask) -> Fetched:
        """The guarded fetch of one of yt-dlp's requests, its exchanges written to the WARC; raises
        Stopped when a budget is spent before or during it."""
        if ask.method == "GET" and url in self.known:
            return self.known[url]
        if time.monotonic() >= self.deadline:
            raise self._stop(self._time_reason())
        room = self.room()
        if room <= 0:
            raise self._stop(self._size_reason())
        got = fetch(url, self.policy, self.limits, room, self.deadline, ask)
        for exchange in got.chain:
            self.writer.write_exchange(exchange)
            self.spent += len(exchange.body)
            self.video_bytes += len(exchange.body)
            self.parts.append(exchange.url)
        last = got.final
        if last is not None and last.truncated == "length":
            raise self._stop(f"{self._size_reason()} ({last.url} was cut short)")
        if got.error and time.monotonic() >= self.deadline:
            raise self._stop(self._time_reason())
        if ask.method == "GET" and got.ok and last is not None and is_playlist(last):
            self.known[url] = got  # asked for by the extractor, then by the downloader: kept once
        return got

    def _time_reason(self) -> str:
        return f"the capture's time limit ({self.limits.total_seconds:g} s) was reached"

    def _size_reason(self) -> str:
        if self.limits.max_bytes - self.video_bytes <= self.room():
            return f"the video is larger than the {_mib(self.limits.max_bytes)} limit"
        return f"the capture's size limit ({_mib(self.limits.max_total_bytes)}) was reached"


def is_playlist(exchange: Exchange) -> bool:
    path = exchange.url.split("?")[0].lower()
    return exchange.content_type in PLAYLIST_TYPES or path.endswith((".m3u8", ".mpd"))


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def _body(data: Any) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    if hasattr(data, "read"):
        return data.read()
    return b"".join(data)


class _CookieSource:
    """The response as http.cookiejar reads it."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self._message = Message()
        for name, value in headers:
            self._message[name] = value

    def info(self) -> Message:
        return self._message


class GuardedRH(RequestHandler):
    """Sends yt-dlp's requests through `Session.fetch`: http(s) only, no proxy (a proxy would
    connect where the checks cannot see), cookies kept in yt-dlp's jar."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = None
    _SUPPORTED_FEATURES = None

    def __init__(self, *, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session

    def _check_extensions(self, extensions: dict) -> None:
        super()._check_extensions(extensions)
        for name in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing"):
            extensions.pop(name, None)  # the capture's own timeouts apply

    def _send(self, request):
        headers = self._get_headers(request)
        jar = self._get_cookiejar(request)
        if cookie := jar.get_cookie_header(request.url):
            headers["Cookie"] = cookie
        ask = Ask(request.method, tuple(headers.items()), _body(request.data))
        got = self.session.fetch(request.url, ask)
        last = got.final
        if got.refused or last is None or last.status is None or got.error:
            self.session.failures.append(
                {"url": request.url, "error": got.error, "refused": got.refused}
            )
            error = Refused if got.refused else TransportError
            raise error(f"{got.error or 'no response'}")
        jar.extract_cookies(_CookieSource(last.headers), urllib.request.Request(last.url))
        response = Response(io.BytesIO(last.body), got.final_url, {}, last.status, last.reason)
        for name, value in last.headers:
            response.headers[name] = value
        if last.status >= 400:
            self.session.failures.append({"url": request.url, "error": f"HTTP {last.status}"})
            raise HTTPError(response)
        return response


Skip = Callable[[dict[str, Any]], str | None]
Finished = Callable[[dict[str, Any], str | None], None]


class GuardedYDL(YoutubeDL):
    """YoutubeDL whose only request handler is `GuardedRH`, which refuses to start any downloader
    that does not fetch through it, and which tells `finished` of each video it has downloaded
    (or failed to), after asking `skip` whether to download it at all."""

    def __init__(
        self, params: dict[str, Any], session: Session, skip: Skip, finished: Finished
    ) -> None:
        self._session, self._skip, self._finished = session, skip, finished
        # No plugins (as `yt-dlp --no-plugin-dirs`): code found in the user's yt-dlp plugin
        # folders would run inside the capture, with requests and downloaders of its own.
        plugin_dirs.value = []
        super().__init__(params)

    def process_info(self, info_dict):
        if self._skip(info_dict) is not None:
            return
        self._session.start_video()
        try:
            super().process_info(info_dict)
        except DownloadError as exc:
            self._finished(info_dict, str(exc).removeprefix("ERROR: ").splitlines()[0])
        else:
            self._finished(info_dict, None)

    @functools.cached_property
    def _request_director(self):
        handler = functools.partial(GuardedRH, session=self._session)
        return self.build_request_director([handler])

    def dl(self, name, info, subtitle=False, test=False):
        if info.get("is_live") and info.get("protocol") in ("m3u8", "m3u8_native"):
            # yt-dlp hands live HLS to ffmpeg; natively, the segments the playlist lists are
            # downloaded once, within the capture's budgets
            info = {**info, "is_live": False}
        downloader = get_suitable_downloader(info, self.params)
        if downloader not in GUARDED_DOWNLOADERS:
            protocol = info.get("protocol") or "this protocol"
            raise DownloadError(
                f"{protocol} needs {downloader.__name__}, which would connect outside the "
                "capture's address checks: not downloaded"
            )
        return super().dl(name, info, subtitle, test)
