"""A deliberately small HTTP client for captures: limits everywhere, every byte kept.

Pages and media are fetched with GET; yt-dlp's requests (evidence/videonet.py) may also be HEAD or
POST, with the headers its extractors set (`Ask`), and a redirect drops their cookies and
credentials when it leaves the origin.

Each hop of a redirect chain is checked by `netsafety` and connected to the very address that was
checked (TLS still verifies the host's certificate by name). Bodies are read up to a size cap and a
time limit; what arrives is kept exactly as sent (only the chunked transfer coding is removed, and
`identity` is asked for so nothing is compressed), so the WARC holds the bytes a reader's browser
would have received.
"""

import http.client
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urljoin, urlsplit

from firstseen import __version__
from firstseen.errors import user_reason
from firstseen.evidence.netsafety import IPAddress, Policy, UnsafeAddress, check_url

USER_AGENT = f"firstseen/{__version__} (media provenance capture)"
REDIRECTS = (301, 302, 303, 307, 308)
MiB = 1 << 20
TOTAL_MB = 1000  # everything one capture downloads
WARC_HEADERS_MB = 16  # the record and HTTP headers a capture's WARC holds around those bytes


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one capture; every one of them is a command-line option."""

    max_media: int = 40  # images and videos fetched per page
    max_bytes: int = 200 * MiB  # one image or video (a played video: all its requests)
    max_page_bytes: int = 10 * MiB  # the page itself
    max_total_bytes: int = TOTAL_MB * MiB  # everything a capture downloads, and the videos it joins
    timeout: float = 20.0  # connecting, and any silence while reading
    resource_seconds: float = 120.0  # one download, start to end
    total_seconds: float = 600.0  # the whole capture
    max_redirects: int = 5


_OWN_HEADERS = frozenset(
    {"host", "accept-encoding", "connection", "content-length", "transfer-encoding", "te",
     "keep-alive", "upgrade", "proxy-authorization", "proxy-connection"}
)  # fmt: skip
_ORIGIN_ONLY = frozenset({"cookie", "authorization"})


@dataclass(frozen=True, slots=True)
class Ask:
    """A request other than a plain GET: its method, extra headers and body."""

    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


@dataclass(slots=True)
class Exchange:
    """One request and what came back for it (or why nothing did)."""

    url: str
    started: datetime
    request_line: str
    request_headers: list[tuple[str, str]]
    ip: str | None = None
    protocol: str = "HTTP/1.1"
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: str | None = None  # WARC-Truncated reason: "length", "time", "disconnect"
    error: str | None = None
    request_body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass(slots=True)
class Fetched:
    """A URL and the chain of exchanges it took, redirects first."""

    url: str
    chain: list[Exchange] = field(default_factory=list)
    error: str | None = None
    refused: bool = False  # the address checks refused a hop

    @property
    def final(self) -> Exchange | None:
        return self.chain[-1] if self.chain else None

    @property
    def final_url(self) -> str:
        return self.chain[-1].url if self.chain else self.url

    @property
    def ok(self) -> bool:
        last = self.final
        return (
            self.error is None
            and last is not None
            and last.status is not None
            and 200 <= last.status < 300
            and last.truncated is None
        )


def _connect(addresses: Sequence[IPAddress], port: int, timeout: float | None) -> socket.socket:
    """A connection to the first of the checked addresses that answers."""
    failure: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout)
        except OSError as exc:
            failure = exc
    raise failure


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to a checked address, whatever the name would resolve to now."""

    def __init__(self, host: str, port: int, addresses: Sequence[IPAddress], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: Sequence[IPAddress], timeout: float):
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._addresses = addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _target(url: str) -> str:
    """The request target: path and query, percent-encoded where the page left them raw."""
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return f"{path}?{query}" if query else path


def _host_header(host: str, port: int, scheme: str) -> str:
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port == default else f"{name}:{port}"


def _now() -> datetime:
    return datetime.now(UTC)


def fetch(
    url: str, policy: Policy, limits: Limits, cap: int, deadline: float, ask: Ask = Ask()
) -> Fetched:
    """Asks for `url` (a GET unless `ask` says otherwise), following redirects (each one checked
    again), reading at most `cap` bytes of each body and stopping at `deadline`
    (time.monotonic())."""
    result = Fetched(url)
    current = url
    for _ in range(limits.max_redirects + 1):
        try:
            scheme, host, port, addresses = check_url(current, policy)
        except UnsafeAddress as exc:
            result.error, result.refused = str(exc), True
            return result
        if time.monotonic() >= deadline:
            result.error = "capture time limit reached"
            return result
        exchange = _exchange(current, scheme, host, port, addresses, limits, cap, deadline, ask)
        result.chain.append(exchange)
        if exchange.error:
            result.error = exchange.error
            return result
        location = exchange.header("location")
        if exchange.status in REDIRECTS and location:
            try:
                target = urljoin(current, location.strip())
            except ValueError:
                result.error = "the redirect's Location is not a URL"
                return result
            ask = _redirected(ask, exchange.status, current, target)
            current = target
            continue
        return result
    result.error = f"more than {limits.max_redirects} redirects"
    return result


def _redirected(ask: Ask, status: int | None, source: str, target: str) -> Ask:
    """The request a redirect leads to, as browsers make it: a POST answered by 301, 302 or 303
    becomes a GET without body, and cookies and credentials stay with their origin."""
    method, body = ask.method, ask.body
    if status == 303 or (status in (301, 302) and method == "POST"):
        method, body = ("HEAD", None) if method == "HEAD" else ("GET", None)
    headers = ask.headers
    if urlsplit(source)[:2] != urlsplit(target)[:2]:
        headers = tuple((k, v) for k, v in headers if k.lower() not in _ORIGIN_ONLY)
    return Ask(method, headers, body)


def _exchange(
    url: str,
    scheme: str,
    host: str,
    port: int,
    addresses: Sequence[IPAddress],
    limits: Limits,
    cap: int,
    deadline: float,
    ask: Ask,
) -> Exchange:
    target = _target(url)
    headers = _headers(_host_header(host, port, scheme), ask)
    exchange = Exchange(url, _now(), f"{ask.method} {target} HTTP/1.1", headers)
    exchange.request_body = ask.body or b""
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    stop = min(deadline, time.monotonic() + limits.resource_seconds)
    timeout = max(0.1, min(limits.timeout, stop - time.monotonic()))
    connection = kind(host, port, addresses, timeout=timeout)
    try:
        connection.putrequest(ask.method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(ask.body)
        exchange.ip = connection.sock.getpeername()[0].split("%")[0]
        response = connection.getresponse()
        exchange.protocol = "HTTP/1.0" if response.version == 10 else "HTTP/1.1"
        exchange.status, exchange.reason = response.status, response.reason
        # The body is stored de-chunked, so the chunked coding is not claimed for it.
        exchange.headers = [
            (k, v) for k, v in response.getheaders() if k.lower() != "transfer-encoding"
        ]
        _read_body(response, exchange, cap, stop)
    except TimeoutError:
        exchange.error = f"timed out (no data for {limits.timeout:g} s)"
        if exchange.status is not None:
            exchange.truncated = "time"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = user_reason(exc)
        exchange.error = reason or type(exc).__name__
        if exchange.status is not None:
            exchange.truncated = "disconnect"
    finally:
        connection.close()
    return exchange


def _headers(host: str, ask: Ask) -> list[tuple[str, str]]:
    """The request's headers: the asker's own (a user agent and Accept of ours where it set
    none), never a compressed body or a kept-alive connection."""
    given = [(k, v) for k, v in ask.headers if k.lower() not in _OWN_HEADERS]
    named = {k.lower() for k, _ in given}
    headers = [("Host", host)]
    headers += [
        (k, v) for k, v in (("User-Agent", USER_AGENT), ("Accept", "*/*")) if k.lower() not in named
    ]
    headers += given
    headers += [("Accept-Encoding", "identity"), ("Connection", "close")]
    if ask.body is not None:
        headers.append(("Content-Length", str(len(ask.body))))
    return headers


def _read_body(response: http.client.HTTPResponse, exchange: Exchange, cap: int, stop: float):
    declared = response.getheader("content-length")
    if declared and declared.strip().isdigit() and int(declared) > cap:
        exchange.truncated = "length"
        exchange.error = f"larger than the {_size(cap)} limit ({_size(int(declared))} declared)"
        return
    body = bytearray()
    while chunk := response.read1(1 << 16):
        body += chunk
        if len(body) > cap:
            del body[cap:]
            exchange.truncated = "length"
            exchange.error = f"larger than the {_size(cap)} limit"
            break
        if time.monotonic() > stop:
            exchange.truncated = "time"
            exchange.error = "download took longer than the time limit"
            break
    exchange.body = bytes(body)


def _size(n: int) -> str:
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} bytes"
