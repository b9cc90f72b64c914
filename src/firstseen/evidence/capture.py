"""Capturing a claim: the page, the media it shows, every exchange in a WARC kept in the archive;
and registering a WARC (a capture, or one made by another archiver) so its media are searchable.

Captured media join the archive like any other source: the sighting's URL is the page that showed
them, its title the page's title, its date the page's publication date, and its `seen_at` the
moment the media were fetched. The sighting's path, `capture:<id>:<media URL>`, names the capture
that holds the bytes. Nothing fetched is ever executed: pages are parsed as data, scripts and
styles are not fetched, and media go through the same decoders (with the same limits) as any file.
"""

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firstseen import __version__
from firstseen.archive.durable import sync_folder
from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError
from firstseen.evidence.fetch import REDIRECTS, Exchange, Fetched, Limits, fetch
from firstseen.evidence.netsafety import Policy, UnsafeAddress, parse_url
from firstseen.evidence.pages import PageInfo, is_html, join_url, media_links, page_info
from firstseen.evidence.players import capture_videos
from firstseen.evidence.videonet import is_playlist
from firstseen.evidence.warc import (
    DEFAULT_BUDGET,
    HEADERS_ALLOWANCE,
    CaptureWriter,
    Response,
    Scan,
    scan,
)
from firstseen.media import probe
from firstseen.media.files import sha256_of

IngesterFactory = Callable[[], Ingester]
Log = Callable[[str], None]


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _outcome(fetched: Fetched, role: str) -> dict[str, Any]:
    last = fetched.final
    return {
        "url": fetched.url,
        "role": role,
        "final_url": fetched.final_url,
        "status": last.status if last else None,
        "bytes": len(last.body) if last else 0,
        "redirects": max(0, len(fetched.chain) - 1),
        "truncated": last.truncated if last else None,
        "error": fetched.error
        or (f"HTTP {last.status}" if last and (last.status or 0) >= 400 else None),
        "refused": fetched.refused,
    }


def _answer(page: Fetched) -> Exchange | None:
    """The page's own response; None when it never answered, or when a redirect chain cut short
    (refused, failed, too long) captured only the way to it."""
    last = page.final
    if last is None or last.status is None:
        return None
    return None if page.error and last.status in REDIRECTS else last


def capture(
    url: str,
    archive: Archive,
    policy: Policy,
    limits: Limits | None = None,
    ingester: IngesterFactory | None = None,
    log: Log | None = None,
    players: bool = True,
) -> dict[str, Any]:
    """Captures one page (or one media URL) into a new WARC in the archive, then registers it;
    with `players`, the video the page plays through a player too (players.py).

    Raises UnsafeAddress for a refused URL (or redirect) and FirstseenError when the page never
    answered; a failure of any of its media is recorded in the capture and does not stop it.
    """
    log = log or (lambda _: None)
    limits = limits or Limits()
    parse_url(url)
    store = archive.captures
    started = datetime.now(UTC)
    capture_id = store.new_id(started)
    warc_path = store.warc_path(capture_id)
    partial = warc_path.with_name(warc_path.name + ".part")
    deadline = time.monotonic() + limits.total_seconds
    outcomes: list[dict[str, Any]] = []
    try:
        with partial.open("wb") as stream:
            writer = CaptureWriter(
                stream,
                warc_path.name,
                {"isPartOf": capture_id, "description": f"firstseen capture of {url}"},
            )
            page = fetch(url, policy, limits, limits.max_page_bytes, deadline)
            for exchange in page.chain:
                writer.write_exchange(exchange)
            outcomes.append(_outcome(page, "page"))
            answer = _answer(page)
            if answer is None:
                if page.refused:
                    raise UnsafeAddress(page.error)
                raise FirstseenError(f"{url}: {page.error or 'no response'}")
            log(f"page {page.final_url}: {answer.status}, {len(answer.body)} bytes")
            links: list[str] = []
            html = is_html(answer.content_type, answer.body)
            if html:
                links = [u for u in media_links(answer.body, page.final_url) if u != url]
            spent = sum(len(e.body) for e in page.chain)
            held: dict[str, Fetched] = {}  # media fetched whole, by URL
            fetched, spent = _fetch_media(links, writer, policy, limits, spent, deadline, held, log)
            outcomes += fetched
            videos: list[dict[str, Any]] = []
            if players and (html or is_playlist(answer)):
                held[url] = held[page.final_url] = page
                with store.spool() as spool:
                    found, videos = capture_videos(
                        page, writer, policy, limits, spent, deadline, held, spool, log
                    )
                outcomes += found
            finished = datetime.now(UTC)
            writer.write_metadata(
                url,
                {
                    "firstseen": __version__,
                    "capture": capture_id,
                    "url": url,
                    "final_url": page.final_url,
                    "started": _iso(started),
                    "finished": _iso(finished),
                    "limits": asdict(limits),
                    "allow_private": policy.allow_private,
                    "allowed_networks": [str(n) for n in policy.networks],
                    "fetches": outcomes,
                    "videos": videos,
                },
                finished,
            )
            # Whole on disk before it is named: a power cut leaves the old name or the whole WARC.
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, warc_path)
        sync_folder(warc_path.parent)
    finally:
        partial.unlink(missing_ok=True)
    budget = limits.max_total_bytes + HEADERS_ALLOWANCE
    return register(archive, capture_id, warc_path, "capture", ingester, log, budget=budget)


def _fetch_media(
    links: list[str],
    writer: CaptureWriter,
    policy: Policy,
    limits: Limits,
    spent: int,
    deadline: float,
    held: dict[str, Fetched],
    log: Log,
) -> tuple[list[dict[str, Any]], int]:
    """Fetches the media a page links into the capture's WARC, within the capture's count, size
    and time limits (`spent` bytes already written): one outcome per link, fetched or not, and
    the bytes written by then; those fetched whole are added to `held`."""
    outcomes = []
    for number, link in enumerate(links):
        outcome: dict[str, Any] = {"url": link, "role": "media"}
        if number >= limits.max_media:
            outcome["error"] = f"not fetched: over the limit of {limits.max_media} media"
        elif spent >= limits.max_total_bytes:
            outcome["error"] = "not fetched: the capture's size limit was reached"
        elif time.monotonic() >= deadline:
            outcome["error"] = "not fetched: the capture's time limit was reached"
        else:
            cap = min(limits.max_bytes, limits.max_total_bytes - spent)
            got = fetch(link, policy, limits, cap, deadline)
            for exchange in got.chain:
                writer.write_exchange(exchange)
                spent += len(exchange.body)
            outcome = _outcome(got, "media")
            if got.ok:
                held[link] = got
        log(f"media {link}: {outcome.get('error') or outcome.get('status')}")
        outcomes.append(outcome)
    return outcomes, spent


def import_warc(
    source: Path,
    archive: Archive,
    ingester: IngesterFactory | None = None,
    log: Log | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """Copies a WARC (byte for byte) into the archive's captures and registers it. Records that
    cannot be read are listed in the record's `refused`; a file that is no WARC or holds more
    than `budget` decompressed bytes is refused whole (and nothing of it is kept)."""
    if not source.is_file():
        raise FirstseenError(f"{source}: no such file")
    store = archive.captures
    capture_id = store.new_id()
    name = source.name.lower()
    suffix = ".warc.gz" if name.endswith(".gz") else ".warc"
    target = store.warc_path(capture_id, suffix)
    shutil.copyfile(source, target)
    try:
        return register(archive, capture_id, target, "import", ingester, log, str(source), budget)
    except BaseException:
        store.forget(capture_id)
        raise


def _follow(url: str, redirects: dict[str, str]) -> str:
    seen = {url}
    while url in redirects and redirects[url] not in seen:
        url = redirects[url]
        seen.add(url)
    return url


def register(
    archive: Archive,
    capture_id: str,
    warc_path: Path,
    source: str,
    ingester: IngesterFactory | None = None,
    log: Log | None = None,
    imported_from: str | None = None,
    budget: int | None = DEFAULT_BUDGET,
) -> dict[str, Any]:
    """Reads a stored WARC (at most `budget` decompressed bytes of it), extracts its pages'
    metadata, adds its media to the archive (when an ingester is given) and writes the capture's
    JSON record beside it."""
    log = log or (lambda _: None)
    store = archive.captures
    with store.spool() as spool:
        found = scan(warc_path, spool if ingester else None, budget, name=imported_from)
        try:
            info = _describe(archive, capture_id, warc_path, source, found, ingester, log)
        finally:
            for response in found.responses:
                if response.spooled is not None:
                    response.spooled.unlink(missing_ok=True)
    if imported_from:
        info["imported_from"] = imported_from
    store.save(capture_id, info)
    return info


def _capture_record(found: Scan) -> dict[str, Any]:
    """The fields of the WARC's firstseen metadata record that are used here, each as the type it
    must be: an imported WARC may hold any JSON object under that content type."""
    meta = found.metadata[0] if found.metadata else {}
    listed = meta.get("fetches")
    fetches = listed if isinstance(listed, list) else []
    kept = meta.get("videos")
    videos = [v for v in kept if isinstance(v, dict)] if isinstance(kept, list) else []
    return {
        "videos": {
            uri: _text(v.get("page")) for v in videos if (uri := _text(v.get("uri"))) is not None
        },
        "parts": {
            part
            for v in videos
            if isinstance(v.get("parts"), list)
            for part in v["parts"]
            if isinstance(part, str)
        },
        "url": _text(meta.get("url")),
        "started": _text(meta.get("started")),
        "finished": _text(meta.get("finished")),
        "errors": [
            {"url": _text(f.get("url")), "error": _text(f.get("error"))}
            for f in fetches
            if isinstance(f, dict) and _text(f.get("error"))
        ],
    }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _redirects(found: Scan) -> dict[str, str]:
    """Where each redirect of the WARC leads (those with a usable Location)."""
    found_redirects = {}
    for response in found.responses:
        location = response.header("location")
        if response.status in REDIRECTS and location:
            target = join_url(response.uri, location)
            if target is not None:
                found_redirects[response.uri] = target
    return found_redirects


def _describe(archive, capture_id, warc_path, source, found, ingester, log) -> dict[str, Any]:
    meta = _capture_record(found)
    redirects = _redirects(found)
    requested = meta["url"] or next(iter(found.pages), None)
    if requested is None:
        requested = found.responses[0].uri if found.responses else ""
    main = _follow(requested, redirects)
    pages: dict[str, PageInfo] = {}
    order = sorted(found.pages, key=lambda uri: uri != main)
    referrer: dict[str, str] = {}
    for uri in order:
        pages[uri] = page_info(found.pages[uri], uri)
        for link in media_links(found.pages[uri], uri):
            referrer.setdefault(_follow(link, redirects), uri)
    for video, page_uri in meta["videos"].items():
        if page_uri is not None:
            referrer.setdefault(video, page_uri)
    made: Ingester | None = None
    resources = []
    for response in found.responses:
        entry = _resource(response, pages)
        if response.kind == "response" and response.uri in meta["parts"]:
            entry["kind"] = "video part"  # the joined video is the source, not its pieces
        elif response.spooled is not None and response.ok and ingester is not None:
            try:
                entry["kind"] = probe(response.spooled)
            except FirstseenError:
                entry["kind"] = "other"
            if entry["kind"] in ("image", "video"):
                made = made or ingester()
                page_uri = referrer.get(response.uri)
                page = pages.get(page_uri) if page_uri else None
                sighting = Sighting(
                    path=f"capture:{capture_id}:{response.uri}",
                    url=page_uri or response.uri,
                    title=page.title if page else None,
                    published=page.published if page else None,
                    seen_at=response.seen_at(),
                )
                added = made.add(response.spooled, sighting)
                entry.update(item_id=added.item_id, added=added.status, page=page_uri)
                if added.reason:
                    entry["reason"] = added.reason
                log(f"{entry['kind']} {response.uri}: {added.status}")
        resources.append(entry)
    if made is not None:
        archive.save()
    main_page = pages.get(main)
    dates = sorted(r.date for r in found.responses if r.date)
    return {
        "id": capture_id,
        "source": source,
        "url": requested,
        "final_url": main,
        "captured_at": meta["started"] or (dates[0] if dates else None),
        "finished_at": meta["finished"],
        "warc": warc_path.name,
        "warc_bytes": warc_path.stat().st_size,
        "warc_sha256": sha256_of(warc_path)[0],
        "page": main_page.as_dict() if main_page else None,
        "pages": [p.as_dict() for uri, p in pages.items() if uri != main],
        "resources": resources,
        "errors": meta["errors"],
        "refused": [{"offset": r.offset, "reason": r.reason} for r in found.refused],
        "notes": found.notes,
        "warcinfo": found.warcinfo,
    }


def _resource(response: Response, pages: dict[str, PageInfo]) -> dict[str, Any]:
    kind = "page" if response.uri in pages else "other"
    if kind == "other" and response.ok and response.content_type.startswith(("image/", "video/")):
        kind = response.content_type.split("/")[0]  # as served; decoding decides when added
    if response.status in REDIRECTS:
        kind = "redirect"
    elif response.status is not None and response.status >= 400:
        kind = "error"
    entry: dict[str, Any] = {
        "url": response.uri,
        "kind": kind,
        "date": response.date,
        "status": response.status,
        "content_type": response.content_type,
        "bytes": response.size,
        "sha256": response.sha256,
        "digest_ok": response.digest_ok,
        "offset": response.offset,
    }
    if response.truncated:
        entry["truncated"] = response.truncated
    if response.status in REDIRECTS:
        entry["location"] = response.header("location")
    return entry
