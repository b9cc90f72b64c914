"""WARC files: writing a capture's exchanges, and reading any WARC's responses back.

Written records carry SHA-256 block and payload digests (`sha256:` + base32, as warcio and the WARC
1.1 guidelines write them), the capture time to the microsecond, the server's IP address, and
`WARC-Truncated` where a size or time limit cut a body short. Reading returns each response's
payload exactly as stored (content codings untouched), so replays are byte-for-byte.
"""

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from firstseen import __version__
from firstseen.errors import FirstseenError, user_reason
from firstseen.evidence.fetch import TOTAL_MB, WARC_HEADERS_MB, Exchange, Limits
from firstseen.evidence.pages import MEDIA_EXTENSIONS
from firstseen.evidence.records import (
    RecordError,
    Records,
    Refused,
    size,
)

FIRSTSEEN_METADATA = "application/vnd.firstseen.capture+json"
VIDEO_URN = "urn:firstseen:video:"  # a resource record's URI: the video joined from `<URL>`
_CHUNK = 1 << 16
HEADERS_ALLOWANCE = WARC_HEADERS_MB << 20
# The decompressed bytes one WARC may hold: what one capture may download, and its headers.
DEFAULT_BUDGET = (TOTAL_MB + WARC_HEADERS_MB) << 20
PAGE_CAP = Limits().max_page_bytes  # a page larger than a capture keeps is not parsed
MEDIA_CAP = 1 << 30  # a larger payload is not spooled for ingesting
METADATA_CAP = 16 << 20  # a capture's own JSON record


def sha256_digest(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def warc_date(when: datetime) -> str:
    return datetime_to_iso_date(when.astimezone(UTC).replace(tzinfo=None), use_micros=True)


class CaptureWriter:
    """Appends a capture's exchanges to a gzipped WARC 1.1 file, one gzip member per record."""

    def __init__(self, stream: BinaryIO, filename: str, info: dict[str, str]) -> None:
        self._writer = WARCWriter(stream, gzip=True, warc_version="1.1")
        fields = {"software": f"firstseen/{__version__}", "format": "WARC File Format 1.1"}
        fields.update(info)
        self._writer.write_record(self._writer.create_warcinfo_record(filename, fields))

    def _record(self, kind: str, uri: str, http: StatusAndHeaders, body: bytes, extra: dict):
        http.compute_headers_buffer()
        headers = {
            "WARC-Date": extra.pop("WARC-Date"),
            "WARC-Block-Digest": sha256_digest(http.headers_buff + body),
            "WARC-Payload-Digest": sha256_digest(body),
            **extra,
        }
        record = self._writer.create_warc_record(
            uri,
            kind,
            payload=BytesIO(body),
            length=len(body),
            http_headers=http,
            warc_headers_dict=headers,
        )
        self._writer.write_record(record)
        return record.rec_headers.get_header("WARC-Record-ID")

    def write_exchange(self, exchange: Exchange) -> None:
        """A request record when the request was sent (a connection was made), and a response
        record when a response began; an attempt that never connected is only in the capture's
        metadata record."""
        if exchange.ip is None and exchange.status is None:
            return
        date = warc_date(exchange.started)
        request = StatusAndHeaders(
            exchange.request_line, exchange.request_headers, is_http_request=True
        )
        extra = {"WARC-Date": date}
        if exchange.ip:
            extra["WARC-IP-Address"] = exchange.ip
        body = exchange.request_body
        request_id = self._record("request", exchange.url, request, body, dict(extra))
        if exchange.status is None:
            return
        status = f"{exchange.status} {exchange.reason}".strip()
        response = StatusAndHeaders(status, exchange.headers, protocol=exchange.protocol)
        extra["WARC-Concurrent-To"] = request_id
        if exchange.truncated:
            extra["WARC-Truncated"] = exchange.truncated
        self._record("response", exchange.url, response, exchange.body, extra)

    def write_resource(self, uri: str, content_type: str, path: Path, when: datetime) -> str:
        """A resource record of a file made during the capture (a video joined from its
        segments), streamed from disk with its SHA-256 digest, which it returns (hex)."""
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
            stream.seek(0)
            value = "sha256:" + base64.b32encode(digest.digest()).decode()
            record = self._writer.create_warc_record(
                uri,
                "resource",
                payload=stream,
                length=path.stat().st_size,
                warc_content_type=content_type,
                warc_headers_dict={
                    "WARC-Date": warc_date(when),
                    "WARC-Block-Digest": value,
                    "WARC-Payload-Digest": value,
                },
            )
            self._writer.write_record(record)
        return digest.hexdigest()

    def write_metadata(self, uri: str, data: dict[str, Any], when: datetime) -> None:
        body = json.dumps(data, indent=1, ensure_ascii=False).encode()
        record = self._writer.create_warc_record(
            uri,
            "metadata",
            payload=BytesIO(body),
            length=len(body),
            warc_content_type=FIRSTSEEN_METADATA,
            warc_headers_dict={"WARC-Date": warc_date(when)},
        )
        self._writer.write_record(record)


@dataclass(slots=True)
class Response:
    """A response or resource record of a WARC: what was served for a URL, and when."""

    uri: str
    date: str  # WARC-Date as written
    kind: str  # "response" or "resource"
    status: int | None
    headers: list[tuple[str, str]]
    content_type: str
    size: int
    sha256: str  # hex, of the payload as stored
    offset: int
    digest_ok: bool | None  # the record's own payload digest checked; None if it has none
    truncated: str | None
    record_id: str
    spooled: Path | None = None  # a temporary copy of the payload, when asked for

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def ok(self) -> bool:
        return self.truncated is None and (self.status is None or 200 <= self.status < 300)

    def seen_at(self) -> str:
        """The record's date in the catalog's format (UTC, to the second)."""
        try:
            when = iso_date_to_datetime(self.date, tz_aware=True)
        except (ValueError, TypeError):
            return self.date
        return when.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(slots=True)
class Scan:
    responses: list[Response] = field(default_factory=list)
    pages: dict[str, bytes] = field(default_factory=dict)  # HTML bodies by URI
    metadata: list[dict[str, Any]] = field(default_factory=list)  # firstseen capture records
    warcinfo: dict[str, str] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)  # records that could not be read
    notes: list[str] = field(default_factory=list)  # records read, but not wholly used


def _digest_matches(stated: str | None, payload_hashers: dict[str, Any]) -> bool | None:
    if not stated or ":" not in stated:
        return None
    algo, value = stated.split(":", 1)
    hasher = payload_hashers.get(algo.lower().replace("-", ""))
    if hasher is None:
        return None
    digest = hasher.digest()
    value = value.strip()
    return value.upper() == base64.b32encode(digest).decode() or value.lower() == digest.hex()


def _may_be_media(uri: str, content_type: str) -> bool:
    if content_type.startswith(("image/", "video/")):
        return True
    if content_type in ("", "application/octet-stream", "binary/octet-stream", "application/mp4"):
        return True
    return uri.split("?")[0].lower().endswith(MEDIA_EXTENSIONS)


def _is_html(content_type: str) -> bool:
    return content_type in ("text/html", "application/xhtml+xml")


def open_warc(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise FirstseenError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def scan(
    path: Path,
    spool: Path | None = None,
    budget: int | None = DEFAULT_BUDGET,
    page_cap: int = PAGE_CAP,
    media_cap: int = MEDIA_CAP,
    name: str | None = None,
) -> Scan:
    """Every response and resource record of a WARC with its payload's SHA-256 (and whether the
    record's own digest holds); HTML pages kept in memory, and possible media copied to files
    under `spool` (when given) for ingesting. A record that cannot be read is listed in
    `refused`; a file that is no WARC, or gives more than `budget` decompressed bytes (None: no
    limit), raises FirstseenError naming the file as `name` (else its path)."""
    name = name or str(path)
    result = Scan()
    try:
        with path.open("rb") as stream:
            records = Records(stream, budget)
            for record in records:
                if isinstance(record, Refused):
                    result.refused.append(record)
                    continue
                try:
                    _take(record, records, result, spool, page_cap, media_cap)
                except RecordError as exc:
                    reason = f"{exc}; the rest of the file cannot be read"
                    result.refused.append(Refused(records.start, reason))
                    break
    except OSError as exc:
        raise FirstseenError(f"{name}: cannot read: {user_reason(exc)}") from None
    except FirstseenError as exc:  # no WARC, over the budget, not one gzip member per record
        raise FirstseenError(f"{name}: {exc}") from None
    if not result.responses and not result.metadata:
        refused = f" ({len(result.refused)} records refused)" if result.refused else ""
        raise FirstseenError(f"{name}: no response records{refused}")
    return result


def _take(record, records: Records, result: Scan, spool, page_cap: int, media_cap: int) -> None:
    """Adds one record to the scan: a response or resource, the capture's metadata, or the
    warcinfo; other kinds (requests, revisits) are passed over."""
    kind = record.rec_type
    if kind == "warcinfo":
        result.warcinfo = _warc_fields(record.raw_stream.read(1 << 16))
    elif kind == "metadata":
        ctype = record.rec_headers.get_header("Content-Type") or ""
        if ctype.startswith(FIRSTSEEN_METADATA):
            _take_metadata(record, records, result)
    elif kind in ("response", "resource"):
        response = _read_response(record, records, result, spool, page_cap, media_cap)
        if response is not None:
            result.responses.append(response)


def _take_metadata(record, records: Records, result: Scan) -> None:
    data = record.raw_stream.read(METADATA_CAP + 1)
    try:
        found = json.loads(data) if len(data) <= METADATA_CAP else None
    except ValueError:
        found = None
    if isinstance(found, dict):
        result.metadata.append(found)
    else:
        reason = f"its capture record is not a JSON object of at most {size(METADATA_CAP)}"
        result.refused.append(Refused(records.get_record_offset(), reason))


def _warc_fields(data: bytes) -> dict[str, str]:
    fields = {}
    for line in data.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def _read_response(record, records, result: Scan, spool, page_cap: int, media_cap: int):
    """The record as a Response, its payload hashed (and kept or spooled as asked); None, with
    the record refused, when the file ends before the record does."""
    headers = record.rec_headers
    uri = headers.get_header("WARC-Target-URI") or ""
    http = record.http_headers
    status = None
    http_fields: list[tuple[str, str]] = []
    if record.rec_type == "response" and http is not None:
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            status = None
        http_fields = list(http.headers)
        content_type = http.get_header("Content-Type") or ""
    else:
        content_type = headers.get_header("Content-Type") or ""
    content_type = content_type.split(";")[0].strip().lower()
    hashers = {"sha256": hashlib.sha256(), "sha1": hashlib.sha1(), "md5": hashlib.md5()}
    size_read = 0
    keep_page = _is_html(content_type) and (status is None or 200 <= status < 300)
    page = bytearray()
    wanted = spool is not None and _may_be_media(uri, content_type)
    wanted = wanted and (status is None or 200 <= status < 300)
    spooled: Path | None = None
    with contextlib.ExitStack() as stack:
        sink = None
        if wanted:
            handle, name = tempfile.mkstemp(dir=spool, suffix=".media")
            spooled = Path(name)
            sink = stack.enter_context(os.fdopen(handle, "wb"))
        while chunk := record.raw_stream.read(_CHUNK):
            size_read += len(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
            if keep_page and size_read <= page_cap:
                page += chunk
            if sink is not None and size_read <= media_cap:
                sink.write(chunk)
    offset = records.get_record_offset()
    missing = record.raw_stream.limit
    if spooled is not None and (missing or size_read > media_cap):
        spooled.unlink()
        spooled = None
    if missing:
        result.refused.append(Refused(offset, f"the file ends {size(missing)} before it does"))
        return None
    if keep_page and size_read > page_cap:
        result.notes.append(
            f"record at offset {offset}: the page {uri} is larger than {size(page_cap)}: "
            "its text and metadata are not read"
        )
    elif keep_page:
        result.pages.setdefault(uri, bytes(page))
    return Response(
        uri=uri,
        date=headers.get_header("WARC-Date") or "",
        kind=record.rec_type,
        status=status,
        headers=http_fields,
        content_type=content_type,
        size=size_read,
        sha256=hashers["sha256"].hexdigest(),
        offset=offset,
        digest_ok=_digest_matches(headers.get_header("WARC-Payload-Digest"), hashers),
        truncated=headers.get_header("WARC-Truncated"),
        record_id=headers.get_header("WARC-Record-ID") or "",
        spooled=spooled,
    )


def response_at(path: Path, offset: int) -> tuple[int | None, list[tuple[str, str]], bytes]:
    """Status, HTTP headers and payload (as stored) of the response record at `offset`."""
    with open_warc(path) as stream:
        stream.seek(offset)
        try:
            record = next(iter(Records(stream, None)), None)
        except (FirstseenError, OSError) as exc:
            raise FirstseenError(
                f"{path}: unreadable record at offset {offset}: {user_reason(exc)}"
            ) from None
        if isinstance(record, Refused):
            raise FirstseenError(f"{path}: unreadable record at offset {offset}: {record.reason}")
        if record is None or record.rec_type not in ("response", "resource"):
            raise FirstseenError(f"{path}: no response record at offset {offset}")
        status, headers = None, []
        if record.rec_type == "response" and record.http_headers is not None:
            try:
                status = int(record.http_headers.get_statuscode())
            except (TypeError, ValueError):
                status = None
            headers = list(record.http_headers.headers)
        elif content_type := record.rec_headers.get_header("Content-Type"):
            headers = [("Content-Type", content_type)]
        try:
            return status, headers, record.raw_stream.read()
        except FirstseenError as exc:
            raise FirstseenError(f"{path}: unreadable record at offset {offset}: {exc}") from None
